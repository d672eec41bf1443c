import type { Building, Station } from '@hub/protocol';
import type { RankedStation, StationIndex } from '@hub/registry';

/**
 * Which stations a page goes to, in order. Pure: the registry's station index gives
 * the available stations (on duty, someone on duty), responsibility area first, then
 * by straight-line distance; on top of that:
 * - an operator-supplied travel-time table (building → station → seconds), where it
 *   has entries for the building, orders the stations it names by travel time,
 *   ahead of stations it does not name (roads and rivers beat straight lines);
 *   the responsibility-area station still comes first (it is the one responsible);
 * - stations busy with another incident (the accepted responder of another open
 *   incident) are skipped when configured, unless no idle station is left: a busy
 *   station is better than no station.
 */

/** buildingId → stationId → travel seconds. */
export type TravelTimes = ReadonlyMap<string, ReadonlyMap<string, number>>;

export interface StationChoiceOptions {
  readonly busy?: ReadonlySet<string>;
  readonly skipBusy?: boolean;
  readonly travelTimes?: TravelTimes;
}

export interface ChosenStation extends RankedStation {
  /** From the travel-time table, when it names this station for the building. */
  readonly travelS?: number;
  readonly busy: boolean;
}

/**
 * A station can take a page when it is on duty and at least one officer is. A plain
 * function (not a closure per call): the ranking runs once per step.
 */
export function stationAvailable(s: Station): boolean {
  if (!s.onDuty) return false;
  for (const o of s.officers) if (o.onDuty) return true;
  return false;
}

/** Up to `n` stations for `building`, none of `exclude`, best first. */
export function chooseStations(
  index: StationIndex,
  building: Building,
  exclude: readonly string[],
  n: number,
  opts: StationChoiceOptions = {},
): ChosenStation[] {
  if (n <= 0) return [];
  const table = opts.travelTimes?.get(building.id);
  const busy = opts.busy;
  // Ask for enough candidates to survive the exclusions and the re-ordering.
  const limit = n + exclude.length + (busy?.size ?? 0) + (table?.size ?? 0) + 2;
  const ranked = index.rank(building.lat, building.lon, limit, stationAvailable);
  const candidates: ChosenStation[] = [];
  for (const r of ranked) {
    if (exclude.includes(r.station.id)) continue;
    const t = table?.get(r.station.id);
    candidates.push({
      ...r,
      ...(t !== undefined ? { travelS: t } : {}),
      busy: busy?.has(r.station.id) ?? false,
    });
  }
  if (table !== undefined && table.size > 0) {
    // Stable sort: area first, then stations with a travel time (fastest first), then
    // the rest in the index's distance order.
    const orderOf = (c: ChosenStation) => (c.inArea ? 0 : c.travelS !== undefined ? 1 : 2);
    candidates.sort((a, b) => {
      const oa = orderOf(a);
      const ob = orderOf(b);
      if (oa !== ob) return oa - ob;
      if (oa === 1) return (a.travelS ?? 0) - (b.travelS ?? 0);
      return 0;
    });
  }
  if (opts.skipBusy === true && busy !== undefined && busy.size > 0) {
    const idle = candidates.filter((c) => !c.busy);
    const busyOnes = candidates.filter((c) => c.busy);
    return idle.concat(busyOnes).slice(0, n);
  }
  return candidates.slice(0, n);
}
