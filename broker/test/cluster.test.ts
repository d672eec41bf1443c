import { deviceTopic, stationTopic } from '@hub/protocol';
import { testRedis } from '@hub/registry/test-support';
import type { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame } from '../src/cluster-routing.js';
import {
  closed,
  connectDevice,
  connectDeviceWithWill,
  connectService,
  connectStation,
  counterValue,
  eventJson,
  type RegistryFixture,
  type RunningBroker,
  retainedStatus,
  startBroker,
  subscribeGranted,
  testConfig,
  waitFor,
  waitForStatus,
} from './support/broker-fixture.js';
import { openRegistrySuite, type RegistrySuite } from './support/broker-suite.js';

describe('cluster frame', () => {
  it('round-trips topic, payload, qos, retain and the dedupe fields', () => {
    const m = {
      topic: 'v1/dev/d-1/event',
      payload: Buffer.from('{"x":1}'),
      qos: 1,
      retain: true,
      brokerId: 'b-1',
      brokerCounter: 42,
    };
    const d = decodeFrame(encodeFrame(m));
    expect(d).toMatchObject({ topic: m.topic, qos: 1, retain: true, brokerId: 'b-1', brokerCounter: 42 });
    expect(d?.payload.toString()).toBe('{"x":1}');
    expect(decodeFrame(Buffer.from([0, 200, 1, 2]))).toBeNull();
    expect(decodeFrame(encodeFrame(m).subarray(0, 15))).toBeNull();
  });
});

/**
 * Two brokers sharing routing through the real Redis (pub/sub on a channel unique to
 * this test): what is published on A reaches subscribers on B, once.
 */
