import { deviceTopic } from '@hub/protocol';
import { Aedes } from 'aedes';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardRouting } from '../src/routing-guard.js';
import {
  connectDevice,
  connectService,
  counterValue,
  deviceSecret,
  eventJson,
  type RegistryFixture,
  type RunningBroker,
  subscribeGranted,
  waitFor,
  within,
} from './support/broker-fixture.js';
import { type BrokerSuite, openBrokerSuite } from './support/broker-suite.js';
import { publishFrame } from './support/frames.js';
import { RawMqtt } from './support/raw-mqtt.js';

type Cb = () => void;
interface Router {
  on(topic: string, fn: (msg: unknown, cb: Cb) => void): void;
  removeListener(topic: string, fn: (msg: unknown, cb: Cb) => void, done: Cb): void;
  emit(msg: { topic: string; qos?: number }, cb: Cb): void;
  _messageQueue: unknown[];
}

/** aedes' own router (mqemitter 7, as aedes 1.2 builds it), not listening. */
function aedesRouter(): Router {
  return (new Aedes({ concurrency: 100 }) as unknown as { mq: Router }).mq;
}

/**
 * A subscriber holds 100 deliveries (its socket does not drain), 50,000 more messages
 * queue behind them, then it leaves: its held callbacks fire and the queued messages
 * now match nobody. Returns what releasing them did.
 */
function backlogThenLeave(mq: Router, qos = 0): Promise<{ threw: unknown; done: () => number }> {
  const held: Cb[] = [];
  const listener = (_msg: unknown, cb: Cb) => held.push(cb);
  mq.on('v1/dev/d/telemetry', listener);
  let done = 0;
  for (let i = 0; i < 50_000; i++) mq.emit({ topic: 'v1/dev/d/telemetry', qos }, () => done++);
  return new Promise((resolve) => {
    mq.removeListener('v1/dev/d/telemetry', listener, () => {
      let threw: unknown = null;
      try {
        for (const cb of held.splice(0)) cb();
      } catch (err) {
        threw = err;
      }
      resolve({ threw, done: () => done });
    });
  });
}

describe("the router's stack overflow (aedes 1.2 / mqemitter 7)", () => {
  it("reproduced: aedes' own router throws RangeError when a subscriber with a backlog leaves", async () => {
    const { threw } = await backlogThenLeave(aedesRouter());
    expect(threw).toBeInstanceOf(RangeError);
    expect((threw as Error).message).toMatch(/Maximum call stack size exceeded/);
  });

  it('guarded: the same backlog drains in slices, every publish is called back', async () => {
    const mq = aedesRouter();
    guardRouting(mq, { maxQueue: 1e9, onShed: () => undefined });
    const { threw, done } = await backlogThenLeave(mq);
    expect(threw).toBeNull();
    await waitFor('all 50,000 callbacks', () => done() === 50_000);
  });

  it('guarded: QoS 0 is shed past the queue bound, QoS 1 is always queued', async () => {
    const mq = aedesRouter();
    let shed = 0;
    guardRouting(mq, { maxQueue: 1000, onShed: () => shed++ });
    const held: Cb[] = [];
    mq.on('t/#', (_m, cb) => held.push(cb));
    for (let i = 0; i < 5000; i++) mq.emit({ topic: 't/x', qos: 0 }, () => undefined);
    expect(mq._messageQueue.length).toBe(1000);
    expect(shed).toBe(5000 - 100 - 1000);
    for (let i = 0; i < 10; i++) mq.emit({ topic: 't/x', qos: 1 }, () => undefined);
    mq.emit({ topic: '$SYS/b/new/clients', qos: 0 }, () => undefined);
    expect(mq._messageQueue.length).toBe(1011);
  });
});

/**
 * Over TCP: a telemetry subscriber stops reading (a stuck ingest) while devices flood
 * telemetry. Alarms must keep flowing: acknowledged (durable in Redis) and delivered to
 * the events subscriber, telemetry shed and counted; the stuck subscriber's
 * disconnect must not crash the broker.
 */
