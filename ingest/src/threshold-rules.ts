import type { DeviceKind, EventType } from '@hub/protocol';
import { z } from 'zod';

/**
 * Threshold rules on telemetry, per device model (defaults per kind): pure config and
 * pure evaluators with time passed in. The engine (rule-engine.ts) holds the state.
 *
 * Debounce and hysteresis, so a value hovering at a threshold gives one event, not one
 * per reading:
 * - a rule becomes active after `confirmReadings` consecutive readings ≥ `alarmAt`;
 * - it fires when it becomes active, unless it fired less than `minRepeatMs` ago
 *   (a value flapping around the clear level does not re-fire every few readings);
 * - it stays active (silent) until a reading is below `clearBelow`.
 *
 * Defaults and where they come from:
 * - residual current ≥ 300 mA, clear < 250 mA: GB 50116-2013 puts the alarm at
 *   300–500 mA; natural leakage is 100–200 mA.
 * - cable/terminal temperature ≥ 70 °C, clear < 60 °C (PVC cable insulation is rated
 *   70 °C continuous; vendors default 70–80 °C).
 * - arc faults: ≥ 10 half-cycles in one reading. GB 31252: 9 or fewer arc half-cycles
 *   within 1 s must not alarm. `arcCount` is counted over the report period (≥ 1 s),
 *   so a reading with ≤ 9 can never hold 10 within one second: we never alarm where
 *   the standard forbids it. (10 spread over a whole minute also alarms: more sensitive
 *   than the standard requires, on the safe side.)
 * - charging port temperature ≥ 65 °C, clear < 55 °C; port power ≥ 1,000 W, clear
 *   < 800 W (e-bike chargers draw 100–600 W; more is a faulty or modified charger).
 * - smoke rising: 4 readings in a row each higher than the last, rising by ≥ 0.5 %/m in
 *   all and ending ≥ 1 %/m (below the detector's own alarm level); clear below 0.5 %/m.
 */

const thresholdRule = z.object({
  enabled: z.boolean().default(true),
  alarmAt: z.number(),
  clearBelow: z.number(),
  confirmReadings: z.number().int().min(1).max(100).default(1),
  minRepeatMs: z
    .number()
    .int()
    .min(0)
    .default(15 * 60_000),
});
export type ThresholdRule = z.infer<typeof thresholdRule>;

const risingRule = z.object({
  enabled: z.boolean().default(true),
  /** Consecutive strictly rising readings (≥ 2). */
  readings: z.number().int().min(2).max(32),
  /** Total rise over those readings. */
  minRise: z.number().min(0),
  /** The last reading must be at least this. */
  minValue: z.number().min(0),
  clearBelow: z.number().min(0),
  minRepeatMs: z
    .number()
    .int()
    .min(0)
    .default(15 * 60_000),
});
export type RisingRule = z.infer<typeof risingRule>;

const electricRules = z.object({
  residualMa: thresholdRule.default({
    enabled: true,
    alarmAt: 300,
    clearBelow: 250,
    confirmReadings: 1,
    minRepeatMs: 15 * 60_000,
  }),
  cableTempC: thresholdRule.default({
    enabled: true,
    alarmAt: 70,
    clearBelow: 60,
    confirmReadings: 1,
    minRepeatMs: 15 * 60_000,
  }),
  arcHalfCycles: thresholdRule.default({
    enabled: true,
    alarmAt: 10,
    clearBelow: 1,
    confirmReadings: 1,
    minRepeatMs: 15 * 60_000,
  }),
});
const chargerRules = z.object({
  portTempC: thresholdRule.default({
    enabled: true,
    alarmAt: 65,
    clearBelow: 55,
    confirmReadings: 1,
    minRepeatMs: 15 * 60_000,
  }),
  portPowerW: thresholdRule.default({
    enabled: true,
    alarmAt: 1000,
    clearBelow: 800,
    confirmReadings: 2,
    minRepeatMs: 15 * 60_000,
  }),
});
const smokeRules = z.object({
  rising: risingRule.default({
    enabled: true,
    readings: 4,
    minRise: 0.5,
    minValue: 1,
    clearBelow: 0.5,
    minRepeatMs: 15 * 60_000,
  }),
});

export const rulesConfigSchema = z.object({
  electric: electricRules.default(electricRules.parse({})),
  charger: chargerRules.default(chargerRules.parse({})),
  smoke: smokeRules.default(smokeRules.parse({})),
  /** Model → rules replacing its kind's (each rule given replaces that rule whole). */
  models: z
    .record(
      z.string(),
      z.object({
        electric: electricRules.partial().optional(),
        charger: chargerRules.partial().optional(),
        smoke: smokeRules.partial().optional(),
      }),
    )
    .default({}),
});
export type RulesConfig = z.infer<typeof rulesConfigSchema>;
export type ElectricRules = z.infer<typeof electricRules>;
export type ChargerRules = z.infer<typeof chargerRules>;
export type SmokeRules = z.infer<typeof smokeRules>;

