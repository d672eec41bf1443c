import type {
  ChargerTelemetry,
  CircuitReading,
  DeviceEvent,
  DeviceKind,
  ElectricTelemetry,
  EventType,
  PortReading,
  SmokeTelemetry,
  Telemetry,
} from '@hub/protocol';
import { seededRandom } from '@hub/registry';

/**
 * Realistic payloads per device kind. Every generator is deterministic for a given
 * (seed, device id, boot id, sequence of `now` values): the only state is the
 * device's own `DeviceProfileState`, which the caller owns (one per simulated device)
 * and passes in with the time. Values stay inside the protocol's zod schemas and in
 * the ranges vendors report for a quiet building (see shared/domain.md).
 */

/** How often a kind reports, and how much each interval is jittered (fraction, 0–1). */
export interface TelemetryInterval {
  intervalMs: number;
  jitter: number;
}
export type TelemetryIntervals = Record<DeviceKind, TelemetryInterval>;

/**
 * Demo defaults: fast enough to see data on the dashboard within a minute. Real
 * battery detectors report hours apart; pass other intervals for load tests.
 */
export const DEFAULT_INTERVALS: Readonly<TelemetryIntervals> = Object.freeze({
  smoke: { intervalMs: 60_000, jitter: 0.2 },
  electric: { intervalMs: 30_000, jitter: 0.2 },
  charger: { intervalMs: 15_000, jitter: 0.2 },
});

export interface ProfileOptions {
  /** More ports start charging between 18:00 and 23:00 local time (e-bikes come home). */
  eveningPeak?: boolean;
  /** Offset of local time from UTC in hours, for the evening peak. Default 8 (China). */
  utcOffsetHours?: number;
}

/** What a profile needs to know about a device (a registry Device fits). */
export interface ProfileDevice {
  id: string;
  kind: DeviceKind;
  model: string;
}

interface PortSim {
  port: number;
  state: PortReading['state'];
  powerW: number;
  energyWh: number;
  /** Rated power of the e-bike charger plugged in (W), drawn per session. */
  sessionW: number;
  stopReason: string | undefined;
}

interface CircuitSim {
  ch: number;
  /** Natural leakage of this circuit, mA (GB 50116: 100–200 mA is normal). */
  baseResidualMa: number;
  /** Typical load, A. */
  baseCurrentA: number;
  powerFactor: number;
}

interface StateBase {
  readonly id: string;
  readonly model: string;
  /** Message ids are `${idPrefix}${seq in base 36}`: unique across simulator runs. */
  readonly idPrefix: string;
  readonly rnd: () => number;
  /** Sequence number of the next message (wraps at 2^32, as the envelope allows). */
  seq: number;
  /** Device time of the previous telemetry (ms), to integrate energy over time. */
  lastTs: number;
}

export interface SmokeState extends StateBase {
  readonly kind: 'smoke';
  readonly baseSmoke: number;
  tempC: number;
  battery: number;
  readonly rsrp: number | undefined;
  readonly snr: number | undefined;
}

export interface ElectricState extends StateBase {
  readonly kind: 'electric';
  readonly circuits: CircuitSim[];
}

export interface ChargerState extends StateBase {
  readonly kind: 'charger';
  readonly ports: PortSim[];
  readonly eveningPeak: boolean;
  readonly utcOffsetMs: number;
}

export type DeviceProfileState = SmokeState | ElectricState | ChargerState;

const SEQ_MOD = 0x1_0000_0000;
const HOUR_MS = 3_600_000;

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** Number at the end of a model name before a suffix letter ("EFM-8C" → 8), or null. */
function trailingCount(model: string, suffix: string): number | null {
  if (!model.endsWith(suffix)) return null;
  let i = model.length - suffix.length;
  let n = 0;
  let mul = 1;
  while (i > 0) {
    const c = model.charCodeAt(i - 1);
    if (c < 48 || c > 57) break;
    n += (c - 48) * mul;
    mul *= 10;
    i--;
  }
  return mul === 1 ? null : n;
}

/** Circuits of an electricity monitor: from the model ("EFM-4C"), else 1–8. */
export function circuitCount(model: string, rnd: () => number): number {
  const n = trailingCount(model, 'C');
  return clamp(n ?? 1 + Math.floor(rnd() * 8), 1, 8);
}

/** Ports of a charging station: from the model ("EBC-16P"), else 10. */
export function portCount(model: string): number {
  return clamp(trailingCount(model, 'P') ?? 10, 1, 128);
}

/**
 * A device's generator state. `bootId` is part of every message id: the broker
 * records (device id, message id) for a while to drop retries, so a restarted
 * simulator must not reuse the ids of its previous run.
 */
