import { deviceTopic, type HubKeys, hubKeys } from '@hub/protocol';
import { demoDeviceSecret, generateDemoTownship, RegistrySnapshot, RegistryStore } from '@hub/registry';
import { cleanupPrefix, testRedis, testRedisUrl, uniqueName, waitFor } from '@hub/registry/test-support';
import { Redis, type RedisOptions } from 'ioredis';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { type BrokerConfig, parseBrokerConfig } from '../../src/broker-config.js';
import { type CreateBrokerOptions, createBroker, type HubBroker } from '../../src/create-broker.js';

/**
 * Shared set-up of the broker's integration tests: a small demo registry in Redis
 * under a unique prefix, loaded back as a snapshot, a broker on 127.0.0.1:0, and
 * helpers for mqtt.js clients. Nothing here sleeps for a fixed time.
 */

export const SEED = 't';
export const SERVICE_SECRET = 'svc';

export function demoRegistry() {
  return generateDemoTownship({
    seed: SEED,
    buildings: 5,
    devices: 20,
    stations: 2,
    serviceSecret: SERVICE_SECRET,
  });
}

export interface RegistryFixture {
  keys: HubKeys;
  redis: Redis;
  snapshot: RegistrySnapshot;
  cleanup(): Promise<void>;
}

/** Loads the demo registry into Redis (unique prefix) and reads it back as a snapshot. */
export async function loadRegistry(label: string): Promise<RegistryFixture> {
  const keys = hubKeys(uniqueName(label));
  const redis = testRedis();
  const store = new RegistryStore(redis, keys);
  await store.replaceAll(demoRegistry());
  const snapshot = await store.load();
  return {
    keys,
    redis,
    snapshot,
    async cleanup() {
      await cleanupPrefix(redis, keys);
      redis.disconnect();
    },
  };
}

export function testConfig(keys: HubKeys, env: Record<string, string> = {}): Readonly<BrokerConfig> {
  return parseBrokerConfig({
    HUB_REDIS_URL: testRedisUrl(),
    HUB_KEY_PREFIX: keys.prefix,
    HUB_MQTT_HOST: '127.0.0.1',
    HUB_MQTT_PORT: '0',
    HUB_BROKER_HTTP_PORT: '0',
    HUB_LOG_LEVEL: 'silent',
    // The failed-login backoff is off unless a test turns it on (admission.test.ts):
    // other tests refuse logins on purpose and must not wait for it.
    HUB_MQTT_LOGIN_BACKOFF_BASE_MS: '0',
    // Lag-based shedding is off too: on a loaded test machine a GC pause or a busy
    // neighbour makes the event loop lag, and a shed canary message would fail a test
    // that is not about overload (overload.test.ts and the unit tests cover it).
    HUB_BROKER_SHED_LAG_MS: '0',
    ...env,
  });
}

/** The durable-write connection as main.ts makes it (offline queue off, command timeout). */
export function durableRedis(url: string, extra: RedisOptions = {}): Redis {
  const r = new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: 2000,
    maxRetriesPerRequest: 1,
    ...extra,
  });
  r.on('error', () => undefined);
  return r;
}

export interface RunningBroker {
  broker: HubBroker;
  url: string;
  port: number;
  /** The mqtts listener's port, when the config enables it. */
  tlsPort?: number;
  /** The MQTT over WebSocket listener's port and URL, when the config enables it. */
  wsPort?: number;
  wsUrl?: string;
  close(): Promise<void>;
}

export async function startBroker(
  config: Readonly<BrokerConfig>,
  snapshot: RegistrySnapshot,
  redis: Redis,
  clock?: { now(): number },
  extra: Partial<Pick<CreateBrokerOptions, 'cluster' | 'tls'>> = {},
): Promise<RunningBroker> {
  // The durable connection has no offline queue: an event written before it is ready
  // fails (no PUBACK), as it should in production, and a test's first alarm would hang.
  // Waits for the first attempt to settle, either way (some tests point it at no Redis).
  if (redis.status === 'connecting' || redis.status === 'connect') {
    await new Promise<void>((resolve) => {
      const settle = (): void => {
        redis.off('ready', settle);
        redis.off('error', settle);
        resolve();
      };
      redis.once('ready', settle);
      redis.once('error', settle);
      setTimeout(settle, 10_000).unref();
    });
  }
  const logger = pino({ level: process.env.HUB_TEST_LOG_LEVEL ?? 'silent' });
  const broker = createBroker({
    config,
    registry: { current: snapshot },
    redis,
    logger,
    ...(clock ? { clock } : {}),
    ...extra,
  });
  const { port, tlsPort, wsPort } = await broker.listen();
  return {
    broker,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    ...(tlsPort !== undefined ? { tlsPort } : {}),
    ...(wsPort !== undefined ? { wsPort, wsUrl: `ws://127.0.0.1:${wsPort}${config.ws?.path ?? ''}` } : {}),
    close: () => broker.close(),
  };
}

const BASE: IClientOptions = { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, clean: true };

