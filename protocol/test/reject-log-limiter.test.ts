import { describe, expect, it } from 'vitest';
import { RejectLogLimiter } from '../src/reject-log-limiter.js';

describe('RejectLogLimiter', () => {
  it('admits one line per key per interval and reports how many were suppressed', () => {
    const l = new RejectLogLimiter({ intervalMs: 60_000 });
    expect(l.admit('a', 0)).toBe(0);
    expect(l.admit('a', 1)).toBe(-1);
    expect(l.admit('a', 59_999)).toBe(-1);
    expect(l.admit('b', 10)).toBe(0);
    expect(l.admit('a', 60_000)).toBe(2);
    expect(l.admit('a', 60_001)).toBe(-1);
  });

  it('keeps at most maxKeys keys, forgetting the least recently logged', () => {
    const l = new RejectLogLimiter({ intervalMs: 60_000, maxKeys: 3 });
    for (const k of ['a', 'b', 'c', 'd']) l.admit(k, 0);
    expect(l.size).toBe(3);
    // 'a' was evicted, so it is admitted again at once; 'd' is still limited.
    expect(l.admit('d', 1)).toBe(-1);
    expect(l.admit('a', 1)).toBe(0);
    expect(l.size).toBe(3);
  });

  it('caps lines per interval across all keys (a flood of forged ids)', () => {
    const l = new RejectLogLimiter({ intervalMs: 60_000, maxLinesPerInterval: 5 });
    let admitted = 0;
    for (let i = 0; i < 100; i++) if (l.admit('dev-' + i, 1000) >= 0) admitted++;
    expect(admitted).toBe(5);
    expect(l.globallySuppressed).toBe(95);
    expect(l.admit('dev-50', 61_000)).toBe(0);
  });
});
