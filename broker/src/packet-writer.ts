import type { Writable } from 'node:stream';
import mqttPacket from 'mqtt-packet';

/**
 * How the broker writes MQTT packets: one buffer per PUBLISH or PUBACK, and one socket
 * write per connection per event-loop turn.
 *
 * aedes 1.2 writes every packet through `mqtt.writeToStream(packet, client.conn)`
 * (lib/write.js), looked up on mqtt-packet's module object at each call, so replacing
 * that property reaches every aedes client in the process. mqtt-packet 9 writes a
 * PUBLISH as five `stream.write` calls (header, length, topic length, topic, payload)
 * and flushes them with a cork/uncork on the next tick; aedes schedules every delivery
 * in its own setImmediate, so each packet became its own `writev` system call. Under
 * QoS 1 load that was a third of the broker's busy time (bench/broker/RESULTS.md).
 *
 * Here PUBLISH and PUBACK (the packets of the hot path) are encoded into a single
 * buffer, and the connection is corked until the next check phase (setImmediate):
 * the hundreds of deliveries a fleet-wide subscriber (ingest, alerts) gets in one turn
 * go out in one system call. Latency added: at most one turn of the event loop, which
 * is what the PUBACK of an event waits for anyway (the durable writes are batched per
 * turn, durable-writer.ts). Every other packet, and anything unusual (MQTT 5
 * properties, a Buffer topic, a missing message id), goes through mqtt-packet's own
 * encoder, which also validates it; order on the connection is kept because all of it
 * goes through the same corked stream.
 */

type WriteToStream = (packet: unknown, stream: Writable, opts?: unknown) => boolean;

interface OutPacket {
  cmd?: string;
  topic?: unknown;
  payload?: unknown;
  qos?: number;
  dup?: boolean;
  retain?: boolean;
  messageId?: unknown;
  properties?: unknown;
}

/** The largest remaining length MQTT can express (4 bytes of variable length). */
const MAX_REMAINING = 268_435_455;
const CORKED = Symbol('hub.corked');

type CorkableStream = Writable & { [CORKED]?: boolean };

const mqttModule = mqttPacket as unknown as { writeToStream: WriteToStream };
const originalWriteToStream: WriteToStream = mqttModule.writeToStream;

/** Streams corked this turn, uncorked together in the next check phase. */
const corked: CorkableStream[] = [];
let flushScheduled = false;
let installs = 0;

/** Counters for /metrics: packets encoded here, flushes (one per corked connection and turn), urgent writes. */
export const packetWriterStats = { fastPackets: 0, flushes: 0, urgentWrites: 0 };

function flushCorked(): void {
  flushScheduled = false;
  // A stream corked while this loop runs (a write from a 'drain' handler) is kept for
  // the next turn: take the list first.
  const n = corked.length;
  for (let i = 0; i < n; i++) {
    const s = corked[i] as CorkableStream;
    s[CORKED] = false;
    s.uncork();
  }
  corked.splice(0, n);
  packetWriterStats.flushes += n;
}

function corkForThisTurn(stream: CorkableStream): void {
  if (stream[CORKED] === true || typeof stream.cork !== 'function') return;
  stream.cork();
  stream[CORKED] = true;
  corked.push(stream);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushCorked);
  }
}

/** The PUBLISH as one buffer, or null when mqtt-packet must handle it. */
export function encodePublish(p: OutPacket): Buffer | null {
  const topic = p.topic;
  if (typeof topic !== 'string' || topic.length === 0 || p.properties !== undefined) return null;
  const qos = p.qos ?? 0;
  if (qos !== 0 && qos !== 1 && qos !== 2) return null;
  const id = p.messageId;
  if (qos > 0 && typeof id !== 'number') return null;
  const payload = p.payload ?? '';
  let payloadLen: number;
  if (Buffer.isBuffer(payload)) payloadLen = payload.length;
  else if (typeof payload === 'string') payloadLen = Buffer.byteLength(payload);
  else return null;
  const topicLen = Buffer.byteLength(topic);
  if (topicLen > 65_535) return null;
  const remaining = 2 + topicLen + (qos > 0 ? 2 : 0) + payloadLen;
  if (remaining > MAX_REMAINING) return null;
  const varLen = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  const buf = Buffer.allocUnsafe(1 + varLen + remaining);
  let o = 0;
  buf[o++] = 0x30 | (p.dup === true ? 0x08 : 0) | (qos << 1) | (p.retain === true ? 0x01 : 0);
  let x = remaining;
  do {
    let b = x & 0x7f;
    x >>>= 7;
    if (x > 0) b |= 0x80;
    buf[o++] = b;
  } while (x > 0);
  buf[o++] = topicLen >> 8;
  buf[o++] = topicLen & 0xff;
  o += buf.write(topic, o, 'utf8');
  if (qos > 0) {
    const mid = id as number;
    buf[o++] = (mid >> 8) & 0xff;
    buf[o++] = mid & 0xff;
  }
  if (Buffer.isBuffer(payload)) payload.copy(buf, o);
  else buf.write(payload as string, o, 'utf8');
  return buf;
}

