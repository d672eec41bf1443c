import { SIM_ERRORS, SimError } from './sim-error.js';

/**
 * The connect ramp both fleets share (fleet.ts over mqtt.js, flood-fleet.ts over raw
 * sockets): a token bucket of `rate` connections per second refilled on each jittered
 * tick, and the validation of the numbers that drive it.
 */
export class ConnectBucket {
  private tokens = 0;
  private last = 0;

  constructor(
    private readonly rate: number,
    private readonly tickMs: number,
  ) {}

  /** Starts with one tick's worth of tokens so the first connections go at once. */
  start(now: number): void {
    this.last = now;
    this.tokens = Math.max(1, (this.rate * this.tickMs) / 1000);
  }

  /**
   * Adds the tokens earned since the last refill. The bucket holds two ticks' worth:
   * a stall does not release a burst of connects (each connect costs the event loop
   * a fraction of a millisecond).
   */
  refill(now: number): void {
    const burst = Math.max(1, (2 * this.rate * this.tickMs) / 1000);
    this.tokens = Math.min(burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }

  /** A whole token is there for the next connect. */
  ready(): boolean {
    return this.tokens >= 1;
  }

  take(): void {
    this.tokens -= 1;
  }
}

/** The tick period jittered ±50 %, so connects and reports do not reach the broker in lockstep bursts. */
export function jitteredTickMs(tickMs: number, random: () => number): number {
  return Math.max(1, Math.round(tickMs * (0.5 + random())));
}

/** When a dropped device may reconnect: after `delayMs` jittered ±50 %. */
export function reconnectAt(now: number, delayMs: number, random: () => number): number {
  return now + delayMs * (0.5 + random());
}

export function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0)
    throw new SimError(SIM_ERRORS.BAD_OPTION, `${name} must be > 0, got ${v}`);
  return v;
}

export function nonNegative(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 0)
    throw new SimError(SIM_ERRORS.BAD_OPTION, `${name} must be ≥ 0, got ${v}`);
  return v;
}
