import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PublishChannel } from './access-rules.js';

/**
 * The broker's Prometheus metrics, in their own Registry (not prom-client's global
 * one, so several brokers in one test process do not collide). Labels are small
 * fixed sets: never a device id.
 */

export const CHANNEL_LABELS = ['telemetry', 'event', 'status', 'cmd', 'page', 'reply'] as const;

export const SHED_REASONS = [
  'event_loop_lag',
  'subscriber_backlog',
  'routing_queue',
  'ingress_queue',
] as const;
export type ShedReason = (typeof SHED_REASONS)[number];

/** The broker's listeners (label `listener`): plain TCP, TLS, WebSocket. */
export const LISTENER_LABELS = ['tcp', 'tls', 'ws'] as const;
export type ListenerLabel = (typeof LISTENER_LABELS)[number];

export type DurableStream = 'fire' | 'other' | 'actions';
export type DurableResult = 'ok' | 'duplicate' | 'failed' | 'overloaded';

export interface BrokerMetrics {
  readonly registry: Registry;
  readonly connections: Gauge;
  readonly connects: Counter<'result'>;
  readonly messagesIn: Counter<'channel'>;
  readonly rejections: Counter<'code' | 'channel'>;
  readonly durableWrites: Counter<'stream' | 'result'>;
  readonly durableInflight: Gauge;
  readonly eventAckLatency: Histogram;
  /** Events per durable-write script call (durable-writer.ts batches per event-loop turn). */
  readonly durableBatchEvents: Histogram;
  readonly willsPublished: Counter;
  readonly connectionsRefused: Counter<'reason'>;
  readonly loginsDelayed: Counter;
  readonly sockets: Gauge;
  readonly socketsAccepted: Counter<'listener'>;
  readonly listenerSockets: Gauge<'listener'>;
  /** Pre-bound children of hub_broker_sockets_accepted_total by listener. */
  readonly socketsAcceptedBy: Readonly<Record<ListenerLabel, { inc(): void }>>;
  readonly tracked: Gauge<'table'>;
  /** Pre-bound children of hub_broker_shed_total by reason (hot path: no label lookup). */
  readonly shedBy: Readonly<Record<ShedReason, { inc(): void }>>;
  readonly shed: Counter<'reason'>;
  readonly clusterReceived: Counter;
  readonly clusterPublishErrors: Counter;
  readonly takeovers: Counter;
  /** Pre-bound per-channel children: the hot path does no label lookup. */
  readonly messagesInBy: Readonly<Record<PublishChannel, { inc(): void }>>;
}

/** Sizes read when /metrics is scraped (no bookkeeping on the hot path). */
export interface MetricSources {
  connectedClients(): number;
  inflight(): number;
  openSockets(): number;
  /** The same, per listener. */
  openSocketsBy(): Readonly<Record<ListenerLabel, number>>;
  /** Entries in each bounded table (addresses, login failures). */
  tracked(): { addresses: number; logins: number };
  /** Event-loop lag, ms, and messages queued in aedes' router. */
  lagMs(): number;
  routingQueued(): number;
  /** ingress-scheduler.ts: deferred packets waiting per lane, and slices that ran out of time. */
  ingress(): { events: number; telemetry: number; slicesExhausted: number };
  /** packet-writer.ts: packets it encoded, corked flushes (one per connection per turn), urgent writes. */
  packetWriter(): { fastPackets: number; flushes: number; urgentWrites: number };
}

/** A counter whose value is read from a running total when scraped. */
function totalCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > seen) this.inc(now - seen);
      seen = now;
    },
  });
}

