import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { ConfigError, EXIT_CONFIG, hubKeys } from '@hub/protocol';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { type AlertsConfig, loadAlertsConfig } from './alerts-config.js';
import { createAlertsHttpHandler } from './alerts-http.js';
import { AlertsService } from './alerts-service.js';
import { connectAlertsMqtt } from './page-sender.js';
import type { TravelTimes } from './station-choice.js';
import { parseTravelTimes } from './travel-times.js';

/**
 * Entry point of the alerts service: the only file that reads the environment,
 * opens sockets and listens. Run with `npx tsx alerts/src/main.ts`.
 */
async function main(): Promise<void> {
  let config: AlertsConfig;
  try {
    config = loadAlertsConfig(process.env, { hostname: hostname(), pid: process.pid });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
  const logger = pino({ name: 'hub-alerts', level: config.logLevel });
  let travelTimes: TravelTimes | undefined;
  if (config.travelTimesFile !== null) {
    try {
      travelTimes = parseTravelTimes(readFileSync(config.travelTimesFile, 'utf8'));
    } catch (err) {
      console.error(`alerts: HUB_TRAVEL_TIMES_FILE ${config.travelTimesFile}: ${(err as Error).message}`);
      process.exit(EXIT_CONFIG);
    }
  }
  const keys = hubKeys(config.keyPrefix);

  // Commands fail fast (a few retries) so an input is retried via the stream rather
  // than hanging; BullMQ's worker connection must retry forever (null).
  const openRedis = (purpose: string, worker: boolean): Redis =>
    new Redis(config.redisUrl, {
      connectionName: `hub-alerts:${purpose}`,
      maxRetriesPerRequest: worker ? null : 3,
    });
  const redis = openRedis('commands', false);
  redis.on('error', (err) => logger.error({ err }, 'redis error'));

  const mqtt = await connectAlertsMqtt({
    url: config.mqttUrl,
    username: 'hub-alerts',
    password: config.serviceSecret,
    clientId: `hub-alerts-${process.pid}`,
  });
  mqtt.on('error', (err) => logger.error({ err }, 'mqtt error'));
  mqtt.on('offline', () => logger.warn('mqtt offline; pages wait in the outbox'));

  const metricsRegistry = new Registry();
  collectDefaultMetrics({ register: metricsRegistry });

  const service = await AlertsService.start({
    keys,
    params: {
      acceptTimeoutMs: config.acceptTimeoutMs,
      onSceneDeadlineMs: config.onSceneDeadlineMs,
      fireOfficeTimeoutMs: config.fireOfficeTimeoutMs,
      maxStations: config.maxLadderStations,
      firstWave: config.firstWave,
      enRouteDeadlineMs: config.enRouteDeadlineMs,
      closeDeadlineMs: config.closeDeadlineMs,
    },
    ladders: config.ladders,
    verification: config.verification,
    skipBusyStations: config.skipBusyStations,
    faultQuarantineMs: config.faultQuarantineMs,
    ...(travelTimes !== undefined ? { travelTimes } : {}),
    tickets: config.tickets,
    ...(config.webhook !== null ? { webhook: config.webhook } : {}),
    throttleMs: config.throttleMs,
    consumerName: config.consumerName,
    claimIdleMs: config.claimIdleMs,
    redis,
    openRedis: (purpose, worker) => {
      const r = openRedis(purpose, worker);
      r.on('error', (err) => logger.error({ err, purpose }, 'redis error'));
      return r;
    },
    mqtt,
    logger,
    metricsRegistry,
  });

  const server = createServer(
    createAlertsHttpHandler({ metrics: metricsRegistry, notReadyReason: () => service.notReadyReason() }),
  );
  await new Promise<void>((resolve) => server.listen(config.httpPort, config.httpHost, resolve));
  logger.info(
    { port: config.httpPort, consumer: config.consumerName, prefix: config.keyPrefix },
    'alerts service started',
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // A hard stop if something hangs; what is not acked is claimed after restart.
    setTimeout(() => process.exit(1), 10_000).unref();
    server.close();
    await service.close();
    await mqtt.endAsync().catch(() => undefined);
    await redis.quit().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
