import type { Scenario } from '../scenario.js';
import { devicesIn, hasKinds, needConnected, pickBuilding } from './scenario-helpers.js';

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
    const building = pickBuilding(
      snapshot,
      rnd,
      hasKinds(snapshot, { smoke: 1, electric: 1 }),
      'a smoke detector and an electricity monitor',
    );
    const monitor = devicesIn(snapshot, building.id, 'electric')[0];
    const detector = devicesIn(snapshot, building.id, 'smoke')[0];
    if (monitor === undefined || detector === undefined) throw new Error('unreachable');
    return {
      required: [monitor.id, detector.id],
      summary: `${monitor.id} over-temperature ramp, then ${detector.id} alarms (${building.id})`,
      async script(ctx) {
        await ctx.waitFleet(0.95, 60_000);
        await needConnected(ctx, [monitor.id, detector.id]);
        for (const t of [65, 75, 85, 95]) {
          ctx.event(monitor.id, 'over_temperature', { channel: 1, value: t });
          ctx.note(`circuit 1 at ${t} °C`);
          await ctx.sleep(5_000);
        }
        ctx.note('insulation smoulders: smoke alarm');
        ctx.event(detector.id, 'alarm', { value: 9 });
      },
      checks(r) {
        const b = r.audit.buildings.find((x) => x.buildingId === building.id);
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
