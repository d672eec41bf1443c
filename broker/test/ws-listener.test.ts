import { connect as tcpConnect } from 'node:net';
import { deviceTopic, MAX_PACKET_BYTES, REJECT_CODES } from '@hub/protocol';
import type { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BROKER_REJECT_CODES } from '../src/broker-errors.js';
import { wsMaxPayload } from '../src/ws-listener.js';
import {
  connectReturnCode,
  connectService,
  counterValue,
  deviceSecret,
  eventJson,
  loadRegistry,
  type RegistryFixture,
  type RunningBroker,
  startBroker,
  testConfig,
  waitFor,
} from './support/broker-fixture.js';
import { openRegistrySuite, type RegistrySuite } from './support/broker-suite.js';
import type { GateProxy } from './support/gate-proxy.js';
import { openGatedDurable } from './support/gated-durable.js';
import { RawMqtt } from './support/raw-mqtt.js';

/**
 * The optional MQTT over WebSocket listener, over real WebSockets (the `ws` client and
 * mqtt.js with ws:// URLs) and the shared test Redis: the same authentication,
 * authorization, durable writes before PUBACK, packet-size cap, connect timer and
 * admission limits as plain TCP.
 */

describe('MQTT over WebSocket (ws + real Redis)', () => {
  let reg: RegistryFixture;
  let proxy: GateProxy;
  let durable: Redis;
  let run: RunningBroker;
  let wsUrl: string;
  let devA: string;
  let devB: string;
  const cleanups: Array<() => unknown> = [];

  beforeAll(async () => {
    reg = await loadRegistry('ws');
    const ids = [...reg.snapshot.devices.keys()].sort();
    devA = ids[0]!;
    devB = ids[1]!;
    // The durable-write connection goes through a gate, so a test can hold Redis' answer.
    ({ proxy, durable } = await openGatedDurable());
    run = await startBroker(testConfig(reg.keys, { HUB_MQTT_WS_PORT: '0' }), reg.snapshot, durable);
    wsUrl = run.wsUrl as string;
  });
  afterEach(async () => {
    proxy.openGate();
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await run?.close();
    durable?.disconnect();
    await proxy?.close();
    await reg?.cleanup();
  });

  const packetRejections = (code: string) =>
    counterValue(run.broker.metrics.rejections, { code, channel: 'packet' });

  it('a device over WebSocket: its alarm is in Redis before the PUBACK and reaches a TCP subscriber', async () => {
    expect(wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    const service = await connectService(run.url);
    cleanups.push(() => service.endAsync());
    const received: string[] = [];
    service.on('message', (_t, payload) => received.push(payload.toString()));
    await service.subscribeAsync('v1/dev/+/event', { qos: 1 });

    const dev = await RawMqtt.connectWs(wsUrl, devA, devA, deviceSecret(devA));
    cleanups.push(() => dev.end());
    proxy.closeGate();
    const body = eventJson('alarm', 'ws-held-1');
    dev.publish(deviceTopic(devA, 'event'), body, 1, 9);
    await waitFor('the event write reached the proxy', () => proxy.heldBytes > 0);
    // The PINGRESP is written at once; a PUBACK written before Redis answered would
    // arrive before it (one ordered stream).
    dev.send({ cmd: 'pingreq' });
    await dev.waitForPacket('pingresp');
    expect(dev.has('puback')).toBe(false);
    expect(await reg.redis.xlen(reg.keys.fireEvents)).toBe(0);
    expect(received).toEqual([]);

    proxy.openGate();
    await dev.waitForPacket('puback');
    const entries = await reg.redis.xrange(reg.keys.fireEvents, '-', '+');
    expect(entries.map(([, f]) => f.slice(0, 4))).toEqual([['d', devA, 'p', body]]);
    await waitFor('the TCP subscriber got the alarm', () => received.length > 0);
    expect(received).toEqual([body]);
    await reg.redis.del(reg.keys.fireEvents);
    expect(await counterValue(run.broker.metrics.socketsAccepted, { listener: 'ws' })).toBeGreaterThan(0);
  });

  it('mqtt.js over ws://: the right secret is accepted, a wrong one gets CONNACK 4', async () => {
    const c = await mqtt.connectAsync(wsUrl, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      clientId: devB,
      username: devB,
      password: deviceSecret(devB),
    });
    const alarm = eventJson('alarm', 'ws-mqttjs-1');
    await c.publishAsync(deviceTopic(devB, 'event'), alarm, { qos: 1 });
    const entries = await reg.redis.xrange(reg.keys.fireEvents, '-', '+');
    expect(entries.map(([, f]) => f[3])).toEqual([alarm]);
    await reg.redis.del(reg.keys.fireEvents);
    await c.endAsync();

    const bad0 = await counterValue(run.broker.metrics.connects, { result: 'bad_secret' });
    const code = await connectReturnCode(wsUrl, { clientId: devA, username: devA, password: 'wrong' });
    expect(code).toBe(4);
    expect(await counterValue(run.broker.metrics.connects, { result: 'bad_secret' })).toBe(bad0 + 1);
  });

  it("a publish on another device's topic over WebSocket closes the connection, nothing stored", async () => {
    const refused0 = await counterValue(run.broker.metrics.rejections, {
      code: REJECT_CODES.NOT_AUTHORIZED,
      channel: 'event',
    });
    const dev = await RawMqtt.connectWs(wsUrl, devA, devA, deviceSecret(devA));
    cleanups.push(() => dev.end());
    dev.publish(deviceTopic(devB, 'event'), eventJson('alarm', 'ws-cross-1'), 1, 3);
    await dev.waitForClose();
    expect(dev.has('puback')).toBe(false);
    expect(
      await counterValue(run.broker.metrics.rejections, {
        code: REJECT_CODES.NOT_AUTHORIZED,
        channel: 'event',
      }),
    ).toBe(refused0 + 1);
    expect(await reg.redis.xlen(reg.keys.fireEvents)).toBe(0);
  });

  it('an oversize packet declared before CONNECT closes the WebSocket connection', async () => {
    const large0 = await packetRejections(REJECT_CODES.TOO_LARGE);
    const c = await RawMqtt.openWs(wsUrl);
    cleanups.push(() => c.end());
    // CONNECT fixed header declaring 2 MB (> HUB_MQTT_MAX_PACKET_BYTES), no body.
    c.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x01]));
    await c.waitForClose();
    expect(c.has('connack')).toBe(false);
    expect(await packetRejections(REJECT_CODES.TOO_LARGE)).toBe(large0 + 1);
  });

  it('a WebSocket message larger than one whole packet is refused by ws (1009)', async () => {
    const large0 = await packetRejections(REJECT_CODES.TOO_LARGE);
    const c = await RawMqtt.openWs(wsUrl);
    cleanups.push(() => c.end());
    c.ws?.send(Buffer.alloc(wsMaxPayload(MAX_PACKET_BYTES) + 1));
    await c.waitForClose();
    await waitFor('close code', () => c.wsCloseCode !== null);
    expect(c.wsCloseCode).toBe(1009);
    expect(await packetRejections(REJECT_CODES.TOO_LARGE)).toBe(large0 + 1);
  });

  it('a text frame closes the connection (MQTT data is binary)', async () => {
    const proto0 = await packetRejections(BROKER_REJECT_CODES.PROTOCOL);
    const c = await RawMqtt.openWs(wsUrl);
    cleanups.push(() => c.end());
    c.ws?.send('hello');
    await c.waitForClose();
    expect(await packetRejections(BROKER_REJECT_CODES.PROTOCOL)).toBe(proto0 + 1);
  });

  it('refuses other paths, other subprotocols and plain HTTP requests', async () => {
    const refused = (reason: string) => counterValue(run.broker.metrics.connectionsRefused, { reason });
    const [path0, proto0, plain0] = await Promise.all([
      refused('ws_bad_path'),
      refused('ws_bad_subprotocol'),
      refused('ws_not_upgrade'),
    ]);
    const port = run.wsPort as number;
    await expect(RawMqtt.openWs(`ws://127.0.0.1:${port}/other`)).rejects.toThrow(/HTTP 404/);
    await expect(RawMqtt.openWs(wsUrl, ['mqttv3.1'])).rejects.toThrow(/HTTP 400/);
    await expect(RawMqtt.openWs(wsUrl, [])).rejects.toThrow(/HTTP 400/);
    const res = await fetch(`http://127.0.0.1:${port}/mqtt`);
    expect(res.status).toBe(426);
    expect(await refused('ws_bad_path')).toBe(path0 + 1);
    expect(await refused('ws_bad_subprotocol')).toBe(proto0 + 2);
    expect(await refused('ws_not_upgrade')).toBe(plain0 + 1);
  });
});

