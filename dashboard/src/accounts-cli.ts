/**
 * hub-accounts: people's accounts of the dashboard, in Redis.
 *   tsx dashboard/src/accounts-cli.ts seed-demo --redis URL --prefix hub
 *       one officer per station, one operator per township, an admin (demo passwords; prints them)
 *   tsx dashboard/src/accounts-cli.ts add --username u --role officer|township|admin
 *       [--station s01] [--township t] [--name 显示名]   (password from HUB_ACCOUNT_PASSWORD)
 *   tsx dashboard/src/accounts-cli.ts end-shift --station s01   (revokes the station's sessions)
 *   tsx dashboard/src/accounts-cli.ts list
 */
import { parseArgs } from 'node:util';
import { hubKeys } from '@hub/protocol';
import { RegistryStore } from '@hub/registry';
import { Redis } from 'ioredis';
import { ROLES, type Role } from './account.js';
import { AccountStore } from './account-store.js';
import { dashboardKeys } from './dashboard-keys.js';
import { seedDemoAccounts } from './demo-accounts.js';
import { SessionStore } from './session-store.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    redis: { type: 'string', default: process.env.HUB_REDIS_URL ?? 'redis://127.0.0.1:16379' },
    prefix: { type: 'string', default: process.env.HUB_KEY_PREFIX ?? 'hub' },
    username: { type: 'string' },
    role: { type: 'string' },
    station: { type: 'string' },
    township: { type: 'string' },
    name: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});

function fail(msg: string): never {
  console.error(`hub-accounts: ${msg}`);
  process.exit(2);
}

async function main(): Promise<void> {
  const command = positionals[0];
  const redis = new Redis(values.redis as string, { maxRetriesPerRequest: 1 });
  const keys = hubKeys(values.prefix as string);
  const dkeys = dashboardKeys(keys);
  const store = new AccountStore(redis, dkeys);
  try {
    if (command === 'seed-demo') {
      const snapshot = await new RegistryStore(redis, keys).load();
      if (snapshot.stations.size === 0) fail('the registry has no stations: load the demo township first');
      const accounts = await seedDemoAccounts(store, snapshot, Date.now());
      if (!values.quiet) {
        for (const a of accounts) {
          console.log(
            `${a.role.padEnd(8)} ${a.username.padEnd(16)} ${a.password.padEnd(18)} ${a.stationId ?? a.township ?? ''}`,
          );
        }
      }
      console.log(`hub-accounts: ${accounts.length} demo accounts written`);
    } else if (command === 'add') {
      const password = process.env.HUB_ACCOUNT_PASSWORD;
      if (password === undefined) fail('set HUB_ACCOUNT_PASSWORD (never on the command line)');
      const role = values.role as Role;
      if (!ROLES.includes(role)) fail(`--role must be one of ${ROLES.join(', ')}`);
      if (values.username === undefined) fail('--username is required');
      let township = values.township ?? null;
      if (role === 'officer') {
        const snapshot = await new RegistryStore(redis, keys).load();
        const station = values.station === undefined ? undefined : snapshot.stations.get(values.station);
        if (station === undefined) fail('--station must name a station of the registry');
        township = station.township;
      }
      const a = await store.put(
        {
          username: values.username,
          displayName: values.name ?? values.username,
          role,
          password,
          stationId: values.station ?? null,
          township,
        },
        Date.now(),
      );
      console.log(`hub-accounts: ${a.username} (${a.role}) written`);
    } else if (command === 'end-shift') {
      if (values.station === undefined) fail('--station is required');
      const sessions = new SessionStore(redis, dkeys, 1);
      const revoked = await sessions.revokeStation(values.station);
      if (revoked.length > 0) await redis.publish(dkeys.sessionsRevoked, JSON.stringify(revoked));
      console.log(`hub-accounts: ${revoked.length} sessions of ${values.station} ended`);
    } else if (command === 'list') {
      for (const a of await store.list()) {
        console.log(
          `${a.role.padEnd(8)} ${a.username.padEnd(16)} ${a.stationId ?? a.township ?? ''}${a.disabled ? ' (disabled)' : ''}`,
        );
      }
    } else {
      fail('commands: seed-demo, add, end-shift, list');
    }
  } finally {
    await redis.quit();
  }
}

main().catch((err: unknown) => {
  console.error('hub-accounts failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
