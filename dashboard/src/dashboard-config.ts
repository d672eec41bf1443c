import { commonEnvShape, type LogLevel, parseConfig } from '@hub/protocol';
import { z } from 'zod';

/** Environment of the dashboard service. Only src/main.ts reads process.env and passes it here. */
export const dashboardEnvSchema = z.object({
  ...commonEnvShape,
  HUB_DASHBOARD_PORT: z.coerce.number().int().min(0).max(65535).default(18080),
  HUB_DASHBOARD_HOST: z.string().min(1).default('127.0.0.1'),
  /** Session lifetime in hours (a shift and some). */
  HUB_DASHBOARD_SESSION_HOURS: z.coerce.number().min(0.1).max(168).default(14),
  /** 'true' behind HTTPS: session cookies get the Secure flag. */
  HUB_DASHBOARD_SECURE_COOKIE: z.enum(['true', 'false']).default('false'),
  /** Login attempts per client address per minute. */
  HUB_DASHBOARD_LOGIN_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(20),
  /** InfluxDB for history charts and battery counts; empty = charts off. */
  HUB_INFLUX_URL: z.string().url().optional(),
  HUB_INFLUX_DB: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .default('hub'),
  HUB_INFLUX_USERNAME: z.string().optional(),
  HUB_INFLUX_PASSWORD: z.string().optional(),
  /** IANA time zone of the township (statistics by month). */
  HUB_TIME_ZONE: z
    .string()
    .default('Asia/Shanghai')
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone'),
});

export interface DashboardConfig {
  readonly redisUrl: string;
  readonly keyPrefix: string;
  readonly port: number;
  readonly host: string;
  readonly logLevel: LogLevel;
  readonly sessionTtlMs: number;
  readonly secureCookie: boolean;
  readonly loginPerMinute: number;
  readonly influx: { url: string; database: string; username?: string; password?: string } | null;
  readonly timeZone: string;
}

/** Validates the environment once; throws ConfigError listing every violation. */
export function loadDashboardConfig(env: Record<string, string | undefined>): DashboardConfig {
  const e = parseConfig('dashboard', dashboardEnvSchema, env);
  return Object.freeze({
    redisUrl: e.HUB_REDIS_URL,
    keyPrefix: e.HUB_KEY_PREFIX,
    port: e.HUB_DASHBOARD_PORT,
    host: e.HUB_DASHBOARD_HOST,
    logLevel: e.HUB_LOG_LEVEL,
    sessionTtlMs: Math.round(e.HUB_DASHBOARD_SESSION_HOURS * 3_600_000),
    secureCookie: e.HUB_DASHBOARD_SECURE_COOKIE === 'true',
    loginPerMinute: e.HUB_DASHBOARD_LOGIN_PER_MINUTE,
    influx:
      e.HUB_INFLUX_URL === undefined || e.HUB_INFLUX_URL === ''
        ? null
        : Object.freeze({
            url: e.HUB_INFLUX_URL,
            database: e.HUB_INFLUX_DB,
            ...(e.HUB_INFLUX_USERNAME === undefined ? {} : { username: e.HUB_INFLUX_USERNAME }),
            ...(e.HUB_INFLUX_PASSWORD === undefined ? {} : { password: e.HUB_INFLUX_PASSWORD }),
          }),
    timeZone: e.HUB_TIME_ZONE,
  });
}
