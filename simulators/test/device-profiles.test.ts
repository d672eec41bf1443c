import {
  type DeviceKind,
  decodeEvent,
  decodeTelemetry,
  deviceEventSchema,
  PAYLOAD_LIMITS,
  telemetrySchema,
} from '@hub/protocol';
import { DEMO_MODELS } from '@hub/registry';
import { describe, expect, it } from 'vitest';
import {
  alarmEvent,
  circuitCount,
  createDeviceState,
  DEFAULT_INTERVALS,
  firstDelayMs,
  nextDelayMs,
  nextTelemetry,
  portCount,
  resolveIntervals,
} from '../src/device-profiles.js';

const KINDS: DeviceKind[] = ['smoke', 'electric', 'charger'];
const T0 = Date.UTC(2025, 0, 15, 2, 0, 0); // 10:00 in UTC+8

describe('device profiles', () => {
  it('every generated telemetry passes the protocol schema, for every kind, model and many seeds', () => {
    let checked = 0;
    for (let seedNo = 0; seedNo < 40; seedNo++) {
      for (const kind of KINDS) {
        for (const model of [...DEMO_MODELS[kind], 'unknown-model']) {
          const s = createDeviceState({ id: `d${seedNo}`, kind, model }, `seed-${seedNo}`, 'boot1', {
            eveningPeak: seedNo % 2 === 0,
          });
          // A day of readings at 30-minute steps crosses the evening peak and long sessions.
          for (let i = 0; i < 48; i++) {
            const t = nextTelemetry(s, T0 + i * 1_800_000 + seedNo);
            const json = JSON.stringify(t);
            const decoded = decodeTelemetry(json);
            if (!decoded.ok)
              throw new Error(`${kind}/${model}/seed ${seedNo}: ${decoded.message} in ${json}`);
            expect(decoded.value.kind).toBe(kind);
            expect(json.length).toBeLessThan(PAYLOAD_LIMITS.telemetry);
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(40 * 48 * (3 + 1 + 2 + 1 + 2 + 1));
  });

  it('keeps readings in the realistic ranges of a quiet building', () => {
    for (let seedNo = 0; seedNo < 40; seedNo++) {
      const smoke = createDeviceState({ id: 'd1', kind: 'smoke', model: 'NB-SD01' }, `s${seedNo}`, 'b');
      const electric = createDeviceState({ id: 'd2', kind: 'electric', model: 'EFM-8C' }, `s${seedNo}`, 'b');
      const charger = createDeviceState({ id: 'd3', kind: 'charger', model: 'EBC-16P' }, `s${seedNo}`, 'b');
      for (let i = 0; i < 20; i++) {
        const now = T0 + i * 60_000;
        const t = telemetrySchema.parse(nextTelemetry(smoke, now));
        if (t.kind !== 'smoke') throw new Error('kind');
        expect(t.smoke).toBeGreaterThanOrEqual(0);
        expect(t.smoke).toBeLessThanOrEqual(0.5);
        expect(t.tempC).toBeGreaterThanOrEqual(15);
        expect(t.tempC).toBeLessThanOrEqual(30);
        expect(t.battery).toBeGreaterThan(0);
        const e = telemetrySchema.parse(nextTelemetry(electric, now));
        if (e.kind !== 'electric') throw new Error('kind');
        expect(e.circuits).toHaveLength(8);
        for (const c of e.circuits) {
          expect(c.residualMa).toBeGreaterThanOrEqual(20);
          expect(c.residualMa).toBeLessThanOrEqual(150);
        }
        const c = telemetrySchema.parse(nextTelemetry(charger, now));
        if (c.kind !== 'charger') throw new Error('kind');
        expect(c.ports).toHaveLength(16);
        for (const p of c.ports) {
          if (p.state === 'charging') expect(p.powerW).toBeGreaterThan(50);
          if (p.state === 'idle') expect(p.powerW).toBe(0);
        }
      }
    }
  });

  it('derives circuit and port counts from the model, within 1–8 circuits', () => {
    expect(circuitCount('EFM-4C', () => 0.5)).toBe(4);
    expect(circuitCount('EFM-8C', () => 0.5)).toBe(8);
    expect(circuitCount('X', () => 0)).toBe(1);
    expect(circuitCount('X', () => 0.999)).toBe(8);
    expect(circuitCount('EFM-64C', () => 0.5)).toBe(8);
    expect(portCount('EBC-10P')).toBe(10);
    expect(portCount('EBC-16P')).toBe(16);
    expect(portCount('other')).toBe(10);
  });

  it('numbers messages per device: seq increments, ids unique and carry the boot id', () => {
    const s = createDeviceState({ id: 'd9', kind: 'smoke', model: 'NB-SD01' }, 'demo', 'k3x9');
    const ids = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const m = i % 10 === 0 ? alarmEvent(s, T0 + i) : nextTelemetry(s, T0 + i);
      expect(m.seq).toBe(i);
      expect(m.id.startsWith('k3x9-')).toBe(true);
      ids.add(m.id);
    }
    expect(ids.size).toBe(100);
    // Another run (boot id) never reuses an id: the broker would drop it as a retry.
    const again = createDeviceState({ id: 'd9', kind: 'smoke', model: 'NB-SD01' }, 'demo', 'other');
    expect(ids.has(nextTelemetry(again, T0).id)).toBe(false);
  });

  it('is deterministic for a seed', () => {
    const a = createDeviceState({ id: 'd1', kind: 'charger', model: 'EBC-10P' }, 'demo', 'b');
    const b = createDeviceState({ id: 'd1', kind: 'charger', model: 'EBC-10P' }, 'demo', 'b');
    for (let i = 0; i < 10; i++)
      expect(nextTelemetry(a, T0 + i * 15_000)).toEqual(nextTelemetry(b, T0 + i * 15_000));
  });

  it('makes alarm events that pass the event schema, for every kind and many seeds', () => {
    for (let seedNo = 0; seedNo < 100; seedNo++) {
      for (const kind of KINDS) {
        const s = createDeviceState(
          { id: `d${seedNo}`, kind, model: DEMO_MODELS[kind][0] as string },
          `x${seedNo}`,
          'b',
        );
        const ev = alarmEvent(s, T0 + seedNo + 0.75);
        const decoded = decodeEvent(JSON.stringify(ev));
        if (!decoded.ok) throw new Error(decoded.message);
        expect(decoded.value.type).toBe('alarm');
        expect(decoded.value.ts).toBe(T0 + seedNo);
        expect(deviceEventSchema.parse(ev).value).toBeGreaterThan(1);
      }
    }
  });

  it('jitters intervals within ±jitter and spreads first reports over one interval', () => {
    const iv = { intervalMs: 10_000, jitter: 0.2 };
    expect(nextDelayMs(iv, () => 0)).toBe(8_000);
    expect(nextDelayMs(iv, () => 0.5)).toBe(10_000);
    expect(nextDelayMs(iv, () => 0.99999)).toBeLessThanOrEqual(12_000);
    expect(firstDelayMs(iv, () => 0.5)).toBe(5_000);
    expect(DEFAULT_INTERVALS.smoke.intervalMs).toBe(60_000);
    expect(DEFAULT_INTERVALS.electric.intervalMs).toBe(30_000);
    expect(DEFAULT_INTERVALS.charger.intervalMs).toBe(15_000);
    expect(resolveIntervals({ charger: { intervalMs: 1_000, jitter: 0 } }).charger.intervalMs).toBe(1_000);
    expect(() => resolveIntervals({ smoke: { intervalMs: 0, jitter: 0 } })).toThrow(RangeError);
    expect(() => resolveIntervals({ smoke: { intervalMs: 10, jitter: 1.5 } })).toThrow(RangeError);
  });
});