describe('two brokers sharing routing (TCP + real Redis)', () => {
  let suite: RegistrySuite;
  let reg: RegistryFixture;
  let durable: Redis;
  let a: RunningBroker;
  let b: RunningBroker;
  const conns: Redis[] = [];
  const clients: MqttClient[] = [];
  let dev: string;

  async function track<T extends MqttClient>(p: Promise<T>): Promise<T> {
    const c = await p;
    clients.push(c);
    return c;
  }

  async function clusterBroker(): Promise<RunningBroker> {
    const pub = testRedis();
    const sub = testRedis();
    conns.push(pub, sub);
    return startBroker(testConfig(reg.keys), reg.snapshot, durable, undefined, {
      cluster: { pub, sub, channel: `${reg.keys.prefix}:routing` },
    });
  }

  beforeAll(async () => {
    suite = await openRegistrySuite('cluster');
    ({ reg, durable } = suite);
    dev = suite.ids[0]!;
    a = await clusterBroker();
    b = await clusterBroker();
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.endAsync(true)));
    await a?.close();
    await b?.close();
    for (const c of conns) c.disconnect();
    await suite?.close();
  });

  it("a device's alarm on broker A reaches the events subscriber on broker B, once, stored once", async () => {
    const onB = await track(connectService(b.url, 'hub-alerts', 'hub-alerts-b'));
    const onA = await track(connectService(a.url, 'hub-alerts', 'hub-alerts-a'));
    const gotB: string[] = [];
    const gotA: string[] = [];
    onB.on('message', (_t, p) => gotB.push(p.toString()));
    onA.on('message', (_t, p) => gotA.push(p.toString()));
    expect(await subscribeGranted(onB, ['v1/dev/+/event'])).toEqual([1]);
    expect(await subscribeGranted(onA, ['v1/dev/+/event'])).toEqual([1]);

    const d = await track(connectDevice(a.url, dev));
    const alarm = eventJson('alarm', 'cluster-1');
    await d.publishAsync(deviceTopic(dev, 'event'), alarm, { qos: 1 });
    await waitFor('alarm on broker B', () => gotB.includes(alarm));
    await waitFor('alarm on broker A', () => gotA.includes(alarm));
    // A marker after it: if a duplicate were coming, it would come before the marker.
    const marker = eventJson('test', 'cluster-marker');
    await d.publishAsync(deviceTopic(dev, 'event'), marker, { qos: 1 });
    await waitFor('marker on both', () => gotA.includes(marker) && gotB.includes(marker));
    expect(gotB.filter((m) => m === alarm)).toHaveLength(1);
    expect(gotA.filter((m) => m === alarm)).toHaveLength(1);
    expect((await reg.redis.xrange(reg.keys.fireEvents, '-', '+')).length).toBe(1);
    expect(await counterValue(b.broker.metrics.clusterReceived, {})).toBeGreaterThan(0);
  });

  it('a page published on broker A reaches the station subscribed on broker B, and no other station', async () => {
    const st = await track(connectStation(b.url, 's01'));
    const other = await track(connectStation(b.url, 's02'));
    const got: string[] = [];
    const otherGot: string[] = [];
    st.on('message', (t) => got.push(t));
    other.on('message', (t) => otherGot.push(t));
    expect(await subscribeGranted(st, [stationTopic('s01', 'page')])).toEqual([1]);
    expect(await subscribeGranted(other, [stationTopic('s02', 'page')])).toEqual([1]);
    const alerts = await track(connectService(a.url, 'hub-alerts', 'hub-alerts-pager'));
    await alerts.publishAsync(stationTopic('s01', 'page'), '{"page":1}', { qos: 1 });
    await waitFor('page at s01 on broker B', () => got.length === 1);
    expect(got).toEqual([stationTopic('s01', 'page')]);
    expect(otherGot).toEqual([]);
  });

  it('the same device connecting on broker B closes its connection on broker A [MQTT-3.1.4-2]', async () => {
    const first = await track(connectDevice(a.url, dev));
    const gone = closed(first);
    const second = await track(connectDevice(b.url, dev));
    await gone;
    expect(second.connected).toBe(true);
  });

  it('a status retained on A is retained on B, and on a broker started later', async () => {
    const d2 = suite.ids[1]!;
    const d = await track(connectDevice(a.url, d2));
    const online = { v: 1, ts: 11, state: 'online' };
    await d.publishAsync(deviceTopic(d2, 'status'), JSON.stringify(online), { qos: 1, retain: true });
    expect(await waitForStatus(a.url, d2, (st) => st.ts === 11)).toEqual(online);
    // B got it as a live frame (the subscriber below arrives after it).
    await waitForStatus(b.url, d2, (st) => st.ts === 11);
    // C starts after it was published: it loads the shared hash.
    const c = await clusterBroker();
    try {
      expect(await waitForStatus(c.url, d2, (st) => st.ts === 11)).toEqual(online);
      const newer = { v: 1, ts: 12, state: 'online', fw: '2.2' };
      await d.publishAsync(deviceTopic(d2, 'status'), JSON.stringify(newer), { qos: 1, retain: true });
      await waitForStatus(c.url, d2, (st) => st.ts === 12);
    } finally {
      await c.close();
    }
  });

  it("a takeover across brokers does not publish the old connection's will: the status stays online", async () => {
    const d3 = suite.ids[2]!;
    const first = await track(connectDeviceWithWill(a.url, d3));
    const online = { v: 1, ts: 21, state: 'online' };
    await first.publishAsync(deviceTopic(d3, 'status'), JSON.stringify(online), { qos: 1, retain: true });
    await waitForStatus(b.url, d3, (st) => st.ts === 21);
    const watcher = await track(connectService(b.url, 'hub-alerts', 'hub-alerts-takeover'));
    const seen: string[] = [];
    watcher.on('message', (_t, p) => seen.push(p.toString()));
    expect(await subscribeGranted(watcher, [deviceTopic(d3, 'status')])).toEqual([1]);
    await waitFor('retained online at the watcher', () => seen.length === 1);

    const willsBefore = await counterValue(a.broker.metrics.willsPublished, {});
    const takeoversBefore = await counterValue(a.broker.metrics.takeovers, {});
    const gone = closed(first);
    const second = await track(connectDeviceWithWill(b.url, d3));
    await gone;
    expect(second.connected).toBe(true);
    await waitFor(
      'takeover counted on A',
      async () => (await counterValue(a.broker.metrics.takeovers, {})) > takeoversBefore,
    );
    // A marker through A after the close, on the same channel in order: an offline will
    // routed from A would reach the watcher before it.
    const d4 = suite.ids[3]!;
    expect(await subscribeGranted(watcher, [deviceTopic(d4, 'status')])).toEqual([1]);
    const markerDevice = await track(connectDevice(a.url, d4));
    const marker = JSON.stringify({ v: 1, ts: 22, state: 'online' });
    await markerDevice.publishAsync(deviceTopic(d4, 'status'), marker, { qos: 1 });
    await waitFor('marker at the watcher', () => seen.includes(marker));
    expect(await counterValue(a.broker.metrics.willsPublished, {})).toBe(willsBefore);
    expect(seen).toEqual([JSON.stringify(online), marker]);
    expect((await retainedStatus(a.url, d3)).state).toBe('online');
    expect((await retainedStatus(b.url, d3)).state).toBe('online');
  });
});
