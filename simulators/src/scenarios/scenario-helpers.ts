import type { Building, Device, DeviceKind } from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import type { BuildingReport } from '../alarm-audit.js';
import type { ScenarioContext, ScenarioReport } from '../scenario.js';
import { SIM_ERRORS, SimError } from '../sim-error.js';

/** Shared picks for scenario files: seeded, reproducible, and loud when the registry lacks what a scenario needs. */

export function devicesIn(snapshot: RegistrySnapshot, buildingId: string, kind?: DeviceKind): Device[] {
  return (snapshot.devicesByBuilding.get(buildingId) ?? [])
    .filter((d) => !d.maintenance && (kind === undefined || d.kind === kind))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** A building (seeded choice) that satisfies `fits`; throws E_SIM_NO_BUILDING when none does. */
export function pickBuilding(
  snapshot: RegistrySnapshot,
  rnd: () => number,
  fits: (b: Building) => boolean,
  what: string,
  exclude: ReadonlySet<string> = new Set(),
): Building {
  const list = [...snapshot.buildings.values()]
    .filter((b) => !exclude.has(b.id) && fits(b))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const b = list[Math.floor(rnd() * list.length)];
  if (b === undefined) throw new SimError(SIM_ERRORS.NO_BUILDING, `no building in the registry has ${what}`);
  return b;
}

export function hasKinds(snapshot: RegistrySnapshot, kinds: Partial<Record<DeviceKind, number>>) {
  return (b: Building): boolean => {
    for (const [k, n] of Object.entries(kinds))
      if (devicesIn(snapshot, b.id, k as DeviceKind).length < (n ?? 1)) return false;
    return true;
  };
}

/** Smoke detectors of a building grouped by floor, lowest floor first. */
export function detectorsByFloor(snapshot: RegistrySnapshot, buildingId: string): Device[][] {
  const byFloor = new Map<number, Device[]>();
  for (const d of devicesIn(snapshot, buildingId, 'smoke')) {
    const list = byFloor.get(d.floor) ?? [];
    list.push(d);
    byFloor.set(d.floor, list);
  }
  return [...byFloor.entries()].sort((a, b) => a[0] - b[0]).map(([, l]) => l);
}

export function ids(devices: readonly Device[]): string[] {
  return devices.map((d) => d.id);
}

/** Waits for the devices; throws when none of them came up (the scenario cannot say anything then). */
export async function needConnected(
  ctx: { waitConnected(ids: readonly string[], ms: number): Promise<number>; note(t: string): void },
  list: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  const up = await ctx.waitConnected(list, timeoutMs);
  if (up === 0 && list.length > 0) {
    throw new SimError(
      SIM_ERRORS.DEVICES_NOT_CONNECTED,
      `none of the scenario's ${list.length} devices connected in ${timeoutMs} ms`,
    );
  }
  if (up < list.length) ctx.note(`only ${up}/${list.length} of the scenario's devices connected`);
}

/**
 * A building (seeded choice) with at least these many devices of each kind, and the
 * first in-service device of a kind there (by id).
 */
export function pickBuildingWith(
  snapshot: RegistrySnapshot,
  rnd: () => number,
  kinds: Partial<Record<DeviceKind, number>>,
  what: string,
): { building: Building; first(kind: DeviceKind): Device } {
  const building = pickBuilding(snapshot, rnd, hasKinds(snapshot, kinds), what);
  return {
    building,
    first(kind) {
      const d = devicesIn(snapshot, building.id, kind)[0];
      if (d === undefined) throw new Error(`unreachable: ${building.id} has no ${kind}`);
      return d;
    },
  };
}

/** The usual start of a script: most of the fleet up (the hub under load), then the scenario's own devices. */
export async function waitReady(ctx: ScenarioContext, list: readonly string[]): Promise<void> {
  await ctx.waitFleet(0.95, 60_000);
  await needConnected(ctx, list);
}

/** What the audit saw for one building (undefined: no alarm was sent there). */
export function buildingResult(r: ScenarioReport, buildingId: string): BuildingReport | undefined {
  return r.audit.buildings.find((x) => x.buildingId === buildingId);
}

/** Incidents (first pages) the audit counted for one building. */
export function incidentCount(r: ScenarioReport, buildingId: string): number {
  return r.audit.incidents.filter((i) => i.buildingId === buildingId).length;
}
