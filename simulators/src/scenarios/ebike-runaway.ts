import type { Scenario } from '../scenario.js';
import { buildingResult, devicesIn, pickBuildingWith, waitReady } from './scenario-helpers.js';

/**
 * An e-bike battery goes into thermal runaway on a charging port at night: port
 * over-temperature 60 → 80 → 110 °C and over-power within 15 s (charging lane), then
 * the charging station's own smoke sensor (smoke_linkage: fire lane, pages), then
 * the building's detectors. Sleeping occupants: the page must not wait for a second
 * signal.
 */
export const ebikeRunaway: Scenario = {
  name: 'ebike-runaway',
  title: 'E-bike thermal runaway at night',
  defaultDurationS: 45,
  prepare({ snapshot, rnd }) {
    const { building, first } = pickBuildingWith(
      snapshot,
      rnd,
      { smoke: 1, charger: 1 },
      'a charging station and a smoke detector',
    );
    const charger = first('charger');
    const detectors = devicesIn(snapshot, building.id, 'smoke').map((d) => d.id);
    return {
      required: [charger.id, ...detectors],
      summary: `${charger.id} port 3 runaway in ${building.id}, then ${detectors.length} detectors`,
      async script(ctx) {
        await waitReady(ctx, [charger.id, ...detectors]);
        for (const t of [60, 80, 110]) {
          ctx.event(charger.id, 'port_over_temperature', { channel: 3, value: t });
          await ctx.sleep(4_000);
        }
        ctx.event(charger.id, 'over_power', { channel: 3, value: 1_450 });
        await ctx.sleep(3_000);
        ctx.note('battery vents: charger smoke sensor fires');
        ctx.event(charger.id, 'smoke_linkage', { channel: 3, value: 15 });
        await ctx.sleep(5_000);
        ctx.note('smoke reaches the detectors');
        for (const id of detectors) ctx.event(id, 'alarm', { value: 10 + ctx.rnd() * 8 });
      },
      checks(r) {
        const b = buildingResult(r, building.id);
        return [
          {
            name: 'smoke linkage paged',
            ok: (b?.station.paged ?? 0) >= 1 && b?.station.neverPaged === 0,
            detail: `first page ${b?.station.firstPageLatencyMs ?? '-'} ms from ${b?.station.pagingStationId ?? '-'}`,
          },
        ];
      },
    };
  },
};
