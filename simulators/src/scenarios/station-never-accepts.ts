import { expectedStation } from '../fire-scenario.js';
import type { Scenario } from '../scenario.js';
import { devicesIn, pickBuilding, waitReady } from './scenario-helpers.js';

/**
 * The nearest station never accepts (nobody at the screen). After its accept timeout
 * the hub must page the next station (ladder step 2), then the fire office. Run the
 * hub with a short HUB_ACCEPT_TIMEOUT_MS (the bench uses 10 s) or a long --duration.
 */
export const stationNeverAccepts: Scenario = {
  name: 'station-never-accepts',
  title: 'A station that never accepts',
  defaultDurationS: 90,
  prepare({ snapshot, rnd }) {
    const building = pickBuilding(
      snapshot,
      rnd,
      (b) => devicesIn(snapshot, b.id, 'smoke').length >= 1 && expectedStation(snapshot, b) !== null,
      'a smoke detector and an on-duty station',
    );
    const silent = expectedStation(snapshot, building)?.station.id as string;
    const detector = devicesIn(snapshot, building.id, 'smoke')[0]?.id as string;
    let escalatedAtS: number | null = null;
    return {
      required: [detector],
      neverAccept: [silent],
      summary: `${detector} alarms in ${building.id}; ${silent} (first on the ladder) never accepts`,
      async script(ctx) {
        await waitReady(ctx, [detector]);
        ctx.event(detector, 'alarm', { value: 11 });
        ctx.note(`alarm; ${silent} stays silent`);
      },
      checks(r) {
        const inc = r.audit.incidents.find((i) => i.buildingId === building.id);
        const next = inc?.steps.find((s) => s.step > 1 && s.stationId !== silent);
        escalatedAtS = next === undefined ? null : next.afterMs / 1000;
        return [
          {
            name: 'escalated past the silent station',
            ok: next !== undefined,
            detail:
              next === undefined
                ? `no step-2 page within the run (${inc?.steps.length ?? 0} steps seen)`
                : `step ${next.step} to ${next.stationId} after ${escalatedAtS} s`,
          },
        ];
      },
    };
  },
};
