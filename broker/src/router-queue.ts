/**
 * The waiting room of aedes' message router (mqemitter 7), replacing its two plain
 * arrays `_messageQueue` and `_messageCallbacks`.
 *
 * Why: mqemitter takes the next message with `Array.prototype.shift()`. For a queue of
 * thousands of entries V8 cannot left-trim the backing store (it lives in large-object
 * space) and copies the whole array on every shift: under 3x overload, with 20,000
 * messages waiting, that copy was a quarter of the broker's busy time
 * (`released` in mqemitter.js, bench/broker/RESULTS.md run 3). Inserting alarms ahead
 * of telemetry with `splice` was O(n) too.
 *
 * Here: two growable rings of (message, callback) pairs, O(1) push and shift, no
 * allocation once grown. Messages with QoS > 0 (alarms and other events, already
 * durable in Redis, pages, commands) wait in the priority lane and leave before any
 * QoS 0 (telemetry) one; each lane keeps arrival order.
 *
 * mqemitter only ever calls `push` on both arrays in a row (message, then its
 * callback), `shift` on both in a row, and reads `_messageQueue.length`: the two
 * facades below implement exactly that protocol over one pair store.
 */

interface Queued {
  qos?: number;
}

type Callback = (err?: Error) => void;

function noop(): void {}

/** A FIFO of (message, callback) pairs in a power-of-two ring that doubles when full. */
class PairRing<M> {
  private messages: Array<M | undefined>;
  private callbacks: Array<Callback | undefined>;
  private head = 0;
  private mask: number;
  size = 0;

  constructor(initialCapacity: number) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.messages = new Array<M | undefined>(cap).fill(undefined);
    this.callbacks = new Array<Callback | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
  }

  /** Appends a message; its callback is set by `setLastCallback`. */
  push(message: M): void {
    if (this.size === this.messages.length) this.grow();
    const i = (this.head + this.size) & this.mask;
    this.messages[i] = message;
    this.callbacks[i] = noop;
    this.size++;
  }

  setLastCallback(cb: Callback): void {
    if (this.size > 0) this.callbacks[(this.head + this.size - 1) & this.mask] = cb;
  }

  /** Removes the oldest pair; returns its message, and its callback through `taken`. */
  shift(taken: { cb: Callback | undefined }): M | undefined {
    if (this.size === 0) return undefined;
    const i = this.head;
    const m = this.messages[i];
    taken.cb = this.callbacks[i];
    // Released references: the ring must not keep delivered messages alive.
    this.messages[i] = undefined;
    this.callbacks[i] = undefined;
    this.head = (i + 1) & this.mask;
    this.size--;
    return m;
  }

  private grow(): void {
    const cap = this.messages.length;
    const messages = new Array<M | undefined>(cap * 2).fill(undefined);
    const callbacks = new Array<Callback | undefined>(cap * 2).fill(undefined);
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) & this.mask;
      messages[k] = this.messages[i];
      callbacks[k] = this.callbacks[i];
    }
    this.messages = messages;
    this.callbacks = callbacks;
    this.head = 0;
    this.mask = cap * 2 - 1;
  }
}

/** What mqemitter sees as `_messageQueue`. */
class MessagesView<M extends Queued> {
  constructor(private readonly q: RouterQueue<M>) {}
  push(message: M): number {
    return this.q.pushMessage(message);
  }
  shift(): M | undefined {
    return this.q.shiftMessage();
  }
  get length(): number {
    return this.q.length;
  }
}

/** What mqemitter sees as `_messageCallbacks`. */
class CallbacksView<M extends Queued> {
  constructor(private readonly q: RouterQueue<M>) {}
  push(cb: Callback): number {
    return this.q.pushCallback(cb);
  }
  shift(): Callback | undefined {
    return this.q.shiftCallback();
  }
}

export class RouterQueue<M extends Queued> {
  private readonly priority = new PairRing<M>(256);
  private readonly normal = new PairRing<M>(1024);
  /** The ring the last `pushMessage` went to: the next callback belongs to it. */
  private lastPushed: PairRing<M> | null = null;
  /** The callback of the message `shiftMessage` just returned. */
  private readonly taken: { cb: Callback | undefined } = { cb: undefined };
  /** Stands in for mqemitter's `_messageQueue`. */
  readonly messages = new MessagesView<M>(this);
  /** Stands in for mqemitter's `_messageCallbacks`. */
  readonly callbacks = new CallbacksView<M>(this);

  pushMessage(message: M): number {
    const ring = (message.qos ?? 0) > 0 ? this.priority : this.normal;
    ring.push(message);
    this.lastPushed = ring;
    return this.length;
  }

  pushCallback(cb: Callback): number {
    this.lastPushed?.setLastCallback(cb);
    this.lastPushed = null;
    return this.length;
  }

  shiftMessage(): M | undefined {
    this.taken.cb = undefined;
    const ring = this.priority.size > 0 ? this.priority : this.normal;
    return ring.shift(this.taken);
  }

  shiftCallback(): Callback | undefined {
    const cb = this.taken.cb;
    this.taken.cb = undefined;
    return cb;
  }

  /** Messages waiting in both lanes. */
  get length(): number {
    return this.priority.size + this.normal.size;
  }

  /** QoS > 0 messages waiting (they leave first). */
  get priorityLength(): number {
    return this.priority.size;
  }
}
