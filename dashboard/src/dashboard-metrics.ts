import { Counter, Gauge, Registry } from 'prom-client';

/**
 * The dashboard's own prom-client registry (never the global one, so several apps in
 * one test process do not collide). Labels are routes and codes, never ids.
 */
export interface DashboardMetrics {
  readonly registry: Registry;
  /** HTTP requests by route pattern (not the raw URL), method and status. */
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  /** Live (SSE) streams open now, by scope (station | township). */
  readonly sseClients: Gauge<'scope'>;
  /** Streams dropped by the server, by reason (slow = its queue overflowed). */
  readonly sseDrops: Counter<'reason'>;
  /** Streams refused because the stream limit was reached. */
  readonly sseRejected: Counter;
  /** Messages received on the live channel, by type (page, incident, ticket, invalid). */
  readonly liveMessagesIn: Counter<'type'>;
  /** Frames written to streams (one per message per stream). */
  readonly liveFramesOut: Counter;
  /** Records in Redis that failed the contract's schema, by kind. */
  readonly badRecords: Counter<'kind'>;
  /** Actions queued on the actions stream, by type. */
  readonly actionsQueued: Counter<'type'>;
  /** Login attempts by result (ok, bad_credentials, locked, disabled, rate_limited). */
  readonly logins: Counter<'result'>;
  /** Sessions ended by logout, shift change or account changes. */
  readonly sessionsRevoked: Counter;
  /** Requests refused by the access policy, by code (E_FORBIDDEN_ROLE, E_OTHER_STATION, ...). */
  readonly accessDenied: Counter<'code'>;
  /** Operator actions (tickets, confirmations) appended to the operator-actions stream, by type. */
  readonly operatorActionsQueued: Counter<'type'>;
  /** Registry CSV imports by kind and result (written, checked = dry run, rejected). */
  readonly registryImports: Counter<'kind' | 'result'>;
  /** Rows written by registry CSV imports, by kind (devices: also `devices_created`). */
  readonly registryImportRows: Counter<'kind'>;
}

export function createDashboardMetrics(): DashboardMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'dashboard' });
  return {
    registry,
    httpRequests: new Counter({
      name: 'hub_dashboard_http_requests_total',
      help: 'HTTP requests by route pattern, method and status code',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    sseClients: new Gauge({
      name: 'hub_dashboard_sse_clients',
      help: 'Live (server-sent events) streams open now',
      labelNames: ['scope'],
      registers: [registry],
    }),
    sseDrops: new Counter({
      name: 'hub_dashboard_sse_dropped_total',
      help: 'Live streams closed by the server because the client could not keep up (or other reasons)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    sseRejected: new Counter({
      name: 'hub_dashboard_sse_rejected_total',
      help: 'Live streams refused because the stream limit was reached',
      registers: [registry],
    }),
    liveMessagesIn: new Counter({
      name: 'hub_dashboard_live_messages_in_total',
      help: 'Messages received on the live Redis channel, by type',
      labelNames: ['type'],
      registers: [registry],
    }),
    liveFramesOut: new Counter({
      name: 'hub_dashboard_live_frames_out_total',
      help: 'Server-sent event frames written to live streams',
      registers: [registry],
    }),
    badRecords: new Counter({
      name: 'hub_dashboard_bad_records_total',
      help: 'Incident or audit records in Redis that failed the schema',
      labelNames: ['kind'],
      registers: [registry],
    }),
    actionsQueued: new Counter({
      name: 'hub_dashboard_actions_queued_total',
      help: 'Station actions appended to the actions stream, by type',
      labelNames: ['type'],
      registers: [registry],
    }),
    logins: new Counter({
      name: 'hub_dashboard_logins_total',
      help: 'Login attempts by result',
      labelNames: ['result'],
      registers: [registry],
    }),
    sessionsRevoked: new Counter({
      name: 'hub_dashboard_sessions_revoked_total',
      help: 'Sessions ended by logout, shift change or account changes',
      registers: [registry],
    }),
    accessDenied: new Counter({
      name: 'hub_dashboard_access_denied_total',
      help: 'Requests refused for want of a session (401) or by the access policy (403), by code',
      labelNames: ['code'],
      registers: [registry],
    }),
    operatorActionsQueued: new Counter({
      name: 'hub_dashboard_operator_actions_queued_total',
      help: 'Operator actions (hazard tickets, incident confirmation) appended to the operator-actions stream, by type',
      labelNames: ['type'],
      registers: [registry],
    }),
    registryImports: new Counter({
      name: 'hub_dashboard_registry_imports_total',
      help: 'Registry CSV imports by kind and result (written, checked, rejected)',
      labelNames: ['kind', 'result'],
      registers: [registry],
    }),
    registryImportRows: new Counter({
      name: 'hub_dashboard_registry_import_rows_total',
      help: 'Rows written by registry CSV imports, by kind (devices_created: new devices given a secret)',
      labelNames: ['kind'],
      registers: [registry],
    }),
  };
}
