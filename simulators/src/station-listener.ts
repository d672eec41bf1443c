import { type PageMessage, pageMessageSchema, stationTopic } from '@hub/protocol';
import { demoDeviceSecret, type RegistrySnapshot } from '@hub/registry';
import { type MqttClient, connect as mqttConnect } from 'mqtt';
import { type Clock, systemClock } from './clock.js';
import { type ConnectFn, endClient } from './fleet.js';
import { SIM_ERRORS, SimError } from './sim-error.js';

/** A station terminal's broker account. */
export interface StationAccount {
  stationId: string;
  /** `station-${stationId}` */
  username: string;
  secret: string;
}

/** Accounts of every station in the snapshot, with the demo township's derived secrets. */
export function demoStationAccounts(snapshot: RegistrySnapshot, seed: string): StationAccount[] {
  const out: StationAccount[] = [];
  for (const id of [...snapshot.stations.keys()].sort()) {
    const username = `station-${id}`;
    out.push({ stationId: id, username, secret: demoDeviceSecret(seed, username) });
  }
  return out;
}

export interface ReceivedPage {
  /** The station whose page topic carried it. */
  topicStationId: string;
  page: PageMessage;
  /** Simulator clock when the message arrived (ms). */
  receivedAt: number;
  /** Same pageId seen before (by any station listener of this run). */
  duplicate: boolean;
}

export interface StationListenerStats {
  stations: number;
  connected: number;
  pagesSeen: number;
  /** Page-topic messages that are not JSON or fail the PageMessage schema. */
  invalidPages: number;
  /** Pages whose stationId differs from the topic's station. */
  misroutedPages: number;
  duplicatePages: number;
  /** Accept replies sent (autoAccept). */
  accepts: number;
}

export type PageHandler = (page: ReceivedPage) => void;

export interface StationListenerOptions {
  mqttUrl: string;
  stations: readonly StationAccount[];
  /** Client ids are `${username}-${suffix}` so a real terminal can stay connected too. */
  clientIdSuffix: string;
  /** Deadline for each station's CONNACK and SUBACK (default 5 s). */
  connectTimeoutMs?: number;
  /** Received pages kept for inspection; older ones are dropped (default 10,000). */
  maxPagesKept?: number;
  /** Page ids remembered for duplicate detection (default 100,000). */
  maxPageIdsKept?: number;
  connect?: ConnectFn;
  clock?: Clock;
  /**
   * Answer each new page like a duty crew: `accept` after `delayMs`, `en_route` 1 s
   * later and `on_scene` 3 s after accepting (the hub escalates a station that
   * accepted but never set off, HUB_EN_ROUTE_DEADLINE_MS), except for the stations in
   * `never` (nobody at the screen). Off by default: the plain fire and fleet runs
   * measure paging only, and every page then escalates as nobody accepts.
   */
  autoAccept?: { delayMs: number; never: ReadonlySet<string> };
}

/**
 * Connects as every station account and subscribes to its own page topic (QoS 1),
 * exactly what a station's duty terminal does, and records each PageMessage with
 * its arrival time. Sessions are clean: pages published while a listener is
 * disconnected are lost to it, which the fire scenario then reports as never paged.
 */
export class StationListener {
  private readonly clients: MqttClient[] = [];
  private readonly handlers: PageHandler[] = [];
  private readonly seenPageIds = new Set<string>();
  private readonly kept: ReceivedPage[] = [];
  private readonly connectFn: ConnectFn;
  private readonly clock: Clock;
  private readonly connectTimeoutMs: number;
  private readonly maxPagesKept: number;
  private readonly maxPageIdsKept: number;
  private connectedCount = 0;
  private readonly s = { pagesSeen: 0, invalidPages: 0, misroutedPages: 0, duplicatePages: 0, accepts: 0 };
  private readonly clientsByStation = new Map<string, MqttClient>();

  constructor(private readonly opts: StationListenerOptions) {
    this.connectFn = opts.connect ?? mqttConnect;
    this.clock = opts.clock ?? systemClock;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
    this.maxPagesKept = opts.maxPagesKept ?? 10_000;
    this.maxPageIdsKept = opts.maxPageIdsKept ?? 100_000;
  }

