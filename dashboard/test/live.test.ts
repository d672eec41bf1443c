import type { AddressInfo } from 'node:net';
import type { LiveMessage, PageMessage } from '@hub/protocol';
import { cleanupPrefix, testKeys, testRedis } from '@hub/registry/test-support';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/build-app.js';
import { addAccounts, CAST, login } from './support/auth.js';
import { buildings, makeIncident, T0, testSnapshot, waitFor } from './support/fixtures.js';
import { SseReader } from './support/sse-reader.js';

const keys = testKeys('dash_live');
let redis: Redis;
let subscriber: Redis;
let app: FastifyInstance;
let base: string;
const readers: SseReader[] = [];

function page(stationId: string, incidentId: string, room = '301'): PageMessage {
  const b = buildings[0]!;
  return {
    v: 1,
    type: 'page',
    pageId: `${incidentId}-1-${stationId}`,
    incidentId,
    stationId,
    lane: 'fire',
    step: 1,
    verification: 'unverified',
    building: {
      id: b.id,
      name: b.name,
      address: b.address,
      lat: b.lat,
      lon: b.lon,
      occupancy: b.occupancy,
      floors: b.floors,
      contacts: b.contacts,
    },
    floor: 3,
    room,
    deviceIds: ['d000001'],
    distanceM: 145,
    alarmTs: T0,
    receivedAt: T0 + 10,
    sentAt: T0 + 12,
    acceptBy: T0 + 30_000,
  };
}

async function publish(msg: LiveMessage | string): Promise<void> {
  await redis.publish(keys.live, typeof msg === 'string' ? msg : JSON.stringify(msg));
}

const cookies = new Map<string, string>();

/** The officer of the station for a station stream, the admin otherwise (or `as`). */
function cookieFor(path: string, as?: string): string {
  const m = /^\/api\/stations\/([^/]+)\/live$/.exec(path);
  return cookies.get(as ?? (m !== null && cookies.has(`off-${m[1]}`) ? `off-${m[1]}` : 'admin')) ?? '';
}

async function open(path: string, as?: string): Promise<SseReader> {
  const r = await SseReader.open(base + path, cookieFor(path, as));
  readers.push(r);
  return r;
}

async function openReady(path: string, as?: string): Promise<SseReader> {
  const r = await open(path, as);
  await waitFor(() => r.of('hello').length > 0, 10_000, `hello on ${path}`);
  return r;
}

