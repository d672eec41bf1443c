import type { IncomingMessage } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createSecureContext, createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { hubKeys, REJECT_CODES } from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { BrokerConfig } from './broker-config.js';
import { BROKER_REJECT_CODES } from './broker-errors.js';
import { createBrokerHooks } from './broker-hooks.js';
import { type BrokerMetrics, createBrokerMetrics, type ListenerLabel } from './broker-metrics.js';
import { shareRouting } from './cluster-routing.js';
import { ConnectionAdmission } from './connection-admission.js';
import { DurableWriter } from './durable-writer.js';
import { type FrameShedder, shedFrames } from './frame-shedder.js';
import { IngressScheduler } from './ingress-scheduler.js';
import { LagMonitor, startLagSampler } from './lag-monitor.js';
import { LoginBackoff } from './login-backoff.js';
import { guardPackets } from './packet-guard.js';
import { capPacketSize } from './packet-size-cap.js';
import { installPacketWriter, packetWriterStats } from './packet-writer.js';
import { readProxyHeader } from './proxied-socket.js';
import { guardRouting, type RoutingGuard } from './routing-guard.js';
import { createWsListener, type WsListener } from './ws-listener.js';

export interface CreateBrokerOptions {
  config: Readonly<BrokerConfig>;
  /** Anything with a current snapshot: a RegistryCache, or `{ current: snapshot }` in tests. */
  registry: { readonly current: RegistrySnapshot };
  /**
   * A Redis connection dedicated to durable writes, created with
   * `enableOfflineQueue: false` and `commandTimeout` (see durable-writer.ts).
   */
  redis: Redis;
  /**
   * Another such connection for fire alarms alone (default: `redis`). On one
   * connection Redis answers in order, and an alarm waited behind every batch in
   * flight: with 8 events in flight per device that was about 100 ms.
   */
  fireRedis?: Redis;
  logger: Logger;
  /** Hub receive time (`r` of stream entries), ms since the epoch. */
  clock?: { now(): number };
  /**
   * Share routing with other broker processes through Redis pub/sub
   * (cluster-routing.ts): two dedicated connections (`sub` goes into subscriber mode)
   * and the channel every broker of the hub uses.
   */
  cluster?: { pub: Redis; sub: Redis; channel: string };
  /** PEM certificate chain and key of the mqtts listener (when config.mqtts is set). */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface ListenAddresses {
  host: string;
  port: number;
  tlsPort?: number;
  wsPort?: number;
}

export interface HubBroker {
  readonly aedes: Aedes;
  readonly metrics: BrokerMetrics;
  /**
   * Starts aedes, the MQTT TCP listener on config.mqtt.host:port (0 = any free port)
   * and, when configured, the mqtts listener (`tlsPort`) and the MQTT over WebSocket
   * listener (`wsPort`).
   */
  listen(): Promise<ListenAddresses>;
  /** True when the MQTT listener is up and Redis answers PING. */
  ready(): Promise<boolean>;
  /**
   * Replaces the certificate and key of the mqtts and wss listeners: new handshakes use
   * them, open connections keep theirs (no device has to reconnect). Throws, keeping
   * the old pair, when the new one is not a valid certificate/key pair.
   */
  reloadCertificate(tls: { cert: string | Buffer; key: string | Buffer }): void;
  /** Closes the listener and every client connection. Does not close `redis`. */
  close(): Promise<void>;
}

function ignoreError(): void {}

/** How often the event-loop lag is sampled. */
const LAG_SAMPLE_MS = 20;

/** The aedes 1.2 internals wrapped here (lib/../aedes.js); not in its typings. */
interface AedesInternals {
  registerClient(client: Client): void;
  clients: Record<string, Client | undefined>;
}

type PublishFn = (
  packet: PublishPacket,
  client: Client | null | ((err?: Error) => void),
  done?: () => void,
) => void;

/**
 * Builds the device-facing MQTT broker: aedes with the hub's hooks (broker-hooks.ts),
 * a TCP listener with TCP_NODELAY (Nagle costs 19-28 ms of p99 here) and a cap on the
 * declared packet size. No environment access: main.ts passes config and connections.
 */
export function createBroker(opts: CreateBrokerOptions): HubBroker {
  const { config, registry, redis, logger: log } = opts;
  const clock = opts.clock ?? { now: Date.now };
  const keys = hubKeys(config.keyPrefix);
  let onBatch: ((events: number) => void) | undefined;
  const writer = new DurableWriter(redis, keys, {
    ...config.durable,
    onBatch: (events) => onBatch?.(events),
    ...(opts.fireRedis !== undefined ? { fireRedis: opts.fireRedis } : {}),
  });

  if (redis.options.enableOfflineQueue !== false || !redis.options.commandTimeout) {
    // Not fatal (tests may pass a plain connection), but a device could then wait
    // unboundedly for its PUBACK while Redis is down.
    log.warn('durable-write Redis connection should have enableOfflineQueue: false and a commandTimeout');
  }

  /** Admitted sockets open now, per listener (admission.open is their sum). */
  const openBy: Record<ListenerLabel, number> = { tcp: 0, tls: 0, ws: 0 };
  let hooksRef: ReturnType<typeof createBrokerHooks> | null = null;
  let aedesRef: Aedes | null = null;
  const admission = new ConnectionAdmission(config.admission, clock.now());
  const lag = new LagMonitor({ onMs: config.overload.shedLagMs, offMs: config.overload.shedLagMs / 2 });
  let routing: RoutingGuard | null = null;
  let ingressRef: IngressScheduler | null = null;
  const backoff = new LoginBackoff(config.loginBackoff);
  const metrics = createBrokerMetrics({
    connectedClients: () => (aedesRef as { connectedClients?: number } | null)?.connectedClients ?? 0,
    inflight: () => hooksRef?.inflight() ?? 0,
    openSockets: () => admission.open,
    openSocketsBy: () => openBy,
    tracked: () => ({ addresses: admission.trackedAddresses, logins: backoff.tracked }),
    lagMs: () => lag.lagMs,
    routingQueued: () => routing?.queued() ?? 0,
    packetWriter: () => packetWriterStats,
    ingress: () => ({
      events: ingressRef?.queued.events ?? 0,
      telemetry: ingressRef?.queued.telemetry ?? 0,
      slicesExhausted: ingressRef?.slicesExhausted ?? 0,
    }),
  });
  const ingress = new IngressScheduler({
    sliceMs: config.overload.ingressSliceMs,
    maxTelemetryQueued: config.overload.ingressTelemetryMax,
    routerLoad: () => routing?.load() ?? 0,
    maxRouterLoad: config.overload.ingressRouterMax,
    onShed: metrics.shedBy.ingress_queue.inc.bind(metrics.shedBy.ingress_queue),
    onEventsOverflow: (client) => {
      const c = client as Client;
      metrics.rejections.inc({ code: BROKER_REJECT_CODES.RATE_LIMITED, channel: 'event' });
      log.warn({ clientId: c.id }, 'too many device events waiting: closing the connection (no PUBACK)');
      c.conn.destroy();
    },
  });
  ingressRef = ingress;
  const shedCounter = metrics.shed.labels('ingress_queue');
  const frameShedder: FrameShedder = {
    get shedding() {
      return ingress.shedding;
    },
    onDropped: (frames, parser) => {
      shedCounter.inc(frames);
      ingress.gate(parser as Parameters<IngressScheduler['gate']>[0]);
    },
  };
  onBatch = metrics.durableBatchEvents.observe.bind(metrics.durableBatchEvents);
  const hooks = createBrokerHooks({
    registry,
    keys,
    writer,
    metrics,
    logger: log,
    clock,
    maxInflight: config.durable.maxInflight,
    maxInflightPerClient: config.durable.maxInflightPerClient,
    backoff,
    lag,
    subscriberBufferBytes: config.overload.subscriberBufferBytes,
  });
  hooksRef = hooks;

  const aedes = new Aedes({
    connectTimeout: config.mqtt.connectTimeoutMs,
    // Client ids of accounts may carry a suffix (`hub-ingest-2`); applies to MQTT 3.1 only.
    maxClientsIdLength: 128,
    // The v1 tree has 4 levels; anything much deeper is abuse.
    maxTopicLevels: 16,
    preConnect: hooks.preConnect as never,
    authenticate: hooks.authenticate,
    authorizePublish: hooks.authorizePublish,
    authorizeSubscribe: hooks.authorizeSubscribe,
    authorizeForward: hooks.authorizeForward as never,
    concurrency: config.overload.routingConcurrency,
    drainTimeout: config.overload.drainTimeoutMs,
  });
  aedesRef = aedes;
  routing = guardRouting((aedes as unknown as { mq: unknown }).mq, {
    maxQueue: config.overload.routingQueueMax,
    onShed: metrics.shedBy.routing_queue.inc.bind(metrics.shedBy.routing_queue),
  });
  let stopLag: (() => void) | null = null;
  let uninstallWriter: (() => void) | null = null;
  const cluster =
    opts.cluster === undefined
      ? null
      : shareRouting((aedes as unknown as { mq: unknown }).mq, {
          ...opts.cluster,
          brokerId: aedes.id,
          onReceived: metrics.clusterReceived.inc.bind(metrics.clusterReceived),
          onPublishError: (err) => {
            metrics.clusterPublishErrors.inc();
            log.warn({ err }, 'cluster routing: PUBLISH to Redis failed (message routed locally only)');
          },
          retained: {
            key: keys.brokerRetained,
            store: (packet) =>
              (
                aedes as unknown as { persistence: { storeRetained(p: unknown): Promise<void> } }
              ).persistence.storeRetained(packet),
            onError: (err) =>
              log.warn({ err }, 'cluster routing: shared retained message not written or stored'),
            onLoaded: (count) => log.info({ count }, 'cluster routing: shared retained messages loaded'),
          },
          // A takeover on another broker: the local connection's will must not fire.
          onRemoteNewClient: (clientId) => {
            const previous = (aedes as unknown as AedesInternals).clients[clientId];
            if (previous !== undefined && !previous.closed) dropForTakeover(previous, 'on another broker');
          },
        });

  // Acknowledged-but-dropped publishes (invalid payloads, see broker-hooks.ts) reach
  // `broker.publish` from aedes' enqueuePublish after the PUBACK was written; skip
  // them there so they are never routed, retained or queued.
  const routePublish = aedes.publish as unknown as PublishFn;
  (aedes as unknown as { publish: PublishFn }).publish = function hubPublish(packet, client, done) {
    if (hooks.isDropped(packet)) {
      const cb = typeof client === 'function' ? client : done;
      if (cb !== undefined) setImmediate(cb);
      return;
    }
    routePublish.call(aedes, packet, client, done);
  };

  /** The connection aedes is about to close for a takeover: its will must not fire. */
  function dropForTakeover(previous: Client, where: string): void {
    (previous as unknown as { will: unknown }).will = null;
    metrics.takeovers.inc();
    log.info(
      { clientId: previous.id, where },
      'same client id connected again: closing the previous connection',
    );
  }

  // [MQTT-3.1.4-2]: a second CONNECT with the same client id closes the first
  // connection (aedes does it in registerClient). The old connection's will is dropped
  // first: the device is online again on the new connection, and an `offline` will
  // published after the new connection's `online` status would leave the wrong
  // retained state.
  const internals = aedes as unknown as AedesInternals;
  const registerClient = internals.registerClient.bind(aedes);
  internals.registerClient = (client: Client) => {
    const previous = internals.clients[client.id];
    if (previous !== undefined && previous !== client && !previous.closed) dropForTakeover(previous, 'here');
    registerClient(client);
  };

  aedes.on('clientError', (client, err) => {
    log.debug({ clientId: client.id, err: err.message }, 'client error: connection closed');
  });
  aedes.on('connectionError', (_client, err) => {
    // aedes' connect timer (lib/client.js): the CONNECT did not arrive, or only part of it.
    if (err.message === 'connect did not arrive in time') metrics.connects.inc({ result: 'timeout' });
    log.debug({ err: err.message }, 'connection error before CONNECT completed');
  });
  // aedes emits 'error' for persistence failures; without a listener it would throw.
  // (aedes' typings omit the 'error' event, hence the EventEmitter view.)
  (aedes as unknown as NodeJS.EventEmitter).on('error', (err: Error) => {
    log.error({ err }, 'aedes error');
  });

  const maxPacketBytes = config.mqtt.maxPacketBytes;
  function onOversize(length: number, clientId: string | null): void {
    metrics.rejections.inc({ code: REJECT_CODES.TOO_LARGE, channel: 'packet' });
    log.warn({ clientId, length, limit: maxPacketBytes }, 'packet too large: closing the connection');
  }

  function onRefusedPacket(reason: string, cmd: string): void {
    metrics.rejections.inc({ code: BROKER_REJECT_CODES.PROTOCOL, channel: 'packet' });
    log.warn({ reason, cmd }, 'protocol violation: closing the connection');
  }

  const refusedBy = {
    max_connections: metrics.connectionsRefused.labels('max_connections'),
    rate_address: metrics.connectionsRefused.labels('rate_address'),
    rate_global: metrics.connectionsRefused.labels('rate_global'),
  };
  // Shared by every socket of a listener ('close' listener): no closure per connection.
  const onSocketClosed: Record<ListenerLabel, () => void> = {
    tcp: () => {
      admission.closed();
      openBy.tcp--;
    },
    tls: () => {
      admission.closed();
      openBy.tls--;
    },
    ws: () => {
      admission.closed();
      openBy.ws--;
    },
  };

  /**
   * Admission at TCP accept, before aedes (or the TLS handshake, or the WebSocket
   * upgrade) sees the socket: a refused connection costs no parser, no client object,
   * no timer and no handshake. One admission for all listeners: the cap and the rate
   * limits count TCP, TLS and WebSocket connections together.
   */
  function admitSocket(socket: Socket, listener: ListenerLabel, address = socket.remoteAddress): boolean {
    const refused = admission.admit(address ?? 'unknown', clock.now());
    if (refused !== null) {
      refusedBy[refused].inc();
      socket.on('error', ignoreError);
      socket.destroy();
      return false;
    }
    openBy[listener]++;
    metrics.socketsAcceptedBy[listener].inc();
    socket.once('close', onSocketClosed[listener]);
    return true;
  }

  // Node reports an IPv4 peer on a dual-stack listener as ::ffff:a.b.c.d.
  const trustedProxies = new Set(config.mqtt.trustedProxies);
  const unmapped = (a: string | undefined): string =>
    a === undefined ? 'unknown' : a.startsWith('::ffff:') ? a.slice(7) : a;

  function onConnection(socket: Socket): void {
    if (trustedProxies.size === 0 || !trustedProxies.has(unmapped(socket.remoteAddress))) {
      if (admitSocket(socket, 'tcp')) handleSocket(socket);
      return;
    }
    // From a trusted load balancer: the PROXY header first, then admission with the
    // address it names (proxied-socket.ts).
    readProxyHeader(socket, config.mqtt.connectTimeoutMs, (address, reason) => {
      if (address === null) {
        metrics.connectionsRefused.inc({ reason: 'proxy_header' });
        log.warn(
          { proxy: socket.remoteAddress, reason },
          'PROXY protocol header missing or invalid: closing',
        );
        socket.destroy();
        return;
      }
      if (admitSocket(socket, 'tcp', address)) handleSocket(socket);
    });
  }

  /**
   * Every listener's MQTT byte stream goes through here: the same aedes client (hooks:
   * authentication, authorization, durable writes, connect timer), packet-size cap and
   * packet guard. `req` is the WebSocket upgrade request (aedes keeps it as client.req;
   * the hooks read the peer address from it when the stream is not a socket).
   */
  function handleSocket(stream: Socket | Duplex, req?: IncomingMessage): void {
    const client = aedes.handle(stream, req);
    capPacketSize(client, maxPacketBytes, onOversize);
    guardPackets(client, onRefusedPacket);
    if (ingress.enabled) {
      shedFrames(client, frameShedder);
      ingress.attach(client);
    }
  }

  let server: Server | null = null;
  let tlsServer: TlsServer | null = null;
  let wsListener: WsListener | null = null;
  let listening = false;

  function listenOn(srv: Server, port: number, host: string): Promise<AddressInfo> {
    return new Promise<AddressInfo>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        resolve(srv.address() as AddressInfo);
      });
    });
  }

  async function listenTls(): Promise<number | undefined> {
    const mqtts = config.mqtts;
    if (mqtts === null) return undefined;
    if (opts.tls === undefined) throw new Error('config.mqtts is set but no tls certificate/key was passed');
    const srv = createTlsServer({
      cert: opts.tls.cert,
      key: opts.tls.key,
      noDelay: true,
      // A handshake that does not finish is a half-open connection like a missing CONNECT.
      handshakeTimeout: config.mqtt.connectTimeoutMs,
    });
    // 'connection' is the raw TCP socket (before the handshake): admission there.
    srv.on('connection', (raw: Socket) => {
      admitSocket(raw, 'tls');
    });
    srv.on('secureConnection', handleSocket);
    srv.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake failed'));
    srv.on('error', (err) => log.error({ err }, 'MQTTS listener error'));
    tlsServer = srv;
    return (await listenOn(srv, mqtts.port, mqtts.host)).port;
  }

  const wsRefusedBy = {
    ws_not_upgrade: metrics.connectionsRefused.labels('ws_not_upgrade'),
    ws_bad_path: metrics.connectionsRefused.labels('ws_bad_path'),
    ws_bad_subprotocol: metrics.connectionsRefused.labels('ws_bad_subprotocol'),
  };

  async function listenWs(): Promise<number | undefined> {
    const ws = config.ws;
    if (ws === null) return undefined;
    if (ws.tls && opts.tls === undefined)
      throw new Error('config.ws.tls is set but no tls certificate/key was passed');
    const l = createWsListener({
      path: ws.path,
      maxPacketBytes,
      handshakeTimeoutMs: config.mqtt.connectTimeoutMs,
      ...(ws.tls && opts.tls !== undefined ? { tls: opts.tls } : {}),
      admit: (socket) => admitSocket(socket, 'ws'),
      handle: handleSocket,
      onRefused: (reason, detail) => {
        wsRefusedBy[reason].inc();
        log.warn({ reason, detail }, 'WebSocket upgrade refused');
      },
      onWsError: (err) => {
        // ws closes the connection itself (1009 for an oversize message, 1002 for a
        // bad frame); the MQTT stream ends with it.
        if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
          metrics.rejections.inc({ code: REJECT_CODES.TOO_LARGE, channel: 'packet' });
          log.warn({ err: err.message }, 'WebSocket message too large: closing the connection');
          return;
        }
        metrics.rejections.inc({ code: BROKER_REJECT_CODES.PROTOCOL, channel: 'packet' });
        log.warn({ err: err.message, code: err.code }, 'WebSocket protocol error: closing the connection');
      },
      onTextFrame: () => {
        metrics.rejections.inc({ code: BROKER_REJECT_CODES.PROTOCOL, channel: 'packet' });
        log.warn('WebSocket text frame (MQTT is binary): closing the connection');
      },
      onServerError: (err) => log.error({ err }, 'MQTT over WebSocket listener error'),
    });
    wsListener = l;
    return (await listenOn(l.server, ws.port, ws.host)).port;
  }

  async function listen(): Promise<ListenAddresses> {
    await aedes.listen();
    uninstallWriter = installPacketWriter();
    stopLag = startLagSampler(lag, LAG_SAMPLE_MS);
    await cluster?.start();
    // Prime Redis' script cache; a failure is not fatal (EVAL fallback, and the
    // broker must come up to carry telemetry while Redis is away).
    writer.load().catch((err: unknown) => log.warn({ err }, 'could not load the event script (will EVAL)'));
    // noDelay: TCP_NODELAY on every accepted socket.
    const srv = createServer({ noDelay: true }, onConnection);
    server = srv;
    srv.on('error', (err) => log.error({ err }, 'MQTT listener error'));
    const addr = await listenOn(srv, config.mqtt.port, config.mqtt.host);
    const tlsPort = await listenTls();
    const wsPort = await listenWs();
    listening = true;
    return {
      host: addr.address,
      port: addr.port,
      ...(tlsPort !== undefined ? { tlsPort } : {}),
      ...(wsPort !== undefined ? { wsPort } : {}),
    };
  }

  async function ready(): Promise<boolean> {
    if (!listening) return false;
    try {
      return await writer.ping();
    } catch {
      return false;
    }
  }

  async function close(): Promise<void> {
    listening = false;
    stopLag?.();
    await cluster?.stop();
    const srv = server;
    server = null;
    const tls = tlsServer;
    tlsServer = null;
    const ws = wsListener;
    wsListener = null;
    const serverClosed = Promise.all([
      ...[srv, tls].map((x) =>
        x === null ? Promise.resolve() : new Promise<void>((resolve) => x.close(() => resolve())),
      ),
      ws?.close(),
    ]);
    ingress.close();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await serverClosed;
    uninstallWriter?.();
    uninstallWriter = null;
  }

  function reloadCertificate(next: { cert: string | Buffer; key: string | Buffer }): void {
    // Validates the pair once (createSecureContext throws on a bad PEM or a key that
    // does not match) before either listener switches.
    createSecureContext({ cert: next.cert, key: next.key });
    tlsServer?.setSecureContext({ cert: next.cert, key: next.key });
    (wsListener?.server as { setSecureContext?: (o: object) => void } | undefined)?.setSecureContext?.({
      cert: next.cert,
      key: next.key,
    });
  }

  return { aedes, metrics, listen, ready, reloadCertificate, close };
}
