import { type Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import type { AlertsMetrics } from './alerts-metrics.js';

/**
 * The signed webhook channel to SMS, voice and WeCom/DingTalk gateways. One POST per
 * delivery, JSON body, signed per the Standard Webhooks spec (headers webhook-id,
 * webhook-timestamp, webhook-signature: `v1,` + base64 HMAC-SHA256 of
 * `${id}.${timestamp}.${body}` with the shared secret), so the gateway can verify
 * with any Standard Webhooks library. The webhook-id is the delivery id and stays
 * the same across retries (the spec's idempotency key: a gateway drops a repeat).
 *
 * Deliveries are BullMQ jobs (durable, survive a restart) with bounded retries and
 * exponential backoff; the queue is bounded (`maxQueued`: beyond it a delivery is
 * refused, counted and audited, never buffered without limit). Every attempt —
 * sent, failed and retrying, failed for good — is reported to `onAttempt`, which
 * writes the audit line.
 */
export type DeliveryChannel = 'sms' | 'voice' | 'wecom';

export interface Delivery {
  /** Stable id: the job id and the webhook-id (idempotency key at the gateway). */
  readonly id: string;
  readonly channel: DeliveryChannel;
  /** Phone number (sms, voice) or group / grid id (wecom). */
  readonly to: string;
  /** Who `to` is, for the audit (officer id, 'fire_office', grid id); never logged as a label. */
  readonly recipient: string;
  readonly text: string;
  /** What the delivery belongs to, for the audit line. */
  readonly subject: { readonly incidentId: string } | { readonly ticketId: string };
  readonly kind: string;
}

export interface DeliveryAttempt {
  readonly delivery: Delivery;
  readonly attempt: number;
  readonly result: 'sent' | 'retry' | 'failed' | 'refused';
  readonly status?: number;
  readonly error?: string;
  readonly at: number;
}

export interface WebhookChannelOptions {
  url: string;
  /** Standard Webhooks secret, `whsec_` + base64 (or raw base64). */
  secret: string;
  connection: Redis;
  workerConnection: Redis;
  prefix: string;
  queueName: string;
  maxAttempts: number;
  backoffMs: number;
  timeoutMs: number;
  maxQueued: number;
  clock: () => number;
  metrics: AlertsMetrics;
  logger: Logger;
  onAttempt: (a: DeliveryAttempt) => Promise<void>;
  concurrency?: number;
}

export class WebhookChannel {
  private readonly queue: Queue<Delivery>;
  private worker: Worker<Delivery> | null = null;
  private readonly signer: Webhook;
  private queued = 0;
  private gaugeTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: WebhookChannelOptions) {
    this.signer = new Webhook(opts.secret);
    this.queue = new Queue<Delivery>(opts.queueName, { connection: opts.connection, prefix: opts.prefix });
    this.queue.on('error', (err) => opts.logger.error({ err }, 'webhook queue error'));
  }

  /** Queues a delivery; false when the queue is full (refused, audited). */
  async enqueue(d: Delivery): Promise<boolean> {
    const { opts } = this;
    if (this.queued >= opts.maxQueued) {
      opts.metrics.deliveries.inc({ channel: d.channel, result: 'refused' });
      await opts.onAttempt({
        delivery: d,
        attempt: 0,
        result: 'refused',
        error: 'queue full',
        at: opts.clock(),
      });
      return false;
    }
    this.queued++;
    await this.queue.add(d.kind, d, {
      jobId: d.id,
      attempts: opts.maxAttempts,
      backoff: { type: 'exponential', delay: opts.backoffMs },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
    });
    return true;
  }

  start(): void {
    if (this.worker !== null) return;
    const { opts } = this;
    this.worker = new Worker<Delivery>(opts.queueName, (job) => this.deliver(job), {
      connection: opts.workerConnection,
      prefix: opts.prefix,
      concurrency: opts.concurrency ?? 8,
      lockDuration: Math.max(5_000, opts.timeoutMs * 2),
    });
    this.worker.on('error', (err) => opts.logger.error({ err }, 'webhook worker error'));
    const gauge = async () => {
      try {
        const c = await this.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
        this.queued = (c.waiting ?? 0) + (c.delayed ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0);
        opts.metrics.deliveryQueue.set(this.queued);
      } catch (err) {
        opts.logger.warn({ err }, 'webhook queue size not read');
      }
      this.gaugeTimer = setTimeout(() => void gauge(), 2_000).unref();
    };
    void gauge();
  }

  async waitUntilReady(): Promise<void> {
    await this.queue.waitUntilReady();
    if (this.worker !== null) await this.worker.waitUntilReady();
  }

  private async deliver(job: Job<Delivery>): Promise<void> {
    const { opts } = this;
    const d = job.data;
    const attempt = job.attemptsMade + 1;
    const body = JSON.stringify({
      type: `hub.${d.kind}`,
      channel: d.channel,
      to: d.to,
      text: d.text,
      ...d.subject,
      attempt,
    });
    const ts = new Date(opts.clock());
    const headers = {
      'content-type': 'application/json',
      'webhook-id': d.id,
      'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
      'webhook-signature': this.signer.sign(d.id, ts, body),
    };
    let status: number | undefined;
    let error: string | undefined;
    try {
      const res = await fetch(opts.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        opts.metrics.deliveries.inc({ channel: d.channel, result: 'sent' });
        await opts.onAttempt({ delivery: d, attempt, result: 'sent', status, at: opts.clock() });
        return;
      }
      error = `HTTP ${status}`;
    } catch (err) {
      error = (err as Error).message;
    }
    const last = attempt >= opts.maxAttempts;
    opts.metrics.deliveries.inc({ channel: d.channel, result: last ? 'failed' : 'retry' });
    await opts
      .onAttempt({
        delivery: d,
        attempt,
        result: last ? 'failed' : 'retry',
        ...(status !== undefined ? { status } : {}),
        ...(error !== undefined ? { error } : {}),
        at: opts.clock(),
      })
      .catch(() => undefined);
    throw new Error(error ?? 'delivery failed');
  }

  async close(): Promise<void> {
    if (this.gaugeTimer !== null) clearTimeout(this.gaugeTimer);
    if (this.worker !== null) await this.worker.close();
    await this.queue.close();
  }
}
