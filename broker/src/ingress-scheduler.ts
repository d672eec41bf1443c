import { EVENT_TYPES, laneOf } from '@hub/protocol';
import { PairRing } from './pair-ring.js';

/**
 * Which incoming packets the broker works on first when it cannot keep up.
 *
 * Without this, aedes handles every packet as soon as it is parsed, and parses a whole
 * socket read at a time: beyond capacity, one turn of the event loop works through the
 * reads of every busy connection, its router queue fills with telemetry, and a fire
 * alarm that arrived on a quiet connection waits for all of it (186-480 ms alarm p99
 * under saturation, bench/broker/RESULTS.md, while Mosquitto kept 10 ms). Shedding
 * telemetry in authorizePublish or in the router only saved the routing, not the work
 * before it, and the router spent its time on a 20,000-message queue.
 *
 * Here each connection's parser hands its packets to the scheduler instead of aedes'
 * `enqueue` (the listener the aedes client puts on its parser, lib/client.js):
 * - at once: everything that is not a device PUBLISH (CONNECT, PUBACK, SUBSCRIBE,
 *   PINGREQ, ...), every PUBLISH of a station or hub service (pages, replies), and a
 *   device's fire-lane event (`alarm`, `alarm_cleared`, `smoke_linkage`, found by a
 *   cheap look at the payload's `"type"`; the full decode still happens in
 *   authorizePublish, so a wrong guess only costs priority);
 * - deferred, in two FIFO lanes: other device events and status (QoS > 0), then device
 *   telemetry (QoS 0). They are worked through in time slices of `sliceMs` from
 *   setImmediate, events first, and telemetry only while aedes' router holds fewer
 *   than `maxRouterLoad` messages (what the router takes is no longer scheduled: aedes
 *   gives every delivery its own setImmediate). A turn of the event loop stays short,
 *   and a fresh alarm is read, stored and acknowledged within a few turns.
 *
 * Backpressure: a deferred packet counts in aedes' `_parsingBatch` of its client while
 * it waits, exactly as if aedes were still handling it, and the connection's
 * 'readable' events are not passed to aedes while it has deferred packets (aedes'
 * `nextBatch` decrements `_parsingBatch` on every 'readable' too, which would let a
 * streaming connection be read again before its packets are done). So a busy
 * connection is read once per pass of the lane, in one larger read (the kernel holds
 * the rest), and a quiet one is read as soon as it has something.
 *
 * Shedding: when `maxTelemetryQueued` telemetry packets wait, `shedding` turns on
 * (off again at half), and frame-shedder.ts drops device QoS 0 PUBLISH frames on the
 * raw byte stream, before mqtt-packet parses them: a dropped reading costs a look at
 * its fixed header. A connection whose readings were dropped is gated all the same
 * behind a placeholder at the end of the telemetry lane (`gate`), so shedding does not
 * turn into reading every connection on every turn. An alarm behind a device's own
 * readings is read with them and is not stuck behind them. While shedding, the lane
 * also drops its oldest readings down to half the cap (each releases its connection
 * like a handled one). Counted in
 * hub_broker_shed_total{reason="ingress_queue"}. The events lane is not shed (QoS 1
 * must be acknowledged or refused): past `maxEventsQueued`, the connection that adds
 * one more is closed, and its unacknowledged events come again on reconnect.
 *
 * Order: within a lane, per connection, arrival order. Across lanes a device's fire
 * alarm may overtake its own earlier non-fire event on the same event topic: device
 * event topics are not "Ordered Topics" across lanes ([MQTT-4.6.0-6] lets a server
 * configure that); alerts reads the fire and other streams separately anyway.
 * Deferred packets of a connection that closes are dropped (QoS 1 ones were never
 * acknowledged, so the device sends them again).
 *
 * No closure per connection or packet: one shared listener with the parser as `this`,
 * and rings of (parser, packet) pairs.
 */

/** The aedes client fields used here (aedes 1.2 lib/client.js). */
interface SchedClient {
  _parsingBatch: number;
  connackSent: boolean;
  closed: boolean;
  hubPrincipal?: { kind: string };
  _nextBatch?: () => void;
  /** Entries of this client waiting in the scheduler (packets and a placeholder). */
  hubDeferred?: number;
  /** A placeholder of this client waits in the telemetry lane (see `gate`). */
  hubPlaceholder?: boolean;
}

