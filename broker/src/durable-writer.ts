import { createHash } from 'node:crypto';
import { ACTION_STREAM_FIELDS, EVENT_STREAM_FIELDS, type HubKeys, RECORD_EVENTS_LUA } from '@hub/protocol';
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
 *
 * Events are batched per event-loop turn: every event that arrives while the broker
 * works through one round of socket reads goes to Redis in one EVALSHA of
 * RECORD_EVENTS_LUA, sent from a setImmediate (the check phase right after those
 * reads), or at once when `maxBatch` events are waiting. Without it each event cost
 * its own socket write, round trip, script call and AOF write: a tenth of the broker's
 * busy time was the write syscall of single Redis commands, and Redis spent 14 µs of
 * CPU per event (bench/broker/RESULTS.md). The wait added is that of the current turn,
 * which the PUBACK had to wait for anyway. A failed batch fails every event in it: none
 * of their devices gets a PUBACK, each retries, and what did land is a duplicate then.
 */

const RECORD_EVENTS_SHA = createHash('sha1').update(RECORD_EVENTS_LUA).digest('hex');

/** Called once per event: `added` false for a duplicate; `err` when Redis failed or timed out. */
export type RecordEventDone = (err: Error | null, added: boolean) => void;

export interface DurableWriterOptions {
  /** Approximate stream cap (MAXLEN ~). */
  streamMaxLen: number;
  /** TTL of the (device, message id) duplicate marker, seconds. */
  seenTtlS: number;
  /** Events per script call at most (a longer script holds Redis for other clients). */
  maxBatch?: number;
  /** Told the size of every batch sent (a metric). */
  onBatch?: (events: number) => void;
  /**
   * A second connection (same options) for fire alarms: Redis answers each connection
   * in order, so on the main one an alarm would wait for every batch sent before it.
   */
  fireRedis?: Redis;
}

/** One script call's worth of events. */
interface Batch {
  /** seen key, stream; per event. */
  keys: string[];
  /** ttl, maxlen, field names, then device id, payload, receive time per event. */
  args: string[];
  done: RecordEventDone[];
  /** Holds a fire alarm: its continuations run as soon as Redis answers. */
  urgent: boolean;
}

/** A stored batch whose continuations are being run, a slice per turn. */
interface Completion {
  b: Batch;
  added: unknown[];
  next: number;
}

/**
 * Continuations (PUBACK, routing) run per turn for batches without a fire alarm. One
 * reply of 256 events ran 256 continuations in one go, about 6 ms of a turn in which
 * an alarm's reply then waited; a slice keeps turns short, and a batch with a fire
 * alarm completes at once.
 */
export const DONES_PER_TURN = 32;

export class DurableWriter {
  private readonly maxLen: string;
  private readonly ttl: string;
  private readonly maxBatch: number;
  private batch: Batch;
  private flushScheduled = false;
  private readonly flushNow = (): void => this.flush();
  private readonly onBatch: ((events: number) => void) | undefined;
  private readonly fireRedis: Redis;
  /** Stored batches whose continuations still run (a handful: one per reply). */
  private readonly completions: Completion[] = [];
  private completing = false;
  private readonly completeSome = (): void => {
    this.completing = false;
    let budget = DONES_PER_TURN;
    while (budget > 0 && this.completions.length > 0) {
      const c = this.completions[0] as Completion;
      while (budget > 0 && c.next < c.b.done.length) {
        const i = c.next++;
        (c.b.done[i] as RecordEventDone)(null, c.added[i] === 1);
        budget--;
      }
      if (c.next >= c.b.done.length) this.completions.shift();
    }
    if (this.completions.length > 0) {
      this.completing = true;
      setImmediate(this.completeSome);
    }
  };

  constructor(
    private readonly redis: Redis,
    private readonly keys: HubKeys,
    opts: DurableWriterOptions,
  ) {
    this.maxLen = String(opts.streamMaxLen);
    this.ttl = String(opts.seenTtlS);
    this.maxBatch = opts.maxBatch ?? 256;
    this.onBatch = opts.onBatch;
    this.fireRedis = opts.fireRedis ?? redis;
    this.batch = this.newBatch();
  }

  private newBatch(): Batch {
    const F = EVENT_STREAM_FIELDS;
    return {
      keys: [],
      args: [this.ttl, this.maxLen, F.deviceId, F.payload, F.receivedAt],
      done: [],
      urgent: false,
    };
  }

  /**
   * Loads the script into Redis' script cache (SCRIPT LOAD), so writes go out as
   * EVALSHA. Optional: a write that meets NOSCRIPT (Redis restarted or flushed its
   * cache) falls back to EVAL, which caches it again.
   */
  async load(): Promise<void> {
    const sha = (await this.redis.script('LOAD', RECORD_EVENTS_LUA)) as string;
    if (sha !== RECORD_EVENTS_SHA)
      throw new Error(`SCRIPT LOAD returned ${sha}, expected ${RECORD_EVENTS_SHA}`);
  }

  /**
   * Records a device event once per (device id, message id), in the next batch.
   * `done` runs once, after Redis answered for the whole batch. `urgent` (fire alarms)
   * sends this event now, in a script call of its own, instead of at the end of the turn.
   */
  recordEvent(
    stream: string,
    deviceId: string,
    messageId: string,
    payload: string,
    receivedAt: number,
    done: RecordEventDone,
    urgent = false,
  ): void {
    // A fire alarm goes alone, ahead of the batch this turn has gathered so far: a
    // script of 256 events holds Redis for a few ms, which the alarm does not wait for.
    // The batch never holds an earlier fire alarm (each one leaves at once), so the
    // fire lane keeps its order.
    const b = urgent ? this.newBatch() : this.batch;
    b.keys.push(this.keys.seenEvent(deviceId, messageId), stream);
    b.args.push(deviceId, payload, String(receivedAt));
    b.done.push(done);
    if (urgent) {
      b.urgent = true;
      this.sendBatch(b);
    } else if (b.done.length >= this.maxBatch) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushNow);
    }
  }

  /** Events waiting for the next batch. */
  get pending(): number {
    return this.batch.done.length;
  }

  private flush(): void {
    this.flushScheduled = false;
    const b = this.batch;
    if (b.done.length === 0) return;
    this.batch = this.newBatch();
    this.sendBatch(b);
  }

  private sendBatch(b: Batch): void {
    this.onBatch?.(b.done.length);
    this.send(b).then(
      (added) => {
        if (b.urgent) {
          for (let i = 0; i < b.done.length; i++) (b.done[i] as RecordEventDone)(null, added[i] === 1);
          return;
        }
        this.completions.push({ b, added, next: 0 });
        if (!this.completing) {
          this.completing = true;
          setImmediate(this.completeSome);
        }
      },
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        for (const done of b.done) done(e, false);
      },
    );
  }

  private async send(b: Batch): Promise<unknown[]> {
    const redis = b.urgent ? this.fireRedis : this.redis;
    try {
      // One argument array per batch (never per event).
      return (await redis.evalsha(RECORD_EVENTS_SHA, b.keys.length, ...b.keys, ...b.args)) as unknown[];
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return (await redis.eval(RECORD_EVENTS_LUA, b.keys.length, ...b.keys, ...b.args)) as unknown[];
    }
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

  /** Round trip to Redis on each connection, for readiness. */
  async ping(): Promise<boolean> {
    const [main, fire] = await Promise.all([
      this.redis.ping(),
      this.fireRedis === this.redis ? 'PONG' : this.fireRedis.ping(),
    ]);
    return main === 'PONG' && fire === 'PONG';
  }
}
