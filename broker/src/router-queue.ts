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

import { PairRing } from './pair-ring.js';

interface Queued {
  qos?: number;
}

type Callback = (err?: Error) => void;

function noop(): void {}

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
  private readonly priority = new PairRing<M, Callback>(256);
  private readonly normal = new PairRing<M, Callback>(1024);
  /** The ring the last `pushMessage` went to: the next callback belongs to it. */
  private lastPushed: PairRing<M, Callback> | null = null;
  /** The callback of the message `shiftMessage` just returned. */
  private readonly taken: { second: Callback | undefined } = { second: undefined };
  /** Stands in for mqemitter's `_messageQueue`. */
  readonly messages = new MessagesView<M>(this);
  /** Stands in for mqemitter's `_messageCallbacks`. */
  readonly callbacks = new CallbacksView<M>(this);

  pushMessage(message: M): number {
    const ring = (message.qos ?? 0) > 0 ? this.priority : this.normal;
    ring.push(message, noop);
    this.lastPushed = ring;
    return this.length;
  }

  pushCallback(cb: Callback): number {
    this.lastPushed?.setLastSecond(cb);
    this.lastPushed = null;
    return this.length;
  }

  shiftMessage(): M | undefined {
    const ring = this.priority.size > 0 ? this.priority : this.normal;
    return ring.shift(this.taken);
  }

  shiftCallback(): Callback | undefined {
    const cb = this.taken.second;
    this.taken.second = undefined;
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
