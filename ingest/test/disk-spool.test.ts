import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskSpool, type DiskSpoolOptions } from '../src/disk-spool.js';

const dirs: string[] = [];
function newDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'spool-test-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(dir: string, over: Partial<DiskSpoolOptions> = {}): DiskSpool {
  return new DiskSpool({
    dir,
    maxBytes: 1 << 20,
    segmentBytes: 4096,
    fsync: 'never',
    chunkLines: 10,
    ...over,
  });
}

const line = (i: number) => `m,device=d${i % 3} v=${i}i ${1_700_000_000_000 + i}`;
const lines = (from: number, n: number) => Array.from({ length: n }, (_, k) => line(from + k));

/** Reads everything out of the spool in order, committing as it goes. */
function drain(s: DiskSpool): string[] {
  const out: string[] = [];
  s.flush();
  for (let rec = s.peek(); rec !== undefined; rec = s.peek()) {
    out.push(...rec.body.toString('utf8').split('\n'));
    expect(rec.lines).toBe(rec.body.toString('utf8').split('\n').length);
    s.commit(rec);
  }
  return out;
}

describe('DiskSpool', () => {
  it('gives lines back in order across many records and segments, and deletes replayed segments', () => {
    const dir = newDir();
    const s = open(dir);
    const input = lines(0, 500);
    for (let i = 0; i < 500; i += 7) s.append(input.slice(i, i + 7), Math.min(7, 500 - i));
    expect(s.pendingLines).toBe(500);
    expect(readdirSync(dir).filter((f) => f.endsWith('.spool')).length).toBeGreaterThan(3);
    expect(drain(s)).toEqual(input);
    expect(s.pendingLines).toBe(0);
    expect(s.stats.committedLines).toBe(500);
    // Only the (fresh) active segment is left.
    expect(readdirSync(dir).filter((f) => f.endsWith('.spool')).length).toBe(1);
    s.close();
  });

  it('keeps string fields with raw newlines intact (length framing, not newline framing)', () => {
    const s = open(newDir());
    const l = 'device_event,device=d1 detail="two\nlines",type="fault" 1700000000000';
    s.append([l, line(1)], 2);
    s.flush();
    const rec = s.peek();
    expect(rec?.lines).toBe(2);
    expect(rec?.body.toString()).toBe(l + '\n' + line(1));
    s.close();
  });

  it('a reopened spool replays what was not committed, from the cursor', () => {
    const dir = newDir();
    const a = open(dir);
    a.append(lines(0, 35), 35);
    a.flush();
    const first = a.peek()!;
    a.commit(first); // 10 lines delivered
    a.close();
    const b = open(dir);
    expect(b.pendingLines).toBe(25);
    expect(drain(b)).toEqual(lines(10, 25));
    b.close();
    const c = open(dir);
    expect(c.pendingLines).toBe(0);
    c.close();
  });

  it('cuts a torn record at the end of the last segment (crash mid-write)', () => {
    const dir = newDir();
    const a = open(dir, { segmentBytes: 1 << 16 });
    a.append(lines(0, 20), 20);
    a.flush();
    // Simulate kill -9 without close(): no lock release, no fsync; then a torn half-record.
    const seg = readdirSync(dir).find((f) => f.endsWith('.spool'))!;
    const size = statSync(join(dir, seg)).size;
    appendFileSync(join(dir, seg), Buffer.from([200, 0, 0, 0, 3, 0, 0, 0, 1, 2, 3, 4, 65, 66]));
    const b = open(dir, { segmentBytes: 1 << 16 });
    expect(b.stats.truncatedBytes).toBe(14);
    expect(statSync(join(dir, seg)).size).toBe(size);
    expect(drain(b)).toEqual(lines(0, 20));
    b.close();
  });

  it('refuses (and counts) appends past maxBytes; frees room as records are replayed', () => {
    const dir = newDir();
    const s = open(dir, { maxBytes: 8192, segmentBytes: 4096 });
    let taken = 0;
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      if (s.append([line(i)], 1)) taken++;
      else refused++;
    }
    expect(refused).toBeGreaterThan(0);
    expect(s.stats.droppedLines).toBe(refused);
    expect(s.usedBytes).toBeLessThanOrEqual(8192);
    expect(drain(s).length).toBe(taken);
    expect(s.append([line(1)], 1)).toBe(true);
    s.close();
  });

  it('skips a record with a bad crc together with the rest of its segment, and counts it', () => {
    const dir = newDir();
    const a = open(dir, { segmentBytes: 1 << 16 });
    a.append(lines(0, 30), 30);
    a.close();
    const seg = readdirSync(dir)
      .filter((f) => f.endsWith('.spool'))
      .sort()[0]!;
    // Flip a byte inside the second record's body.
    const path = join(dir, seg);
    const buf = readFileSync(path);
    const firstLen = buf.readUInt32LE(0);
    const secondBody = 12 + firstLen + 12 + 3;
    buf[secondBody] = buf[secondBody]! ^ 0xff;
    writeFileSync(path, buf);
    const b = open(dir, { segmentBytes: 1 << 16 });
    const out = drain(b);
    expect(out).toEqual(lines(0, 10));
    expect(b.stats.corrupt).toBe(1);
    expect(b.stats.droppedLines).toBe(20);
    b.close();
  });

  it('refuses a second process-local owner only when the lock holder is alive', () => {
    const dir = newDir();
    writeFileSync(join(dir, 'lock'), '999999999'); // a pid that does not exist: stale
    const s = open(dir);
    s.close();
    writeFileSync(join(dir, 'lock'), '1'); // pid 1 is alive
    expect(() => open(dir)).toThrow(/in use by pid 1/);
  });
});
