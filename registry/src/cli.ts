#!/usr/bin/env -S npx tsx
/**
 * hub-registry: load and inspect the registry in Redis.
 *   hub-registry load-demo --redis redis://127.0.0.1:16379 --prefix hub --service-secret S
 *   hub-registry stats --redis ... --prefix hub
 */
import { hubKeys } from '@hub/protocol';
import { Command, InvalidArgumentError } from 'commander';
import { Redis } from 'ioredis';
import { generateDemoTownship } from './demo-township.js';
import { RegistryStore } from './registry-store.js';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

const program = new Command('hub-registry').description(
  'Registry of buildings, devices and stations in Redis',
);

program
  .command('load-demo')
  .description('replace the registry with the seeded demo township')
  .option('--redis <url>', 'Redis URL', process.env.HUB_REDIS_URL ?? 'redis://127.0.0.1:16379')
  .option('--prefix <prefix>', 'key prefix', process.env.HUB_KEY_PREFIX ?? 'hub')
  .option('--seed <seed>', 'seed of the demo township', 'demo')
  .option('--buildings <n>', 'buildings', positiveInt, 2000)
  .option('--devices <n>', 'devices', positiveInt, 10_000)
  .option('--stations <n>', 'micro fire stations', positiveInt, 12)
  .option('--service-secret <secret>', 'secret of the hub service accounts', process.env.HUB_SERVICE_SECRET)
  .action(async (o) => {
    if (!o.serviceSecret) {
      console.error('hub-registry: --service-secret (or HUB_SERVICE_SECRET) is required');
      process.exit(2);
    }
    const redis = new Redis(o.redis, { maxRetriesPerRequest: 1 });
    try {
      const started = Date.now();
      const data = generateDemoTownship({
        seed: o.seed,
        buildings: o.buildings,
        devices: o.devices,
        stations: o.stations,
        serviceSecret: o.serviceSecret,
      });
      const version = await new RegistryStore(redis, hubKeys(o.prefix)).replaceAll(data);
      console.log(
        `loaded demo township "${o.seed}": ${data.buildings.length} buildings, ${data.devices.length} devices, ` +
          `${data.stations.length} stations, ${data.accounts.length} accounts (registry version ${version}, ${Date.now() - started} ms)`,
      );
    } finally {
      redis.disconnect();
    }
  });

program
  .command('stats')
  .description('count what the registry holds')
  .option('--redis <url>', 'Redis URL', process.env.HUB_REDIS_URL ?? 'redis://127.0.0.1:16379')
  .option('--prefix <prefix>', 'key prefix', process.env.HUB_KEY_PREFIX ?? 'hub')
  .action(async (o) => {
    const redis = new Redis(o.redis, { maxRetriesPerRequest: 1 });
    try {
      const snap = await new RegistryStore(redis, hubKeys(o.prefix)).load();
      console.log(
        JSON.stringify({
          version: snap.version,
          townships: snap.townships.size,
          buildings: snap.buildings.size,
          devices: snap.devices.size,
          stations: snap.stations.size,
          accounts: snap.accounts.size,
          rejected: snap.rejected,
        }),
      );
    } finally {
      redis.disconnect();
    }
  });

program.parseAsync().catch((err: Error) => {
  console.error(`hub-registry: ${err.message}`);
  process.exit(1);
});
