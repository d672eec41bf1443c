import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deviceTopic } from '@hub/protocol';
import { RegistryStore } from '@hub/registry';
import { cleanupPrefix, testKeys, testRedis, testRedisUrl, uniqueName } from '@hub/registry/test-support';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onenetSignature } from '../src/carrier-push.js';
import { BUILDINGS, SMOKE, smokeTelemetry, TOWNSHIP, waitFor } from './fixtures.js';
import { PrivateInflux } from './private-influx.js';

/**
 * kill -9 of a real ingest process (src/main.ts, run with tsx) while its spool holds
 * everything (InfluxDB down), then a restart with InfluxDB up: every spooled line is
 * replayed. Broker: an in-process aedes without auth; registry in the shared test
 * Redis under a unique prefix; InfluxDB: a private influxd (42111) that starts only
 * after the kill.
 */
const REPO = resolve(import.meta.dirname, '../..');
const HTTP_PORT = 42113;
const CARRIER_PORT = 42114;
const influx = new PrivateInflux(42111);
const keys = testKeys('ingest_restart');
const redis = testRedis();
const db = uniqueName('spool_restart');
const spoolDir = mkdtempSync(join(tmpdir(), 'ingest-restart-spool-'));
let broker: Aedes;
let server: Server;
let brokerUrl: string;
const children: ChildProcess[] = [];

function startIngest(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'ingest/src/main.ts'], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HUB_SERVICE_SECRET: 'test-secret-123',
      HUB_MQTT_URL: brokerUrl,
      HUB_INFLUX_URL: influx.url,
      HUB_INFLUX_DB: db,
      HUB_REDIS_URL: testRedisUrl(),
      HUB_KEY_PREFIX: keys.prefix,
      HUB_INGEST_HTTP_PORT: String(HTTP_PORT),
      HUB_INGEST_SPOOL_DIR: spoolDir,
      HUB_INGEST_FLUSH_INTERVAL_MS: '200',
      HUB_LOG_LEVEL: 'warn',
      // The carrier routes come up in the real process too (checked below).
      HUB_INGEST_CARRIER_PORT: String(CARRIER_PORT),
      HUB_ONENET_TOKEN: 'restart-test-token',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child;
}

async function metric(name: string): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${HTTP_PORT}/metrics`, { signal: AbortSignal.timeout(2000) });
  const text = await res.text();
  const m = new RegExp(`^${name} (\\d+(?:\\.\\d+)?)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}

beforeAll(async () => {
  await new RegistryStore(redis, keys).replaceAll({
    townships: [TOWNSHIP],
    buildings: BUILDINGS,
    devices: [SMOKE],
    stations: [],
    accounts: [],
  });
  broker = await Aedes.createBroker();
  server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  brokerUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await new Promise<void>((r) => broker.close(() => r()));
  await new Promise<void>((r) => server.close(() => r()));
  await influx.destroy();
  await cleanupPrefix(redis, keys);
  redis.disconnect();
  rmSync(spoolDir, { recursive: true, force: true });
});

describe('kill -9 and restart', () => {
  it('replays everything that was spooled before the kill', async () => {
    const first = startIngest();
    const exited = new Promise<void>((r) => first.once('exit', () => r()));
    // Subscribed (MQTT ready) although InfluxDB is down: the schema is set up in the background.
    await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${HTTP_PORT}/readyz`).catch(() => undefined);
      if (res === undefined) return undefined;
      const body = (await res.json()) as { mqtt: boolean };
      return body.mqtt ? true : undefined;
    }, 60_000);

    const N = 20_000;
    const base = Date.now() - 600_000;
    const device = await mqtt.connectAsync(brokerUrl, { clientId: 'sd-1', protocolVersion: 4 });
    const topic = deviceTopic('sd-1', 'telemetry');
    for (let i = 0; i < N; i += 200) {
      for (let k = i; k < i + 200; k++)
        device.publish(topic, JSON.stringify(smokeTelemetry(base + k, { seq: k })));
      await new Promise((r) => setTimeout(r, 20));
    }
    await device.endAsync();

    // Everything taken and written to a segment (nothing left in the memory chunk).
    await waitFor(async () => {
      const accepted = await metric('ingest_sink_accepted_lines_total');
      const inMemory = await metric('ingest_spool_memory_lines');
      const pending = await metric('ingest_spool_pending_lines');
      return accepted === N && inMemory === 0 && pending === N ? true : undefined;
    }, 60_000);
    first.kill('SIGKILL');
    await exited;

    await influx.start();
    const second = startIngest();
    await waitFor(
      async () => ((await influx.count(db, 'smoke').catch(() => 0)) >= N ? true : undefined),
      90_000,
    );
    expect(await influx.count(db, 'smoke')).toBe(N);
    expect(await metric('ingest_spool_replayed_lines_total')).toBe(N);
    await waitFor(async () => ((await metric('ingest_spool_pending_lines')) === 0 ? true : undefined));
    const sig = encodeURIComponent(onenetSignature('restart-test-token', 'n', 'ping'));
    const verify = await fetch(
      `http://127.0.0.1:${CARRIER_PORT}/carrier/onenet?msg=ping&nonce=n&signature=${sig}`,
    );
    expect(await verify.text()).toBe('ping');
    second.kill('SIGTERM');
    await new Promise<void>((r) => second.once('exit', () => r()));
  }, 180_000);
});
