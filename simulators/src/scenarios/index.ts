import type { Scenario } from '../scenario.js';
import { ebikeRunaway } from './ebike-runaway.js';
import { electricalRamp } from './electrical-ramp.js';
import { fireSpreading } from './fire-spreading.js';
import { flappingDetector } from './flapping-detector.js';
import { kitchenFalseAlarm } from './kitchen-false-alarm.js';
import { ordinaryDay } from './ordinary-day.js';
import { powerCut } from './power-cut.js';
import { springFestival } from './spring-festival.js';
import { stationNeverAccepts } from './station-never-accepts.js';

/** The scenario library: one file per scenario, registered here by name. */
export const SCENARIOS: readonly Scenario[] = [
  fireSpreading,
  kitchenFalseAlarm,
  flappingDetector,
  electricalRamp,
  ebikeRunaway,
  powerCut,
  springFestival,
  stationNeverAccepts,
  ordinaryDay,
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
