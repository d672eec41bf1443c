import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import { AlertsService, connectAlertsMqtt } from '@hub/alerts';
import { createInfluxQueries, InfluxHttp } from '@hub/ingest';
import type { Building, Device, HubKeys, Station, Township } from '@hub/protocol';
import { RegistryCache, RegistryStore } from '@hub/registry';
import { cleanupPrefix, testInfluxUrl, testKeys, testRedisUrl, uniqueName } from '@hub/registry/test-support';
import { Aedes } from 'aedes';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { buildApp } from '../../src/build-app.js';
import { addAccounts, type TestAccount } from './auth.js';

/**
 * The real thing, in one process, for the browser tests: the test Redis, an aedes
 * broker on a loopback port (no auth: the team's authenticated broker has its own
 * tests), the real alerts service (incidents, pages, escalation timers) and the
 * dashboard listening on a free port. Alarms go in the way the broker writes them
 * (XADD fire stream, fields d/p/r).
 */

const hash = '0'.repeat(64);

export const e2eTownship: Township = {
  id: 'tw1',
  name: '示范镇',
  lat: 25.83,
  lon: 114.93,
  fireOfficePhone: '0797-1190000',
};

export const e2eBuildings: Building[] = [
  {
    id: 'b1',
    name: '东坑村12号出租屋',
    address: '示范镇东坑村解放路12号',
    lat: 25.83,
    lon: 114.93,
    occupancy: 'rental',
    floors: 5,
    township: 'tw1',
    grid: 'g01',
    contacts: [
      { name: '王伟', phone: '13800000000', role: '房东' },
      { name: '李娜', phone: '13800000001', role: '网格员' },
    ],
  },
  {
    id: 'b2',
    name: '西岭村养老院',
    address: '示范镇西岭村人民路3号',
    lat: 25.845,
    lon: 114.95,
    occupancy: 'elderly_home',
    floors: 2,
    township: 'tw1',
    grid: 'g02',
    contacts: [],
  },
];

function device(
  id: string,
  buildingId: string,
  floor: number,
  room: string,
  kind: Device['kind'] = 'smoke',
): Device {
  return {
    id,
    kind,
    model: 'SD-1',
    buildingId,
    floor,
    room,
    secretHash: hash,
    salt: 'saltsalt',
    maintenance: false,
  };
}

export const e2eDevices: Device[] = [
  device('d-b1-301', 'b1', 3, '301'),
  device('d-b1-302', 'b1', 3, '302'),
  device('d-b2-101', 'b2', 1, '101'),
  device('e-b2-main', 'b2', 1, '配电间', 'electric'),
];

function station(id: string, name: string, lat: number, lon: number): Station {
  return {
    id,
    name,
    lat,
    lon,
    township: 'tw1',
    officers: [{ id: `${id}-o1`, name: '值班员', phone: '13900000000', onDuty: true }],
    onDuty: true,
  };
}

export const e2eStations: Station[] = [
  station('s1', '东坑村微型消防站', 25.832, 114.932), // ~300 m from b1
  station('s2', '西岭村微型消防站', 25.86, 114.96),
];

export const e2eAccounts: TestAccount[] = [
  { username: 'duty-s1', role: 'officer', stationId: 's1', township: 'tw1' },
  { username: 'duty-s2', role: 'officer', stationId: 's2', township: 'tw1' },
  { username: 'office-tw1', role: 'township', township: 'tw1' },
];

export interface E2eHub {
  keys: HubKeys;
  redis: Redis;
  app: FastifyInstance;
  base: string;
  alerts: AlertsService;
  /** The test InfluxDB database the dashboard's history charts read. */
  influxDb: string;
  influx: InfluxHttp;
  /** XADDs a device event the way the broker does. */
  alarm(deviceId: string, type?: string, stream?: 'fire' | 'other'): Promise<void>;
  close(): Promise<void>;
}

let seq = 0;

export async function startE2eHub(label: string): Promise<E2eHub> {
  const keys = testKeys(label);
  const url = testRedisUrl();
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const subscriber = new Redis(url, { maxRetriesPerRequest: null });
  const quiet = pino({ level: process.env.HUB_TEST_LOG_LEVEL ?? 'silent' });
  await new RegistryStore(redis, keys).replaceAll({
    townships: [e2eTownship],
    buildings: e2eBuildings,
    devices: e2eDevices,
    stations: e2eStations,
    accounts: [],
  });
  await addAccounts(redis, keys, e2eAccounts);

  const aedes = await Aedes.createBroker();
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const mqttUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const mqtt: MqttClient = await connectAlertsMqtt({
    url: mqttUrl,
    username: 'hub-alerts',
    password: 'not-checked-by-the-test-broker',
    clientId: `hub-alerts-${label}-${process.pid}`,
  });
  const alerts = await AlertsService.start({
    keys,
    // The standard 1-minute accept / 3-minute on-scene deadlines of domain.md.
    params: {
      acceptTimeoutMs: 60_000,
      onSceneDeadlineMs: 180_000,
      fireOfficeTimeoutMs: 60_000,
      maxStations: 2,
    },
    consumerName: `alerts-e2e-${process.pid}`,
    claimIdleMs: 60_000,
    redis,
    openRedis: (_purpose, worker) => new Redis(url, { maxRetriesPerRequest: worker ? null : 1 }),
    mqtt,
    logger: quiet,
    metricsRegistry: new Registry(),
    sweepEveryMs: 200,
    blockMs: 200,
  });

  const influxDb = uniqueName(label);
  const influx = new InfluxHttp({ url: testInfluxUrl(), auth: { type: 'none' } });
  await influx.query(`CREATE DATABASE "${influxDb}"`);
  const registry = await RegistryCache.start({ redis, subscriber, keys });
  const app = buildApp({
    redis,
    subscriber,
    keys,
    registry,
    logger: quiet,
    influx: createInfluxQueries(influx, influxDb),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  return {
    keys,
    redis,
    app,
    base,
    alerts,
    influxDb,
    influx,
    async alarm(deviceId, type = 'alarm', stream = 'fire') {
      seq++;
      const now = Date.now();
      const event = { v: 1, id: `e2e-${process.pid}-${seq}`, ts: now, seq, type, value: 12.5 };
      await redis.xadd(
        stream === 'fire' ? keys.fireEvents : keys.otherEvents,
        '*',
        'd',
        deviceId,
        'p',
        JSON.stringify(event),
        'r',
        String(now),
      );
    },
    async close() {
      await app.close();
      await registry.close();
      await alerts.close();
      await mqtt.endAsync();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await influx.query(`DROP DATABASE "${influxDb}"`).catch(() => undefined);
      await cleanupPrefix(redis, keys);
      subscriber.disconnect();
      await redis.quit();
    },
  };
}
