import { connect as netConnect, type Socket } from 'node:net';
import { type DeviceEvent, type DeviceKind, deviceTopic } from '@hub/protocol';
import { seededRandom } from '@hub/registry';
import * as mqttPacket from 'mqtt-packet';
import { type Clock, systemClock } from './clock.js';
import { ConnectBucket, jitteredTickMs, nonNegative, positive, reconnectAt } from './connect-ramp.js';
import {
  circuitCount,
  createDeviceState,
  type DeviceProfileState,
  deviceEvent,
  portCount,
} from './device-profiles.js';
import type { FleetDevice } from './fleet.js';
import { statusJson, telemetryJson } from './flood-payloads.js';
import {
  baseIntervalMs,
  type FloodProfileOptions,
  firstIntervalMs,
  inEveningPeak,
  isBatterySmoke,
  nextIntervalMs,
} from './flood-profiles.js';
import { FrameScanner, PACKET } from './frame-scanner.js';
import { IndexHeap } from './index-heap.js';
import { LatencyRecorder } from './latency-recorder.js';
import { qos0PublishFrame } from './publish-frame.js';
import { SIM_ERRORS, SimError } from './sim-error.js';

/**
 * Flood mode: up to ~100,000 device connections in one process, raw MQTT 3.1.1
 * frames over plain `net.Socket`s with TCP_NODELAY: mqtt-packet generates the rare
 * ones (CONNECT, QoS 1 status, events, probes), publish-frame.ts the telemetry.
 *
 * What keeps it small:
 * - per-device state lives in typed arrays indexed by device number (state, times,
 *   sequence numbers, packet ids, parse state in FrameScanner); the only object per
 *   connection is its Socket and the three handlers bound to it when it opens;
 * - one scheduler heap (IndexHeap) holds every connected or connecting device's next
 *   timed action (report, PINGREQ, CONNACK deadline); one timer drains it;
 * - one connect queue ordered by not-before time (a second IndexHeap) feeds a token
 *   bucket (connections/s) with a bound on attempts in flight and jittered ticks;
 * - connections are spread over several loopback source addresses (127.0.0.2, ...)
 *   because one address has only the ephemeral port range toward one broker port.
 *
 * Realistic mqtt.js clients stay in fleet.ts; this transport trades their features
 * (reconnect logic, offline queues, QoS 2) for memory and CPU per connection.
 */

export interface FloodFleetOptions {
  host: string;
  port: number;
  devices: readonly FleetDevice[];
  /** Local addresses to bind, round-robin per device (empty: let the OS choose). */
  sourceAddresses: readonly string[];
  /** Part of every message id (unique per run). */
  bootId: string;
  /** Seed of event generators (same as the demo township's). */
  seed: string;
  /** New connections per second (default 1000); reconnects share the budget. */
  connectRate?: number;
  /** Attempts waiting for CONNACK at once (default 1000). */
  maxConnecting?: number;
  /** CONNACK deadline (default 15 s). */
  connectTimeoutMs?: number;
  /** Delay before a dropped device reconnects, ±50 % (default 5 s; 0 = never). */
  reconnectDelayMs?: number;
  /** MQTT keepalive (default 300 s); an idle device sends PINGREQ at 3/4 of it. */
  keepaliveS?: number;
  /** Periodic telemetry (default true). */
  telemetry?: boolean;
  /** Publish a retained `online` status (QoS 1) after each CONNACK (default true). */
  status?: boolean;
  profile?: FloodProfileOptions;
  /**
   * Every this many ms one connected device (round robin) publishes a QoS 1 `test`
   * event (info lane: the hub records it, pages nobody) and its PUBACK latency is
   * recorded from the time it was due, corrected for coordinated omission with this
   * interval: a stalled broker shows as the whole stall, not as one slow sample.
   * Default 1000; 0 turns the probe off.
   */
  probeIntervalMs?: number;
  /** Period of the scheduler timer (default 20 ms). */
  tickMs?: number;
  /** Scheduled actions per tick at most (default 4000), so a backlog cannot starve I/O. */
  maxActionsPerTick?: number;
  /** A device skips a report while its socket buffers more than this (default 16 KiB). */
  maxWriteBufferBytes?: number;
  clock?: Clock;
  random?: () => number;
}

