import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

/**
 * A bounded, append-only, on-disk FIFO of line-protocol chunks: what InfluxDB did not
 * take (down, slow, 5xx, timeouts) waits here and is replayed in order.
 *
 * Layout in `dir`:
 * - `seg-<16 digits>.spool`: segments, appended to until they pass `segmentBytes`,
 *   then closed (fdatasync) and a new one opened. A segment fully replayed is deleted.
 * - `cursor`: `<segment seq> <byte offset>` of the next record to replay, replaced
 *   atomically (write tmp + rename) after each acknowledged record.
 *
 * A record is a 12-byte header (u32 LE body length, u32 LE line count, u32 LE crc32
 * of the body) and the body: the lines joined with '\n'. Length framing, not newline
 * framing, because string fields may hold raw newlines.
 *
 * Appends are buffered in memory up to one chunk (`chunkLines` / `chunkBytes`) and
 * written with one synchronous write when the chunk is full or `flush()` is called
 * (the owner calls it on a short timer). Synchronous on purpose: a slow disk stalls
 * the event loop, so the MQTT socket is not read and backpressure reaches the broker
 * instead of memory growing.
 *
 * Durability (fsync policy, `fsync`):
 * - `always`: fdatasync after every record: survives a power cut, costs a disk flush
 *   per chunk;
 * - `interval` (default): fdatasync at most every `fsyncIntervalMs` and at segment
 *   roll and close: a kill -9 of ingest loses nothing written (the page cache belongs
 *   to the kernel), a power cut loses at most the last interval;
 * - `never`: leave it to the kernel (tests, tmpfs).
 * What is still in the in-memory chunk (at most one flush period) is lost by kill -9.
 *
 * Recovery at open: segments are listed in order, the cursor read (a cursor pointing
 * at a deleted segment moves to the first one), and the last segment is scanned: a
 * torn record at its end (crash mid-write) is cut off. A record whose crc does not
 * match while reading is skipped with the rest of its segment and counted (`corrupt`).
 *
 * Bound: `maxBytes` over all segment files (including the replayed head of the
 * current segment until it is deleted) plus the chunk in memory. An append that does
 * not fit is refused whole and counted as dropped; the caller logs (rate-limited).
 */

export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface DiskSpoolOptions {
  dir: string;
  /** Bound on bytes on disk + in the memory chunk. */
  maxBytes: number;
  /** A segment is closed once it is at least this large. */
  segmentBytes: number;
  fsync: FsyncPolicy;
  /** For `interval`: longest time between fdatasyncs of written data. Default 1000. */
  fsyncIntervalMs?: number;
  /** Lines per record (= per replay request). Default 5000. */
  chunkLines?: number;
  /** Bytes per record before it is cut. Default 1 MiB. */
  chunkBytes?: number;
  /** Clock for the fsync interval (ms). Default Date.now. */
  now?: () => number;
}

export interface SpoolRecord {
  seq: number;
  offset: number;
  /** Offset just past this record in segment `seq`. */
  next: number;
  body: Buffer;
  lines: number;
}

export interface DiskSpoolStats {
  /** Lines taken (in memory chunk or on disk). */
  appendedLines: number;
  /** Lines refused because the spool was full. */
  droppedLines: number;
  /** Lines acknowledged by the consumer (removed from the queue). */
  committedLines: number;
  /** Records skipped because their crc did not match (with the rest of their segment). */
  corrupt: number;
  /** Bytes cut off a torn last record at open. */
  truncatedBytes: number;
  /** Records written to disk. */
  records: number;
  /** Records that could not be written (their lines are in droppedLines). */
  writeErrors: number;
  fsyncs: number;
}

const HEADER = 12;
const SEG_RE = /^seg-(\d{16})\.spool$/;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function segName(seq: number): string {
  return 'seg-' + String(seq).padStart(16, '0') + '.spool';
}

export class DiskSpoolError extends Error {
  readonly code = 'E_SPOOL';
  constructor(message: string) {
    super(message);
    this.name = 'DiskSpoolError';
  }
}

