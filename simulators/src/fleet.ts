import type { Socket } from 'node:net';
import { type DeviceEvent, type DeviceKind, deviceTopic } from '@hub/protocol';
import {
  type IClientOptions,
  type IClientPublishOptions,
  type MqttClient,
  connect as mqttConnect,
} from 'mqtt';
import { type Clock, systemClock } from './clock.js';
import { ConnectBucket, jitteredTickMs, nonNegative, positive, reconnectAt } from './connect-ramp.js';
import {
  createDeviceState,
  type DeviceProfileState,
  firstDelayMs,
  nextDelayMs,
  nextTelemetry,
  type ProfileOptions,
  resolveIntervals,
  type TelemetryInterval,
  type TelemetryIntervals,
} from './device-profiles.js';
import { DueQueue } from './due-queue.js';
import { SIM_ERRORS, SimError } from './sim-error.js';

/** How the fleet opens an MQTT connection (mqtt.connect; tests may wrap it). */
export type ConnectFn = (url: string, options: IClientOptions) => MqttClient;

/** A device the fleet plays: registry identity plus its broker secret. */
export interface FleetDevice {
  id: string;
  kind: DeviceKind;
  model: string;
  secret: string;
}

export interface FleetOptions {
  mqttUrl: string;
  devices: readonly FleetDevice[];
  /** Seed of the payload generators (same seed, same readings). */
  seed: string;
  /** Part of every message id, unique per run (see createDeviceState). */
  bootId: string;
  /** New connections per second (default 200). Reconnects share the same budget. */
  connectRate?: number;
  /** Connection attempts in flight at once, waiting for CONNACK (default 500). */
  maxConnecting?: number;
  /** CONNACK deadline per attempt (default 10 s). */
  connectTimeoutMs?: number;
  /** Delay before a dropped device reconnects, jittered ±50 % (default 5 s; 0 = never). */
  reconnectDelayMs?: number;
  keepaliveS?: number;
  /** Publish periodic telemetry (default true). Fire-only runs turn it off. */
  telemetry?: boolean;
  intervals?: Partial<TelemetryIntervals>;
  profile?: ProfileOptions;
  /** Period of the one timer that publishes due telemetry (default 50 ms). */
  tickMs?: number;
  /** Telemetry publishes per tick at most, so a backlog cannot starve the event loop (default 5000). */
  maxPublishesPerTick?: number;
  /** Socket write buffer above which a device skips a telemetry reading (default 64 KiB). */
  maxWriteBufferBytes?: number;
  connect?: ConnectFn;
  clock?: Clock;
  /** Jitter source (default Math.random). */
  random?: () => number;
}

export interface FleetStats {
  devices: number;
  /** Devices connected right now. */
  connected: number;
  /** Attempts in flight (sent CONNECT, no CONNACK yet). */
  connecting: number;
  /** Devices waiting for a connection slot (ramp or reconnect backoff). */
  queued: number;
  /** Successful CONNACKs, reconnects included. */
  connects: number;
  /** Attempts that failed: refused, timed out, socket error before CONNACK. */
  connectErrors: number;
  /** Connections lost after CONNACK. */
  disconnects: number;
  /** Errors on established connections. */
  errors: number;
  /** Telemetry messages written to the socket. */
  messagesSent: number;
  /** Telemetry skipped because the socket's write buffer was full. */
  skippedBackpressure: number;
  publishErrors: number;
  eventsSent: number;
  eventsAcked: number;
  eventErrors: number;
  lastConnectError: string | null;
}

const QOS0: IClientPublishOptions = Object.freeze({ qos: 0, retain: false }) as IClientPublishOptions;
const QOS1: IClientPublishOptions = Object.freeze({ qos: 1, retain: false }) as IClientPublishOptions;

/** One simulated device: its connection, generator state and place in the telemetry heap. */
class SimDevice {
  dueAt = 0;
  /** In the telemetry heap. */
  scheduled = false;
  /** In the connect queue. */
  queued = false;
  /** Earliest time the queued device may connect (reconnect backoff). */
  notBefore = 0;
  client: MqttClient | null = null;
  connected = false;
  /** An attempt is waiting for CONNACK (counts against maxConnecting). */
  connecting = false;
  /** The current attempt's failure has been counted already (error and close both fire). */
  failureCounted = false;
  readonly telemetryTopic: string;
  readonly eventTopic: string;
  // Handlers made once per device, not per message or per attempt.
  readonly onConnect: () => void;
  readonly onError: (err: Error) => void;
  readonly onClose: () => void;
  readonly onSent: (err?: Error) => void;

  constructor(
    readonly info: FleetDevice,
    readonly state: DeviceProfileState,
    readonly interval: TelemetryInterval,
    fleet: Fleet,
  ) {
    this.telemetryTopic = deviceTopic(info.id, 'telemetry');
    this.eventTopic = deviceTopic(info.id, 'event');
    this.onConnect = () => fleet.handleConnect(this);
    this.onError = (err) => fleet.handleError(this, err);
    this.onClose = () => fleet.handleClose(this);
    this.onSent = (err) => fleet.handleSent(err);
  }
}

