import type { Building, Device, Station, Township } from '@hub/protocol';
import { hashSecret, RegistryCache, RegistryStore, verifySecret } from '@hub/registry';
import { cleanupPrefix, testKeys, testRedis, waitFor } from '@hub/registry/test-support';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/build-app.js';
import { type As, addAccounts, CAST, injectAs, login } from './support/auth.js';
import { buildings, stations, T0 } from './support/fixtures.js';

/**
 * Device and station CSV imports through the API against the test Redis, with the
 * registry held by a real RegistryCache (as main.ts does), so "the registry version
 * changes and services pick it up" is observed, not assumed.
 */
const keys = testKeys('dash_regimport');
let redis: Redis;
let subscriber: Redis;
let cache: RegistryCache;
let app: FastifyInstance;
let op1: As;
let op2: As;
let admin: As;

const townships: Township[] = [
  { id: 'tw1', name: '测试镇', lat: 25.83, lon: 114.93, fireOfficePhone: '0797-1190000' },
  { id: 'tw2', name: '邻镇', lat: 25.9, lon: 115.0, fireOfficePhone: '0797-1190001' },
];
const otherBuilding: Building = {
  id: 'bx',
  name: '邻镇1号',
  address: '邻镇新街1号',
  lat: 25.9,
  lon: 115.0,
  occupancy: 'rental',
  floors: 3,
  township: 'tw2',
  grid: 'g09',
  contacts: [],
};
const oldSalt = 'oldsaltold';
const oldDevice: Device = {
  id: 'd1',
  kind: 'smoke',
  model: 'SD-1',
  buildingId: 'b1',
  floor: 2,
  room: '201',
  secretHash: hashSecret('old-secret', oldSalt),
  salt: oldSalt,
  maintenance: false,
};
const otherDevice: Device = { ...oldDevice, id: 'dx', buildingId: 'bx' };
const otherStation: Station = { ...(stations[0] as Station), id: 'sx', township: 'tw2', name: '邻镇站' };

function post(as: As, kind: string, body: string, query = '') {
  return as({
    method: 'POST',
    url: `/api/registry/${kind}.csv${query}`,
    headers: { 'content-type': 'text/csv' },
    payload: body,
  });
}

const DEVICE_HEADER = 'id,kind,model,building_id,floor,room,maintenance';
const STATION_HEADER = 'id,name,lat,lon,township,on_duty,officers,area';

beforeAll(async () => {
  redis = testRedis();
  subscriber = testRedis();
  await new RegistryStore(redis, keys).replaceAll({
    townships,
    buildings: [...buildings, otherBuilding],
    devices: [oldDevice, otherDevice],
    stations: [...stations, otherStation],
    accounts: [],
  });
  cache = await RegistryCache.start({ redis, subscriber, keys, debounceMs: 10 });
  app = buildApp({ redis, subscriber, keys, registry: cache, clock: () => T0 });
  await app.ready();
  await addAccounts(redis, keys, CAST);
  op1 = injectAs(app, await login(app, 'op-tw1'));
  op2 = injectAs(app, await login(app, 'op-tw2'));
  admin = injectAs(app, await login(app, 'admin'));
});

afterAll(async () => {
  await app.close();
  await cache.close();
  await cleanupPrefix(redis, keys);
  redis.disconnect();
  subscriber.disconnect();
});

