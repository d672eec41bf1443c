import { ConfigError, commonEnvShape, type LogLevel, parseConfig } from '@hub/protocol';
import { z } from 'zod';
import {
  DEFAULT_OCCUPANCY_LADDERS,
  type LadderPolicyConfig,
  ladderPolicyConfigSchema,
} from './ladder-policy.js';
import { DEFAULT_TICKET_PARAMS, type TicketParams } from './ticket-decision.js';
import type { VerificationParams } from './verification.js';

const ms = (min: number, max: number, def: number) => z.coerce.number().int().min(min).max(max).default(def);

/**
 * Environment of the alerts service. Only src/main.ts reads process.env and passes
 * it here; everything else receives the frozen AlertsConfig.
 */
export const alertsEnvSchema = z.object({
  ...commonEnvShape,
  HUB_MQTT_URL: z
    .string()
    .default('mqtt://127.0.0.1:18830')
    .refine((u) => /^(mqtts?|tcp|tls):\/\//.test(u), 'must be an mqtt://, mqtts://, tcp:// or tls:// URL'),
  HUB_SERVICE_SECRET: z.string({ error: 'required' }).min(8, 'at least 8 characters'),
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
  /** After accepting, "en route" is due within this; 0 = no en-route deadline. 1 minute: "1分钟响应". */
  HUB_EN_ROUTE_DEADLINE_MS: ms(0, 3_600_000, 60_000),
  /** After on scene, closing is due within this; 0 = no close deadline. */
  HUB_CLOSE_DEADLINE_MS: ms(0, 7 * 86_400_000, 1_800_000),
  /** Stations paged at once at step 1 of the base ladder. */
  HUB_FIRST_WAVE: z.coerce.number().int().min(1).max(10).default(1),
  /** Per-occupancy and key-period ladders (JSON, see ladder-policy.ts); default: DEFAULT_OCCUPANCY_LADDERS. */
  HUB_ALERTS_LADDERS: z.string().optional(),
  /** Verification: window for a corroborating hazard, heat and rise thresholds (°C). */
  HUB_CONFIRM_WINDOW_MS: ms(1_000, 3_600_000, 120_000),
  HUB_CONFIRM_HEAT_C: z.coerce.number().min(30).max(200).default(57),
  HUB_CONFIRM_RISE_C: z.coerce.number().min(1).max(100).default(8),
  /** Quarantine of a device after a device_fault close (fault-quarantine.ts); 0 = off. */
  HUB_FAULT_QUARANTINE_MS: ms(0, 7 * 86_400_000, 30 * 60_000),
  /** Skip stations that are the accepted responder of another open incident. */
  HUB_SKIP_BUSY_STATIONS: z.enum(['0', '1', 'true', 'false']).default('0'),
  /** Operator travel-time table (JSON or CSV building,station,seconds); optional. */
  HUB_TRAVEL_TIMES_FILE: z.string().min(1).optional(),
  /** Hazard tickets: deadline per lane, repeat window, supervision thresholds. */
  HUB_TICKET_DEADLINE_ELECTRICAL_MS: ms(1_000, 90 * 86_400_000, 24 * 3_600_000),
  HUB_TICKET_DEADLINE_CHARGING_MS: ms(1_000, 90 * 86_400_000, 24 * 3_600_000),
  HUB_TICKET_DEADLINE_FAULT_MS: ms(1_000, 90 * 86_400_000, 72 * 3_600_000),
  HUB_TICKET_DEADLINE_OFFLINE_MS: ms(1_000, 90 * 86_400_000, 48 * 3_600_000),
  HUB_TICKET_REPEAT_WINDOW_MS: ms(60_000, 365 * 86_400_000, 30 * 86_400_000),
  HUB_TICKET_SUPERVISE_REPEATS: z.coerce.number().int().min(1).max(1000).default(3),
  HUB_TICKET_SUPERVISE_EVENTS: z.coerce.number().int().min(1).max(100_000).default(20),
  /** Signed webhook channel (SMS / voice / WeCom gateway); off when no URL. */
  HUB_WEBHOOK_URL: z
    .string()
    .refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL')
    .optional(),
  /** Standard Webhooks secret (whsec_ + base64); required with HUB_WEBHOOK_URL. */
  HUB_WEBHOOK_SECRET: z.string().min(8).optional(),
  HUB_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(6),
  HUB_WEBHOOK_BACKOFF_MS: ms(10, 600_000, 500),
  HUB_WEBHOOK_TIMEOUT_MS: ms(100, 60_000, 5_000),
  HUB_WEBHOOK_MAX_QUEUED: z.coerce.number().int().min(10).max(1_000_000).default(10_000),
  /** Minimum interval per number: voice vendors allow about one call a minute. */
  HUB_VOICE_MIN_INTERVAL_MS: ms(0, 3_600_000, 60_000),
  HUB_SMS_MIN_INTERVAL_MS: ms(0, 3_600_000, 0),
});

export type { LogLevel };

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
  readonly enRouteDeadlineMs: number | null;
  readonly closeDeadlineMs: number | null;
  readonly firstWave: number;
  readonly ladders: LadderPolicyConfig;
  readonly verification: VerificationParams;
  readonly skipBusyStations: boolean;
  readonly faultQuarantineMs: number;
  readonly travelTimesFile: string | null;
  readonly tickets: TicketParams;
  readonly webhook: {
    readonly url: string;
    readonly secret: string;
    readonly maxAttempts: number;
    readonly backoffMs: number;
    readonly timeoutMs: number;
    readonly maxQueued: number;
  } | null;
  readonly throttleMs: { readonly sms: number; readonly voice: number; readonly wecom: number };
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
  let ladders: LadderPolicyConfig;
  try {
    ladders = ladderPolicyConfigSchema.parse(
      e.HUB_ALERTS_LADDERS === undefined
        ? { occupancy: DEFAULT_OCCUPANCY_LADDERS }
        : JSON.parse(e.HUB_ALERTS_LADDERS),
    );
  } catch (err) {
    throw new ConfigError('alerts', [`HUB_ALERTS_LADDERS: ${(err as Error).message.slice(0, 300)}`]);
  }
  if (e.HUB_WEBHOOK_URL !== undefined && e.HUB_WEBHOOK_SECRET === undefined) {
    throw new ConfigError('alerts', ['HUB_WEBHOOK_SECRET: required with HUB_WEBHOOK_URL']);
  }
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
    enRouteDeadlineMs: e.HUB_EN_ROUTE_DEADLINE_MS === 0 ? null : e.HUB_EN_ROUTE_DEADLINE_MS,
    closeDeadlineMs: e.HUB_CLOSE_DEADLINE_MS === 0 ? null : e.HUB_CLOSE_DEADLINE_MS,
    firstWave: e.HUB_FIRST_WAVE,
    ladders,
    verification: {
      corroborationWindowMs: e.HUB_CONFIRM_WINDOW_MS,
      heatConfirmC: e.HUB_CONFIRM_HEAT_C,
      riseConfirmC: e.HUB_CONFIRM_RISE_C,
    },
    skipBusyStations: e.HUB_SKIP_BUSY_STATIONS === '1' || e.HUB_SKIP_BUSY_STATIONS === 'true',
    faultQuarantineMs: e.HUB_FAULT_QUARANTINE_MS,
    travelTimesFile: e.HUB_TRAVEL_TIMES_FILE ?? null,
    tickets: {
      ...DEFAULT_TICKET_PARAMS,
      deadlineMs: {
        electrical: e.HUB_TICKET_DEADLINE_ELECTRICAL_MS,
        charging: e.HUB_TICKET_DEADLINE_CHARGING_MS,
        fault: e.HUB_TICKET_DEADLINE_FAULT_MS,
        offline: e.HUB_TICKET_DEADLINE_OFFLINE_MS,
      },
      repeatWindowMs: e.HUB_TICKET_REPEAT_WINDOW_MS,
      superviseRepeatTickets: e.HUB_TICKET_SUPERVISE_REPEATS,
      superviseEventCount: e.HUB_TICKET_SUPERVISE_EVENTS,
    },
    webhook:
      e.HUB_WEBHOOK_URL === undefined
        ? null
        : {
            url: e.HUB_WEBHOOK_URL,
            secret: e.HUB_WEBHOOK_SECRET!,
            maxAttempts: e.HUB_WEBHOOK_MAX_ATTEMPTS,
            backoffMs: e.HUB_WEBHOOK_BACKOFF_MS,
            timeoutMs: e.HUB_WEBHOOK_TIMEOUT_MS,
            maxQueued: e.HUB_WEBHOOK_MAX_QUEUED,
          },
    throttleMs: { sms: e.HUB_SMS_MIN_INTERVAL_MS, voice: e.HUB_VOICE_MIN_INTERVAL_MS, wecom: 0 },
  });
}
