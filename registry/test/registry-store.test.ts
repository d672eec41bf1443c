import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemoTownship } from '../src/demo-township.js';
import { RegistryCache } from '../src/registry-cache.js';
import { RegistryStore } from '../src/registry-store.js';
import { cleanupPrefix, testKeys, testRedis } from '../src/test-support.js';

describe('RegistryStore and RegistryCache (real Redis)', () => {
  const keys = testKeys('registry');
  let redis: Redis;
  let sub: Redis;

  beforeAll(() => {
    redis = testRedis();
    sub = testRedis();
  });
  afterAll(async () => {
    await cleanupPrefix(redis, keys);
    redis.disconnect();
    sub.disconnect();
  });

  it('round-trips the registry and skips invalid entries', async () => {
    const store = new RegistryStore(redis, keys);
    const data = generateDemoTownship({
      seed: 'rt',
      buildings: 50,
      devices: 200,
      stations: 4,
      serviceSecret: 's',
    });
    const version = await store.replaceAll(data);
    expect(version).toBeGreaterThan(0);
    await redis.hset(
      keys.devices,
      'broken',
      '{"id":"broken"',
      'bad2',
      JSON.stringify({ id: 'bad2', kind: 'x' }),
    );
    const snap = await store.load();
    expect(snap.version).toBe(version);
    expect(snap.devices.size).toBe(200);
    expect(snap.buildings.size).toBe(50);
    expect(snap.stations.size).toBe(4);
    expect(snap.rejected.devices).toBe(2);
    const d = data.devices[0]!;
    expect(snap.devices.get(d.id)).toEqual(d);
    expect(snap.devicesByBuilding.get(d.buildingId)?.some((x) => x.id === d.id)).toBe(true);
    expect(snap.stationIndex.size).toBe(4);
  });

  it('reloads the cache when the registry changes', async () => {
    const store = new RegistryStore(redis, keys);
    const cache = await RegistryCache.start({ redis, subscriber: sub, keys, debounceMs: 10 });
    try {
      const before = cache.current.version;
      const b = cache.current.buildings.values().next().value!;
      await store.upsert('buildings', [{ ...b, name: 'renamed' }]);
      const deadline = Date.now() + 10_000;
      while (cache.current.buildings.get(b.id)?.name !== 'renamed' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(cache.current.buildings.get(b.id)?.name).toBe('renamed');
      expect(cache.current.version).toBeGreaterThan(before);
    } finally {
      await cache.close();
    }
  });

  it('refuses invalid entities on upsert', async () => {
    const store = new RegistryStore(redis, keys);
    await expect(store.upsert('stations', [{ id: 'bad id!' } as never])).rejects.toThrow();
  });
});
