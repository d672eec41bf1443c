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
 * Instance patches, not a fork: `_do`, `_messageQueue` and `emit` are mqemitter 7
 * internals, checked by `assertRouterInternals` at start-up.
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
  concurrency: number;
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
    !Array.isArray(m._messageQueue)
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

  function deferredDo(message: Message, callback: Callback): void {
    router._do(message, callback);
  }

  router._do = function guardedDo(this: RouterInternals, message: Message, callback: Callback) {
    if (depth >= MAX_SYNC_DEPTH) {
      // setImmediate with arguments: no closure allocated, and only on this slow path.
      setImmediate(deferredDo, message, callback);
      return this;
    }
    depth++;
    try {
      return originalDo.call(this, message, callback);
    } finally {
      depth--;
    }
  };

  router.emit = function guardedEmit(this: RouterInternals, message: Message, callback?: Callback) {
    if (
      this._messageQueue.length >= maxQueue &&
      (message.qos ?? 0) === 0 &&
      message.topic.charCodeAt(0) !== 36 /* $ */
    ) {
      onShed();
      // mqemitter calls back asynchronously when queued; the shed path calls back
      // at once, which aedes' publish chain accepts (runSeries is callback-driven).
      (callback ?? noop)();
      return this;
    }
    return originalEmit.call(this, message, callback);
  };

  return { queued: () => router._messageQueue.length };
}
