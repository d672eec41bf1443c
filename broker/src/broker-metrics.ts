import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PublishChannel } from './access-rules.js';

/**
 * The broker's Prometheus metrics, in their own Registry (not prom-client's global
 * one, so several brokers in one test process do not collide). Labels are small
 * fixed sets: never a device id.
 */

export const CHANNEL_LABELS = ['telemetry', 'event', 'status', 'cmd', 'page', 'reply'] as const;

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
  readonly willsPublished: Counter;
  readonly takeovers: Counter;
  /** Pre-bound per-channel children: the hot path does no label lookup. */
  readonly messagesInBy: Readonly<Record<PublishChannel, { inc(): void }>>;
}

export function createBrokerMetrics(connectedClients: () => number, inflight: () => number): BrokerMetrics {
  const registry = new Registry();
  const connections = new Gauge({
    name: 'hub_broker_connections',
    help: 'Authenticated MQTT connections open now',
    registers: [registry],
    collect() {
      this.set(connectedClients());
    },
  });
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
  const durableInflight = new Gauge({
    name: 'hub_broker_durable_writes_inflight',
    help: 'Durable writes waiting for Redis (bounded by HUB_BROKER_MAX_INFLIGHT_WRITES)',
    registers: [registry],
    collect() {
      this.set(inflight());
    },
  });
  const eventAckLatency = new Histogram({
    name: 'hub_broker_event_ack_path_seconds',
    help: 'Device event PUBACK path: authorizePublish entry to Redis answered',
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
    willsPublished,
    takeovers,
    messagesInBy,
  };
}