describe('device import', () => {
  it('writes new devices with a fresh credential that authenticates, keeps an existing one, bumps the version', async () => {
    const csv = [
      DEVICE_HEADER,
      'd1,smoke,SD-2,b2,1,101,true',
      'd9,electric,EM-1,b1,-1,车库,',
      'd10,charger,CH-1,b2,1,,false',
    ].join('\r\n');
    const dry = await post(op1, 'devices', csv, '?dryRun=true');
    expect(dry.statusCode).toBe(200);
    expect(dry.json()).toEqual({ valid: 3, written: 0, version: null, created: 2, secrets: [] });
    expect(await redis.hexists(keys.devices, 'd9')).toBe(0);

    const before = Number(await redis.get(keys.registryVersion));
    const res = await post(op1, 'devices', csv);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json() as {
      version: number;
      created: number;
      secrets: { id: string; secret: string }[];
    };
    expect(body).toMatchObject({ valid: 3, written: 3, created: 2, version: before + 1 });
    expect(body.secrets.map((s) => s.id)).toEqual(['d9', 'd10']);
    expect(Number(await redis.get(keys.registryVersion))).toBe(before + 1);

    // Stored: hash and salt only, never the plain secret; the secret verifies against them.
    const raw = (await redis.hget(keys.devices, 'd9')) as string;
    const stored = JSON.parse(raw) as Device;
    const d9 = body.secrets[0] as { id: string; secret: string };
    expect(raw).not.toContain(d9.secret);
    expect(stored).toMatchObject({
      kind: 'electric',
      model: 'EM-1',
      buildingId: 'b1',
      floor: -1,
      room: '车库',
    });
    expect(d9.secret.length).toBeGreaterThanOrEqual(22);
    expect(verifySecret(d9.secret, stored.salt, stored.secretHash)).toBe(true);
    expect(verifySecret('wrong', stored.salt, stored.secretHash)).toBe(false);
    expect(body.secrets[0]?.secret).not.toBe(body.secrets[1]?.secret);

    // The existing device moved and went into maintenance, but kept its credential.
    const d1 = JSON.parse((await redis.hget(keys.devices, 'd1')) as string) as Device;
    expect(d1).toMatchObject({ buildingId: 'b2', model: 'SD-2', maintenance: true, salt: oldSalt });
    expect(verifySecret('old-secret', d1.salt, d1.secretHash)).toBe(true);

    // The registry cache (what broker, alerts, ingest and this app hold) reloads by itself,
    // and the device authenticates from it the way the broker checks a CONNECT.
    await waitFor('registry cache reloaded', () => cache.current.version >= body.version, 15_000);
    const cached = cache.current.devices.get('d10');
    const d10 = body.secrets[1] as { id: string; secret: string };
    expect(cached !== undefined && verifySecret(d10.secret, cached.salt, cached.secretHash)).toBe(true);
    expect((await op1('/api/registry/devices.csv')).body).toContain('d10,charger,CH-1,b2,1,,false,g02');
  });

  it('rejects the whole file for one bad row, naming the line', async () => {
    const before = await redis.get(keys.registryVersion);
    const csv = [
      DEVICE_HEADER,
      'd20,smoke,SD-1,b1,3,301,false',
      'd21,smoke,SD-1,b404,3,301,false',
      'd22,laser,SD-1,b1,3,301,false',
      'd23,smoke,SD-1,b1,high,301,false',
      'd24,smoke,SD-1,b1,3,301,maybe',
      'd20,smoke,SD-1,b1,3,302,false',
    ].join('\n');
    const res = await post(op1, 'devices', csv);
    expect(res.statusCode).toBe(422);
    const body = res.json() as {
      code: string;
      problemCount: number;
      problems: { line: number; message: string }[];
    };
    expect(body).toMatchObject({ code: 'E_IMPORT_INVALID', problemCount: 5 });
    expect(body.problems.map((p) => p.line)).toEqual([3, 4, 5, 6, 7]);
    expect(body.problems.find((p) => p.line === 3)?.message).toContain('unknown building b404');
    expect(body.problems.find((p) => p.line === 7)?.message).toContain('duplicate id d20');
    expect(await redis.hexists(keys.devices, 'd20')).toBe(0);
    expect(await redis.get(keys.registryVersion)).toBe(before);
    expect((await post(op1, 'devices', 'id,kind\nx,smoke')).json().problems[0].message).toContain(
      'missing columns: model, building_id, floor',
    );
    // A header without rows writes nothing and leaves the version alone.
    expect((await post(op1, 'devices', DEVICE_HEADER)).json()).toMatchObject({
      valid: 0,
      written: 0,
      version: null,
    });
    expect(await redis.get(keys.registryVersion)).toBe(before);
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toMatch(
      /hub_dashboard_registry_imports_total\{[^}]*kind="devices",result="rejected"[^}]*\} [2-9]/,
    );
    expect(metrics).toMatch(/hub_dashboard_registry_import_rows_total\{[^}]*kind="devices_created"[^}]*\} 2/);
  });

  it("refuses another township's buildings and devices to an operator; an admin may", async () => {
    // op-tw2 may not put devices into tw1's building, nor take over tw1's device d1.
    const intoTw1 = await post(op2, 'devices', `${DEVICE_HEADER}\nd30,smoke,SD-1,b1,1,101,false`);
    expect(intoTw1.statusCode).toBe(422);
    expect(intoTw1.json().problems[0]).toEqual({
      line: 2,
      message: 'building b1 is in township tw1, not yours',
    });
    const takeOver = await post(op2, 'devices', `${DEVICE_HEADER}\nd1,smoke,SD-1,bx,1,101,false`);
    expect(takeOver.json().problems[0]).toEqual({ line: 2, message: 'device d1 belongs to township tw1' });
    expect(JSON.parse((await redis.hget(keys.devices, 'd1')) as string).buildingId).toBe('b2');
    // An officer may not import at all.
    const officer = injectAs(app, await login(app, 'off-s1'));
    expect(
      (await post(officer, 'devices', `${DEVICE_HEADER}\nd31,smoke,SD-1,b1,1,101,false`)).statusCode,
    ).toBe(403);
    // An admin may import into any township.
    const byAdmin = await post(admin, 'devices', `${DEVICE_HEADER}\nd32,smoke,SD-1,bx,1,101,false`);
    expect(byAdmin.statusCode).toBe(200);
    expect(byAdmin.json().secrets[0].id).toBe('d32');
  });
});

