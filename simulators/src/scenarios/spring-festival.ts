import type { Scenario } from '../scenario.js';
import { devicesIn, hasKinds, pickBuilding, waitReady } from './scenario-helpers.js';

/**
 * Spring Festival evening (重点时段): key-period mode switched on (the Redis key
 * alerts reads; restored afterwards), chargers in their evening peak, and a busy
 * evening: fireworks debris sets two buildings alight 15 s apart, a kitchen false
 * alarm during the reunion dinner, a charger over-temperature. Every alarm must page,
 * with the key-period ladder.
 */
export const springFestival: Scenario = {
  name: 'spring-festival',
  title: 'Spring Festival key-period evening',
  defaultDurationS: 75,
  eveningPeak: true,
  prepare({ snapshot, rnd }) {
    const used = new Set<string>();
    const pick = (what: string, fits: Parameters<typeof pickBuilding>[2]) => {
      const b = pickBuilding(snapshot, rnd, fits, what, used);
      used.add(b.id);
      return b;
    };
    const smokeFits = (b: { id: string }) => devicesIn(snapshot, b.id, 'smoke').length >= 1;
    const fire1 = pick('a smoke detector', smokeFits);
    const fire2 = pick('a smoke detector', smokeFits);
    const kitchen = pick('a smoke detector', smokeFits);
    const chargerB = pick('a charging station', hasKinds(snapshot, { charger: 1 }));
    const d1 = devicesIn(snapshot, fire1.id, 'smoke').map((d) => d.id);
    const d2 = devicesIn(snapshot, fire2.id, 'smoke').map((d) => d.id);
    const k = devicesIn(snapshot, kitchen.id, 'smoke')[0]?.id as string;
    const ch = devicesIn(snapshot, chargerB.id, 'charger')[0]?.id as string;
    let keyPeriodSet = false;
    return {
      required: [...d1, ...d2, k, ch],
      summary: `key period on; fires in ${fire1.id} and ${fire2.id}, kitchen alarm in ${kitchen.id}, charger hazard ${ch}`,
      async script(ctx) {
        keyPeriodSet = await ctx.setKeyPeriod(true, 'spring-festival');
        ctx.note(keyPeriodSet ? 'key-period mode on' : 'no Redis: key-period mode not switched');
        await waitReady(ctx, [...d1, ...d2, k, ch]);
        ctx.note(`fireworks: fire in ${fire1.id}`);
        for (const id of d1) ctx.event(id, 'alarm', { value: 14 });
        await ctx.sleep(5_000);
        ctx.event(k, 'alarm', { value: 4 });
        ctx.event(ch, 'port_over_temperature', { channel: 1, value: 72 });
        await ctx.sleep(10_000);
        ctx.note(`fire in ${fire2.id}`);
        for (const id of d2) ctx.event(id, 'alarm', { value: 16 });
        await ctx.sleep(10_000);
        ctx.event(k, 'alarm_cleared');
      },
      checks(r) {
        return [
          {
            name: 'key-period mode switched',
            ok: keyPeriodSet,
            detail: keyPeriodSet ? 'via Redis' : 'no Redis connection',
          },
          {
            name: 'all three fire-lane buildings paged',
            ok: r.audit.buildings.length === 3 && r.audit.buildings.every((b) => b.station.paged > 0),
            detail: r.audit.buildings
              .map((b) => `${b.buildingId} ${b.station.firstPageLatencyMs ?? '-'} ms`)
              .join(', '),
          },
        ];
      },
    };
  },
};