/** A gauge read from `read()` at every scrape (no state kept here). */
function valueGauge(registry: Registry, name: string, help: string, read: () => number): Gauge {
  return new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

export function createBrokerMetrics(src: MetricSources): BrokerMetrics {
  const registry = new Registry();
  const connectedClients = () => src.connectedClients();
  const inflight = () => src.inflight();
  const connections = valueGauge(
    registry,
    'hub_broker_connections',
    'Authenticated MQTT connections open now',
    connectedClients,
  );
  const connects = new Counter({
    name: 'hub_broker_connects_total',
    help: 'CONNECT attempts by result (ok or the refusal reason)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const messagesIn = new Counter({
    name: 'hub_broker_messages_in_total',
    help: 'Authorized PUBLISH packets received, by channel (before payload checks)',
    labelNames: ['channel'] as const,
    registers: [registry],
  });
  const rejections = new Counter({
    name: 'hub_broker_rejections_total',
    help: 'Refused connects, publishes and subscriptions, by reject code and channel',
    labelNames: ['code', 'channel'] as const,
    registers: [registry],
  });
  const durableWrites = new Counter({
    name: 'hub_broker_durable_writes_total',
    help: 'Event and reply writes to Redis streams before PUBACK, by stream and result',
    labelNames: ['stream', 'result'] as const,
    registers: [registry],
  });
  const durableInflight = valueGauge(
    registry,
    'hub_broker_durable_writes_inflight',
    'Durable writes waiting for Redis (bounded by HUB_BROKER_MAX_INFLIGHT_WRITES)',
    inflight,
  );
  const eventAckLatency = new Histogram({
    name: 'hub_broker_event_ack_path_seconds',
    help: 'Device event PUBACK path: authorizePublish (topic and size checked) to Redis answered',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const willsPublished = new Counter({
    name: 'hub_broker_wills_published_total',
    help: 'Last wills (retained offline status) published for connections lost without DISCONNECT',
    registers: [registry],
  });
  const takeovers = new Counter({
    name: 'hub_broker_takeovers_total',
    help: 'Connections closed because the same client id connected again [MQTT-3.1.4-2]',
    registers: [registry],
  });
  const connectionsRefused = new Counter({
    name: 'hub_broker_connections_refused_total',
    help: 'Connections closed before CONNECT: at accept (max_connections, rate_address, rate_global) or a refused WebSocket upgrade (ws_not_upgrade, ws_bad_path, ws_bad_subprotocol), or a missing or invalid PROXY protocol header from a trusted load balancer (proxy_header)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const loginsDelayed = new Counter({
    name: 'hub_broker_logins_delayed_total',
    help: 'Refused logins whose CONNACK was held back by the failed-login backoff',
    registers: [registry],
  });
  const sockets = valueGauge(
    registry,
    'hub_broker_sockets',
    'Connections open now on all listeners, authenticated or not (bounded by HUB_MQTT_MAX_CONNECTIONS)',
    () => src.openSockets(),
  );
  const socketsAccepted = new Counter({
    name: 'hub_broker_sockets_accepted_total',
    help: 'Connections admitted at accept, by listener (tcp, tls, ws)',
    labelNames: ['listener'] as const,
    registers: [registry],
  });
  const socketsAcceptedBy = {} as Record<ListenerLabel, { inc(): void }>;
  for (const l of LISTENER_LABELS) socketsAcceptedBy[l] = socketsAccepted.labels(l);
  const listenerSockets = new Gauge({
    name: 'hub_broker_listener_sockets',
    help: 'Connections open now, authenticated or not, by listener (tcp, tls, ws); their sum is hub_broker_sockets',
    labelNames: ['listener'] as const,
    registers: [registry],
    collect() {
      const open = src.openSocketsBy();
      for (const l of LISTENER_LABELS) this.set({ listener: l }, open[l]);
    },
  });
  const tracked = new Gauge({
    name: 'hub_broker_tracked_entries',
    help: 'Entries in the bounded pre-authentication tables (addresses: rate limit; logins: backoff)',
    labelNames: ['table'] as const,
    registers: [registry],
    collect() {
      const t = src.tracked();
      this.set({ table: 'addresses' }, t.addresses);
      this.set({ table: 'logins' }, t.logins);
    },
  });
  const shed = new Counter({
    name: 'hub_broker_shed_total',
    help: 'QoS 0 messages (telemetry) dropped under overload: event_loop_lag (at ingress), subscriber_backlog (one slow subscriber), routing_queue (router queue full)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const shedBy = {} as Record<ShedReason, { inc(): void }>;
  for (const r of SHED_REASONS) shedBy[r] = shed.labels(r);
  valueGauge(
    registry,
    'hub_broker_event_loop_lag_seconds',
    'Last measured event-loop lag (the overload signal)',
    () => src.lagMs() / 1000,
  );
  valueGauge(
    registry,
    'hub_broker_routing_queue',
    'Messages waiting in the router (bounded for QoS 0 by HUB_BROKER_ROUTING_QUEUE_MAX)',
    () => src.routingQueued(),
  );
  new Gauge({
    name: 'hub_broker_ingress_queued',
    help: 'Device packets deferred by the ingress scheduler, by lane (events before telemetry)',
    labelNames: ['lane'] as const,
    registers: [registry],
    collect() {
      const q = src.ingress();
      this.set({ lane: 'events' }, q.events);
      this.set({ lane: 'telemetry' }, q.telemetry);
    },
  });
  totalCounter(
    registry,
    'hub_broker_ingress_slices_exhausted_total',
    'Turns of the event loop whose ingress time slice ended with deferred work left (beyond capacity)',
    () => src.ingress().slicesExhausted,
  );
  const durableBatchEvents = new Histogram({
    name: 'hub_broker_durable_batch_events',
    help: 'Events per durable-write script call (one call per event-loop turn)',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 256],
    registers: [registry],
  });
  totalCounter(
    registry,
    'hub_broker_packets_encoded_total',
    'PUBLISH and PUBACK packets written as one buffer by the broker (packet-writer.ts)',
    () => src.packetWriter().fastPackets,
  );
  totalCounter(
    registry,
    'hub_broker_write_flushes_total',
    'Socket flushes of corked writes (one per connection per event-loop turn it was written to)',
    () => src.packetWriter().flushes,
  );
  totalCounter(
    registry,
    'hub_broker_urgent_writes_total',
    'Fire-alarm PUBACKs and deliveries sent at once instead of at the end of the turn',
    () => src.packetWriter().urgentWrites,
  );
  const clusterReceived = new Counter({
    name: 'hub_broker_cluster_received_total',
    help: 'Messages received from other broker processes over Redis pub/sub',
    registers: [registry],
  });
  const clusterPublishErrors = new Counter({
    name: 'hub_broker_cluster_publish_errors_total',
    help: 'Messages that could not be sent to the other broker processes (routed locally only)',
    registers: [registry],
  });
  const messagesInBy = {} as Record<PublishChannel, { inc(): void }>;
  for (const c of CHANNEL_LABELS) messagesInBy[c] = messagesIn.labels(c);
  return {
    registry,
    connections,
    connects,
    messagesIn,
    rejections,
    durableWrites,
    durableInflight,
    eventAckLatency,
    durableBatchEvents,
    willsPublished,
    takeovers,
    connectionsRefused,
    loginsDelayed,
    sockets,
    socketsAccepted,
    listenerSockets,
    socketsAcceptedBy,
    tracked,
    shed,
    shedBy,
    clusterReceived,
    clusterPublishErrors,
    messagesInBy,
  };
}
