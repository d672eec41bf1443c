import {
  type Device,
  type HazardTicket,
  keyPeriodConfigSchema,
  OPERATOR_ACTION_STREAM_FIELDS,
  operatorActionSchema,
} from '@hub/protocol';
import { RegistrySnapshot, RegistryStore } from '@hub/registry';
import { cleanupPrefix, testKeys, testRedis } from '@hub/registry/test-support';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/build-app.js';
import { type As, addAccounts, CAST, injectAs, login } from './support/auth.js';
import { buildings, makeIncident, stations, T0, waitFor, writeIncident } from './support/fixtures.js';

const keys = testKeys('dash_township');
let redis: Redis;
let subscriber: Redis;
let app: FastifyInstance;
let op1: As;
let op2: As;
let officer: As;

const hash = '0'.repeat(64);
function device(id: string, buildingId: string, extra: Partial<Device> = {}): Device {
  return {
    id,
    kind: 'smoke',
    model: 'SD-1',
    buildingId,
    floor: 2,
    room: '201',
    secretHash: hash,
    salt: 'saltsalt',
    maintenance: false,
    ...extra,
  };
}
const devices = [
  device('d1', 'b1'),
  device('d2', 'b1'),
  device('d3', 'b1'),
  device('d4', 'b2'),
  device('d5', 'b2', { maintenance: true }),
];

function snapshotData() {
  return {
    townships: [{ id: 'tw1', name: '测试镇', lat: 25.83, lon: 114.93, fireOfficePhone: '0797-1190000' }],
    buildings,
    devices,
    stations,
    accounts: [],
  };
}

function snapshot(): RegistrySnapshot {
  return new RegistrySnapshot(snapshotData(), 1);
}

function ticket(id: string, overrides: Partial<HazardTicket> = {}): HazardTicket {
  return {
    v: 1,
    id,
    lane: 'electrical',
    state: 'open',
    buildingId: 'b2',
    township: 'tw1',
    grid: 'g02',
    deviceIds: ['d4'],
    cause: 'leakage',
    causes: { leakage: 1 },
    eventCount: 1,
    openedAt: T0,
    lastEventAt: T0,
    updatedAt: T0,
    deadline: T0 + 86_400_000,
    overdueAt: null,
    ownerId: null,
    assignedAt: null,
    rectifyingAt: null,
    closedAt: null,
    closedBy: null,
    evidence: null,
    repeatCount: 1,
    supervised: false,
    supervisedAt: null,
    audit: [{ at: T0, kind: 'opened', deviceId: 'd4' }],
    auditDropped: 0,
    ...overrides,
  };
}

/** Stores a ticket the way alerts does (protocol/src/hazard-tickets.ts). */
async function writeTicket(t: HazardTicket): Promise<void> {
  const m = redis.multi();
  m.set(keys.hazardTicket(t.id), JSON.stringify(t));
  m.zadd(keys.hazardTicketsByTime, t.openedAt, t.id);
  if (t.state !== 'closed') m.zadd(keys.hazardTicketsOpen, t.deadline, t.id);
  await m.exec();
}

function json(method: 'POST' | 'PUT', url: string, body: unknown) {
  return { method, url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) };
}

beforeAll(async () => {
  redis = testRedis();
  subscriber = testRedis();
  app = buildApp({
    redis,
    subscriber,
    keys,
    registry: { current: snapshot() },
    clock: () => T0 + 10 * 86_400_000,
  });
  await app.ready();
  // The imports check rows against the stored registry (Redis), as in production.
  await new RegistryStore(redis, keys).replaceAll(snapshotData());
  await addAccounts(redis, keys, CAST);
  op1 = injectAs(app, await login(app, 'op-tw1'));
  op2 = injectAs(app, await login(app, 'op-tw2'));
  officer = injectAs(app, await login(app, 'off-s1'));
});

afterAll(async () => {
  await app.close();
  await cleanupPrefix(redis, keys);
  redis.disconnect();
  subscriber.disconnect();
});

