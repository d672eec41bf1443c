import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AlertsMetrics } from './alerts-metrics.js';

/**
 * A consumer-group reader of one Redis stream: the durable hand-off from the broker
 * (fire / other events) and from the dashboard and terminals (actions).
 *
 * Main loop (one per stream, so the fire lane never waits behind another):
 *   start:  XGROUP CREATE … 0 MKSTREAM (idempotent; from 0 so events the broker
 *           recorded before alerts ever ran are still handled), then this consumer's
 *           own pending entries (a restart under the same name), then XAUTOCLAIM of
 *           entries idle longer than claimIdleMs in any consumer (a dead process).
 *   loop:   XREADGROUP … COUNT 100 BLOCK ~1000 > on a dedicated connection, hand the
 *           batch to the handler, XACK what it returns; every claimEveryMs another
 *           XAUTOCLAIM pass (which also retries this consumer's own failures).
 * The handler acks bad input (counted, logged) so it never blocks the stream; it
 * leaves an entry unacked only when infrastructure failed, and the claim pass
 * retries it. Entries are processed at most `count` at a time (the bound on work
 * in flight, with a gauge).
 */
export interface StreamEntry {
  readonly id: string;
  /** Flat [field, value, field, value, …] as Redis returns it. */
  readonly fields: readonly string[];
}

/** Processes a batch; returns the ids to acknowledge. */
export type BatchHandler = (entries: StreamEntry[]) => Promise<string[]>;

export interface StreamConsumerOptions {
  /** Metric label and log name: 'fire', 'other', 'actions'. */
  name: string;
  /** Command connection (XACK, XAUTOCLAIM, XGROUP). */
  redis: Redis;
  /** Dedicated connection for XREADGROUP BLOCK. */
  blocking: Redis;
  stream: string;
  group: string;
  consumer: string;
  handle: BatchHandler;
  claimIdleMs: number;
  claimEveryMs?: number;
  blockMs?: number;
  count?: number;
  clock: () => number;
  logger: Logger;
  metrics: AlertsMetrics;
}

type RawEntry = [string, string[]] | null;

export class StreamConsumer {
  private running = false;
  private loop: Promise<void> | null = null;
  private nextClaimAt = 0;
  private readonly blockMs: number;
  private readonly count: number;
  private readonly claimEveryMs: number;
  private lastError: Error | null = null;

  constructor(private readonly opts: StreamConsumerOptions) {
    this.blockMs = opts.blockMs ?? 1_000;
    this.count = opts.count ?? 100;
    this.claimEveryMs = opts.claimEveryMs ?? Math.max(250, Math.floor(opts.claimIdleMs / 2));
  }

  /** True while the loop runs and its last Redis call succeeded. */
  get healthy(): boolean {
    return this.running && this.lastError === null;
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.ensureGroup();
    await this.drainOwnPending();
    await this.claimStale();
    this.nextClaimAt = this.opts.clock() + this.claimEveryMs;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the batch in hand (at most blockMs of waiting). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.loop !== null) await this.loop;
    this.loop = null;
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.opts.redis.xgroup('CREATE', this.opts.stream, this.opts.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  private async run(): Promise<void> {
    const { opts } = this;
    while (this.running) {
      try {
        if (opts.clock() >= this.nextClaimAt) {
          await this.claimStale();
          this.nextClaimAt = opts.clock() + this.claimEveryMs;
        }
        const res = (await opts.blocking.xreadgroup(
          'GROUP',
          opts.group,
          opts.consumer,
          'COUNT',
          this.count,
          'BLOCK',
          this.blockMs,
          'STREAMS',
          opts.stream,
          '>',
        )) as [string, RawEntry[]][] | null;
        this.lastError = null;
        const entries = res?.[0]?.[1];
        if (entries !== undefined && entries.length > 0) await this.process(entries);
      } catch (err) {
        if (!this.running) break;
        this.lastError = err as Error;
        opts.logger.error({ err, stream: opts.name }, 'stream read failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Entries delivered to this consumer name before and never acked (a restart). */
  private async drainOwnPending(): Promise<void> {
    const { opts } = this;
    let from = '0';
    for (;;) {
      const res = (await opts.redis.xreadgroup(
        'GROUP',
        opts.group,
        opts.consumer,
        'COUNT',
        this.count,
        'STREAMS',
        opts.stream,
        from,
      )) as [string, RawEntry[]][] | null;
      const entries = res?.[0]?.[1];
      if (entries === undefined || entries.length === 0) return;
      const last = entries[entries.length - 1];
      opts.metrics.claimed.inc({ stream: opts.name }, entries.length);
      await this.process(entries);
      if (last === null || last === undefined) return;
      from = last[0];
    }
  }

  /** XAUTOCLAIM entries idle longer than claimIdleMs, from any consumer, and process them. */
  private async claimStale(): Promise<void> {
    const { opts } = this;
    let cursor = '0-0';
    // Bounded per pass: a huge backlog of a dead consumer is taken over in slices.
    for (let round = 0; round < 10; round++) {
      const res = (await opts.redis.xautoclaim(
        opts.stream,
        opts.group,
        opts.consumer,
        opts.claimIdleMs,
        cursor,
        'COUNT',
        this.count,
      )) as [string, RawEntry[], string[]?];
      cursor = res[0];
      const entries = res[1];
      if (entries.length > 0) {
        opts.metrics.claimed.inc({ stream: opts.name }, entries.length);
        opts.logger.warn({ stream: opts.name, n: entries.length }, 'claimed pending stream entries');
        await this.process(entries);
      }
      if (cursor === '0-0') return;
    }
  }

  private async process(raw: RawEntry[]): Promise<void> {
    const { opts } = this;
    const entries: StreamEntry[] = [];
    const orphans: string[] = [];
    for (const e of raw) {
      if (e === null) continue;
      // An entry deleted from the stream (XTRIM) while pending comes back without fields.
      if (e[1] === null || e[1] === undefined) orphans.push(e[0]);
      else entries.push({ id: e[0], fields: e[1] });
    }
    const gauge = opts.metrics.entriesInFlight;
    gauge.inc({ stream: opts.name }, entries.length);
    try {
      const acks = entries.length > 0 ? await opts.handle(entries) : [];
      if (orphans.length > 0) acks.push(...orphans);
      if (acks.length > 0) await opts.redis.xack(opts.stream, opts.group, ...acks);
    } finally {
      gauge.dec({ stream: opts.name }, entries.length);
    }
  }
}

/** Value of `field` in a flat stream entry, or undefined. No allocation. */
export function fieldOf(fields: readonly string[], field: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === field) return fields[i + 1];
  return undefined;
}

/**
 * Runs `fn` over items (with their key), one key's items in order, different keys concurrently.
 * Alarms of one building are decided one after another (fold, not two incidents);
 * an alarm storm in one building does not hold up a fire elsewhere in the batch.
 */
export async function runGrouped<T>(
  groups: Map<string, T[]>,
  fn: (item: T, key: string) => Promise<boolean>,
): Promise<void> {
  const runs: Promise<void>[] = [];
  for (const [key, list] of groups) {
    runs.push(
      (async () => {
        // Stop a group at its first failure: later items of the key stay pending
        // (retried in order by the claim pass) instead of overtaking it.
        for (const item of list) if (!(await fn(item, key))) return;
      })(),
    );
  }
  await Promise.all(runs);
}

/** Appends `item` to its key's list for runGrouped (the list is made on the key's first item). */
export function addToGroup<T>(groups: Map<string, T[]>, key: string, item: T): void {
  const list = groups.get(key);
  if (list === undefined) groups.set(key, [item]);
  else list.push(item);
}
