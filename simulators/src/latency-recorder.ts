import * as hdr from 'hdr-histogram-js';

/** Percentiles of recorded latencies, in milliseconds (null when nothing was recorded). */
export interface LatencySummary {
  count: number;
  minMs: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  meanMs: number | null;
}

/**
 * Latencies in an HDR histogram at microsecond resolution with 3 significant digits
 * (values are exact to 0.1 %), so one alarm or a million cost the same memory.
 * Negative or non-finite samples are counted apart instead of corrupting the histogram.
 */
export class LatencyRecorder {
  private readonly histogram: hdr.Histogram;
  private invalidCount = 0;

  constructor() {
    this.histogram = hdr.build({
      bitBucketSize: 32,
      lowestDiscernibleValue: 1,
      // One hour in µs; autoResize grows it if a page is ever later than that.
      highestTrackableValue: 3_600_000_000,
      numberOfSignificantValueDigits: 3,
      autoResize: true,
    });
  }

  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      this.invalidCount++;
      return;
    }
    this.histogram.recordValue(Math.round(ms * 1000));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  get invalid(): number {
    return this.invalidCount;
  }

  summary(): LatencySummary {
    const h = this.histogram;
    if (h.totalCount === 0) {
      return { count: 0, minMs: null, p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null, meanMs: null };
    }
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      count: h.totalCount,
      minMs: ms(h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue),
      p50Ms: ms(h.getValueAtPercentile(50)),
      p90Ms: ms(h.getValueAtPercentile(90)),
      p99Ms: ms(h.getValueAtPercentile(99)),
      maxMs: ms(h.maxValue),
      meanMs: ms(h.mean),
    };
  }

  reset(): void {
    this.histogram.reset();
    this.invalidCount = 0;
  }
}