beforeAll(async () => {
  redis = testRedis();
  subscriber = testRedis();
  app = buildApp({
    redis,
    subscriber,
    keys,
    registry: { current: testSnapshot() },
    live: { heartbeatMs: 100, maxStreams: 6, maxBufferedBytes: 64 * 1024 },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  await addAccounts(redis, keys, CAST);
  for (const a of CAST) cookies.set(a.username, await login(app, a.username));
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterEach(() => {
  for (const r of readers.splice(0)) r.close();
});

afterAll(async () => {
  await app.close();
  await cleanupPrefix(redis, keys);
  redis.disconnect();
  subscriber.disconnect();
});

describe('live streams over a real socket', () => {
  it('opens with SSE headers, a retry hint and a hello carrying server time', async () => {
    const r = await openReady('/api/stations/s1/live');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(r.headers['cache-control']).toContain('no-cache');
    expect(r.retry).toBe(3000);
    const [hello] = r.of('hello') as Array<{ now: number; scope: string; stationId: string }>;
    expect(hello).toMatchObject({ scope: 'station', stationId: 's1' });
    expect(typeof hello!.now).toBe('number');
  });

  it('a page reaches the paged station and the township, never another station', async () => {
    const s1 = await openReady('/api/stations/s1/live');
    const s2 = await openReady('/api/stations/s2/live');
    const town = await openReady('/api/live');

    await publish({ type: 'page', page: page('s1', 'inc-p1') });
    // A marker for s2 published after: once s2 has it, s2 would have had the first too.
    await publish({ type: 'page', page: page('s2', 'inc-marker') });

    await waitFor(() => s1.of('page').length >= 1, 10_000, 's1 page');
    await waitFor(() => s2.of('page').length >= 1, 10_000, 's2 marker');
    await waitFor(() => town.of('page').length >= 2, 10_000, 'township pages');

    expect((s1.of('page') as Array<{ page: PageMessage }>).map((m) => m.page.incidentId)).toEqual(['inc-p1']);
    expect((s2.of('page') as Array<{ page: PageMessage }>).map((m) => m.page.incidentId)).toEqual([
      'inc-marker',
    ]);
    expect((town.of('page') as Array<{ page: PageMessage }>).map((m) => m.page.incidentId)).toEqual([
      'inc-p1',
      'inc-marker',
    ]);
    expect((s1.of('page')[0] as { page: PageMessage }).page).toEqual(page('s1', 'inc-p1'));
  });

  it('an incident reaches every station it paged (once each), enriched with the building', async () => {
    const s1 = await openReady('/api/stations/s1/live');
    const s2 = await openReady('/api/stations/s2/live');
    const s3 = await openReady('/api/stations/s3/live');

    const incident = makeIncident('inc-i1', { pagedStations: ['s1', 's2', 's1'], step: 3 });
    await publish({ type: 'incident', incident });
    await publish({ type: 'incident', incident: makeIncident('inc-marker3', { pagedStations: ['s3'] }) });

    await waitFor(() => s3.of('incident').length >= 1, 10_000, 's3 marker');
    await waitFor(() => s1.of('incident').length >= 1 && s2.of('incident').length >= 1, 10_000, 's1+s2');
    await publish({ type: 'incident', incident: makeIncident('inc-marker1', { pagedStations: ['s1'] }) });
    await waitFor(() => s1.of('incident').length >= 2, 10_000, 's1 marker');

    const s1ids = (s1.of('incident') as Array<{ incident: { id: string } }>).map((m) => m.incident.id);
    expect(s1ids).toEqual(['inc-i1', 'inc-marker1']);
    expect((s3.of('incident') as Array<{ incident: { id: string } }>).map((m) => m.incident.id)).toEqual([
      'inc-marker3',
    ]);
    const got = (s2.of('incident')[0] as { incident: Record<string, unknown> }).incident;
    expect(got).toMatchObject({ id: 'inc-i1', state: 'paging', building: { id: 'b1', name: '东坑村1号' } });
  });

  it('an accepting station that is not in pagedStations still gets the incident', async () => {
    const s3 = await openReady('/api/stations/s3/live');
    await publish({
      type: 'incident',
      incident: makeIncident('inc-acc', { pagedStations: ['s1'], stationId: 's3', state: 'accepted' }),
    });
    await waitFor(() => s3.of('incident').length >= 1, 10_000, 's3 incident');
  });

  it('ignores and counts invalid live messages without breaking streams', async () => {
    const s1 = await openReady('/api/stations/s1/live');
    await publish('not json');
    await publish(JSON.stringify({ type: 'page', page: { nope: true } }));
    await publish(JSON.stringify({ type: 'gossip' }));
    await publish({ type: 'page', page: page('s1', 'inc-after-bad') });
    await waitFor(() => s1.of('page').length >= 1, 10_000, 'page after bad ones');
    expect(s1.events.filter((e) => e.event !== 'hello' && e.event !== 'page')).toEqual([]);
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toMatch(/hub_dashboard_live_messages_in_total\{type="invalid",service="dashboard"\} 3/);
  });

  it('sends heartbeat comments', async () => {
    const r = await openReady('/api/live');
    await waitFor(() => r.comments.filter((c) => c.startsWith('hb')).length >= 2, 10_000, 'heartbeats');
  });

  it('holds ONE Redis subscription to the live channel whatever the number of streams', async () => {
    await openReady('/api/live');
    await openReady('/api/stations/s1/live');
    await openReady('/api/stations/s1/live');
    const [, count] = (await redis.pubsub('NUMSUB', keys.live)) as [string, number];
    expect(count).toBe(1);
  });

  it('counts streams in the sse_clients gauge and forgets closed ones', async () => {
    const a = await openReady('/api/stations/s2/live');
    await waitFor(
      async () =>
        /hub_dashboard_sse_clients\{scope="station",service="dashboard"\} 1\b/.test(
          (await app.inject('/metrics')).body,
        ),
      10_000,
      'gauge 1',
    );
    a.close();
    await waitFor(
      async () =>
        /hub_dashboard_sse_clients\{scope="station",service="dashboard"\} 0\b/.test(
          (await app.inject('/metrics')).body,
        ),
      10_000,
      'gauge 0',
    );
  });

  it('404s the stream of an unknown station with a code', async () => {
    const r = await open('/api/stations/s9/live');
    expect(r.status).toBe(404);
  });

  it('needs a session, keeps officers to their own station and operators to their township', async () => {
    const anon = await fetch(`${base}/api/live`);
    expect(anon.status).toBe(401);
    expect(await anon.json()).toMatchObject({ code: 'E_UNAUTHENTICATED' });
    const other = await fetch(`${base}/api/stations/s2/live`, {
      headers: { cookie: cookies.get('off-s1')! },
    });
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ code: 'E_OTHER_STATION' });
    const officerTownship = await fetch(`${base}/api/live`, { headers: { cookie: cookies.get('off-s1')! } });
    expect(officerTownship.status).toBe(403);
    expect(await officerTownship.json()).toMatchObject({ code: 'E_FORBIDDEN_ROLE' });
    const foreign = await fetch(`${base}/api/stations/s1/live`, {
      headers: { cookie: cookies.get('op-tw2')! },
    });
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ code: 'E_OTHER_TOWNSHIP' });

    // An operator of another township opens a township stream but never sees tw1's incidents.
    const tw2 = await openReady('/api/live', 'op-tw2');
    const tw1 = await openReady('/api/live', 'op-tw1');
    await publish({ type: 'incident', incident: makeIncident('inc-tw1') });
    await publish({ type: 'incident', incident: makeIncident('inc-tw2', { township: 'tw2' }) });
    await waitFor(() => tw2.of('incident').length >= 1, 10_000, 'tw2 incident');
    await waitFor(() => tw1.of('incident').length >= 1, 10_000, 'tw1 incident');
    expect((tw2.of('incident') as Array<{ incident: { id: string } }>).map((m) => m.incident.id)).toEqual([
      'inc-tw2',
    ]);
    expect((tw1.of('incident') as Array<{ incident: { id: string } }>).map((m) => m.incident.id)).toEqual([
      'inc-tw1',
    ]);
  });

  it('hazard tickets reach township streams only, enriched with the building', async () => {
    const s1 = await openReady('/api/stations/s1/live');
    const tw1 = await openReady('/api/live', 'op-tw1');
    const tw2 = await openReady('/api/live', 'op-tw2');
    const ticket = { id: 'HZ-1', township: 'tw1', buildingId: 'b1', lane: 'electrical', state: 'open' };
    await publish(JSON.stringify({ type: 'ticket', ticket }));
    await publish({ type: 'incident', incident: makeIncident('inc-after-ticket') });
    await waitFor(
      () => tw1.of('ticket').length === 1 && s1.of('incident').length >= 1,
      10_000,
      'ticket on tw1',
    );
    const [msg] = tw1.of('ticket') as Array<{ ticket: { id: string; building: { name: string } } }>;
    expect(msg!.ticket).toMatchObject({ id: 'HZ-1', building: { name: '东坑村1号' } });
    expect(s1.of('ticket')).toEqual([]);
    expect(tw2.of('ticket')).toEqual([]);
  });

  it("revoking a station's sessions (shift change) ends its officers' open streams", async () => {
    const extra = 'off-s3';
    const s3 = await openReady('/api/stations/s3/live', extra);
    const town = await openReady('/api/live');
    const res = await app.inject({
      method: 'POST',
      url: '/api/sessions/revoke',
      headers: { 'content-type': 'application/json', cookie: cookies.get('op-tw1')! },
      payload: JSON.stringify({ stationId: 's3' }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ revoked: 1 });
    await waitFor(() => s3.ended, 10_000, 's3 stream ended');
    expect(town.ended).toBe(false);
    const again = await fetch(`${base}/api/stations/s3/live`, { headers: { cookie: cookies.get(extra)! } });
    expect(again.status).toBe(401);
    cookies.set(extra, await login(app, extra));
  });

  it('refuses streams beyond the limit with 503 E_TOO_MANY_STREAMS', async () => {
    for (let i = 0; i < 6; i++) await openReady('/api/live');
    const res = await fetch(`${base}/api/live`, { headers: { cookie: cookieFor('/api/live') } });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: 'E_TOO_MANY_STREAMS' });
  });

  it('drops a client that does not read, and counts the drop', async () => {
    const fast = await openReady('/api/live');
    const slow = await openReady('/api/stations/s1/live');
    slow.pause();
    const big = page('s1', 'inc-big', 'x'.repeat(40_000));
    // Publish until the server gives up on the slow client (its queue bound is 64 KiB
    // on top of what the kernel buffers), bounded so a bug cannot loop forever.
    for (let i = 0; i < 1_000; i++) {
      await publish({ type: 'page', page: big });
      if (i % 20 === 19) {
        const m = (await app.inject('/metrics')).body;
        if (/hub_dashboard_sse_dropped_total\{reason="slow",service="dashboard"\} 1\b/.test(m)) break;
      }
    }
    await waitFor(
      async () =>
        /hub_dashboard_sse_dropped_total\{reason="slow",service="dashboard"\} 1\b/.test(
          (await app.inject('/metrics')).body,
        ),
      10_000,
      'drop counted',
    );
    // The reader that keeps up is still served.
    const before = fast.of('page').length;
    await publish({ type: 'page', page: page('s2', 'inc-after-drop') });
    await waitFor(() => fast.of('page').length > before, 20_000, 'fast reader still served');
  });
});

describe('shutdown', () => {
  it('app.close() ends open streams first and completes', async () => {
    const r = await openReady('/api/live');
    const s = await openReady('/api/stations/s1/live');
    await app.close();
    await waitFor(() => r.ended && s.ended, 10_000, 'streams ended');
    const [, count] = (await redis.pubsub('NUMSUB', keys.live)) as [string, number];
    expect(count).toBe(0);
  });
});
