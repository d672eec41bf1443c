import type { Scenario } from '../scenario.js';
import { buildingResult, incidentCount, pickBuildingWith, waitReady } from './scenario-helpers.js';

/**
 * A faulty detector that alarms and clears every 4 s for a minute. The hub must not
 * page on every flap: one incident for the building, further alarms folded.
 */
const FLAP_MS = 4_000;
const FLAPS = 15;

export const flappingDetector: Scenario = {
  name: 'flapping-detector',
  title: 'Faulty detector flapping every few seconds',
  defaultDurationS: 75,
  prepare({ snapshot, rnd }) {
    const { building, first } = pickBuildingWith(snapshot, rnd, { smoke: 1 }, 'a smoke detector');
    const detector = first('smoke');
    return {
      required: [detector.id],
      summary: `${detector.id} in ${building.id}: alarm / clear every ${FLAP_MS / 1000} s, ${FLAPS} times`,
      async script(ctx) {
        await waitReady(ctx, [detector.id]);
        for (let k = 0; k < FLAPS && !ctx.aborted(); k++) {
          ctx.event(detector.id, 'alarm', { value: 3 + ctx.rnd() });
          await ctx.sleep(FLAP_MS / 2);
          ctx.event(detector.id, 'alarm_cleared');
          await ctx.sleep(FLAP_MS / 2);
        }
        ctx.event(detector.id, 'fault', { detail: 'sensor chamber contaminated' });
        ctx.note(`${FLAPS} flaps sent, then a fault event`);
      },
      checks(r) {
        const b = buildingResult(r, building.id);
        const firstSteps = incidentCount(r, building.id);
        return [
          {
            name: 'not paged on every flap',
            ok: firstSteps <= 2,
            detail: `${b?.station.alarmsSent ?? 0} alarms → ${firstSteps} incidents, ${b?.station.pagesMatched ?? 0} pages`,
          },
        ];
      },
    };
  },
};
