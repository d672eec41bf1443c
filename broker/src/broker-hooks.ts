import {
  decodeEvent,
  decodeStationReply,
  decodeStatus,
  eventFitsKind,
  type HubKeys,
  laneOf,
  newParsedTopic,
  PAYLOAD_LIMITS,
  parseTopic,
  REJECT_CODES,
  type RejectCode,
  RejectLogLimiter,
} from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import type { AuthenticateError, Client, PublishPacket, Subscription } from 'aedes';
import type { Logger } from 'pino';
import {
  MAX_GRANTED_QOS,
  mayRetain,
  maySubscribe,
  type PublishChannel,
  publishChannelFor,
} from './access-rules.js';
import { authenticateClient } from './authenticate-client.js';
import { BROKER_ERRORS, BROKER_REJECT_CODES, BrokerError } from './broker-errors.js';
import type { BrokerMetrics } from './broker-metrics.js';
import {
  type ConnectFields,
  type ConnectRefusal,
  checkConnectPacket,
  checkSession,
  checkWill,
  hasForbiddenChar,
} from './connect-rules.js';
import type { DurableWriter } from './durable-writer.js';
import type { LagMonitor } from './lag-monitor.js';
import type { LoginBackoff } from './login-backoff.js';
import { markUrgent, writingUrgently } from './packet-writer.js';
import { type DevicePrincipal, type Principal, principalName, type StationPrincipal } from './principal.js';

/**
 * The aedes hooks: authentication, authorization, payload checks and the durable
 * write of events and station replies before the PUBACK.
 *
 * Where the PUBACK goes out (aedes 1.2, node_modules/aedes/lib/handlers/publish.js):
 * `handlePublish` runs `publishActions = [authorizePublish, enqueuePublish]` in
 * series, and `enqueuePublish` for QoS 1 does `write(client, new PubAck(packet), ...)`
 * FIRST and only then `client.broker.publish(...)`, which runs `storeRetained →
 * enqueueOffline → emitPacket → callPublished` (aedes.js). So the `published` hook
 * runs AFTER the PUBACK has been written: a write made there is not durable before
 * the ack (the opposite of what some notes on older aedes say). `authorizePublish`
 * is the last hook before the PUBACK, so events and replies are written to Redis
 * there, and the hook calls back only once Redis has answered.
 *
 * What happens to a refused PUBLISH. aedes closes the connection on any error from
 * `authorizePublish`, for QoS 0 and QoS 1 alike ([MQTT-3.3.5-2] allows a server that
 * does not authorize a PUBLISH either to acknowledge it normally or to close the
 * connection). We use both, on purpose:
 * - topic not allowed (another device's topic, `$SYS/...`, outside the v1 tree):
 *   error → disconnect. The client is misconfigured or hostile.
 * - Redis failed, timed out, or too many writes in flight: error → disconnect, no
 *   PUBACK; the device resends the event when it reconnects, and the (device,
 *   message id) marker makes the retry harmless if the first write did land.
 * - payload oversize, not JSON or not the schema: the publish is acknowledged
 *   normally and dropped (never routed, never stored). Disconnecting would make a
 *   device with a firmware bug resend the same poison message on every reconnect and
 *   cut off its real alarms; it is counted and logged with the device id instead.
 *   aedes has no "drop" result, so the hook marks the packet (`dropped`) and
 *   create-broker.ts wraps `aedes.publish` to skip marked packets.
 */

export interface BrokerHookDeps {
  registry: { readonly current: RegistrySnapshot };
  keys: HubKeys;
  writer: DurableWriter;
  metrics: BrokerMetrics;
  logger: Logger;
  clock: { now(): number };
  /** Durable writes in flight, all clients together. */
  maxInflight: number;
  /** Durable writes in flight for one connection: one flooding device cannot use up the global budget. */
  maxInflightPerClient: number;
  /** Failed-login backoff: refusals are answered later the more an address or username fails. */
  backoff?: LoginBackoff;
  /** Event-loop lag: while `overloaded`, telemetry is shed at ingress. */
  lag?: LagMonitor;
  /** QoS 0 to a subscriber with more than this queued in Node is shed. */
  subscriberBufferBytes?: number;
}

