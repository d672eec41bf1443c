import { createHash } from 'node:crypto';
import { ACTION_STREAM_FIELDS, EVENT_STREAM_FIELDS, type HubKeys, RECORD_EVENT_LUA } from '@hub/protocol';
import type { Redis } from 'ioredis';

/**
 * Writes device events and station replies into their Redis streams. The broker
 * awaits these before it lets aedes send the PUBACK (see create-broker.ts), so a
 * device that got its PUBACK may forget the event.
 *
 * The Redis connection must be dedicated to this writer and created with
 * `enableOfflineQueue: false` and a `commandTimeout`: when Redis is down or slow the
 * write must fail fast (the device then gets no PUBACK and retries), never sit in an
 * unbounded client-side queue.
 */

const RECORD_EVENT_SHA = createHash('sha1').update(RECORD_EVENT_LUA).digest('hex');

export interface DurableWriterOptions {
  /** Approximate stream cap (MAXLEN ~). */
  streamMaxLen: number;
  /** TTL of the (device, message id) duplicate marker, seconds. */
  seenTtlS: number;
}

export class DurableWriter {
  private readonly maxLen: string;
  private readonly ttl: string;

  constructor(
    private readonly redis: Redis,
    private readonly keys: HubKeys,
    opts: DurableWriterOptions,
  ) {
    this.maxLen = String(opts.streamMaxLen);
    this.ttl = String(opts.seenTtlS);
  }

  /**
   * Loads the script into Redis' script cache (SCRIPT LOAD), so writes go out as
   * EVALSHA. Optional: a write that meets NOSCRIPT (Redis restarted or flushed its
   * cache) falls back to EVAL, which caches it again.
   */
  async load(): Promise<void> {
    const sha = (await this.redis.script('LOAD', RECORD_EVENT_LUA)) as string;
    if (sha !== RECORD_EVENT_SHA)
      throw new Error(`SCRIPT LOAD returned ${sha}, expected ${RECORD_EVENT_SHA}`);
  }

  /**
   * Records a device event once per (device id, message id). Resolves true when the
   * entry was added, false for a duplicate; rejects when Redis failed or timed out.
   */
  async recordEvent(
    stream: string,
    deviceId: string,
    messageId: string,
    payload: string,
    receivedAt: number,
  ): Promise<boolean> {
    const seenKey = this.keys.seenEvent(deviceId, messageId);
    const r = String(receivedAt);
    const F = EVENT_STREAM_FIELDS;
    let added: unknown;
    try {
      added = await this.redis.evalsha(
        RECORD_EVENT_SHA,
        2,
        seenKey,
        stream,
        this.ttl,
        this.maxLen,
        F.deviceId,
        deviceId,
        F.payload,
        payload,
        F.receivedAt,
        r,
      );
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      added = await this.redis.eval(
        RECORD_EVENT_LUA,
        2,
        seenKey,
        stream,
        this.ttl,
        this.maxLen,
        F.deviceId,
        deviceId,
        F.payload,
        payload,
        F.receivedAt,
        r,
      );
    }
    return added === 1;
  }

  /** Appends a station reply to the actions stream; rejects when Redis failed or timed out. */
  async recordReply(stationId: string, replyJson: string, receivedAt: number): Promise<void> {
    const F = ACTION_STREAM_FIELDS;
    await this.redis.xadd(
      this.keys.actions,
      'MAXLEN',
      '~',
      this.maxLen,
      '*',
      F.stationId,
      stationId,
      F.reply,
      replyJson,
      F.receivedAt,
      String(receivedAt),
    );
  }

  /** Round trip to Redis, for readiness. */
  async ping(): Promise<boolean> {
    return (await this.redis.ping()) === 'PONG';
  }
}
