import { describe, expect, it } from 'vitest';
import { filterChunk } from '../src/frame-shedder.js';
import { frame, publishFrame } from './support/frames.js';

const fresh = () => ({ pass: 0, drop: 0, carry: null as Buffer | null, broken: false });

/** A deterministic pseudo-random sequence (the same cuts on every run). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) & 0x7fffffff;
    return x / 0x7fffffff;
  };
}

/** A stream of mixed frames; `keep` marks which survive shedding. */
function stream(count: number, rand: () => number): { frames: Buffer[]; keep: boolean[] } {
  const frames: Buffer[] = [];
  const keep: boolean[] = [];
  for (let i = 0; i < count; i++) {
    const r = rand();
    if (r < 0.5) {
      // Telemetry, sizes across the 1-, 2- and 3-byte remaining lengths.
      const size = rand() < 0.1 ? 20_000 : Math.floor(rand() * 300);
      frames.push(publishFrame(`v1/dev/d${i}/telemetry`, 'x'.repeat(size), 0, 1, rand() < 0.2));
      keep.push(false);
    } else if (r < 0.75) {
      frames.push(publishFrame(`v1/dev/d${i}/event`, `{"type":"alarm","n":${i}}`, 1, 1 + (i % 65_000)));
      keep.push(true);
    } else if (r < 0.9) {
      frames.push(frame(0x40, Buffer.from([0, 7]))); // PUBACK
      keep.push(true);
    } else {
      frames.push(Buffer.from([0xc0, 0x00])); // PINGREQ
      keep.push(true);
    }
  }
  return { frames, keep };
}

/** Feeds `bytes` in random cuts (1 byte .. 3 KB) and returns what the parser would see. */
function feed(bytes: Buffer, drop: boolean, rand: () => number): { out: Buffer; dropped: number } {
  const st = fresh();
  const outs: Buffer[] = [];
  let dropped = 0;
  for (let i = 0; i < bytes.length; ) {
    const n = rand() < 0.3 ? 1 + Math.floor(rand() * 6) : 1 + Math.floor(rand() * 3000);
    const chunk = bytes.subarray(i, Math.min(bytes.length, i + n));
    i += chunk.length;
    const r = filterChunk(st, chunk, drop);
    outs.push(Buffer.from(r.out));
    dropped += r.dropped;
  }
  expect(st.carry).toBeNull();
  return { out: Buffer.concat(outs), dropped };
}

describe('frame-shedder: QoS 0 PUBLISH frames cut out of the raw stream', () => {
  it.each([1, 2, 3, 4, 5])(
    'cut at random points (seed %i), the parser sees exactly the kept frames',
    (seed) => {
      const rand = rng(seed);
      const { frames, keep } = stream(400, rand);
      const all = Buffer.concat(frames);
      const shed = feed(all, true, rand);
      expect(shed.out.equals(Buffer.concat(frames.filter((_, i) => keep[i])))).toBe(true);
      expect(shed.dropped).toBe(keep.filter((k) => !k).length);
      // Not shedding: every byte passes, in order, even through the same cuts.
      const passed = feed(all, false, rand);
      expect(passed.out.equals(all)).toBe(true);
      expect(passed.dropped).toBe(0);
    },
  );

  it('a chunk with nothing to drop is handed on as it is (no copy)', () => {
    const chunk = Buffer.concat([publishFrame('v1/dev/a/event', '{}', 1, 9), Buffer.from([0xc0, 0])]);
    const r = filterChunk(fresh(), chunk, true);
    expect(r.out).toBe(chunk);
  });

  it('a malformed remaining length stops the walk: everything passes, mqtt-packet refuses it', () => {
    const st = fresh();
    const bad = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00]);
    const tele = publishFrame('v1/dev/a/telemetry', 'x', 0);
    expect(filterChunk(st, Buffer.concat([tele, bad]), true).out.equals(bad)).toBe(true);
    expect(st.broken).toBe(true);
    expect(filterChunk(st, tele, true).out.equals(tele)).toBe(true);
  });
});
