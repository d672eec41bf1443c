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

  /**
   * Records a sample of a measurement repeated every `expectedIntervalMs`, corrected
   * for coordinated omission: when one sample took longer than the interval, the
   * samples that a stalled sender would have taken meanwhile (value − interval,
   * value − 2·interval, ...) are recorded too (HdrHistogram's
   * recordValueWithExpectedInterval). Without it a 2 s stall shows as one slow
   * sample among thousands instead of the 2 s of slow service it was. Pass the
   * sender's own period, never a smaller one.
   */
  recordCorrected(ms: number, expectedIntervalMs: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      this.invalidCount++;
      return;
    }
    if (!(expectedIntervalMs > 0)) {
      this.record(ms);
      return;
    }
    this.histogram.recordValueWithExpectedInterval(
      Math.round(ms * 1000),
      Math.round(expectedIntervalMs * 1000),
    );
  }

  /** Adds every sample of `other` (e.g. a per-second window into the whole run). */
  add(other: LatencyRecorder): void {
    this.histogram.add(other.histogram);
    this.invalidCount += other.invalidCount;
  }

  /** Value (ms) at each percentile, for charts. */
  valuesAt(percentiles: readonly number[]): Array<{ percentile: number; ms: number }> {
    if (this.histogram.totalCount === 0) return [];
    return percentiles.map((p) => ({
      percentile: p,
      ms: Math.round(this.histogram.getValueAtPercentile(p)) / 1000,
    }));
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
