/**
 * The foundation's end-to-end test: the real broker, ingest, alerts and dashboard
 * processes (the same entry files the demo runs), over real TCP MQTT, a real Redis
 * and a real InfluxDB. A smoke alarm must reach the nearest on-duty station — on its
 * MQTT page topic and on the dashboard's live stream — naming the right building; a
 * device's telemetry must be queryable in InfluxDB; the broker must refuse wrong
 * secrets, cross-device publishes and wildcard subscriptions; bad payloads must be
 * counted and must not stop anything.
 */

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Device, deviceTopic, hubKeys, type PageMessage, stationTopic } from '@hub/protocol';
import {
  demoDeviceSecret,
  generateDemoTownship,
  type RegistryData,
  RegistryStore,
  StationIndex,
} from '@hub/registry';
import {
  cleanupPrefix,
  testInfluxUrl,
  testRedis,
  testRedisUrl,
  uniqueName,
  waitFor,
} from '@hub/registry/test-support';
import type { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePorts,
  type HubProcess,
  REPO_ROOT,
  SERVICE_ENTRIES,
  startService,
  waitForHttp,
} from '../src/hub-processes.js';

const execFileAsync = promisify(execFile);
const SEED = 'e2e';
const SERVICE_SECRET = 'e2e-service-secret';

function connect(url: string, username: string, password: string, clientId = username): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { username, password, clientId, reconnectPeriod: 0, connectTimeout: 5000 });
    c.once('connect', () => resolve(c));
    c.once('error', (err) => {
      c.end(true);
      reject(err);
    });
  });
}

/** The granted QoS of one subscription; mqtt.js rejects a SUBACK of 128, so read it from the error. */
async function grantedQos(client: MqttClient, topic: string): Promise<number | undefined> {
  try {
    const grants = await client.subscribeAsync(topic, { qos: 1 });
    return grants[0]?.qos;
  } catch (err) {
    const granted = (err as { packet?: { granted?: unknown[] } }).packet?.granted;
    if (!granted) throw err;
    return typeof granted[0] === 'number' ? granted[0] : undefined;
  }
}

async function influxQuery(db: string, q: string): Promise<unknown[][]> {
  const url = `${testInfluxUrl()}/query?db=${encodeURIComponent(db)}&epoch=ms&q=${encodeURIComponent(q)}`;
  const body = (await (await fetch(url)).json()) as {
    results: Array<{ series?: Array<{ values: unknown[][] }> }>;
  };
  return body.results[0]?.series?.[0]?.values ?? [];
}