describe('QoS 1 ahead of queued telemetry in the router', () => {
  it('waiting QoS 1 messages are delivered before waiting QoS 0 ones, each kind in arrival order', async () => {
    const mq = aedesRouter();
    guardRouting(mq, { maxQueue: 1e9, onShed: () => undefined });
    const held: Cb[] = [];
    const order: string[] = [];
    mq.on('t/#', (m, cb) => {
      order.push((m as { topic: string }).topic);
      held.push(cb);
    });
    // 100 in delivery (the concurrency), then a mix that must wait.
    for (let i = 0; i < 100; i++) mq.emit({ topic: 't/busy', qos: 0 }, () => undefined);
    mq.emit({ topic: 't/tele-1', qos: 0 }, () => undefined);
    mq.emit({ topic: 't/alarm-1', qos: 1 }, () => undefined);
    mq.emit({ topic: 't/tele-2', qos: 0 }, () => undefined);
    mq.emit({ topic: 't/alarm-2', qos: 1 }, () => undefined);
    mq.emit({ topic: 't/tele-3', qos: 0 }, () => undefined);
    expect(mq._messageQueue.length).toBe(5);
    // Release one delivery at a time; each frees a slot for the next queued message.
    for (let i = 0; i < 5; i++) {
      held.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    expect(order.slice(100)).toEqual(['t/alarm-1', 't/alarm-2', 't/tele-1', 't/tele-2', 't/tele-3']);
    // The prefix count went back to zero: a new QoS 1 goes first again, not behind a stale count.
    for (let i = 0; i < 3; i++) mq.emit({ topic: 't/tele-x', qos: 0 }, () => undefined);
    mq.emit({ topic: 't/alarm-3', qos: 1 }, () => undefined);
    held.shift()?.();
    await new Promise((r) => setImmediate(r));
    expect(order.at(-1)).toBe('t/alarm-3');
  });
});

describe('overload (TCP + real Redis)', () => {
  let suite: BrokerSuite;
  let reg: RegistryFixture;
  let run: RunningBroker;
  const cleanup: Array<() => unknown> = [];
  let ids: string[];

  beforeAll(async () => {
    // A long drain timeout: the stuck subscriber must still be connected (and its
    // backlog still there) when the alarm is sent; aedes would otherwise cut it off.
    suite = await openBrokerSuite('overload', { env: { HUB_BROKER_DRAIN_TIMEOUT_MS: '300000' } });
    ({ reg, run, ids } = suite);
  });
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
    await suite?.close();
  });

  it('under a telemetry flood with a stuck subscriber, an alarm gets its PUBACK and reaches the events subscriber', async () => {
    // The stuck telemetry subscriber.
    const stuck = await RawMqtt.connect(run.port, 'hub-ingest-stuck', 'hub-ingest', 'svc');
    cleanup.push(() => stuck.end());
    stuck.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'v1/dev/+/telemetry', qos: 0 }] });
    await stuck.waitForPacket('suback');
    stuck.pause();

    // The events subscriber (alerts).
    const alerts: MqttClient = await connectService(run.url, 'hub-alerts', 'hub-alerts-overload');
    cleanup.push(() => alerts.endAsync(true));
    expect(await subscribeGranted(alerts, ['v1/dev/+/event'])).toEqual([1]);
    const alarms: string[] = [];
    alerts.on('message', (_t, p) => alarms.push(p.toString()));

    // Four devices flood telemetry as fast as the broker reads.
    const flooders = ids.slice(0, 4);
    let flooding = true;
    const floods = flooders.map(async (id) => {
      const raw = await RawMqtt.connect(run.port, id, id, deviceSecret(id));
      cleanup.push(() => raw.end());
      const one = publishFrame(
        deviceTopic(id, 'telemetry'),
        JSON.stringify({ v: 1, id: 't', ts: 1, seq: 1, smoke: 0.01, pad: 'x'.repeat(120) }),
        0,
      );
      const chunk = Buffer.concat(Array.from({ length: 400 }, () => one));
      while (flooding && !raw.closed) await raw.writeAndWait(chunk);
    });

    // Enough telemetry to fill the stuck subscriber's kernel buffers many times over.
    const telemetryIn = () => counterValue(run.broker.metrics.messagesIn, { channel: 'telemetry' });
    await waitFor('60,000 telemetry messages flooded', async () => (await telemetryIn()) >= 60_000, 90_000);
    const shedBacklog = () => counterValue(run.broker.metrics.shed, { reason: 'subscriber_backlog' });

    // An alarm while the flood goes on.
    const alarmDev = ids[10]!;
    const dev = await connectDevice(run.url, alarmDev);
    cleanup.push(() => dev.endAsync(true));
    const alarm = eventJson('alarm', 'overload-alarm-1');
    await within(
      dev.publishAsync(deviceTopic(alarmDev, 'event'), alarm, { qos: 1 }),
      30_000,
      'the PUBACK of the alarm',
    );
    await waitFor('alarm at the events subscriber', () => alarms.includes(alarm), 30_000);
    expect(stuck.closed).toBe(false); // delivered while the backlog was still there
    const stored = await reg.redis.xrange(reg.keys.fireEvents, '-', '+');
    expect(stored.some(([, f]) => f[3] === alarm)).toBe(true);

    // The stuck subscriber leaves with its backlog: no crash, routing goes on.
    stuck.end();
    flooding = false;
    await Promise.all(floods);
    const alarm2 = eventJson('alarm', 'overload-alarm-2');
    await within(
      dev.publishAsync(deviceTopic(alarmDev, 'event'), alarm2, { qos: 1 }),
      30_000,
      'the second PUBACK',
    );
    await waitFor('second alarm delivered', () => alarms.includes(alarm2), 30_000);
    // Telemetry was shed for the stuck subscriber (the reason routing kept going).
    expect(await shedBacklog()).toBeGreaterThan(0);
  }, 150_000);
});

