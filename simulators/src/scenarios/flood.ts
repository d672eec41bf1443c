import { seededRandom } from '@hub/registry';
import { chooseFireTarget } from '../fire-scenario.js';
import type { Scenario } from '../scenario.js';
import { ids, needConnected } from './scenario-helpers.js';

/**
 * `flood`: hold N connections for the duration with the realistic report rhythm
 * (flood-profiles.ts); optionally one building burns at `fireAtS` (every detector
 * alarms within `spreadMs`). The scale test of the hub's broker.
 */
export function floodScenario(o: {
  durationS: number;
  fire: string | null;
  fireAtS: number;
  spreadMs: number;
  seed: string;
}): Scenario {
  return {
    name: 'flood',
    title: 'Connection flood (hold N devices)',
    defaultDurationS: o.durationS,
    prepare({ snapshot }) {
      const target =
        o.fire === null ? null : chooseFireTarget(snapshot, o.fire, seededRandom(`${o.seed}:fire`));
      const detectors = target === null ? [] : ids(target.detectors);
      return {
        required: detectors,
        summary:
          target === null
            ? 'no fire'
            : `fire in ${target.building.id} at ${o.fireAtS} s (${detectors.length} detectors)`,
        async script(ctx) {
          if (target === null) return;
          await ctx.sleep(o.fireAtS * 1000);
          await needConnected(ctx, detectors);
          ctx.note(`fire in ${target.building.id}`);
          const [first, ...rest] = detectors;
          if (first !== undefined) ctx.event(first, 'alarm', { value: 12 });
          // Smoke reaches the other rooms at random moments within spreadMs.
          const offsets = rest.map((id) => ({ id, at: ctx.rnd() * o.spreadMs })).sort((x, y) => x.at - y.at);
          const t0 = ctx.elapsedMs();
          for (const x of offsets) {
            await ctx.sleep(t0 + x.at - ctx.elapsedMs());
            ctx.event(x.id, 'alarm', { value: 8 + ctx.rnd() * 10 });
          }
        },
      };
    },
  };
}