export interface BrokerHooks {
  preConnect(
    client: Client,
    packet: ConnectFields,
    callback: (error: Error | null, success: boolean) => void,
  ): void;
  authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void;
  authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    callback: (error?: Error | null) => void,
  ): void;
  authorizeSubscribe(
    client: Client,
    sub: Subscription,
    callback: (error: Error | null, subscription?: Subscription | null) => void,
  ): void;
  /**
   * Per delivery to a subscriber: sheds QoS 0 while that subscriber's socket is over
   * its high-water mark (see below); returns the packet to deliver, or null.
   */
  authorizeForward(client: Client, packet: PublishPacket): PublishPacket | null;
  /** True for a publish that was acknowledged but must not be routed. */
  isDropped(packet: object): boolean;
  /** Durable writes waiting for Redis now. */
  inflight(): number;
}

/** The principal is stored on the aedes client at CONNECT: one field read per message. */
interface HubClient extends Client {
  hubPrincipal?: Principal;
  /** This connection's durable writes waiting for Redis. */
  hubInflight?: number;
  /** A refusal found by preConnect that is answered with a CONNACK code in authenticate. */
  hubRefusal?: ConnectRefusal;
  /** aedes' copy of the CONNECT's will while the connection is being authenticated. */
  _will?: ConnectFields['will'];
  /** aedes' will once connected (the object handed to authorizePublish when it fires). */
  will?: unknown;
}

export function principalOf(client: Client | null): Principal | undefined {
  return client === null ? undefined : (client as HubClient).hubPrincipal;
}

/** The socket fields read per delivery (net.Socket has them). */
interface SocketState {
  writableNeedDrain?: boolean;
  writableLength: number;
}

/**
 * Raises one socket's write high-water mark. Node has no public setter after the socket
 * exists (net.Server's `highWaterMark` option would raise the read side for every
 * anonymous socket too), so this sets the Writable state field; skipped if it is gone.
 */
function raiseWriteBuffer(conn: unknown, bytes: number): void {
  const state = (conn as { _writableState?: { highWaterMark?: unknown } })._writableState;
  if (state !== undefined && typeof state.highWaterMark === 'number' && state.highWaterMark < bytes) {
    state.highWaterMark = bytes;
  }
}

/**
 * The client's source address: the socket's peer for TCP and TLS; for a WebSocket
 * (the connection is a stream, not a socket) the peer of the HTTP upgrade request,
 * which aedes keeps as `client.req`.
 */
function peerAddress(client: Client): string {
  const conn = client.conn as { remoteAddress?: string; hubPeerAddress?: string } | undefined;
  // Behind a trusted load balancer: the address its PROXY header named.
  if (conn?.hubPeerAddress !== undefined) return conn.hubPeerAddress;
  const direct = conn?.remoteAddress;
  if (direct !== undefined) return direct;
  return client.req?.socket?.remoteAddress ?? 'unknown';
}

/** Clips strings from the wire before they go into a log line. */
function clip(s: string | undefined | null): string | undefined {
  if (s === undefined || s === null) return undefined;
  return s.length > 80 ? s.slice(0, 80) + '…' : s;
}

function payloadBytes(payload: string | Buffer): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
}

function payloadString(payload: string | Buffer): string {
  return typeof payload === 'string' ? payload : payload.toString('utf8');
}

