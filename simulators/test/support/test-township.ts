import type { HubKeys } from '@hub/protocol';
import { generateDemoTownship, type RegistrySnapshot, RegistryStore } from '@hub/registry';
import { cleanupPrefix, testKeys, testRedis } from '@hub/registry/test-support';
import type { Redis } from 'ioredis';

/** A demo township written to the shared test Redis under a unique prefix. */
export interface TestTownship {
  redis: Redis;
  keys: HubKeys;
  /** The registry as loaded back from Redis: the simulator's real path. */
  snapshot: RegistrySnapshot;
  /** Deletes the prefix and disconnects. */
  cleanup(): Promise<void>;
}

export async function loadTestTownship(
  label: string,
  size: { seed: string; buildings: number; devices: number; stations: number },
): Promise<TestTownship> {
  const redis = testRedis();
  const keys = testKeys(label);
  const store = new RegistryStore(redis, keys);
  await store.replaceAll(generateDemoTownship({ ...size, serviceSecret: 'svc' }));
  const snapshot = await store.load();
  return {
    redis,
    keys,
    snapshot,
    cleanup: async () => {
      await cleanupPrefix(redis, keys);
      redis.disconnect();
    },
  };
}
