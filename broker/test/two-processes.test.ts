import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { deviceTopic, stationTopic } from '@hub/protocol';
import { testRedisUrl } from '@hub/registry/test-support';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectDevice,
  connectService,
  connectStation,
  eventJson,
  loadRegistry,
  type RegistryFixture,
  subscribeGranted,
  waitFor,
} from './support/broker-fixture.js';

const ROOT = resolve(import.meta.dirname, '../..');

interface BrokerProcess {
  proc: ChildProcess;
  url: string;
  output: string[];
}

/** Starts `broker/src/main.ts` as its own OS process and reads its MQTT port from the log. */
async function spawnBroker(env: Record<string, string>): Promise<BrokerProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'broker/src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let url: string | null = null;
  const onData = (b: Buffer) => {
    const text = b.toString();
    output.push(text);
    const m = /MQTT listening on ([0-9.]+):(\d+)/.exec(text);
    if (m) url = `mqtt://${m[1]}:${m[2]}`;
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  await waitFor('broker process listening', () => url !== null || proc.exitCode !== null, 60_000);
  if (url === null) throw new Error(`broker process exited: ${output.join('')}`);
  return { proc, url, output };
}

/**
 * Scale-out with two real broker processes (main.ts, as deployed), sharing routing
 * through the test Redis on a channel unique to this test.
 */
describe('two broker processes sharing routing (real processes + real Redis)', () => {
  let reg: RegistryFixture;
  let a: BrokerProcess;
  let b: BrokerProcess;
  const clients: MqttClient[] = [];

  async function track<T extends MqttClient>(p: Promise<T>): Promise<T> {
    const c = await p;
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    reg = await loadRegistry('procs');
    const env = {
      HUB_REDIS_URL: testRedisUrl(),
      HUB_KEY_PREFIX: reg.keys.prefix,
      HUB_MQTT_PORT: '0',
      HUB_BROKER_HTTP_PORT: '0',
      HUB_LOG_LEVEL: 'info',
      HUB_BROKER_SHED_LAG_MS: '0',
      HUB_BROKER_CLUSTER_CHANNEL: `${reg.keys.prefix}:routing`,
    };
    [a, b] = await Promise.all([spawnBroker(env), spawnBroker(env)]);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.endAsync(true)));
    for (const p of [a, b]) {
      if (p && p.proc.exitCode === null) {
        const exited = new Promise((r) => p.proc.once('exit', r));
        p.proc.kill('SIGTERM');
        await exited;
      }
    }
    await reg?.cleanup();
  });

  it('an alarm from a device on process A reaches the service on process B; a page from A reaches the station on B', async () => {
    const dev = [...reg.snapshot.devices.keys()].sort()[0]!;
    const alertsOnB = await track(connectService(b.url, 'hub-alerts', 'hub-alerts-procb'));
    const events: string[] = [];
    alertsOnB.on('message', (_t, p) => events.push(p.toString()));
    expect(await subscribeGranted(alertsOnB, ['v1/dev/+/event'])).toEqual([1]);
    const station = await track(connectStation(b.url, 's01'));
    const pages: string[] = [];
    station.on('message', (_t, p) => pages.push(p.toString()));
    expect(await subscribeGranted(station, [stationTopic('s01', 'page')])).toEqual([1]);

    const device = await track(connectDevice(a.url, dev));
    const alarm = eventJson('alarm', 'procs-1');
    await device.publishAsync(deviceTopic(dev, 'event'), alarm, { qos: 1 });
    await waitFor('alarm from A at B', () => events.includes(alarm), 20_000);
    expect((await reg.redis.xrange(reg.keys.fireEvents, '-', '+')).map(([, f]) => f[3])).toEqual([alarm]);

    const pager = await track(connectService(a.url, 'hub-alerts', 'hub-alerts-proca'));
    await pager.publishAsync(stationTopic('s01', 'page'), '{"page":"procs"}', { qos: 1 });
    await waitFor('page from A at the station on B', () => pages.includes('{"page":"procs"}'), 20_000);
  }, 60_000);
});
