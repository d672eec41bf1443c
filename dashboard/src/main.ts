/**
 * Entry point of the dashboard service: reads the environment, connects Redis (a
 * command connection and one subscriber shared by the registry cache and the live
 * channel), loads the registry, listens, and shuts down in order on SIGTERM/SIGINT:
 * live streams first, then the HTTP server, then the registry cache and Redis.
 */
import { createInfluxQueries, InfluxHttp } from '@hub/ingest';
import { ConfigError, EXIT_CONFIG, hubKeys } from '@hub/protocol';
import { RegistryCache } from '@hub/registry';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { buildApp } from './build-app.js';
import { loadDashboardConfig } from './dashboard-config.js';

/** A shutdown that takes longer than this is forced (a stuck socket must not block a restart). */
const SHUTDOWN_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  let config: ReturnType<typeof loadDashboardConfig>;
  try {
    config = loadDashboardConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
  const logger = pino({ level: config.logLevel, base: { service: 'dashboard' } });
  const keys = hubKeys(config.keyPrefix);
  // Requests fail fast while Redis is away (the console shows an error and retries)
  // instead of hanging on ioredis's offline queue.
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2, connectionName: 'hub-dashboard' });
  const subscriber = new Redis(config.redisUrl, {
    maxRetriesPerRequest: null,
    connectionName: 'hub-dashboard-sub',
  });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  subscriber.on('error', (err) => logger.warn({ err: err.message }, 'redis subscriber error'));

  const registry = await RegistryCache.start({
    redis,
    subscriber,
    keys,
    onReload: (s) =>
      logger.info(
        { version: s.version, stations: s.stations.size, buildings: s.buildings.size },
        'registry loaded',
      ),
    onError: (err) => logger.error({ err }, 'registry reload failed'),
  });
  const influx =
    config.influx === null
      ? null
      : createInfluxQueries(
          new InfluxHttp({
            url: config.influx.url,
            auth:
              config.influx.username !== undefined && config.influx.password !== undefined
                ? { type: 'basic', username: config.influx.username, password: config.influx.password }
                : { type: 'none' },
            timeoutMs: 5_000,
          }),
          config.influx.database,
        );
  const app = buildApp({
    influx,
    timeZone: config.timeZone,
    redis,
    subscriber,
    keys,
    registry,
    logger,
    auth: {
      sessionTtlMs: config.sessionTtlMs,
      secureCookie: config.secureCookie,
      loginPerMinute: config.loginPerMinute,
    },
  });
  await app.listen({ port: config.port, host: config.host });
  logger.info({ host: config.host, port: config.port, prefix: config.keyPrefix }, 'dashboard listening');

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    force.unref();
    try {
      // app.close() ends the live streams (preClose) before closing the server.
      await app.close();
      await registry.close();
      await Promise.allSettled([subscriber.quit(), redis.quit()]);
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error('dashboard failed to start:', err);
  process.exit(1);
});
