/**
 * Guards aedes' message router (its mqemitter instance, `aedes.mq`) against the three
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
 * 3. Alarms stuck behind telemetry, and a queue that costs O(n) per message. The
 *    queue was FIFO (an alarm emitted while 2,000 telemetry messages waited was
 *    delivered after them: seconds of alarm latency at 3x capacity), and mqemitter's
 *    `Array.shift()` copies the whole array once it is large (a quarter of busy time
 *    under overload). Both arrays are replaced by `RouterQueue` (router-queue.ts):
 *    rings with O(1) push and shift, QoS 1 messages in a lane that leaves first.
 *
 * Instance patches, not a fork: `_do`, `_messageQueue`, `_messageCallbacks`, `current`,
 * `concurrency` and `emit` are mqemitter 7 internals, checked by
 * `assertRouterInternals` at start-up.
 */

import { RouterQueue } from './router-queue.js';

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
  /** Messages in delivery plus waiting: how much the router holds now. */
  load(): number;
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
  const queue = new RouterQueue<Message>();
  // Anything already waiting (nothing, at start-up) moves over in order.
  while (router._messageQueue.length > 0) {
    queue.pushMessage(router._messageQueue.shift() as Message);
    queue.pushCallback((router._messageCallbacks.shift() as Callback | undefined) ?? noop);
  }
  (router as { _messageQueue: unknown })._messageQueue = queue.messages;
  (router as { _messageCallbacks: unknown })._messageCallbacks = queue.callbacks;

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
    doWithDepth(message, callback);
    return this;
  };

  router.emit = function guardedEmit(this: RouterInternals, message: Message, callback?: Callback) {
    if (
      this.concurrency > 0 &&
      this.current >= this.concurrency &&
      (message.qos ?? 0) === 0 &&
      queue.length >= maxQueue &&
      message.topic.charCodeAt(0) !== 36 /* $ */
    ) {
      // It would wait in a full queue: shed. mqemitter calls back asynchronously when
      // queued; the shed path calls back at once, which aedes' publish chain accepts
      // (runSeries is callback-driven).
      onShed();
      (callback ?? noop)();
      return this;
    }
    return originalEmit.call(this, message, callback);
  };

  return { queued: () => queue.length, load: () => router.current + queue.length };
}
