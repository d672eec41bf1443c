import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import type { HazardTicket, HubKeys, Incident, LiveMessage, PageMessage, StationReply } from '@hub/protocol';
import { RegistryStore, whenReady } from '@hub/registry';
import { cleanupPrefix, testKeys, testRedisUrl, waitFor } from '@hub/registry/test-support';
import { Aedes } from 'aedes';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { AlertsService, type AlertsServiceOptions } from '../src/alerts-service.js';
import type { LadderParams } from '../src/incident-decision.js';
import { connectAlertsMqtt } from '../src/page-sender.js';
import { b1, b2, devices, event, stations, township } from './fixtures.js';

/**
 * Integration harness: the real test Redis, a plain in-process aedes broker (no
 * auth; the team's authenticated broker is wired in by the lead), the real alerts
 * service, a station-terminal stand-in subscribed to every page topic and a live
 * channel listener.
 */

/** The shared poller (registry/src/test-support.ts), re-exported for the test files. */
export { waitFor };

export interface Broker {
  url: string;
  close(): Promise<void>;
}

export async function startBroker(): Promise<Broker> {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The lifecycle the integration files share: one in-process broker per file, one
 * harness per test, closed after the test even when it failed. Call at the top of
 * the file; the returned function creates the test's harness.
 */
export function harnessPerTest(): (label: string) => Promise<Harness> {
  let broker: Broker | undefined;
  let current: Harness | null = null;
  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => {
    await broker?.close();
  });
  afterEach(async () => {
    await current?.close();
    current = null;
  });
  return async (label) => {
    if (broker === undefined) throw new Error('harnessPerTest: the broker is not started yet');
    current = await Harness.create(broker, label);
    return current;
  };
}

export interface ReceivedPage {
  topic: string;
  page: PageMessage;
}

export const quietLogger = pino({ level: process.env.HUB_TEST_LOG_LEVEL ?? 'silent' });

export class Harness {
  readonly pages: ReceivedPage[] = [];
  /** Everything on keys.live: pages, incidents and tickets ({ type: 'ticket' }). */
  readonly live: (LiveMessage | { type: 'ticket'; ticket: HazardTicket })[] = [];
  private services: AlertsService[] = [];

  private constructor(
    readonly keys: HubKeys,
    readonly redis: Redis,
    private readonly liveSub: Redis,
    readonly terminal: MqttClient,
    readonly alertsMqtt: MqttClient,
    private readonly broker: Broker,
  ) {}

  static async create(broker: Broker, label: string): Promise<Harness> {
    const keys = testKeys(label);
    const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
    await new RegistryStore(redis, keys).replaceAll({
      townships: [township],
      buildings: [b1, b2],
      devices,
      stations,
      accounts: [],
    });
    const liveSub = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
    const terminal = await mqtt.connectAsync(broker.url, {
      protocolVersion: 4,
      clientId: `terminal-${label}-${process.pid}-${Date.now()}`,
      reconnectPeriod: 0,
    });
    const alertsMqtt = await connectAlertsMqtt({
      url: broker.url,
      username: 'hub-alerts',
      password: 'not-checked-by-the-test-broker',
      clientId: `hub-alerts-${label}-${process.pid}-${Date.now()}`,
    });
    const h = new Harness(keys, redis, liveSub, terminal, alertsMqtt, broker);
    terminal.on('message', (topic, payload) => {
      h.pages.push({ topic, page: JSON.parse(payload.toString()) as PageMessage });
    });
    await terminal.subscribeAsync('v1/station/+/page', { qos: 1 });
    liveSub.on('message', (_ch, msg) => h.live.push(JSON.parse(msg) as Harness['live'][number]));
    await whenReady(liveSub);
    await liveSub.subscribe(keys.live);
    return h;
  }

  get brokerUrl(): string {
    return this.broker.url;
  }

  async startService(
    params: Partial<LadderParams> = {},
    extra: Partial<AlertsServiceOptions> = {},
  ): Promise<AlertsService> {
    const svc = await AlertsService.start({
      keys: this.keys,
      params: {
        acceptTimeoutMs: 60_000,
        onSceneDeadlineMs: 180_000,
        fireOfficeTimeoutMs: 60_000,
        maxStations: 3,
        ...params,
      },
      consumerName: `alerts-test-${this.services.length}-${Date.now()}`,
      claimIdleMs: 60_000,
      redis: this.redis,
      openRedis: (_purpose, worker) => new Redis(testRedisUrl(), { maxRetriesPerRequest: worker ? null : 1 }),
      mqtt: this.alertsMqtt,
      logger: quietLogger,
      metricsRegistry: new Registry(),
      sweepEveryMs: 100,
      blockMs: 200,
      ...extra,
    });
    this.services.push(svc);
    return svc;
  }

  async stopService(svc: AlertsService): Promise<void> {
    await svc.close();
    this.services = this.services.filter((s) => s !== svc);
  }

  /** XADDs a device event the way the broker does (fields d/p/r). */
  async publishEvent(deviceId: string, type: Parameters<typeof event>[0], stream?: string): Promise<string> {
    return this.publishPayload(deviceId, event(type, Date.now()), stream ?? this.keys.fireEvents);
  }

  /** XADDs a raw payload object (fields d/p/r) to a stream; default the other lane. */
  async publishPayload(deviceId: string, payload: object, stream?: string): Promise<string> {
    return (await this.redis.xadd(
      stream ?? this.keys.otherEvents,
      '*',
      'd',
      deviceId,
      'p',
      JSON.stringify(payload),
      'r',
      String(Date.now()),
    )) as string;
  }

  /** An operator's action on keys.operatorActions (fields u/j/r), as the dashboard writes it. */
  async operatorAction(accountId: string, action: Record<string, unknown>): Promise<void> {
    await this.redis.xadd(
      this.keys.operatorActions,
      '*',
      'u',
      accountId,
      'j',
      JSON.stringify({ v: 1, ts: Date.now(), ...action }),
      'r',
      String(Date.now()),
    );
  }

  async ticket(id: string): Promise<HazardTicket | null> {
    const raw = await this.redis.get(this.keys.hazardTicket(id));
    return raw === null ? null : (JSON.parse(raw) as HazardTicket);
  }

  async reply(stationId: string, reply: Omit<StationReply, 'v' | 'ts'>): Promise<void> {
    await this.redis.xadd(
      this.keys.actions,
      '*',
      's',
      stationId,
      'j',
      JSON.stringify({ v: 1, ts: Date.now(), ...reply }),
      'r',
      String(Date.now()),
    );
  }

  pagesFor(stationId: string): PageMessage[] {
    return this.pages.filter((p) => p.page.stationId === stationId).map((p) => p.page);
  }

  async incident(id: string): Promise<Incident | null> {
    const raw = await this.redis.get(this.keys.incident(id));
    return raw === null ? null : (JSON.parse(raw) as Incident);
  }

  /** Entries of the group not yet acknowledged. */
  async pending(stream: string): Promise<number> {
    try {
      const res = (await this.redis.xpending(stream, 'alerts')) as [number, ...unknown[]];
      return res[0];
    } catch {
      return 0;
    }
  }

  async close(): Promise<void> {
    for (const s of this.services) await s.close();
    await this.terminal.endAsync();
    await this.alertsMqtt.endAsync();
    await this.liveSub.quit();
    await cleanupPrefix(this.redis, this.keys);
    await this.redis.quit();
  }
}
