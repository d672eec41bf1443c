import { createServer } from 'node:http';
import { ConfigError, EXIT_CONFIG, hubKeys, parseConfig } from '@hub/protocol';
import { RegistryCache } from '@hub/registry';
import { setLogger as setInfluxClientLogger } from '@influxdata/influxdb-client';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createCarrierRoutes } from './carrier-routes.js';
import { DiskSpool } from './disk-spool.js';
import { HeartbeatPolicy } from './heartbeat-policy.js';
import { HeartbeatSupervisor } from './heartbeat-supervisor.js';
import { createHttpHandler } from './http-handler.js';
import { HubEventWriter } from './hub-event-writer.js';
import { ensureInfluxSchema } from './influx-schema.js';
import { InfluxWriter } from './influx-writer.js';
import { influxAuthOf, ingestConfigSchema, spoolDirOf, writePolicyOf } from './ingest-config.js';
import { createIngestMetrics } from './ingest-metrics.js';
import { MqttSource } from './mqtt-source.js';
import { RuleEngine } from './rule-engine.js';
import { SpoolingSink } from './spooling-sink.js';
import { TelemetryPipeline } from './telemetry-pipeline.js';

/**
 * Entry point: the only file that reads the environment, opens connections and listens.
 *
 * Start-up: config → Redis + registry snapshot → CREATE DATABASE (retried until
 * InfluxDB answers) → writer → MQTT subscription → HTTP (/livez /readyz /metrics).
 * Shutdown (SIGTERM/SIGINT): stop MQTT first (no new lines), then flush and wait for
 * InfluxDB to acknowledge what was accepted (bounded), then close the rest.
 */

const SERVICE = 'hub-ingest';
/** /readyz needs an InfluxDB /ping answered within this window. */
const PING_EVERY_MS = 5_000;
const PING_FRESH_MS = 15_000;
const SHUTDOWN_DRAIN_MS = 10_000;

