/**
 * A binary min-heap of small integers (device indices) keyed by a number each, held
 * in typed arrays: one scheduler for a whole flood fleet of up to millions of devices
 * with no object per device and no allocation per push or pop. Each index is in the
 * heap at most once; `set` moves it when its key changes (decrease or increase).
 */
export class IndexHeap {
  private readonly keys: Float64Array;
  /** heap[k] = index at heap position k. */
  private readonly heap: Int32Array;
  /** pos[i] = heap position of index i, or -1 when absent. */
  private readonly pos: Int32Array;
  private n = 0;

  constructor(readonly capacity: number) {
    this.keys = new Float64Array(capacity);
    this.heap = new Int32Array(capacity);
    this.pos = new Int32Array(capacity).fill(-1);
  }

  get size(): number {
    return this.n;
  }

  has(i: number): boolean {
    return (this.pos[i] as number) >= 0;
  }

  /** Key of index i (meaningful only while it is in the heap). */
  keyOf(i: number): number {
    return this.keys[i] as number;
  }

  /** Index with the smallest key, or -1 when empty. */
  peek(): number {
    return this.n === 0 ? -1 : (this.heap[0] as number);
  }

  peekKey(): number {
    return this.n === 0 ? Number.POSITIVE_INFINITY : (this.keys[this.heap[0] as number] as number);
  }

  /** Inserts index i with `key`, or moves it there when already present. */
  set(i: number, key: number): void {
    if (i < 0 || i >= this.capacity) throw new RangeError(`index ${i} outside 0..${this.capacity - 1}`);
    const p = this.pos[i] as number;
    if (p < 0) {
      this.keys[i] = key;
      this.heap[this.n] = i;
      this.pos[i] = this.n;
      this.n++;
      this.up(this.n - 1);
      return;
    }
    const old = this.keys[i] as number;
    this.keys[i] = key;
    if (key < old) this.up(p);
    else this.down(p);
  }

  /** Removes and returns the index with the smallest key, or -1 when empty. */
  pop(): number {
    if (this.n === 0) return -1;
    const top = this.heap[0] as number;
    this.removeAt(0);
    return top;
  }

  delete(i: number): boolean {
    const p = this.pos[i] as number;
    if (p < 0) return false;
    this.removeAt(p);
    return true;
  }

  clear(): void {
    for (let k = 0; k < this.n; k++) this.pos[this.heap[k] as number] = -1;
    this.n = 0;
  }

  private removeAt(p: number): void {
    const h = this.heap;
    const gone = h[p] as number;
    this.pos[gone] = -1;
    this.n--;
    if (p === this.n) return;
    const last = h[this.n] as number;
    h[p] = last;
    this.pos[last] = p;
    this.up(p);
    this.down(this.pos[last] as number);
  }

  private up(p: number): void {
    const h = this.heap;
    const keys = this.keys;
    const item = h[p] as number;
    const k = keys[item] as number;
    while (p > 0) {
      const parent = (p - 1) >> 1;
      const pi = h[parent] as number;
      if ((keys[pi] as number) <= k) break;
      h[p] = pi;
      this.pos[pi] = p;
      p = parent;
    }
    h[p] = item;
    this.pos[item] = p;
  }

  private down(p: number): void {
    const h = this.heap;
    const keys = this.keys;
    const n = this.n;
    const item = h[p] as number;
    const k = keys[item] as number;
    for (;;) {
      const l = 2 * p + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && (keys[h[r] as number] as number) < (keys[h[l] as number] as number)) c = r;
      const ci = h[c] as number;
      if ((keys[ci] as number) >= k) break;
      h[p] = ci;
      this.pos[ci] = p;
      p = c;
    }
    h[p] = item;
    this.pos[item] = p;
  }
}
