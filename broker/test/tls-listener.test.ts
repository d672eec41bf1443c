import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceTopic } from '@hub/protocol';
import { testRedisUrl } from '@hub/registry/test-support';
import type { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  counterValue,
  deviceSecret,
  durableRedis,
  eventJson,
  loadRegistry,
  type RegistryFixture,
  type RunningBroker,
  startBroker,
  testConfig,
  waitFor,
} from './support/broker-fixture.js';

/** A throw-away self-signed certificate for 127.0.0.1 (openssl), written into `dir`. */
function selfSigned(dir: string, certName: string, keyName: string): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, keyName),
      '-out',
      join(dir, certName),
    ],
    { stdio: 'ignore' },
  );
}

/**
 * The optional mqtts listener with a throw-away self-signed certificate (openssl):
 * the same authentication and durable events as plain TCP, and the same admission
 * limits, checked before the TLS handshake.
 */
describe('mqtts listener (TLS + real Redis)', () => {
  let reg: RegistryFixture;
  let durable: Redis;
  let run: RunningBroker;
  let dir: string;
  let cert: Buffer;
  let dev: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'broker-tls-'));
    selfSigned(dir, 'cert.pem', 'key.pem');
    selfSigned(dir, 'cert2.pem', 'key2.pem');
    cert = readFileSync(join(dir, 'cert.pem'));
    reg = await loadRegistry('tls');
    durable = durableRedis(testRedisUrl());
    dev = [...reg.snapshot.devices.keys()].sort()[0]!;
    run = await startBroker(
      testConfig(reg.keys, {
        HUB_MQTTS_PORT: '0',
        HUB_MQTTS_CERT_FILE: join(dir, 'cert.pem'),
        HUB_MQTTS_KEY_FILE: join(dir, 'key.pem'),
        HUB_MQTT_WS_PORT: '0',
        HUB_MQTT_WS_TLS: '1',
        HUB_MQTT_CONN_BURST_PER_ADDRESS: '10',
        HUB_MQTT_CONN_RATE_PER_ADDRESS: '1',
      }),
      reg.snapshot,
      durable,
      undefined,
      { tls: { cert, key: readFileSync(join(dir, 'key.pem')) } },
    );
  });
  afterAll(async () => {
    await run?.close();
    durable?.disconnect();
    await reg?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A device over `url` (mqtts:// or wss://): its alarm is in Redis once the PUBACK is back. */
  async function alarmOver(url: string, id: string, ca = cert): Promise<void> {
    const c = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      clientId: dev,
      username: dev,
      password: deviceSecret(dev),
      ca,
    });
    const alarm = eventJson('alarm', id);
    await c.publishAsync(deviceTopic(dev, 'event'), alarm, { qos: 1 });
    const entries = await reg.redis.xrange(reg.keys.fireEvents, '-', '+');
    expect(entries.map(([, f]) => f[3])).toContain(alarm);
    await c.endAsync();
  }

  it('a device connects over TLS, its alarm is stored before the PUBACK', async () => {
    expect(run.tlsPort).toBeGreaterThan(0);
    await alarmOver(`mqtts://127.0.0.1:${run.tlsPort}`, 'tls-1');
  });

  it('the WebSocket listener speaks wss:// with the same certificate; its alarm is stored before the PUBACK', async () => {
    expect(run.wsPort).toBeGreaterThan(0);
    await alarmOver(`wss://127.0.0.1:${run.wsPort}/mqtt`, 'wss-1');
    // Plain ws:// on that port gets no MQTT session.
    await expect(
      mqtt.connectAsync(`ws://127.0.0.1:${run.wsPort}/mqtt`, {
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 3000,
        clientId: dev,
        username: dev,
        password: deviceSecret(dev),
      }),
    ).rejects.toThrow();
  });

  it('a wrong secret over TLS gets CONNACK 4', async () => {
    const code = await mqtt
      .connectAsync(`mqtts://127.0.0.1:${run.tlsPort}`, {
        protocolVersion: 4,
        reconnectPeriod: 0,
        clientId: dev,
        username: dev,
        password: 'wrong',
        ca: cert,
      })
      .then(
        async (c) => {
          await c.endAsync();
          return 0;
        },
        (err: { code?: number }) => err.code ?? -1,
      );
    expect(code).toBe(4);
  });

  it('a reloaded certificate serves new handshakes on mqtts and wss; open connections stay; a bad pair is refused', async () => {
    const cert2 = readFileSync(join(dir, 'cert2.pem'));
    const key2 = readFileSync(join(dir, 'key2.pem'));
    const opts = {
      protocolVersion: 4 as const,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      clientId: dev,
      username: dev,
      password: deviceSecret(dev),
    };
    const other = [...reg.snapshot.devices.keys()].sort()[1]!;
    const before = await mqtt.connectAsync(`mqtts://127.0.0.1:${run.tlsPort}`, {
      ...opts,
      clientId: other,
      username: other,
      password: deviceSecret(other),
      ca: cert,
    });
    run.broker.reloadCertificate({ cert: cert2, key: key2 });
    // The old certificate is no longer what a new handshake gets.
    await expect(
      mqtt.connectAsync(`mqtts://127.0.0.1:${run.tlsPort}`, { ...opts, ca: cert }),
    ).rejects.toThrow();
    await alarmOver(`mqtts://127.0.0.1:${run.tlsPort}`, 'tls-reloaded', cert2);
    await alarmOver(`wss://127.0.0.1:${run.wsPort}/mqtt`, 'wss-reloaded', cert2);
    // A mismatched pair is refused; the listeners keep the pair they have.
    expect(() => run.broker.reloadCertificate({ cert, key: key2 })).toThrow();
    await alarmOver(`mqtts://127.0.0.1:${run.tlsPort}`, 'tls-kept', cert2);
    // The connection made before the reload is still up and still delivers.
    expect(before.connected).toBe(true);
    const still = eventJson('alarm', 'tls-before-reload');
    await before.publishAsync(deviceTopic(other, 'event'), still, { qos: 1 });
    const entries = await reg.redis.xrange(reg.keys.fireEvents, '-', '+');
    expect(entries.map(([, f]) => f[3])).toContain(still);
    await before.endAsync();
  });

  it('a connection flood on the TLS port is throttled before the handshake', async () => {
    const socks = Array.from({ length: 20 }, () => {
      const s = tcpConnect(run.tlsPort as number, '127.0.0.1');
      s.on('error', () => undefined);
      return s;
    });
    await waitFor(
      'flood refused at accept',
      async () =>
        (await counterValue(run.broker.metrics.connectionsRefused, { reason: 'rate_address' })) >= 10,
    );
    for (const s of socks) s.destroy();
  });
});
