import type { Redis } from 'ioredis';

/**
 * Routing shared between broker processes through Redis pub/sub, so a device connected
 * to broker A reaches a station (or service) subscribed on broker B. Same idea as
 * mqemitter-redis, done on aedes' own router instance (`aedes.mq`) without a new
 * dependency:
 *
 * - every message emitted locally (device publishes, wills, aedes' `$SYS/<id>/...`
 *   notices that make a client-id takeover work across brokers, [MQTT-3.1.4-2]) is
 *   also PUBLISHed on one Redis channel, in a small binary frame;
 * - every frame from another broker is emitted into the local router only (never
 *   re-published), where local subscriptions match it as usual;
 * - aedes' per-client dedupe (brokerId + brokerCounter, lib/client.js) is carried in
 *   the frame, so a message is delivered once per subscription.
 *
 * Every broker receives every message (one channel, no per-topic subscriptions): right
 * for a few brokers behind one address; the cost is one Redis PUBLISH per message and
 * a decode per message per other broker. Durable events are unaffected (each broker
 * writes them to Redis before its PUBACK).
 *
 * Retained messages (device status) are shared too, when `retained` is given: a
 * retained message this broker originates is also written into a Redis hash (topic →
 * frame; an empty payload deletes), on the same connection and before its PUBLISH; a
 * frame from another broker with the retain flag is stored in this broker's own
 * retained store; and at start a broker loads the hash after subscribing, skipping
 * topics a live frame already set meanwhile (that one is newer). So a subscriber on B
 * gets the status retained on A, also when B started later. Persistent sessions stay
 * per process (aedes' memory persistence).
 *
 * Takeover across brokers: the `$SYS/<id>/new/clients` notice from another broker
 * makes aedes close the local connection of that client id, which would publish its
 * will (an `offline` status after the new connection's `online`): `onRemoteNewClient`
 * runs first, so the caller can drop that will.
 *
 * Frame: u16 topic length | topic | u8 (qos | retain<<2) | u8 broker id length |
 * broker id | f64 broker counter | payload.
 */

interface Message {
  topic: string;
  payload: Buffer | string;
  qos?: number;
  retain?: boolean;
  brokerId?: string;
  brokerCounter?: number;
}
type Callback = (err?: Error) => void;
interface Router {
  emit(message: Message, callback?: Callback): unknown;
}

export interface ClusterRoutingOptions {
  /** Connection used for PUBLISH (not in subscriber mode). */
  pub: Redis;
  /** Connection put in subscriber mode (dedicated). */
  sub: Redis;
  channel: string;
  /** This broker's aedes id: frames it published itself are ignored when they come back. */
  brokerId: string;
  /** Called per message received from another broker (a metric). */
  onReceived?: () => void;
  /** Called when a PUBLISH to Redis failed (the message was still routed locally). */
  onPublishError?: (err: unknown) => void;
  /** Share retained messages through this hash; `store` puts one into the local retained store. */
  retained?: {
    key: string;
    store: (packet: DecodedFrame) => Promise<void>;
    onError?: (err: unknown) => void;
    /** How many were loaded from the hash at start. */
    onLoaded?: (count: number) => void;
  };
  /** Another broker registered this client id (before aedes closes a local connection of it). */
  onRemoteNewClient?: (clientId: string) => void;
}

