import { cleanupPrefix, testKeys, testRedis } from '@hub/registry/test-support';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/build-app.js';
import { type As, addAccounts, CAST, injectAs, login } from './support/auth.js';
import { makeIncident, T0, testSnapshot, writeIncident } from './support/fixtures.js';

const keys = testKeys('dash_api');
let redis: Redis;
let subscriber: Redis;
let app: FastifyInstance;
let admin: As;

beforeAll(async () => {
  redis = testRedis();
  subscriber = testRedis();
  app = buildApp({ redis, subscriber, keys, registry: { current: testSnapshot() }, clock: () => T0 + 5_000 });
  await app.ready();
  await addAccounts(redis, keys, CAST);
  admin = injectAs(app, await login(app, 'admin'));
  // Newest: inc-c (closed), then inc-b (paged s2 then s1), then inc-a (paged s1 only).
  await writeIncident(redis, keys, makeIncident('inc-a', { openedAt: T0 }), [
    { at: T0, kind: 'opened', deviceId: 'd000001' },
    { at: T0 + 10, kind: 'paged', stationId: 's1', channel: 'mqtt' },
  ]);
  await writeIncident(
    redis,
    keys,
    makeIncident('inc-b', { openedAt: T0 + 1_000, buildingId: 'b2', pagedStations: ['s2', 's1'], step: 2 }),
  );
  await writeIncident(
    redis,
    keys,
    makeIncident('inc-c', {
      openedAt: T0 + 2_000,
      pagedStations: ['s2'],
      stationId: 's2',
      state: 'closed',
      closedAt: T0 + 3_000,
      disposition: 'false_cooking',
    }),
  );
  // An incident the registry does not know the building of, and a corrupt record.
  await writeIncident(redis, keys, makeIncident('inc-x', { openedAt: T0 - 1_000, buildingId: 'b-gone' }));
  await redis.set(keys.incident('inc-bad'), '{"id":"inc-bad"');
  await redis.zadd(keys.incidentsByTime, T0 - 2_000, 'inc-bad');
});

afterAll(async () => {
  await app.close();
  await cleanupPrefix(redis, keys);
  redis.disconnect();
  subscriber.disconnect();
});

describe('GET /api/incidents', () => {
  it('lists open incidents newest first, enriched from the registry', async () => {
    const res = await admin('/api/incidents');
    expect(res.statusCode).toBe(200);
    const { incidents } = res.json();
    expect(incidents.map((i: { id: string }) => i.id)).toEqual(['inc-b', 'inc-a', 'inc-x']);
    expect(incidents[0].building).toMatchObject({ name: '西岭村养老院', occupancy: 'elderly_home' });
    expect(incidents[1].building).toMatchObject({ name: '东坑村1号', address: '测试镇东坑村解放路12号' });
    expect(incidents[2].building).toBeNull();
    // Contacts (phone numbers) are not part of the list view.
    expect(JSON.stringify(incidents)).not.toContain('13800000000');
  });

  it('state=all includes closed ones and honours limit; corrupt records are skipped and counted', async () => {
    const res = await admin('/api/incidents?state=all&limit=10');
    expect(res.json().incidents.map((i: { id: string }) => i.id)).toEqual([
      'inc-c',
      'inc-b',
      'inc-a',
      'inc-x',
    ]);
    const two = await admin('/api/incidents?state=all&limit=2');
    expect(two.json().incidents.map((i: { id: string }) => i.id)).toEqual(['inc-c', 'inc-b']);
    const metrics = await app.inject('/metrics');
    expect(metrics.body).toMatch(
      /hub_dashboard_bad_records_total\{kind="incident",service="dashboard"\} [1-9]/,
    );
  });

  it.each([
    ['state=closed', 'E_BAD_QUERY'],
    ['limit=0', 'E_BAD_QUERY'],
    ['limit=abc', 'E_BAD_QUERY'],
    ['limit=100000', 'E_BAD_QUERY'],
    ['foo=1', 'E_BAD_QUERY'],
  ])('rejects ?%s with 400 %s', async (query, code) => {
    const res = await admin(`/api/incidents?${query}`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code });
    expect(typeof res.json().message).toBe('string');
  });
});

describe('GET /api/incidents/:id', () => {
  it('returns the incident with its audit record', async () => {
    const res = await admin('/api/incidents/inc-a');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.incident).toMatchObject({ id: 'inc-a', state: 'paging', building: { id: 'b1' } });
    expect(body.audit).toEqual([
      { at: T0, kind: 'opened', deviceId: 'd000001' },
      { at: T0 + 10, kind: 'paged', stationId: 's1', channel: 'mqtt' },
    ]);
  });

  it('404s an unknown incident and 400s a malformed id', async () => {
    const missing = await admin('/api/incidents/nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('E_INCIDENT_NOT_FOUND');
    const bad = await admin('/api/incidents/a:b');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('E_BAD_PARAMS');
  });
});

