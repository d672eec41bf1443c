import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deviceTopic } from '@hub/protocol';
import { testRedisUrl } from '@hub/registry/test-support';
import type { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHealthHandler } from '../src/health-handler.js';
import {
  connectDevice,
  connectService,
  counterValue,
  deviceSecret,
  durableRedis,
  eventJson,
  loadRegistry,
  type RegistryFixture,
  type RunningBroker,
  startBroker,
  subscribeGranted,
  testConfig,
  waitFor,
} from './support/broker-fixture.js';
import { closedPort } from './support/gate-proxy.js';
import { openGatedDurable, redisUrlVia } from './support/gated-durable.js';
import { RawMqtt } from './support/raw-mqtt.js';

async function serveHealth(run: RunningBroker): Promise<{ url: string; server: Server }> {
  const server = createServer(
    createHealthHandler({ metrics: run.broker.metrics.registry, ready: run.broker.ready }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/**
 * What the device sees when Redis is slow or away: no PUBACK until the event is
 * stored, and none at all when it cannot be. Each broker here has its own durable-write
 * connection (through a gate proxy or to a closed port); the shared Redis is never
 * paused or slowed.
 */
describe('durable writes when Redis is slow or away', () => {
  let reg: RegistryFixture;
  let devA: string;
  let devB: string;
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    reg = await loadRegistry('durable');
    const ids = [...reg.snapshot.devices.keys()].sort();
    devA = ids[0]!;
    devB = ids[1]!;
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await reg?.cleanup();
  });

  it('holds the PUBACK until Redis has answered', async () => {
    const { proxy, durable } = await openGatedDurable();
    cleanups.push(() => proxy.close());
    cleanups.push(() => durable.disconnect());
    const run = await startBroker(testConfig(reg.keys), reg.snapshot, durable);
    cleanups.push(() => run.close());

    const dev = await RawMqtt.connect(run.port, devA, devA, deviceSecret(devA));
    cleanups.push(() => dev.end());
    proxy.closeGate();
    const body = eventJson('alarm', 'held-1');
    dev.publish(deviceTopic(devA, 'event'), body, 1, 7);
    await waitFor('the event write reached the proxy', () => proxy.heldBytes > 0);
    // PINGRESP is written at once; if a PUBACK had been written before the Redis write
    // was even sent, TCP order would deliver it before the PINGRESP.
    dev.send({ cmd: 'pingreq' });
    await dev.waitForPacket('pingresp');
    expect(dev.has('puback')).toBe(false);
    expect(await reg.redis.xlen(reg.keys.fireEvents)).toBe(0);

    proxy.openGate();
    await dev.waitForPacket('puback');
    const entries = await reg.redis.xrange(reg.keys.fireEvents, '-', '+');
    expect(entries.map(([, f]) => f.slice(0, 4))).toEqual([['d', devA, 'p', body]]);
    await reg.redis.del(reg.keys.fireEvents);
  });

  it('bounds durable writes per connection: a flooding device is cut off, others still get their PUBACK', async () => {
    const { proxy, durable } = await openGatedDurable();
    cleanups.push(() => proxy.close());
    cleanups.push(() => durable.disconnect());
    const run = await startBroker(
      testConfig(reg.keys, { HUB_BROKER_MAX_INFLIGHT_PER_CLIENT: '2' }),
      reg.snapshot,
      durable,
    );
    cleanups.push(() => run.close());

    const flood = await RawMqtt.connect(run.port, devA, devA, deviceSecret(devA));
    const calm = await RawMqtt.connect(run.port, devB, devB, deviceSecret(devB));
    cleanups.push(() => flood.end());
    cleanups.push(() => calm.end());
    proxy.closeGate();
    for (let i = 1; i <= 3; i++)
      flood.publish(deviceTopic(devA, 'event'), eventJson('fault', `flood-${i}`), 1, i);
    await flood.waitForClose();
    expect(await counterValue(run.broker.metrics.durableWrites, { result: 'overloaded' })).toBe(1);

    calm.publish(deviceTopic(devB, 'event'), eventJson('alarm', 'calm-1'), 1, 1);
    await waitFor('the calm device write reached the proxy', async () => {
      const { values } = await run.broker.metrics.durableInflight.get();
      return values[0]?.value === 3;
    });
    proxy.openGate();
    await calm.waitForPacket('puback');
    expect(flood.has('puback')).toBe(false);
    const fire = await reg.redis.xrange(reg.keys.fireEvents, '-', '+');
    expect(fire.map(([, f]) => f[1])).toEqual([devB]);
    await reg.redis.del(reg.keys.fireEvents, reg.keys.otherEvents);
  });

  it('sends no PUBACK and disconnects when Redis does not answer in time', async () => {
    const { proxy, durable } = await openGatedDurable({ commandTimeout: 300 });
    cleanups.push(() => proxy.close());
    cleanups.push(() => durable.disconnect());
    const run = await startBroker(testConfig(reg.keys), reg.snapshot, durable);
    cleanups.push(() => run.close());

    const dev = await RawMqtt.connect(run.port, devA, devA, deviceSecret(devA));
    cleanups.push(() => dev.end());
    proxy.closeGate();
    dev.publish(deviceTopic(devA, 'event'), eventJson('alarm', 'timeout-1'), 1, 9);
    await dev.waitForClose();
    expect(dev.has('puback')).toBe(false);
    expect(await counterValue(run.broker.metrics.durableWrites, { stream: 'fire', result: 'failed' })).toBe(
      1,
    );
    expect(await reg.redis.exists(reg.keys.seenEvent(devA, 'timeout-1'))).toBe(0);
  });

  it('with Redis unreachable: telemetry still flows, an alarm gets no PUBACK, /readyz is 503', async () => {
    const durable = durableRedis(redisUrlVia(await closedPort()), { retryStrategy: () => 50 });
    cleanups.push(() => durable.disconnect());
    const run = await startBroker(testConfig(reg.keys), reg.snapshot, durable);
    cleanups.push(() => run.close());
    const health = await serveHealth(run);
    cleanups.push(() => new Promise<void>((r) => health.server.close(() => r())));

    // Telemetry never waits on Redis.
    const svc: MqttClient = await connectService(run.url, 'hub-ingest', 'hub-ingest-down');
    cleanups.push(() => svc.endAsync(true));
    await subscribeGranted(svc, ['v1/dev/+/telemetry'], 0);
    const got: string[] = [];
    svc.on('message', (_t, p) => got.push(p.toString()));
    const tele = await connectDevice(run.url, devB);
    cleanups.push(() => tele.endAsync(true));
    tele.publish(deviceTopic(devB, 'telemetry'), '{"t":1}', { qos: 0 });
    await waitFor('telemetry routed while Redis is away', () => got.includes('{"t":1}'));

    const dev = await RawMqtt.connect(run.port, devA, devA, deviceSecret(devA));
    cleanups.push(() => dev.end());
    dev.publish(deviceTopic(devA, 'event'), eventJson('alarm', 'down-1'), 1, 11);
    await dev.waitForClose();
    expect(dev.has('puback')).toBe(false);
    expect(await counterValue(run.broker.metrics.durableWrites, { stream: 'fire', result: 'failed' })).toBe(
      1,
    );

    const live = await fetch(`${health.url}/livez`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${health.url}/readyz`);
    expect(ready.status).toBe(503);
  });

  it('/readyz is 200 with Redis and the listener up, 503 once closed; /metrics exposes the broker metrics', async () => {
    const durable: Redis = durableRedis(testRedisUrl());
    cleanups.push(() => durable.disconnect());
    const run = await startBroker(testConfig(reg.keys), reg.snapshot, durable);
    const health = await serveHealth(run);
    cleanups.push(() => new Promise<void>((r) => health.server.close(() => r())));

    await waitFor('ready', async () => (await fetch(`${health.url}/readyz`)).status === 200);
    const dev = await connectDevice(run.url, devB);
    const metrics = await (await fetch(`${health.url}/metrics`)).text();
    for (const name of [
      'hub_broker_connections 1',
      'hub_broker_connects_total{result="ok"} 1',
      'hub_broker_messages_in_total',
      'hub_broker_rejections_total',
      'hub_broker_durable_writes_total',
      'hub_broker_event_ack_path_seconds_bucket',
    ]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).not.toContain(devB);
    expect((await fetch(`${health.url}/nope`)).status).toBe(404);
    await dev.endAsync(true);
    await run.close();
    expect((await fetch(`${health.url}/readyz`)).status).toBe(503);
  });
});
