import { FILTERS } from '@hub/protocol';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';

/**
 * Ingest's MQTT subscription: every device's telemetry and status (QoS 0: a lost
 * reading is replaced by the next one) and events (QoS 1, recorded as `device_event`
 * points; the durable copy of an event is the broker's Redis stream, not this).
 *
 * Clean session on every connect: the client id carries the pid (`hub-ingest-<pid>`)
 * so a persistent session would be orphaned at every restart, and events are
 * durable elsewhere. We subscribe on each CONNACK ourselves (mqtt.js's `resubscribe`
 * off) so a reconnect can never miss or double a subscription.
 *
 * mqtt.js reconnects on a fixed period; we turn it into capped exponential backoff
 * with jitter by updating `options.reconnectPeriod` on each `reconnect` event (the
 * client reads it when it arms the next reconnect timer after a `close`), so a broker
 * restart is not met by every service retrying in lock-step.
 */

export type MessageHandler = (
  topic: string,
  payload: Buffer,
  receivedAt: number,
  retained: boolean,
) => unknown;

export interface MqttSourceOptions {
  url: string;
  username: string;
  password: string;
  clientId: string;
  onMessage: MessageHandler;
  logger: Logger;
  /** Hub clock for `receivedAt` (ms). Default Date.now. */
  now?: () => number;
  minReconnectMs?: number;
  maxReconnectMs?: number;
  /** Jitter source in [0, 1). Default Math.random. */
  random?: () => number;
  connectTimeoutMs?: number;
  keepaliveSeconds?: number;
}

export const INGEST_SUBSCRIPTIONS = {
  [FILTERS.allTelemetry]: { qos: 0 },
  [FILTERS.allStatus]: { qos: 0 },
  [FILTERS.allEvents]: { qos: 1 },
} as const;

/**
 * Delay before reconnect attempt `attempt` (1-based): min·2^(attempt-1) capped at
 * max, then "equal jitter" (half fixed, half random) so it never drops to zero.
 */
export function nextReconnectDelay(attempt: number, minMs: number, maxMs: number, random: number): number {
  const exp = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(exp / 2 + (exp / 2) * random);
}

export interface MqttSourceStats {
  messages: number;
  connects: number;
  reconnectAttempts: number;
  subscribeFailures: number;
  /** Exceptions thrown by the handler (bugs: bad input never throws). */
  handlerErrors: number;
}

export class MqttSource {
  readonly stats: MqttSourceStats = {
    messages: 0,
    connects: 0,
    reconnectAttempts: 0,
    subscribeFailures: 0,
    handlerErrors: 0,
  };
  private client: MqttClient | null = null;
  private subscribed = false;
  private attempt = 0;
  private lastHandlerErrorLogAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: MqttSourceOptions) {}

  /** Connected and subscribed: messages are flowing. */
  get ready(): boolean {
    return this.client?.connected === true && this.subscribed;
  }

  start(): void {
    if (this.client !== null) return;
    const opts = this.opts;
    const minMs = opts.minReconnectMs ?? 250;
    const maxMs = opts.maxReconnectMs ?? 10_000;
    const random = opts.random ?? Math.random;
    const now = opts.now ?? Date.now;
    const clientOptions: IClientOptions = {
      clientId: opts.clientId,
      username: opts.username,
      password: opts.password,
      protocolVersion: 4, // MQTT 3.1.1: aedes does not speak 5
      clean: true,
      resubscribe: false,
      reconnectPeriod: minMs,
      connectTimeout: opts.connectTimeoutMs ?? 10_000,
      keepalive: opts.keepaliveSeconds ?? 30,
    };
    const client = mqtt.connect(opts.url, clientOptions);
    this.client = client;
    const log = opts.logger;

    client.on('connect', () => {
      this.stats.connects++;
      this.attempt = 0;
      client.options.reconnectPeriod = minMs;
      this.subscribed = false;
      client.subscribe(INGEST_SUBSCRIPTIONS, (err, granted) => {
        const refused = granted?.filter((g) => g.qos === 128) ?? [];
        if (err || refused.length > 0) {
          this.stats.subscribeFailures++;
          log.error({ err: err?.message, refused: refused.map((g) => g.topic) }, 'mqtt subscribe refused');
          return;
        }
        this.subscribed = true;
        log.info({ clientId: opts.clientId }, 'mqtt connected and subscribed');
      });
    });
    client.on('reconnect', () => {
      this.stats.reconnectAttempts++;
      this.attempt++;
      // Applies to the *next* timer: this attempt's delay is already spent.
      client.options.reconnectPeriod = nextReconnectDelay(this.attempt + 1, minMs, maxMs, random());
    });
    client.on('close', () => {
      this.subscribed = false;
    });
    client.on('offline', () => log.warn({ url: redactUrl(opts.url) }, 'mqtt offline, reconnecting'));
    client.on('error', (err) => log.warn({ err: err.message }, 'mqtt error'));
    client.on('message', (topic, payload, packet) => {
      this.stats.messages++;
      try {
        opts.onMessage(topic, payload, now(), packet.retain);
      } catch (err) {
        // Bad input is handled by the pipeline; an exception here is a bug. Keep
        // consuming (one message must not stop the stream) but make it loud.
        this.stats.handlerErrors++;
        const t = now();
        if (t - this.lastHandlerErrorLogAt >= 10_000) {
          this.lastHandlerErrorLogAt = t;
          log.error({ err, topic }, 'message handler threw');
        }
      }
    });
  }

  async close(): Promise<void> {
    const client = this.client;
    if (client === null) return;
    this.subscribed = false;
    await client.endAsync();
  }
}

/** Never log credentials embedded in a URL. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
