import type { DeviceKind } from '@hub/protocol';

/**
 * Reporting rhythm per device for flood and scenario runs (the realistic end of
 * shared/domain.md, unlike the demo's fast defaults in device-profiles.ts):
 *
 * - smoke detectors: NB-IoT / 4G battery models send a heartbeat hours apart
 *   (vendor examples 1 h, 12 h, 24 h; one of those per device), mains models every
 *   30 min; ±10 % jitter; a status message (`online`, QoS 1, retained) after each
 *   connect, as the hub's protocol asks of always-connected devices;
 * - electricity monitors: every 30–60 s (drawn per device), ±10 %;
 * - charging stations: every 10–30 s (drawn per device), ±10 %; in the evening peak
 *   (18:00–23:00 local) the interval halves and most ports charge.
 *
 * `intervalScale` multiplies every interval so a test can compress a day into
 * minutes. All functions are pure of (device index hash, random source, time).
 */
export interface FloodProfileOptions {
  /** Multiplies every interval (0.001 turns a 24 h heartbeat into 86 s). Default 1. */
  intervalScale?: number;
  /** Shorter charger intervals and busier ports between 18:00 and 23:00 local time. */
  eveningPeak?: boolean;
  utcOffsetHours?: number;
}

const MIN = 60_000;
const HOUR = 3_600_000;

/** NB-IoT/4G battery heartbeats seen in vendor manuals. */
const BATTERY_HEARTBEATS_MS = [1 * HOUR, 12 * HOUR, 24 * HOUR] as const;
const MAINS_SMOKE_HEARTBEAT_MS = 30 * MIN;
const ELECTRIC_RANGE_MS = [30_000, 60_000] as const;
const CHARGER_RANGE_MS = [10_000, 30_000] as const;
const PROFILE_JITTER = 0.1;

export function isBatterySmoke(model: string): boolean {
  return model.startsWith('NB') || model.startsWith('4G');
}

/** A device's base interval (before jitter), drawn once; `u` is uniform in [0, 1). */
export function baseIntervalMs(kind: DeviceKind, model: string, u: number, scale = 1): number {
  let ms: number;
  switch (kind) {
    case 'smoke':
      ms = isBatterySmoke(model)
        ? (BATTERY_HEARTBEATS_MS[Math.min(2, Math.floor(u * 3))] as number)
        : MAINS_SMOKE_HEARTBEAT_MS;
      break;
    case 'electric':
      ms = ELECTRIC_RANGE_MS[0] + u * (ELECTRIC_RANGE_MS[1] - ELECTRIC_RANGE_MS[0]);
      break;
    case 'charger':
      ms = CHARGER_RANGE_MS[0] + u * (CHARGER_RANGE_MS[1] - CHARGER_RANGE_MS[0]);
      break;
  }
  return Math.max(1, ms * scale);
}

function localHour(now: number, utcOffsetHours = 8): number {
  const day = 24 * HOUR;
  return Math.floor(((((now + utcOffsetHours * HOUR) % day) + day) % day) / HOUR);
}

export function inEveningPeak(now: number, utcOffsetHours = 8): boolean {
  const h = localHour(now, utcOffsetHours);
  return h >= 18 && h < 23;
}

/** Delay to the next report: base ± jitter, halved for chargers in the evening peak. */
export function nextIntervalMs(
  kind: DeviceKind,
  baseMs: number,
  rnd: number,
  now: number,
  opts: FloodProfileOptions = {},
): number {
  let ms = baseMs * (1 + PROFILE_JITTER * (2 * rnd - 1));
  if (kind === 'charger' && opts.eveningPeak === true && inEveningPeak(now, opts.utcOffsetHours)) ms /= 2;
  return Math.max(1, Math.round(ms));
}

/** First report after connecting: anywhere in one interval, so a ramp does not synchronise the fleet. */
export function firstIntervalMs(baseMs: number, rnd: number): number {
  return Math.max(1, Math.round(baseMs * rnd));
}
