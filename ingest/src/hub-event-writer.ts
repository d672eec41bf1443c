import { EVENT_STREAM_FIELDS, type HubKeys, RECORD_EVENT_LUA } from '@hub/protocol';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RuleHit } from './threshold-rules.js';

/**
 * Writes hub-generated device events (threshold rule hits) into `keys.otherEvents` the
 * way the broker writes device events (broker/src/durable-writer.ts): fields d/p/r,
 * once per (device id, event id) thanks to the `keys.seenEvent` marker, checked and set
 * in one script (protocol's RECORD_EVENT_LUA, the broker's too), so several ingest processes evaluating the
 * same reading write one event.
 *
 * Off the hot path: hits are queued (bounded; past `maxQueued` they are dropped and
 * counted) and written one at a time; a Redis error keeps the hit and retries after a
 * backoff (1 s doubling to 10 s).
 */

/**
 * Records one device event in `stream` once per (device id, event id): the broker's
 * contract (same seen-key namespace, so an event that arrives both over MQTT and from
 * a carrier push is stored once). Resolves true when added, false for a duplicate.
 */
export async function recordDeviceEvent(
  redis: Redis,
  keys: HubKeys,
  stream: string,
  deviceId: string,
  eventId: string,
  payload: string,
  receivedAt: number,
  opts: { seenTtlS?: number; streamMaxLen?: number } = {},
): Promise<boolean> {
  const r = withRecord(redis);
  const added = await r.hubRecordEvent(
    keys.seenEvent(deviceId, eventId),
    stream,
    String(opts.seenTtlS ?? 86_400),
    String(opts.streamMaxLen ?? 1_000_000),
    EVENT_STREAM_FIELDS.deviceId,
    deviceId,
    EVENT_STREAM_FIELDS.payload,
    payload,
    EVENT_STREAM_FIELDS.receivedAt,
    String(receivedAt),
  );
  return added === 1;
}

function withRecord(redis: Redis): RedisWithRecord {
  const r = redis as RedisWithRecord;
  if (typeof r.hubRecordEvent !== 'function')
    redis.defineCommand('hubRecordEvent', { numberOfKeys: 2, lua: RECORD_EVENT_LUA });
  return r;
}

type RedisWithRecord = Redis & {
  hubRecordEvent(
    seenKey: string,
    stream: string,
    ttl: string,
    maxLen: string,
    ...fieldsAndValues: [string, string, string, string, string, string]
  ): Promise<number>;
};

export interface HubEventWriterOptions {
  redis: Redis;
  keys: HubKeys;
  logger?: Logger;
  now?: () => number;
  maxQueued?: number;
  streamMaxLen?: number;
  /** TTL of the duplicate marker (s). Default 1 day. */
  seenTtlS?: number;
}

export interface HubEventWriterStats {
  queued: number;
  written: number;
  duplicates: number;
  dropped: number;
  errors: number;
}

/** Event id of a rule hit: the same reading gives the same id in every process. */
export function ruleEventId(hit: RuleHit): string {
  return 'hub-rule-' + hit.type + '-' + (hit.channel ?? 0) + '-' + hit.readingTs;
}

export function ruleEventPayload(hit: RuleHit): string {
  const e: Record<string, unknown> = {
    v: 1,
    id: ruleEventId(hit),
    ts: hit.readingTs,
    seq: hit.seq,
    type: hit.type,
  };
  if (hit.channel !== undefined) e.channel = hit.channel;
  e.value = hit.value;
  e.detail = hit.detail;
  return JSON.stringify(e);
}

export class HubEventWriter {
  readonly stats: HubEventWriterStats = { queued: 0, written: 0, duplicates: 0, dropped: 0, errors: 0 };
  private readonly queue: RuleHit[] = [];
  private readonly redis: RedisWithRecord;
  private readonly now: () => number;
  private readonly maxQueued: number;
  private readonly maxLen: string;
  private readonly ttl: string;
  private draining: Promise<void> | null = null;
  private closed = false;
  private lastErrorLogAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: HubEventWriterOptions) {
    this.redis = withRecord(opts.redis);
    this.now = opts.now ?? Date.now;
    this.maxQueued = opts.maxQueued ?? 10_000;
    this.maxLen = String(opts.streamMaxLen ?? 1_000_000);
    this.ttl = String(opts.seenTtlS ?? 86_400);
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Queues a hit (never blocks, never throws). */
  readonly push = (hit: RuleHit): void => {
    if (this.closed || this.queue.length >= this.maxQueued) {
      this.stats.dropped++;
      return;
    }
    this.queue.push(hit);
    this.stats.queued++;
    if (this.draining === null) this.draining = this.drain();
  };

  /** Waits until the queue is empty (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.draining !== null) await this.draining;
  }

  /** Stops taking hits and waits (bounded) for the queue to drain. */
  async close(timeoutMs = 5000): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.stats.dropped += this.queue.length;
    this.queue.length = 0;
  }

  private async drain(): Promise<void> {
    let backoff = 1000;
    try {
      while (this.queue.length > 0) {
        const hit = this.queue[0]!;
        try {
          const added = await this.redis.hubRecordEvent(
            this.opts.keys.seenEvent(hit.deviceId, ruleEventId(hit)),
            this.opts.keys.otherEvents,
            this.ttl,
            this.maxLen,
            EVENT_STREAM_FIELDS.deviceId,
            hit.deviceId,
            EVENT_STREAM_FIELDS.payload,
            ruleEventPayload(hit),
            EVENT_STREAM_FIELDS.receivedAt,
            String(this.now()),
          );
          if (added === 1) this.stats.written++;
          else this.stats.duplicates++;
          this.queue.shift();
          backoff = 1000;
        } catch (err) {
          this.stats.errors++;
          const t = performance.now();
          if (t - this.lastErrorLogAt >= 10_000) {
            this.lastErrorLogAt = t;
            this.opts.logger?.error(
              { err: (err as Error).message, queued: this.queue.length },
              'rule event not written; will retry',
            );
          }
          if (this.closed) return;
          await new Promise((r) => setTimeout(r, backoff));
          backoff = Math.min(10_000, backoff * 2);
        }
      }
    } finally {
      this.draining = null;
    }
  }
}