/** The connection stream of a scheduled client (a net.Socket, TLS socket or WebSocket stream). */
interface SchedConn {
  read(n?: number | null): unknown;
  readonly readableLength: number;
  hubRead?: (n?: number | null) => unknown;
  listeners(event: 'readable'): Array<(...args: never[]) => void>;
  removeListener(event: 'readable', fn: (...args: never[]) => void): void;
  on(event: 'readable', fn: (this: SchedConn) => void): void;
  hubClient?: SchedClient;
}

interface WirePacket {
  cmd: string;
  qos?: number;
  payload?: Buffer | string;
}

type Enqueue = (this: SchedParser, packet: WirePacket) => void;

interface SchedParser {
  client: SchedClient;
  listeners(event: 'packet'): Array<(...args: never[]) => void>;
  removeListener(event: 'packet', fn: (...args: never[]) => void): void;
  on(event: 'packet', fn: (this: SchedParser, packet: WirePacket) => void): void;
  hubScheduler?: IngressScheduler;
  hubEnqueue?: Enqueue;
}

export interface IngressSchedulerOptions {
  /** Longest stretch of deferred work per turn of the event loop, ms; 0 = no scheduling (aedes' own order). */
  sliceMs: number;
  /** Telemetry packets waiting from which new telemetry is shed (until half of it). */
  maxTelemetryQueued: number;
  /** Device events waiting at most; one more closes the connection that sends it. */
  maxEventsQueued?: number;
  /** Closes a connection whose event did not fit (the events lane is full). */
  onEventsOverflow?: (client: unknown) => void;
  /**
   * Messages aedes' router is delivering or holding now (routing-guard.ts). Telemetry
   * is handed on only while this is below `maxRouterLoad`: past the router, work is no
   * longer scheduled (each delivery is its own setImmediate), so the backlog must stay
   * here, where it can be shed cheaply and does not delay alarms.
   */
  routerLoad?: () => number;
  maxRouterLoad?: number;
  /** A telemetry packet dropped (lane full, or its connection closed). */
  onShed: () => void;
  now?: () => number;
}

const FIRE_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES.filter((t) => laneOf(t) === 'fire'));
const TYPE_KEY = Buffer.from('"type"');
const QUOTE = 0x22;

/**
 * The value of the first `"type"` key of a JSON payload, or null. A look, not a parse:
 * enough to tell a fire alarm from other events for priority.
 */
export function peekEventType(payload: Buffer | string | undefined): string | null {
  if (payload === undefined) return null;
  const buf = typeof payload === 'string' ? Buffer.from(payload) : payload;
  let i = buf.indexOf(TYPE_KEY);
  if (i < 0) return null;
  i += TYPE_KEY.length;
  const n = buf.length;
  while (i < n && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0a || buf[i] === 0x0d)) i++;
  if (buf[i] !== 0x3a /* : */) return null;
  i++;
  while (i < n && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0a || buf[i] === 0x0d)) i++;
  if (buf[i] !== QUOTE) return null;
  const start = i + 1;
  const end = buf.indexOf(QUOTE, start);
  if (end < 0 || end - start > 40) return null;
  return buf.toString('latin1', start, end);
}

export function isFireEvent(payload: Buffer | string | undefined): boolean {
  const type = peekEventType(payload);
  return type !== null && FIRE_TYPES.has(type);
}

/**
 * The most aedes reads from a scheduled connection at once (it asks for everything
 * buffered, 64 KiB and more). One read is parsed in one go, and with gating a busy
 * connection is read once per pass of the lane: with 16 KiB reads, 1,000 flooding
 * connections brought 70,000 readings at a time, the lane overflowed and the broker
 * shed while idle (16-20k msg/s delivered of 60k offered); with 4 KiB, 49-53k and
 * nothing shed (bench/broker/RESULTS.md). The rest is read when that batch is done.
 */
export const MAX_READ_BYTES = 4 * 1024;

function cappedRead(this: SchedConn, n?: number | null): unknown {
  const read = this.hubRead as (n?: number | null) => unknown;
  if ((n === undefined || n === null) && this.readableLength > MAX_READ_BYTES) {
    // The rest is already buffered, so no 'readable' comes for it; if this read ends in
    // the middle of a packet, no packet completes to read on either. Look again next turn.
    setImmediate(readRest, this);
    return read.call(this, MAX_READ_BYTES);
  }
  return read.call(this, n);
}