describe('station import', () => {
  it('re-imports its own export, writes officers, duty and area, bumps the version', async () => {
    const exported = (await op1('/api/registry/stations.csv')).body;
    expect(exported).toContain('s1-o1:李强:13900000000:1');
    const dry = await post(op1, 'stations', exported, '?dryRun=true');
    expect(dry.json()).toEqual({ valid: 3, written: 0, version: null });

    const area = '114.92 25.82; 114.94 25.82; 114.94 25.84; 114.92 25.82';
    const csv = `${STATION_HEADER}\r\ns4,测试镇第4微型消防站,25.835,114.935,tw1,1,"s4-o1:张军:13900000004:1; s4-o2:赵敏:13900000005:0",${area}\r\n`;
    const before = Number(await redis.get(keys.registryVersion));
    const res = await post(op1, 'stations', csv);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ valid: 1, written: 1, version: before + 1 });
    const s4 = JSON.parse((await redis.hget(keys.stations, 's4')) as string) as Station;
    expect(s4).toMatchObject({
      township: 'tw1',
      onDuty: true,
      officers: [
        { id: 's4-o1', name: '张军', phone: '13900000004', onDuty: true },
        { id: 's4-o2', name: '赵敏', phone: '13900000005', onDuty: false },
      ],
    });
    expect(s4.area?.[1]).toEqual([114.94, 25.82]);
    await waitFor('registry cache has s4', () => cache.current.stations.has('s4'), 15_000);
    // What was imported exports the same way.
    expect((await op1('/api/registry/stations.csv')).body).toContain(area);
  });

  it('rejects the whole file for a bad row, and other townships for an operator', async () => {
    const csv = [
      STATION_HEADER,
      's5,ok,25.8,114.9,tw1,1,s5-o1:王:13900000001:1,',
      's6,unknown township,25.8,114.9,tw9,1,s6-o1:王:13900000001:1,',
      's7,open ring,25.8,114.9,tw1,1,s7-o1:王:13900000001:1,114.9 25.8; 115 25.8; 115 25.9; 114.9 25.9',
      's8,bad officer,25.8,114.9,tw1,1,s8-o1:王,',
      's9,other township,25.8,114.9,tw2,0,,',
    ].join('\n');
    const res = await post(op1, 'stations', csv);
    expect(res.statusCode).toBe(422);
    expect(res.json().problems).toEqual([
      { line: 3, message: 'unknown township tw9' },
      { line: 4, message: 'area: the ring must end where it starts' },
      { line: 5, message: expect.stringContaining('officers.0.name') },
      { line: 6, message: 'township tw2 is not yours' },
    ]);
    expect(await redis.hexists(keys.stations, 's5')).toBe(0);
    // Taking over another township's station by its id is refused too.
    const takeOver = await post(op1, 'stations', `${STATION_HEADER}\nsx,mine now,25.8,114.9,tw1,1,,`);
    expect(takeOver.json().problems).toEqual([{ line: 2, message: 'station sx belongs to township tw2' }]);
    // tw2's own operator may.
    const own = await post(op2, 'stations', `${STATION_HEADER}\nsx,邻镇站,25.9,115,tw2,0,,`);
    expect(own.statusCode).toBe(200);
  });
});
