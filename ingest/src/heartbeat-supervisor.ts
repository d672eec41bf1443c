import { EVENT_STREAM_FIELDS, type HubKeys } from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { decideDue, type HeartbeatPolicy, LastSeenBatch, localDate } from './heartbeat-policy.js';
import { byGrid } from './liveness-queries.js';

/**
 * Heartbeat supervision: a device silent past interval × grace (heartbeat-policy.ts)
 * gets an `offline` event in `keys.otherEvents` (alerts' offline lane opens a hazard
 * ticket) and an `online` event when it reports again. State lives in Redis
 * (protocol/src/liveness.ts), so it survives restarts and several ingest processes
 * share it.
 *
 * Hot path: `seen(deviceId, at)` only overwrites an entry in an in-memory Map. Every
 * `tickMs` the batch is flushed (one script call per ≤ 500 devices: last-seen hash,
 * new deadline, recovery) and then due deadlines are swept:
 *
 * 1. CLAIM (script): due members (score ≤ now) get a lease score (now + leaseMs), so
 *    another process skips them while this one decides; returned with their deadline.
 * 2. decideDue per device (registry in memory): silent / re-arm (maintenance) / forget.
 * 3. MARK (script): applied only where the score is still our lease (a report flushed
 *    meanwhile wins); silent = remove deadline, add to `livenessSilent` with the missed
 *    deadline as "since", XADD the offline event. A crash between 1 and 3 leaves a
 *    lease that comes due again after leaseMs: another process (or this one after
 *    restart) claims it. So each silence gives exactly one offline event.
 * 4. The newly silent devices are added to today's per-grid set (daily list); at the
 *    first sweep of each local day (and at start) every silent device is added too.
 *
 * A report that is still unflushed in another process when a deadline passes (≤ one
 * tick) can give an offline immediately followed by an online: accepted, documented.
 */

/** KEYS: lastSeen, deadlines, silent, stream. ARGV: maxlen, now, then (id, seenAt, deadline)*. */
const FLUSH_LUA = `
local rec = {}
for i = 3, #ARGV, 3 do
  local id = ARGV[i]
  local prev = redis.call('HGET', KEYS[1], id)
  if (not prev) or tonumber(prev) < tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], id, ARGV[i + 1])
    redis.call('ZADD', KEYS[2], ARGV[i + 2], id)
    if redis.call('ZREM', KEYS[3], id) == 1 then
      local p = '{"v":1,"id":"hub-online-' .. ARGV[i + 1] .. '","ts":' .. ARGV[2] .. ',"seq":0,"type":"online"}'
      redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[1], '*', '${EVENT_STREAM_FIELDS.deviceId}', id, '${EVENT_STREAM_FIELDS.payload}', p, '${EVENT_STREAM_FIELDS.receivedAt}', ARGV[2])
      rec[#rec + 1] = id
    end
  end
end
return rec
`;