export interface FloodStats {
  devices: number;
  connected: number;
  connecting: number;
  queued: number;
  /** Devices taken offline on purpose (power cut) and not yet restored. */
  offline: number;
  connects: number;
  connectErrors: number;
  /** Connect failures by errno / reason (EADDRNOTAVAIL, EMFILE, timeout, refused-4 ...). */
  connectErrorsByCode: Record<string, number>;
  disconnects: number;
  errors: number;
  messagesSent: number;
  bytesSent: number;
  skippedBackpressure: number;
  pings: number;
  statusSent: number;
  statusAcked: number;
  eventsSent: number;
  eventsAcked: number;
  eventErrors: number;
  probesSent: number;
  probesAcked: number;
  lastConnectError: string | null;
}

const ST_IDLE = 0;
const ST_QUEUED = 1;
const ST_CONNECTING = 2;
const ST_CONNECTED = 3;
const ST_OFFLINE = 4;
const ST_STOPPED = 5;

const PINGREQ = Buffer.from([0xc0, 0x00]);
const DISCONNECT = Buffer.from([0xe0, 0x00]);
const KINDS: readonly DeviceKind[] = ['smoke', 'electric', 'charger'];

interface PendingEvent {
  resolve: () => void;
  reject: (err: Error) => void;
  sentAt: number;
  /** Probe: latency goes to probeLatency, corrected with the probe interval. */
  probe: boolean;
}