/** Reads what a capped read left, unless packets of this connection are still being handled. */
function readRest(conn: SchedConn): void {
  const client = conn.hubClient;
  if (client === undefined || client.closed || conn.readableLength === 0) return;
  if ((client.hubDeferred ?? 0) > 0 || client._parsingBatch > 0) return;
  (client._nextBatch as () => void)();
}

/** The shared 'readable' listener of every scheduled connection (see Backpressure above). */
function scheduledReadable(this: SchedConn): void {
  const client = this.hubClient;
  if (client === undefined || (client.hubDeferred ?? 0) > 0) return;
  (client._nextBatch as () => void)();
}

/** The shared 'packet' listener of every scheduled parser. */
function scheduledEnqueue(this: SchedParser, packet: WirePacket): void {
  (this.hubScheduler as IngressScheduler).route(this, packet);
}

export class IngressScheduler {
  private readonly events = new PairRing<SchedParser, WirePacket>(1024);
  /** Telemetry packets, and placeholders (`undefined`) of gated connections. */
  private readonly telemetry = new PairRing<SchedParser, WirePacket>(4096);
  private readonly out: { second: WirePacket | undefined } = { second: undefined };
  /** Real packets in the telemetry lane (placeholders excluded). */
  private telemetryPackets = 0;
  private readonly maxEvents: number;
  private readonly onEventsOverflow: (client: unknown) => void;
  /** True while device telemetry is dropped on arrival (frame-shedder.ts reads it). */
  shedding = false;
  private readonly routerLoad: () => number;
  private readonly maxRouterLoad: number;
  private scheduled = false;
  private closed = false;
  private readonly sliceMs: number;
  private readonly maxTelemetry: number;
  private readonly onShed: () => void;
  private readonly now: () => number;
  private readonly drainNow = (): void => this.drain();
  /** Slices that ran out of time with work left (a sign of running beyond capacity). */
  slicesExhausted = 0;

  constructor(opts: IngressSchedulerOptions) {
    this.sliceMs = opts.sliceMs;
    this.maxTelemetry = opts.maxTelemetryQueued;
    this.maxEvents = opts.maxEventsQueued ?? 100_000;
    this.onEventsOverflow = opts.onEventsOverflow ?? (() => undefined);
    this.onShed = opts.onShed;
    this.now = opts.now ?? (() => performance.now());
    this.routerLoad = opts.routerLoad ?? (() => 0);
    this.maxRouterLoad = opts.maxRouterLoad ?? Number.POSITIVE_INFINITY;
  }

  get enabled(): boolean {
    return this.sliceMs > 0;
  }

  /** Deferred packets waiting now, per lane. */
  get queued(): { events: number; telemetry: number } {
    return { events: this.events.size, telemetry: this.telemetryPackets };
  }

  /**
   * Puts the scheduler between a fresh aedes client's parser and aedes' `enqueue`
   * (before any byte is parsed). A no-op when scheduling is off.
   */
  attach(client: unknown): void {
    if (!this.enabled) return;
    const c = client as { _parser?: SchedParser; conn?: SchedConn; _nextBatch?: () => void };
    const parser = c._parser;
    const conn = c.conn;
    const enqueue = parser?.listeners('packet').find((fn) => fn.name === 'enqueue');
    const nextBatch = c._nextBatch;
    if (
      parser === undefined ||
      enqueue === undefined ||
      conn === undefined ||
      nextBatch === undefined ||
      !conn.listeners('readable').includes(nextBatch as never)
    ) {
      throw new Error("aedes internals changed: no parser 'enqueue' / 'readable' nextBatch to schedule");
    }
    conn.removeListener('readable', nextBatch as never);
    conn.hubRead = conn.read;
    conn.read = cappedRead;
    conn.hubClient = client as SchedClient;
    conn.on('readable', scheduledReadable);
    parser.removeListener('packet', enqueue);
    parser.hubEnqueue = enqueue as unknown as Enqueue;
    parser.hubScheduler = this;
    parser.on('packet', scheduledEnqueue);
  }

  route(parser: SchedParser, packet: WirePacket): void {
    const client = parser.client;
    const enqueue = parser.hubEnqueue as Enqueue;
    if (
      !client.connackSent ||
      this.closed ||
      packet.cmd !== 'publish' ||
      client.hubPrincipal?.kind !== 'device'
    ) {
      enqueue.call(parser, packet);
      return;
    }
    if ((packet.qos ?? 0) === 0) {
      // Frames that arrived before shedding turned on were parsed already: they wait.
      this.telemetryPackets++;
      this.defer(this.telemetry, parser, packet);
      if (this.telemetryPackets >= this.maxTelemetry) this.shedding = true;
      return;
    }
    if (isFireEvent(packet.payload)) {
      enqueue.call(parser, packet);
      return;
    }
    if (this.events.size >= this.maxEvents) {
      this.onEventsOverflow(client);
      return;
    }
    this.defer(this.events, parser, packet);
  }

