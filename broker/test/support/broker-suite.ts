import { testRedisUrl } from '@hub/registry/test-support';
import type { Redis } from 'ioredis';
import {
  durableRedis,
  loadRegistry,
  type RegistryFixture,
  type RunningBroker,
  startBroker,
  testConfig,
} from './broker-fixture.js';

/**
 * The set-up most broker integration suites share, in one place: the demo registry
 * under a unique prefix, the durable-write connection to the shared test Redis, and
 * (openBrokerSuite) one broker on 127.0.0.1:0. `close` undoes it in reverse order;
 * a suite's own clients are ended before it.
 */
export interface RegistrySuite {
  reg: RegistryFixture;
  durable: Redis;
  /** The demo registry's device ids, sorted (the same for every run of the seed). */
  ids: string[];
  close(): Promise<void>;
}

export interface BrokerSuite extends RegistrySuite {
  run: RunningBroker;
}

export async function openRegistrySuite(label: string): Promise<RegistrySuite> {
  const reg = await loadRegistry(label);
  const durable = durableRedis(testRedisUrl());
  return {
    reg,
    durable,
    ids: [...reg.snapshot.devices.keys()].sort(),
    async close() {
      durable.disconnect();
      await reg.cleanup();
    },
  };
}

export async function openBrokerSuite(
  label: string,
  opts: { env?: Record<string, string>; clock?: { now(): number } } = {},
): Promise<BrokerSuite> {
  const base = await openRegistrySuite(label);
  let run: RunningBroker;
  try {
    run = await startBroker(testConfig(base.reg.keys, opts.env), base.reg.snapshot, base.durable, opts.clock);
  } catch (err) {
    await base.close();
    throw err;
  }
  return {
    ...base,
    run,
    async close() {
      await run.close();
      await base.close();
    },
  };
}
