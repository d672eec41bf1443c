import { z } from 'zod';
import { type HeartbeatConfig, parseHeartbeatConfig } from './heartbeat-policy.js';
import { parseRulesConfig, type RulesConfig } from './threshold-rules.js';

/**
 * The ingest service's environment, validated once at start-up by `parseConfig`
 * (only src/main.ts passes `process.env`; tests build configs from plain records).
 */

const port = z.coerce.number().int().min(1).max(65_535);

/** Environment strings: empty counts as unset, so `HUB_X=` falls back to the default. */
function optionalString() {
  return z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === '' ? undefined : v));
}

export const ingestConfigSchema = z
  .object({
    HUB_MQTT_URL: z.url().default('mqtt://127.0.0.1:18830'),
    HUB_SERVICE_SECRET: z.string().min(8, 'HUB_SERVICE_SECRET is required (at least 8 characters)'),
    HUB_INFLUX_URL: z.url().default('http://127.0.0.1:18086'),
    HUB_INFLUX_DB: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'database names are 1-64 characters of A-Z a-z 0-9 _ -')
      .default('hub'),
    /** InfluxDB 1.x with auth on: Basic auth (1.x does not understand the `Token` header). */
    HUB_INFLUX_USERNAME: optionalString(),
    HUB_INFLUX_PASSWORD: optionalString(),
    /** InfluxDB 2.x/3.x through their v1-compatible /write: `Authorization: Token ...`. */
    HUB_INFLUX_TOKEN: optionalString(),
    HUB_REDIS_URL: z.string().min(1).default('redis://127.0.0.1:16379'),
    HUB_KEY_PREFIX: z.string().min(1).max(64).default('hub'),
    HUB_INGEST_HTTP_PORT: port.default(18082),
    HUB_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Lines per write request; 5,000 measured best on InfluxDB 1.6 (engineering.md). */
    HUB_INGEST_BATCH_SIZE: z.coerce.number().int().min(1).max(100_000).default(5000),
    /**
     * Longest a point waits in the batch before it is sent. The client's default is
     * 60 s; readings on the dashboard must be seconds old at most, so ≤ 1 s.
     */
    HUB_INGEST_FLUSH_INTERVAL_MS: z.coerce.number().int().min(10).max(1000).default(1000),
    /**
     * Gzip write bodies larger than this (bytes); 0 = never. Off by default: InfluxDB is
     * normally on the same host or LAN, and gzip costs CPU on both sides (a 5,000-line
     * batch is ~1 MB). Turn it on for a remote InfluxDB over a thin link.
     */
    HUB_INGEST_GZIP_MIN_BYTES: z.coerce.number().int().min(0).default(0),
    /** Lines accepted but not yet acknowledged (batch + in flight + retry). Past it: drop + count. */
    HUB_INGEST_MAX_BUFFERED_LINES: z.coerce.number().int().min(1000).max(10_000_000).default(200_000),
    /** Heartbeat supervision (offline from missed heartbeats); `false` turns it off. */
    HUB_INGEST_HEARTBEAT_ENABLED: z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true'),
    /**
     * JSON HeartbeatConfig (heartbeat-policy.ts): `{"grace":2,"kinds":{...},"models":
     * {"NB-SD12":{"intervalMs":43200000,"grace":1.5}}}`; empty = defaults.
     */
    HUB_INGEST_HEARTBEAT: z
      .string()
      .optional()
      .transform((v, ctx): HeartbeatConfig => {
        try {
          return parseHeartbeatConfig(v);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: 'invalid heartbeat config: ' + (err as Error).message });
          return z.NEVER;
        }
      }),
    /** Threshold rules on telemetry (threshold-rules.ts); `false` turns them off. */
    HUB_INGEST_RULES_ENABLED: z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true'),
    /** JSON RulesConfig: per-kind rules and per-model overrides; empty = defaults. */
    HUB_INGEST_RULES: z
      .string()
      .optional()
      .transform((v, ctx): RulesConfig => {
        try {
          return parseRulesConfig(v);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: 'invalid rules config: ' + (err as Error).message });
          return z.NEVER;
        }
      }),
    /** Carrier push routes (OneNET / CTWing): listened on only when a port is set. */
    HUB_INGEST_CARRIER_PORT: port.optional(),
    /** Bind address of the carrier routes; put an HTTPS reverse proxy in front. */
    HUB_INGEST_CARRIER_HOST: z.string().min(1).default('127.0.0.1'),
    /** OneNET push token (the "Token" of the push instance); unset = route off. */
    HUB_ONENET_TOKEN: optionalString(),
    /** Secret path segment of the CTWing subscription URL /carrier/ctwing/<token>; unset = route off. */
    HUB_CTWING_TOKEN: optionalString(),
    /** Hub device id = prefix + platform device id. */
    HUB_CARRIER_ID_PREFIX: z.string().max(32).default(''),
    /** Which CTWing field is the platform device id. */
    HUB_CTWING_DEVICE_ID: z.enum(['deviceId', 'imei']).default('deviceId'),
    /** Flush of last-seen reports and sweep of deadlines (ms). */
    HUB_INGEST_HEARTBEAT_TICK_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
    /** The hub's local day for the daily silent lists: minutes east of UTC (China 480). */
    HUB_UTC_OFFSET_MINUTES: z.coerce.number().int().min(-720).max(840).default(480),
    /** MAXLEN ~ of the event streams ingest appends to (same as the broker's). */
    HUB_EVENT_STREAM_MAXLEN: z.coerce.number().int().min(1000).max(1_000_000_000).default(1_000_000),
    /**
     * `manage` (InfluxDB 1.x): database, retention policies and continuous queries are
     * created/altered at start-up (influx-schema.ts). `none` (2.x/3.x, or a DBA owns the
     * schema): nothing is created; retention and downsampling are set up in InfluxDB.
     */
    HUB_INFLUX_SCHEMA: z.enum(['manage', 'none']).default('manage'),
    /** Policy ingest writes to (`rp=`); with `manage` it is created as the DEFAULT. */
    HUB_INFLUX_RP: optionalString(),
    HUB_INFLUX_RAW_RETENTION: z
      .string()
      .regex(/^(INF|(\d+[wdhms])+)$/, 'an InfluxQL duration such as 30d, 52w, 12h or INF')
      .default('30d'),
    HUB_INFLUX_LONG_RP: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .default('long'),
    HUB_INFLUX_LONG_RETENTION: z
      .string()
      .regex(/^(INF|(\d+[wdhms])+)$/, 'an InfluxQL duration such as 30d, 52w, 12h or INF')
      .default('730d'),
    /**
     * On-disk spool for batches InfluxDB did not take (down, slow, 5xx, timeouts).
     * One ingest process per folder (a lock file enforces it). Default:
     * `.local/ingest-spool/<HUB_KEY_PREFIX>-<HUB_INFLUX_DB>` under the working folder
     * (see spoolDirOf), so hubs with different prefixes never share one.
     */
    HUB_INGEST_SPOOL_DIR: optionalString(),
    /** Bound on the spool's size; past it new lines are dropped and counted. Default 1 GiB. */
    HUB_INGEST_SPOOL_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1 << 20)
      .default(1 << 30),
    /** Segment file size (a replayed segment is deleted as a whole). Default 64 MiB. */
    HUB_INGEST_SPOOL_SEGMENT_BYTES: z.coerce
      .number()
      .int()
      .min(64 << 10)
      .default(64 << 20),
    /** always | interval | never — see disk-spool.ts. */
    HUB_INGEST_SPOOL_FSYNC: z.enum(['always', 'interval', 'never']).default('interval'),
    HUB_INGEST_SPOOL_FSYNC_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
  })
  .superRefine((c, ctx) => {
    if (c.HUB_INGEST_SPOOL_MAX_BYTES < 2 * c.HUB_INGEST_SPOOL_SEGMENT_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: ['HUB_INGEST_SPOOL_MAX_BYTES'],
        message: 'must hold at least two segments (HUB_INGEST_SPOOL_SEGMENT_BYTES × 2)',
      });
    }
    if ((c.HUB_INFLUX_USERNAME === undefined) !== (c.HUB_INFLUX_PASSWORD === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['HUB_INFLUX_PASSWORD'],
        message: 'HUB_INFLUX_USERNAME and HUB_INFLUX_PASSWORD go together',
      });
    }
    if (c.HUB_INFLUX_USERNAME !== undefined && c.HUB_INFLUX_TOKEN !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['HUB_INFLUX_TOKEN'],
        message: 'set either HUB_INFLUX_TOKEN or HUB_INFLUX_USERNAME/PASSWORD, not both',
      });
    }
    if (c.HUB_INGEST_MAX_BUFFERED_LINES < c.HUB_INGEST_BATCH_SIZE * 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['HUB_INGEST_MAX_BUFFERED_LINES'],
        message: 'must hold at least two batches (HUB_INGEST_BATCH_SIZE × 2)',
      });
    }
  });

