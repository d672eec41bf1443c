import type { Client } from 'aedes';

/**
 * Drops device telemetry on the raw byte stream, before mqtt-packet parses it, while
 * the ingress scheduler is shedding (ingress-scheduler.ts).
 *
 * Why on the bytes: beyond capacity the broker must still read every connection (a
 * fire alarm may sit behind a device's own readings), but parsing a reading into a
 * packet object, only to drop it, costs about as much as a quarter of routing it
 * (BufferList copies, the packet object, two listener calls, the garbage). A PUBLISH's
 * first byte says whether it is QoS 0 (`0x30`, QoS bits 0); its remaining length says
 * where it ends. So this wraps the client parser's `parse(buf)`: it walks the frame
 * headers of every chunk (always, so it never loses alignment), and while shedding it
 * cuts out the QoS 0 PUBLISH frames of a connected device and hands mqtt-packet the rest.
 *
 * Frames cross chunk boundaries: per connection it remembers the bytes still to pass
 * (`pass`) or to drop (`drop`) of the frame in progress, and holds back a fixed header
 * cut in two (at most 5 bytes) until the next chunk. A malformed remaining length (a
 * fifth continuation byte) stops the walk for good and passes everything: mqtt-packet
 * rejects it and aedes closes the connection, as before.
 *
 * Relies on the aedes client's `_parser.parse` and `_parser.client` (checked at install).
 */

interface ScanState {
  pass: number;
  drop: number;
  carry: Buffer | null;
  broken: boolean;
}

interface ShedClient {
  connackSent?: boolean;
  hubPrincipal?: { kind: string };
}

interface ShedParser {
  parse(buf: Buffer): unknown;
  client?: ShedClient;
  hubParse?: (buf: Buffer) => unknown;
  hubScan?: ScanState;
  hubShedder?: FrameShedder;
}

export interface FrameShedder {
  /** True while QoS 0 device PUBLISH frames are to be dropped. */
  readonly shedding: boolean;
  /** Called with the number of frames dropped from one chunk, and that chunk's parser. */
  onDropped(frames: number, parser: object): void;
}

/** Kept ranges of one chunk (start, end pairs), reused: parse is synchronous. */
const ranges: number[] = [];

/** What `filterChunk` returns, one object reused: read it before the next call. */
const result: { out: Buffer; dropped: number } = { out: Buffer.alloc(0), dropped: 0 };

function done(out: Buffer, dropped: number): { out: Buffer; dropped: number } {
  result.out = out;
  result.dropped = dropped;
  return result;
}

/**
 * Walks the chunk's frames and returns what mqtt-packet should see: `buf` itself when
 * nothing is dropped or held back (the common case, no copy), else the kept bytes.
 * The result object is reused (no allocation per chunk): read it before the next call.
 */
export function filterChunk(
  st: ScanState,
  input: Buffer,
  dropTelemetry: boolean,
): { out: Buffer; dropped: number } {
  let buf = input;
  if (st.carry !== null) {
    buf = Buffer.concat([st.carry, input]);
    st.carry = null;
  }
  const n = buf.length;
  if (st.broken) return done(buf, 0);
  ranges.length = 0;
  let dropped = 0;
  let cut = false;
  // `run`: start of the run of kept bytes being extended, or -1. A kept segment at `a`
  // starts a run if none is open; a dropped one closes the open run at `a`.
  let run = -1;
  let i = 0;
  if (st.pass > 0) {
    run = 0;
    i = Math.min(st.pass, n);
    st.pass -= i;
  } else if (st.drop > 0) {
    cut = true;
    i = Math.min(st.drop, n);
    st.drop -= i;
  }
  let stop = n;
  while (i < n) {
    const start = i;
    const first = buf[i] as number;
    // Remaining length: 1-4 bytes, 7 bits each.
    let len = 0;
    let mult = 1;
    let j = i + 1;
    let complete = false;
    let malformed = false;
    for (let k = 0; k < 4; k++) {
      if (j >= n) break;
      const b = buf[j++] as number;
      len += (b & 0x7f) * mult;
      mult *= 128;
      if ((b & 0x80) === 0) {
        complete = true;
        break;
      }
      if (k === 3) malformed = true;
    }
    if (malformed) {
      st.broken = true;
      if (run < 0) run = start;
      break;
    }
    if (!complete) {
      // The fixed header is cut by the chunk's end: hold it back for the next chunk.
      st.carry = Buffer.from(buf.subarray(start));
      stop = start;
      cut = true;
      break;
    }
    const end = j + len;
    // PUBLISH (type 3) with QoS 0; the dup and retain bits may be anything.
    if (dropTelemetry && (first & 0xf6) === 0x30) {
      if (run >= 0 && start > run) ranges.push(run, start);
      run = -1;
      cut = true;
      dropped++;
      if (end > n) st.drop = end - n;
    } else {
      if (run < 0) run = start;
      if (end > n) st.pass = end - n;
    }
    i = end;
  }
  if (!cut) return done(buf, dropped);
  if (run >= 0 && stop > run) ranges.push(run, stop);
  if (ranges.length === 0) return done(buf.subarray(0, 0), dropped);
  if (ranges.length === 2) return done(buf.subarray(ranges[0], ranges[1]), dropped);
  const parts: Buffer[] = [];
  for (let k = 0; k < ranges.length; k += 2) parts.push(buf.subarray(ranges[k], ranges[k + 1]));
  return done(Buffer.concat(parts), dropped);
}

function shedParse(this: ShedParser, buf: Buffer): unknown {
  const st = this.hubScan as ScanState;
  const shedder = this.hubShedder as FrameShedder;
  const c = this.client;
  const dropTelemetry = shedder.shedding && c?.connackSent === true && c.hubPrincipal?.kind === 'device';
  const { out, dropped } = filterChunk(st, buf, dropTelemetry);
  const result = out.length === 0 ? undefined : (this.hubParse as (b: Buffer) => unknown).call(this, out);
  // After the kept packets were handed on (they may hold the connection themselves).
  if (dropped > 0) shedder.onDropped(dropped, this);
  return result;
}

/** Installs the frame walk on a freshly created aedes client (before any byte is parsed). */
export function shedFrames(client: Client, shedder: FrameShedder): void {
  const parser = (client as unknown as { _parser?: ShedParser })._parser;
  if (parser === undefined || typeof parser.parse !== 'function' || parser.client === undefined) {
    throw new Error('aedes/mqtt-packet internals changed: cannot walk the raw frames');
  }
  parser.hubParse = parser.parse;
  parser.hubScan = { pass: 0, drop: 0, carry: null, broken: false };
  parser.hubShedder = shedder;
  parser.parse = shedParse;
}