async function main(): Promise<void> {
  let config: ReturnType<typeof parseConfig<typeof ingestConfigSchema>>;
  try {
    config = parseConfig(SERVICE, ingestConfigSchema, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
  const log = pino({ name: SERVICE, level: config.HUB_LOG_LEVEL });
  const influxLog = log.child({ component: 'influxdb-client' });
  // The client logs every retried batch; the writer already logs failures (rate-limited)
  // and counts them, so the client's own lines go to debug / warn instead of flooding.
  setInfluxClientLogger({
    error: (message, err) => influxLog.warn({ err }, message),
    warn: (message, err) => influxLog.debug({ err }, message),
  });

  const keys = hubKeys(config.HUB_KEY_PREFIX);
  const redis = new Redis(config.HUB_REDIS_URL, { maxRetriesPerRequest: 3 });
  const subscriber = new Redis(config.HUB_REDIS_URL, { maxRetriesPerRequest: null });
  // Assigned right below; a reload before then needs no re-seed (start() seeds).
  let supervisor: HeartbeatSupervisor | null = null;
  const registry = await RegistryCache.start({
    redis,
    subscriber,
    keys,
    onReload: (s) => {
      log.info({ version: s.version, devices: s.devices.size, rejected: s.rejected }, 'registry loaded');
      // New devices get a deadline too (never-seen devices become silent in time).
      supervisor?.seed().catch((err: Error) => log.warn({ err: err.message }, 'liveness seed failed'));
    },
    onError: (err) => log.error({ err }, 'registry reload failed'),
  });

  const metrics = createIngestMetrics();
  // Opened before anything is written: recovers (and will replay) the previous run's spool.
  const spool = new DiskSpool({
    dir: spoolDirOf(config),
    maxBytes: config.HUB_INGEST_SPOOL_MAX_BYTES,
    segmentBytes: config.HUB_INGEST_SPOOL_SEGMENT_BYTES,
    fsync: config.HUB_INGEST_SPOOL_FSYNC,
    fsyncIntervalMs: config.HUB_INGEST_SPOOL_FSYNC_INTERVAL_MS,
    chunkLines: config.HUB_INGEST_BATCH_SIZE,
  });
  if (spool.pendingLines > 0) {
    log.info(
      { lines: spool.pendingLines, bytes: spool.usedBytes, truncated: spool.stats.truncatedBytes },
      'spool from the previous run will be replayed',
    );
  }
  // The writer spills into the sink that wraps it: a late-bound reference.
  const spillTo: { sink: SpoolingSink | null } = { sink: null };
  const writer = new InfluxWriter({
    url: config.HUB_INFLUX_URL,
    database: config.HUB_INFLUX_DB,
    auth: influxAuthOf(config),
    batchSize: config.HUB_INGEST_BATCH_SIZE,
    flushIntervalMs: config.HUB_INGEST_FLUSH_INTERVAL_MS,
    maxBufferedLines: config.HUB_INGEST_MAX_BUFFERED_LINES,
    retentionPolicy: writePolicyOf(config),
    gzipThreshold:
      config.HUB_INGEST_GZIP_MIN_BYTES === 0 ? Number.MAX_SAFE_INTEGER : config.HUB_INGEST_GZIP_MIN_BYTES,
    observeWriteLatency: metrics.observeWriteLatency,
    spill: (lines) => spillTo.sink?.spill(lines),
    logger: log.child({ component: 'influx-writer' }),
  });
  const sink = new SpoolingSink({
    writer,
    spool,
    http: writer.http,
    logger: log.child({ component: 'spool' }),
  });
  spillTo.sink = sink;

  let stopping = false;
  // The schema is created in the background: when InfluxDB is down at start-up, ingest
  // still subscribes and spools (writes to a missing database are spooled too).
  let schemaReady = false;
  void (async () => {
    for (let attempt = 1; !stopping; attempt++) {
      try {
        if (config.HUB_INFLUX_SCHEMA === 'manage') {
          const report = await ensureInfluxSchema(writer.http, {
            database: config.HUB_INFLUX_DB,
            rawPolicy: writePolicyOf(config),
            rawDuration: config.HUB_INFLUX_RAW_RETENTION,
            longPolicy: config.HUB_INFLUX_LONG_RP,
            longDuration: config.HUB_INFLUX_LONG_RETENTION,
          });
          log.info({ db: config.HUB_INFLUX_DB, ...report }, 'InfluxDB schema ready');
        }
        schemaReady = true;
        return;
      } catch (err) {
        const delay = Math.min(10_000, 250 * 2 ** Math.min(attempt, 6));
        log.warn(
          { err: (err as Error).message, attempt, retryInMs: delay },
          'InfluxDB not ready (schema set-up)',
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  })();

  let lastPingOkAt = Number.NEGATIVE_INFINITY;
  const ping = () =>
    void writer.http.ping(PING_EVERY_MS).then((ok) => {
      if (ok) lastPingOkAt = Date.now();
    });
  ping();
  const pingTimer = setInterval(ping, PING_EVERY_MS);

  if (config.HUB_INGEST_HEARTBEAT_ENABLED) {
    supervisor = new HeartbeatSupervisor({
      redis,
      keys,
      policy: new HeartbeatPolicy(config.HUB_INGEST_HEARTBEAT),
      registry,
      tickMs: config.HUB_INGEST_HEARTBEAT_TICK_MS,
      utcOffsetMinutes: config.HUB_UTC_OFFSET_MINUTES,
      streamMaxLen: config.HUB_EVENT_STREAM_MAXLEN,
      logger: log.child({ component: 'heartbeat' }),
    });
    await supervisor.start();
  }
  const hb = supervisor;
  // A dedicated connection: rule events queue behind nothing else on it.
  const eventRedis = new Redis(config.HUB_REDIS_URL, { maxRetriesPerRequest: 3 });
  const ruleEvents = new HubEventWriter({
    redis: eventRedis,
    keys,
    streamMaxLen: config.HUB_EVENT_STREAM_MAXLEN,
    logger: log.child({ component: 'rule-events' }),
  });
  const rules = config.HUB_INGEST_RULES_ENABLED
    ? new RuleEngine(config.HUB_INGEST_RULES, ruleEvents.push)
    : null;

  const pipeline = new TelemetryPipeline({
    registry,
    sink,
    onSeen: hb === null ? undefined : (deviceId, at) => hb.seen(deviceId, at),
    onTelemetry: rules === null ? undefined : (t, device, at) => rules.evaluate(t, device, at),
    logger: log.child({ component: 'pipeline' }),
  });
  const mqttSource = new MqttSource({
    url: config.HUB_MQTT_URL,
    username: 'hub-ingest',
    password: config.HUB_SERVICE_SECRET,
    clientId: `hub-ingest-${process.pid}`,
    onMessage: (topic, payload, receivedAt, retained) =>
      pipeline.handleMessage(topic, payload, receivedAt, retained),
    logger: log.child({ component: 'mqtt' }),
  });
  const carrier =
    config.HUB_INGEST_CARRIER_PORT === undefined
      ? null
      : createCarrierRoutes({
          redis: eventRedis,
          keys,
          registry,
          handle: (topic, payload, at) => pipeline.handleMessage(topic, payload, at),
          onenetToken: config.HUB_ONENET_TOKEN,
          ctwingToken: config.HUB_CTWING_TOKEN,
          idPrefix: config.HUB_CARRIER_ID_PREFIX,
          ctwingUseImei: config.HUB_CTWING_DEVICE_ID === 'imei',
          streamMaxLen: config.HUB_EVENT_STREAM_MAXLEN,
          logger: log.child({ component: 'carrier' }),
        });
  metrics.bind({
    writer,
    pipeline,
    mqtt: mqttSource,
    spool,
    sink,
    heartbeat: hb ?? undefined,
    rules: rules ?? undefined,
    ruleEvents,
  });
  sink.start();
  mqttSource.start();

  const server = createServer(
    createHttpHandler({
      metrics: metrics.registry,
      readiness: () => ({
        influx: schemaReady && Date.now() - lastPingOkAt < PING_FRESH_MS,
        mqtt: mqttSource.ready,
      }),
    }),
  );
  await new Promise<void>((resolve) => server.listen(config.HUB_INGEST_HTTP_PORT, resolve));
  let carrierServer: ReturnType<typeof createServer> | null = null;
  if (carrier !== null) {
    const cs = createServer(carrier.handler);
    carrierServer = cs;
    await new Promise<void>((resolve) =>
      cs.listen(config.HUB_INGEST_CARRIER_PORT, config.HUB_INGEST_CARRIER_HOST, resolve),
    );
    log.info(
      {
        port: config.HUB_INGEST_CARRIER_PORT,
        onenet: config.HUB_ONENET_TOKEN !== undefined,
        ctwing: config.HUB_CTWING_TOKEN !== undefined,
      },
      'carrier push routes listening',
    );
  }
  log.info({ port: config.HUB_INGEST_HTTP_PORT, db: config.HUB_INFLUX_DB }, 'ingest started');

  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    clearInterval(pingTimer);
    carrierServer?.close();
    carrierServer?.closeAllConnections();
    await mqttSource.close().catch((err: Error) => log.warn({ err: err.message }, 'mqtt close failed'));
    const { lost, spooled } = await sink.close(SHUTDOWN_DRAIN_MS);
    log.info({ lost, spooled, written: writer.stats.written }, 'writer and spool closed');
    await hb
      ?.stop()
      .catch((err: Error) => log.warn({ err: err.message }, 'liveness flush at shutdown failed'));
    await ruleEvents.close(5000);
    eventRedis.disconnect();
    await registry.close();
    redis.disconnect();
    subscriber.disconnect();
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`hub-ingest: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