describe('MQTT over WebSocket: limits shared with TCP, connect timeout, off by default, close', () => {
  let suite: RegistrySuite;
  let reg: RegistryFixture;
  let durable: Redis;
  let dev: string;
  const cleanups: Array<() => unknown> = [];

  beforeAll(async () => {
    suite = await openRegistrySuite('ws-limits');
    ({ reg, durable } = suite);
    dev = suite.ids[0]!;
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await suite?.close();
  });

  async function start(env: Record<string, string>): Promise<RunningBroker> {
    const run = await startBroker(testConfig(reg.keys, env), reg.snapshot, durable);
    cleanups.push(() => run.close());
    return run;
  }

  it('is off when no port is configured', async () => {
    expect(testConfig(reg.keys).ws).toBeNull();
    const run = await start({});
    expect(run.wsPort).toBeUndefined();
    // The MQTT TCP port does not speak WebSocket: the HTTP upgrade is not MQTT.
    await expect(RawMqtt.openWs(`ws://127.0.0.1:${run.port}/mqtt`)).rejects.toThrow();
    expect(await counterValue(run.broker.metrics.socketsAccepted, { listener: 'ws' })).toBe(0);
  });

  it('the connection cap counts TCP and WebSocket connections together', async () => {
    const run = await start({ HUB_MQTT_WS_PORT: '0', HUB_MQTT_MAX_CONNECTIONS: '2' });
    const m = run.broker.metrics;
    const a = await RawMqtt.open(run.port);
    cleanups.push(() => a.end());
    const b = await RawMqtt.open(run.port);
    cleanups.push(() => b.end());
    await waitFor(
      'two TCP sockets open',
      async () => (await counterValue(m.listenerSockets, { listener: 'tcp' })) === 2,
    );
    await expect(RawMqtt.openWs(run.wsUrl as string)).rejects.toThrow();
    expect(await counterValue(m.connectionsRefused, { reason: 'max_connections' })).toBe(1);

    a.end();
    await waitFor(
      'one TCP socket open',
      async () => (await counterValue(m.listenerSockets, { listener: 'tcp' })) === 1,
    );
    const w = await RawMqtt.connectWs(run.wsUrl as string, dev, dev, deviceSecret(dev));
    cleanups.push(() => w.end());
    expect(await counterValue(m.listenerSockets, { listener: 'ws' })).toBe(1);
    expect(await counterValue(m.socketsAccepted, { listener: 'ws' })).toBe(1);
  });

  it('a flood of upgrades from one address is throttled at accept', async () => {
    const run = await start({
      HUB_MQTT_WS_PORT: '0',
      HUB_MQTT_CONN_BURST_PER_ADDRESS: '3',
      HUB_MQTT_CONN_RATE_PER_ADDRESS: '1',
    });
    const opened = await Promise.allSettled(
      Array.from({ length: 20 }, () => RawMqtt.openWs(run.wsUrl as string)),
    );
    for (const o of opened) if (o.status === 'fulfilled') o.value.end();
    await waitFor(
      'flood refused at accept',
      async () =>
        (await counterValue(run.broker.metrics.connectionsRefused, { reason: 'rate_address' })) >= 10,
    );
    expect(opened.filter((o) => o.status === 'rejected').length).toBeGreaterThanOrEqual(10);
  });

  it('the connect timeout closes an upgraded connection without CONNECT and a silent HTTP one, not a connected client', async () => {
    const run = await start({ HUB_MQTT_WS_PORT: '0', HUB_MQTT_CONNECT_TIMEOUT_MS: '1000' });
    const timeouts0 = await counterValue(run.broker.metrics.connects, { result: 'timeout' });
    const connected = await RawMqtt.connectWs(run.wsUrl as string, dev, dev, deviceSecret(dev));
    cleanups.push(() => connected.end());
    const silent = await RawMqtt.openWs(run.wsUrl as string);
    cleanups.push(() => silent.end());
    // A TCP connection that never sends its HTTP request is closed by the idle timeout.
    const raw = tcpConnect(run.wsPort as number, '127.0.0.1');
    raw.on('error', () => undefined);
    cleanups.push(() => raw.destroy());
    let rawClosed = false;
    raw.on('close', () => {
      rawClosed = true;
    });

    await silent.waitForClose(20_000);
    expect(silent.has('connack')).toBe(false);
    expect(await counterValue(run.broker.metrics.connects, { result: 'timeout' })).toBe(timeouts0 + 1);
    await waitFor('the silent HTTP connection is closed', () => rawClosed, 20_000);

    // Both timeouts have passed: the authenticated WebSocket client (keep-alive 0) is
    // still connected and gets its PUBACK.
    expect(connected.closed).toBe(false);
    connected.publish(deviceTopic(dev, 'event'), eventJson('alarm', 'ws-after-timeouts'), 1, 5);
    await connected.waitForPacket('puback');
    await reg.redis.del(reg.keys.fireEvents);
  });

  it('the failed-login backoff counts the WebSocket peer address (from the upgrade request)', async () => {
    const run = await start({ HUB_MQTT_WS_PORT: '0', HUB_MQTT_LOGIN_BACKOFF_BASE_MS: '50' });
    const refusedFrom = async (localAddress: string, username: string) => {
      const c = await RawMqtt.openWs(run.wsUrl as string, ['mqtt'], localAddress);
      cleanups.push(() => c.end());
      c.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepalive: 0,
        clientId: username,
        username,
        password: Buffer.from('wrong'),
      });
      return c.connackOrClose(20_000);
    };
    expect(await refusedFrom('127.0.0.2', 'nobody-a')).toBe(4);
    expect(await refusedFrom('127.0.0.2', 'nobody-b')).toBe(4);
    // The second failure from 127.0.0.2 was held back.
    expect(await counterValue(run.broker.metrics.loginsDelayed, {})).toBe(1);
    // A first failure from another address and username is answered at once: the two
    // WebSocket peers are told apart (not one shared "unknown" address).
    expect(await refusedFrom('127.0.0.3', 'nobody-c')).toBe(4);
    expect(await counterValue(run.broker.metrics.loginsDelayed, {})).toBe(1);
  });

  it('closing the broker closes its WebSocket clients and the listener', async () => {
    const run = await startBroker(testConfig(reg.keys, { HUB_MQTT_WS_PORT: '0' }), reg.snapshot, durable);
    const w = await RawMqtt.connectWs(run.wsUrl as string, dev, dev, deviceSecret(dev));
    await run.close();
    await w.waitForClose();
    await expect(RawMqtt.openWs(run.wsUrl as string)).rejects.toThrow();
  });
});