/**
 * N devices, each its own mqtt.js client (username = client id = device id, clean
 * session). Connections ramp up at a fixed rate from one queue with bounded attempts
 * in flight; dropped devices go back into the same queue after a jittered backoff,
 * so a broker restart does not turn into a reconnect storm of the simulator's making.
 * One timer and one heap publish everyone's telemetry at their kind's interval.
 */
export class Fleet {
  private readonly url: string;
  private readonly list: SimDevice[];
  private readonly byId = new Map<string, SimDevice>();
  private readonly connectFn: ConnectFn;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly rate: number;
  private readonly maxConnecting: number;
  private readonly connectTimeoutMs: number;
  private readonly reconnectDelayMs: number;
  private readonly keepaliveS: number;
  private readonly telemetry: boolean;
  private readonly tickMs: number;
  private readonly maxPublishesPerTick: number;
  private readonly maxWriteBufferBytes: number;

  private readonly connectQueue: SimDevice[] = [];
  private queueHead = 0;
  private readonly due = new DueQueue<SimDevice>();
  private readonly bucket: ConnectBucket;
  private rampTimer: NodeJS.Timeout | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private started = false;

  private s: FleetStats;

  constructor(opts: FleetOptions) {
    this.url = opts.mqttUrl;
    this.connectFn = opts.connect ?? mqttConnect;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.rate = positive('connectRate', opts.connectRate ?? 200);
    this.maxConnecting = positive('maxConnecting', opts.maxConnecting ?? 500);
    this.connectTimeoutMs = positive('connectTimeoutMs', opts.connectTimeoutMs ?? 10_000);
    this.reconnectDelayMs = nonNegative('reconnectDelayMs', opts.reconnectDelayMs ?? 5_000);
    this.keepaliveS = nonNegative('keepaliveS', opts.keepaliveS ?? 60);
    this.telemetry = opts.telemetry ?? true;
    this.tickMs = positive('tickMs', opts.tickMs ?? 50);
    this.maxPublishesPerTick = positive('maxPublishesPerTick', opts.maxPublishesPerTick ?? 5_000);
    this.maxWriteBufferBytes = positive('maxWriteBufferBytes', opts.maxWriteBufferBytes ?? 64 * 1024);
    this.bucket = new ConnectBucket(this.rate, this.tickMs);
    const intervals = resolveIntervals(opts.intervals);
    this.list = [];
    for (const d of opts.devices) {
      if (this.byId.has(d.id)) continue;
      const state = createDeviceState(d, opts.seed, opts.bootId, opts.profile);
      const sim = new SimDevice(d, state, intervals[d.kind], this);
      this.list.push(sim);
      this.byId.set(d.id, sim);
    }
    this.s = {
      devices: this.list.length,
      connected: 0,
      connecting: 0,
      queued: 0,
      connects: 0,
      connectErrors: 0,
      disconnects: 0,
      errors: 0,
      messagesSent: 0,
      skippedBackpressure: 0,
      publishErrors: 0,
      eventsSent: 0,
      eventsAcked: 0,
      eventErrors: 0,
      lastConnectError: null,
    };
  }

  /** Starts the ramp: devices connect in list order at `connectRate` per second. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const d of this.list) this.enqueue(d, 0);
    this.bucket.start(this.clock());
    this.pump();
    this.scheduleRamp();
    if (this.telemetry) this.tickTimer = setInterval(() => this.tick(), this.tickMs);
  }

  stats(): FleetStats {
    return { ...this.s, queued: this.connectQueue.length - this.queueHead };
  }

  isConnected(deviceId: string): boolean {
    return this.byId.get(deviceId)?.connected === true;
  }

  /** The device's generator state (to build events with its next message id). */
  deviceState(deviceId: string): DeviceProfileState | undefined {
    return this.byId.get(deviceId)?.state;
  }