export function createDeviceState(
  device: ProfileDevice,
  seed: string,
  bootId: string,
  options: ProfileOptions = {},
): DeviceProfileState {
  const rnd = seededRandom(`${seed}:${device.id}`);
  const base = {
    id: device.id,
    model: device.model,
    idPrefix: `${bootId}-`,
    rnd,
    seq: 0,
    lastTs: 0,
  };
  switch (device.kind) {
    case 'smoke': {
      const wireless = device.model.startsWith('NB') || device.model.startsWith('4G');
      return {
        ...base,
        kind: 'smoke',
        // Clean air reads a few hundredths of %/m; dusty rooms a little more.
        baseSmoke: 0.02 + rnd() * 0.2,
        tempC: 18 + rnd() * 8,
        battery: wireless ? 55 + rnd() * 45 : 100,
        rsrp: wireless ? Math.round(-115 + rnd() * 40) : undefined,
        snr: wireless ? Math.round(-3 + rnd() * 23) : undefined,
      };
    }
    case 'electric': {
      const n = circuitCount(device.model, rnd);
      const circuits: CircuitSim[] = [];
      for (let ch = 1; ch <= n; ch++) {
        circuits.push({
          ch,
          baseResidualMa: 30 + rnd() * 100,
          baseCurrentA: 1 + rnd() * 18,
          powerFactor: 0.85 + rnd() * 0.13,
        });
      }
      return { ...base, kind: 'electric', circuits };
    }
    case 'charger': {
      const n = portCount(device.model);
      const ports: PortSim[] = [];
      for (let port = 1; port <= n; port++) {
        // Start with about a third of the ports busy, so a demo shows power at once.
        const r = rnd();
        const sessionW = 120 + rnd() * 230;
        const state: PortReading['state'] = r < 0.3 ? 'charging' : r < 0.4 ? 'full' : 'idle';
        ports.push({
          port,
          state,
          sessionW,
          powerW: state === 'charging' ? sessionW : 0,
          energyWh: state === 'idle' ? 0 : Math.round(rnd() * 400),
          stopReason: undefined,
        });
      }
      return {
        ...base,
        kind: 'charger',
        ports,
        eveningPeak: options.eveningPeak ?? false,
        utcOffsetMs: (options.utcOffsetHours ?? 8) * HOUR_MS,
      };
    }
  }
}

/** Envelope fields of the next message; advances the sequence number. */
function envelope(s: DeviceProfileState, now: number): { v: 1; id: string; ts: number; seq: number } {
  const seq = s.seq;
  s.seq = (seq + 1) % SEQ_MOD;
  return { v: 1, id: s.idPrefix + seq.toString(36), ts: Math.floor(now), seq };
}

function smokeTelemetry(s: SmokeState, now: number): SmokeTelemetry {
  const r = s.rnd;
  s.tempC = clamp(s.tempC + (r() - 0.5) * 0.6, 15, 30);
  // A battery detector loses about 1 % a month at a report a minute (~45k reports).
  s.battery = Math.max(0, s.battery - 0.00002);
  const t: SmokeTelemetry = {
    ...envelope(s, now),
    kind: 'smoke',
    smoke: round(clamp(s.baseSmoke + (r() - 0.5) * 0.08, 0, 0.5), 3),
    tempC: round(s.tempC, 1),
    battery: Math.round(s.battery),
  };
  if (s.rsrp !== undefined) t.rsrp = clamp(s.rsrp + Math.round((r() - 0.5) * 6), -160, 0);
  if (s.snr !== undefined) t.snr = clamp(s.snr + Math.round((r() - 0.5) * 4), -30, 50);
  return t;
}

function electricTelemetry(s: ElectricState, now: number): ElectricTelemetry {
  const r = s.rnd;
  const circuits: CircuitReading[] = [];
  for (const c of s.circuits) {
    const currentA = clamp(c.baseCurrentA * (0.6 + r() * 0.8), 0, 2_000);
    const voltageV = 220 + (r() - 0.5) * 12;
    circuits.push({
      ch: c.ch,
      // Natural leakage wanders ±15 % and stays inside 20–150 mA (alarm is 300–500 mA).
      residualMa: round(clamp(c.baseResidualMa * (0.85 + r() * 0.3), 20, 150), 1),
      tempC: round(clamp(24 + currentA * 0.9 + (r() - 0.5) * 2, 15, 70), 1),
      currentA: round(currentA, 2),
      voltageV: round(voltageV, 1),
      powerW: Math.round(voltageV * currentA * c.powerFactor),
      // A few arc half-cycles now and then are normal (≤ 9 in 1 s must not alarm).
      arcCount: r() < 0.02 ? 1 + Math.floor(r() * 3) : 0,
    });
  }
  return { ...envelope(s, now), kind: 'electric', circuits };
}

function inEveningPeak(s: ChargerState, now: number): boolean {
  const hour = Math.floor((((now + s.utcOffsetMs) % (24 * HOUR_MS)) + 24 * HOUR_MS) / HOUR_MS) % 24;
  return hour >= 18 && hour < 23;
}