function hashUnit(s: string): number {
  // FNV-1a, 32 bit → [0, 1): a stable per-device baseline without storing a generator.
  let h = 0x811c9dc5;
  for (let k = 0; k < s.length; k++) {
    h ^= s.charCodeAt(k);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 0x1_0000_0000;
}

export class FloodFleet {
  readonly size: number;
  private readonly ids: readonly string[];
  private readonly secrets: readonly string[];
  private readonly byId = new Map<string, number>();
  private readonly kind: Uint8Array;
  private readonly channels: Uint8Array;
  private readonly battery: Uint8Array;
  private readonly hash: Float32Array;
  private readonly baseMs: Float64Array;
  private readonly state: Uint8Array;
  private readonly nextReportAt: Float64Array;
  private readonly lastSentAt: Float64Array;
  private readonly connectStartedAt: Float64Array;
  private readonly seq: Uint32Array;
  private readonly nextPid: Uint16Array;
  private readonly statusPid: Uint16Array;
  private readonly statusSentAt: Float64Array;
  private readonly sockets: Array<Socket | null>;
  private readonly scanner: FrameScanner;
  private readonly schedule: IndexHeap;
  private readonly connectQueue: IndexHeap;
  private readonly pending = new Map<number, PendingEvent>();
  private readonly eventStates = new Map<number, DeviceProfileState>();

  private readonly host: string;
  private readonly port: number;
  private readonly addresses: readonly string[];
  private readonly seed: string;
  private readonly bootId: string;
  private readonly idPrefix: string;
  private readonly rate: number;
  private readonly maxConnecting: number;
  private readonly connectTimeoutMs: number;
  private readonly reconnectDelayMs: number;
  private readonly keepaliveS: number;
  private readonly pingEveryMs: number;
  private readonly telemetry: boolean;
  private readonly status: boolean;
  private readonly profile: FloodProfileOptions;
  private readonly tickMs: number;
  private readonly maxActionsPerTick: number;
  private readonly maxWriteBufferBytes: number;
  private readonly clock: Clock;
  private readonly random: () => number;

  /** CONNECT → CONNACK, ms. */
  readonly connectLatency = new LatencyRecorder();
  /** QoS 1 publish (status, events) → PUBACK, ms, from the time the publish was due. */
  readonly ackLatency = new LatencyRecorder();
  /** The same since the last `takeAckWindow()` (progress display's "current p99"). */
  private ackWindow = new LatencyRecorder();
  /** Probe publish (from its due time) → PUBACK, corrected for coordinated omission. */
  readonly probeLatency = new LatencyRecorder();
  /** How late the scheduler ran reports behind their due time, ms (the simulator's own health). */
  readonly schedulerLag = new LatencyRecorder();

  private readonly probeIntervalMs: number;
  private nextProbeAt = 0;
  private probeCursor = 0;
  private readonly bucket: ConnectBucket;
  private timer: NodeJS.Timeout | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private started = false;
  private stopping = false;
  private readonly s: Omit<FloodStats, 'queued' | 'connectErrorsByCode'>;
  private readonly errorCodes = new Map<string, number>();

  constructor(opts: FloodFleetOptions) {
    const devices: FleetDevice[] = [];
    for (const d of opts.devices) {
      if (this.byId.has(d.id)) continue;
      this.byId.set(d.id, devices.length);
      devices.push(d);
    }
    const n = devices.length;
    this.size = n;
    this.ids = devices.map((d) => d.id);
    this.secrets = devices.map((d) => d.secret);
    this.host = opts.host;
    this.port = opts.port;
    this.addresses = [...opts.sourceAddresses];
    this.seed = opts.seed;
    this.bootId = opts.bootId;
    this.idPrefix = `${opts.bootId}t`;
    this.rate = positive('connectRate', opts.connectRate ?? 1_000);
    this.maxConnecting = positive('maxConnecting', opts.maxConnecting ?? 1_000);
    this.connectTimeoutMs = positive('connectTimeoutMs', opts.connectTimeoutMs ?? 15_000);
    this.reconnectDelayMs = nonNegative('reconnectDelayMs', opts.reconnectDelayMs ?? 5_000);
    this.keepaliveS = positive('keepaliveS', opts.keepaliveS ?? 300);
    this.pingEveryMs = this.keepaliveS * 750;
    this.telemetry = opts.telemetry ?? true;
    this.status = opts.status ?? true;
    this.profile = { ...opts.profile };
    this.probeIntervalMs = nonNegative('probeIntervalMs', opts.probeIntervalMs ?? 1_000);
    this.tickMs = positive('tickMs', opts.tickMs ?? 20);
    this.maxActionsPerTick = positive('maxActionsPerTick', opts.maxActionsPerTick ?? 4_000);
    this.maxWriteBufferBytes = positive('maxWriteBufferBytes', opts.maxWriteBufferBytes ?? 16 * 1024);
    this.bucket = new ConnectBucket(this.rate, this.tickMs);
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;

    this.kind = new Uint8Array(n);
    this.channels = new Uint8Array(n);
    this.battery = new Uint8Array(n);
    this.hash = new Float32Array(n);
    this.baseMs = new Float64Array(n);
    this.state = new Uint8Array(n);
    this.nextReportAt = new Float64Array(n);
    this.lastSentAt = new Float64Array(n);
    this.connectStartedAt = new Float64Array(n);
    this.seq = new Uint32Array(n);
    this.nextPid = new Uint16Array(n);
    this.statusPid = new Uint16Array(n);
    this.statusSentAt = new Float64Array(n);
    this.sockets = new Array<Socket | null>(n).fill(null);
    this.scanner = new FrameScanner(n);
    this.schedule = new IndexHeap(n);
    this.connectQueue = new IndexHeap(n);
    const scale = this.profile.intervalScale ?? 1;
    for (let i = 0; i < n; i++) {
      const d = devices[i] as FleetDevice;
      const h = hashUnit(d.id);
      this.kind[i] = KINDS.indexOf(d.kind);
      this.hash[i] = h;
      this.battery[i] = d.kind === 'smoke' && isBatterySmoke(d.model) ? 1 : 0;
      this.channels[i] =
        d.kind === 'electric'
          ? circuitCount(d.model, seededRandom(d.id))
          : d.kind === 'charger'
            ? Math.min(32, portCount(d.model))
            : 0;
      this.baseMs[i] = baseIntervalMs(d.kind, d.model, hashUnit(`${d.id}:iv`), scale);
    }
    this.s = {
      devices: n,
      connected: 0,
      connecting: 0,
      offline: 0,
      connects: 0,
      connectErrors: 0,
      disconnects: 0,
      errors: 0,
      messagesSent: 0,
      bytesSent: 0,
      skippedBackpressure: 0,
      pings: 0,
      statusSent: 0,
      statusAcked: 0,
      eventsSent: 0,
      eventsAcked: 0,
      eventErrors: 0,
      probesSent: 0,
      probesAcked: 0,
      lastConnectError: null,
    };
  }

  /** Queues every device (in list order) and starts the ramp and the scheduler. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const now = this.clock();
    // Keys increase with the index so the ramp connects in list order.
    for (let i = 0; i < this.size; i++) this.enqueue(i, now + i * 1e-6);
    this.bucket.start(now);
    this.nextProbeAt = now + this.probeIntervalMs;
    // Its own timer, not the scheduler tick: the probe's due time must not include
    // the tick's granularity (10–30 ms), only real stalls.
    if (this.probeIntervalMs > 0) this.scheduleProbe();
    this.loop();
  }

  stats(): FloodStats {
    return {
      ...this.s,
      queued: this.connectQueue.size,
      connectErrorsByCode: Object.fromEntries(this.errorCodes),
    };
  }

  indexOf(deviceId: string): number {
    return this.byId.get(deviceId) ?? -1;
  }

  idAt(i: number): string {
    return this.ids[i] as string;
  }

  isConnected(deviceId: string): boolean {
    const i = this.indexOf(deviceId);
    return i >= 0 && this.state[i] === ST_CONNECTED;
  }

  /** Samples since the previous call (for a "current p99"); starts a new window. */
  takeAckWindow(): LatencyRecorder {
    const w = this.ackWindow;
    this.ackWindow = new LatencyRecorder();
    return w;
  }

  /**
   * A generator state for a device's events, made on first use: only the few
   * devices that raise events pay for one. Its message ids use the boot id with a
   * `-` so they never collide with telemetry ids (`t`).
   */
  deviceState(deviceId: string): DeviceProfileState | undefined {
    const i = this.indexOf(deviceId);
    if (i < 0) return undefined;
    let st = this.eventStates.get(i);
    if (st === undefined) {
      const kind = KINDS[this.kind[i] as number] as DeviceKind;
      st = createDeviceState(
        { id: deviceId, kind, model: kind === 'smoke' ? 'NB' : '' },
        this.seed,
        this.bootId,
      );
      this.eventStates.set(i, st);
    }
    return st;
  }

  /** Publishes an event QoS 1; resolves at PUBACK, rejects when not connected or dropped first. */
  publishEvent(deviceId: string, event: DeviceEvent): Promise<void> {
    this.s.eventsSent++;
    const i = this.indexOf(deviceId);
    const sock = i >= 0 ? this.sockets[i] : null;
    if (i < 0 || sock == null || this.state[i] !== ST_CONNECTED) {
      this.s.eventErrors++;
      return Promise.reject(
        new SimError(SIM_ERRORS.DEVICES_NOT_CONNECTED, `device ${deviceId} is not connected`),
      );
    }
    const pid = this.allocPid(i);
    const frame = mqttPacket.generate({
      cmd: 'publish',
      topic: deviceTopic(deviceId, 'event'),
      payload: JSON.stringify(event),
      qos: 1,
      retain: false,
      dup: false,
      messageId: pid,
    });
    const now = this.clock();
    return new Promise<void>((resolve, reject) => {
      this.pending.set(i * 65_536 + pid, { resolve, reject, sentAt: now, probe: false });
      this.write(i, sock, frame, now);
    });
  }

  /**
   * Takes devices offline as a power cut does: the socket is destroyed without
   * DISCONNECT (the broker notices at keepalive or RST), and they stay offline until
   * `restore`. Returns how many were connected.
   */
  cut(deviceIds: Iterable<string>): number {
    let was = 0;
    for (const id of deviceIds) {
      const i = this.indexOf(id);
      if (i < 0 || this.state[i] === ST_OFFLINE || this.state[i] === ST_STOPPED) continue;
      if (this.state[i] === ST_CONNECTED) was++;
      this.connectQueue.delete(i);
      this.setState(i, ST_OFFLINE);
      this.s.offline++;
      this.sockets[i]?.destroy();
    }
    return was;
  }

  /** Power back: devices reconnect at random within `spreadMs` (0 = all at once: the storm), subject to the rate. */
  restore(deviceIds: Iterable<string>, spreadMs: number): void {
    const now = this.clock();
    for (const id of deviceIds) {
      const i = this.indexOf(id);
      if (i < 0 || this.state[i] !== ST_OFFLINE) continue;
      this.s.offline--;
      this.enqueue(i, now + this.random() * spreadMs);
    }
  }

  /** Sends DISCONNECT and closes every socket; destroys the ones still open after `graceMs`. */
  async stop(graceMs = 2_000): Promise<void> {
    this.stopping = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.probeTimer !== null) clearTimeout(this.probeTimer);
    this.timer = null;
    this.probeTimer = null;
    this.schedule.clear();
    this.connectQueue.clear();
    const closing: Promise<void>[] = [];
    for (let i = 0; i < this.size; i++) {
      const sock = this.sockets[i];
      const wasConnected = this.state[i] === ST_CONNECTED;
      this.setState(i, ST_STOPPED);
      if (sock == null || sock.destroyed) continue;
      closing.push(
        new Promise<void>((resolve) => {
          sock.once('close', () => resolve());
          if (wasConnected) sock.end(DISCONNECT);
          else sock.destroy();
        }),
      );
    }
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closing),
      new Promise<void>((r) => {
        t = setTimeout(r, graceMs);
      }),
    ]);
    clearTimeout(t);
    for (const sock of this.sockets) if (sock != null && !sock.destroyed) sock.destroy();
    for (const p of this.pending.values()) p.reject(new Error('fleet stopped'));
    this.pending.clear();
  }

  // ---- internals ----

  private setState(i: number, st: number): void {
    const old = this.state[i] as number;
    if (old === st) return;
    if (old === ST_CONNECTED) this.s.connected--;
    if (old === ST_CONNECTING) this.s.connecting--;
    if (st === ST_CONNECTED) this.s.connected++;
    if (st === ST_CONNECTING) this.s.connecting++;
    this.state[i] = st;
  }

  private enqueue(i: number, notBefore: number): void {
    this.setState(i, ST_QUEUED);
    this.connectQueue.set(i, notBefore);
  }

  private allocPid(i: number): number {
    const pid = ((this.nextPid[i] as number) % 65_535) + 1;
    this.nextPid[i] = pid;
    return pid;
  }

  private countConnectError(code: string, message: string): void {
    this.s.connectErrors++;
    this.s.lastConnectError = message;
    this.errorCodes.set(code, (this.errorCodes.get(code) ?? 0) + 1);
  }

  private loop(): void {
    if (this.stopping) return;
    this.pump();
    this.tick();
    const delay = jitteredTickMs(this.tickMs, this.random);
    this.timer = setTimeout(() => this.loop(), delay);
  }

  /** Opens as many connections as the token bucket and the in-flight bound allow. */
  private pump(): void {
    const now = this.clock();
    this.bucket.refill(now);
    const q = this.connectQueue;
    while (
      q.size > 0 &&
      this.bucket.ready() &&
      this.s.connecting < this.maxConnecting &&
      q.peekKey() <= now
    ) {
      const i = q.pop();
      this.bucket.take();
      this.open(i, now);
    }
  }

  private open(i: number, now: number): void {
    const id = this.ids[i] as string;
    const localAddress = this.addresses.length === 0 ? undefined : this.addresses[i % this.addresses.length];
    this.setState(i, ST_CONNECTING);
    this.scanner.reset(i);
    this.connectStartedAt[i] = now;
    this.schedule.set(i, now + this.connectTimeoutMs);
    let sock: Socket;
    try {
      sock = netConnect({ host: this.host, port: this.port, localAddress, noDelay: true });
    } catch (err) {
      // Synchronous failures (EMFILE on some platforms) land here.
      this.failAttempt(i, err as NodeJS.ErrnoException);
      return;
    }
    this.sockets[i] = sock;
    sock.setNoDelay(true);
    sock.on('connect', () => {
      if (this.state[i] !== ST_CONNECTING || this.sockets[i] !== sock) return;
      const frame = mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: id,
        keepalive: this.keepaliveS,
        username: id,
        password: Buffer.from(this.secrets[i] as string),
      });
      this.write(i, sock, frame, this.clock(), false);
    });
    sock.on('data', (chunk: Buffer) => {
      if (this.sockets[i] !== sock) return;
      if (!this.scanner.feed(i, chunk, this.onPacket)) {
        this.s.errors++;
        sock.destroy();
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (this.sockets[i] !== sock) return;
      if (this.state[i] === ST_CONNECTING) this.failAttempt(i, err);
      else if (this.state[i] === ST_CONNECTED) this.s.errors++;
    });
    sock.on('close', () => {
      if (this.sockets[i] !== sock) return;
      this.sockets[i] = null;
      this.onClosed(i);
    });
  }

  private failAttempt(i: number, err: NodeJS.ErrnoException | { code: string; message: string }): void {
    this.countConnectError(err.code ?? 'error', err.message || String(err.code));
    // Counted once; the close that follows requeues without counting again.
    this.setState(i, ST_IDLE);
    this.schedule.delete(i);
    const sock = this.sockets[i];
    if (sock == null) this.requeue(i);
    else sock.destroy();
  }

  private onClosed(i: number): void {
    const st = this.state[i] as number;
    this.schedule.delete(i);
    this.rejectPending(i);
    if (st === ST_CONNECTED) {
      if (!this.stopping) this.s.disconnects++;
    } else if (st === ST_CONNECTING) {
      this.countConnectError('closed', 'closed before CONNACK');
    }
    if (st === ST_CONNECTED || st === ST_CONNECTING || st === ST_IDLE) {
      this.setState(i, ST_IDLE);
      this.requeue(i);
    }
  }

  private requeue(i: number): void {
    if (this.stopping || this.reconnectDelayMs === 0) return;
    this.enqueue(i, reconnectAt(this.clock(), this.reconnectDelayMs, this.random));
  }

  private rejectPending(i: number): void {
    if (this.pending.size === 0) return;
    for (const [key, p] of this.pending) {
      if (Math.floor(key / 65_536) !== i) continue;
      this.pending.delete(key);
      if (!p.probe) this.s.eventErrors++;
      p.reject(new Error(`device ${this.ids[i]} disconnected before PUBACK`));
    }
  }

  /** Bound once: FrameScanner calls it per complete packet. */
  private readonly onPacket = (i: number, type: number, _len: number, b0: number, b1: number): void => {
    const now = this.clock();
    if (type === PACKET.CONNACK) {
      if (this.state[i] !== ST_CONNECTING) return;
      if (b1 !== 0) {
        // [MQTT-3.2.2.3] return code: 4 bad credentials, 5 not authorised.
        const sock = this.sockets[i];
        this.failAttempt(i, { code: `refused-${b1}`, message: `CONNACK refused with return code ${b1}` });
        sock?.destroy();
        return;
      }
      this.connectLatency.record(now - (this.connectStartedAt[i] as number));
      this.setState(i, ST_CONNECTED);
      this.s.connects++;
      const sock = this.sockets[i];
      if (this.status && sock != null) this.publishStatus(i, sock, now);
      this.nextReportAt[i] = this.telemetry
        ? now + firstIntervalMs(this.baseMs[i] as number, this.random())
        : Number.POSITIVE_INFINITY;
      this.reschedule(i);
    } else if (type === PACKET.PUBACK) {
      const pid = (b0 << 8) | b1;
      if (this.statusPid[i] === pid && (this.statusSentAt[i] as number) > 0) {
        const ms = now - (this.statusSentAt[i] as number);
        this.ackLatency.record(ms);
        this.ackWindow.record(ms);
        this.statusSentAt[i] = 0;
        this.s.statusAcked++;
        return;
      }
      const key = i * 65_536 + pid;
      const p = this.pending.get(key);
      if (p !== undefined) {
        this.pending.delete(key);
        if (p.probe) {
          this.probeLatency.recordCorrected(now - p.sentAt, this.probeIntervalMs);
          this.ackWindow.recordCorrected(now - p.sentAt, this.probeIntervalMs);
          this.s.probesAcked++;
        } else {
          this.ackLatency.record(now - p.sentAt);
          this.ackWindow.record(now - p.sentAt);
          this.s.eventsAcked++;
        }
        p.resolve();
      }
    }
    // PINGRESP, SUBACK and anything else: nothing to do.
  };

  /**
   * Arms the probe timer for the next due time. Not setInterval: after a stall it keeps
   * its period from the late firing and never catches up, so one 130 ms stall of this
   * process added 130 ms to every later probe (measured with bench/broker/event-ack.ts).
   * A one-shot timer aimed at the due time counts a stall only for the probes due in it.
   */
  private scheduleProbe(): void {
    const wait = Math.max(0, this.nextProbeAt - this.clock());
    this.probeTimer = setTimeout(() => {
      this.probe();
      if (this.probeTimer !== null) this.scheduleProbe();
    }, wait);
  }

  /** Sends the probe(s) due; `sentAt` is the due time, so scheduler stalls count too. */
  private probe(): void {
    const now = this.clock();
    while (this.nextProbeAt <= now) {
      const due = this.nextProbeAt;
      this.nextProbeAt = due + this.probeIntervalMs;
      // A stall of more than a minute: resume from now (the stall is in the histogram already).
      if (now - this.nextProbeAt > 60_000) this.nextProbeAt = now + this.probeIntervalMs;
      let i = -1;
      for (let k = 0; k < Math.min(this.size, 4096); k++) {
        const c = (this.probeCursor + k) % this.size;
        if (this.state[c] === ST_CONNECTED) {
          i = c;
          break;
        }
      }
      if (i < 0) return;
      this.probeCursor = (i + 1) % this.size;
      const sock = this.sockets[i];
      if (sock == null) return;
      const id = this.ids[i] as string;
      const st = this.deviceState(id);
      if (st === undefined) return;
      const pid = this.allocPid(i);
      const payload = JSON.stringify(deviceEvent(st, now, 'test', { detail: 'sim latency probe' }));
      const frame = mqttPacket.generate({
        cmd: 'publish',
        topic: deviceTopic(id, 'event'),
        payload,
        qos: 1,
        retain: false,
        dup: false,
        messageId: pid,
      });
      this.s.probesSent++;
      this.pending.set(i * 65_536 + pid, { resolve: noop, reject: noop, sentAt: due, probe: true });
      this.write(i, sock, frame, now);
    }
  }

  private publishStatus(i: number, sock: Socket, now: number): void {
    const pid = this.allocPid(i);
    this.statusPid[i] = pid;
    this.statusSentAt[i] = now;
    this.s.statusSent++;
    const frame = mqttPacket.generate({
      cmd: 'publish',
      topic: deviceTopic(this.ids[i] as string, 'status'),
      payload: statusJson(now, 'online'),
      qos: 1,
      retain: true,
      dup: false,
      messageId: pid,
    });
    this.write(i, sock, frame, now);
  }

  private write(i: number, sock: Socket, frame: Buffer, now: number, count = true): void {
    sock.write(frame);
    this.lastSentAt[i] = now;
    if (count) this.s.bytesSent += frame.length;
  }

  private reschedule(i: number): void {
    const ping = (this.lastSentAt[i] as number) + this.pingEveryMs;
    const report = this.nextReportAt[i] as number;
    this.schedule.set(i, Math.min(report, ping));
  }

  private tick(): void {
    const now = this.clock();
    let budget = this.maxActionsPerTick;
    const h = this.schedule;
    while (budget > 0 && h.size > 0 && h.peekKey() <= now) {
      budget--;
      const i = h.pop();
      const st = this.state[i] as number;
      if (st === ST_CONNECTING) {
        this.failAttempt(i, { code: 'timeout', message: `no CONNACK within ${this.connectTimeoutMs} ms` });
        continue;
      }
      if (st !== ST_CONNECTED) continue;
      const sock = this.sockets[i];
      if (sock == null) continue;
      const due = this.nextReportAt[i] as number;
      if (due <= now) {
        this.report(i, sock, due, now);
      } else {
        sock.write(PINGREQ);
        this.lastSentAt[i] = now;
        this.s.pings++;
      }
      this.reschedule(i);
    }
  }

  private report(i: number, sock: Socket, due: number, now: number): void {
    this.schedulerLag.record(now - due);
    const k = this.kind[i] as number;
    const kind = KINDS[k] as DeviceKind;
    if (sock.writableLength > this.maxWriteBufferBytes) {
      this.s.skippedBackpressure++;
    } else {
      const seq = this.seq[i] as number;
      this.seq[i] = seq + 1;
      const payload = telemetryJson(
        kind,
        this.idPrefix,
        seq,
        now,
        this.hash[i] as number,
        this.random,
        this.channels[i] as number,
        this.battery[i] === 1,
        // The same peak test as nextIntervalMs, so busy ports and halved intervals agree.
        kind === 'charger' &&
          this.profile.eveningPeak === true &&
          inEveningPeak(now, this.profile.utcOffsetHours),
      );
      const frame = qos0PublishFrame(deviceTopic(this.ids[i] as string, 'telemetry'), payload);
      this.write(i, sock, frame, now);
      this.s.messagesSent++;
    }
    const next = due + nextIntervalMs(kind, this.baseMs[i] as number, this.random(), now, this.profile);
    // Far behind (a stall): restart the rhythm from now instead of a burst of catch-up reports.
    this.nextReportAt[i] = next < now ? now + (this.baseMs[i] as number) * this.random() : next;
  }
}

function noop(): void {}