export class DiskSpool {
  readonly stats: DiskSpoolStats = {
    appendedLines: 0,
    droppedLines: 0,
    committedLines: 0,
    corrupt: 0,
    truncatedBytes: 0,
    records: 0,
    writeErrors: 0,
    fsyncs: 0,
  };
  /** The last write error (disk full…), for the owner's log. */
  lastError: Error | null = null;
  private readonly dir: string;
  private readonly chunkLines: number;
  private readonly chunkBytes: number;
  private readonly fsyncIntervalMs: number;
  private readonly now: () => number;
  /** Sequence numbers of the segments on disk, oldest first; the last one is active. */
  private readonly segments: number[] = [];
  /** Size of each segment on disk (by seq). */
  private readonly sizes = new Map<number, number>();
  private diskBytes = 0;
  /** Lines on disk not yet committed (counted at open by scanning, then kept). */
  private diskLines = 0;
  private activeFd = -1;
  private activeSeq = 0;
  private readFd = -1;
  private readSeq = -1;
  private cursorSeq = 0;
  private cursorOffset = 0;
  private chunk: string[] = [];
  private chunkByteCount = 0;
  private dirty = false;
  private lastFsyncAt = 0;
  private closed = false;
  private readonly header = Buffer.allocUnsafe(HEADER);

  constructor(private readonly opts: DiskSpoolOptions) {
    if (opts.maxBytes < 2 * opts.segmentBytes) {
      throw new DiskSpoolError('maxBytes must be at least two segments');
    }
    this.dir = opts.dir;
    this.chunkLines = opts.chunkLines ?? 5000;
    this.chunkBytes = opts.chunkBytes ?? 1 << 20;
    this.fsyncIntervalMs = opts.fsyncIntervalMs ?? 1000;
    this.now = opts.now ?? Date.now;
    mkdirSync(this.dir, { recursive: true });
    this.lock();
    this.recover();
  }

  /**
   * One process per spool folder: two writers would interleave records and fight over
   * the cursor. A `lock` file holds the owner's pid; a stale one (dead pid, e.g. after
   * kill -9) is taken over.
   */
  private lock(): void {
    const path = join(this.dir, 'lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(path, String(process.pid), { flag: 'wx' });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = Number(readFileSync(path, 'utf8').trim());
      if (owner === process.pid) return;
      if (Number.isSafeInteger(owner) && owner > 0 && pidAlive(owner)) {
        throw new DiskSpoolError(`spool folder ${this.dir} is in use by pid ${owner}`);
      }
      unlinkSync(path);
    }
    throw new DiskSpoolError(`could not lock spool folder ${this.dir}`);
  }

  /** Lines waiting (disk + memory chunk). */
  get pendingLines(): number {
    return this.diskLines + this.chunk.length;
  }

  /** Bytes used (disk + memory chunk). */
  get usedBytes(): number {
    return this.diskBytes + this.chunkByteCount;
  }

  /** Nothing waiting on disk (the memory chunk may still hold lines). */
  get diskEmpty(): boolean {
    return this.diskLines === 0;
  }

  get memoryLines(): number {
    return this.chunk.length;
  }

  /**
   * Takes lines[0..count) all together, or none when they do not fit (returns false;
   * counted as dropped).
   */
  append(lines: readonly string[], count: number): boolean {
    if (this.closed) throw new DiskSpoolError('spool is closed');
    let bytes = 0;
    for (let i = 0; i < count; i++) bytes += Buffer.byteLength(lines[i]!) + 1;
    // Headroom for the headers of the records this may produce.
    if (this.usedBytes + bytes + HEADER * 2 > this.opts.maxBytes) {
      this.stats.droppedLines += count;
      return false;
    }
    for (let i = 0; i < count; i++) {
      this.chunk.push(lines[i]!);
      this.chunkByteCount += Buffer.byteLength(lines[i]!) + 1;
      if (this.chunk.length >= this.chunkLines || this.chunkByteCount >= this.chunkBytes) this.flush();
    }
    this.stats.appendedLines += count;
    return true;
  }

