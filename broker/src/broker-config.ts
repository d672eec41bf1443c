import { isIP } from 'node:net';
import { MAX_PACKET_BYTES, parseConfig } from '@hub/protocol';
import { z } from 'zod';

/**
 * The broker's configuration, validated once at start-up from the environment (only
 * main.ts passes `process.env`; tests build a BrokerConfig directly or parse a record).
 *
 * HUB_SERVICE_SECRET is deliberately absent: service accounts are stored hashed in the
 * registry, so the broker never needs the plaintext.
 */

/** Integer from an env string; an empty string counts as unset (so `FOO=` gets the default). */
function intEnv(def: number, min: number, max: number) {
  return z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().min(min).max(max).default(def),
  );
}

function strEnv(def: string) {
  return z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).default(def));
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const brokerEnvSchema = z
  .object({
    HUB_REDIS_URL: strEnv('redis://127.0.0.1:16379').refine((v) => /^rediss?:\/\//.test(v), {
      message: 'must be a redis:// or rediss:// URL',
    }),
    HUB_KEY_PREFIX: strEnv('hub').refine((v) => /^[A-Za-z0-9_:.-]{1,64}$/.test(v), {
      message: 'must be 1-64 characters of A-Z a-z 0-9 _ : . -',
    }),
    HUB_MQTT_HOST: strEnv('127.0.0.1'),
    // 0 picks a free port (tests); the listening address is logged.
    HUB_MQTT_PORT: intEnv(18830, 0, 65535),
    HUB_BROKER_HTTP_HOST: strEnv('127.0.0.1'),
    HUB_BROKER_HTTP_PORT: intEnv(18831, 0, 65535),
    HUB_LOG_LEVEL: z.preprocess((v) => (v === '' ? undefined : v), z.enum(LOG_LEVELS).default('info')),
    /** Approximate cap of each event stream (XADD MAXLEN ~): bounds Redis memory. */
    HUB_EVENT_STREAM_MAXLEN: intEnv(1_000_000, 1000, 1_000_000_000),
    /** How long a (device, message id) stays remembered for duplicate suppression. */
    HUB_SEEN_TTL_S: intEnv(86_400, 60, 30 * 86_400),
    /**
     * ioredis auto-pipelining on the durable-write connection (1 = on): the event
     * writes issued in one event-loop turn go to Redis in one write. Fewer syscalls on
     * both sides; no change to when each PUBACK is sent.
     */
    HUB_REDIS_AUTO_PIPELINE: intEnv(0, 0, 1),
    /** A durable write not answered in this time fails: the device gets no PUBACK. */
    HUB_REDIS_COMMAND_TIMEOUT_MS: intEnv(2000, 50, 60_000),
    /** Bound on durable writes in flight across all clients; beyond it, events are refused (no PUBACK). */
    HUB_BROKER_MAX_INFLIGHT_WRITES: intEnv(10_000, 1, 1_000_000),
    /** The same bound per connection, so one flooding device cannot starve the others' alarms. */
    HUB_BROKER_MAX_INFLIGHT_PER_CLIENT: intEnv(32, 1, 65_535),
    /** Largest MQTT packet (remaining length) accepted, checked before the body is buffered. */
    HUB_MQTT_MAX_PACKET_BYTES: intEnv(MAX_PACKET_BYTES, 1024, 256 * 1024 * 1024),
    HUB_MQTT_CONNECT_TIMEOUT_MS: intEnv(30_000, 1000, 600_000),
    /**
     * Optional MQTT over TLS (mqtts) listener: off unless a port is set (0 = any free
     * port). The certificate chain and key are PEM files, read by main.ts at start.
     */
    HUB_MQTTS_PORT: z.preprocess(
      (v) => (v === '' ? undefined : v),
      z.coerce.number().int().min(0).max(65535).optional(),
    ),
    HUB_MQTTS_HOST: strEnv('127.0.0.1'),
    HUB_MQTTS_CERT_FILE: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).optional()),
    HUB_MQTTS_KEY_FILE: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).optional()),
    /**
     * Optional MQTT over WebSocket listener (subprotocol `mqtt`): off unless a port is
     * set (0 = any free port); upgrades are accepted on HUB_MQTT_WS_PATH only.
     */
    HUB_MQTT_WS_PORT: z.preprocess(
      (v) => (v === '' ? undefined : v),
      z.coerce.number().int().min(0).max(65535).optional(),
    ),
    HUB_MQTT_WS_HOST: strEnv('127.0.0.1'),
    /** 1 = the WebSocket listener speaks wss:// with HUB_MQTTS_CERT_FILE / HUB_MQTTS_KEY_FILE. */
    HUB_MQTT_WS_TLS: intEnv(0, 0, 1),
    HUB_MQTT_WS_PATH: strEnv('/mqtt').refine((v) => /^\/[A-Za-z0-9_.~/-]{0,127}$/.test(v), {
      message: 'must start with / and hold at most 128 characters of A-Z a-z 0-9 _ . ~ / -',
    }),
    /**
     * Load balancers in front of the TCP listener that send a PROXY protocol header
     * (HAProxy `send-proxy` or `send-proxy-v2`): comma-separated IP addresses. A
     * connection from one of them must start with the header, and the address in it is
     * the one the per-address limits and the login backoff see. Empty = none.
     */
    HUB_MQTT_TRUSTED_PROXIES: z.preprocess(
      (v) =>
        typeof v === 'string'
          ? v
              .split(',')
              .map((x) => x.trim())
              .filter((x) => x.length > 0)
          : [],
      z.array(z.string().refine((ip) => isIP(ip) !== 0, { message: 'must be IP addresses' })).max(64),
    ),
    /** Open MQTT connections at most (TCP, TLS and WebSocket together); more are closed at accept. */
    HUB_MQTT_MAX_CONNECTIONS: intEnv(100_000, 1, 10_000_000),
    /**
     * New connections per second (token bucket) from one source address, and its burst.
     * Generous: a carrier NAT can put thousands of devices behind one address, and they
     * all reconnect after a power cut (the fleet simulator on one machine is such a
     * case: it connects at 1,000/s by default). Tighten per deployment.
     */
    HUB_MQTT_CONN_RATE_PER_ADDRESS: intEnv(2000, 1, 1_000_000),
    HUB_MQTT_CONN_BURST_PER_ADDRESS: intEnv(10_000, 1, 1_000_000),
    /** New connections per second for the whole broker, and its burst. */
    HUB_MQTT_CONN_RATE_GLOBAL: intEnv(5000, 1, 1_000_000),
    HUB_MQTT_CONN_BURST_GLOBAL: intEnv(20_000, 1, 1_000_000),
    /** Source addresses remembered by the per-address limit (memory bound). */
    HUB_MQTT_TRACKED_ADDRESSES: intEnv(10_000, 1, 1_000_000),
    /** Failed logins: delay of the second refusal, doubled each time up to the max. */
    HUB_MQTT_LOGIN_BACKOFF_BASE_MS: intEnv(250, 0, 60_000),
    HUB_MQTT_LOGIN_BACKOFF_MAX_MS: intEnv(10_000, 0, 300_000),
    /** A failure count is forgotten this long after its last failure. */
    HUB_MQTT_LOGIN_FAILURE_MEMORY_MS: intEnv(600_000, 1000, 86_400_000),
    /** Addresses, and usernames, remembered by the login backoff (memory bound). */
    HUB_MQTT_LOGIN_TRACKED: intEnv(10_000, 1, 1_000_000),
    /** Event-loop lag at which telemetry (QoS 0) is shed until it falls below half; 0 = off. */
    HUB_BROKER_SHED_LAG_MS: intEnv(100, 0, 60_000),
    /**
     * Longest stretch of deferred ingress work (device events, then telemetry) per turn
     * of the event loop, ms (ingress-scheduler.ts); fire alarms and everything else are
     * handled at once. 0 = off (aedes handles packets in arrival order).
     */
    HUB_BROKER_INGRESS_SLICE_MS: intEnv(1, 0, 1000),
    /** Telemetry packets waiting in the ingress scheduler beyond which new ones are dropped. */
    HUB_BROKER_INGRESS_TELEMETRY_MAX: intEnv(20_000, 1, 10_000_000),
    /**
     * Messages the router may hold (in delivery or queued) before the ingress scheduler
     * stops handing it telemetry; what lies beyond waits, and is shed, at ingress.
     */
    HUB_BROKER_INGRESS_ROUTER_MAX: intEnv(150, 1, 10_000_000),
    /** Messages waiting in aedes' router beyond which QoS 0 publishes are shed. */
    HUB_BROKER_ROUTING_QUEUE_MAX: intEnv(20_000, 1, 10_000_000),
    /** Messages aedes' router delivers at once (mqemitter concurrency; aedes' default is 100). */
    HUB_BROKER_ROUTING_CONCURRENCY: intEnv(1000, 1, 1_000_000),
    /** A subscriber whose socket does not drain in this time is disconnected (aedes drainTimeout). */
    HUB_BROKER_DRAIN_TIMEOUT_MS: intEnv(30_000, 100, 600_000),
    /**
     * Redis pub/sub channel shared by the hub's broker processes (cluster-routing.ts);
     * empty = one broker process, no shared routing.
     */
    HUB_BROKER_CLUSTER_CHANNEL: z.preprocess(
      (v) => (v === '' ? undefined : v),
      z
        .string()
        .regex(/^[A-Za-z0-9_:.-]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9 _ : . -')
        .optional(),
    ),
    /**
     * Bytes queued in Node for one subscriber beyond which QoS 0 to it is shed. Service
     * accounts (the fleet-wide subscribers) get a socket write buffer of 4x this, so
     * aedes never waits for 'drain' below it (see broker-hooks.ts, authorizeForward).
     */
    HUB_BROKER_SUBSCRIBER_BUFFER_BYTES: intEnv(1024 * 1024, 16 * 1024, 256 * 1024 * 1024),
  })
  .refine(
    (e) =>
      e.HUB_MQTTS_PORT === undefined ||
      (e.HUB_MQTTS_CERT_FILE !== undefined && e.HUB_MQTTS_KEY_FILE !== undefined),
    { message: 'HUB_MQTTS_PORT needs HUB_MQTTS_CERT_FILE and HUB_MQTTS_KEY_FILE', path: ['HUB_MQTTS_PORT'] },
  )
  .refine(
    (e) =>
      e.HUB_MQTT_WS_TLS === 0 || (e.HUB_MQTTS_CERT_FILE !== undefined && e.HUB_MQTTS_KEY_FILE !== undefined),
    {
      message: 'HUB_MQTT_WS_TLS=1 needs HUB_MQTTS_CERT_FILE and HUB_MQTTS_KEY_FILE',
      path: ['HUB_MQTT_WS_TLS'],
    },
  )
  .transform((e) => ({
    redisUrl: e.HUB_REDIS_URL,
    keyPrefix: e.HUB_KEY_PREFIX,
    logLevel: e.HUB_LOG_LEVEL,
    mqtt: {
      host: e.HUB_MQTT_HOST,
      port: e.HUB_MQTT_PORT,
      maxPacketBytes: e.HUB_MQTT_MAX_PACKET_BYTES,
      connectTimeoutMs: e.HUB_MQTT_CONNECT_TIMEOUT_MS,
      trustedProxies: e.HUB_MQTT_TRUSTED_PROXIES,
    },
    admission: {
      maxConnections: e.HUB_MQTT_MAX_CONNECTIONS,
      perAddressRatePerS: e.HUB_MQTT_CONN_RATE_PER_ADDRESS,
      perAddressBurst: e.HUB_MQTT_CONN_BURST_PER_ADDRESS,
      globalRatePerS: e.HUB_MQTT_CONN_RATE_GLOBAL,
      globalBurst: e.HUB_MQTT_CONN_BURST_GLOBAL,
      maxTrackedAddresses: e.HUB_MQTT_TRACKED_ADDRESSES,
    },
    loginBackoff: {
      baseMs: e.HUB_MQTT_LOGIN_BACKOFF_BASE_MS,
      maxMs: e.HUB_MQTT_LOGIN_BACKOFF_MAX_MS,
      forgetAfterMs: e.HUB_MQTT_LOGIN_FAILURE_MEMORY_MS,
      maxTracked: e.HUB_MQTT_LOGIN_TRACKED,
    },
    overload: {
      shedLagMs: e.HUB_BROKER_SHED_LAG_MS,
      ingressSliceMs: e.HUB_BROKER_INGRESS_SLICE_MS,
      ingressTelemetryMax: e.HUB_BROKER_INGRESS_TELEMETRY_MAX,
      ingressRouterMax: e.HUB_BROKER_INGRESS_ROUTER_MAX,
      routingQueueMax: e.HUB_BROKER_ROUTING_QUEUE_MAX,
      routingConcurrency: e.HUB_BROKER_ROUTING_CONCURRENCY,
      drainTimeoutMs: e.HUB_BROKER_DRAIN_TIMEOUT_MS,
      subscriberBufferBytes: e.HUB_BROKER_SUBSCRIBER_BUFFER_BYTES,
    },
    clusterChannel: e.HUB_BROKER_CLUSTER_CHANNEL ?? null,
    mqtts:
      e.HUB_MQTTS_PORT === undefined
        ? null
        : {
            host: e.HUB_MQTTS_HOST,
            port: e.HUB_MQTTS_PORT,
            certFile: e.HUB_MQTTS_CERT_FILE as string,
            keyFile: e.HUB_MQTTS_KEY_FILE as string,
          },
    ws:
      e.HUB_MQTT_WS_PORT === undefined
        ? null
        : {
            host: e.HUB_MQTT_WS_HOST,
            port: e.HUB_MQTT_WS_PORT,
            path: e.HUB_MQTT_WS_PATH,
            tls: e.HUB_MQTT_WS_TLS === 1,
          },
    /** The PEM files main.ts reads when mqtts or wss is on (null unless both are set). */
    certificate:
      e.HUB_MQTTS_CERT_FILE !== undefined && e.HUB_MQTTS_KEY_FILE !== undefined
        ? { certFile: e.HUB_MQTTS_CERT_FILE, keyFile: e.HUB_MQTTS_KEY_FILE }
        : null,
    http: { host: e.HUB_BROKER_HTTP_HOST, port: e.HUB_BROKER_HTTP_PORT },
    durable: {
      streamMaxLen: e.HUB_EVENT_STREAM_MAXLEN,
      seenTtlS: e.HUB_SEEN_TTL_S,
      commandTimeoutMs: e.HUB_REDIS_COMMAND_TIMEOUT_MS,
      autoPipeline: e.HUB_REDIS_AUTO_PIPELINE === 1,
      maxInflight: e.HUB_BROKER_MAX_INFLIGHT_WRITES,
      maxInflightPerClient: e.HUB_BROKER_MAX_INFLIGHT_PER_CLIENT,
    },
  }));

export type BrokerConfig = z.output<typeof brokerEnvSchema>;

/** Parses and freezes the broker config; throws ConfigError listing every violation. */
export function parseBrokerConfig(env: Record<string, string | undefined>): Readonly<BrokerConfig> {
  const config = parseConfig('broker', brokerEnvSchema, env);
  Object.freeze(config.mqtt);
  Object.freeze(config.http);
  Object.freeze(config.durable);
  Object.freeze(config.admission);
  Object.freeze(config.loginBackoff);
  Object.freeze(config.overload);
  if (config.mqtts !== null) Object.freeze(config.mqtts);
  if (config.ws !== null) Object.freeze(config.ws);
  if (config.certificate !== null) Object.freeze(config.certificate);
  return config;
}