/** KEYS: deadlines. ARGV: now, lease score, limit. Returns [id, deadline, ...]. */
const CLAIM_LUA = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
for i = 1, #due, 2 do redis.call('ZADD', KEYS[1], ARGV[2], due[i]) end
return due
`;

/**
 * KEYS: deadlines, silent, stream, lastSeen. ARGV: maxlen, now, lease, then
 * (id, action s|r|f, value, payload)*. Returns the ids marked silent.
 */
const MARK_LUA = `
local out = {}
for i = 4, #ARGV, 4 do
  local id = ARGV[i]
  local s = redis.call('ZSCORE', KEYS[1], id)
  if s and tonumber(s) == tonumber(ARGV[3]) then
    local a = ARGV[i + 1]
    if a == 's' then
      redis.call('ZREM', KEYS[1], id)
      if redis.call('ZADD', KEYS[2], 'NX', ARGV[i + 2], id) == 1 then
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[1], '*', '${EVENT_STREAM_FIELDS.deviceId}', id, '${EVENT_STREAM_FIELDS.payload}', ARGV[i + 3], '${EVENT_STREAM_FIELDS.receivedAt}', ARGV[2])
        out[#out + 1] = id
      end
    elseif a == 'r' then
      redis.call('ZADD', KEYS[1], ARGV[i + 2], id)
    else
      redis.call('ZREM', KEYS[1], id)
      redis.call('HDEL', KEYS[4], id)
    end
  end
end
return out
`;

/** KEYS: deadlines, silent. ARGV: (id, deadline)*. Arms devices never seen (NX), never a silent one. */
const SEED_LUA = `
local n = 0
for i = 1, #ARGV, 2 do
  if not redis.call('ZSCORE', KEYS[2], ARGV[i]) then
    n = n + redis.call('ZADD', KEYS[1], 'NX', ARGV[i + 1], ARGV[i])
  end
end
return n
`;

type RedisWithScripts = Redis & {
  hbFlush(keys: [string, string, string, string], ...argv: string[]): Promise<string[]>;
  hbClaim(deadlines: string, now: string, lease: string, limit: string): Promise<string[]>;
  hbMark(...args: string[]): Promise<string[]>;
  hbSeed(deadlines: string, silent: string, ...argv: string[]): Promise<number>;
};

function withScripts(redis: Redis): RedisWithScripts {
  const r = redis as RedisWithScripts;
  if (typeof r.hbFlush !== 'function') {
    redis.defineCommand('hbFlush', { numberOfKeys: 4, lua: FLUSH_LUA });
    redis.defineCommand('hbClaim', { numberOfKeys: 1, lua: CLAIM_LUA });
    redis.defineCommand('hbMark', { numberOfKeys: 4, lua: MARK_LUA });
    redis.defineCommand('hbSeed', { numberOfKeys: 2, lua: SEED_LUA });
  }
  return r;
}

export interface HeartbeatSupervisorOptions {
  redis: Redis;
  keys: HubKeys;
  policy: HeartbeatPolicy;
  registry: { readonly current: RegistrySnapshot };
  logger?: Logger;
  /** Hub clock (ms). Default Date.now. */
  now?: () => number;
  /** Flush + sweep period. Default 1000. */
  tickMs?: number;
  /** How long a claimed device is reserved for this process. Default 30 s. */
  leaseMs?: number;
  /** Devices per script call. Default 500. */
  chunk?: number;
  streamMaxLen?: number;
  /** Local day for the daily lists: minutes east of UTC. Default 480 (China). */
  utcOffsetMinutes?: number;
  /** TTL of the daily sets (s). Default 40 days. */
  dayTtlS?: number;
  /** Distinct devices buffered before an early flush. Default 50,000. */
  maxBatchDevices?: number;
}

export interface HeartbeatStats {
  seen: number;
  flushes: number;
  flushedDevices: number;
  flushErrors: number;
  wentSilent: number;
  recovered: number;
  rearmed: number;
  forgotten: number;
  seeded: number;
  sweepErrors: number;
  /** Devices in the unflushed batch. */
  batched: number;
}

export class HeartbeatSupervisor {
  readonly stats: HeartbeatStats = {
    seen: 0,
    flushes: 0,
    flushedDevices: 0,
    flushErrors: 0,
    wentSilent: 0,
    recovered: 0,
    rearmed: 0,
    forgotten: 0,
    seeded: 0,
    sweepErrors: 0,
    batched: 0,
  };
  private readonly redis: RedisWithScripts;
  private readonly batch: LastSeenBatch;
  private readonly now: () => number;
  private readonly chunk: number;
  private readonly maxLen: string;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private lastDay = '';
  private lastErrorLogAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: HeartbeatSupervisorOptions) {
    this.redis = withScripts(opts.redis);
    this.batch = new LastSeenBatch(opts.maxBatchDevices);
    this.now = opts.now ?? Date.now;
    this.chunk = opts.chunk ?? 500;
    this.maxLen = String(opts.streamMaxLen ?? 1_000_000);
  }

  /** Hot path: a device reported (hub receive time). */
  seen(deviceId: string, at: number): void {
    this.stats.seen++;
    this.batch.seen(deviceId, at);
    if (this.batch.full && this.running === null) void this.tick();
  }

  /** Seeds deadlines for registered devices never seen, then ticks every tickMs. */
  async start(): Promise<void> {
    await this.seed();
    await this.fillDay(this.now());
    this.timer = setInterval(() => void this.tick(), this.opts.tickMs ?? 1000);
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await this.flush(); // last reports of this process
  }

  /** One flush + sweep (never two at once). Exposed for tests with a fake clock. */
  tick(): Promise<void> {
    if (this.running !== null) return this.running;
    this.running = (async () => {
      try {
        await this.flush();
        await this.sweep();
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** Arms a deadline (now + allowed silence) for every tracked registered device without one. */
  async seed(): Promise<number> {
    const { keys, policy } = this.opts;
    const now = this.now();
    let args: string[] = [];
    let n = 0;
    for (const d of this.opts.registry.current.devices.values()) {
      if (d.maintenance) continue;
      args.push(d.id, String(policy.deadline(now, d.model, d.kind)));
      if (args.length >= this.chunk * 2) {
        n += await this.redis.hbSeed(keys.livenessDeadlines, keys.livenessSilent, ...args);
        args = [];
      }
    }
    if (args.length > 0) n += await this.redis.hbSeed(keys.livenessDeadlines, keys.livenessSilent, ...args);
    this.stats.seeded += n;
    return n;
  }

  private async flush(): Promise<void> {
    this.stats.batched = this.batch.size;
    if (this.batch.size === 0) return;
    const taken = this.batch.take();
    this.stats.batched = 0;
    const { keys, policy } = this.opts;
    const devices = this.opts.registry.current.devices;
    const now = String(this.now());
    const head = [this.maxLen, now];
    let args = head.slice();
    const send = async () => {
      const rec = await this.redis.hbFlush(
        [keys.livenessLastSeen, keys.livenessDeadlines, keys.livenessSilent, keys.otherEvents],
        ...args,
      );
      this.stats.recovered += rec.length;
      args = head.slice();
    };
    try {
      for (const [id, at] of taken) {
        const d = devices.get(id);
        if (d === undefined || d.maintenance) continue;
        args.push(id, String(at), String(policy.deadline(at, d.model, d.kind)));
        this.stats.flushedDevices++;
        if (args.length >= 2 + this.chunk * 3) await send();
      }
      if (args.length > 2) await send();
      this.stats.flushes++;
    } catch (err) {
      // Redis down: put the reports back (newest wins) so the next tick retries them.
      for (const [id, at] of taken) this.batch.seen(id, at);
      this.stats.flushErrors++;
      this.logError(err, 'liveness flush failed; will retry');
    }
  }

  private async sweep(): Promise<void> {
    const { keys, policy } = this.opts;
    try {
      const now = this.now();
      const day = localDate(now, this.opts.utcOffsetMinutes ?? 480);
      if (day !== this.lastDay) await this.fillDay(now);
      const lease = String(now + (this.opts.leaseMs ?? 30_000));
      for (;;) {
        const due = await this.redis.hbClaim(keys.livenessDeadlines, String(now), lease, String(this.chunk));
        if (due.length === 0) return;
        const snap = this.opts.registry.current;
        const ids: string[] = [];
        for (let i = 0; i < due.length; i += 2) ids.push(due[i]!);
        const lastSeen = await this.redis.hmget(keys.livenessLastSeen, ...ids);
        const args: string[] = [this.maxLen, String(now), lease];
        for (let i = 0; i < ids.length; i++) {
          const id = ids[i]!;
          const deadline = due[i * 2 + 1]!;
          const device = snap.devices.get(id);
          const decision = decideDue(device, now, policy);
          if (decision.kind === 'silent' && device !== undefined) {
            const seen = lastSeen[i];
            const allowed = policy.allowedSilenceMs(device.model, device.kind);
            const detail =
              (seen === null || seen === undefined
                ? 'no report since liveness tracking began'
                : 'no report since ' + new Date(Number(seen)).toISOString()) +
              '; allowed silence ' +
              Math.round(allowed / 1000) +
              ' s';
            const payload = JSON.stringify({
              v: 1,
              id: 'hub-offline-' + deadline,
              ts: now,
              seq: 0,
              type: 'offline',
              detail,
            });
            args.push(id, 's', deadline, payload);
          } else if (decision.kind === 'rearm') {
            args.push(id, 'r', String(decision.at), '');
            this.stats.rearmed++;
          } else {
            args.push(id, 'f', '', '');
            this.stats.forgotten++;
          }
        }
        const silent = await this.redis.hbMark(
          keys.livenessDeadlines,
          keys.livenessSilent,
          keys.otherEvents,
          keys.livenessLastSeen,
          ...args,
        );
        this.stats.wentSilent += silent.length;
        if (silent.length > 0) await this.addToDay(day, silent, snap);
        if (due.length < this.chunk * 2) return;
      }
    } catch (err) {
      this.stats.sweepErrors++;
      this.logError(err, 'liveness sweep failed; will retry');
    }
  }

  /** Adds every currently silent device to today's per-grid lists (start, day change). */
  private async fillDay(now: number): Promise<void> {
    const day = localDate(now, this.opts.utcOffsetMinutes ?? 480);
    const ids = await this.opts.redis.zrange(this.opts.keys.livenessSilent, 0, -1);
    if (ids.length > 0) await this.addToDay(day, ids, this.opts.registry.current);
    this.lastDay = day;
  }

  private async addToDay(day: string, ids: string[], snap: RegistrySnapshot): Promise<void> {
    const { keys } = this.opts;
    const ttl = this.opts.dayTtlS ?? 40 * 86_400;
    const grids = byGrid(snap, ids);
    const m = this.opts.redis.multi();
    const gridsKey = keys.livenessSilentDayGrids(day);
    for (const [grid, list] of grids) {
      const k = keys.livenessSilentDay(day, grid);
      m.sadd(k, ...list).expire(k, ttl);
      m.sadd(gridsKey, grid);
    }
    m.expire(gridsKey, ttl);
    await m.exec();
  }

  private logError(err: unknown, msg: string): void {
    const t = performance.now();
    if (t - this.lastErrorLogAt < 10_000) return;
    this.lastErrorLogAt = t;
    this.opts.logger?.error({ err: (err as Error)?.message }, msg);
  }
}
