import type { HubKeys } from '@hub/protocol';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import type { Role } from '../../src/account.js';
import { AccountStore } from '../../src/account-store.js';
import { dashboardKeys } from '../../src/dashboard-keys.js';

export const TEST_PASSWORD = 'correct horse battery';

export interface TestAccount {
  username: string;
  role: Role;
  stationId?: string;
  township?: string;
}

/** Creates accounts straight in Redis (as the seeding command does). */
export async function addAccounts(redis: Redis, keys: HubKeys, accounts: TestAccount[]): Promise<void> {
  const store = new AccountStore(redis, dashboardKeys(keys));
  for (const a of accounts) {
    await store.put(
      {
        username: a.username,
        displayName: a.username,
        role: a.role,
        password: TEST_PASSWORD,
        stationId: a.stationId ?? null,
        township: a.township ?? null,
      },
      Date.now(),
    );
  }
}

/** The usual cast of the test township tw1: officers of s1, s2, s3, an operator, an admin, and another township's operator. */
export const CAST: TestAccount[] = [
  { username: 'off-s1', role: 'officer', stationId: 's1', township: 'tw1' },
  { username: 'off-s2', role: 'officer', stationId: 's2', township: 'tw1' },
  { username: 'off-s3', role: 'officer', stationId: 's3', township: 'tw1' },
  { username: 'op-tw1', role: 'township', township: 'tw1' },
  { username: 'op-tw2', role: 'township', township: 'tw2' },
  { username: 'admin', role: 'admin' },
];

let nextAddress = 0;

/**
 * Logs in through the API and returns the Cookie header value. Each login comes from
 * its own client address, so the per-address login limit never trips a test's setup.
 */
export async function login(
  app: FastifyInstance,
  username: string,
  password = TEST_PASSWORD,
): Promise<string> {
  nextAddress++;
  const res = await app.inject({
    method: 'POST',
    url: '/api/auth/login',
    remoteAddress: `10.250.${(nextAddress >> 8) & 255}.${nextAddress & 255}`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ username, password }),
  });
  if (res.statusCode !== 200) throw new Error(`login ${username} failed: ${res.statusCode} ${res.body}`);
  const set = res.cookies.find((c) => c.name === 'hub_session');
  if (set === undefined) throw new Error('no session cookie');
  return `hub_session=${set.value}`;
}

export type As = (opts: InjectOptions | string) => Promise<LightMyRequestResponse>;

/** inject() with a session cookie. */
export function injectAs(app: FastifyInstance, cookie: string): As {
  return (opts) => {
    const o: InjectOptions = typeof opts === 'string' ? { url: opts } : opts;
    return app.inject({ ...o, headers: { ...(o.headers ?? {}), cookie } });
  };
}