/** Advances one port's state machine over `hours` of device time. */
function stepPort(p: PortSim, hours: number, startPerHour: number, r: () => number): void {
  switch (p.state) {
    case 'idle':
    case 'offline':
      if (r() < startPerHour * hours) {
        p.state = 'charging';
        p.sessionW = 120 + r() * 230;
        p.energyWh = 0;
        p.stopReason = undefined;
      }
      break;
    case 'charging':
      p.energyWh += p.sessionW * hours;
      // A 48 V e-bike battery takes 4–8 h: finish with probability per elapsed hour.
      if (r() < hours / 5) {
        p.state = 'full';
        p.stopReason = 'full';
      } else if (r() < 0.00005) {
        p.state = 'fault';
        p.stopReason = 'port_fault';
      }
      break;
    case 'full':
      if (r() < hours * 0.8) {
        p.state = 'idle';
        p.stopReason = 'unplugged';
      }
      break;
    case 'fault':
      // The next report after a fault shows the port reset.
      p.state = 'idle';
      break;
  }
  p.powerW = p.state === 'charging' ? p.sessionW * (0.9 + r() * 0.2) : p.state === 'full' ? r() * 4 : 0;
}

function chargerTelemetry(s: ChargerState, now: number): ChargerTelemetry {
  const r = s.rnd;
  // First report: no elapsed time yet. Cap at 1 h so a paused simulator doesn't jump.
  const hours = s.lastTs === 0 ? 0 : clamp((now - s.lastTs) / HOUR_MS, 0, 1);
  const startPerHour = s.eveningPeak && inEveningPeak(s, now) ? 0.6 : 0.1;
  const ports: PortReading[] = [];
  for (const p of s.ports) {
    stepPort(p, hours, startPerHour, r);
    const voltageV = 220 + (r() - 0.5) * 10;
    const reading: PortReading = {
      port: p.port,
      state: p.state,
      powerW: round(p.powerW, 1),
      currentA: round(p.powerW / voltageV, 3),
      voltageV: round(voltageV, 1),
      tempC: round(clamp(26 + p.powerW / 25 + (r() - 0.5) * 2, 15, 80), 1),
      energyWh: round(p.energyWh, 1),
    };
    if (p.stopReason !== undefined) reading.stopReason = p.stopReason;
    ports.push(reading);
  }
  return { ...envelope(s, now), kind: 'charger', ports };
}

/** The device's next telemetry reading at device time `now` (ms since the epoch). */
export function nextTelemetry(s: DeviceProfileState, now: number): Telemetry {
  let t: Telemetry;
  switch (s.kind) {
    case 'smoke':
      t = smokeTelemetry(s, now);
      break;
    case 'electric':
      t = electricTelemetry(s, now);
      break;
    case 'charger':
      t = chargerTelemetry(s, now);
      break;
  }
  s.lastTs = now;
  return t;
}

/** Any event from this device, with its next message id and sequence number. */
export function deviceEvent(
  s: DeviceProfileState,
  now: number,
  type: EventType,
  extra: Pick<DeviceEvent, 'channel' | 'value' | 'result' | 'detail'> = {},
): DeviceEvent {
  return { ...envelope(s, now), type, ...extra };
}

/**
 * A smoke alarm: the detector reports the obscuration that tripped it. Detectors
 * alarm at a few %/m (EN 14604 sensitivity is 0.05–0.2 dB/m, about 1–5 %/m); a real
 * fire reads well above.
 */
export function alarmEvent(s: DeviceProfileState, now: number): DeviceEvent {
  return deviceEvent(s, now, 'alarm', { value: round(4 + s.rnd() * 16, 2) });
}

/** Delay to a device's next telemetry: the kind's interval, jittered ±jitter. */
export function nextDelayMs(interval: TelemetryInterval, rnd: () => number): number {
  return Math.max(1, Math.round(interval.intervalMs * (1 + interval.jitter * (2 * rnd() - 1))));
}

/** Delay to a device's first telemetry after connecting: spread over one interval. */
export function firstDelayMs(interval: TelemetryInterval, rnd: () => number): number {
  return Math.max(1, Math.round(interval.intervalMs * rnd()));
}

/** Merges partial intervals (from options) over the defaults, validated. */
export function resolveIntervals(partial: Partial<TelemetryIntervals> = {}): TelemetryIntervals {
  const out = { ...DEFAULT_INTERVALS, ...partial };
  for (const [kind, iv] of Object.entries(out)) {
    if (!(iv.intervalMs > 0) || !Number.isFinite(iv.intervalMs) || !(iv.jitter >= 0 && iv.jitter < 1)) {
      throw new RangeError(`bad telemetry interval for ${kind}: ${JSON.stringify(iv)}`);
    }
  }
  return out;
}
