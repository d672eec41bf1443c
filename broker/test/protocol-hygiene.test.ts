import { deviceTopic, REJECT_CODES, stationTopic } from '@hub/protocol';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKER_REJECT_CODES } from '../src/broker-errors.js';
import {
  connectDevice,
  connectService,
  counterValue,
  deviceSecret,
  type RunningBroker,
  SERVICE_SECRET,
  subscribeGranted,
  waitFor,
} from './support/broker-fixture.js';
import { type BrokerSuite, openBrokerSuite } from './support/broker-suite.js';
import { type ConnectSpec, connectFrame, frame, publishFrame, subscribeFrame } from './support/frames.js';
import { RawMqtt } from './support/raw-mqtt.js';

/**
 * MQTT rules aedes 1.2 does not enforce, over real TCP with hand-built frames where
 * mqtt.js would refuse to send them. After every bad packet, a canary telemetry
 * message from another device must still reach a subscriber: no case may crash the
 * broker or stop routing for other clients.
 */
describe('protocol hygiene (raw TCP + real Redis)', () => {
  let suite: BrokerSuite;
  let run: RunningBroker;
  let canaryPub: MqttClient;
  let canarySub: MqttClient;
  const canaryGot = new Set<string>();
  const raws: RawMqtt[] = [];
  let dev1: string;
  let dev2: string;
  let canaryDev: string;
  let markers = 0;

  const STATUS_OFFLINE = JSON.stringify({ v: 1, ts: 1, state: 'offline' });

  beforeAll(async () => {
    suite = await openBrokerSuite('hygiene', { env: { HUB_MQTT_CONNECT_TIMEOUT_MS: '1000' } });
    run = suite.run;
    const { ids } = suite;
    [dev1, dev2, canaryDev] = [ids[0]!, ids[1]!, ids[2]!];
    canarySub = await connectService(run.url, 'hub-ingest', 'hub-ingest-canary');
    expect(await subscribeGranted(canarySub, [deviceTopic(canaryDev, 'telemetry')], 0)).toEqual([0]);
    canarySub.on('message', (_t, payload) => canaryGot.add(payload.toString()));
    canaryPub = await connectDevice(run.url, canaryDev);
  });

  afterAll(async () => {
    for (const r of raws) r.end();
    await Promise.allSettled([canaryPub?.endAsync(true), canarySub?.endAsync(true)]);
    await suite?.close();
  });

  /** Routing still works for other clients (a fresh marker arrives at the canary subscriber). */
  async function assertRouting(): Promise<void> {
    const marker = `{"marker":${++markers}}`;
    canaryPub.publish(deviceTopic(canaryDev, 'telemetry'), marker, { qos: 0 });
    await waitFor(`canary marker ${markers}`, () => canaryGot.has(marker));
    expect(canaryPub.connected).toBe(true);
  }

  async function open(): Promise<RawMqtt> {
    const r = await RawMqtt.open(run.port);
    raws.push(r);
    return r;
  }

  async function connectRaw(spec: ConnectSpec): Promise<{ raw: RawMqtt; code: number | null }> {
    const raw = await open();
    raw.write(connectFrame(spec));
    return { raw, code: await raw.connackOrClose() };
  }

  function asDevice(id: string, extra: Partial<ConnectSpec> = {}): ConnectSpec {
    return { clientId: id, username: id, password: deviceSecret(id), ...extra };
  }

  const connects = (result: string) => counterValue(run.broker.metrics.connects, { result });
  const rejected = (code: string, channel: string) =>
    counterValue(run.broker.metrics.rejections, { code, channel });

  describe('CONNECT', () => {
    it('closes a CONNECT whose will topic has a wildcard, without CONNACK, and counts it', async () => {
      for (const topic of [`v1/dev/${dev1}/#`, 'v1/dev/+/status', '#']) {
        const before = await connects('bad_will_topic');
        const { raw, code } = await connectRaw(
          asDevice(dev1, { will: { topic, payload: STATUS_OFFLINE, qos: 1, retain: true } }),
        );
        expect(code).toBeNull();
        await raw.waitForClose();
        expect(await connects('bad_will_topic')).toBe(before + 1);
      }
      await assertRouting();
    });

    it("refuses (CONNACK 5) a will outside the device's own status topic or not an offline status", async () => {
      const cases: Array<[ConnectSpec, string]> = [
        [
          asDevice(dev1, { will: { topic: deviceTopic(dev2, 'status'), payload: STATUS_OFFLINE } }),
          'will_not_allowed',
        ],
        [
          asDevice(dev1, { will: { topic: deviceTopic(dev1, 'event'), payload: STATUS_OFFLINE } }),
          'will_not_allowed',
        ],
        [asDevice(dev1, { will: { topic: '$SYS/x', payload: STATUS_OFFLINE } }), 'will_not_allowed'],
        [
          asDevice(dev1, {
            will: {
              topic: deviceTopic(dev1, 'status'),
              payload: JSON.stringify({ v: 1, ts: 1, state: 'online' }),
            },
          }),
          'bad_will_payload',
        ],
        [
          asDevice(dev1, { will: { topic: deviceTopic(dev1, 'status'), payload: 'not json' } }),
          'bad_will_payload',
        ],
        [
          {
            clientId: 'hub-alerts-w',
            username: 'hub-alerts',
            password: 'svc',
            will: { topic: stationTopic('s01', 'page'), payload: '{}' },
          },
          'will_not_allowed',
        ],
      ];
      for (const [spec, reason] of cases) {
        const before = await connects(reason);
        const { code } = await connectRaw(spec);
        expect(code).toBe(5);
        expect(await connects(reason)).toBe(before + 1);
      }
      await assertRouting();
    });

    it('closes a CONNECT with invalid UTF-8 or NUL in the client id or username [MQTT-1.5.3-1/2]', async () => {
      const bad = [
        asDevice(dev1, { clientId: Buffer.from([0x64, 0xc3, 0x28]) }),
        asDevice(dev1, { clientId: Buffer.from(`${dev1}\u0000`) }),
        asDevice(dev1, { username: Buffer.from([0xff, 0xfe]) }),
        asDevice(dev1, { username: Buffer.from(`${dev1}\u0000x`) }),
        asDevice(dev1, { will: { topic: Buffer.from([0x76, 0x31, 0x2f, 0xed, 0xa0, 0x80]), payload: '{}' } }),
      ];
      const before = await connects('bad_utf8');
      for (const spec of bad) {
        const { raw, code } = await connectRaw(spec);
        expect(code).toBeNull();
        await raw.waitForClose();
      }
      // The will-topic case is counted as a bad will topic, the others as bad UTF-8.
      expect(await connects('bad_utf8')).toBe(before + 4);
      expect(await rejected(BROKER_REJECT_CODES.PROTOCOL, 'connect')).toBeGreaterThanOrEqual(5);
      await assertRouting();
    });

    it('refuses an empty client id with a persistent session with CONNACK 2 [MQTT-3.1.3-8]', async () => {
      const before = await connects('empty_client_id');
      const { raw, code } = await connectRaw(asDevice(dev1, { clientId: '', clean: false }));
      expect(code).toBe(2);
      await raw.waitForClose();
      expect(await connects('empty_client_id')).toBe(before + 1);
      // With a clean session an empty id is still not the device id: CONNACK 5.
      expect((await connectRaw(asDevice(dev1, { clientId: '' }))).code).toBe(5);
      await assertRouting();
    });

    it('refuses a persistent session for a service account (CONNACK 5); a device may keep one', async () => {
      const before = await connects('service_persistent_session');
      const svc = { clientId: 'hub-alerts-persistent', username: 'hub-alerts', password: SERVICE_SECRET };
      const { raw, code } = await connectRaw({ ...svc, clean: false });
      expect(code).toBe(5);
      await raw.waitForClose();
      expect(await connects('service_persistent_session')).toBe(before + 1);
      const clean = await connectRaw({ ...svc, clientId: 'hub-alerts-clean', clean: true });
      expect(clean.code).toBe(0);
      clean.raw.end();
      const device = await connectRaw(asDevice(dev1, { clean: false }));
      expect(device.code).toBe(0);
      device.raw.end();
      await assertRouting();
    });

    it('accepts a device will on its own status topic with an offline status', async () => {
      const { raw, code } = await connectRaw(
        asDevice(dev1, { will: { topic: deviceTopic(dev1, 'status'), payload: STATUS_OFFLINE, qos: 1 } }),
      );
      expect(code).toBe(0);
      raw.write(Buffer.from([0xe0, 0x00])); // DISCONNECT: no will
      await raw.waitForClose();
    });
  });

  describe('PUBLISH and SUBSCRIBE', () => {
    it('closes a connection sending QoS 1 with message id 0, without PUBACK or routing', async () => {
      const sub = await connectService(run.url, 'hub-alerts', 'hub-alerts-mid0');
      try {
        expect(await subscribeGranted(sub, [deviceTopic(dev2, 'status')])).toEqual([1]);
        const got: string[] = [];
        sub.on('message', (_t, p) => got.push(p.toString()));
        const before = await rejected(BROKER_REJECT_CODES.PROTOCOL, 'packet');
        const { raw, code } = await connectRaw(asDevice(dev2));
        expect(code).toBe(0);
        const status = JSON.stringify({ v: 1, ts: 2, state: 'online' });
        raw.write(publishFrame(deviceTopic(dev2, 'status'), status, 1, 0));
        await raw.waitForClose();
        expect(raw.has('puback')).toBe(false);
        expect(await rejected(BROKER_REJECT_CODES.PROTOCOL, 'packet')).toBe(before + 1);

        // SUBSCRIBE with message id 0 too.
        const second = await connectRaw(asDevice(dev2));
        expect(second.code).toBe(0);
        second.raw.write(subscribeFrame(deviceTopic(dev2, 'cmd'), 0));
        await second.raw.waitForClose();
        expect(second.raw.has('suback')).toBe(false);
        expect(await rejected(BROKER_REJECT_CODES.PROTOCOL, 'packet')).toBe(before + 2);
        await assertRouting();
        expect(got).toEqual([]);
      } finally {
        await sub.endAsync(true);
      }
    });

    it('closes a connection publishing to a topic with NUL or invalid UTF-8, counted as protocol', async () => {
      const before = await rejected(BROKER_REJECT_CODES.PROTOCOL, 'other');
      for (const topic of [
        Buffer.from(`${deviceTopic(dev1, 'telemetry')}\u0000`),
        Buffer.concat([Buffer.from(deviceTopic(dev1, 'telemetry')), Buffer.from([0xc0])]),
      ]) {
        const { raw, code } = await connectRaw(asDevice(dev1));
        expect(code).toBe(0);
        raw.write(publishFrame(topic, '{}', 0));
        await raw.waitForClose();
      }
      expect(await rejected(BROKER_REJECT_CODES.PROTOCOL, 'other')).toBe(before + 2);
      await assertRouting();
    });

    it("refuses publishes to $SYS, to a station's topics and another device's retained status", async () => {
      for (const topic of [
        '$SYS/broker/uptime',
        stationTopic('s01', 'page'),
        stationTopic('s01', 'reply'),
        deviceTopic(dev2, 'status'),
      ]) {
        const before = await rejected(REJECT_CODES.NOT_AUTHORIZED, 'status');
        const { raw, code } = await connectRaw(asDevice(dev1));
        expect(code).toBe(0);
        raw.write(publishFrame(topic, JSON.stringify({ v: 1, ts: 3, state: 'offline' }), 1, 7, true));
        await raw.waitForClose();
        expect(raw.has('puback')).toBe(false);
        if (topic.endsWith('/status'))
          expect(await rejected(REJECT_CODES.NOT_AUTHORIZED, 'status')).toBe(before + 1);
      }
      // The spoofed retained status was never stored: a new subscriber gets nothing.
      const sub = await connectService(run.url, 'hub-dashboard', 'hub-dashboard-retained');
      try {
        const got: string[] = [];
        sub.on('message', (t) => got.push(t));
        expect(await subscribeGranted(sub, [deviceTopic(dev2, 'status')])).toEqual([1]);
        await assertRouting();
        expect(got).toEqual([]);
      } finally {
        await sub.endAsync(true);
      }
    });

    it('refuses subscription filters with NUL (SUBACK 128), connection kept', async () => {
      const svc = await connectService(run.url, 'hub-ingest', 'hub-ingest-nul');
      try {
        expect(await subscribeGranted(svc, ['v1/dev/\u0000/telemetry', 'v1/dev/+/telemetry'], 0)).toEqual([
          128, 0,
        ]);
        expect(svc.connected).toBe(true);
      } finally {
        await svc.endAsync(true);
      }
    });
  });

  describe('the same client id twice', () => {
    it('the second connection takes over: the old one is closed, its will dropped, the new one works', async () => {
      const before = await counterValue(run.broker.metrics.takeovers, {});
      const willsBefore = await counterValue(run.broker.metrics.willsPublished, {});
      const statusSub = await connectService(run.url, 'hub-dashboard', 'hub-dashboard-takeover');
      try {
        const statuses: string[] = [];
        statusSub.on('message', (_t, p) => statuses.push(p.toString()));
        expect(await subscribeGranted(statusSub, [deviceTopic(dev1, 'status')])).toEqual([1]);

        const will = {
          topic: deviceTopic(dev1, 'status'),
          payload: STATUS_OFFLINE,
          qos: 1 as const,
          retain: true,
        };
        const first = await connectRaw(asDevice(dev1, { will }));
        expect(first.code).toBe(0);
        const second = await connectRaw(asDevice(dev1, { will }));
        expect(second.code).toBe(0);
        await first.raw.waitForClose();
        expect(await counterValue(run.broker.metrics.takeovers, {})).toBe(before + 1);

        // The new connection works: a QoS 1 telemetry is acknowledged and routed.
        const sub = await connectService(run.url, 'hub-ingest', 'hub-ingest-takeover');
        try {
          const got: string[] = [];
          sub.on('message', (_t, p) => got.push(p.toString()));
          expect(await subscribeGranted(sub, [deviceTopic(dev1, 'telemetry')], 0)).toEqual([0]);
          second.raw.write(publishFrame(deviceTopic(dev1, 'telemetry'), '{"after":"takeover"}', 1, 9));
          await second.raw.waitForPacket('puback');
          await waitFor('telemetry after takeover', () => got.includes('{"after":"takeover"}'));
        } finally {
          await sub.endAsync(true);
        }
        // The old connection's will was not published.
        await assertRouting();
        expect(statuses).toEqual([]);
        expect(await counterValue(run.broker.metrics.willsPublished, {})).toBe(willsBefore);

        // When the new connection is lost without DISCONNECT, its will fires.
        second.raw.end();
        await waitFor('offline will', () => statuses.length > 0);
        const offline = JSON.parse(statuses[0]!) as { state: string; ts: number };
        expect(offline.state).toBe('offline');
        expect(offline.ts).toBeGreaterThan(1); // re-stamped with the time the connection was lost
      } finally {
        await statusSub.endAsync(true);
      }
    });
  });

  describe('half-sent CONNECTs and the connect timeout', () => {
    it('closes a connection that sends part of a CONNECT, or nothing, when the timeout passes', async () => {
      const before = await connects('timeout');
      const half = await open();
      half.write(connectFrame(asDevice(dev1)).subarray(0, 9));
      const silent = await open();
      await half.waitForClose(15_000);
      await silent.waitForClose(15_000);
      expect(half.has('connack')).toBe(false);
      await waitFor('timeouts counted', async () => (await connects('timeout')) >= before + 2);
      await assertRouting();
    });
  });

  describe('malformed packets', () => {
    const connected = (spec: ConnectSpec) => connectFrame(spec);
    const cases: Array<[string, (id: string) => Buffer]> = [
      [
        'remaining length of 5 bytes',
        (id) => Buffer.concat([connected(asDevice(id)), Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f])]),
      ],
      ['reserved packet type 0', (id) => Buffer.concat([connected(asDevice(id)), Buffer.from([0x00, 0x00])])],
      [
        'packet type 15 (AUTH, MQTT 5 only)',
        (id) => Buffer.concat([connected(asDevice(id)), Buffer.from([0xf0, 0x00])]),
      ],
      [
        'SUBSCRIBE with reserved flags 0000',
        (id) => Buffer.concat([connected(asDevice(id)), subscribeFrame(deviceTopic(id, 'cmd'), 3, 0x80)]),
      ],
      [
        'PUBLISH with QoS 3',
        (id) => Buffer.concat([connected(asDevice(id)), frame(0x36, Buffer.from([0, 1, 0x61, 0, 1]))]),
      ],
      ['PINGREQ with flags', (id) => Buffer.concat([connected(asDevice(id)), Buffer.from([0xc1, 0x00])])],
      ['PUBLISH before CONNECT', (id) => publishFrame(deviceTopic(id, 'telemetry'), '{}', 0)],
      ['SUBSCRIBE before CONNECT', (id) => subscribeFrame(deviceTopic(id, 'cmd'), 1)],
      ['second CONNECT', (id) => Buffer.concat([connected(asDevice(id)), connected(asDevice(id))])],
      ['CONNECT with reserved flag bit 0', (id) => connectFrame({ ...asDevice(id), flags: 0xc3 })],
      ['CONNECT with protocol name MQTX', (id) => connectFrame({ ...asDevice(id), protocolName: 'MQTX' })],
      ['CONNECT shorter than it declares', (id) => connectFrame(asDevice(id)).subarray(0, 12)],
      [
        'PUBLISH with a topic length beyond the packet',
        (id) => Buffer.concat([connected(asDevice(id)), Buffer.from([0x30, 0x04, 0x00, 0x40, 0x61, 0x62])]),
      ],
      [
        'SUBSCRIBE without a filter',
        (id) => Buffer.concat([connected(asDevice(id)), Buffer.from([0x82, 0x02, 0x00, 0x05])]),
      ],
      ['empty topic PUBLISH', (id) => Buffer.concat([connected(asDevice(id)), publishFrame('', '{}', 0)])],
      [
        'wildcard topic PUBLISH',
        (id) => Buffer.concat([connected(asDevice(id)), publishFrame(`v1/dev/${id}/#`, '{}', 0)]),
      ],
    ];

    for (const [name, build] of cases) {
      it(`${name}: the connection is closed, the broker keeps routing`, async () => {
        const raw = await open();
        raw.write(build(dev2));
        // Either closed at once, or (the truncated CONNECT) by the connect timeout.
        await raw.waitForClose(15_000);
        await assertRouting();
      });
    }

    it('random garbage on 40 connections: no crash, routing goes on', async () => {
      // A seeded generator: the same bytes every run.
      let x = 0x2545f491;
      const rnd = () => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return (x >>> 0) & 0xff;
      };
      const conns: RawMqtt[] = [];
      for (let i = 0; i < 40; i++) {
        const raw = await open();
        const len = 2 + (rnd() % 200);
        const buf = Buffer.alloc(len);
        for (let j = 0; j < len; j++) buf[j] = rnd();
        // Half of them after a valid CONNECT, so the post-CONNECT parser sees garbage too.
        raw.write(i % 2 === 0 ? Buffer.concat([connectFrame(asDevice(dev2)), buf]) : buf);
        conns.push(raw);
      }
      await assertRouting();
      for (const c of conns) c.end();
      await assertRouting();
    });
  });
});
