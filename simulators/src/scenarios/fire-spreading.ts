import type { Scenario } from '../scenario.js';
import { buildingResult, detectorsByFloor, ids, pickBuilding, waitReady } from './scenario-helpers.js';

/**
 * A fire that starts on one floor and climbs: every 8 s the detectors of the next
 * floor alarm. The hub should page once (the first detector is enough), fold every
 * later alarm into the same incident, and page the expected station.
 */
const FLOOR_EVERY_MS = 8_000;

export const fireSpreading: Scenario = {
  name: 'fire-spreading',
  title: 'Fire spreading floor by floor',
  defaultDurationS: 60,
  prepare({ snapshot, rnd }) {
    const building = pickBuilding(
      snapshot,
      rnd,
      (b) => detectorsByFloor(snapshot, b.id).length >= 2,
      'smoke detectors on two floors or more',
    );
    const floors = detectorsByFloor(snapshot, building.id);
    const all = floors.flatMap(ids);
    return {
      required: all,
      summary: `${building.id}: ${floors.length} floors, ${all.length} detectors, one floor every ${FLOOR_EVERY_MS / 1000} s`,
      async script(ctx) {
        await waitReady(ctx, all);
        for (const [k, floor] of floors.entries()) {
          if (ctx.aborted()) return;
          ctx.note(`floor ${floor[0]?.floor ?? k}: ${floor.length} detectors alarm`);
          for (const d of floor) ctx.event(d.id, 'alarm', { value: 6 + k * 4 + ctx.rnd() * 4 });
          await ctx.sleep(FLOOR_EVERY_MS);
        }
      },
      checks(r) {
        const b = buildingResult(r, building.id);
        const incidents = r.audit.incidents.filter((i) => i.buildingId === building.id);
        return [
          {
            name: 'one incident for the building',
            ok: incidents.length === 1,
            detail: `${incidents.length} incidents, ${b?.station.pagesMatched ?? 0} distinct pages for ${b?.station.alarmsSent ?? 0} alarms`,
          },
          {
            name: 'expected station paged first',
            ok: b?.rightStation === true,
            detail: `expected ${b?.expectedStationId ?? '-'}, paged ${b?.station.pagingStationId ?? '-'}`,
          },
        ];
      },
    };
  },
};