  /** Resolves when every station is connected and subscribed; rejects (and closes all) on the first failure. */
  async start(): Promise<void> {
    try {
      await Promise.all(this.opts.stations.map((a) => this.startOne(a)));
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  onPage(handler: PageHandler): () => void {
    this.handlers.push(handler);
    return () => {
      const i = this.handlers.indexOf(handler);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  /** The most recent pages (at most maxPagesKept). */
  pages(): readonly ReceivedPage[] {
    return this.kept;
  }

  stats(): StationListenerStats {
    return { stations: this.opts.stations.length, connected: this.connectedCount, ...this.s };
  }

  async stop(): Promise<void> {
    const all = this.clients.splice(0);
    await Promise.all(all.map((c) => endClient(c, 2_000)));
  }

  private async startOne(a: StationAccount): Promise<void> {
    const url = this.opts.mqttUrl;
    const client = this.connectFn(url, {
      clientId: `${a.username}-${this.opts.clientIdSuffix}`,
      username: a.username,
      password: a.secret,
      clean: true,
      keepalive: 60,
      protocolVersion: 4,
      reconnectPeriod: 1_000,
      connectTimeout: this.connectTimeoutMs,
      resubscribe: true,
    });
    this.clients.push(client);
    this.clientsByStation.set(a.stationId, client);
    const topic = stationTopic(a.stationId, 'page');
    let connected = false;
    client.on('connect', () => {
      connected = true;
      this.connectedCount++;
    });
    client.on('close', () => {
      if (connected) this.connectedCount--;
      connected = false;
    });
    client.on('message', (t, payload) => this.handleMessage(a.stationId, t, payload));
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        cleanup();
        reject(
          new SimError(
            SIM_ERRORS.STATION_LISTENER,
            `station listener ${a.username} could not connect to ${url}: ${err.message || String(err)}`,
          ),
        );
      };
      const ok = () => {
        cleanup();
        resolve();
      };
      const cleanup = () => {
        client.off('error', fail);
        client.off('connect', ok);
      };
      client.on('error', fail);
      client.on('connect', ok);
    });
    // Later errors (reconnects) are visible in stats().connected; never crash on them.
    client.on('error', () => {});
    const granted = await withTimeout(
      client.subscribeAsync(topic, { qos: 1 }),
      this.connectTimeoutMs,
      `station listener ${a.username}: no SUBACK for ${topic}`,
    );
    if (granted.length === 0 || granted.some((g) => g.qos === 128)) {
      throw new SimError(
        SIM_ERRORS.STATION_LISTENER,
        `station listener ${a.username}: subscription to ${topic} refused by ${url}`,
      );
    }
  }

  /** Publishes accept, en_route and on_scene for the page's incident on the station's reply topic. */
  private accept(stationId: string, page: PageMessage, delayMs: number): void {
    const client = this.clientsByStation.get(stationId);
    if (client === undefined) return;
    const reply = (type: 'accept' | 'en_route' | 'on_scene') => {
      const body = { v: 1, type, incidentId: page.incidentId, ts: Math.floor(this.clock()) };
      client.publish(stationTopic(stationId, 'reply'), JSON.stringify(body), { qos: 1 }, (err) => {
        if (!err && type === 'accept') this.s.accepts++;
      });
    };
    setTimeout(() => reply('accept'), delayMs);
    setTimeout(() => reply('en_route'), delayMs + 1_000);
    setTimeout(() => reply('on_scene'), delayMs + 3_000);
  }

  private handleMessage(stationId: string, _topic: string, payload: Buffer): void {
    const receivedAt = this.clock();
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      this.s.invalidPages++;
      return;
    }
    const parsed = pageMessageSchema.safeParse(json);
    if (!parsed.success) {
      this.s.invalidPages++;
      return;
    }
    const page = parsed.data;
    this.s.pagesSeen++;
    if (page.stationId !== stationId) this.s.misroutedPages++;
    const duplicate = this.seenPageIds.has(page.pageId);
    if (duplicate) {
      this.s.duplicatePages++;
    } else {
      this.seenPageIds.add(page.pageId);
      // Bounded memory: forget the oldest page id (Sets iterate in insertion order).
      if (this.seenPageIds.size > this.maxPageIdsKept) {
        const oldest = this.seenPageIds.values().next().value;
        if (oldest !== undefined) this.seenPageIds.delete(oldest);
      }
    }
    const rec: ReceivedPage = { topicStationId: stationId, page, receivedAt, duplicate };
    const auto = this.opts.autoAccept;
    if (auto !== undefined && !duplicate && !auto.never.has(stationId))
      this.accept(stationId, page, auto.delayMs);
    this.kept.push(rec);
    if (this.kept.length > this.maxPagesKept) this.kept.shift();
    for (const h of this.handlers) {
      try {
        h(rec);
      } catch {
        // One failing consumer must not stop the others from seeing the page.
      }
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SimError(SIM_ERRORS.STATION_LISTENER, message)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
