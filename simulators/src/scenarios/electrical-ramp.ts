import type { Scenario } from '../scenario.js';
import { buildingResult, pickBuildingWith, waitReady } from './scenario-helpers.js';

/**
 * An overloaded circuit heats up: the electricity monitor reports over_temperature
 * at 65, 75, 85, 95 °C (every 5 s; the electrical lane: a hazard ticket, no page),
 * then a detector in the same building alarms. The fire page must come at once; the
 * earlier electrical events in the building may make it `confirmed`.
 */
export const electricalRamp: Scenario = {
  name: 'electrical-ramp',
  title: 'Electrical over-temperature ramp ending in smoke',
  defaultDurationS: 45,
  prepare({ snapshot, rnd }) {
    const { building, first } = pickBuildingWith(
      snapshot,
      rnd,
      { smoke: 1, electric: 1 },
      'a smoke detector and an electricity monitor',
    );
    const monitor = first('electric');
    const detector = first('smoke');
    return {
      required: [monitor.id, detector.id],
      summary: `${monitor.id} over-temperature ramp, then ${detector.id} alarms (${building.id})`,
      async script(ctx) {
        await waitReady(ctx, [monitor.id, detector.id]);
        for (const t of [65, 75, 85, 95]) {
          ctx.event(monitor.id, 'over_temperature', { channel: 1, value: t });
          ctx.note(`circuit 1 at ${t} °C`);
          await ctx.sleep(5_000);
        }
        ctx.note('insulation smoulders: smoke alarm');
        ctx.event(detector.id, 'alarm', { value: 9 });
      },
      checks(r) {
        const b = buildingResult(r, building.id);
        return [
          {
            name: 'smoke alarm paged',
            ok: (b?.station.paged ?? 0) >= 1,
            detail: `first page ${b?.station.firstPageLatencyMs ?? '-'} ms`,
          },
        ];
      },
    };
  },
};
