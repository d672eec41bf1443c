/**
 * A FIFO of (first, second) pairs in a power-of-two ring that doubles when full: O(1)
 * push and shift, no allocation once grown, and no reference kept to a pair once it
 * left. Used for the router's waiting room (router-queue.ts) and for deferred ingress
 * packets (ingress-scheduler.ts). V8's `Array.prototype.shift()` copies large arrays
 * on every call, which is why plain arrays are not used for these queues.
 */
export class PairRing<A, B> {
  private firsts: Array<A | undefined>;
  private seconds: Array<B | undefined>;
  private head = 0;
  private mask: number;
  size = 0;

  constructor(initialCapacity: number) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.firsts = new Array<A | undefined>(cap).fill(undefined);
    this.seconds = new Array<B | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
  }

  push(first: A, second: B | undefined): void {
    if (this.size === this.firsts.length) this.grow();
    const i = (this.head + this.size) & this.mask;
    this.firsts[i] = first;
    this.seconds[i] = second;
    this.size++;
  }

  /** Replaces the second half of the newest pair. */
  setLastSecond(second: B): void {
    if (this.size > 0) this.seconds[(this.head + this.size - 1) & this.mask] = second;
  }

  /** Removes the oldest pair: returns its first half, and its second through `out`. */
  shift(out: { second: B | undefined }): A | undefined {
    if (this.size === 0) {
      out.second = undefined;
      return undefined;
    }
    const i = this.head;
    const first = this.firsts[i];
    out.second = this.seconds[i];
    this.firsts[i] = undefined;
    this.seconds[i] = undefined;
    this.head = (i + 1) & this.mask;
    this.size--;
    return first;
  }

  /** Empties the ring, handing each pair to `fn` in order. */
  drain(fn: (first: A, second: B | undefined) => void): void {
    const out: { second: B | undefined } = { second: undefined };
    while (this.size > 0) fn(this.shift(out) as A, out.second);
  }

  private grow(): void {
    const cap = this.firsts.length;
    const firsts = new Array<A | undefined>(cap * 2).fill(undefined);
    const seconds = new Array<B | undefined>(cap * 2).fill(undefined);
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) & this.mask;
      firsts[k] = this.firsts[i];
      seconds[k] = this.seconds[i];
    }
    this.firsts = firsts;
    this.seconds = seconds;
    this.head = 0;
    this.mask = cap * 2 - 1;
  }
}
