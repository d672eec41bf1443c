import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cleanupPrefix, testKeys, testRedis, waitFor } from '@hub/registry/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onenetSignature } from '../src/carrier-push.js';
import { createCarrierRoutes } from '../src/carrier-routes.js';
import type { LineSink } from '../src/influx-writer.js';
import { TelemetryPipeline } from '../src/telemetry-pipeline.js';
import { recordingLogger, SMOKE, smokeTelemetry, snapshot } from './fixtures.js';

/**
 * Carrier routes over real HTTP with the real Redis (duplicate markers, event streams)
 * and the real pipeline (lines land in a recording sink). Device `sd-1` is OneNET
 * dev_id "1" and CTWing deviceId "1" with the id prefix "sd-".
 */
const redis = testRedis();
const keys = testKeys('carrier');
const TOKEN = 'onenet-token-123';
const CT = 'ctwing-secret-456';
const lines: string[] = [];
const sink: LineSink = {
  write(l, n) {
    for (let i = 0; i < n; i++) lines.push(l[i]!);
    return true;
  },
};
const pipeline = new TelemetryPipeline({
  registry: { current: snapshot() },
  sink,
  logger: recordingLogger().logger,
});
const routes = createCarrierRoutes({
  redis,
  keys,
  registry: { current: snapshot() },
  handle: (topic, payload, at) => pipeline.handleMessage(topic, payload, at),
  onenetToken: TOKEN,
  ctwingToken: CT,
  idPrefix: 'sd-',
});
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer(routes.handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await cleanupPrefix(redis, keys);
  redis.disconnect();
});

function onenetBody(msg: unknown, nonce: string, token = TOKEN, spacing = ''): string {
  // The signature is over the msg text as sent (here with odd spacing, to prove we do not re-serialize).
  const msgText = JSON.stringify(msg, null, spacing);
  return `{"msg":${msgText},"nonce":"${nonce}","msg_signature":"${onenetSignature(token, nonce, msgText)}"}`;
}

const post = (path: string, body: string) =>
  fetch(base + path, { method: 'POST', body, headers: { 'content-type': 'application/json' } });

describe('OneNET route', () => {
  it('answers the URL verification with msg when the signature matches, 403 otherwise', async () => {
    const sig = onenetSignature(TOKEN, 'n0', 'hello');
    const ok = await fetch(`${base}/carrier/onenet?msg=hello&nonce=n0&signature=${encodeURIComponent(sig)}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('hello');
    const bad = await fetch(`${base}/carrier/onenet?msg=hello&nonce=n1&signature=${encodeURIComponent(sig)}`);
    expect(bad.status).toBe(403);
  });

  it('rejects a bad signature (403, nothing fed), accepts a good one, drops the retry of the same push', async () => {
    const ts = Date.now() - 1000;
    const msg = { type: 1, dev_id: 1, ds_id: 'telemetry', at: ts, value: smokeTelemetry(ts) };
    const before = lines.length;
    const forged = await post('/carrier/onenet', onenetBody(msg, 'n2', 'wrong-token'));
    expect(forged.status).toBe(403);
    expect(routes.stats.badSignature).toBeGreaterThan(0);

    const body = onenetBody(msg, 'n3', TOKEN, ' ');
    const first = await post('/carrier/onenet', body);
    expect(first.status).toBe(200);
    await waitFor('line', () => lines.length > before);
    const retry = await post('/carrier/onenet', body);
    expect(retry.status).toBe(200);
    await waitFor('duplicate counted', () => routes.stats.duplicates >= 1);
    expect(lines.length).toBe(before + 1);
    expect(lines[before]).toMatch(/^smoke,device=sd-1,kind=smoke,model=NB-SD01,township=tw-1 /);
  });

  it('writes an alarm durably to the fire stream before answering; a retry adds nothing', async () => {
    const ts = Date.now();
    const alarm = { v: 1, id: 'al-1', ts, seq: 9, type: 'alarm', value: 12.5 };
    const body = onenetBody([{ type: 1, dev_id: 1, ds_id: 'event', at: ts, value: alarm }], 'n4');
    expect((await post('/carrier/onenet', body)).status).toBe(200);
    // Stored before the 200: no waiting needed.
    const fire = await redis.xrange(keys.fireEvents, '-', '+');
    expect(fire).toHaveLength(1);
    expect(fire[0]![1]).toEqual(['d', SMOKE.id, 'p', JSON.stringify(alarm), 'r', expect.any(String)]);
    expect((await post('/carrier/onenet', body)).status).toBe(200);
    expect(await redis.xlen(keys.fireEvents)).toBe(1);
  });
});

describe('CTWing route', () => {
  it('rejects a wrong token with 403, takes a dataReport and drops its retry', async () => {
    const ts = Date.now() - 2000;
    const push = JSON.stringify({
      messageType: 'dataReport',
      deviceId: '1',
      IMEI: '860000000000001',
      timestamp: ts,
      payload: { APPdata: Buffer.from(JSON.stringify(smokeTelemetry(ts, { seq: 77 }))).toString('base64') },
      upPacketSN: -1,
    });
    expect((await post('/carrier/ctwing/not-the-token', push)).status).toBe(403);
    const before = lines.length;
    expect((await post(`/carrier/ctwing/${CT}`, push)).status).toBe(200);
    await waitFor('line', () => lines.length > before);
    const dups = routes.stats.duplicates;
    expect((await post(`/carrier/ctwing/${CT}`, push)).status).toBe(200);
    await waitFor('duplicate counted', () => routes.stats.duplicates > dups);
    expect(lines.length).toBe(before + 1);
    expect(lines[before]).toContain('seq=77i');
  });

  it('answers 400 to a body that is not JSON and 413 to one over the bound', async () => {
    expect((await post(`/carrier/ctwing/${CT}`, '{not json')).status).toBe(400);
    const huge = await post(`/carrier/ctwing/${CT}`, 'x'.repeat(300 * 1024)).catch(() => undefined);
    expect(huge === undefined || huge.status === 413).toBe(true);
  });
});
