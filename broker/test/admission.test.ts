import { testRedisUrl } from '@hub/registry/test-support';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectDevice,
  counterValue,
  deviceSecret,
  durableRedis,
  loadRegistry,
  type RegistryFixture,
  type RunningBroker,
  startBroker,
  testConfig,
  waitFor,
} from './support/broker-fixture.js';
import { connectFrame } from './support/frames.js';
import { RawMqtt } from './support/raw-mqtt.js';

/**
 * Protection before authentication, over real TCP: connection-rate limits per source
 * address and global, the connection cap, the failed-login backoff, and the bounded
 * tables behind them. Several loopback source addresses (127.0.0.x) stand in for
 * different machines. Small limits come from the config; nothing asserts a duration.
 */
describe('admission before authentication (TCP + real Redis)', () => {
  let reg: RegistryFixture;
  let durable: Redis;
  let devA: string;
  let devB: string;
  const raws: RawMqtt[] = [];
  const brokers: RunningBroker[] = [];

  beforeAll(async () => {
    reg = await loadRegistry('admission');
    durable = durableRedis(testRedisUrl());
    const ids = [...reg.snapshot.devices.keys()].sort();
    [devA, devB] = [ids[0]!, ids[1]!];
  });
  afterEach(async () => {
    for (const r of raws.splice(0)) r.end();
    for (const b of brokers.splice(0)) await b.close();
  });
  afterAll(async () => {
    durable?.disconnect();
    await reg?.cleanup();
  });

  async function broker(env: Record<string, string>): Promise<RunningBroker> {
    const run = await startBroker(testConfig(reg.keys, env), reg.snapshot, durable);
    brokers.push(run);
    return run;
  }

  async function open(run: RunningBroker, from?: string): Promise<RawMqtt> {
    const r = await RawMqtt.open(run.port, from);
    raws.push(r);
    return r;
  }

  /** A device CONNECT over a raw socket from `from`; the CONNACK code or null if closed. */
  async function deviceConnect(run: RunningBroker, id: string, from?: string, password = deviceSecret(id)) {
    const r = await open(run, from);
    r.write(connectFrame({ clientId: id, username: id, password }));
    return r.connackOrClose();
  }

  const refused = (run: RunningBroker, reason: string) =>
    counterValue(run.broker.metrics.connectionsRefused, { reason });
  const tracked = (run: RunningBroker, table: string) => counterValue(run.broker.metrics.tracked, { table });

  it('throttles a connection flood from one address; other addresses get in; the same machine gets in after the window', async () => {
    const run = await broker({
      HUB_MQTT_CONN_BURST_PER_ADDRESS: '5',
      HUB_MQTT_CONN_RATE_PER_ADDRESS: '1',
    });
    const flood: RawMqtt[] = [];
    for (let i = 0; i < 40; i++) flood.push(await open(run, '127.0.0.1'));
    await waitFor('flood sockets closed by the broker', () => flood.filter((r) => r.closed).length >= 20);
    expect(await refused(run, 'rate_address')).toBeGreaterThanOrEqual(20);
    // Sockets closed by the broker never got a byte back (no CONNACK without a CONNECT).
    expect(flood.every((r) => r.received.length === 0)).toBe(true);

    // Another machine is not affected by this address' flood.
    expect(await deviceConnect(run, devB, '127.0.0.2')).toBe(0);

    // The flooding machine's own legitimate device connects once its window refills.
    for (const r of flood) r.end();
    await waitFor(
      'a device from 127.0.0.1 connects again',
      async () => (await deviceConnect(run, devA, '127.0.0.1')) === 0,
      20_000,
    );
  });

  it('the global rate limit holds across addresses', async () => {
    const run = await broker({ HUB_MQTT_CONN_BURST_GLOBAL: '5', HUB_MQTT_CONN_RATE_GLOBAL: '1' });
    const socks: RawMqtt[] = [];
    for (let i = 0; i < 20; i++) socks.push(await open(run, `127.0.0.${10 + i}`));
    await waitFor('globally limited sockets closed', () => socks.filter((r) => r.closed).length >= 10);
    expect(await refused(run, 'rate_global')).toBeGreaterThanOrEqual(10);
  });

  it('caps open connections; a slot frees when a connection closes', async () => {
    const run = await broker({ HUB_MQTT_MAX_CONNECTIONS: '3' });
    const idle = [await open(run), await open(run), await open(run)];
    await waitFor(
      'three sockets counted',
      async () => (await counterValue(run.broker.metrics.sockets, {})) === 3,
    );
    const fourth = await open(run);
    await fourth.waitForClose();
    expect(await refused(run, 'max_connections')).toBe(1);
    idle[0]!.end();
    await waitFor('slot freed', async () => (await counterValue(run.broker.metrics.sockets, {})) === 2);
    expect(await deviceConnect(run, devA)).toBe(0);
  });

  it('remembers a bounded number of source addresses', async () => {
    const run = await broker({ HUB_MQTT_TRACKED_ADDRESSES: '8' });
    for (let i = 0; i < 30; i++) await open(run, `127.0.1.${i + 1}`);
    await waitFor(
      'all sockets seen',
      async () => (await counterValue(run.broker.metrics.sockets, {})) === 30,
    );
    expect(await tracked(run, 'addresses')).toBe(8);
  });

  it('slows repeated failed logins, still answers them with CONNACK 4, and lets the right secret in', async () => {
    const run = await broker({
      HUB_MQTT_LOGIN_BACKOFF_BASE_MS: '50',
      HUB_MQTT_LOGIN_BACKOFF_MAX_MS: '200',
      HUB_MQTT_LOGIN_TRACKED: '4',
    });
    for (let i = 0; i < 4; i++) expect(await deviceConnect(run, devA, '127.0.0.3', 'guess')).toBe(4);
    // The first refusal is answered at once, the next three were held back.
    expect(await counterValue(run.broker.metrics.loginsDelayed, {})).toBe(3);
    expect(await deviceConnect(run, devA, '127.0.0.3')).toBe(0);
    // Guessing from many addresses and usernames: the backoff tables stay bounded.
    for (let i = 0; i < 12; i++) {
      expect(await deviceConnect(run, `nobody-${i}`, `127.0.2.${i + 1}`, 'x')).toBe(4);
    }
    expect(await tracked(run, 'logins')).toBeLessThanOrEqual(8);
    // mqtt.js from the same machine is fine too.
    const c = await connectDevice(run.url, devB);
    await c.endAsync(true);
  });

  it('behind a trusted load balancer, limits and backoff see the address of its PROXY header', async () => {
    const run = await broker({
      HUB_MQTT_TRUSTED_PROXIES: '127.0.0.9',
      HUB_MQTT_CONN_BURST_PER_ADDRESS: '2',
      HUB_MQTT_CONN_RATE_PER_ADDRESS: '1',
    });
    const header = (src: string) => Buffer.from(`PROXY TCP4 ${src} 127.0.0.1 40000 1883\r\n`);
    // The header and the CONNECT in one write, as HAProxy sends them.
    async function viaProxy(src: string, id: string): Promise<number | null> {
      const r = await open(run, '127.0.0.9');
      r.write(
        Buffer.concat([
          header(src),
          connectFrame({ clientId: id, username: id, password: deviceSecret(id) }),
        ]),
      );
      return r.connackOrClose();
    }
    expect(await viaProxy('203.0.113.7', devA)).toBe(0);
    expect(await viaProxy('203.0.113.7', devA)).toBe(0);
    // The burst of 2 is spent for 203.0.113.7, not for the balancer or for others.
    const before = await refused(run, 'rate_address');
    expect(await viaProxy('203.0.113.7', devA)).toBeNull();
    expect(await refused(run, 'rate_address')).toBe(before + 1);
    expect(await viaProxy('198.51.100.4', devB)).toBe(0);

    // A v2 header in its own write, the CONNECT after it.
    const v2 = Buffer.concat([
      Buffer.from([
        0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c,
      ]),
      Buffer.from([192, 0, 2, 55, 127, 0, 0, 1, 0x9c, 0x40, 0x07, 0x5b]),
    ]);
    const r2 = await open(run, '127.0.0.9');
    r2.write(v2);
    await new Promise((r) => setTimeout(r, 50)); // so the header arrives in a read of its own
    r2.write(connectFrame({ clientId: devB, username: devB, password: deviceSecret(devB) }));
    expect(await r2.connackOrClose()).toBe(0);

    // From the balancer without a header: closed, counted.
    const bad0 = await refused(run, 'proxy_header');
    const plain = await open(run, '127.0.0.9');
    plain.write(connectFrame({ clientId: devA, username: devA, password: deviceSecret(devA) }));
    expect(await plain.connackOrClose()).toBeNull();
    expect(await refused(run, 'proxy_header')).toBe(bad0 + 1);
    // A direct connection from elsewhere needs no header.
    expect(await deviceConnect(run, devB, '127.0.0.3')).toBe(0);
  });
});