export interface ClusterRouting {
  /** Subscribes to the channel; resolves when Redis confirmed the subscription. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function encodeFrame(m: Message): Buffer {
  const payload = typeof m.payload === 'string' ? Buffer.from(m.payload) : m.payload;
  const topicLen = Buffer.byteLength(m.topic);
  const id = m.brokerId ?? '';
  const idLen = Buffer.byteLength(id);
  const buf = Buffer.allocUnsafe(2 + topicLen + 1 + 1 + idLen + 8 + payload.length);
  let o = buf.writeUInt16BE(topicLen, 0);
  o += buf.write(m.topic, o);
  o = buf.writeUInt8(((m.qos ?? 0) & 3) | (m.retain ? 4 : 0), o);
  o = buf.writeUInt8(idLen, o);
  o += buf.write(id, o);
  o = buf.writeDoubleBE(m.brokerCounter ?? 0, o);
  payload.copy(buf, o);
  return buf;
}

export interface DecodedFrame {
  cmd: 'publish';
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  dup: false;
  brokerId: string;
  brokerCounter: number;
}

/** null for a frame that is too short or malformed (counted by the caller, never thrown). */
export function decodeFrame(buf: Buffer): DecodedFrame | null {
  if (buf.length < 12) return null;
  const topicLen = buf.readUInt16BE(0);
  let o = 2 + topicLen;
  if (buf.length < o + 2 + 8) return null;
  const topic = buf.toString('utf8', 2, o);
  const flags = buf.readUInt8(o++);
  const idLen = buf.readUInt8(o++);
  if (buf.length < o + idLen + 8) return null;
  const brokerId = buf.toString('utf8', o, o + idLen);
  o += idLen;
  const brokerCounter = buf.readDoubleBE(o);
  o += 8;
  return {
    cmd: 'publish',
    topic,
    payload: buf.subarray(o),
    qos: (flags & 3) as 0 | 1 | 2,
    retain: (flags & 4) !== 0,
    dup: false,
    brokerId,
    brokerCounter,
  };
}

function noop(): void {}

export function shareRouting(mq: unknown, opts: ClusterRoutingOptions): ClusterRouting {
  const router = mq as Router;
  const localEmit = router.emit;
  const { pub, sub, channel, brokerId } = opts;
  const onReceived = opts.onReceived ?? noop;
  const onPublishError = opts.onPublishError ?? noop;
  const channelBuf = Buffer.from(channel);

  const retained = opts.retained;
  const onRetainedError = retained?.onError ?? noop;
  const onRemoteNewClient = opts.onRemoteNewClient;
  /** Topics a live frame set while the hash loads (null once loaded). */
  let setWhileLoading: Set<string> | null = null;

  router.emit = function clusterEmit(this: Router, message: Message, callback?: Callback) {
    // Only what this broker originates; frames from others are emitted via localEmit.
    if ((message.brokerId ?? brokerId) === brokerId) {
      const frame = encodeFrame(message);
      if (message.retain === true && retained !== undefined) {
        const empty = message.payload.length === 0;
        (empty ? pub.hdel(retained.key, message.topic) : pub.hset(retained.key, message.topic, frame)).catch(
          onRetainedError,
        );
      }
      pub.publish(channelBuf, frame).catch(onPublishError);
    }
    return localEmit.call(this, message, callback);
  };

  function storeLocally(m: DecodedFrame): void {
    retained?.store(m).catch(onRetainedError);
  }

  function onFrame(ch: Buffer, frame: Buffer): void {
    if (!ch.equals(channelBuf)) return;
    const m = decodeFrame(frame);
    if (m === null || m.brokerId === brokerId) return;
    onReceived();
    if (m.retain && retained !== undefined) {
      setWhileLoading?.add(m.topic);
      storeLocally(m);
    }
    if (onRemoteNewClient !== undefined && m.topic.startsWith('$SYS/') && m.topic.endsWith('/new/clients')) {
      onRemoteNewClient(m.payload.toString('utf8'));
    }
    localEmit.call(router, m, noop);
  }

  /** Loads the shared retained messages into the local store, 1,000 hash fields per call. */
  async function loadRetained(key: string): Promise<number> {
    let cursor = '0';
    let loaded = 0;
    do {
      const [next, flat] = await pub.hscanBuffer(key, cursor, 'COUNT', 1000);
      cursor = next.toString();
      for (let i = 1; i < flat.length; i += 2) {
        const m = decodeFrame(flat[i] as Buffer);
        if (m === null || setWhileLoading?.has(m.topic) === true) continue;
        storeLocally(m);
        loaded++;
      }
    } while (cursor !== '0');
    return loaded;
  }

  return {
    async start() {
      sub.on('messageBuffer', onFrame);
      await sub.subscribe(channel);
      if (retained !== undefined) {
        setWhileLoading = new Set();
        try {
          retained.onLoaded?.(await loadRetained(retained.key));
        } finally {
          setWhileLoading = null;
        }
      }
    },
    async stop() {
      sub.off('messageBuffer', onFrame);
      router.emit = localEmit;
      await sub.unsubscribe(channel).catch(noop);
    },
  };
}
