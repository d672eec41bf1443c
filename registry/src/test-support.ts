import { randomBytes } from 'node:crypto';
import { type HubKeys, hubKeys } from '@hub/protocol';
import { Redis } from 'ioredis';

/**
 * Helpers for integration tests. Tests talk to the real Redis and InfluxDB that
 * deploy/local/run-tests.sh starts; each test uses its own key prefix (and its own
 * InfluxDB database) so files run in parallel on one server.
 */
export function testRedisUrl(): string {
  return process.env.HUB_TEST_REDIS_URL ?? process.env.HUB_REDIS_URL ?? 'redis://127.0.0.1:26379';
}

export function testInfluxUrl(): string {
  return process.env.HUB_TEST_INFLUX_URL ?? process.env.HUB_INFLUX_URL ?? 'http://127.0.0.1:28086';
}

export function uniqueName(label: string): string {
  return `t_${label}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

export function testKeys(label: string): HubKeys {
  return hubKeys(uniqueName(label));
}

/** A Redis connection for tests; fails fast instead of retrying forever. */
export function testRedis(): Redis {
  return new Redis(testRedisUrl(), { maxRetriesPerRequest: 1, lazyConnect: false });
}

/** Deletes every key under the test's prefix (SCAN, never KEYS). */
export async function cleanupPrefix(redis: Redis, keys: HubKeys): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${keys.prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (found.length > 0) await redis.del(...found);
  } while (cursor !== '0');
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