export function connectAs(
  url: string,
  clientId: string,
  username: string,
  password: string,
): Promise<MqttClient> {
  return mqtt.connectAsync(url, { ...BASE, clientId, username, password });
}

export function deviceSecret(deviceId: string): string {
  return demoDeviceSecret(SEED, deviceId);
}

export function connectDevice(url: string, deviceId: string): Promise<MqttClient> {
  return connectAs(url, deviceId, deviceId, deviceSecret(deviceId));
}

/** A device that leaves an `offline` will on its status topic (retained), as always-connected devices do. */
export function connectDeviceWithWill(url: string, deviceId: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    ...BASE,
    clientId: deviceId,
    username: deviceId,
    password: deviceSecret(deviceId),
    will: {
      topic: deviceTopic(deviceId, 'status'),
      payload: Buffer.from(JSON.stringify({ v: 1, ts: 5, state: 'offline', reason: 'lost' })),
      qos: 1,
      retain: true,
    },
  });
}

export interface StatusJson {
  state: string;
  ts: number;
  reason?: string;
}

/**
 * What a subscriber that arrives now receives on the device's status topic (the retained
 * state). Throws when nothing retained arrives within `waitMs`: poll with a short one
 * while the state may still be on its way (a retained message is replayed only at
 * SUBSCRIBE, so a subscriber that came too early never gets it).
 */
export async function retainedStatus(url: string, deviceId: string, waitMs = 15_000): Promise<StatusJson> {
  const sub = await connectService(
    url,
    'hub-dashboard',
    `hub-dashboard-st${Math.floor(Math.random() * 1e9)}`,
  );
  try {
    const got: string[] = [];
    sub.on('message', (_t, p, packet) => {
      if (packet.retain) got.push(p.toString());
    });
    const granted = await subscribeGranted(sub, [deviceTopic(deviceId, 'status')]);
    if (granted[0] !== 1) throw new Error(`status subscription refused: ${granted.join(',')}`);
    await waitFor('retained status', () => got.length > 0, waitMs);
    return JSON.parse(got[0] as string) as StatusJson;
  } finally {
    await sub.endAsync(true);
  }
}

/** Polls until the retained status on `url` satisfies `ok` (each look waits 300 ms at most). */
export function waitForStatus(
  url: string,
  deviceId: string,
  ok: (s: StatusJson) => boolean,
): Promise<StatusJson> {
  return waitFor(`retained status of ${deviceId}`, async () => {
    const s = await retainedStatus(url, deviceId, 300).catch(() => null);
    return s !== null && ok(s) ? s : undefined;
  });
}

export function connectService(
  url: string,
  username = 'hub-alerts',
  clientId = `${username}-t`,
): Promise<MqttClient> {
  return connectAs(url, clientId, username, SERVICE_SECRET);
}

export function connectStation(url: string, stationId: string): Promise<MqttClient> {
  const username = `station-${stationId}`;
  return connectAs(url, `${username}-term1`, username, demoDeviceSecret(SEED, username));
}

/** Connect and report the CONNACK return code of a refusal (0 when accepted). */
export async function connectReturnCode(url: string, opts: IClientOptions): Promise<number> {
  try {
    const c = await mqtt.connectAsync(url, { ...BASE, ...opts });
    await c.endAsync();
    return 0;
  } catch (err) {
    return Number((err as { code?: number }).code ?? -1);
  }
}

/** Sends one SUBSCRIBE and resolves with the SUBACK's granted list (128 = refused). */
export function subscribeGranted(client: MqttClient, topics: string[], qos: 0 | 1 = 1): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const onPacket = (packet: { cmd: string; granted?: Array<number | object> }) => {
      if (packet.cmd !== 'suback') return;
      client.off('packetreceive', onPacket);
      resolve((packet.granted ?? []).map((g) => (typeof g === 'number' ? g : -1)));
    };
    client.on('packetreceive', onPacket);
    client.subscribe(topics, { qos }, (err) => {
      // A refused filter makes mqtt.js report an error; the granted list says which.
      if (err && (err as { code?: number }).code !== 128) {
        client.off('packetreceive', onPacket);
        reject(err);
      }
    });
  });
}

/** The shared poll-until helper (registry/src/test-support.ts), re-exported for the broker tests. */
export { waitFor } from '@hub/registry/test-support';

/** Rejects when `p` has not settled within `ms` (a bound on a wait, not a timing assertion). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when the client's connection is closed (by the broker or otherwise). */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) return resolve();
    client.once('close', () => resolve());
  });
}

let seq = 0;
export function eventJson(
  type: string,
  id = `m-${Date.now()}-${++seq}`,
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({ v: 1, id, ts: Date.now(), seq: seq & 0xffff, type, ...extra });
}

export async function counterValue(
  metric: {
    get(): Promise<{ values: Array<{ value: number; labels: Partial<Record<string, string | number>> }> }>;
  },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  let sum = 0;
  for (const v of values) {
    if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
  }
  return sum;
}

export { RegistrySnapshot };