  /** Writes the memory chunk as one record (no-op when empty); applies the fsync policy. */
  flush(): void {
    if (this.chunk.length > 0) {
      const body = Buffer.from(this.chunk.join('\n'), 'utf8');
      const lines = this.chunk.length;
      this.chunk = [];
      this.chunkByteCount = 0;
      try {
        this.writeRecord(body, lines);
      } catch (err) {
        // Disk full or failing: these lines are lost, counted; the owner logs lastError.
        // A partial record may sit at the segment's end: continue in a fresh segment
        // (the damaged tail is cut or skipped when read).
        this.stats.droppedLines += lines;
        this.stats.writeErrors++;
        this.lastError = err as Error;
        try {
          this.roll();
        } catch {
          // cannot even open a new segment: the next flush tries again
        }
      }
    }
    if (
      this.dirty &&
      this.opts.fsync === 'interval' &&
      this.now() - this.lastFsyncAt >= this.fsyncIntervalMs
    ) {
      this.sync();
    }
  }

  /** The oldest record not yet committed, or undefined when the disk part is empty. */
  peek(): SpoolRecord | undefined {
    for (;;) {
      if (this.diskLines === 0) return undefined;
      const seq = this.cursorSeq;
      const size = this.sizes.get(seq);
      if (size === undefined) {
        // Cursor on a segment that is gone: continue at the oldest one.
        const first = this.segments[0];
        if (first === undefined) return undefined;
        this.cursorSeq = first;
        this.cursorOffset = 0;
        continue;
      }
      if (this.cursorOffset + HEADER > size) {
        if (seq === this.activeSeq) return undefined;
        this.advanceSegment();
        continue;
      }
      const fd = this.readerFor(seq);
      readSync(fd, this.header, 0, HEADER, this.cursorOffset);
      const len = this.header.readUInt32LE(0);
      const lines = this.header.readUInt32LE(4);
      const crc = this.header.readUInt32LE(8);
      const end = this.cursorOffset + HEADER + len;
      if (end > size) {
        // Only possible in a non-active segment that was cut short: skip it.
        this.stats.corrupt++;
        this.advanceSegment();
        continue;
      }
      const body = Buffer.allocUnsafe(len);
      readSync(fd, body, 0, len, this.cursorOffset + HEADER);
      if (crc32(body) >>> 0 !== crc) {
        this.stats.corrupt++;
        this.skipRestOfSegment(seq);
        continue;
      }
      return { seq, offset: this.cursorOffset, next: end, body, lines };
    }
  }

  /** Marks `rec` (the one peek() returned) as delivered: the cursor moves past it. */
  commit(rec: SpoolRecord): void {
    if (rec.seq !== this.cursorSeq || rec.offset !== this.cursorOffset) {
      throw new DiskSpoolError('commit out of order');
    }
    this.cursorOffset = rec.next;
    this.diskLines -= rec.lines;
    this.stats.committedLines += rec.lines;
    this.writeCursor();
    // Delete a fully replayed closed segment at once (frees its bytes for the bound).
    if (rec.seq !== this.activeSeq && rec.next >= (this.sizes.get(rec.seq) ?? 0)) this.advanceSegment();
    else if (rec.seq === this.activeSeq && this.diskLines === 0 && this.chunk.length === 0) {
      // Everything replayed: start a fresh segment so the replayed bytes are given back.
      this.roll();
      this.advanceSegment();
    }
  }

  /** Flushes the chunk, fdatasyncs (unless `never`), closes the files. */
  close(): void {
    if (this.closed) return;
    this.flush();
    if (this.opts.fsync !== 'never' && this.dirty) this.sync();
    this.closed = true;
    if (this.activeFd >= 0) closeSync(this.activeFd);
    if (this.readFd >= 0 && this.readFd !== this.activeFd) closeSync(this.readFd);
    this.activeFd = -1;
    this.readFd = -1;
    try {
      unlinkSync(join(this.dir, 'lock'));
    } catch {
      // gone already
    }
  }

