import fastifyCookie from '@fastify/cookie';
import fastifyRateLimit from '@fastify/rate-limit';
import type { InfluxQueries } from '@hub/ingest';
import type { HubKeys } from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { type Logger, pino } from 'pino';
import { AccountStore } from './account-store.js';
import { API_ERRORS, ApiError, type ApiErrorCode } from './api-error.js';
import { registerApiRoutes } from './api-routes.js';
import type { AppContext } from './app-context.js';
import { registerAuthRoutes } from './auth-routes.js';
import { dashboardKeys } from './dashboard-keys.js';
import { createDashboardMetrics, type DashboardMetrics } from './dashboard-metrics.js';
import { registerHealthRoutes } from './health-routes.js';
import { registerHistoryRoutes } from './history-routes.js';
import { IncidentReader } from './incident-reader.js';
import { LiveHub, type LiveHubOptions } from './live-hub.js';
import { registerLiveRoutes } from './live-routes.js';
import { LOGIN_GUARD_DEFAULTS, LoginGuard, type LoginGuardOptions } from './login-guard.js';
import { registerOpenApi } from './openapi.js';
import { registerPageRoutes } from './page-routes.js';
import { SessionStore } from './session-store.js';
import { TicketReader } from './ticket-reader.js';
import { registerTownshipRoutes } from './township-routes.js';

export interface AuthOptions {
  /** Session lifetime (a shift and some), ms. */
  sessionTtlMs?: number;
  /** Secure cookies (behind HTTPS). Off by default: the demo runs on http://127.0.0.1. */
  secureCookie?: boolean;
  /** Login attempts per client address per minute. */
  loginPerMinute?: number;
  guard?: LoginGuardOptions;
}

export const AUTH_DEFAULTS = {
  sessionTtlMs: 14 * 3_600_000,
  secureCookie: false,
  loginPerMinute: 20,
} as const;

export interface BuildAppOptions {
  /** Command connection. */
  redis: Redis;
  /** Subscriber-mode connection for the live channel (may be shared with the RegistryCache). */
  subscriber: Redis;
  keys: HubKeys;
  /** Usually a RegistryCache; tests pass `{ current: snapshot }`. */
  registry: { readonly current: RegistrySnapshot };
  logger?: Logger;
  clock?: () => number;
  /** Metrics registry; a fresh one by default. */
  metrics?: DashboardMetrics;
  /** Live stream tuning (heartbeat, bounds); defaults in LIVE_DEFAULTS. */
  live?: Pick<LiveHubOptions, 'heartbeatMs' | 'maxStreams' | 'maxBufferedBytes' | 'retryMs'>;
  auth?: AuthOptions;
  /** InfluxDB queries for history charts and battery counts (ingest's createInfluxQueries). */
  influx?: InfluxQueries | null;
  /** IANA time zone for statistics by month. Default Asia/Shanghai. */
  timeZone?: string;
}

/** Action bodies are a few hundred bytes; nothing the API accepts is larger. */
const BODY_LIMIT_BYTES = 16 * 1024;

/**
 * The dashboard's HTTP app, without listening (src/main.ts listens; tests use inject()
 * or listen on port 0). The live channel is subscribed when the app becomes ready and
 * unsubscribed on close; live streams are ended before the server closes.
 */