describe('township routes need a township operator', () => {
  it.each([
    '/api/township/map',
    '/api/township/fleet',
    '/api/tickets',
    '/api/stats',
    '/api/key-period',
    '/api/registry/buildings.csv',
  ])('%s: 401 without a session, 403 for an officer', async (url) => {
    expect((await app.inject(url)).statusCode).toBe(401);
    const res = await officer(url);
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('E_FORBIDDEN_ROLE');
  });
});

describe('map', () => {
  it("GeoJSON layers of the operator's township: buildings, stations", async () => {
    const res = await op1('/api/township/map');
    expect(res.statusCode).toBe(200);
    const map = res.json();
    expect(map.township).toMatchObject({ id: 'tw1', name: '测试镇' });
    expect(map.buildings.type).toBe('FeatureCollection');
    expect(map.buildings.features.map((f: { properties: { id: string } }) => f.properties.id).sort()).toEqual(
      ['b1', 'b2'],
    );
    expect(map.buildings.features[0].geometry.type).toBe('Point');
    const b1 = map.buildings.features.find((f: { properties: { id: string } }) => f.properties.id === 'b1');
    expect(b1.geometry.coordinates).toEqual([114.93, 25.83]); // GeoJSON order: lon, lat
    expect(map.stations.features).toHaveLength(3);
    expect(JSON.stringify(map)).not.toContain('13800000000');
    const other = (await op2('/api/township/map')).json();
    expect(other.buildings.features).toEqual([]);
  });
});

describe('fleet health', () => {
  it("reads ingest's liveness keys: online rate and the silent worklist per grid", async () => {
    // As ingest writes them: deadlines for every tracked device, silent since ms.
    await redis.zadd(keys.livenessDeadlines, T0, 'd1', T0, 'd2', T0, 'd3', T0, 'd4');
    await redis.zadd(keys.livenessSilent, T0 - 5_000, 'd2', T0 - 9_000, 'd1');
    const res = await op1('/api/township/fleet');
    expect(res.statusCode).toBe(200);
    const f = res.json();
    expect(f).toMatchObject({
      source: 'liveness',
      batterySource: null,
      devices: 5,
      maintenance: 1,
      silent: 2,
      lowBattery: null,
    });
    expect(f.onlineRate).toBeCloseTo(2 / 4);
    const g01 = f.grids.find((g: { grid: string }) => g.grid === 'g01');
    expect(g01).toMatchObject({ devices: 3, silent: 2 });
    expect(g01.onlineRate).toBeCloseTo(1 / 3);
    // Longest silent first, with the building for the grid officer's round.
    expect(g01.worklist.map((w: { deviceId: string }) => w.deviceId)).toEqual(['d1', 'd2']);
    expect(g01.worklist[0]).toMatchObject({
      buildingName: '东坑村1号',
      floor: 2,
      room: '201',
      silentSince: T0 - 9_000,
    });
    expect(f.grids.find((g: { grid: string }) => g.grid === 'g02')).toMatchObject({
      devices: 1,
      silent: 0,
      onlineRate: 1,
    });
    expect((await op2('/api/township/fleet')).json()).toMatchObject({ devices: 0, silent: 0 });
    // ingest's daily list of the hub-local day (the app's clock is T0 + 10 days).
    const day = new Intl.DateTimeFormat('en-CA', {
      timeZone: 'Asia/Shanghai',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    }).format(T0 + 10 * 86_400_000);
    await redis.sadd(keys.livenessSilentDayGrids(day), 'g01');
    await redis.sadd(keys.livenessSilentDay(day, 'g01'), 'd1', 'd2', 'd3');
    const withDaily = (await op1('/api/township/fleet')).json();
    expect(withDaily.today).toEqual({ date: day, grids: [{ grid: 'g01', devices: 3 }] });
  });
});