  /**
   * Publishes an event QoS 1 and resolves at PUBACK: the broker has recorded it.
   * Rejects when the device is not connected or the connection drops first.
   */
  publishEvent(deviceId: string, event: DeviceEvent): Promise<void> {
    const d = this.byId.get(deviceId);
    const client = d?.client;
    this.s.eventsSent++;
    if (d === undefined || client == null || !d.connected) {
      this.s.eventErrors++;
      return Promise.reject(
        new SimError(SIM_ERRORS.DEVICES_NOT_CONNECTED, `device ${deviceId} is not connected`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      client.publish(d.eventTopic, JSON.stringify(event), QOS1, (err) => {
        if (err) {
          this.s.eventErrors++;
          reject(err);
        } else {
          this.s.eventsAcked++;
          resolve();
        }
      });
    });
  }

  /** Stops publishing and connecting, then disconnects everyone (DISCONNECT, then force after 2 s). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.rampTimer !== null) clearTimeout(this.rampTimer);
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    this.rampTimer = null;
    this.tickTimer = null;
    this.due.clear();
    const closing: Promise<void>[] = [];
    for (const d of this.list) {
      const c = d.client;
      if (c !== null) closing.push(endClient(c, 2_000));
    }
    await Promise.all(closing);
  }

  // ---- connection handling (called by SimDevice handlers) ----

  handleConnect(d: SimDevice): void {
    if (d.connecting) {
      d.connecting = false;
      this.s.connecting--;
    }
    d.connected = true;
    d.failureCounted = false;
    this.s.connected++;
    this.s.connects++;
    // Nagle's algorithm costs 20+ ms of p99 on small publishes (shared/engineering.md).
    (d.client?.stream as Socket | undefined)?.setNoDelay?.(true);
    if (this.telemetry && !d.scheduled && !this.stopping) {
      d.dueAt = this.clock() + firstDelayMs(d.interval, this.random);
      d.scheduled = true;
      this.due.push(d);
    }
  }

  handleError(d: SimDevice, err: Error): void {
    if (!d.connected) {
      this.s.lastConnectError = err.message || String(err);
      if (!d.failureCounted) {
        d.failureCounted = true;
        this.s.connectErrors++;
      }
    } else {
      this.s.errors++;
    }
  }

  handleClose(d: SimDevice): void {
    if (d.connecting) {
      d.connecting = false;
      this.s.connecting--;
    }
    if (d.connected) {
      d.connected = false;
      this.s.connected--;
      if (!this.stopping) this.s.disconnects++;
    } else if (!d.failureCounted && !this.stopping) {
      // Closed before CONNACK without an error event (e.g. the broker hung up).
      d.failureCounted = true;
      this.s.connectErrors++;
    }
    if (this.stopping || this.reconnectDelayMs === 0 || d.queued) return;
    this.enqueue(d, reconnectAt(this.clock(), this.reconnectDelayMs, this.random));
  }

  handleSent(err?: Error): void {
    if (err) this.s.publishErrors++;
    else this.s.messagesSent++;
  }

  // ---- ramp ----

  private enqueue(d: SimDevice, notBefore: number): void {
    d.queued = true;
    d.notBefore = notBefore;
    this.connectQueue.push(d);
  }

  private scheduleRamp(): void {
    if (this.stopping) return;
    const delay = jitteredTickMs(this.tickMs, this.random);
    this.rampTimer = setTimeout(() => {
      this.pump();
      this.scheduleRamp();
    }, delay);
  }

  /** Opens as many connections as the token bucket and the in-flight bound allow. */
  private pump(): void {
    const now = this.clock();
    this.bucket.refill(now);
    const q = this.connectQueue;
    while (this.queueHead < q.length && this.bucket.ready() && this.s.connecting < this.maxConnecting) {
      const d = q[this.queueHead] as SimDevice;
      // Reconnect backoffs are appended in roughly time order; wait for the head.
      if (d.notBefore > now) break;
      this.queueHead++;
      this.bucket.take();
      d.queued = false;
      this.open(d);
    }
    // Compact the consumed prefix now and then, not on every shift.
    if (this.queueHead > 1024 && this.queueHead * 2 > q.length) {
      q.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  private open(d: SimDevice): void {
    if (this.stopping) return;
    d.connecting = true;
    d.failureCounted = false;
    this.s.connecting++;
    const old = d.client;
    if (old !== null) {
      // The old client is closed; keep an error listener so a late error cannot crash us.
      old.removeAllListeners();
      old.on('error', ignore);
    }
    const client = this.connectFn(this.url, {
      clientId: d.info.id,
      username: d.info.id,
      password: d.info.secret,
      clean: true,
      keepalive: this.keepaliveS,
      protocolVersion: 4,
      // The fleet reconnects through its own rate-limited queue instead.
      reconnectPeriod: 0,
      connectTimeout: this.connectTimeoutMs,
      // A disconnected device's readings are lost, as on a real device: no unbounded queue.
      queueQoSZero: false,
      resubscribe: false,
    });
    d.client = client;
    client.on('connect', d.onConnect);
    client.on('error', d.onError);
    client.on('close', d.onClose);
  }

  // ---- telemetry ----

  private tick(): void {
    const now = this.clock();
    let budget = this.maxPublishesPerTick;
    while (budget > 0) {
      const d = this.due.peek();
      if (d === undefined || d.dueAt > now) break;
      this.due.pop();
      const client = d.client;
      if (!d.connected || client === null) {
        // Re-added on the next CONNACK.
        d.scheduled = false;
        continue;
      }
      budget--;
      const stream = client.stream as Socket | undefined;
      if (stream !== undefined && stream.writableLength > this.maxWriteBufferBytes) {
        this.s.skippedBackpressure++;
      } else {
        client.publish(d.telemetryTopic, JSON.stringify(nextTelemetry(d.state, now)), QOS0, d.onSent);
      }
      let next = d.dueAt + nextDelayMs(d.interval, this.random);
      // Far behind (a stall): restart the rhythm from now instead of publishing a burst.
      if (next < now) next = now + nextDelayMs(d.interval, this.random);
      d.dueAt = next;
      this.due.push(d);
    }
  }
}

function ignore(): void {}

/** Ends a client politely, and forcibly if DISCONNECT does not complete in time. */
export function endClient(client: MqttClient, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      client.end(true);
      resolve();
    }, timeoutMs);
    client.end(false, {}, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
