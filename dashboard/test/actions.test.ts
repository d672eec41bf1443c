import { ACTION_STREAM_FIELDS, stationReplySchema } from '@hub/protocol';
import { cleanupPrefix, testKeys, testRedis } from '@hub/registry/test-support';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/build-app.js';
import { addAccounts, CAST, login } from './support/auth.js';
import { makeIncident, T0, testSnapshot, writeIncident } from './support/fixtures.js';

const keys = testKeys('dash_actions');
const NOW = T0 + 7_000;
let redis: Redis;
let subscriber: Redis;
let app: FastifyInstance;

async function streamEntries(): Promise<Array<{ id: string; fields: Record<string, string> }>> {
  const raw = await redis.xrange(keys.actions, '-', '+');
  return raw.map(([id, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
    return { id, fields };
  });
}

const cookies = new Map<string, string>();

/** Posts an action as the officer of `stationId` (the station comes from the session). */
function post(stationId: string, incidentId: string, payload: unknown, contentType = 'application/json') {
  return app.inject({
    method: 'POST',
    url: `/api/incidents/${incidentId}/actions`,
    headers: { 'content-type': contentType, cookie: cookies.get(stationId) ?? '' },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
}

beforeAll(async () => {
  redis = testRedis();
  subscriber = testRedis();
  app = buildApp({ redis, subscriber, keys, registry: { current: testSnapshot() }, clock: () => NOW });
  await app.ready();
  await addAccounts(redis, keys, CAST);
  for (const s of ['s1', 's2', 's3']) cookies.set(s, await login(app, `off-${s}`));
  cookies.set('op', await login(app, 'op-tw1'));
  await writeIncident(redis, keys, makeIncident('inc-1', { pagedStations: ['s1', 's2'] }));
  await writeIncident(
    redis,
    keys,
    makeIncident('inc-closed', { state: 'closed', stationId: 's1', closedAt: T0 + 1, disposition: 'test' }),
  );
});

beforeEach(async () => {
  await redis.del(keys.actions);
});

afterAll(async () => {
  await app.close();
  await cleanupPrefix(redis, keys);
  redis.disconnect();
  subscriber.disconnect();
});

describe('POST /api/incidents/:incidentId/actions', () => {
  it('queues an accept on the actions stream with fields s/j/r and answers 202', async () => {
    const res = await post('s1', 'inc-1', { type: 'accept', officerId: 's1-o1' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ queued: true });
    const entries = await streamEntries();
    expect(entries).toHaveLength(1);
    const fields = entries[0]!.fields;
    expect(Object.keys(fields)).toEqual([
      ACTION_STREAM_FIELDS.stationId,
      ACTION_STREAM_FIELDS.reply,
      ACTION_STREAM_FIELDS.receivedAt,
    ]);
    expect(fields.s).toBe('s1');
    expect(fields.r).toBe(String(NOW));
    const reply = stationReplySchema.parse(JSON.parse(fields.j!));
    expect(reply).toEqual({ v: 1, type: 'accept', incidentId: 'inc-1', officerId: 's1-o1', ts: NOW });
    // Without an officerId, the session's username is recorded.
    await post('s1', 'inc-1', { type: 'en_route' });
    const second = (await streamEntries())[1]!;
    expect(JSON.parse(second.fields.j!).officerId).toBe('off-s1');
    expect(res.json().entryId).toBe(entries[0]!.id);
  });

  it('queues a close with its disposition and note', async () => {
    const res = await post('s2', 'inc-1', {
      type: 'close',
      disposition: 'false_steam_dust',
      note: '浴室蒸汽',
    });
    expect(res.statusCode).toBe(202);
    const [entry] = await streamEntries();
    expect(entry!.fields.s).toBe('s2');
    expect(JSON.parse(entry!.fields.j!)).toEqual({
      v: 1,
      type: 'close',
      incidentId: 'inc-1',
      officerId: 'off-s2',
      disposition: 'false_steam_dust',
      note: '浴室蒸汽',
      ts: NOW,
    });
  });

  it.each([
    ['an unknown type', { type: 'dance' }],
    ['no type', {}],
    ['close without a disposition', { type: 'close' }],
    ['an unknown disposition', { type: 'close', disposition: 'aliens' }],
    ['an over-long note', { type: 'accept', note: 'x'.repeat(501) }],
    ['an over-long officer id', { type: 'accept', officerId: 'o'.repeat(65) }],
    ['a station id in the body', { type: 'accept', stationId: 's2' }],
    ['a non-object body', [1, 2]],
  ])('rejects %s with 400 E_BAD_BODY and queues nothing', async (_what, body) => {
    const res = await post('s1', 'inc-1', body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'E_BAD_BODY' });
    expect(await streamEntries()).toEqual([]);
  });

  it('rejects invalid JSON with 400 E_BAD_JSON', async () => {
    const res = await post('s1', 'inc-1', '{"type":');
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('E_BAD_JSON');
  });

  it('rejects a non-JSON content type with 415', async () => {
    const res = await post('s1', 'inc-1', 'type=accept', 'application/x-www-form-urlencoded');
    expect(res.statusCode).toBe(415);
    expect(res.json().code).toBe('E_UNSUPPORTED_MEDIA_TYPE');
  });

  it('404s an unknown incident', async () => {
    const noIncident = await post('s1', 'inc-nope', { type: 'accept' });
    expect(noIncident.statusCode).toBe(404);
    expect(noIncident.json().code).toBe('E_INCIDENT_NOT_FOUND');
    expect(await streamEntries()).toEqual([]);
  });

  it('401s without a session and 403s a township operator (not a station)', async () => {
    const anon = await post('nobody', 'inc-1', { type: 'accept' });
    expect(anon.statusCode).toBe(401);
    expect(anon.json().code).toBe('E_UNAUTHENTICATED');
    const op = await post('op', 'inc-1', { type: 'accept' });
    expect(op.statusCode).toBe(403);
    expect(op.json().code).toBe('E_FORBIDDEN_ROLE');
    expect(await streamEntries()).toEqual([]);
  });

  it("ignores a station id in the query string: the station is always the session's", async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/incidents/inc-1/actions?stationId=s2',
      headers: { 'content-type': 'application/json', cookie: cookies.get('s1')! },
      payload: JSON.stringify({ type: 'accept' }),
    });
    expect(res.statusCode).toBe(202);
    expect((await streamEntries())[0]!.fields.s).toBe('s1');
  });

  it('403s a station that was not paged for the incident', async () => {
    const res = await post('s3', 'inc-1', { type: 'accept' });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('E_STATION_NOT_PAGED');
    expect(await streamEntries()).toEqual([]);
  });

  it('409s an action on a closed incident', async () => {
    const res = await post('s1', 'inc-closed', { type: 'en_route' });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('E_INCIDENT_CLOSED');
    expect(await streamEntries()).toEqual([]);
  });

  it('400s malformed path ids', async () => {
    const res = await post('s1', 'inc:1', { type: 'accept' });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('E_BAD_PARAMS');
  });
});