export type IngestConfig = z.infer<typeof ingestConfigSchema>;

/** Authorization for InfluxDB from the config: Basic for 1.x, Token for 2.x/3.x, none otherwise. */
export type InfluxAuth =
  | { type: 'none' }
  | { type: 'basic'; username: string; password: string }
  | { type: 'token'; token: string };

export function influxAuthOf(c: IngestConfig): InfluxAuth {
  if (c.HUB_INFLUX_USERNAME !== undefined && c.HUB_INFLUX_PASSWORD !== undefined) {
    return { type: 'basic', username: c.HUB_INFLUX_USERNAME, password: c.HUB_INFLUX_PASSWORD };
  }
  if (c.HUB_INFLUX_TOKEN !== undefined) return { type: 'token', token: c.HUB_INFLUX_TOKEN };
  return { type: 'none' };
}

/** The spool folder: configured, or one per (key prefix, database) under `.local/ingest-spool`. */
export function spoolDirOf(c: IngestConfig): string {
  return (
    c.HUB_INGEST_SPOOL_DIR ??
    `.local/ingest-spool/${c.HUB_KEY_PREFIX.replace(/[^A-Za-z0-9_-]/g, '_')}-${c.HUB_INFLUX_DB}`
  );
}

/** The retention policy to write to: configured, `raw` when ingest manages the schema, else none. */
export function writePolicyOf(c: IngestConfig): string | undefined {
  return c.HUB_INFLUX_RP ?? (c.HUB_INFLUX_SCHEMA === 'manage' ? 'raw' : undefined);
}
