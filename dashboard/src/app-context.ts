import type { InfluxQueries } from '@hub/ingest';
import type { HubKeys } from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import type { Redis } from 'ioredis';
import type { AccountStore } from './account-store.js';
import type { DashboardKeys } from './dashboard-keys.js';
import type { DashboardMetrics } from './dashboard-metrics.js';
import type { IncidentReader } from './incident-reader.js';
import type { LiveHub } from './live-hub.js';
import type { LoginGuard } from './login-guard.js';
import type { SessionStore } from './session-store.js';
import type { TicketReader } from './ticket-reader.js';

export interface AuthContext {
  readonly accounts: AccountStore;
  readonly sessions: SessionStore;
  readonly guard: LoginGuard;
  readonly sessionTtlMs: number;
  readonly secureCookie: boolean;
  readonly loginPerMinute: number;
}

/** What route modules get from buildApp: connections, registry, clock and shared parts. */
export interface AppContext {
  readonly redis: Redis;
  readonly keys: HubKeys;
  readonly dkeys: DashboardKeys;
  readonly registry: { readonly current: RegistrySnapshot };
  readonly clock: () => number;
  readonly metrics: DashboardMetrics;
  readonly incidents: IncidentReader;
  readonly live: LiveHub;
  readonly auth: AuthContext;
  readonly tickets: TicketReader;
  /** InfluxDB queries (ingest's), or null when not configured. */
  readonly influx: InfluxQueries | null;
  /** IANA time zone of the township (statistics by month). */
  readonly timeZone: string;
}
