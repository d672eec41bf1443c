/**
 * A Map with a hard size cap that forgets its least recently touched entry when full.
 * Used for per-address and per-username tables filled from the network before
 * authentication: an attacker with many addresses can make us forget old entries, but
 * never grow memory past `cap` entries.
 */
export class BoundedMap<V> {
  private readonly map = new Map<string, V>();
  /** Entries dropped to stay within the cap (a metric). */
  evictions = 0;

  constructor(readonly cap: number) {
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError('cap must be a positive integer');
  }

  get size(): number {
    return this.map.size;
  }

  /** The entry, moved to the most recently used end. */
  touch(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: string, value: V): void {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.cap) {
      // Map iterates in insertion order: the first key is the least recently touched.
      const oldest = this.map.keys().next();
      if (!oldest.done) {
        this.map.delete(oldest.value);
        this.evictions++;
      }
    }
    this.map.set(key, value);
  }

  delete(key: string): void {
    this.map.delete(key);
  }
}
