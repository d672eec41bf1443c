import { describe, expect, it } from 'vitest';
import { LatencyRecorder } from '../src/latency-recorder.js';

/** HDR with 3 significant digits: each value is exact to within 0.1 %. */
function near(actual: number | null, expected: number): void {
  expect(actual).not.toBeNull();
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(expected * 0.001 + 0.001);
}

describe('LatencyRecorder', () => {
  it('reports percentiles of known values in ms', () => {
    const r = new LatencyRecorder();
    for (let i = 1; i <= 100; i++) r.record(i); // 1..100 ms
    const s = r.summary();
    expect(s.count).toBe(100);
    near(s.minMs, 1);
    near(s.p50Ms, 50);
    near(s.p90Ms, 90);
    near(s.p99Ms, 99);
    near(s.maxMs, 100);
    near(s.meanMs, 50.5);
  });

  it('keeps sub-millisecond resolution', () => {
    const r = new LatencyRecorder();
    r.record(0.25);
    r.record(0.75);
    r.record(1.5);
    const s = r.summary();
    near(s.minMs, 0.25);
    near(s.maxMs, 1.5);
    near(s.p50Ms, 0.75);
  });

  it('is empty before any sample and counts invalid samples apart', () => {
    const r = new LatencyRecorder();
    expect(r.summary()).toEqual({
      count: 0,
      minMs: null,
      p50Ms: null,
      p90Ms: null,
      p99Ms: null,
      maxMs: null,
      meanMs: null,
    });
    r.record(-1);
    r.record(Number.NaN);
    r.record(Number.POSITIVE_INFINITY);
    expect(r.count).toBe(0);
    expect(r.invalid).toBe(3);
    r.record(7_200_000); // two hours: beyond the initial range, auto-resized
    near(r.summary().maxMs, 7_200_000);
  });
});