describe('hazard tickets', () => {
  it('lists open tickets with their building, and queues actions on the operator-actions stream', async () => {
    await writeTicket(ticket('HZ-000001'));
    await writeTicket(
      ticket('HZ-000002', { state: 'closed', closedAt: T0 + 5, closedBy: 'x', evidence: { text: 'ok' } }),
    );
    await writeTicket(ticket('HZ-000003', { township: 'tw2', grid: 'x' }));
    const open = (await op1('/api/tickets')).json().tickets;
    expect(open.map((t: { id: string }) => t.id)).toEqual(['HZ-000001']);
    expect(open[0].building).toMatchObject({ name: '西岭村养老院' });
    const all = (await op1('/api/tickets?state=all')).json().tickets;
    expect(all.map((t: { id: string }) => t.id).sort()).toEqual(['HZ-000001', 'HZ-000002']);

    const assign = await op1(
      json('POST', '/api/tickets/HZ-000001/actions', { type: 'assign', ownerId: 'grid-wang' }),
    );
    expect(assign.statusCode).toBe(202);
    const close = await op1(
      json('POST', '/api/tickets/HZ-000001/actions', {
        type: 'close',
        evidence: { text: '已更换漏电保护器' },
      }),
    );
    expect(close.statusCode).toBe(202);
    const entries = await redis.xrange(keys.operatorActions, '-', '+');
    expect(entries).toHaveLength(2);
    const fields = (i: number) => {
      const flat = entries[i]![1];
      const o: Record<string, string> = {};
      for (let k = 0; k < flat.length; k += 2) o[flat[k]!] = flat[k + 1]!;
      return o;
    };
    expect(fields(0)[OPERATOR_ACTION_STREAM_FIELDS.accountId]).toBe('op-tw1');
    expect(operatorActionSchema.parse(JSON.parse(fields(0).j!))).toMatchObject({
      type: 'assign',
      ticketId: 'HZ-000001',
      ownerId: 'grid-wang',
    });
    expect(JSON.parse(fields(1).j!)).toMatchObject({ type: 'close', evidence: { text: '已更换漏电保护器' } });
  });

  it('refuses a close without evidence, a closed ticket, another township and unknown tickets', async () => {
    const noEvidence = await op1(json('POST', '/api/tickets/HZ-000001/actions', { type: 'close' }));
    expect(noEvidence.statusCode).toBe(400);
    expect(noEvidence.json().code).toBe('E_BAD_BODY');
    const closed = await op1(json('POST', '/api/tickets/HZ-000002/actions', { type: 'comment', note: 'x' }));
    expect(closed.json().code).toBe('E_TICKET_CLOSED');
    const foreign = await op1(json('POST', '/api/tickets/HZ-000003/actions', { type: 'supervise' }));
    expect(foreign.json().code).toBe('E_OTHER_TOWNSHIP');
    const unknown = await op1(json('POST', '/api/tickets/HZ-404/actions', { type: 'supervise' }));
    expect(unknown.json().code).toBe('E_TICKET_NOT_FOUND');
  });

  it('queues a human confirmation of an incident', async () => {
    await writeIncident(redis, keys, makeIncident('inc-confirm', { openedAt: T0 }));
    const res = await op1(json('POST', '/api/incidents/inc-confirm/confirm', { note: '电话核实有烟' }));
    expect(res.statusCode).toBe(202);
    const last = (await redis.xrevrange(keys.operatorActions, '+', '-', 'COUNT', 1))[0]!;
    expect(JSON.parse(last[1][3]!)).toMatchObject({ type: 'confirm_incident', incidentId: 'inc-confirm' });
  });
});

