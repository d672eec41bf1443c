import { cleanupPrefix, testKeys, testRedis } from '@hub/registry/test-support';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/build-app.js';
import { dashboardKeys } from '../src/dashboard-keys.js';
import { type As, addAccounts, CAST, injectAs, login, TEST_PASSWORD } from './support/auth.js';
import { makeIncident, T0, testSnapshot, writeIncident } from './support/fixtures.js';

const keys = testKeys('dash_auth');
const dkeys = dashboardKeys(keys);
let redis: Redis;
let subscriber: Redis;
let app: FastifyInstance;

function postLogin(username: string, password: string, ip = '127.0.0.1') {
  return app.inject({
    method: 'POST',
    url: '/api/auth/login',
    remoteAddress: ip,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ username, password }),
  });
}

beforeAll(async () => {
  redis = testRedis();
  subscriber = testRedis();
  app = buildApp({
    redis,
    subscriber,
    keys,
    registry: { current: testSnapshot() },
    auth: { loginPerMinute: 5, guard: { maxFailures: 3, windowMs: 60_000 } },
  });
  await app.ready();
  await addAccounts(redis, keys, [
    ...CAST,
    { username: 'victim', role: 'officer', stationId: 's2', township: 'tw1' },
  ]);
  // inc-s1: paged s1 only; inc-s2: paged s2 only; inc-tw2: another township.
  await writeIncident(redis, keys, makeIncident('inc-s1', { openedAt: T0 }));
  await writeIncident(redis, keys, makeIncident('inc-s2', { openedAt: T0 + 1, pagedStations: ['s2'] }));
  await writeIncident(
    redis,
    keys,
    makeIncident('inc-tw2', { openedAt: T0 + 2, township: 'tw2', pagedStations: [] }),
  );
});

afterAll(async () => {
  await app.close();
  await cleanupPrefix(redis, keys);
  redis.disconnect();
  subscriber.disconnect();
});

