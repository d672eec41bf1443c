import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cleanupPrefix, testKeys, testRedis } from '@hub/registry/test-support';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/build-app.js';
import { PUBLIC_DIR } from '../src/page-routes.js';
import { type As, addAccounts, CAST, injectAs, login } from './support/auth.js';
import { testSnapshot } from './support/fixtures.js';

const keys = testKeys('dash_pages');
let redis: Redis;
let subscriber: Redis;
let app: FastifyInstance;
let officer: As;
let operator: As;

beforeAll(async () => {
  redis = testRedis();
  subscriber = testRedis();
  app = buildApp({ redis, subscriber, keys, registry: { current: testSnapshot() } });
  await app.ready();
  await addAccounts(redis, keys, CAST);
  officer = injectAs(app, await login(app, 'off-s1'));
  operator = injectAs(app, await login(app, 'op-tw1'));
});

afterAll(async () => {
  await app.close();
  await cleanupPrefix(redis, keys);
  redis.disconnect();
  subscriber.disconnect();
});

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out;
}

describe('pages', () => {
  it("/ redirects to the login page, or to the account's own console", async () => {
    const anon = await app.inject('/');
    expect(anon.statusCode).toBe(302);
    expect(anon.headers.location).toBe('/login');
    expect((await operator('/')).headers.location).toBe('/township');
    expect((await officer('/')).headers.location).toBe('/station/s1');
  });

  it('pages need a session: /township and /station/:id send the browser to /login?next=', async () => {
    const t = await app.inject('/township');
    expect(t.statusCode).toBe(302);
    expect(t.headers.location).toBe('/login?next=%2Ftownship');
    const s = await app.inject('/station/s1');
    expect(s.headers.location).toBe('/login?next=%2Fstation%2Fs1');
    const page = await app.inject('/login');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('id="login-form"');
    // An officer asking for the township console is sent to their station.
    expect((await officer('/township')).headers.location).toBe('/station/s1');
  });

  it("an officer opening another station's console gets a 403 page", async () => {
    const res = await officer('/station/s2');
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('E_OTHER_STATION');
    // The township's operator may look at any of its stations.
    expect((await operator('/station/s2')).statusCode).toBe(200);
  });

  it('/township serves the live table', async () => {
    const res = await operator('/township');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.body).toContain('<html lang="zh-CN">');
    expect(res.body).toContain('id="incident-table"');
    expect(res.body).toContain('id="incident-rows"');
    expect(res.body).toContain('<script type="module" src="/js/township.js">');
    expect(res.body).toContain('name="viewport"');
  });

  it('/station/:id serves the duty console with the start-duty button and sound notice', async () => {
    const res = await officer('/station/s1');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toMatch(/<button id="start-duty"[^>]*>开始值班<\/button>/);
    expect(res.body).toContain('id="sound-notice"');
    expect(res.body).toContain('声音未开启');
    expect(res.body).toContain('id="alerts"');
    expect(res.body).toContain('id="incidents"');
    expect(res.body).toContain('<script type="module" src="/js/station.js">');
  });

  it('/station/:id of an unknown station is a 404 page', async () => {
    const res = await officer('/station/s9');
    expect(res.statusCode).toBe(404);
    expect(res.body).toContain('未找到该微型消防站');
  });

  it('serves the scripts as JavaScript and the stylesheet as CSS', async () => {
    for (const f of ['station', 'township', 'api', 'live', 'labels', 'format', 'siren', 'login']) {
      const res = await app.inject(`/js/${f}.js`);
      expect(res.statusCode, f).toBe(200);
      expect(res.headers['content-type'], f).toMatch(/javascript/);
    }
    const css = await app.inject('/css/console.css');
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toContain('text/css');
    expect((await app.inject('/js/missing.js')).statusCode).toBe(404);
  });

  it('the station console posts actions and unlocks sound through Web Audio', async () => {
    const js = (await app.inject('/js/station.js')).body;
    // The acting station is never sent: the server takes it from the session.
    expect(js).toContain('api.action(id');
    const siren = (await app.inject('/js/siren.js')).body;
    expect(siren).toContain('createOscillator');
  });

  it('nothing in public/ loads from another origin', async () => {
    for (const file of await listFiles(PUBLIC_DIR)) {
      const text = await readFile(file, 'utf8');
      expect(text, file).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
      expect(text, file).not.toMatch(/url\(\s*["']?(https?:)?\/\//i);
      expect(text, file).not.toMatch(/import\s[^;]*from\s*["']https?:/);
    }
  });

  it('every browser module parses', async () => {
    const run = promisify(execFile);
    const files = (await listFiles(PUBLIC_DIR)).filter((f) => f.endsWith('.js'));
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const f of files) {
      // Parse only (--check); type=module comes from dashboard/package.json.
      await expect(run(process.execPath, ['--check', f]), f).resolves.toBeDefined();
    }
  });
});