/**
 * Over TCP, in one process: the test itself blocks the event loop (40 ms out of every
 * 50), as an overloaded broker would see it. Past `HUB_BROKER_SHED_LAG_MS` on three
 * samples in a row, device telemetry is dropped before routing and counted; a fire
 * alarm is still stored, acknowledged and delivered; when the lag is gone telemetry
 * flows again.
 */
describe('shedding on event-loop lag (TCP + real Redis)', () => {
  let suite: BrokerSuite;
  let run: RunningBroker;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    suite = await openBrokerSuite('lag-shed', { env: { HUB_BROKER_SHED_LAG_MS: '20' } });
    run = suite.run;
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.endAsync(true)));
    await suite?.close();
  });

  it('drops telemetry while the loop lags, never the alarm, and recovers', async () => {
    const devId = suite.ids[12]!;
    const svc = await connectService(run.url, 'hub-ingest', 'hub-ingest-lag');
    clients.push(svc);
    const telemetry: string[] = [];
    const alarms: string[] = [];
    svc.on('message', (topic, p) => (topic.endsWith('/telemetry') ? telemetry : alarms).push(p.toString()));
    expect(
      await subscribeGranted(svc, [deviceTopic(devId, 'telemetry'), deviceTopic(devId, 'event')]),
    ).toEqual([1, 1]);
    const dev = await connectDevice(run.url, devId);
    clients.push(dev);
    const shedLag = () => counterValue(run.broker.metrics.shed, { reason: 'event_loop_lag' });
    const reading = (n: number) =>
      JSON.stringify({ v: 1, id: `lag-t${n}`, ts: Date.now(), seq: n, kind: 'smoke', smoke: 0.1 });

    const before = await shedLag();
    const blocker = setInterval(() => {
      const until = performance.now() + 40;
      while (performance.now() < until) {
        // busy: the broker's lag sampler fires late
      }
    }, 10);
    try {
      await new Promise((r) => setTimeout(r, 400));
      for (let i = 0; i < 20; i++) dev.publish(deviceTopic(devId, 'telemetry'), reading(i), { qos: 0 });
      const alarm = eventJson('alarm', 'lag-alarm');
      await dev.publishAsync(deviceTopic(devId, 'event'), alarm, { qos: 1 });
      await waitFor('alarm delivered while lagging', () => alarms.includes(alarm));
      expect(await shedLag()).toBeGreaterThan(before);
      expect(telemetry.length).toBeLessThan(20);
      const stored = await suite.reg.redis.xrange(suite.reg.keys.fireEvents, '-', '+');
      expect(stored.some(([, f]) => f.includes(alarm))).toBe(true);
    } finally {
      clearInterval(blocker);
    }

    // Lag gone: once the samples fall under half the threshold, telemetry is routed
    // again (a reading every 100 ms until one arrives: a loaded machine may lag a while).
    const seen = telemetry.length;
    let n = 100;
    await waitFor(
      'telemetry routed again',
      () => {
        if (telemetry.length > seen) return true;
        dev.publish(deviceTopic(devId, 'telemetry'), reading(n++), { qos: 0 });
        return false;
      },
      30_000,
      100,
    );
  }, 60_000);
});
