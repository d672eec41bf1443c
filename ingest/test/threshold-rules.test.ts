import type { Telemetry } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { RuleEngine } from '../src/rule-engine.js';
import {
  newRisingState,
  newThresholdState,
  parseRulesConfig,
  type RuleHit,
  rulesFor,
  stepRising,
  stepThreshold,
} from '../src/threshold-rules.js';
import { CHARGER, ELECTRIC, SMOKE } from './fixtures.js';

const cfg = parseRulesConfig('');
const MIN = 60_000;

/** Feeds values one per minute (fake clock); returns the indexes that fired. */
function feed(values: number[], step: (v: number, now: number) => boolean, t0 = 0, every = MIN): number[] {
  const fired: number[] = [];
  values.forEach((v, i) => {
    if (step(v, t0 + i * every)) fired.push(i);
  });
  return fired;
}

describe('threshold rules (pure, fake clock)', () => {
  it('residual current: fires at ≥ 300 mA once; hovering around 300 gives no event per reading', () => {
    const r = cfg.electric.residualMa;
    const s = newThresholdState();
    const fired = feed([120, 299, 300, 299, 301, 298, 305, 299, 300], (v, now) =>
      stepThreshold(s, v, now, r),
    );
    expect(fired).toEqual([2]);
  });

  it('residual current: re-fires only after falling below the clear level and after minRepeatMs', () => {
    const r = cfg.electric.residualMa; // clear < 250, repeat ≥ 15 min
    const s = newThresholdState();
    expect(stepThreshold(s, 320, 0, r)).toBe(true);
    expect(stepThreshold(s, 240, MIN, r)).toBe(false); // cleared
    expect(stepThreshold(s, 320, 2 * MIN, r)).toBe(false); // active again, but too soon
    expect(stepThreshold(s, 240, 3 * MIN, r)).toBe(false);
    expect(stepThreshold(s, 320, 20 * MIN, r)).toBe(true);
  });

  it('cable temperature: ≥ 70 °C fires, clear below 60 °C; confirmReadings debounces a one-reading spike', () => {
    const s = newThresholdState();
    expect(
      feed(
        [50, 71, 69, 65, 61, 59, 72],
        (v, now) => stepThreshold(s, v, now, cfg.electric.cableTempC),
        0,
        20 * MIN,
      ),
    ).toEqual([1, 6]);
    const debounced = { ...cfg.electric.cableTempC, confirmReadings: 2 };
    const s2 = newThresholdState();
    expect(feed([80, 50, 80, 50, 80, 81], (v, now) => stepThreshold(s2, v, now, debounced))).toEqual([5]);
  });

  it('arc faults (GB 31252): 9 half-cycles per reading never alarm, 10 do', () => {
    const r = cfg.electric.arcHalfCycles;
    const s = newThresholdState();
    expect(feed(Array(50).fill(9), (v, now) => stepThreshold(s, v, now, r))).toEqual([]);
    expect(feed([0, 10, 12, 30], (v, now) => stepThreshold(s, v, now, r), 100 * MIN)).toEqual([1]);
  });

  it('charging port: temperature ≥ 65 °C fires; power ≥ 1,000 W needs two readings in a row', () => {
    const st = newThresholdState();
    expect(feed([40, 64.9, 65, 66], (v, now) => stepThreshold(st, v, now, cfg.charger.portTempC))).toEqual([
      2,
    ]);
    const sp = newThresholdState();
    expect(
      feed([400, 1200, 400, 1100, 1300, 1250], (v, now) => stepThreshold(sp, v, now, cfg.charger.portPowerW)),
    ).toEqual([4]);
  });

  it('smoke rising: four strictly rising readings ending ≥ 1 %/m fire once; a dip resets the run; flat high values never fire', () => {
    const r = cfg.smoke.rising;
    const s = newRisingState(r.readings);
    expect(feed([0.1, 0.3, 0.2, 0.4, 0.6, 0.8, 1.1, 1.3, 1.5], (v, now) => stepRising(s, v, now, r))).toEqual(
      [6],
    );
    const flat = newRisingState(r.readings);
    expect(feed(Array(20).fill(3), (v, now) => stepRising(flat, v, now, r))).toEqual([]);
    const slow = newRisingState(r.readings); // rising but by < 0.5 in total
    expect(feed([1.0, 1.1, 1.2, 1.3, 1.35], (v, now) => stepRising(slow, v, now, r))).toEqual([]);
  });

  it('a model overrides its kind rule by rule', () => {
    const c = parseRulesConfig(
      JSON.stringify({
        models: { 'EFM-4C': { electric: { residualMa: { alarmAt: 500, clearBelow: 400 } } } },
      }),
    );
    expect(rulesFor(c, 'EFM-4C', 'electric').residualMa.alarmAt).toBe(500);
    expect(rulesFor(c, 'EFM-4C', 'electric').cableTempC.alarmAt).toBe(70);
    expect(rulesFor(c, 'other', 'electric').residualMa.alarmAt).toBe(300);
    expect(() => parseRulesConfig('{"electric":{"residualMa":{"alarmAt":300,"clearBelow":400}}}')).toThrow(
      RangeError,
    );
  });
});

describe('RuleEngine', () => {
  it('maps each rule to its event type with the circuit/port as channel', () => {
    const hits: RuleHit[] = [];
    const engine = new RuleEngine(cfg, (h) => hits.push(h));
    const e: Telemetry = {
      v: 1,
      id: 'e1',
      ts: 1000,
      seq: 1,
      kind: 'electric',
      circuits: [
        { ch: 1, residualMa: 350, tempC: 30, currentA: 1, voltageV: 230, powerW: 100, arcCount: 0 },
        { ch: 2, residualMa: 10, tempC: 75, currentA: 1, voltageV: 230, powerW: 100, arcCount: 11 },
      ],
    };
    engine.evaluate(e, ELECTRIC, 5000);
    const c: Telemetry = {
      v: 1,
      id: 'c1',
      ts: 1000,
      seq: 2,
      kind: 'charger',
      ports: [{ port: 3, state: 'charging', powerW: 200, currentA: 4, voltageV: 48, tempC: 70, energyWh: 1 }],
    };
    engine.evaluate(c, CHARGER, 5000);
    for (const [i, v] of [0.2, 0.5, 0.9, 1.4].entries()) {
      engine.evaluate(
        { v: 1, id: 's' + i, ts: 2000 + i, seq: i, kind: 'smoke', smoke: v, tempC: 20, battery: 90 },
        SMOKE,
        6000 + i,
      );
    }
    expect(hits.map((h) => [h.deviceId, h.type, h.channel, h.value])).toEqual([
      ['em-1', 'leakage', 1, 350],
      ['em-1', 'over_temperature', 2, 75],
      ['em-1', 'arc_fault', 2, 11],
      ['ch-1', 'port_over_temperature', 3, 70],
      ['sd-1', 'smoke_rising', undefined, 1.4],
    ]);
    expect(hits[0]).toMatchObject({ readingTs: 1000, seq: 1 });
  });
});
