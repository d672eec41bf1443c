import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEntry, Incident } from '@hub/protocol';
import { RegistrySnapshot } from '@hub/registry';
import { cleanupPrefix, testKeys, testRedis } from '@hub/registry/test-support';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsKeys } from '../src/alerts-keys.js';
import { type NoticeOutboxEntry, noticeOutboxField } from '../src/incident-store.js';
import { Notifier } from '../src/notifier.js';
import type { Delivery } from '../src/webhook-channel.js';
import { b1, devices, stations, township } from './fixtures.js';
import { harnessPerTest, quietLogger, waitFor } from './harness.js';

/**
 * The signed webhook channel against a real local HTTP gateway that fails the first
 * attempts of every delivery: retries with backoff until it answers 2xx, every
 * attempt an audit line, every request verifiable with the Standard Webhooks
 * library. And the notifier's rotation and per-number throttling with a real Redis.
 */
const SECRET = `whsec_${Buffer.from('test-secret-for-the-gateway-0123').toString('base64')}`;

interface Received {
  id: string;
  attempt: number;
  body: Record<string, unknown>;
  verified: boolean;
}

let gateway: Server;
let gatewayUrl = '';
const received: Received[] = [];
const attemptsById = new Map<string, number>();
const FAIL_FIRST = 2;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    req.on('data', (c: Buffer) => {
      s += c.toString();
    });
    req.on('end', () => resolve(s));
  });
}

const newHarness = harnessPerTest();

/** The channel's settings for the test gateway: quick retries, a small queue. */
const webhookTo = (url: string) => ({
  url,
  secret: SECRET,
  maxAttempts: 5,
  backoffMs: 50,
  timeoutMs: 2_000,
  maxQueued: 100,
});