/** The PUBACK as one 4-byte buffer, or null when mqtt-packet must handle it. */
export function encodePuback(p: OutPacket): Buffer | null {
  const id = p.messageId;
  if (typeof id !== 'number' || p.properties !== undefined) return null;
  const buf = Buffer.allocUnsafe(4);
  buf[0] = 0x40;
  buf[1] = 2;
  buf[2] = (id >> 8) & 0xff;
  buf[3] = id & 0xff;
  return buf;
}

/**
 * Fire alarms skip the wait for the check phase. Under saturation one turn of the event
 * loop is 10-30 ms (the poll phase reads every busy connection), and an alarm crossed
 * two turn ends that way: its PUBACK was written in the turn Redis answered and sent at
 * the end of it, and its delivery was written in that check phase and sent at the end
 * of the next turn. An urgent write uncorks its connection at once (what waited there
 * goes first, so order holds): the PUBACK while `urgentDepth` is set (the fire alarm's
 * continuation runs synchronously down to aedes' PubAck write), each delivery of a
 * payload marked with `markUrgent` (aedes copies the payload reference, never the
 * bytes, into every subscriber's packet).
 */
const urgentPayloads = new WeakSet<object>();
let urgentDepth = 0;

/** Deliveries of this payload are sent at once (a fire alarm's). */
export function markUrgent(payload: unknown): void {
  if (typeof payload === 'object' && payload !== null) urgentPayloads.add(payload);
}

/**
 * aedes puts a setImmediate between the PUBACK write and the routing (lib/write.js) and
 * another before each delivery (deliverQoS in lib/client.js). Scheduled from the check
 * phase, the second waits for the whole next turn (10-17 ms at p99 in the saturated
 * QoS 1 closed loop). While a fire alarm's continuation runs, the first
 * `URGENT_SYNC_IMMEDIATES` setImmediate calls run their callback at once instead:
 * enough for the alarm's routing and its deliveries to a handful of subscribers.
 * aedes defers to keep stacks short under load; the bound keeps this chain short too
 * (later calls, such as the router moving on to queued telemetry, are real
 * setImmediates). Nothing on that path uses setImmediate's return value.
 */
export const URGENT_SYNC_IMMEDIATES = 16;
const realSetImmediate = globalThis.setImmediate;
let syncLeft = 0;

function urgentSetImmediate(cb: (...args: unknown[]) => void, ...args: unknown[]): unknown {
  if (syncLeft <= 0) return realSetImmediate(cb, ...args);
  syncLeft--;
  cb(...args);
  return undefined;
}

/**
 * Runs `fn` (a fire alarm's continuation); what it writes (the PUBACK, then the
 * deliveries aedes makes on the way) is sent at once, and aedes' first setImmediate
 * hops on that way are taken at once (see URGENT_SYNC_IMMEDIATES).
 */
export function writingUrgently(fn: () => void): void {
  const outer = urgentDepth === 0;
  urgentDepth++;
  if (outer) {
    syncLeft = URGENT_SYNC_IMMEDIATES;
    (globalThis as { setImmediate: unknown }).setImmediate = urgentSetImmediate;
  }
  try {
    fn();
  } finally {
    urgentDepth--;
    if (outer) {
      globalThis.setImmediate = realSetImmediate;
      syncLeft = 0;
    }
  }
}

function isUrgent(p: OutPacket): boolean {
  if (urgentDepth > 0) return true;
  const payload = p.payload;
  return typeof payload === 'object' && payload !== null && urgentPayloads.has(payload);
}

function hubWriteToStream(packet: unknown, stream: Writable, opts?: unknown): boolean {
  const p = packet as OutPacket;
  const s = stream as CorkableStream;
  let buf: Buffer | null = null;
  if (opts === undefined) {
    if (p.cmd === 'publish') buf = encodePublish(p);
    else if (p.cmd === 'puback') buf = encodePuback(p);
  }
  if (buf !== null && isUrgent(p)) {
    packetWriterStats.fastPackets++;
    packetWriterStats.urgentWrites++;
    const ok = s.write(buf);
    // Left in `corked`: flushCorked's uncork of an uncorked stream does nothing.
    if (s[CORKED] === true) {
      s[CORKED] = false;
      s.uncork();
      packetWriterStats.flushes++;
    }
    return ok;
  }
  corkForThisTurn(s);
  if (buf === null) return originalWriteToStream(packet, stream, opts);
  packetWriterStats.fastPackets++;
  return s.write(buf);
}

/**
 * Installs the writer on mqtt-packet's module object (process-wide: every aedes in the
 * process writes through it). Returns the uninstall function; installs are counted, so
 * several brokers in one process (tests) share one.
 */
export function installPacketWriter(): () => void {
  if (installs === 0) mqttModule.writeToStream = hubWriteToStream;
  installs++;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    installs--;
    if (installs === 0) {
      mqttModule.writeToStream = originalWriteToStream;
      flushCorked();
    }
  };
}