describe('statistics', () => {
  it('alarms, true fires, false alarms by cause, time to accept and arrive, per station, grid and month; CSV', async () => {
    const day = 86_400_000;
    const base = T0 + day;
    // Two closed false alarms (cooking) and a real fire at s1; one paging at s2 (grid g02).
    await writeIncident(
      redis,
      keys,
      makeIncident('st-1', {
        openedAt: base,
        receivedAt: base,
        state: 'closed',
        stationId: 's1',
        acceptedAt: base + 20_000,
        onSceneAt: base + 150_000,
        closedAt: base + 600_000,
        disposition: 'false_cooking',
      }),
      [
        { at: base + 20_000, kind: 'accept', stationId: 's1' },
        { at: base + 150_000, kind: 'on_scene', stationId: 's1' },
      ],
    );
    await writeIncident(
      redis,
      keys,
      makeIncident('st-2', {
        openedAt: base + 1,
        receivedAt: base + 1,
        state: 'closed',
        stationId: 's1',
        acceptedAt: base + 40_001,
        onSceneAt: base + 200_001,
        closedAt: base + 900_000,
        disposition: 'false_cooking',
      }),
    );
    await writeIncident(
      redis,
      keys,
      makeIncident('st-3', {
        openedAt: base + 2,
        receivedAt: base + 2,
        state: 'closed',
        stationId: 's1',
        acceptedAt: base + 30_002,
        closedAt: base + 2_000_000,
        disposition: 'real_fire',
      }),
    );
    await writeIncident(
      redis,
      keys,
      makeIncident('st-4', { openedAt: base + 3, grid: 'g02', pagedStations: ['s2'] }),
      [{ at: base + 5_000, kind: 'decline', stationId: 's2' }],
    );
    await writeIncident(redis, keys, makeIncident('st-other', { openedAt: base + 4, township: 'tw2' }));
    const q = `from=${base}&to=${base + day}`;
    const res = await op1(`/api/stats?${q}`);
    expect(res.statusCode).toBe(200);
    const s = res.json();
    expect(s.total).toMatchObject({ alarms: 4, closed: 3, trueFires: 1, falseAlarms: 2, declines: 1 });
    expect(s.total.falseAlarmRate).toBeCloseTo(2 / 3);
    expect(s.total.byDisposition).toMatchObject({ false_cooking: 2, real_fire: 1, test: 0 });
    expect(s.total.toAccept).toMatchObject({ n: 3, avgMs: 30_000, maxMs: 40_000 });
    expect(s.total.toArrive).toMatchObject({ n: 2, avgMs: 175_000 });
    expect(s.byStation.map((b: { key: string; alarms: number }) => [b.key, b.alarms])).toEqual([
      ['s1', 3],
      ['s2', 1],
    ]);
    expect(s.byStation[0].label).toBe('测试镇第1微型消防站');
    expect(s.byGrid.map((b: { key: string; alarms: number }) => [b.key, b.alarms])).toEqual([
      ['g01', 3],
      ['g02', 1],
    ]);
    expect(s.byMonth).toHaveLength(1);
    expect(s.byMonth[0].key).toMatch(/^\d{4}-\d{2}$/);

    const csv = await op1(`/api/stats.csv?${q}`);
    expect(csv.headers['content-type']).toContain('text/csv');
    const lines = csv.body
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]).toContain('group,key,label,alarms,closed,true_fires,false_alarms,false_alarm_rate');
    expect(lines.find((l) => l.startsWith('station,s1,'))).toContain(',3,3,1,2,0.667,');
    expect(lines.filter((l) => l.startsWith('grid,'))).toHaveLength(2);
    expect((await op1('/api/stats?from=10&to=5')).json().code).toBe('E_BAD_QUERY');
  });
});

