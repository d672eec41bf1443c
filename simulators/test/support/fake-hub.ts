import { createServer, type Server } from 'node:net';
import {
  type Building,
  decodeEvent,
  decodeTelemetry,
  FILTERS,
  newParsedTopic,
  type PageMessage,
  parseTopic,
  stationTopic,
} from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import { Aedes } from 'aedes';
import { connect, type MqttClient } from 'mqtt';

/** A plain aedes broker on 127.0.0.1, port 0, no authentication. */
export interface TestBroker {
  url: string;
  /** The broker itself, for tests that watch its clients and publishes. */
  aedes: Aedes;
  close(): Promise<void>;
}

export async function startTestBroker(): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `mqtt://127.0.0.1:${address.port}`,
    aedes: broker,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface FakeAlertsOptions {
  /** Page the station for each building's first alarm (false: stay silent). */
  answer: boolean;
  /** Send every page twice with the same pageId. */
  duplicate?: boolean;
}

/**
 * Stands in for the alerts service: subscribes to device events as a service would,
 * opens one incident per building on the first alarm and pages the nearest on-duty
 * station on its page topic (QoS 1) with a PageMessage. Later alarms of the building
 * fold into the incident without a new page.
 */
export class FakeAlerts {
  readonly pagesSent: PageMessage[] = [];
  alarmsSeen = 0;
  telemetrySeen = 0;
  telemetryInvalid = 0;
  private readonly incidents = new Map<string, PageMessage>();
  private client: MqttClient | null = null;

  constructor(
    private readonly url: string,
    private readonly snapshot: RegistrySnapshot,
    private readonly opts: FakeAlertsOptions,
  ) {}

  async start(): Promise<void> {
    const client = connect(this.url, {
      clientId: `hub-alerts-fake-${Math.random().toString(36).slice(2)}`,
      reconnectPeriod: 0,
    });
    this.client = client;
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    await client.subscribeAsync([FILTERS.allEvents, FILTERS.allTelemetry], { qos: 1 });
  }

  async stop(): Promise<void> {
    await this.client?.endAsync();
  }

  private onMessage(topic: string, payload: Buffer): void {
    const t = newParsedTopic();
    if (!parseTopic(topic, t) || t.scope !== 'dev') return;
    if (t.channel === 'telemetry') {
      const d = decodeTelemetry(payload);
      if (d.ok) this.telemetrySeen++;
      else this.telemetryInvalid++;
      return;
    }
    if (t.channel !== 'event') return;
    const ev = decodeEvent(payload);
    if (!ev.ok || ev.value.type !== 'alarm') return;
    this.alarmsSeen++;
    const device = this.snapshot.devices.get(t.id);
    const building = device && this.snapshot.buildings.get(device.buildingId);
    if (device === undefined || building === undefined || !this.opts.answer) return;
    const open = this.incidents.get(building.id);
    if (open !== undefined) {
      open.deviceIds.push(device.id);
      return;
    }
    const ranked = this.snapshot.stationIndex.rank(
      building.lat,
      building.lon,
      1,
      (s) => s.onDuty && s.officers.some((o) => o.onDuty),
    )[0];
    if (ranked === undefined) return;
    const now = Date.now();
    const incidentId = `inc-${building.id}-${now}`;
    const page: PageMessage = {
      v: 1,
      type: 'page',
      pageId: `${incidentId}:1:${ranked.station.id}`,
      incidentId,
      stationId: ranked.station.id,
      lane: 'fire',
      step: 1,
      verification: 'unverified',
      building: pageBuilding(building),
      floor: device.floor,
      room: device.room,
      deviceIds: [device.id],
      distanceM: ranked.distanceM,
      alarmTs: ev.value.ts,
      receivedAt: now,
      sentAt: now,
      acceptBy: now + 30_000,
    };
    this.incidents.set(building.id, page);
    this.pagesSent.push(page);
    const json = JSON.stringify(page);
    const topicOut = stationTopic(ranked.station.id, 'page');
    this.client?.publish(topicOut, json, { qos: 1 });
    if (this.opts.duplicate) this.client?.publish(topicOut, json, { qos: 1 });
  }
}

/** The building part of a PageMessage, as alerts fills it in. */
export function pageBuilding(b: Building): PageMessage['building'] {
  return {
    id: b.id,
    name: b.name,
    address: b.address,
    lat: b.lat,
    lon: b.lon,
    occupancy: b.occupancy,
    floors: b.floors,
    contacts: b.contacts,
  };
}
