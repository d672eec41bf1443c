/**
 * Decides whether a rejected message gets a log line: at most one per key (device id)
 * per interval, so a broken device publishing 10 bad messages a second costs one
 * warn line a minute, with the number of lines it suppressed.
 *
 * Bounded twice: the per-key map holds at most `maxKeys` entries (the least recently
 * logged key is forgotten first), and at most `maxLinesPerInterval` lines are logged
 * per interval across all keys, so a flood of distinct forged device ids cannot flood
 * the log either. Time is passed in (hub receive time), never read here.
 */
interface KeyState {
  at: number;
  suppressed: number;
}

export interface RejectLogLimiterOptions {
  intervalMs?: number;
  maxKeys?: number;
  maxLinesPerInterval?: number;
}

export class RejectLogLimiter {
  private readonly keys = new Map<string, KeyState>();
  private readonly intervalMs: number;
  private readonly maxKeys: number;
  private readonly maxLines: number;
  private windowStart = Number.NEGATIVE_INFINITY;
  private linesInWindow = 0;
  /** Lines refused by the global budget (not attributable to a key once evicted). */
  globallySuppressed = 0;

  constructor(opts: RejectLogLimiterOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 60_000;
    this.maxKeys = opts.maxKeys ?? 10_000;
    this.maxLines = opts.maxLinesPerInterval ?? 1000;
  }

  get size(): number {
    return this.keys.size;
  }

  /**
   * Returns -1 when this rejection must not be logged; otherwise the number of
   * rejections of this key suppressed since its last logged one (0 for a new key).
   */
  admit(key: string, now: number): number {
    const state = this.keys.get(key);
    if (state !== undefined && now - state.at < this.intervalMs) {
      state.suppressed++;
      return -1;
    }
    if (now - this.windowStart >= this.intervalMs) {
      this.windowStart = now;
      this.linesInWindow = 0;
    }
    if (this.linesInWindow >= this.maxLines) {
      this.globallySuppressed++;
      if (state !== undefined) state.suppressed++;
      return -1;
    }
    this.linesInWindow++;
    if (state !== undefined) {
      const suppressed = state.suppressed;
      // Re-insert so Map order stays "least recently logged first" for eviction.
      this.keys.delete(key);
      state.at = now;
      state.suppressed = 0;
      this.keys.set(key, state);
      return suppressed;
    }
    if (this.keys.size >= this.maxKeys) {
      const oldest = this.keys.keys().next();
      if (oldest.done !== true) this.keys.delete(oldest.value);
    }
    this.keys.set(key, { at: now, suppressed: 0 });
    return 0;
  }
}
