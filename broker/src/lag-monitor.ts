/**
 * Event-loop lag as the broker's overload signal. A timer that should fire every
 * `intervalMs` measures how late it fires; when the lag is at least `onMs` on
 * `onSamples` consecutive samples the broker is "overloaded" (telemetry is shed, see
 * broker-hooks.ts) until it falls below `offMs` (hysteresis, so shedding does not flap
 * on every sample). The consecutive samples keep one GC pause or a start-up blip from
 * dropping telemetry: a real overload lags on every sample. The decision is pure
 * (`sample`); only `startLagSampler` touches timers.
 */

export interface LagConfig {
  /** Lag at which shedding starts, ms (0 = never shed on lag). */
  onMs: number;
  /** Lag below which shedding stops, ms. */
  offMs: number;
  /** Consecutive samples at or above onMs before shedding starts (default 3). */
  onSamples?: number;
}

export class LagMonitor {
  /** Last measured lag, ms. */
  lagMs = 0;
  /** Read on every telemetry publish: one boolean, no computation. */
  overloaded = false;
  private high = 0;

  constructor(private readonly cfg: Readonly<LagConfig>) {}

  sample(lagMs: number): void {
    this.lagMs = lagMs;
    if (this.cfg.onMs <= 0) return;
    if (!this.overloaded) {
      this.high = lagMs >= this.cfg.onMs ? this.high + 1 : 0;
      if (this.high >= (this.cfg.onSamples ?? 3)) this.overloaded = true;
    } else if (lagMs < this.cfg.offMs) {
      this.overloaded = false;
      this.high = 0;
    }
  }
}

/** Samples the lag every `intervalMs` (unref'd timer); returns a stop function. */
export function startLagSampler(monitor: LagMonitor, intervalMs: number): () => void {
  let expected = performance.now() + intervalMs;
  const timer = setInterval(() => {
    const now = performance.now();
    monitor.sample(Math.max(0, now - expected));
    expected = now + intervalMs;
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
