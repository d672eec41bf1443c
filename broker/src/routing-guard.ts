/**
 * Guards aedes' message router (its mqemitter instance, `aedes.mq`) against the two
 * ways it fails beyond capacity.
 *
 * 1. The crash. mqemitter 7 keeps at most `concurrency` messages in delivery; the rest
 *    wait in `_messageQueue`. When a delivery finishes, `released()` takes the next
 *    queued message and calls `_do()` synchronously. A message nobody subscribes to
 *    any more (its subscriber with the backlog just disconnected) has zero matches, so
 *    fastparallel finishes it synchronously too and calls `released()` again: one stack
 *    frame set per queued message, and a backlog of a few thousand ends in `RangeError:
 *    Maximum call stack size exceeded` (shared/engineering.md; reproduced in
 *    test/overload.test.ts against aedes' own emitter). The guard counts synchronous
 *    nesting of `_do` and, past `MAX_SYNC_DEPTH`, continues on the next turn of the
 *    event loop (setImmediate): the queue drains in slices, the stack stays flat.
 *
 * 2. The unbounded queue. Publishers are not slowed by a full router (aedes parses a
 *    whole socket read and emits every PUBLISH in it), so the queue grows with the
 *    overload. Past `maxQueue` queued messages, QoS 0 publishes (telemetry) are shed
 *    here, counted; QoS 1 ones (alarms and other events, already durable in Redis,
 *    pages, commands) are always queued. Broker-internal `$SYS/...` messages are never
 *    shed (cluster takeover notices travel on them).
 *
 * 3. Alarms stuck behind telemetry. The queue is FIFO: an alarm emitted while 2,000
 *    telemetry messages wait is delivered after them (measured: seconds of alarm
 *    latency at 3x capacity, bench/broker/RESULTS.md). QoS 1 messages that must wait
 *    are therefore inserted after the QoS 1 messages already waiting and before every
 *    QoS 0 one: the queue is [QoS 1 in arrival order][QoS 0 in arrival order], and
 *    `priorityQueued` counts the first part (decremented when the router takes one
 *    out of the queue, told apart from a direct emit by identity).
 *
 * Instance patches, not a fork: `_do`, `_messageQueue`, `_messageCallbacks`, `current`,
 * `concurrency` and `emit` are mqemitter 7 internals, checked by
 * `assertRouterInternals` at start-up.
 */

/** Synchronous `_do` nesting allowed before the rest is deferred to setImmediate. */
export const MAX_SYNC_DEPTH = 64;

interface Message {
  topic: string;
  qos?: number;
}
type Callback = (err?: Error) => void;

interface RouterInternals {
  _do(message: Message, callback: Callback): unknown;
  emit(message: Message, callback?: Callback): unknown;
  _messageQueue: unknown[];
  _messageCallbacks: unknown[];
  concurrency: number;
  current: number;
}

export interface RoutingGuardOptions {
  /** QoS 0 messages are shed while this many messages wait in the router's queue. */
  maxQueue: number;
  onShed: () => void;
}

export interface RoutingGuard {
  /** Messages waiting in the router's queue now (a gauge). */
  queued(): number;
}

export function assertRouterInternals(mq: unknown): asserts mq is RouterInternals {
  const m = mq as Partial<RouterInternals> | null;
  if (
    m === null ||
    typeof m !== 'object' ||
    typeof m._do !== 'function' ||
    typeof m.emit !== 'function' ||
    !Array.isArray(m._messageQueue) ||
    !Array.isArray(m._messageCallbacks) ||
    typeof m.current !== 'number' ||
    typeof m.concurrency !== 'number'
  ) {
    throw new Error('mqemitter internals changed: cannot guard the message router');
  }
}

function noop(): void {}

export function guardRouting(mq: unknown, opts: RoutingGuardOptions): RoutingGuard {
  assertRouterInternals(mq);
  const router = mq;
  const originalDo = router._do;
  const originalEmit = router.emit;
  const { maxQueue, onShed } = opts;
  let depth = 0;
  /** QoS > 0 messages at the head of the queue (see 3. above). */
  let priorityQueued = 0;
  /** The message `originalEmit` is handing straight to `_do` (not from the queue). */
  let direct: Message | null = null;

  function doWithDepth(message: Message, callback: Callback): void {
    if (depth >= MAX_SYNC_DEPTH) {
      // setImmediate with arguments: no closure allocated, and only on this slow path.
      setImmediate(doWithDepth, message, callback);
      return;
    }
    depth++;
    try {
      originalDo.call(router, message, callback);
    } finally {
      depth--;
    }
  }

  router._do = function guardedDo(this: RouterInternals, message: Message, callback: Callback) {
    // Taken out of the queue by mqemitter's released(): the head is a priority one.
    if (message !== direct && priorityQueued > 0 && (message.qos ?? 0) > 0) priorityQueued--;
    doWithDepth(message, callback);
    return this;
  };

  router.emit = function guardedEmit(this: RouterInternals, message: Message, callback?: Callback) {
    const qos = message.qos ?? 0;
    if (this.current >= this.concurrency && this.concurrency > 0) {
      // It will wait in the queue.
      if (qos > 0) {
        this._messageQueue.splice(priorityQueued, 0, message);
        this._messageCallbacks.splice(priorityQueued, 0, callback ?? noop);
        priorityQueued++;
        return this;
      }
      if (this._messageQueue.length >= maxQueue && message.topic.charCodeAt(0) !== 36 /* $ */) {
        onShed();
        // mqemitter calls back asynchronously when queued; the shed path calls back
        // at once, which aedes' publish chain accepts (runSeries is callback-driven).
        (callback ?? noop)();
        return this;
      }
      return originalEmit.call(this, message, callback);
    }
    direct = message;
    try {
      return originalEmit.call(this, message, callback);
    } finally {
      direct = null;
    }
  };

  return { queued: () => router._messageQueue.length };
}