export function createBrokerHooks(deps: BrokerHookDeps): BrokerHooks {
  const {
    registry,
    keys,
    writer,
    metrics,
    logger: log,
    clock,
    maxInflight,
    maxInflightPerClient,
    backoff,
  } = deps;
  const lag = deps.lag ?? null;
  const subscriberBuffer = deps.subscriberBufferBytes ?? 1024 * 1024;
  const shedLag = metrics.shedBy.event_loop_lag;
  const shedBacklog = metrics.shedBy.subscriber_backlog;
  /** Packets acknowledged but not routed; entries vanish with the packets (weak). */
  const dropped = new WeakSet<object>();
  /** Reused by parseTopic on every service publish (no allocation per message). */
  const scratch = newParsedTopic();
  const labelScratch = newParsedTopic();
  let inflight = 0;

  const ackLatency = metrics.eventAckLatency;
  /** A device with a firmware bug may publish bad payloads all day: one log line per client per minute. */
  const rejectLog = new RejectLogLimiter();

  function channelLabel(topic: string): string {
    return parseTopic(topic, labelScratch) && labelScratch.channel !== null ? labelScratch.channel : 'other';
  }

  function rejectPayload(
    packet: PublishPacket,
    principal: Principal,
    channel: PublishChannel,
    code: RejectCode,
    message: string,
  ): void {
    metrics.rejections.inc({ code, channel });
    const name = principalName(principal);
    const suppressed = rejectLog.admit(name, clock.now());
    if (suppressed >= 0) {
      log.warn(
        { client: name, kind: principal.kind, channel, code, reason: message, suppressed },
        'payload rejected',
      );
    }
    dropped.add(packet);
  }

  /**
   * Runs on the raw CONNECT before aedes' own checks and authentication. A malformed
   * CONNECT (bad UTF-8, NUL, wildcard will) closes the connection without a CONNACK
   * [MQTT-1.5.3-1]; a refusal that the spec answers with a CONNACK code (empty client
   * id with a persistent session, [MQTT-3.1.3-8]) is left on the client for
   * `authenticate`, which is where aedes sends refusal CONNACKs.
   */
  function preConnect(
    client: Client,
    packet: ConnectFields,
    callback: (error: Error | null, success: boolean) => void,
  ): void {
    const refusal = checkConnectPacket(packet);
    if (refusal === null) {
      callback(null, true);
      return;
    }
    if (refusal.returnCode !== null) {
      (client as HubClient).hubRefusal = refusal;
      callback(null, true);
      return;
    }
    countConnectRefusal(refusal.reason, BROKER_REJECT_CODES.PROTOCOL);
    log.warn({ clientId: clip(packet.clientId), reason: refusal.reason }, 'malformed CONNECT: closing');
    callback(new BrokerError(BROKER_ERRORS.PROTOCOL, `malformed CONNECT: ${refusal.reason}`), false);
  }

  function countConnectRefusal(reason: string, code: string): void {
    metrics.connects.inc({ result: reason });
    metrics.rejections.inc({ code, channel: 'connect' });
  }

  function refuseConnect(
    client: Client,
    username: string | undefined,
    reason: string,
    code: string,
    returnCode: number,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    countConnectRefusal(reason, code);
    const address = peerAddress(client);
    const delayMs = backoff === undefined ? 0 : backoff.failed(address, username, clock.now());
    // Never the password; wire strings clipped.
    log.warn(
      { clientId: clip(client.id), username: clip(username), address, reason, returnCode, delayMs },
      'connect refused',
    );
    const err = Object.assign(new Error(`connect refused: ${reason}`), { returnCode });
    if (delayMs <= 0) {
      done(err as unknown as AuthenticateError, null);
      return;
    }
    // The CONNACK refusal is held back; aedes keeps the client paused meanwhile and
    // drops the answer if the client went away (lib/handlers/connect.js, negate()).
    metrics.loginsDelayed.inc();
    setTimeout(done, delayMs, err as unknown as AuthenticateError, null);
  }

  function authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const hc = client as HubClient;
    const early = hc.hubRefusal;
    if (early !== undefined && early.returnCode !== null) {
      refuseConnect(client, username, early.reason, BROKER_REJECT_CODES.PROTOCOL, early.returnCode, done);
      return;
    }
    const result = authenticateClient(registry.current, client.id, username, password);
    if (!result.ok) {
      refuseConnect(client, username, result.reason, REJECT_CODES.BAD_CREDENTIALS, result.returnCode, done);
      return;
    }
    const willRefusal = checkWill(result.principal, hc._will);
    if (willRefusal !== null && willRefusal.returnCode !== null) {
      refuseConnect(
        client,
        username,
        willRefusal.reason,
        REJECT_CODES.NOT_AUTHORIZED,
        willRefusal.returnCode,
        done,
      );
      return;
    }
    const sessionRefusal = checkSession(result.principal, (client as { clean?: boolean }).clean);
    if (sessionRefusal !== null && sessionRefusal.returnCode !== null) {
      refuseConnect(
        client,
        username,
        sessionRefusal.reason,
        REJECT_CODES.NOT_AUTHORIZED,
        sessionRefusal.returnCode,
        done,
      );
      return;
    }
    hc.hubPrincipal = result.principal;
    if (result.principal.kind === 'service') raiseWriteBuffer(client.conn, subscriberBuffer * 4);
    if (username !== undefined) backoff?.succeeded(username);
    metrics.connects.inc({ result: 'ok' });
    log.debug({ clientId: client.id, kind: result.principal.kind }, 'client authenticated');
    done(null, true);
  }

  function authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    callback: (error?: Error | null) => void,
  ): void {
    const principal = principalOf(client);
    if (principal === undefined) {
      // aedes passes client=null only for orphan wills of a dead broker in a cluster.
      metrics.rejections.inc({ code: REJECT_CODES.NOT_AUTHORIZED, channel: channelLabel(packet.topic) });
      callback(new BrokerError(BROKER_ERRORS.NO_PRINCIPAL, 'publish without an authenticated principal'));
      return;
    }
    const channel = publishChannelFor(principal, packet.topic, scratch);
    if (channel === null) {
      // Only on the refusal path (never for an allowed topic): tell malformed topic
      // names ([MQTT-1.5.3-1], [MQTT-1.5.3-2]) from authorization failures.
      const code = hasForbiddenChar(packet.topic)
        ? BROKER_REJECT_CODES.PROTOCOL
        : REJECT_CODES.NOT_AUTHORIZED;
      metrics.rejections.inc({ code, channel: channelLabel(packet.topic) });
      log.warn(
        { client: principalName(principal), kind: principal.kind, topic: clip(packet.topic) },
        'publish outside own topics: disconnecting',
      );
      callback(new BrokerError(BROKER_ERRORS.NOT_AUTHORIZED, 'publish outside own topics'));
      return;
    }
    metrics.messagesInBy[channel].inc();
    const size = payloadBytes(packet.payload);
    const limit = PAYLOAD_LIMITS[channel];
    if (size > limit) {
      rejectPayload(
        packet,
        principal,
        channel,
        REJECT_CODES.TOO_LARGE,
        `payload of ${size} bytes exceeds ${limit}`,
      );
      callback(null);
      return;
    }
    if (packet.retain && !mayRetain(channel)) packet.retain = false;

    switch (channel) {
      case 'telemetry':
        // Overloaded (event loop behind): telemetry is dropped here, before it costs a
        // routing, so alarms and other events keep their latency. QoS 0 carries no
        // promise of delivery; counted in hub_broker_shed_total{reason=event_loop_lag}.
        if (lag?.overloaded === true && packet.qos === 0) {
          shedLag.inc();
          dropped.add(packet);
        }
        // Telemetry never waits on Redis: ingest subscribes over MQTT.
        callback(null);
        return;
      case 'cmd':
      case 'page':
        callback(null);
        return;
      case 'status': {
        // Status is retained: an invalid one would be replayed to every subscriber.
        const decoded = decodeStatus(payloadString(packet.payload));
        if (!decoded.ok) rejectPayload(packet, principal, channel, decoded.code, decoded.message);
        else if (client !== null && packet === (client as HubClient).will) {
          // The last will firing (aedes' Client.close hands its will object here). Its
          // `ts` is the CONNECT time; stamp the time the broker saw the connection go,
          // and keep it retained: it is the device's current state (protocol/status.ts).
          // One allocation per lost connection, never per message.
          packet.payload = Buffer.from(JSON.stringify({ ...decoded.value, ts: clock.now() }));
          packet.retain = true;
          metrics.willsPublished.inc();
        }
        callback(null);
        return;
      }
      case 'event':
        if (principal.kind !== 'device') break;
        // The ack-latency clock starts here, not at the hook's entry: only events are
        // timed, so telemetry (the bulk of messages) does not pay for the clock read.
        recordEvent(client as HubClient, principal, packet, performance.now(), callback);
        return;
      case 'reply':
        if (principal.kind !== 'station') break;
        recordReply(client as HubClient, principal, packet, callback);
        return;
    }
    // Unreachable: publishChannelFor gives 'event' to devices and 'reply' to stations only.
    callback(new BrokerError(BROKER_ERRORS.NOT_AUTHORIZED, `channel ${channel} for a ${principal.kind}`));
  }

  /** Refuses a write beyond the global or per-connection bound; else counts it in. */
  function admit(client: HubClient, stream: 'fire' | 'other' | 'actions', who: string): BrokerError | null {
    const mine = client.hubInflight ?? 0;
    if (inflight < maxInflight && mine < maxInflightPerClient) {
      inflight++;
      client.hubInflight = mine + 1;
      return null;
    }
    metrics.durableWrites.inc({ stream, result: 'overloaded' });
    log.warn(
      { client: who, inflight, clientInflight: mine },
      'too many durable writes in flight: refusing (no PUBACK)',
    );
    return new BrokerError(
      BROKER_ERRORS.OVERLOADED,
      `${inflight} durable writes in flight (${mine} for this client)`,
    );
  }

  function release(client: HubClient): void {
    inflight--;
    client.hubInflight = (client.hubInflight ?? 1) - 1;
  }

  function recordEvent(
    client: HubClient,
    principal: DevicePrincipal,
    packet: PublishPacket,
    started: number,
    callback: (error?: Error | null) => void,
  ): void {
    const deviceId = principal.id;
    const payload = payloadString(packet.payload);
    const decoded = decodeEvent(payload);
    if (!decoded.ok) {
      rejectPayload(packet, principal, 'event', decoded.code, decoded.message);
      callback(null);
      return;
    }
    const type = decoded.value.type;
    if (!eventFitsKind(type, principal.deviceKind)) {
      // Acknowledged and dropped, like any invalid payload: a retry would not fit either.
      rejectPayload(
        packet,
        principal,
        'event',
        REJECT_CODES.KIND_MISMATCH,
        `event ${type} from a device registered as ${principal.deviceKind}`,
      );
      callback(null);
      return;
    }
    const fire = laneOf(type) === 'fire';
    const stream = fire ? 'fire' : 'other';
    const refused = admit(client, stream, deviceId);
    if (refused !== null) {
      callback(refused);
      return;
    }
    // Its deliveries leave at once, not at the end of the turn (packet-writer.ts).
    if (fire) markUrgent(packet.payload);
    // One closure per event (not per telemetry message): events are the rare,
    // must-not-lose path, and the callback must reach this packet's aedes continuation.
    writer.recordEvent(
      fire ? keys.fireEvents : keys.otherEvents,
      deviceId,
      decoded.value.id,
      payload,
      clock.now(),
      (err, added) => {
        release(client);
        if (err === null) {
          ackLatency.observe((performance.now() - started) / 1000);
          metrics.durableWrites.inc({ stream, result: added ? 'ok' : 'duplicate' });
          // aedes writes the PUBACK synchronously from here: a fire alarm's is sent at once.
          if (fire) writingUrgently(() => callback(null));
          else callback(null);
          return;
        }
        metrics.durableWrites.inc({ stream, result: 'failed' });
        log.error({ deviceId, stream, err }, 'event not stored: no PUBACK, disconnecting the device');
        callback(new BrokerError(BROKER_ERRORS.DURABLE_WRITE, 'event not stored', { cause: err }));
      },
      // A fire alarm does not wait for the end of the turn (the batch so far rides along).
      fire,
    );
  }

  function recordReply(
    client: HubClient,
    principal: StationPrincipal,
    packet: PublishPacket,
    callback: (error?: Error | null) => void,
  ): void {
    const stationId = principal.id;
    const decoded = decodeStationReply(payloadString(packet.payload));
    if (!decoded.ok) {
      rejectPayload(packet, principal, 'reply', decoded.code, decoded.message);
      callback(null);
      return;
    }
    const refused = admit(client, 'actions', stationId);
    if (refused !== null) {
      callback(refused);
      return;
    }
    // The normalized reply (unknown fields stripped by the schema); the station id
    // comes from the authenticated account, never from the payload.
    writer.recordReply(stationId, JSON.stringify(decoded.value), clock.now()).then(
      () => {
        release(client);
        metrics.durableWrites.inc({ stream: 'actions', result: 'ok' });
        callback(null);
      },
      (err: unknown) => {
        release(client);
        metrics.durableWrites.inc({ stream: 'actions', result: 'failed' });
        log.error({ stationId, err }, 'station reply not stored: no PUBACK, disconnecting the station');
        callback(new BrokerError(BROKER_ERRORS.DURABLE_WRITE, 'reply not stored', { cause: err }));
      },
    );
  }

  function authorizeSubscribe(
    client: Client,
    sub: Subscription,
    callback: (error: Error | null, subscription?: Subscription | null) => void,
  ): void {
    const principal = principalOf(client);
    if (principal === undefined || hasForbiddenChar(sub.topic) || !maySubscribe(principal, sub.topic)) {
      metrics.rejections.inc({ code: REJECT_CODES.NOT_AUTHORIZED, channel: 'subscribe' });
      log.warn(
        { client: principal ? principalName(principal) : clip(client.id), topic: clip(sub.topic) },
        'subscription refused',
      );
      // A null subscription makes aedes answer SUBACK 0x80 for this filter and keep
      // the connection (docs/Aedes.md, authorizeSubscribe; handlers/subscribe.js).
      callback(null, null);
      return;
    }
    if (sub.qos > MAX_GRANTED_QOS) sub.qos = MAX_GRANTED_QOS;
    callback(null, sub);
  }

  /**
   * aedes calls this for every delivery to every subscriber. A subscriber whose socket
   * has more queued than its high-water mark (`writableNeedDrain`: the kernel buffer is
   * full and Node is buffering) would make aedes wait for 'drain' while holding one of
   * the router's concurrency slots; enough of those and routing stops for everyone
   * (and a later disconnect of that subscriber is what overflows the stack, see
   * routing-guard.ts). So QoS 0 to such a subscriber is shed, counted; QoS 1 (events,
   * pages, commands) is always delivered.
   *
   * The check runs when a delivery is scheduled, and aedes writes it a turn later
   * (setImmediate in lib/client.js deliver0), so a whole read batch can pass the check
   * before the buffer grows. With Node's default 16 KiB high-water mark those writes
   * would all wait for 'drain', each freezing its publisher's input. Service accounts
   * (the fleet-wide subscribers) therefore get a write buffer of 4x the shed bound at
   * CONNECT (`raiseWriteBuffer`): the shed bound is hit long before writes wait.
   */
  function authorizeForward(client: Client, packet: PublishPacket): PublishPacket | null {
    if (packet.qos !== 0) return packet;
    const conn = client.conn as unknown as SocketState;
    if (conn.writableNeedDrain === true || conn.writableLength >= subscriberBuffer) {
      shedBacklog.inc();
      return null;
    }
    return packet;
  }

  return {
    preConnect,
    authorizeForward,
    authenticate,
    authorizePublish,
    authorizeSubscribe,
    isDropped: (packet) => dropped.has(packet),
    inflight: () => inflight,
  };
}