  // --- internals ------------------------------------------------------------

  private writeRecord(body: Buffer, lines: number): void {
    const size = this.sizes.get(this.activeSeq) ?? 0;
    if (size > 0 && size + HEADER + body.length > this.opts.segmentBytes) this.roll();
    const h = Buffer.allocUnsafe(HEADER);
    h.writeUInt32LE(body.length, 0);
    h.writeUInt32LE(lines, 4);
    h.writeUInt32LE(crc32(body) >>> 0, 8);
    const pos = this.sizes.get(this.activeSeq) ?? 0;
    const rec = Buffer.concat([h, body]);
    let written = 0;
    while (written < rec.length)
      written += writeSync(this.activeFd, rec, written, rec.length - written, pos + written);
    this.sizes.set(this.activeSeq, pos + rec.length);
    this.diskBytes += rec.length;
    this.diskLines += lines;
    this.stats.records++;
    this.dirty = true;
    if (this.opts.fsync === 'always') this.sync();
  }

  private sync(): void {
    if (this.activeFd >= 0) fdatasyncSync(this.activeFd);
    this.dirty = false;
    this.lastFsyncAt = this.now();
    this.stats.fsyncs++;
  }

  /** Closes the active segment (fdatasync) and opens the next one. */
  private roll(): void {
    if (this.activeFd >= 0) {
      if (this.opts.fsync !== 'never') fdatasyncSync(this.activeFd);
      if (this.readFd === this.activeFd) this.readFd = -1;
      closeSync(this.activeFd);
    }
    this.openActive(this.activeSeq + 1);
  }

  private openActive(seq: number): void {
    this.activeSeq = seq;
    this.activeFd = openSync(join(this.dir, segName(seq)), 'a+');
    if (!this.sizes.has(seq)) {
      this.sizes.set(seq, 0);
      this.segments.push(seq);
    }
    this.dirty = false;
  }

  private readerFor(seq: number): number {
    if (seq === this.activeSeq) return this.activeFd;
    if (this.readSeq !== seq || this.readFd < 0) {
      if (this.readFd >= 0 && this.readFd !== this.activeFd) closeSync(this.readFd);
      this.readFd = openSync(join(this.dir, segName(seq)), 'r');
      this.readSeq = seq;
    }
    return this.readFd;
  }

  /** Deletes the cursor's (closed, replayed) segment and moves to the next one. */
  private advanceSegment(): void {
    const seq = this.cursorSeq;
    if (seq === this.activeSeq) return;
    if (this.readSeq === seq && this.readFd >= 0) {
      closeSync(this.readFd);
      this.readFd = -1;
      this.readSeq = -1;
    }
    const size = this.sizes.get(seq) ?? 0;
    try {
      unlinkSync(join(this.dir, segName(seq)));
    } catch {
      // already gone
    }
    this.sizes.delete(seq);
    this.diskBytes -= size;
    const i = this.segments.indexOf(seq);
    if (i >= 0) this.segments.splice(i, 1);
    this.cursorSeq = this.segments[0] ?? this.activeSeq;
    this.cursorOffset = 0;
    this.writeCursor();
  }

  /** A corrupt record: the lines after it in that segment cannot be framed; drop them. */
  private skipRestOfSegment(seq: number): void {
    const lines = this.countLines(seq, this.cursorOffset);
    this.diskLines -= lines;
    this.stats.droppedLines += lines;
    if (seq === this.activeSeq) {
      // Keep appending in a new segment; the damaged one is deleted as a closed one.
      this.roll();
    }
    this.advanceSegment();
  }

