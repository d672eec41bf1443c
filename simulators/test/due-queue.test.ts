import { describe, expect, it } from 'vitest';
import { DueQueue } from '../src/due-queue.js';

describe('DueQueue', () => {
  it('pops items in due order', () => {
    const q = new DueQueue<{ dueAt: number; n: number }>();
    const values = [5, 3, 9, 1, 7, 3, 8, 2, 6, 4, 0];
    for (const [n, v] of values.entries()) q.push({ dueAt: v, n });
    expect(q.size).toBe(values.length);
    const out: number[] = [];
    while (q.size > 0) out.push((q.pop() as { dueAt: number }).dueAt);
    expect(out).toEqual([...values].sort((a, b) => a - b));
    expect(q.pop()).toBeUndefined();
  });

  it('stays ordered under interleaved pushes and pops', () => {
    const q = new DueQueue<{ dueAt: number }>();
    let x = 12345;
    const rnd = () => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return x / 2147483648;
    };
    let last = -1;
    for (let i = 0; i < 2000; i++) q.push({ dueAt: rnd() * 1000 });
    for (let i = 0; i < 5000; i++) {
      const top = q.pop() as { dueAt: number };
      expect(top.dueAt).toBeGreaterThanOrEqual(last);
      last = top.dueAt;
      top.dueAt += rnd() * 100; // reschedule later, like a device's next reading
      q.push(top);
    }
  });
});
