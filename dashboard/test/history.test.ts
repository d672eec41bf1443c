import { createInfluxQueries, InfluxHttp } from '@hub/ingest';
import type { Device } from '@hub/protocol';
import { RegistrySnapshot } from '@hub/registry';
import { cleanupPrefix, testInfluxUrl, testKeys, testRedis, uniqueName } from '@hub/registry/test-support';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/build-app.js';
import { type As, addAccounts, CAST, injectAs, login } from './support/auth.js';
import { buildings, stations } from './support/fixtures.js';

const keys = testKeys('dash_history');
const db = uniqueName('dash_history');
const http = new InfluxHttp({ url: testInfluxUrl(), auth: { type: 'none' } });
let redis: Redis;
let subscriber: Redis;
let app: FastifyInstance;
let noInflux: FastifyInstance;
let op1: As;
let op2: As;
const T = 1_796_000_000_000;

const device: Device = {
  id: 'sd-1',
  kind: 'smoke',
  model: 'SD-1',
  buildingId: 'b1',
  floor: 3,
  room: '301',
  secretHash: '0'.repeat(64),
  salt: 'saltsalt',
  maintenance: false,
};

beforeAll(async () => {
  redis = testRedis();
  subscriber = testRedis();
  await http.query(`CREATE DATABASE "${db}"`);
  // Lines as ingest writes them (ingest/src/line-protocol.ts): smoke measurement,
  // tags device/kind/model/township, fields smoke, temp_c, battery.
  const lines = [0, 1, 2, 3].map(
    (i) =>
      `smoke,device=sd-1,kind=smoke,model=SD-1,township=tw1 smoke=${0.5 + i},temp_c=${24 + i},battery=${90 - i},seq=${i}i ${T + i * 60_000}`,
  );
  lines.push(`smoke,device=other,kind=smoke,model=SD-1,township=tw1 smoke=9,temp_c=9,battery=9,seq=1i ${T}`);
  const res = await http.writeRaw(`/write?db=${db}&precision=ms`, new TextEncoder().encode(lines.join('\n')));
  expect(res.status).toBe(204);
  const snapshot = new RegistrySnapshot(
    { townships: [], buildings, devices: [device], stations, accounts: [] },
    1,
  );
  app = buildApp({
    redis,
    subscriber,
    keys,
    registry: { current: snapshot },
    influx: createInfluxQueries(http, db),
  });
  noInflux = buildApp({ redis, subscriber: testRedis(), keys, registry: { current: snapshot } });
  await app.ready();
  await noInflux.ready();
  await addAccounts(redis, keys, CAST);
  op1 = injectAs(app, await login(app, 'op-tw1'));
  op2 = injectAs(app, await login(app, 'op-tw2'));
});

afterAll(async () => {
  await app.close();
  await noInflux.close();
  await http.query(`DROP DATABASE "${db}"`).catch(() => undefined);
  await cleanupPrefix(redis, keys);
  redis.disconnect();
  subscriber.disconnect();
});

describe('fleet health with InfluxDB', () => {
  it('counts low batteries from InfluxDB, and still answers when InfluxDB fails', async () => {
    await http.writeRaw(
      `/write?db=${db}&precision=ms`,
      new TextEncoder().encode(
        `smoke,device=sd-1,kind=smoke,model=SD-1,township=tw1 smoke=0.1,temp_c=20,battery=9,seq=9i ${Date.now() - 60_000}`,
      ),
    );
    const ok = (await op1('/api/township/fleet')).json();
    expect(ok).toMatchObject({ batterySource: 'influxdb', lowBattery: 1 });
    expect(ok.reportingByKind).toMatchObject({ smoke: 1 });
    const broken = buildApp({
      redis,
      subscriber: testRedis(),
      keys,
      registry: {
        current: new RegistrySnapshot(
          { townships: [], buildings, devices: [device], stations, accounts: [] },
          1,
        ),
      },
      influx: createInfluxQueries(http, 'no_such_database_here'),
    });
    await broken.ready();
    const cookie = await login(broken, 'op-tw1');
    const res = await broken.inject({ url: '/api/township/fleet', headers: { cookie } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ batterySource: 'unavailable', lowBattery: null, devices: 1 });
    await broken.close();
  });
});

describe('GET /api/devices/:id/history', () => {
  it("returns the device's readings from InfluxDB as chart columns", async () => {
    const res = await op1(`/api/devices/sd-1/history?from=${T - 1}&to=${T + 3_600_000}`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.device).toMatchObject({ id: 'sd-1', kind: 'smoke', room: '301' });
    const smoke = body.series.find((s: { measurement: string }) => s.measurement === 'smoke');
    expect(smoke.time).toEqual([T, T + 60_000, T + 120_000, T + 180_000]);
    expect(smoke.fields.smoke).toEqual([0.5, 1.5, 2.5, 3.5]);
    expect(smoke.fields.battery).toEqual([90, 89, 88, 87]);
    expect(smoke.fields.temp_c).toEqual([24, 25, 26, 27]);
    expect(smoke.fields.seq).toBeUndefined();
  });

  it('keeps to the township, validates the window, and says when InfluxDB is not configured', async () => {
    expect((await op2('/api/devices/sd-1/history')).json().code).toBe('E_OTHER_TOWNSHIP');
    expect((await op1('/api/devices/nope/history')).json().code).toBe('E_DEVICE_NOT_FOUND');
    expect((await op1(`/api/devices/sd-1/history?from=${T}&to=${T}`)).json().code).toBe('E_BAD_QUERY');
    const cookie = await login(noInflux, 'op-tw1');
    const res = await noInflux.inject({ url: '/api/devices/sd-1/history', headers: { cookie } });
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('E_INFLUX_UNAVAILABLE');
  });
});
