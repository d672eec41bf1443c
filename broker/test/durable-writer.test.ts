import { EVENT_STREAM_FIELDS } from '@hub/protocol';
import { cleanupPrefix, testKeys, testRedis, testRedisUrl } from '@hub/registry/test-support';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurableWriter } from '../src/durable-writer.js';
import { durableRedis } from './support/broker-fixture.js';
import { closedPort } from './support/gate-proxy.js';

/** Calls of one Redis command so far (INFO commandstats). */
async function calls(redis: Redis, command: string): Promise<number> {
  const info = await redis.info('commandstats');
  const m = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
  return m ? Number(m[1]) : 0;
}

interface Outcome {
  err: Error | null;
  added: boolean;
}

/** Records `n` events in one synchronous run (one event-loop turn) and waits for all. */
function recordMany(w: DurableWriter, stream: string, ids: string[], device = 'dev-1'): Promise<Outcome[]> {
  return Promise.all(
    ids.map(
      (id, i) =>
        new Promise<Outcome>((resolve) =>
          w.recordEvent(stream, device, id, `{"id":"${id}","n":${i}}`, 1_000 + i, (err, added) =>
            resolve({ err, added }),
          ),
        ),
    ),
  );
}

describe('DurableWriter: one script call per event-loop turn (real Redis)', () => {
  const keys = testKeys('durable-writer');
  let admin: Redis;
  let conn: Redis;

  beforeAll(async () => {
    admin = testRedis();
    conn = durableRedis(testRedisUrl());
    // No offline queue: commands before 'ready' would fail.
    await new Promise<void>((resolve) => conn.once('ready', () => resolve()));
  });
  afterAll(async () => {
    await cleanupPrefix(admin, keys);
    admin.disconnect();
    conn.disconnect();
  });

  it('300 events of one turn go out as 2 calls (maxBatch 256), each stored once, in order', async () => {
    const w = new DurableWriter(conn, keys, { streamMaxLen: 100_000, seenTtlS: 60 });
    await w.load();
    const before = await calls(admin, 'evalsha');
    const ids = Array.from({ length: 300 }, (_, i) => `e${i}`);
    const out = await recordMany(w, keys.otherEvents, ids);
    const after = await calls(admin, 'evalsha');
    expect(out.every((o) => o.err === null && o.added)).toBe(true);
    // The admin connection's INFO is not an EVALSHA; the shared test Redis may serve
    // other test files' EVALSHAs meanwhile, so at least 2, and far fewer than 300.
    expect(after - before).toBeGreaterThanOrEqual(2);
    expect(after - before).toBeLessThan(20);
    const entries = await admin.xrange(keys.otherEvents, '-', '+');
    expect(entries).toHaveLength(300);
    const F = EVENT_STREAM_FIELDS;
    const payloads = entries.map(([, fields]) => fields[fields.indexOf(F.payload) + 1]);
    expect(payloads[0]).toBe('{"id":"e0","n":0}');
    expect(payloads[299]).toBe('{"id":"e299","n":299}');
    expect(w.pending).toBe(0);
  });

  it('a retry in the same batch and one in a later batch are duplicates, never a second entry', async () => {
    const w = new DurableWriter(conn, keys, { streamMaxLen: 100_000, seenTtlS: 60 });
    const stream = keys.fireEvents;
    const first = await recordMany(w, stream, ['a1', 'a2', 'a1'], 'dev-2');
    expect(first.map((o) => o.added)).toEqual([true, true, false]);
    const again = await recordMany(w, stream, ['a2'], 'dev-2');
    expect(again).toEqual([{ err: null, added: false }]);
    // The same event id from another device is another event.
    const other = await recordMany(w, stream, ['a1'], 'dev-3');
    expect(other).toEqual([{ err: null, added: true }]);
    expect(await admin.xlen(stream)).toBe(3);
  });

  it('a fire alarm goes alone, at once, ahead of the batch gathered this turn', async () => {
    const sizes: number[] = [];
    const w = new DurableWriter(conn, keys, {
      streamMaxLen: 100_000,
      seenTtlS: 60,
      onBatch: (n) => sizes.push(n),
    });
    const order: string[] = [];
    const record = (stream: string, id: string, urgent: boolean) =>
      new Promise<void>((resolve) =>
        w.recordEvent(
          stream,
          'dev-5',
          id,
          `{"id":"${id}"}`,
          1,
          (err) => {
            expect(err).toBeNull();
            order.push(id);
            resolve();
          },
          urgent,
        ),
      );
    const [fire0, other0] = await Promise.all([admin.xlen(keys.fireEvents), admin.xlen(keys.otherEvents)]);
    const all = [record(keys.otherEvents, 't1', false), record(keys.otherEvents, 't2', false)];
    all.push(record(keys.fireEvents, 'alarm1', true));
    expect(sizes).toEqual([1]); // sent before the turn ends; t1 and t2 still wait
    expect(w.pending).toBe(2);
    await Promise.all(all);
    expect(sizes).toEqual([1, 2]);
    expect(order).toEqual(['alarm1', 't1', 't2']);
    expect(await admin.xlen(keys.fireEvents)).toBe(fire0 + 1);
    expect(await admin.xlen(keys.otherEvents)).toBe(other0 + 2);
  });

  it('when Redis is away every event of the batch fails (no PUBACK for any of them)', async () => {
    const port = await closedPort();
    const away = durableRedis(`redis://127.0.0.1:${port}`, { lazyConnect: true, retryStrategy: () => null });
    away.connect().catch(() => undefined);
    const w = new DurableWriter(away, keys, { streamMaxLen: 100, seenTtlS: 60 });
    const out = await recordMany(w, keys.otherEvents, ['x1', 'x2', 'x3'], 'dev-4');
    expect(out).toHaveLength(3);
    for (const o of out) {
      expect(o.err).toBeInstanceOf(Error);
      expect(o.added).toBe(false);
    }
    away.disconnect();
  });
});
