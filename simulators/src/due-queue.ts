/**
 * A binary min-heap of items keyed by `dueAt` (ms). One heap and one timer drive
 * the telemetry of the whole fleet instead of a timer per device: push and pop are
 * O(log n) with no allocation beyond the array, which stays flat at 100k devices.
 */
export interface Due {
  dueAt: number;
}

export class DueQueue<T extends Due> {
  private readonly heap: T[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): T | undefined {
    return this.heap[0];
  }

  push(item: T): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as T;
      if (p.dueAt <= item.dueAt) break;
      h[i] = p;
      i = parent;
    }
    h[i] = item;
  }

  pop(): T | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    const n = h.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && (h[r] as T).dueAt < (h[l] as T).dueAt) c = r;
      const child = h[c] as T;
      if (child.dueAt >= last.dueAt) break;
      h[i] = child;
      i = c;
    }
    h[i] = last;
    return top;
  }

  clear(): void {
    this.heap.length = 0;
  }
}