describe('login and sessions', () => {
  it('sets an HttpOnly, SameSite=Strict session cookie and /me tells who is logged in', async () => {
    const res = await postLogin('off-s1', TEST_PASSWORD, '10.0.0.1');
    expect(res.statusCode).toBe(200);
    expect(res.json().user).toMatchObject({
      username: 'off-s1',
      role: 'officer',
      stationId: 's1',
      home: '/station/s1',
    });
    const header = String(res.headers['set-cookie']);
    expect(header).toMatch(/hub_session=[A-Za-z0-9_-]{40,}/);
    expect(header).toContain('HttpOnly');
    expect(header).toContain('SameSite=Strict');
    const token = res.cookies.find((c) => c.name === 'hub_session')!.value;
    const me = await app.inject({ url: '/api/auth/me', headers: { cookie: `hub_session=${token}` } });
    expect(me.json().user).toMatchObject({ username: 'off-s1', stationId: 's1' });
    // Redis holds a hash of the token, never the token itself; passwords are argon2id.
    const [, found] = await redis.scan('0', 'MATCH', `${keys.prefix}:dash:session:*`, 'COUNT', 1000);
    expect(found.length).toBeGreaterThan(0);
    expect(found.some((k) => k.includes(token))).toBe(false);
    expect(await redis.hget(dkeys.accounts, 'off-s1')).toContain('$argon2id$');
  });

  it('a wrong password and an unknown user get the same 401 E_BAD_CREDENTIALS', async () => {
    const wrong = await postLogin('off-s2', 'nope-nope-nope', '10.0.0.2');
    const unknown = await postLogin('nobody', 'nope-nope-nope', '10.0.0.2');
    for (const r of [wrong, unknown]) {
      expect(r.statusCode).toBe(401);
      expect(r.json().code).toBe('E_BAD_CREDENTIALS');
      expect(r.headers['set-cookie']).toBeUndefined();
    }
    expect((await app.inject('/api/auth/me')).json().code).toBe('E_UNAUTHENTICATED');
    const forged = await app.inject({ url: '/api/auth/me', headers: { cookie: 'hub_session=forged' } });
    expect(forged.statusCode).toBe(401);
  });

  it('locks a username after repeated failures, even for the right password', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await postLogin('victim', `guess-${i}-xxxx`, `10.1.0.${i}`)).statusCode).toBe(401);
    }
    const locked = await postLogin('victim', TEST_PASSWORD, '10.1.0.9');
    expect(locked.statusCode).toBe(429);
    expect(locked.json().code).toBe('E_LOGIN_LOCKED');
  });

  it('limits login attempts per client address', async () => {
    const codes: number[] = [];
    // Different usernames, so the per-username lock does not step in first.
    for (let i = 0; i < 7; i++)
      codes.push((await postLogin(`nobody${i}`, 'whatever-x', '10.2.0.1')).statusCode);
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes.slice(5)).toEqual([429, 429]);
    const limited = await postLogin('off-s1', TEST_PASSWORD, '10.2.0.1');
    expect(limited.json().code).toBe('E_LOGIN_RATE_LIMITED');
    // Another address is not affected.
    expect((await postLogin('off-s1', TEST_PASSWORD, '10.2.0.2')).statusCode).toBe(200);
  });

  it('logout ends the session', async () => {
    const cookie = await login(app, 'off-s3');
    const as = injectAs(app, cookie);
    expect((await as('/api/auth/me')).statusCode).toBe(200);
    expect((await as({ method: 'POST', url: '/api/auth/logout' })).statusCode).toBe(200);
    expect((await as('/api/auth/me')).statusCode).toBe(401);
  });

  it("shift change: revoking a station's sessions logs out every officer of it and nobody else", async () => {
    await addAccounts(redis, keys, [
      { username: 'off-s2b', role: 'officer', stationId: 's2', township: 'tw1' },
    ]);
    const a = injectAs(app, await login(app, 'off-s2'));
    const b = injectAs(app, await login(app, 'off-s2b'));
    const other = injectAs(app, await login(app, 'off-s1'));
    // An officer may end only their own station's shift.
    const denied = await other({
      method: 'POST',
      url: '/api/sessions/revoke',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ stationId: 's2' }),
    });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().code).toBe('E_OTHER_STATION');
    const res = await a({
      method: 'POST',
      url: '/api/sessions/revoke',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ stationId: 's2' }),
    });
    expect(res.json()).toEqual({ revoked: 2 });
    expect((await a('/api/auth/me')).statusCode).toBe(401);
    expect((await b('/api/auth/me')).statusCode).toBe(401);
    expect((await other('/api/auth/me')).statusCode).toBe(200);
  });

  it('changing the own password needs the current one and ends every session of the account', async () => {
    await addAccounts(redis, keys, [
      { username: 'changer', role: 'officer', stationId: 's1', township: 'tw1' },
    ]);
    const a = injectAs(app, await login(app, 'changer'));
    const b = injectAs(app, await login(app, 'changer'));
    const change = (as: As, current: string, next: string) =>
      as({
        method: 'POST',
        url: '/api/auth/password',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ current, next }),
      });
    expect((await change(a, 'wrong-password', 'a new long password')).json().code).toBe('E_BAD_CREDENTIALS');
    expect((await change(a, TEST_PASSWORD, 'short')).json().code).toBe('E_BAD_BODY');
    expect((await change(a, TEST_PASSWORD, 'a new long password')).statusCode).toBe(200);
    expect((await a('/api/auth/me')).statusCode).toBe(401);
    expect((await b('/api/auth/me')).statusCode).toBe(401);
    expect((await postLogin('changer', TEST_PASSWORD, '10.6.0.1')).statusCode).toBe(401);
    expect((await postLogin('changer', 'a new long password', '10.6.0.2')).statusCode).toBe(200);
  });

  it('a disabled account cannot log in and its sessions end', async () => {
    await addAccounts(redis, keys, [
      { username: 'leaver', role: 'officer', stationId: 's1', township: 'tw1' },
    ]);
    const leaver = injectAs(app, await login(app, 'leaver'));
    const op = injectAs(app, await login(app, 'op-tw1'));
    const res = await op({ method: 'POST', url: '/api/accounts/leaver/disable' });
    expect(res.statusCode).toBe(200);
    expect(res.json().account).toMatchObject({ username: 'leaver', disabled: true });
    expect(res.json().account.passwordHash).toBeUndefined();
    expect((await leaver('/api/auth/me')).statusCode).toBe(401);
    const again = await postLogin('leaver', TEST_PASSWORD, '10.3.0.1');
    expect(again.statusCode).toBe(403);
    expect(again.json().code).toBe('E_ACCOUNT_DISABLED');
  });
});

