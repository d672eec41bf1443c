import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, EXIT_CONFIG, hubKeys } from '@hub/protocol';
import { RegistryCache } from '@hub/registry';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { type BrokerConfig, parseBrokerConfig } from './broker-config.js';
import { createBroker } from './create-broker.js';
import { createHealthHandler } from './health-handler.js';

/**
 * Entry point: the only file that reads the environment, opens connections and
 * listens. `npx tsx broker/src/main.ts`.
 */

const SHUTDOWN_GRACE_MS = 10_000;

function loadConfig(): Readonly<BrokerConfig> {
  try {
    return parseBrokerConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({ name: 'broker', level: config.logLevel });

  // Log and exit non-zero: state after an uncaught error is unknown, and a supervisor
  // restart is safer than limping on. Never swallowed.
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception: exiting');
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    log.fatal({ err: reason }, 'unhandled rejection: exiting');
    process.exit(1);
  });

  const keys = hubKeys(config.keyPrefix);
  const onRedisError = (name: string) => (err: Error) =>
    log.warn({ redis: name, err: err.message }, 'redis error');
  // Registry reads and its change subscription: ordinary connections.
  const commands = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 });
  const subscriber = new Redis(config.redisUrl, { lazyConnect: true });
  // Durable writes before PUBACK: fail fast, never queue while disconnected.
  const durableOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: config.durable.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: config.durable.autoPipeline,
  };
  const durable = new Redis(config.redisUrl, durableOptions);
  // Fire alarms alone, so they do not queue behind the batches in flight on `durable`.
  const fireDurable = new Redis(config.redisUrl, durableOptions);
  commands.on('error', onRedisError('commands'));
  subscriber.on('error', onRedisError('subscriber'));
  durable.on('error', onRedisError('durable'));
  fireDurable.on('error', onRedisError('durable-fire'));
  await Promise.all([commands.connect(), subscriber.connect(), durable.connect(), fireDurable.connect()]);

  const registry = await RegistryCache.start({
    redis: commands,
    subscriber,
    keys,
    onReload: (s) =>
      log.info({ version: s.version, devices: s.devices.size, accounts: s.accounts.size }, 'registry loaded'),
    onError: (err) => log.error({ err }, 'registry reload failed: keeping the previous snapshot'),
  });
  if (registry.current.devices.size === 0) log.warn({ prefix: keys.prefix }, 'registry has no devices');

  // Shared routing between broker processes: one connection publishes, one is put in
  // subscriber mode (ioredis cannot do both on one).
  let clusterPub: Redis | null = null;
  let clusterSub: Redis | null = null;
  if (config.clusterChannel !== null) {
    clusterPub = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    clusterSub = new Redis(config.redisUrl, { lazyConnect: true });
    clusterPub.on('error', onRedisError('cluster-pub'));
    clusterSub.on('error', onRedisError('cluster-sub'));
    await Promise.all([clusterPub.connect(), clusterSub.connect()]);
  }
  const needsTls = config.mqtts !== null || config.ws?.tls === true;
  const tls =
    !needsTls || config.certificate === null
      ? undefined
      : { cert: readFileSync(config.certificate.certFile), key: readFileSync(config.certificate.keyFile) };
  const broker = createBroker({
    config,
    ...(tls !== undefined ? { tls } : {}),
    registry,
    redis: durable,
    fireRedis: fireDurable,
    logger: log,
    ...(clusterPub !== null && clusterSub !== null && config.clusterChannel !== null
      ? { cluster: { pub: clusterPub, sub: clusterSub, channel: config.clusterChannel } }
      : {}),
  });
  const mqttAddr = await broker.listen();
  log.info(
    { host: mqttAddr.host, port: mqttAddr.port },
    `MQTT listening on ${mqttAddr.host}:${mqttAddr.port}`,
  );
  if (mqttAddr.tlsPort !== undefined) {
    log.info({ port: mqttAddr.tlsPort }, `MQTTS listening on ${config.mqtts?.host}:${mqttAddr.tlsPort}`);
  }
  if (mqttAddr.wsPort !== undefined) {
    log.info(
      { port: mqttAddr.wsPort, path: config.ws?.path },
      `MQTT over WebSocket on ws://${config.ws?.host}:${mqttAddr.wsPort}${config.ws?.path}`,
    );
  }

  const http: Server = createServer(
    createHealthHandler({ metrics: broker.metrics.registry, ready: broker.ready }),
  );
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.http.port, config.http.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const httpAddr = http.address() as AddressInfo;
  log.info(
    { host: httpAddr.address, port: httpAddr.port },
    `HTTP (metrics, health) on http://${httpAddr.address}:${httpAddr.port}`,
  );

  let stopping = false;
  async function shutdown(signal: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error('shutdown took too long: exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
    http.closeAllConnections();
    await broker.close();
    await httpClosed;
    await registry.close();
    await Promise.allSettled([
      commands.quit(),
      subscriber.quit(),
      durable.quit(),
      fireDurable.quit(),
      clusterPub?.quit(),
      clusterSub?.quit(),
    ]);
    log.info('stopped');
    process.exit(0);
  }
  // SIGHUP: read the certificate files again (after a renewal) without a restart, so
  // no device has to reconnect. A bad pair is refused and the old one stays.
  process.on('SIGHUP', () => {
    const files = config.certificate;
    if (!needsTls || files === null) {
      log.info('SIGHUP: no TLS listener, nothing to reload');
      return;
    }
    try {
      broker.reloadCertificate({ cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) });
      log.info({ certFile: files.certFile }, 'SIGHUP: certificate reloaded');
    } catch (err) {
      log.error({ err, certFile: files.certFile }, 'SIGHUP: certificate not reloaded, keeping the old one');
    }
  });
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  // Start-up failed (Redis unreachable, port in use...): say why, exit non-zero.
  process.stderr.write(`broker: start-up failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