export function parseRulesConfig(json: string | undefined): RulesConfig {
  const cfg = rulesConfigSchema.parse(json === undefined || json === '' ? {} : JSON.parse(json));
  for (const r of [cfg.electric.residualMa, cfg.electric.cableTempC, cfg.electric.arcHalfCycles])
    checkRule(r);
  for (const r of [cfg.charger.portTempC, cfg.charger.portPowerW]) checkRule(r);
  return cfg;
}

function checkRule(r: ThresholdRule): void {
  if (r.clearBelow > r.alarmAt) throw new RangeError('clearBelow must not be above alarmAt');
}

/** The rules for one model (model overrides merged over the kind's), resolved once per model. */
export function rulesFor(cfg: RulesConfig, model: string, kind: 'electric'): ElectricRules;
export function rulesFor(cfg: RulesConfig, model: string, kind: 'charger'): ChargerRules;
export function rulesFor(cfg: RulesConfig, model: string, kind: 'smoke'): SmokeRules;
export function rulesFor(
  cfg: RulesConfig,
  model: string,
  kind: DeviceKind,
): ElectricRules | ChargerRules | SmokeRules {
  const m = cfg.models[model];
  if (kind === 'electric') return { ...cfg.electric, ...m?.electric };
  if (kind === 'charger') return { ...cfg.charger, ...m?.charger };
  return { ...cfg.smoke, ...m?.smoke };
}

/** Per (device, channel, rule) state of a threshold rule. Mutable, allocated once. */
export interface ThresholdState {
  active: boolean;
  over: number;
  lastFiredAt: number;
}

export function newThresholdState(): ThresholdState {
  return { active: false, over: 0, lastFiredAt: Number.NEGATIVE_INFINITY };
}

/** Feeds one reading; true when an event must be emitted now. */
export function stepThreshold(s: ThresholdState, value: number, now: number, r: ThresholdRule): boolean {
  if (!r.enabled) return false;
  if (s.active) {
    if (value < r.clearBelow) {
      s.active = false;
      s.over = 0;
    }
    return false;
  }
  if (value < r.alarmAt) {
    s.over = 0;
    return false;
  }
  s.over++;
  if (s.over < r.confirmReadings) return false;
  s.active = true;
  s.over = 0;
  if (now - s.lastFiredAt < r.minRepeatMs) return false;
  s.lastFiredAt = now;
  return true;
}

/** State of the smoke-rising rule: the last readings in a ring. */
export interface RisingState {
  values: Float64Array;
  /** Readings in the current strictly rising run (not capped: only `run % ring size` indexes the ring). */
  run: number;
  last: number;
  active: boolean;
  lastFiredAt: number;
}

export function newRisingState(readings: number): RisingState {
  return {
    values: new Float64Array(readings),
    run: 0,
    last: Number.NaN,
    active: false,
    lastFiredAt: Number.NEGATIVE_INFINITY,
  };
}

/** Feeds one smoke reading; true when a `smoke_rising` event must be emitted now. */
export function stepRising(s: RisingState, value: number, now: number, r: RisingRule): boolean {
  if (!r.enabled) return false;
  const n = s.values.length;
  // Strictly rising run of readings: the first reading of a run starts it at 1.
  if (!(value > s.last)) s.run = 0;
  s.last = value;
  // values[] holds the run's last n readings, oldest at (run - n) mod n.
  s.values[s.run % n] = value;
  s.run++;
  if (s.active) {
    if (value < r.clearBelow) s.active = false;
    return false;
  }
  if (s.run < n) return false;
  const first = s.values[s.run % n]!; // oldest of the last n
  if (value - first < r.minRise || value < r.minValue) return false;
  s.active = true;
  if (now - s.lastFiredAt < r.minRepeatMs) return false;
  s.lastFiredAt = now;
  return true;
}

/** What the engine emits: becomes a device event in `keys.otherEvents`. */
export interface RuleHit {
  deviceId: string;
  type: EventType;
  /** Circuit or port; undefined for a detector. */
  channel: number | undefined;
  value: number;
  /** Rule name and threshold, for the ticket. */
  detail: string;
  /** Device time of the reading (makes the event id the same in every ingest process). */
  readingTs: number;
  seq: number;
}