describe('key-period switch and registry export', () => {
  it('writes the key-period config per the contract and publishes the change', async () => {
    const listener = testRedis();
    const got: string[] = [];
    listener.on('message', (_c, m) => got.push(m));
    await listener.subscribe(keys.keyPeriodChanged);
    const before = (await op1('/api/key-period')).json();
    expect(before).toMatchObject({ active: false, config: { mode: 'auto', periods: [] } });
    const res = await op1(json('PUT', '/api/key-period', { mode: 'on' }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ active: true, config: { mode: 'on', updatedBy: 'op-tw1' } });
    const stored = keyPeriodConfigSchema.parse(JSON.parse((await redis.get(keys.keyPeriod))!));
    expect(stored.mode).toBe('on');
    await waitFor(() => got.length > 0, 10_000, 'key-period change published');
    const now = T0 + 10 * 86_400_000;
    const cal = await op1(
      json('PUT', '/api/key-period', {
        mode: 'auto',
        periods: [{ id: 'spring', name: '春节', start: now - 1000, end: now + 1000 }],
      }),
    );
    expect(cal.json()).toMatchObject({ active: true, period: { name: '春节' } });
    expect((await op1(json('PUT', '/api/key-period', { mode: 'loud' }))).json().code).toBe('E_BAD_BODY');
    await listener.quit();
  });

  it('exports the registry as CSV without device secrets', async () => {
    const b = await op1('/api/registry/buildings.csv');
    expect(b.statusCode).toBe(200);
    expect(b.headers['content-disposition']).toContain('buildings.csv');
    const lines = b.body
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]).toBe('id,name,address,lat,lon,occupancy,floors,township,grid,contacts');
    expect(lines[1]).toContain('b1,东坑村1号,测试镇东坑村解放路12号');
    const d = (await op1('/api/registry/devices.csv')).body;
    expect(d).toContain('d1,smoke,SD-1,b1');
    expect(d).not.toContain(hash);
    expect((await op1('/api/registry/stations.csv')).body).toContain('s1,测试镇第1微型消防站');
    expect((await op1('/api/registry/nope.csv')).statusCode).toBe(400);
  });
});

describe('registry import', () => {
  function post(body: string, query = '') {
    return op1({
      method: 'POST',
      url: `/api/registry/buildings.csv${query}`,
      headers: { 'content-type': 'text/csv' },
      payload: body,
    });
  }
  const header = 'id,name,address,lat,lon,occupancy,floors,township,grid,contacts';

  it('re-imports its own export unchanged, and writes new buildings through the registry', async () => {
    const exported = (await op1('/api/registry/buildings.csv')).body;
    const dry = await post(exported, '?dryRun=true');
    expect(dry.statusCode).toBe(200);
    expect(dry.json()).toEqual({ valid: 2, written: 0, version: null });
    const csv = `${header}\r\nb9,"新建房,9号",示范镇新村1号,25.84,114.94,self_built,3,tw1,g03,"张三(房东):13700000000; 李四:13700000001"\r\n`;
    const before = Number(await redis.get(keys.registryVersion));
    const res = await post(csv);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ valid: 1, written: 1 });
    expect(Number(await redis.get(keys.registryVersion))).toBe(before + 1);
    const stored = JSON.parse((await redis.hget(keys.buildings, 'b9'))!);
    expect(stored).toMatchObject({
      name: '新建房,9号',
      occupancy: 'self_built',
      grid: 'g03',
      contacts: [
        { name: '张三', role: '房东', phone: '13700000000' },
        { name: '李四', phone: '13700000001' },
      ],
    });
  });

  it('writes nothing when any row is invalid, and says which lines', async () => {
    const csv = [
      header,
      'b10,ok,addr,25.8,114.9,rental,2,tw1,g01,',
      'b11,bad lat,addr,999,114.9,rental,2,tw1,g01,',
      'b12,wrong township,addr,25.8,114.9,rental,2,tw2,g01,',
      'b13,bad occupancy,addr,25.8,114.9,castle,2,tw1,g01,',
    ].join('\n');
    const res = await post(csv);
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ code: 'E_IMPORT_INVALID', problemCount: 3 });
    expect(res.json().problems.map((p: { line: number }) => p.line)).toEqual([3, 4, 5]);
    expect(await redis.hexists(keys.buildings, 'b10')).toBe(0);
    expect((await post('id,name\nx,y')).json().problems[0].message).toContain('missing columns');
    expect((await post('"unterminated')).statusCode).toBe(422);
    const json = await op1({
      method: 'POST',
      url: '/api/registry/buildings.csv',
      headers: { 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(json.statusCode).toBe(415);
    expect(
      (
        await officer({
          method: 'POST',
          url: '/api/registry/buildings.csv',
          headers: { 'content-type': 'text/csv' },
          payload: csv,
        })
      ).statusCode,
    ).toBe(403);
  });
});
