import type { Socket } from 'node:net';
import { type PageMessage, stationTopic } from '@hub/protocol';
import mqtt, { type MqttClient } from 'mqtt';

/**
 * Transport of a page to a station's MQTT topic (its duty terminal). Exactly-once
 * bookkeeping (SET NX per page, outbox, audit) and the live-channel copy are the
 * PageDispatcher's job (page-outbox.ts); SMS / voice / WeCom go through the notifier
 * and the webhook channel (notifier.ts, webhook-channel.ts).
 */
export interface PageSender {
  /** Resolves once the page is handed over durably (MQTT PUBACK); rejects otherwise. */
  send(page: PageMessage): Promise<void>;
}

export interface MqttPageSenderOptions {
  client: MqttClient;
  /** A publish without PUBACK after this long counts as failed (the outbox retries it). */
  publishTimeoutMs?: number;
}

export class MqttPageSender implements PageSender {
  private readonly timeoutMs: number;

  constructor(private readonly opts: MqttPageSenderOptions) {
    this.timeoutMs = opts.publishTimeoutMs ?? 5_000;
  }

  async send(page: PageMessage): Promise<void> {
    const body = JSON.stringify(page);
    // QoS 1 to the station's terminal: resolves on PUBACK from the broker. The live
    // channel copy is published by the dispatcher in the same MULTI that deletes the
    // outbox entry: one round trip fewer between PUBACK and "sent" recorded, which is
    // the only window where a crash makes the outbox send a page a second time.
    await withTimeout(
      this.opts.client.publishAsync(stationTopic(page.stationId, 'page'), body, { qos: 1 }),
      this.timeoutMs,
      'MQTT publish of a page',
    );
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface AlertsMqttOptions {
  url: string;
  /** Service account hub-alerts; the password is HUB_SERVICE_SECRET. */
  username: string;
  password: string;
  /** `hub-alerts-<pid>`: the broker accepts `${username}-${suffix}` so several processes connect. */
  clientId: string;
  connectTimeoutMs?: number;
}

/**
 * Opens the service's MQTT connection (MQTT 3.1.1: aedes speaks nothing newer).
 * Called from main.ts and tests only. Nagle is switched off on every (re)connect:
 * with it on, p99 page latency grows by 19–28 ms (engineering.md).
 */
export async function connectAlertsMqtt(opts: AlertsMqttOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(opts.url, {
    protocolVersion: 4,
    clientId: opts.clientId,
    username: opts.username,
    password: opts.password,
    clean: true,
    reconnectPeriod: 1_000,
    connectTimeout: opts.connectTimeoutMs ?? 10_000,
    keepalive: 30,
  });
  const noDelay = () => (client.stream as Socket | undefined)?.setNoDelay?.(true);
  noDelay();
  client.on('connect', noDelay);
  return client;
}
