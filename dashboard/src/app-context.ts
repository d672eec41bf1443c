import type { HubKeys } from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import type { Redis } from 'ioredis';
import type { DashboardMetrics } from './dashboard-metrics.js';
import type { IncidentReader } from './incident-reader.js';
import type { LiveHub } from './live-hub.js';

/** What route modules get from buildApp: connections, registry, clock and shared parts. */
export interface AppContext {
  readonly redis: Redis;
  readonly keys: HubKeys;
  readonly registry: { readonly current: RegistrySnapshot };
  readonly clock: () => number;
  readonly metrics: DashboardMetrics;
  readonly incidents: IncidentReader;
  readonly live: LiveHub;
}