describe('stations', () => {
  it('GET /api/stations lists id, name and duty state without phone numbers', async () => {
    const res = await admin('/api/stations');
    expect(res.statusCode).toBe(200);
    const { stations } = res.json();
    expect(stations.map((s: { id: string }) => s.id)).toEqual(['s1', 's2', 's3']);
    expect(stations[0]).toMatchObject({
      id: 's1',
      name: '测试镇第1微型消防站',
      onDuty: true,
      officersOnDuty: 1,
    });
    expect(stations[2].onDuty).toBe(false);
    expect(JSON.stringify(stations)).not.toContain('13900000000');
  });

  it('GET /api/stations/:id/incidents lists only incidents that paged the station, with distance', async () => {
    const s1 = await admin('/api/stations/s1/incidents?state=all');
    expect(s1.statusCode).toBe(200);
    const body = s1.json();
    expect(body.station).toMatchObject({ id: 's1', name: '测试镇第1微型消防站' });
    expect(body.incidents.map((i: { id: string }) => i.id)).toEqual(['inc-b', 'inc-a', 'inc-x']);
    const a = body.incidents.find((i: { id: string }) => i.id === 'inc-a');
    // s1 is 0.001° N and E of b1: about 145 m.
    expect(a.distanceM).toBeGreaterThan(120);
    expect(a.distanceM).toBeLessThan(170);
    expect(body.incidents.find((i: { id: string }) => i.id === 'inc-x').distanceM).toBeNull();

    const s2open = await admin('/api/stations/s2/incidents');
    expect(s2open.json().incidents.map((i: { id: string }) => i.id)).toEqual(['inc-b']);
    const s2all = await admin('/api/stations/s2/incidents?state=all&limit=1');
    expect(s2all.json().incidents.map((i: { id: string }) => i.id)).toEqual(['inc-c']);
    const s3 = await admin('/api/stations/s3/incidents?state=all');
    expect(s3.json().incidents).toEqual([]);
  });

  it('404s an unknown station', async () => {
    const res = await admin('/api/stations/s9/incidents');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'E_STATION_NOT_FOUND' });
  });
});

describe('health and metrics', () => {
  it('livez, readyz (Redis PING + live subscription) and metrics', async () => {
    expect((await app.inject('/livez')).json()).toEqual({ ok: true });
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ ok: true, redis: 'up', live: 'subscribed', registryVersion: 1 });
    const metrics = await app.inject('/metrics');
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    // Requests are labelled by route pattern, never by the ids in the URL.
    expect(metrics.body).toContain('route="/api/stations/:stationId/incidents"');
    expect(metrics.body).toMatch(
      /hub_dashboard_http_requests_total\{route="\/api\/incidents",method="GET",status="400"/,
    );
    expect(metrics.body).not.toContain('s9');
    expect(metrics.body).toContain('hub_dashboard_sse_clients');
    expect(metrics.body).toContain('hub_dashboard_live_messages_in_total');
  });

  it('/docs serves OpenAPI generated from the zod schemas, and Swagger UI', async () => {
    const res = await app.inject('/docs/json');
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/auth/login',
        '/api/incidents',
        '/api/incidents/{incidentId}/actions',
        '/api/stations/{stationId}/incidents',
        '/livez',
        '/readyz',
        '/metrics',
      ]),
    );
    // Pages and static files are not API.
    expect(Object.keys(doc.paths)).not.toContain('/station/{stationId}');
    const action = doc.paths['/api/incidents/{incidentId}/actions'].post;
    const body = action.requestBody.content['application/json'].schema;
    expect(body.properties.type.enum).toEqual(['accept', 'decline', 'en_route', 'on_scene', 'close']);
    expect(body.properties.disposition.enum).toContain('false_cooking');
    expect(body.additionalProperties).toBe(false);
    const query = doc.paths['/api/incidents'].get.parameters;
    expect(query.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['state', 'limit']));
    expect(doc.components.securitySchemes.session).toMatchObject({ in: 'cookie', name: 'hub_session' });
    const ui = await app.inject('/docs');
    expect([200, 302]).toContain(ui.statusCode);
    const page = ui.statusCode === 302 ? await app.inject(ui.headers.location as string) : ui;
    expect(page.body).toContain('swagger');
  });

  it('unknown API routes answer 404 with a code', async () => {
    const res = await admin('/api/nothing-here');
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('E_NOT_FOUND');
  });
});
