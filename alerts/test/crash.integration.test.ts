import { join } from 'node:path';
import { freePorts, type HubProcess, REPO_ROOT, startService, waitForHttp } from '@hub/deploy';
import {
  type AuditEntry,
  type Device,
  deviceTopic,
  hubKeys,
  type Incident,
  type PageMessage,
} from '@hub/protocol';
import { demoDeviceSecret, generateDemoTownship, type RegistryData, RegistryStore } from '@hub/registry';
import { cleanupPrefix, testRedis, testRedisUrl, uniqueName, waitFor } from '@hub/registry/test-support';
import type { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsKeys } from '../src/alerts-keys.js';
import { pageIdOf } from '../src/incident-decision.js';

/**
 * The issue's "Done when" crash test, with nothing faked: the real broker process
 * (authentication, XADD before PUBACK), real alerts processes, real devices over TCP
 * MQTT, a station-side subscriber, the test Redis.
 *
 * 1. Many buildings alarm (two detectors each, plus repeats) while alerts is
 *    kill -9'd mid-stream and restarted under a new consumer name (so the dead
 *    consumer's pending entries must be XAUTOCLAIMed).
 * 2. With escalation timers pending (4 s accept timeout), alerts is kill -9'd again,
 *    stays dead past some timers' due time, and restarts under its old name.
 * Then every building has exactly one incident holding every detector that alarmed,
 * every incident climbed the whole ladder (the timers fired after the restarts), and
 * the subscriber received every page of every step exactly once.
 */

const SEED = 'crash';
const SECRET = 'crash-service-secret';
const BUILDINGS = 24;
const STEP_MS = 4_000;

function connect(url: string, username: string, password: string, clientId: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    protocolVersion: 4,
    username,
    password,
    clientId,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
}

