/**
 * A token bucket with the time passed in (pure: tests drive it with any clock).
 * `rate` tokens per second refill up to `burst`; each admitted event takes one.
 * The state is two numbers, so a table of buckets costs two numbers per key.
 */
export interface BucketState {
  tokens: number;
  /** When `tokens` was last brought up to date, ms. */
  at: number;
}

export function newBucket(burst: number, now: number): BucketState {
  return { tokens: burst, at: now };
}

/** Refills for the time since the last call, then takes one token if there is one. */
export function takeToken(b: BucketState, ratePerS: number, burst: number, now: number): boolean {
  const elapsed = now - b.at;
  if (elapsed > 0) {
    b.tokens = Math.min(burst, b.tokens + (elapsed * ratePerS) / 1000);
    b.at = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  return false;
}
