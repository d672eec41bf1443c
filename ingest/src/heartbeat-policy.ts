import type { DeviceKind } from '@hub/protocol';
import { z } from 'zod';

/**
 * How often each device must report, and when it counts as silent: pure data and
 * functions (time is always passed in).
 *
 * Per device kind a default interval; per model an override (vendor manuals give the
 * heartbeat per model: NB-IoT smoke detectors 12–24 h, electricity monitors 60 s,
 * chargers 30 s). A device is silent once `lastSeen + interval × grace` has passed.
 */

const rule = z.object({
  intervalMs: z.number().int().min(1000),
  grace: z.number().min(1).max(100).optional(),
});
export type HeartbeatRule = z.infer<typeof rule>;

export const heartbeatConfigSchema = z.object({
  /** Applied when neither the model nor the kind has its own grace. */
  grace: z.number().min(1).max(100).default(2),
  kinds: z.object({ smoke: rule, electric: rule, charger: rule }).default({
    // Battery NB-IoT detectors: daily heartbeat typical (12–24 h); 1.5 × 24 h = 36 h.
    smoke: { intervalMs: 24 * 3_600_000, grace: 1.5 },
    // Mains-powered, report every 60 s / 30 s: three missed reports.
    electric: { intervalMs: 60_000, grace: 3 },
    charger: { intervalMs: 30_000, grace: 3 },
  }),
  /** Model name → rule (e.g. a 12-hour NB-IoT model). */
  models: z.record(z.string(), rule).default({}),
});
export type HeartbeatConfig = z.infer<typeof heartbeatConfigSchema>;

/** Parses the JSON of `HUB_INGEST_HEARTBEAT` ('' = defaults). Throws ZodError / SyntaxError. */
export function parseHeartbeatConfig(json: string | undefined): HeartbeatConfig {
  return heartbeatConfigSchema.parse(json === undefined || json === '' ? {} : JSON.parse(json));
}

/** Longest silence allowed (ms) for a device of this model and kind. */
export function allowedSilenceMs(cfg: HeartbeatConfig, model: string, kind: DeviceKind): number {
  const byModel = cfg.models[model];
  const byKind = cfg.kinds[kind];
  const r = byModel ?? byKind;
  const grace = r.grace ?? (byModel === undefined ? undefined : byKind.grace) ?? cfg.grace;
  return Math.round(r.intervalMs * grace);
}

/** Memoizes allowedSilenceMs per (model, kind): the flush looks it up per device. */
export class HeartbeatPolicy {
  private readonly cache = new Map<string, number>();
  constructor(readonly config: HeartbeatConfig) {}

  allowedSilenceMs(model: string, kind: DeviceKind): number {
    const key = kind + '\u0000' + model;
    let v = this.cache.get(key);
    if (v === undefined) {
      v = allowedSilenceMs(this.config, model, kind);
      this.cache.set(key, v);
    }
    return v;
  }

  deadline(lastSeen: number, model: string, kind: DeviceKind): number {
    return lastSeen + this.allowedSilenceMs(model, kind);
  }
}

/**
 * Last report per device since the previous flush. The hot path only overwrites a
 * Map entry (no Redis, no allocation beyond the entry): `take()` hands the batch to
 * the flush and starts a new one. Bounded: past `maxDevices` distinct devices a flush
 * is due (the caller checks `full`).
 */
export class LastSeenBatch {
  private map = new Map<string, number>();
  constructor(private readonly maxDevices = 50_000) {}

  seen(deviceId: string, at: number): void {
    const prev = this.map.get(deviceId);
    if (prev === undefined || at > prev) this.map.set(deviceId, at);
  }

  get size(): number {
    return this.map.size;
  }

  get full(): boolean {
    return this.map.size >= this.maxDevices;
  }

  take(): Map<string, number> {
    const m = this.map;
    this.map = new Map();
    return m;
  }
}

/** YYYY-MM-DD of `ms` in a fixed UTC offset (China: +480 min, no DST). */
export function localDate(ms: number, utcOffsetMinutes: number): string {
  return new Date(ms + utcOffsetMinutes * 60_000).toISOString().slice(0, 10);
}

/** What a supervisor decides about a device whose deadline came due. */
export type DueDecision =
  | { kind: 'silent' }
  /** Not to be flagged now; check again at `at` (maintenance: re-armed). */
  | { kind: 'rearm'; at: number }
  /** Not a registered device any more: forget it. */
  | { kind: 'forget' };

export function decideDue(
  device: { maintenance: boolean; model: string; kind: DeviceKind } | undefined,
  now: number,
  policy: HeartbeatPolicy,
): DueDecision {
  if (device === undefined) return { kind: 'forget' };
  if (device.maintenance) return { kind: 'rearm', at: policy.deadline(now, device.model, device.kind) };
  return { kind: 'silent' };
}