beforeAll(async () => {
  const verifier = new Webhook(SECRET);
  gateway = createServer(async (req, res) => {
    const body = await readBody(req);
    const id = String(req.headers['webhook-id']);
    const n = (attemptsById.get(id) ?? 0) + 1;
    attemptsById.set(id, n);
    let verified = false;
    try {
      verifier.verify(body, req.headers as Record<string, string>);
      verified = true;
    } catch {
      verified = false;
    }
    received.push({ id, attempt: n, body: JSON.parse(body) as Record<string, unknown>, verified });
    res.statusCode = n <= FAIL_FIRST ? 503 : 200;
    res.end();
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/hooks`;
});
afterAll(async () => {
  await new Promise((r) => gateway.close(r));
});

describe('signed webhook channel', () => {
  it('delivers a page by SMS and voice through a failing gateway, retrying, auditing every attempt', async () => {
    const h = await newHarness('webhook_page');
    await h.startService(
      {},
      {
        webhook: webhookTo(gatewayUrl),
        throttleMs: { sms: 0, voice: 60_000, wecom: 0 },
      },
    );
    await h.publishEvent('D1', 'alarm');
    await waitFor('the MQTT page', () => h.pagesFor('S-NEAR').length > 0);
    const mine = () =>
      received.filter(
        (r) => String(r.body.incidentId) === 'INC-000001' && r.id.startsWith('INC-000001-page'),
      );
    await waitFor(
      'SMS and voice delivered after the failures',
      () => {
        const ok = mine().filter((r) => r.attempt === FAIL_FIRST + 1);
        return ok.length === 2 && ok;
      },
      20_000,
    );
    const all = mine();
    expect(all.every((r) => r.verified)).toBe(true);
    expect(new Set(all.map((r) => r.body.channel))).toEqual(new Set(['sms', 'voice']));
    expect(all.find((r) => r.body.channel === 'voice')?.body.to).toBe('13900000000');
    // Same webhook-id across the retries (the gateway's idempotency key).
    expect(all.filter((r) => r.body.channel === 'sms').map((r) => r.attempt)).toEqual([1, 2, 3]);

    const audit = await waitFor('three attempts per delivery in the audit', async () => {
      const a = (await h.redis.lrange(h.keys.incidentAudit('INC-000001'), 0, -1)).map(
        (s) => JSON.parse(s) as AuditEntry,
      );
      const d = a.filter((e) => e.kind.startsWith('delivery_'));
      return d.length >= 6 && d;
    });
    for (const ch of ['sms', 'voice']) {
      expect(audit.filter((a) => a.channel === ch).map((a) => a.kind)).toEqual([
        'delivery_retry',
        'delivery_retry',
        'delivery_sent',
      ]);
    }
    expect(audit.find((a) => a.kind === 'delivery_sent')?.detail).toContain('attempt 3, HTTP 200');
  });
});

describe('notices in the outbox', () => {
  it('a notice committed but never queued (crash) is queued by the sweeper', async () => {
    const h = await newHarness('webhook_outbox');
    const akeys = alertsKeys(h.keys);
    const notice = {
      kind: 'fire_office' as const,
      incidentId: 'INC-000077',
      stationId: null,
      step: 4,
      text: 'no station accepted',
    };
    const entry: NoticeOutboxEntry = {
      notice,
      incident: { id: 'INC-000077', township: 'T1', grid: 'G1' },
      createdAt: Date.now() - 60_000,
    };
    await h.redis.hset(akeys.outbox, noticeOutboxField(notice, 0), JSON.stringify(entry));
    await h.startService(
      {},
      {
        webhook: webhookTo(gatewayUrl),
      },
    );
    const got = await waitFor(
      'the fire office called and texted',
      () => {
        const r = received.filter((x) => x.body.incidentId === 'INC-000077' && x.attempt === FAIL_FIRST + 1);
        return r.length === 2 && r;
      },
      20_000,
    );
    expect(got.map((r) => r.body.channel).sort()).toEqual(['sms', 'voice']);
    expect(got.every((r) => r.body.to === township.fireOfficePhone && r.verified)).toBe(true);
    await waitFor('the outbox entry gone', async () => (await h.redis.hlen(akeys.outbox)) === 0);
  });
});

describe('notifier rotation and throttling', () => {
  const keys = testKeys('notifier');
  const akeys = alertsKeys(keys);
  const redis = testRedis();
  afterAll(async () => {
    await cleanupPrefix(redis, keys);
    redis.disconnect();
  });

  it('calls the next officer when the first was called within the minute, and skips when all were', async () => {
    const two = stations.map((s) =>
      s.id === 'S-NEAR'
        ? {
            ...s,
            officers: [
              { id: 'a', name: 'A', phone: '13911110001', onDuty: true },
              { id: 'b', name: 'B', phone: '13911110002', onDuty: true },
              { id: 'c', name: 'C', phone: '13911110003', onDuty: false },
            ],
          }
        : s,
    );
    const registry = new RegistrySnapshot(
      { townships: [township], buildings: [b1], devices, stations: two, accounts: [] },
      1,
    );
    const queued: Delivery[] = [];
    const n = new Notifier({
      queue: {
        enqueue: async (d) => {
          queued.push(d);
          return true;
        },
      },
      redis,
      keys,
      akeys,
      registry: () => registry,
      throttleMs: { sms: 0, voice: 60_000, wecom: 0 },
      clock: Date.now,
      logger: quietLogger,
    });
    const inc = (id: string) => ({ id, township: 'T1', grid: 'G1' }) as Incident;
    const page = (id: string) => ({
      kind: 'page' as const,
      incidentId: id,
      stationId: 'S-NEAR',
      step: 1,
      text: 'x',
    });
    await n.notify([page('INC-1')], inc('INC-1'));
    await n.notify([page('INC-2')], inc('INC-2'));
    await n.notify([page('INC-3')], inc('INC-3'));
    const voice = queued.filter((d) => d.channel === 'voice').map((d) => [d.subject, d.to]);
    expect(voice).toEqual([
      [{ incidentId: 'INC-1' }, '13911110001'],
      [{ incidentId: 'INC-2' }, '13911110002'],
    ]);
    // SMS to every officer on duty, every time; the off-duty officer never.
    expect(queued.filter((d) => d.channel === 'sms')).toHaveLength(6);
    expect(queued.some((d) => d.to === '13911110003')).toBe(false);
    const a3 = (await redis.lrange(keys.incidentAudit('INC-3'), 0, -1)).map(
      (s) => JSON.parse(s) as AuditEntry,
    );
    expect(a3.map((a) => [a.kind, a.channel])).toEqual([['delivery_throttled', 'voice']]);
  });
});
