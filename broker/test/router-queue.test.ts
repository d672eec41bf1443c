import { describe, expect, it } from 'vitest';
import { RouterQueue } from '../src/router-queue.js';

interface Msg {
  n: number;
  qos: number;
}

/** Pushes and shifts the way mqemitter 7 does: message then callback, in a row. */
function push(q: RouterQueue<Msg>, m: Msg, log: number[]): void {
  q.messages.push(m);
  q.callbacks.push(() => log.push(m.n));
}
function shift(q: RouterQueue<Msg>): { m: Msg | undefined; cb: (() => void) | undefined } {
  const m = q.messages.shift();
  const cb = q.callbacks.shift();
  return { m, cb: cb as (() => void) | undefined };
}

describe('RouterQueue (the router waiting room)', () => {
  it('keeps arrival order per lane, QoS 1 first, each message with its own callback, across growth and wrap-around', () => {
    const q = new RouterQueue<Msg>();
    const called: number[] = [];
    const out: number[] = [];
    const qosOf = new Map<number, number>();
    let n = 0;
    // Interleave pushes and shifts so that the rings wrap, then grow several times.
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 200 + round * 50; i++) {
        const qos = i % 7 === 0 ? 1 : 0;
        qosOf.set(n, qos);
        push(q, { n: n++, qos }, called);
      }
      for (let i = 0; i < 150; i++) {
        const { m, cb } = shift(q);
        if (m === undefined) break;
        cb?.();
        out.push(m.n);
      }
    }
    expect(q.messages.length).toBe(n - out.length);
    for (;;) {
      const { m, cb } = shift(q);
      if (m === undefined) break;
      cb?.();
      out.push(m.n);
    }
    expect(q.length).toBe(0);
    expect(out).toHaveLength(n);
    expect(new Set(out).size).toBe(n);
    // Every callback ran for its own message, in the order the messages left.
    expect(called).toEqual(out);
    // Within a lane, arrival order.
    const qos1 = out.filter((k) => qosOf.get(k) === 1);
    const qos0 = out.filter((k) => qosOf.get(k) === 0);
    expect(qos1.length + qos0.length).toBe(n);
    expect(qos1).toEqual([...qos1].sort((a, b) => a - b));
    expect(qos0).toEqual([...qos0].sort((a, b) => a - b));
  });

  it('a waiting QoS 1 message leaves before every waiting QoS 0 one', () => {
    const q = new RouterQueue<Msg>();
    const log: number[] = [];
    for (let i = 0; i < 5000; i++) push(q, { n: i, qos: 0 }, log);
    push(q, { n: 9999, qos: 1 }, log);
    expect(q.priorityLength).toBe(1);
    expect(shift(q).m?.n).toBe(9999);
    expect(shift(q).m?.n).toBe(0);
    expect(q.length).toBe(4999);
  });

  it('an empty queue shifts undefined for both message and callback (mqemitter then stops)', () => {
    const q = new RouterQueue<Msg>();
    expect(shift(q)).toEqual({ m: undefined, cb: undefined });
    push(q, { n: 1, qos: 0 }, []);
    expect(shift(q).m?.n).toBe(1);
    expect(shift(q)).toEqual({ m: undefined, cb: undefined });
  });
});
