import type { Scenario } from '../scenario.js';
import { buildingResult, incidentCount, pickBuildingWith, waitReady } from './scenario-helpers.js';

/**
 * Cooking smoke: one detector alarms, the smoke clears 20 s later (alarm_cleared).
 * A single detector is enough to page (never held back for verification); the clear
 * must not produce a second page. The station accepts and would close it as
 * 误报-烹饪油烟 (closing is not simulated).
 */
export const kitchenFalseAlarm: Scenario = {
  name: 'kitchen-false-alarm',
  title: 'Kitchen smoke false alarm that clears',
  defaultDurationS: 40,
  prepare({ snapshot, rnd }) {
    const { building, first } = pickBuildingWith(snapshot, rnd, { smoke: 1 }, 'a smoke detector');
    const detector = first('smoke');
    return {
      required: [detector.id],
      summary: `${detector.id} in ${building.id} (floor ${detector.floor}, ${detector.room}) alarms, clears after 20 s`,
      async script(ctx) {
        await waitReady(ctx, [detector.id]);
        ctx.note('cooking smoke: alarm');
        ctx.event(detector.id, 'alarm', { value: 4.5 });
        await ctx.sleep(20_000);
        ctx.note('smoke gone: alarm_cleared');
        ctx.event(detector.id, 'alarm_cleared');
      },
      checks(r) {
        const b = buildingResult(r, building.id);
        const steps1 = incidentCount(r, building.id);
        return [
          {
            name: 'paged on one detector',
            ok: (b?.station.paged ?? 0) === 1,
            detail: `first page ${b?.station.firstPageLatencyMs ?? '-'} ms`,
          },
          {
            name: 'the clear did not page again',
            ok: steps1 <= 1,
            detail: `${steps1} incidents, ${b?.station.pagesMatched ?? 0} pages`,
          },
        ];
      },
    };
  },
};
