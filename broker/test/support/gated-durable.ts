import { testRedisUrl } from '@hub/registry/test-support';
import type { Redis, RedisOptions } from 'ioredis';
import { durableRedis, waitFor } from './broker-fixture.js';
import { GateProxy } from './gate-proxy.js';

/** The shared test Redis URL with another port on 127.0.0.1 (keeps db number and auth). */
export function redisUrlVia(port: number): string {
  const u = new URL(testRedisUrl());
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

export interface GatedDurable {
  proxy: GateProxy;
  durable: Redis;
}

/**
 * A durable-write connection (as main.ts makes it) that reaches the shared test Redis
 * through a GateProxy, so a test can hold Redis' answers to this one broker. Resolves
 * once the connection is ready; the caller disconnects it, then closes the proxy.
 */
export async function openGatedDurable(extra: RedisOptions = {}): Promise<GatedDurable> {
  const target = new URL(testRedisUrl());
  const proxy = await GateProxy.start(target.hostname, Number(target.port));
  const durable = durableRedis(redisUrlVia(proxy.port), extra);
  try {
    await waitFor('durable connection ready', () => durable.status === 'ready');
  } catch (err) {
    durable.disconnect();
    await proxy.close();
    throw err;
  }
  return { proxy, durable };
}
