import type { Check, Scenario } from '../scenario.js';
import { buildingResult, devicesIn, needConnected, pickBuilding } from './scenario-helpers.js';

/**
 * A power cut takes 5,000 devices offline at once (half the fleet when it is
 * smaller), whole buildings at a time, without DISCONNECT (the broker finds out from
 * resets or keepalive). 20 s later the power returns and they all reconnect at once:
 * the reconnect storm, paced only by the simulator's connect rate. During the storm a
 * building outside the cut burns: its page must not queue behind the storm.
 */
const CUT = 5_000;

export const powerCut: Scenario = {
  name: 'power-cut',
  title: 'Power cut: 5,000 devices offline, then a reconnect storm',
  defaultDurationS: 90,
  prepare({ snapshot, rnd, scale }) {
    const fireBuilding = pickBuilding(
      snapshot,
      rnd,
      (b) => devicesIn(snapshot, b.id, 'smoke').length >= 1,
      'a smoke detector',
    );
    const fireDetectors = devicesIn(snapshot, fireBuilding.id, 'smoke').map((d) => d.id);
    const want = Math.min(CUT, Math.floor(scale / 2));
    const cut: string[] = [];
    // Whole buildings, in id order, skipping the one that will burn.
    for (const id of [...snapshot.buildings.keys()].sort()) {
      if (cut.length >= want) break;
      if (id === fireBuilding.id) continue;
      for (const d of devicesIn(snapshot, id)) if (cut.length < want) cut.push(d.id);
    }
    let reconnectS: number | null = null;
    let cutAt = 0;
    return {
      // The cut devices are in the fleet first so the scale always contains them.
      required: [...fireDetectors, ...cut],
      summary: `${cut.length} devices cut for 20 s, then all at once; fire in ${fireBuilding.id} during the storm`,
      async script(ctx) {
        await ctx.waitFleet(0.98, 120_000);
        await needConnected(ctx, fireDetectors);
        const before = ctx.connectedCount();
        cutAt = ctx.elapsedMs();
        const was = ctx.cut(cut);
        ctx.note(`power cut: ${was} connected devices drop`);
        await ctx.sleep(20_000);
        ctx.restore(cut, 0);
        const back = ctx.elapsedMs();
        ctx.note('power back: reconnect storm');
        await ctx.sleep(500);
        ctx.note(`fire in ${fireBuilding.id} during the storm`);
        for (const id of fireDetectors) ctx.event(id, 'alarm', { value: 12 });
        while (!ctx.aborted() && ctx.elapsedMs() - back < 60_000) {
          if (ctx.connectedCount() >= before) {
            reconnectS = (ctx.elapsedMs() - back) / 1000;
            break;
          }
          await ctx.sleep(100);
        }
        ctx.note(
          reconnectS === null
            ? 'fleet not back to its size within 60 s'
            : `fleet back to ${before} connections after ${reconnectS.toFixed(1)} s`,
        );
      },
      checks(r): Check[] {
        const b = buildingResult(r, fireBuilding.id);
        return [
          {
            name: 'reconnected within 60 s',
            ok: reconnectS !== null,
            detail:
              reconnectS === null
                ? 'no'
                : `${reconnectS.toFixed(1)} s after power returned (cut at ${(cutAt / 1000).toFixed(1)} s)`,
          },
          {
            name: 'fire paged during the storm',
            ok: (b?.station.paged ?? 0) >= 1 && b?.station.neverPaged === 0,
            detail: `first page ${b?.station.firstPageLatencyMs ?? '-'} ms`,
          },
        ];
      },
    };
  },
};
