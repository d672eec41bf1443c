import type { Scenario } from '../scenario.js';

/** The scenario library: one file per scenario, registered here by name. */
export const SCENARIOS: readonly Scenario[] = [];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
