import { decodeEvent, type HubKeys, laneOf } from '@hub/protocol';
import { cleanupPrefix, testKeys, testRedis, waitFor } from '@hub/registry/test-support';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { HeartbeatPolicy, localDate, parseHeartbeatConfig } from '../src/heartbeat-policy.js';
import { HeartbeatSupervisor } from '../src/heartbeat-supervisor.js';
import { dailySilentList, deviceLiveness, silentDevices } from '../src/liveness-queries.js';
import { CHARGER, ELECTRIC, SMOKE, snapshot } from './fixtures.js';

/** Against the shared test Redis, one key prefix per test. */
const redis = testRedis();
const used: HubKeys[] = [];
const sups: HeartbeatSupervisor[] = [];

afterEach(async () => {
  for (const s of sups.splice(0)) await s.stop();
});
afterAll(async () => {
  for (const k of used) await cleanupPrefix(redis, k);
  redis.disconnect();
});

// NB-SD01 (sd-1, sd-orphan) reports every second with grace 1.5 → silent after 1.5 s.
const policy = new HeartbeatPolicy(
  parseHeartbeatConfig(JSON.stringify({ models: { 'NB-SD01': { intervalMs: 1000, grace: 1.5 } } })),
);
const registry = {
  current: snapshot([SMOKE, { ...ELECTRIC, maintenance: true }, CHARGER]),
};

function supervisor(keys: HubKeys, now?: () => number, tickMs = 50) {
  const s = new HeartbeatSupervisor({ redis, keys, policy, registry, now, tickMs, leaseMs: 5000 });
  sups.push(s);
  return s;
}

async function events(keys: HubKeys) {
  const entries = await redis.xrange(keys.otherEvents, '-', '+');
  return entries.map(([, f]) => {
    const o: Record<string, string> = {};
    for (let i = 0; i < f.length; i += 2) o[f[i]!] = f[i + 1]!;
    const decoded = decodeEvent(o.p!);
    if (!decoded.ok) throw new Error('invalid event payload: ' + decoded.message);
    return { d: o.d!, r: Number(o.r), event: decoded.value };
  });
}

describe('HeartbeatSupervisor (real Redis)', () => {
  it('flags a silent device within its grace (offline event, once, even with two supervisors) and recovers it', async () => {
    const keys = testKeys('hb');
    used.push(keys);
    const a = supervisor(keys);
    const b = supervisor(keys); // a second ingest process sharing the state
    await a.start();
    await b.start();
    const lastSeen = Date.now();
    a.seen('sd-1', lastSeen);

    const offline = await waitFor(
      'offline event',
      async () => (await events(keys)).find((e) => e.d === 'sd-1' && e.event.type === 'offline'),
      15_000,
    );
    // Not before its allowed silence (1 s × 1.5).
    expect(offline.r).toBeGreaterThanOrEqual(lastSeen + 1500);
    expect(laneOf(offline.event.type)).toBe('offline');
    expect(offline.event.id).toBe(`hub-offline-${lastSeen + 1500}`);
    const silent = await silentDevices(redis, keys);
    expect(silent).toEqual([{ deviceId: 'sd-1', silentSince: lastSeen + 1500 }]);
    const day = await dailySilentList(redis, keys, localDate(offline.r, 480));
    expect(day).toEqual([{ date: localDate(offline.r, 480), grid: 'g-1', deviceIds: ['sd-1'] }]);

    // It reports again: online event, no longer silent, new deadline.
    const back = Date.now();
    b.seen('sd-1', back);
    const online = await waitFor(
      'online event',
      async () => (await events(keys)).find((e) => e.d === 'sd-1' && e.event.type === 'online'),
      15_000,
    );
    expect(laneOf(online.event.type)).toBe('info');
    const [live] = await deviceLiveness(redis, keys, ['sd-1']);
    expect(live).toMatchObject({ deviceId: 'sd-1', lastSeenAt: back, silentSince: null });
    // Exactly one offline and one online so far although two supervisors swept.
    const all = (await events(keys)).filter((e) => e.d === 'sd-1');
    expect(all.map((e) => e.event.type).slice(0, 2)).toEqual(['offline', 'online']);
    expect(all.filter((e) => e.event.type === 'offline' && e.event.id === offline.event.id)).toHaveLength(1);
  }, 40_000);

  it('fake clock: devices never seen are seeded; maintenance re-arms; a lease left by a crash is claimed again', async () => {
    const keys = testKeys('hb_fake');
    used.push(keys);
    let now = 1_800_000_000_000;
    const s = supervisor(keys, () => now, 1_000_000); // ticks driven by hand
    await s.start();
    // Seeded: sd-1 (1.5 s), ch-1 (charger default 90 s); em-1 is in maintenance.
    expect(await redis.zscore(keys.livenessDeadlines, 'sd-1')).toBe(String(now + 1500));
    expect(await redis.zscore(keys.livenessDeadlines, 'ch-1')).toBe(String(now + 90_000));
    expect(await redis.zscore(keys.livenessDeadlines, 'em-1')).toBeNull();

    now += 1499;
    await s.tick();
    expect(await events(keys)).toEqual([]);
    now += 1;
    await s.tick();
    expect((await events(keys)).map((e) => [e.d, e.event.type])).toEqual([['sd-1', 'offline']]);

    // A process that claimed ch-1 and died: its lease (score in the future) is ours after it expires.
    now += 90_000;
    await redis.zadd(keys.livenessDeadlines, String(now + 5000), 'ch-1'); // someone else's lease
    await s.tick();
    expect((await events(keys)).filter((e) => e.d === 'ch-1')).toEqual([]);
    now += 5000;
    await s.tick();
    expect((await events(keys)).filter((e) => e.d === 'ch-1').map((e) => e.event.type)).toEqual(['offline']);

    // A restart seeds again: silent devices are not re-armed (no second offline event).
    const s2 = supervisor(keys, () => now, 1_000_000);
    await s2.start();
    now += 100_000;
    await s2.tick();
    expect((await events(keys)).filter((e) => e.event.type === 'offline')).toHaveLength(2);
  });
});
