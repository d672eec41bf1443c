import type { EventType } from '@hub/protocol';
import type { Scenario } from '../scenario.js';
import { devicesIn, hasKinds, pickBuilding } from './scenario-helpers.js';

/**
 * A mixed ordinary day compressed into 5 minutes (every report interval × 1/288, so
 * a 24 h heartbeat comes every 5 min): the fleet's background reports plus what a
 * township sees in a day, spread over the run: three cooking false alarms that
 * clear, one real fire, a low battery, a tamper, a leakage over threshold, a charger
 * port fault.
 */
/** The events happen within the first 270 s; the last 30 s let pages settle. */
const DAY_SPAN_MS = 270_000;

export const ordinaryDay: Scenario = {
  name: 'ordinary-day',
  title: 'A mixed ordinary day (24 h in 5 min)',
  defaultDurationS: 300,
  intervalScale: 1 / 288,
  eveningPeak: true,
  prepare({ snapshot, rnd }) {
    const used = new Set<string>();
    const pick = (fits: Parameters<typeof pickBuilding>[2], what: string) => {
      const b = pickBuilding(snapshot, rnd, fits, what, used);
      used.add(b.id);
      return b;
    };
    const smoke = (b: { id: string }) => devicesIn(snapshot, b.id, 'smoke').length >= 1;
    const first = (id: string, kind: 'smoke' | 'electric' | 'charger') =>
      devicesIn(snapshot, id, kind)[0]?.id as string;
    type Step = {
      at: number;
      device: string;
      type: EventType;
      value?: number;
      channel?: number;
      clearAfterMs?: number;
    };
    const steps: Step[] = [];
    for (const at of [0.1, 0.45, 0.7]) {
      const device = first(pick(smoke, 'a smoke detector').id, 'smoke');
      steps.push({ at, device, type: 'alarm', value: 4 });
      // The cooking smoke clears 15 s later.
      steps.push({ at: at + 15_000 / DAY_SPAN_MS, device, type: 'alarm_cleared' });
    }
    const fire = pick(smoke, 'a smoke detector');
    for (const d of devicesIn(snapshot, fire.id, 'smoke'))
      steps.push({ at: 0.55, device: d.id, type: 'alarm', value: 15 });
    steps.push({
      at: 0.2,
      device: first(pick(smoke, 'a smoke detector').id, 'smoke'),
      type: 'low_battery',
      value: 9,
    });
    steps.push({ at: 0.3, device: first(pick(smoke, 'a smoke detector').id, 'smoke'), type: 'tamper' });
    steps.push({
      at: 0.4,
      device: first(pick(hasKinds(snapshot, { electric: 1 }), 'an electricity monitor').id, 'electric'),
      type: 'leakage',
      channel: 1,
      value: 420,
    });
    steps.push({
      at: 0.8,
      device: first(pick(hasKinds(snapshot, { charger: 1 }), 'a charging station').id, 'charger'),
      type: 'port_fault',
      channel: 2,
    });
    steps.sort((a, b) => a.at - b.at);
    return {
      required: steps.map((s) => s.device),
      summary: `${steps.length} events over the day; real fire in ${fire.id}`,
      async script(ctx) {
        await ctx.waitFleet(0.95, 60_000);
        let prev = 0;
        for (const s of steps) {
          await ctx.sleep((s.at - prev) * DAY_SPAN_MS);
          prev = s.at;
          if (ctx.aborted()) return;
          ctx.event(s.device, s.type, { value: s.value, channel: s.channel });
        }
        ctx.note('the day is over');
      },
    };
  },
};