describe('hub end to end (real broker, Redis, InfluxDB)', () => {
  const keys = hubKeys(uniqueName('e2e'));
  const influxDb = uniqueName('e2e');
  const logDir = join(REPO_ROOT, '.local', 'test', 'e2e-logs', keys.prefix);
  const procs: HubProcess[] = [];
  const clients: MqttClient[] = [];
  let redis: Redis;
  let data: RegistryData;
  let mqttUrl = '';
  let dashboardUrl = '';
  let brokerHttp = '';

  beforeAll(async () => {
    redis = testRedis();
    data = generateDemoTownship({
      seed: SEED,
      buildings: 40,
      devices: 160,
      stations: 4,
      serviceSecret: SERVICE_SECRET,
    });
    await new RegistryStore(redis, keys).replaceAll(data);
    // The duty officers' dashboard accounts, through the same command the demo runs.
    await execFileAsync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(REPO_ROOT, 'dashboard/src/accounts-cli.ts'),
        'seed-demo',
        '--redis',
        testRedisUrl(),
        '--prefix',
        keys.prefix,
      ],
      { cwd: REPO_ROOT },
    );
    const [mqttPort, brokerHttpPort, ingestPort, alertsPort, dashPort] = await freePorts(5);
    mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    dashboardUrl = `http://127.0.0.1:${dashPort}`;
    brokerHttp = `http://127.0.0.1:${brokerHttpPort}`;
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HUB_REDIS_URL: testRedisUrl(),
      HUB_INFLUX_URL: testInfluxUrl(),
      HUB_INFLUX_DB: influxDb,
      HUB_KEY_PREFIX: keys.prefix,
      HUB_SERVICE_SECRET: SERVICE_SECRET,
      HUB_MQTT_URL: mqttUrl,
      HUB_MQTT_HOST: '127.0.0.1',
      HUB_MQTT_PORT: String(mqttPort),
      HUB_BROKER_HTTP_PORT: String(brokerHttpPort),
      HUB_INGEST_HTTP_PORT: String(ingestPort),
      HUB_ALERTS_HTTP_PORT: String(alertsPort),
      HUB_DASHBOARD_PORT: String(dashPort),
      HUB_DASHBOARD_HOST: '127.0.0.1',
      HUB_ACCEPT_TIMEOUT_MS: '60000',
      HUB_LOG_LEVEL: 'info',
    };
    const broker = startService('broker', SERVICE_ENTRIES.broker, env, logDir);
    procs.push(broker);
    await waitForHttp(`${brokerHttp}/readyz`, 60_000, broker);
    const ingest = startService('ingest', SERVICE_ENTRIES.ingest, env, logDir);
    const alerts = startService('alerts', SERVICE_ENTRIES.alerts, env, logDir);
    const dashboard = startService('dashboard', SERVICE_ENTRIES.dashboard, env, logDir);
    procs.push(ingest, alerts, dashboard);
    await Promise.all([
      waitForHttp(`http://127.0.0.1:${ingestPort}/readyz`, 60_000, ingest),
      waitForHttp(`http://127.0.0.1:${alertsPort}/readyz`, 60_000, alerts),
      waitForHttp(`${dashboardUrl}/readyz`, 60_000, dashboard),
    ]);
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await Promise.all(procs.map((p) => p.stop()));
    await cleanupPrefix(redis, keys);
    await fetch(`${testInfluxUrl()}/query?q=${encodeURIComponent(`DROP DATABASE "${influxDb}"`)}`, {
      method: 'POST',
    });
    redis.disconnect();
  });

  function smokeDeviceIn(buildingPredicate: (id: string) => boolean = () => true): Device {
    const d = data.devices.find((x) => x.kind === 'smoke' && buildingPredicate(x.buildingId));
    if (!d) throw new Error('demo data has no smoke detector');
    return d;
  }

  it('pages the nearest on-duty station on MQTT and the live stream, naming the building', async () => {
    const device = smokeDeviceIn();
    const building = data.buildings.find((b) => b.id === device.buildingId)!;
    const stations = new Map(data.stations.map((s) => [s.id, s]));
    // The expectation is computed independently of the alerts service: area first, then nearest.
    const expected = new StationIndex(stations.values()).rank(
      building.lat,
      building.lon,
      1,
      (s) => s.onDuty && s.officers.some((o) => o.onDuty),
    )[0]!.station;

    const stationUser = `station-${expected.id}`;
    const station = await connect(mqttUrl, stationUser, demoDeviceSecret(SEED, stationUser));
    clients.push(station);
    const pages: PageMessage[] = [];
    station.on('message', (_t, payload) => pages.push(JSON.parse(payload.toString()) as PageMessage));
    await station.subscribeAsync(stationTopic(expected.id, 'page'), { qos: 1 });

    // The dashboard's live stream for the same station, as its duty officer sees it.
    const login = await fetch(`${dashboardUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: `duty-${expected.id}`.toLowerCase(),
        password: `duty-${expected.id}-demo`.toLowerCase(),
      }),
    });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(cookie).toMatch(/^hub_session=/);
    const sse = await fetch(`${dashboardUrl}/api/stations/${expected.id}/live`, { headers: { cookie } });
    expect(sse.status).toBe(200);
    const reader = sse.body!.getReader();
    let sseText = '';
    const pump = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        sseText += new TextDecoder().decode(value);
      }
    })();

    const dev = await connect(mqttUrl, device.id, demoDeviceSecret(SEED, device.id));
    clients.push(dev);
    await dev.publishAsync(
      deviceTopic(device.id, 'event'),
      JSON.stringify({ v: 1, id: 'alarm-1', ts: Date.now(), seq: 1, type: 'alarm', value: 12.5 }),
      { qos: 1 },
    );

    const page = await waitFor('page on the station topic', () => pages[0], 20_000);
    expect(page.stationId).toBe(expected.id);
    expect(page.building.id).toBe(building.id);
    expect(page.building.address).toBe(building.address);
    expect(page.deviceIds).toContain(device.id);
    expect(page.floor).toBe(device.floor);
    await waitFor('page on the live stream', () => sseText.includes(page.incidentId), 20_000);
    expect(sseText).toContain(building.id);
    await reader.cancel();
    await pump.catch(() => undefined);

    // A retry of the same message and a second alarm from the same device fold into the incident.
    await dev.publishAsync(
      deviceTopic(device.id, 'event'),
      JSON.stringify({ v: 1, id: 'alarm-1', ts: Date.now(), seq: 1, type: 'alarm', value: 12.5 }),
      { qos: 1 },
    );
    await dev.publishAsync(
      deviceTopic(device.id, 'event'),
      JSON.stringify({ v: 1, id: 'alarm-2', ts: Date.now(), seq: 2, type: 'alarm', value: 14 }),
      { qos: 1 },
    );
    const incident = await waitFor('incident in Redis', async () => {
      const raw = await redis.get(keys.incident(page.incidentId));
      return raw ? (JSON.parse(raw) as { buildingId: string; state: string }) : undefined;
    });
    expect(incident.buildingId).toBe(building.id);
    // Give alerts time to (wrongly) page again; it must not.
    await new Promise((r) => setTimeout(r, 1500));
    expect(pages.filter((p) => p.incidentId === page.incidentId && p.step === 1)).toHaveLength(1);
  });

  it('stores telemetry in InfluxDB where it can be queried', async () => {
    const device = data.devices.find((d) => d.kind === 'smoke' && d.id !== smokeDeviceIn().id)!;
    const dev = await connect(mqttUrl, device.id, demoDeviceSecret(SEED, device.id));
    clients.push(dev);
    const ts = Date.now();
    await dev.publishAsync(
      deviceTopic(device.id, 'telemetry'),
      JSON.stringify({ v: 1, id: 't-1', ts, seq: 1, kind: 'smoke', smoke: 0.37, tempC: 24.5, battery: 81 }),
    );
    const rows = await waitFor(
      'telemetry row in InfluxDB',
      async () => {
        const r = await influxQuery(influxDb, `SELECT * FROM smoke WHERE device = '${device.id}'`).catch(
          () => [],
        );
        return r.length > 0 ? r : undefined;
      },
      20_000,
      200,
    );
    const flat = JSON.stringify(rows);
    expect(flat).toContain('0.37');
    expect(flat).toContain('24.5');
    expect(rows[0]?.[0]).toBe(ts);
  });

  it('refuses a wrong secret and an unknown device', async () => {
    const device = data.devices[3]!;
    await expect(connect(mqttUrl, device.id, 'wrong-secret')).rejects.toThrow();
    await expect(connect(mqttUrl, 'no-such-device', 'x')).rejects.toThrow();
  });

  it("keeps a device off another device's topics and off '#'", async () => {
    const [a, b] = data.devices.filter((d) => d.kind === 'smoke').slice(5, 7) as [Device, Device];
    // A hub service listening to everything B publishes.
    const watcher = await connect(mqttUrl, 'hub-ingest', SERVICE_SECRET, `hub-ingest-watch${process.pid}`);
    clients.push(watcher);
    const seen: string[] = [];
    watcher.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    await watcher.subscribeAsync(`v1/dev/${b.id}/+`, { qos: 1 });

    const devA = await connect(mqttUrl, a.id, demoDeviceSecret(SEED, a.id));
    clients.push(devA);
    expect(await grantedQos(devA, '#')).toBe(128);
    expect(await grantedQos(devA, deviceTopic(b.id, 'cmd'))).toBe(128);
    const spoof = JSON.stringify({
      v: 1,
      id: 'spoof',
      ts: Date.now(),
      seq: 1,
      kind: 'smoke',
      smoke: 9,
      tempC: 20,
      battery: 50,
    });
    devA.publish(deviceTopic(b.id, 'telemetry'), spoof, { qos: 0 });
    devA.publish(
      deviceTopic(b.id, 'event'),
      JSON.stringify({ v: 1, id: 'spoof-e', ts: Date.now(), seq: 1, type: 'alarm' }),
      {
        qos: 1,
      },
    );

    // B's own publish arrives, so the watcher works; A's spoofs never do.
    const devB = await connect(mqttUrl, b.id, demoDeviceSecret(SEED, b.id));
    clients.push(devB);
    await devB.publishAsync(deviceTopic(b.id, 'telemetry'), spoof.replace('spoof', 'own'));
    await waitFor('own telemetry at the watcher', () => seen.some((s) => s.includes('"own"')));
    expect(seen.some((s) => s.includes('spoof'))).toBe(false);
    const fire = await redis.xrange(keys.fireEvents, '-', '+');
    expect(JSON.stringify(fire)).not.toContain('spoof-e');
  });

  it('counts bad payloads and keeps routing', async () => {
    const device = data.devices.filter((d) => d.kind === 'smoke')[9]!;
    const dev = await connect(mqttUrl, device.id, demoDeviceSecret(SEED, device.id));
    clients.push(dev);
    const t = deviceTopic(device.id, 'event');
    await dev.publishAsync(t, '{"not json', { qos: 1 }).catch(() => undefined);
    await dev
      .publishAsync(t, JSON.stringify({ v: 1, id: 'x', ts: 1, seq: 1, type: 'explode' }), { qos: 1 })
      .catch(() => undefined);
    await dev.publishAsync(t, 'x'.repeat(4096), { qos: 1 }).catch(() => undefined);
    const metrics = await waitFor('rejections in broker metrics', async () => {
      const text = await (await fetch(`${brokerHttp}/metrics`)).text();
      return /E_INVALID_JSON/.test(text) && /E_SCHEMA/.test(text) && /E_TOO_LARGE/.test(text)
        ? text
        : undefined;
    });
    expect(metrics).toContain('E_INVALID_JSON');
    // Every service is still up and a valid alarm from another device still gets through.
    for (const p of procs) expect(p.child.exitCode).toBeNull();
    const other = data.devices.filter((d) => d.kind === 'smoke')[20]!;
    const dev2 = await connect(mqttUrl, other.id, demoDeviceSecret(SEED, other.id));
    clients.push(dev2);
    await dev2.publishAsync(
      deviceTopic(other.id, 'event'),
      JSON.stringify({ v: 1, id: 'ok-1', ts: Date.now(), seq: 1, type: 'alarm' }),
      { qos: 1 },
    );
    await waitFor('alarm of another device in the fire stream', async () =>
      JSON.stringify(await redis.xrange(keys.fireEvents, '-', '+')).includes('ok-1'),
    );
  });
});