describe('roles', () => {
  let s1: As;
  let op1: As;
  let op2: As;
  let admin: As;
  beforeAll(async () => {
    s1 = injectAs(app, await login(app, 'off-s1'));
    op1 = injectAs(app, await login(app, 'op-tw1'));
    op2 = injectAs(app, await login(app, 'op-tw2'));
    admin = injectAs(app, await login(app, 'admin'));
  });

  it('every API route needs a session', async () => {
    for (const url of [
      '/api/incidents',
      '/api/incidents/inc-s1',
      '/api/stations',
      '/api/stations/s1/incidents',
      '/api/accounts',
    ]) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(401);
      expect(res.json().code, url).toBe('E_UNAUTHENTICATED');
    }
  });

  it("an officer sees their own station's incidents and never another station's", async () => {
    const own = await s1('/api/stations/s1/incidents?state=all');
    expect(own.json().incidents.map((i: { id: string }) => i.id)).toEqual(['inc-s1']);
    const other = await s1('/api/stations/s2/incidents');
    expect(other.statusCode).toBe(403);
    expect(other.json().code).toBe('E_OTHER_STATION');
    const foreignIncident = await s1('/api/incidents/inc-s2');
    expect(foreignIncident.statusCode).toBe(403);
    expect(foreignIncident.json().code).toBe('E_STATION_NOT_PAGED');
    expect((await s1('/api/incidents/inc-s1')).statusCode).toBe(200);
    const list = await s1('/api/incidents');
    expect(list.statusCode).toBe(403);
    expect(list.json().code).toBe('E_FORBIDDEN_ROLE');
    // ...nor act on it.
    const act = await s1({
      method: 'POST',
      url: '/api/incidents/inc-s2/actions',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ type: 'accept' }),
    });
    expect(act.statusCode).toBe(403);
    expect(act.json().code).toBe('E_STATION_NOT_PAGED');
    expect(await redis.exists(keys.actions)).toBe(0);
  });

  it('a township operator sees their township only; an admin sees all', async () => {
    const ids = async (as: As) =>
      (await as('/api/incidents?state=all')).json().incidents.map((i: { id: string }) => i.id);
    expect(await ids(op1)).toEqual(['inc-s2', 'inc-s1']);
    expect(await ids(op2)).toEqual(['inc-tw2']);
    expect(await ids(admin)).toEqual(['inc-tw2', 'inc-s2', 'inc-s1']);
    const foreign = await op2('/api/incidents/inc-s1');
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json().code).toBe('E_OTHER_TOWNSHIP');
    expect((await op2('/api/stations')).json().stations).toEqual([]);
    expect((await op1('/api/stations')).json().stations).toHaveLength(3);
    expect((await op1('/api/stations/s2/incidents')).statusCode).toBe(200);
    expect((await op2('/api/stations/s2/incidents')).json().code).toBe('E_OTHER_TOWNSHIP');
  });

  it('accounts: officers may not list them; operators create officers of their own stations only', async () => {
    expect((await s1('/api/accounts')).json().code).toBe('E_FORBIDDEN_ROLE');
    const listed = (await op1('/api/accounts')).json().accounts;
    expect(listed.every((a: { township: string }) => a.township === 'tw1')).toBe(true);
    expect(JSON.stringify(listed)).not.toContain('argon2');
    const create = (as: As, body: object) =>
      as({
        method: 'POST',
        url: '/api/accounts',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      });
    const ok = await create(op1, {
      username: 'new-s1',
      displayName: '新值班员',
      role: 'officer',
      password: 'long enough pw',
      stationId: 's1',
    });
    expect(ok.statusCode).toBe(201);
    expect(ok.json().account).toMatchObject({ role: 'officer', stationId: 's1', township: 'tw1' });
    expect((await postLogin('new-s1', 'long enough pw', '10.4.0.1')).statusCode).toBe(200);
    const escalate = await create(op1, {
      username: 'boss',
      displayName: 'x',
      role: 'admin',
      password: 'long enough pw',
    });
    expect(escalate.json().code).toBe('E_FORBIDDEN_ROLE');
    const short = await create(admin, {
      username: 'shorty',
      displayName: 'x',
      role: 'admin',
      password: 'short',
    });
    expect(short.json().code).toBe('E_BAD_BODY');
  });
});

describe('metrics', () => {
  it('counts logins by result and refusals by code, never by user', async () => {
    const m = (await app.inject('/metrics')).body;
    expect(m).toMatch(/hub_dashboard_logins_total\{result="ok",service="dashboard"\} [1-9]/);
    expect(m).toMatch(/hub_dashboard_logins_total\{result="bad_credentials",service="dashboard"\} [1-9]/);
    expect(m).toMatch(/hub_dashboard_logins_total\{result="locked",service="dashboard"\} [1-9]/);
    expect(m).toMatch(/hub_dashboard_logins_total\{result="rate_limited",service="dashboard"\} [1-9]/);
    expect(m).toMatch(
      /hub_dashboard_access_denied_total\{code="E_OTHER_STATION",service="dashboard"\} [1-9]/,
    );
    expect(m).toMatch(/hub_dashboard_sessions_revoked_total\{service="dashboard"\} [1-9]/);
    expect(m).not.toContain('off-s1');
  });
});

describe('demo accounts', () => {
  it('seeds an officer per station, an operator per township and an admin, who can log in', async () => {
    const { seedDemoAccounts } = await import('../src/demo-accounts.js');
    const { AccountStore } = await import('../src/account-store.js');
    const seeded = await seedDemoAccounts(new AccountStore(redis, dkeys), testSnapshot(), Date.now());
    expect(seeded.map((a) => `${a.role}:${a.username}`)).toEqual([
      'officer:duty-s1',
      'officer:duty-s2',
      'officer:duty-s3',
      'township:office-tw1',
      'admin:admin',
    ]);
    const officer = seeded[0]!;
    const res = await postLogin(officer.username, officer.password, '10.5.0.1');
    expect(res.json().user).toMatchObject({ role: 'officer', stationId: 's1', home: '/station/s1' });
    expect((await postLogin('office-tw1', 'office-demo', '10.5.0.2')).json().user.home).toBe('/township');
  });
});