  /**
   * Gates a device connection whose readings frame-shedder.ts just dropped: a
   * placeholder at the end of the telemetry lane holds it (one per connection), so it
   * is read again after the lane's current contents, not on the next turn.
   */
  gate(parser: SchedParser): void {
    const client = parser.client;
    if (client.hubPlaceholder === true || this.closed) return;
    client.hubPlaceholder = true;
    this.defer(this.telemetry, parser, undefined);
  }

  private defer(
    ring: PairRing<SchedParser, WirePacket>,
    parser: SchedParser,
    packet: WirePacket | undefined,
  ): void {
    const client = parser.client;
    // Held like a packet aedes is handling: no more reads from this socket meanwhile.
    client._parsingBatch++;
    client.hubDeferred = (client.hubDeferred ?? 0) + 1;
    ring.push(parser, packet);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drainNow);
    }
  }

  private drain(): void {
    this.scheduled = false;
    const deadline = this.now() + this.sliceMs;
    let routerFull = false;
    while (this.events.size > 0 || this.telemetry.size > 0) {
      if (this.events.size > 0) {
        const parser = this.take(this.events);
        this.release(parser, this.out.second);
      } else if (this.shedding && this.telemetryPackets > this.maxTelemetry / 2) {
        // Shedding: the oldest readings go first, without costing a routing.
        const parser = this.take(this.telemetry);
        if (this.out.second === undefined) this.release(parser, undefined);
        else {
          this.onShed();
          this.letGo(parser);
        }
      } else {
        // Telemetry only while the router has room.
        if (this.routerLoad() >= this.maxRouterLoad) {
          routerFull = true;
          break;
        }
        const parser = this.take(this.telemetry);
        this.release(parser, this.out.second);
      }
      // Every packet: a release may read and parse a whole socket read (nextBatch).
      if (this.now() >= deadline) break;
    }
    if (this.shedding && this.telemetryPackets <= this.maxTelemetry / 2) this.shedding = false;
    if (this.events.size > 0 || this.telemetry.size > 0) {
      if (!routerFull) this.slicesExhausted++;
      this.scheduled = true;
      setImmediate(this.drainNow);
    }
  }

  /** The oldest entry of a lane: its parser, and its packet in `this.out.second` (`undefined`: a placeholder). */
  private take(ring: PairRing<SchedParser, WirePacket>): SchedParser {
    const parser = ring.shift(this.out) as SchedParser;
    if (ring === this.telemetry && this.out.second !== undefined) this.telemetryPackets--;
    return parser;
  }

  /**
   * Hands a deferred packet to aedes (or drops it when its connection is gone); for a
   * placeholder (`undefined`), lets aedes read the connection again.
   */
  private release(parser: SchedParser, packet: WirePacket | undefined): void {
    this.out.second = undefined;
    const client = parser.client;
    if (packet === undefined) {
      client.hubPlaceholder = false;
      this.letGo(parser);
      return;
    }
    client.hubDeferred = (client.hubDeferred ?? 1) - 1;
    client._parsingBatch--;
    if (client.closed) {
      if ((packet.qos ?? 0) === 0) this.onShed();
      // QoS 1: never acknowledged, so the device sends it again when it reconnects.
      return;
    }
    (parser.hubEnqueue as Enqueue).call(parser, packet);
  }

  /** Takes one hold off a connection without handing aedes a packet (a placeholder, a shed reading). */
  private letGo(parser: SchedParser): void {
    this.out.second = undefined;
    const client = parser.client;
    client.hubDeferred = (client.hubDeferred ?? 1) - 1;
    // nextBatch takes the hold off `_parsingBatch` and reads if nothing else is pending.
    if (!client.closed) (client._nextBatch as () => void)();
    else client._parsingBatch--;
  }

  /** Hands every deferred packet to aedes now, in order (broker closing). */
  close(): void {
    this.closed = true;
    this.events.drain((parser, packet) => this.release(parser, packet));
    this.telemetry.drain((parser, packet) => this.release(parser, packet));
    this.telemetryPackets = 0;
    this.shedding = false;
  }
}