  /** Lines of the records from `offset` to the end of segment `seq` (headers only; stops at damage). */
  private countLines(seq: number, offset: number): number {
    const size = this.sizes.get(seq) ?? 0;
    const fd = this.readerFor(seq);
    let n = 0;
    let pos = offset;
    while (pos + HEADER <= size) {
      readSync(fd, this.header, 0, HEADER, pos);
      const len = this.header.readUInt32LE(0);
      if (pos + HEADER + len > size) break;
      n += this.header.readUInt32LE(4);
      pos += HEADER + len;
    }
    return n;
  }

  private writeCursor(): void {
    const tmp = join(this.dir, 'cursor.tmp');
    writeFileSync(tmp, this.cursorSeq + ' ' + this.cursorOffset);
    renameSync(tmp, join(this.dir, 'cursor'));
  }

  private readCursor(): { seq: number; offset: number } | undefined {
    try {
      const [a, b] = readFileSync(join(this.dir, 'cursor'), 'utf8').trim().split(' ');
      const seq = Number(a);
      const offset = Number(b);
      if (Number.isSafeInteger(seq) && Number.isSafeInteger(offset) && offset >= 0) return { seq, offset };
    } catch {
      // no cursor yet
    }
    return undefined;
  }

  private recover(): void {
    const seqs: number[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = SEG_RE.exec(name);
      if (m) seqs.push(Number(m[1]));
    }
    seqs.sort((a, b) => a - b);
    for (const seq of seqs) {
      const fd = openSync(join(this.dir, segName(seq)), 'r');
      const size = fstatSync(fd).size;
      closeSync(fd);
      this.segments.push(seq);
      this.sizes.set(seq, size);
      this.diskBytes += size;
    }
    const last = seqs[seqs.length - 1];
    if (last === undefined) {
      this.openActive(1);
      this.cursorSeq = 1;
      this.cursorOffset = 0;
      return;
    }
    this.openActive(last);
    this.truncateTornTail(last);
    const c = this.readCursor();
    if (c !== undefined && this.sizes.has(c.seq) && c.offset <= (this.sizes.get(c.seq) ?? 0)) {
      this.cursorSeq = c.seq;
      this.cursorOffset = c.offset;
    } else {
      this.cursorSeq = seqs[0]!;
      this.cursorOffset = 0;
    }
    // Segments before the cursor were replayed already (crash before their delete).
    while (this.segments[0] !== undefined && this.segments[0] < this.cursorSeq) {
      const seq = this.segments.shift()!;
      this.diskBytes -= this.sizes.get(seq) ?? 0;
      this.sizes.delete(seq);
      try {
        unlinkSync(join(this.dir, segName(seq)));
      } catch {
        // already gone
      }
    }
    for (const seq of this.segments) {
      this.diskLines += this.countLines(seq, seq === this.cursorSeq ? this.cursorOffset : 0);
    }
    // Start appending in a fresh segment: recovered ones are only read from now on.
    this.roll();
  }

  /** Cuts a record torn by a crash off the end of segment `seq`. */
  private truncateTornTail(seq: number): void {
    const size = this.sizes.get(seq) ?? 0;
    const fd = this.activeFd;
    let pos = 0;
    const body = (len: number) => {
      const b = Buffer.allocUnsafe(len);
      readSync(fd, b, 0, len, pos + HEADER);
      return b;
    };
    while (pos + HEADER <= size) {
      readSync(fd, this.header, 0, HEADER, pos);
      const len = this.header.readUInt32LE(0);
      const crc = this.header.readUInt32LE(8);
      if (pos + HEADER + len > size) break;
      if (crc32(body(len)) >>> 0 !== crc) {
        // A complete record that does not check out: damage, not a torn write. What
        // follows cannot be trusted either; its lines are counted as dropped.
        this.stats.corrupt++;
        this.stats.droppedLines += this.countLines(seq, pos);
        break;
      }
      pos += HEADER + len;
    }
    if (pos < size) {
      ftruncateSync(fd, pos);
      this.stats.truncatedBytes += size - pos;
      this.diskBytes -= size - pos;
      this.sizes.set(seq, pos);
    }
  }
}
