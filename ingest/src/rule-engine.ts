import type { Device, Telemetry } from '@hub/protocol';
import {
  type ChargerRules,
  type ElectricRules,
  newRisingState,
  newThresholdState,
  type RisingState,
  type RuleHit,
  type RulesConfig,
  rulesFor,
  type SmokeRules,
  stepRising,
  stepThreshold,
  type ThresholdState,
} from './threshold-rules.js';

/**
 * Runs the threshold rules (threshold-rules.ts) on every decoded telemetry message and
 * hands hits to `emit`. State per device is allocated once (per circuit / port on
 * first sight) and reset when the device's model changes; the per-message work is a
 * Map lookup and a few comparisons per circuit or port, no allocation unless a rule
 * fires.
 *
 * Several ingest processes each see every reading (aedes has no shared
 * subscriptions), so each evaluates the same rules on the same readings and emits the
 * same hits; the event writer de-duplicates them by event id (same reading → same id).
 */

interface CircuitState {
  residual: ThresholdState;
  temp: ThresholdState;
  arc: ThresholdState;
}
interface PortState {
  temp: ThresholdState;
  power: ThresholdState;
}
interface DeviceState {
  model: string;
  kind: Device['kind'];
  electric?: ElectricRules;
  charger?: ChargerRules;
  smoke?: SmokeRules;
  circuits: Array<CircuitState | undefined>;
  ports: Array<PortState | undefined>;
  rising?: RisingState;
}

export interface RuleEngineStats {
  evaluated: number;
  hits: number;
}

export class RuleEngine {
  readonly stats: RuleEngineStats = { evaluated: 0, hits: 0 };
  /**
   * Rule state per device id. Bounded by the registry (unknown devices are rejected
   * before the rules run); a device removed from the registry keeps its small entry
   * until the process restarts.
   */
  private readonly devices = new Map<string, DeviceState>();

  constructor(
    private readonly config: RulesConfig,
    private readonly emit: (hit: RuleHit) => void,
  ) {}

  evaluate(t: Telemetry, device: Device, now: number): void {
    this.stats.evaluated++;
    const s = this.stateOf(device);
    if (t.kind === 'electric') {
      const r = s.electric!;
      for (let i = 0; i < t.circuits.length; i++) {
        const c = t.circuits[i]!;
        let cs = s.circuits[c.ch];
        if (cs === undefined) {
          cs = { residual: newThresholdState(), temp: newThresholdState(), arc: newThresholdState() };
          s.circuits[c.ch] = cs;
        }
        if (stepThreshold(cs.residual, c.residualMa, now, r.residualMa)) {
          this.hit(
            device.id,
            'leakage',
            c.ch,
            c.residualMa,
            `residual current ≥ ${r.residualMa.alarmAt} mA`,
            t,
          );
        }
        if (stepThreshold(cs.temp, c.tempC, now, r.cableTempC)) {
          this.hit(
            device.id,
            'over_temperature',
            c.ch,
            c.tempC,
            `cable temperature ≥ ${r.cableTempC.alarmAt} °C`,
            t,
          );
        }
        if (stepThreshold(cs.arc, c.arcCount, now, r.arcHalfCycles)) {
          this.hit(
            device.id,
            'arc_fault',
            c.ch,
            c.arcCount,
            `arc half-cycles ≥ ${r.arcHalfCycles.alarmAt} per reading`,
            t,
          );
        }
      }
    } else if (t.kind === 'charger') {
      const r = s.charger!;
      for (let i = 0; i < t.ports.length; i++) {
        const p = t.ports[i]!;
        let ps = s.ports[p.port];
        if (ps === undefined) {
          ps = { temp: newThresholdState(), power: newThresholdState() };
          s.ports[p.port] = ps;
        }
        if (stepThreshold(ps.temp, p.tempC, now, r.portTempC)) {
          this.hit(
            device.id,
            'port_over_temperature',
            p.port,
            p.tempC,
            `port temperature ≥ ${r.portTempC.alarmAt} °C`,
            t,
          );
        }
        if (stepThreshold(ps.power, p.powerW, now, r.portPowerW)) {
          this.hit(device.id, 'over_power', p.port, p.powerW, `port power ≥ ${r.portPowerW.alarmAt} W`, t);
        }
      }
    } else {
      const r = s.smoke!.rising;
      if (stepRising(s.rising!, t.smoke, now, r)) {
        this.hit(
          device.id,
          'smoke_rising',
          undefined,
          t.smoke,
          `smoke rose ≥ ${r.minRise} %/m over ${r.readings} readings to ≥ ${r.minValue} %/m`,
          t,
        );
      }
    }
  }

  private stateOf(device: Device): DeviceState {
    let s = this.devices.get(device.id);
    if (s !== undefined && s.model === device.model && s.kind === device.kind) return s;
    s = { model: device.model, kind: device.kind, circuits: [], ports: [] };
    if (device.kind === 'electric') s.electric = rulesFor(this.config, device.model, 'electric');
    else if (device.kind === 'charger') s.charger = rulesFor(this.config, device.model, 'charger');
    else {
      s.smoke = rulesFor(this.config, device.model, 'smoke');
      s.rising = newRisingState(s.smoke.rising.readings);
    }
    this.devices.set(device.id, s);
    return s;
  }

  private hit(
    deviceId: string,
    type: RuleHit['type'],
    channel: number | undefined,
    value: number,
    detail: string,
    t: Telemetry,
  ): void {
    this.stats.hits++;
    this.emit({ deviceId, type, channel, value, detail, readingTs: t.ts, seq: t.seq });
  }
}