describe('alerts crash safety (real broker, kill -9)', () => {
  const keys = hubKeys(uniqueName('crash'));
  const akeys = alertsKeys(keys);
  const logDir = join(REPO_ROOT, '.local', 'test', 'alerts-crash', keys.prefix);
  let redis: Redis;
  let data: RegistryData;
  let broker: HubProcess;
  let mqttUrl = '';
  let env: Record<string, string | undefined> = {};
  let alertsPort = 0;
  const alertsProcs: HubProcess[] = [];
  const clients: MqttClient[] = [];
  /** pageId → how many times the station side received it. */
  const received = new Map<string, number>();
  const pagesSeen: PageMessage[] = [];

  const startAlerts = async (consumer: string): Promise<HubProcess> => {
    const p = startService(
      `alerts-${alertsProcs.length + 1}`,
      'alerts/src/main.ts',
      {
        ...env,
        HUB_ALERTS_CONSUMER: consumer,
      },
      logDir,
    );
    alertsProcs.push(p);
    await waitForHttp(`http://127.0.0.1:${alertsPort}/readyz`, 60_000, p);
    return p;
  };

  beforeAll(async () => {
    redis = testRedis();
    data = generateDemoTownship({
      seed: SEED,
      buildings: BUILDINGS,
      devices: BUILDINGS * 6,
      stations: 6,
      serviceSecret: SECRET,
    });
    await new RegistryStore(redis, keys).replaceAll(data);
    const [mqttPort, brokerHttp, alertsHttp] = (await freePorts(3)) as [number, number, number];
    alertsPort = alertsHttp;
    mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HUB_REDIS_URL: testRedisUrl(),
      HUB_KEY_PREFIX: keys.prefix,
      HUB_SERVICE_SECRET: SECRET,
      HUB_MQTT_URL: mqttUrl,
      HUB_MQTT_HOST: '127.0.0.1',
      HUB_MQTT_PORT: String(mqttPort),
      HUB_BROKER_HTTP_PORT: String(brokerHttp),
      HUB_ALERTS_HTTP_PORT: String(alertsPort),
      HUB_ACCEPT_TIMEOUT_MS: String(STEP_MS),
      HUB_FIRE_OFFICE_TIMEOUT_MS: String(STEP_MS),
      HUB_ALERTS_CLAIM_IDLE_MS: '2000',
      HUB_LOG_LEVEL: 'info',
    };
    broker = startService('broker', 'broker/src/main.ts', env, logDir);
    await waitForHttp(`http://127.0.0.1:${brokerHttp}/readyz`, 60_000, broker);

    const station = await connect(mqttUrl, 'hub-dashboard', SECRET, `hub-dashboard-crashwatch${process.pid}`);
    clients.push(station);
    station.on('message', (_t, payload) => {
      const page = JSON.parse(payload.toString()) as PageMessage;
      pagesSeen.push(page);
      received.set(page.pageId, (received.get(page.pageId) ?? 0) + 1);
    });
    await station.subscribeAsync('v1/station/+/page', { qos: 1 });
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) c.end(true);
    for (const p of alertsProcs) await p.stop();
    await broker?.stop();
    await cleanupPrefix(redis, keys);
    redis.disconnect();
  });

  it('pages every alarm exactly once per step across two kill -9s, and the timers still fire', async () => {
    // Two smoke detectors per building: the first opens the incident, the second folds.
    const byBuilding = new Map<string, Device[]>();
    for (const d of data.devices) {
      if (d.kind !== 'smoke') continue;
      const list = byBuilding.get(d.buildingId) ?? [];
      if (list.length < 2) list.push(d);
      byBuilding.set(d.buildingId, list);
    }
    const alarmDevices = [...byBuilding.values()].filter((l) => l.length === 2).flat();
    expect(alarmDevices.length).toBeGreaterThanOrEqual(BUILDINGS);
    const deviceClients = new Map<string, MqttClient>();
    await Promise.all(
      alarmDevices.map(async (d) => {
        const c = await connect(mqttUrl, d.id, demoDeviceSecret(SEED, d.id), d.id);
        clients.push(c);
        deviceClients.set(d.id, c);
      }),
    );
    // Interleave buildings: first detectors of every building, then second ones, then repeats.
    const order: { device: Device; msg: string }[] = [];
    const firsts = [...byBuilding.values()].filter((l) => l.length === 2);
    for (const l of firsts) order.push({ device: l[0]!, msg: 'a1' });
    for (const l of firsts) order.push({ device: l[1]!, msg: 'a1' });
    for (const l of firsts) order.push({ device: l[0]!, msg: 'a2' });
    const publish = async (i: number) => {
      const { device, msg } = order[i]!;
      await deviceClients
        .get(device.id)!
        .publishAsync(
          deviceTopic(device.id, 'event'),
          JSON.stringify({ v: 1, id: msg, ts: Date.now(), seq: i, type: 'alarm', value: 12 }),
          { qos: 1 },
        );
    };

    let alerts = await startAlerts('alerts-crash-a');
    const third = Math.floor(order.length / 3);
    let i = 0;
    for (; i < third; i++) {
      await publish(i);
      await new Promise((r) => setTimeout(r, 15));
    }
    // Mid-stream: the first pages are out, more alarms are in the stream or in hand.
    await waitFor('a first page', () => pagesSeen.length > 0, 20_000);
    const publishing = (async () => {
      for (; i < 2 * third; i++) await publish(i);
    })();
    await alerts.kill9();
    await publishing;
    // Restart under a NEW consumer name: the dead one's pending entries must be claimed.
    alerts = await startAlerts('alerts-crash-b');
    for (; i < order.length; i++) await publish(i);

    const incidentOf = async (buildingId: string): Promise<Incident | undefined> => {
      const ids = await redis.zrange(keys.incidentsByTime, 0, -1);
      for (const id of ids) {
        const raw = await redis.get(keys.incident(id));
        const inc = raw === null ? undefined : (JSON.parse(raw) as Incident);
        if (inc?.buildingId === buildingId) return inc;
      }
      return undefined;
    };
    await waitFor(
      'every building with both detectors in its incident',
      async () => {
        for (const l of firsts) {
          const inc = await incidentOf(l[0]!.buildingId);
          if (inc === undefined || inc.deviceIds.length < 2) return false;
        }
        return true;
      },
      60_000,
      200,
    );

    // Second crash while escalation timers are pending; stay dead past a step's timeout.
    await waitFor(
      'an incident at step 2 or more',
      async () => {
        for (const l of firsts) if (((await incidentOf(l[0]!.buildingId))?.step ?? 0) >= 2) return true;
        return false;
      },
      30_000,
      100,
    );
    await alerts.kill9();
    await new Promise((r) => setTimeout(r, STEP_MS + 1_000));
    alerts = await startAlerts('alerts-crash-b');

    const incidents = await waitFor(
      'every ladder run to the 119 record',
      async () => {
        const all: Incident[] = [];
        for (const l of firsts) {
          const inc = await incidentOf(l[0]!.buildingId);
          if (inc === undefined || inc.forwarded119At === null) return false;
          all.push(inc);
        }
        return all;
      },
      90_000,
      250,
    );
    // Pages decided before the last step may still be in the outbox for a moment.
    await waitFor('the outbox empty', async () => (await redis.hlen(akeys.outbox)) === 0, 20_000);
    await waitFor('every fire entry acked', async () => {
      const p = (await redis.xpending(keys.fireEvents, 'alerts')) as [number];
      return p[0] === 0;
    });

    // One incident per building, nothing lost.
    expect(await redis.zcard(keys.incidentsByTime)).toBe(firsts.length);
    const expected = new Set<string>();
    for (const inc of incidents) {
      const l = firsts.find((x) => x[0]!.buildingId === inc.buildingId)!;
      expect([...inc.deviceIds].sort()).toEqual(l.map((d) => d.id).sort());
      expect(inc.pagedStations.length).toBeGreaterThan(0);
      // A first wave pages several stations in one step (shop houses, elderly homes).
      const steps = inc.pageSteps ?? inc.pagedStations.map((_, k) => k + 1);
      for (const [k, s] of inc.pagedStations.entries()) expected.add(pageIdOf(inc.id, steps[k]!, s));
    }
    // Every page of every step arrived; nothing else did.
    await waitFor(
      'every page at the station side',
      () => [...expected].every((id) => received.has(id)),
      20_000,
    );
    expect(new Set(received.keys())).toEqual(expected);
    // Exactly once. The one window no design can close (PUBACK received, process
    // killed before the outbox delete commits) would show as a second copy whose
    // page_sent audit line says "resent from the outbox"; anything else fails.
    for (const [pageId, n] of received) {
      if (n === 1) continue;
      const inc = incidents.find((x) => pageId.startsWith(x.id + '-'))!;
      const audit = (await redis.lrange(keys.incidentAudit(inc.id), 0, -1)).map(
        (s) => JSON.parse(s) as AuditEntry,
      );
      const sent = audit.filter((a) => a.kind === 'page_sent' && a.detail?.includes(pageId));
      expect({ pageId, n, sent: sent.map((a) => a.detail) }).toEqual({
        pageId,
        n: 2,
        sent: [expect.stringContaining('resent from the outbox')],
      });
    }
    // The duplicate guard was never needed to hide a second page decision.
    for (const inc of incidents) {
      const audit = (await redis.lrange(keys.incidentAudit(inc.id), 0, -1)).map(
        (s) => JSON.parse(s) as AuditEntry,
      );
      expect(audit.filter((a) => a.kind === 'opened')).toHaveLength(1);
      expect(audit.filter((a) => a.kind === 'forward_119')).toHaveLength(1);
      expect(audit.filter((a) => a.kind === 'step').length).toBe(inc.pagedStations.length);
    }
  }, 240_000);
});