export function buildApp(opts: BuildAppOptions): FastifyInstance {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const metrics = opts.metrics ?? createDashboardMetrics();
  const clock = opts.clock ?? Date.now;
  const dkeys = dashboardKeys(opts.keys);
  const authOpts = { ...AUTH_DEFAULTS, ...opts.auth };
  const live = new LiveHub({
    subscriber: opts.subscriber,
    keys: opts.keys,
    dkeys,
    registry: opts.registry,
    metrics,
    logger: logger.child({ part: 'live' }),
    clock,
    ...opts.live,
  });
  const ctx: AppContext = {
    redis: opts.redis,
    keys: opts.keys,
    dkeys,
    registry: opts.registry,
    clock,
    metrics,
    live,
    auth: {
      accounts: new AccountStore(opts.redis, dkeys, (username) =>
        logger.warn({ username }, 'account record failed the schema; ignored'),
      ),
      sessions: new SessionStore(opts.redis, dkeys, authOpts.sessionTtlMs),
      guard: new LoginGuard(opts.redis, dkeys, authOpts.guard ?? LOGIN_GUARD_DEFAULTS),
      sessionTtlMs: authOpts.sessionTtlMs,
      secureCookie: authOpts.secureCookie,
      loginPerMinute: authOpts.loginPerMinute,
    },
    tickets: new TicketReader(opts.redis, opts.keys, (key) => {
      metrics.badRecords.inc({ kind: 'ticket' });
      logger.warn({ key }, 'ticket record failed the schema; skipped');
    }),
    influx: opts.influx ?? null,
    timeZone: opts.timeZone ?? 'Asia/Shanghai',
    incidents: new IncidentReader(opts.redis, opts.keys, (kind, key) => {
      metrics.badRecords.inc({ kind });
      logger.warn({ kind, key }, 'record in Redis failed the schema; skipped');
    }),
  };

  const app = Fastify({
    // Typed as fastify's base logger so route modules take a plain FastifyInstance.
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request at info is noise for a console that polls; errors are logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    // Strings like "/api/incidents/" and "/api/incidents" are the same route.
    routerOptions: { ignoreTrailingSlash: true },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.register(fastifyCookie);
  // Per client address, only on routes that ask for it (login). The in-memory store is
  // an LRU of at most `cache` addresses: bounded.
  app.register(fastifyRateLimit, {
    global: false,
    cache: 10_000,
    errorResponseBuilder: (_req, c) => {
      metrics.logins.inc({ result: 'rate_limited' });
      return new ApiError(
        429,
        API_ERRORS.LOGIN_RATE_LIMITED,
        `too many login attempts; retry in ${Math.ceil(c.ttl / 1000)} s`,
      );
    },
  });

  app.addHook('onResponse', (req, reply, done) => {
    metrics.httpRequests.inc({
      route: req.routeOptions.url ?? 'unmatched',
      method: req.method,
      status: String(reply.statusCode),
    });
    done();
  });

  app.setErrorHandler((err: FastifyError | ApiError | Error, req, reply) => {
    const { status, code, message } = toApiError(err);
    if (status === 401 || status === 403) metrics.accessDenied.inc({ code });
    if (status >= 500) req.log.error({ err, route: req.routeOptions.url }, 'request failed');
    return reply.code(status).send({ code, message });
  });

  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ code: API_ERRORS.NOT_FOUND, message: `no route for ${req.method} ${req.url}` }),
  );

  app.addHook('onReady', async () => {
    await live.start();
  });
  // Streams never end on their own: close them first or server.close() waits forever.
  app.addHook('preClose', (done) => {
    live.closeStreams();
    done();
  });
  app.addHook('onClose', async () => {
    await live.stop();
  });

  registerOpenApi(app);
  app.register(async (scope) => registerHealthRoutes(scope, ctx));
  app.register(async (scope) => {
    registerAuthRoutes(scope, ctx);
    registerApiRoutes(scope, ctx);
    registerLiveRoutes(scope, ctx);
    registerTownshipRoutes(scope, ctx);
    registerHistoryRoutes(scope, ctx);
  });
  app.register(async (scope) => registerPageRoutes(scope, ctx));
  return app;
}

function toApiError(err: FastifyError | ApiError | Error): {
  status: number;
  code: ApiErrorCode;
  message: string;
} {
  if (err instanceof ApiError) return { status: err.statusCode, code: err.code, message: err.message };
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = err.validationContext;
    const code =
      where === 'body'
        ? API_ERRORS.BAD_BODY
        : where === 'params'
          ? API_ERRORS.BAD_PARAMS
          : API_ERRORS.BAD_QUERY;
    return { status: 400, code, message: err.message };
  }
  const fe = err as FastifyError;
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: API_ERRORS.BAD_JSON, message: fe.message };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: API_ERRORS.BODY_TOO_LARGE, message: fe.message };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: API_ERRORS.UNSUPPORTED_MEDIA_TYPE, message: fe.message };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, code: API_ERRORS.BAD_REQUEST, message: fe.message };
  }
  return { status: 500, code: API_ERRORS.INTERNAL, message: 'internal error' };
}
