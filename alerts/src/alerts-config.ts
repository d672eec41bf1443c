import { parseConfig } from '@hub/protocol';
import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const ms = (min: number, max: number, def: number) => z.coerce.number().int().min(min).max(max).default(def);

/**
 * Environment of the alerts service. Only src/main.ts reads process.env and passes
 * it here; everything else receives the frozen AlertsConfig.
 */
export const alertsEnvSchema = z.object({
  HUB_REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:16379')
    .refine(
      (u) => u.startsWith('redis://') || u.startsWith('rediss://'),
      'must be a redis:// or rediss:// URL',
    ),
  HUB_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, '1-64 characters of A-Z a-z 0-9 _ . -')
    .default('hub'),
  HUB_MQTT_URL: z
    .string()
    .default('mqtt://127.0.0.1:18830')
    .refine((u) => /^(mqtts?|tcp|tls):\/\//.test(u), 'must be an mqtt://, mqtts://, tcp:// or tls:// URL'),
  HUB_SERVICE_SECRET: z.string({ error: 'required' }).min(8, 'at least 8 characters'),
  HUB_LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  HUB_ALERTS_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(18083),
  HUB_ALERTS_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  /** Seconds, not minutes: a station that has not accepted by then is skipped. */
  HUB_ACCEPT_TIMEOUT_MS: ms(100, 3_600_000, 60_000),
  /** 1-3-5: "on scene within 3 minutes" after accepting. */
  HUB_ON_SCENE_DEADLINE_MS: ms(1_000, 3_600_000, 180_000),
  /** How long the township fire office step waits before the 119 forwarding record. */
  HUB_FIRE_OFFICE_TIMEOUT_MS: ms(100, 3_600_000, 60_000),
  /** Micro fire stations on the ladder before the fire office step. */
  HUB_MAX_LADDER_STATIONS: z.coerce.number().int().min(1).max(30).default(3),
  /** Consumer name in the stream groups; must be unique per running process. */
  HUB_ALERTS_CONSUMER: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/, '1-128 characters of A-Z a-z 0-9 _ . : -')
    .optional(),
  /** Entries pending this long in a dead consumer are claimed by a live one. */
  HUB_ALERTS_CLAIM_IDLE_MS: ms(1_000, 3_600_000, 15_000),
});

export type LogLevel = (typeof LOG_LEVELS)[number];

export interface AlertsConfig {
  readonly redisUrl: string;
  readonly keyPrefix: string;
  readonly mqttUrl: string;
  readonly serviceSecret: string;
  readonly logLevel: LogLevel;
  readonly httpPort: number;
  readonly httpHost: string;
  readonly acceptTimeoutMs: number;
  readonly onSceneDeadlineMs: number;
  readonly fireOfficeTimeoutMs: number;
  readonly maxLadderStations: number;
  readonly consumerName: string;
  readonly claimIdleMs: number;
}

/**
 * Validates the environment once; throws ConfigError listing every violation.
 * `host` and `pid` default the consumer name to `alerts-<hostname>-<pid>`.
 */
export function loadAlertsConfig(
  env: Record<string, string | undefined>,
  host: { hostname: string; pid: number },
): AlertsConfig {
  const e = parseConfig('alerts', alertsEnvSchema, env);
  return Object.freeze({
    redisUrl: e.HUB_REDIS_URL,
    keyPrefix: e.HUB_KEY_PREFIX,
    mqttUrl: e.HUB_MQTT_URL,
    serviceSecret: e.HUB_SERVICE_SECRET,
    logLevel: e.HUB_LOG_LEVEL,
    httpPort: e.HUB_ALERTS_HTTP_PORT,
    httpHost: e.HUB_ALERTS_HTTP_HOST,
    acceptTimeoutMs: e.HUB_ACCEPT_TIMEOUT_MS,
    onSceneDeadlineMs: e.HUB_ON_SCENE_DEADLINE_MS,
    fireOfficeTimeoutMs: e.HUB_FIRE_OFFICE_TIMEOUT_MS,
    maxLadderStations: e.HUB_MAX_LADDER_STATIONS,
    consumerName: e.HUB_ALERTS_CONSUMER ?? `alerts-${host.hostname}-${host.pid}`,
    claimIdleMs: e.HUB_ALERTS_CLAIM_IDLE_MS,
  });
}
