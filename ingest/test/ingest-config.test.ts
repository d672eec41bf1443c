import { ConfigError, parseConfig } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { influxAuthOf, ingestConfigSchema, spoolDirOf, writePolicyOf } from '../src/ingest-config.js';
import { nextReconnectDelay } from '../src/mqtt-source.js';

const parse = (env: Record<string, string | undefined>) => parseConfig('ingest', ingestConfigSchema, env);

describe('ingest config', () => {
  it('applies the documented defaults', () => {
    const c = parse({ HUB_SERVICE_SECRET: 'secret-123' });
    expect(c).toMatchObject({
      HUB_MQTT_URL: 'mqtt://127.0.0.1:18830',
      HUB_INFLUX_URL: 'http://127.0.0.1:18086',
      HUB_INFLUX_DB: 'hub',
      HUB_REDIS_URL: 'redis://127.0.0.1:16379',
      HUB_KEY_PREFIX: 'hub',
      HUB_INGEST_HTTP_PORT: 18082,
      HUB_INGEST_BATCH_SIZE: 5000,
      HUB_INGEST_FLUSH_INTERVAL_MS: 1000,
      HUB_INGEST_MAX_BUFFERED_LINES: 200_000,
    });
    expect(influxAuthOf(c)).toEqual({ type: 'none' });
    expect(
      parse({ HUB_SERVICE_SECRET: 'secret-123', HUB_MQTT_URL: 'mqtt://10.0.0.1:1883' }).HUB_MQTT_URL,
    ).toBe('mqtt://10.0.0.1:1883');
    expect(() => parse({ HUB_SERVICE_SECRET: 'secret-123', HUB_MQTT_URL: 'not a url' })).toThrow(
      /HUB_MQTT_URL/,
    );
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('lists every violation at once', () => {
    try {
      parse({ HUB_INGEST_FLUSH_INTERVAL_MS: '60000', HUB_INGEST_HTTP_PORT: 'x', HUB_INFLUX_USERNAME: 'u' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const v = (err as ConfigError).violations.join('\n');
      expect(v).toContain('HUB_SERVICE_SECRET');
      expect(v).toContain('HUB_INGEST_FLUSH_INTERVAL_MS');
      expect(v).toContain('HUB_INGEST_HTTP_PORT');
    }
  });

  it('Basic auth for username/password, Token for a token, not both; empty means unset', () => {
    const base = { HUB_SERVICE_SECRET: 'secret-123' };
    expect(influxAuthOf(parse({ ...base, HUB_INFLUX_USERNAME: 'u', HUB_INFLUX_PASSWORD: 'p' }))).toEqual({
      type: 'basic',
      username: 'u',
      password: 'p',
    });
    expect(influxAuthOf(parse({ ...base, HUB_INFLUX_TOKEN: 't' }))).toEqual({ type: 'token', token: 't' });
    expect(influxAuthOf(parse({ ...base, HUB_INFLUX_TOKEN: '' }))).toEqual({ type: 'none' });
    expect(() => parse({ ...base, HUB_INFLUX_USERNAME: 'u' })).toThrow(/go together/);
    expect(() =>
      parse({ ...base, HUB_INFLUX_USERNAME: 'u', HUB_INFLUX_PASSWORD: 'p', HUB_INFLUX_TOKEN: 't' }),
    ).toThrow(/not both/);
  });
});

describe('ingest config: spool, schema, heartbeat, rules, carriers', () => {
  const base = { HUB_SERVICE_SECRET: 'secret-123' };

  it('defaults: spool per prefix/db, rp raw when the schema is managed, heartbeat and rules on, carriers off', () => {
    const c = parse(base);
    expect(spoolDirOf(c)).toBe('.local/ingest-spool/hub-hub');
    expect(writePolicyOf(c)).toBe('raw');
    expect(writePolicyOf(parse({ ...base, HUB_INFLUX_SCHEMA: 'none' }))).toBeUndefined();
    expect(c.HUB_INGEST_HEARTBEAT_ENABLED).toBe(true);
    expect(c.HUB_INGEST_HEARTBEAT.kinds.smoke.intervalMs).toBe(24 * 3_600_000);
    expect(c.HUB_INGEST_RULES.electric.residualMa.alarmAt).toBe(300);
    expect(c.HUB_INGEST_CARRIER_PORT).toBeUndefined();
    expect(c.HUB_INGEST_SPOOL_FSYNC).toBe('interval');
  });

  it('refuses bad JSON for heartbeat/rules, a spool smaller than two segments and bad durations', () => {
    const v = (env: Record<string, string>) => {
      try {
        parse({ ...base, ...env });
        return '';
      } catch (err) {
        return (err as ConfigError).violations.join('\n');
      }
    };
    expect(v({ HUB_INGEST_HEARTBEAT: '{bad' })).toMatch(/invalid heartbeat config/);
    expect(v({ HUB_INGEST_RULES: '{"electric":{"residualMa":{"alarmAt":1,"clearBelow":2}}}' })).toMatch(
      /invalid rules config/,
    );
    expect(
      v({ HUB_INGEST_SPOOL_MAX_BYTES: String(1 << 20), HUB_INGEST_SPOOL_SEGMENT_BYTES: String(1 << 20) }),
    ).toMatch(/two segments/);
    expect(v({ HUB_INFLUX_RAW_RETENTION: '30 days' })).toMatch(/HUB_INFLUX_RAW_RETENTION/);
  });
});

describe('nextReconnectDelay', () => {
  it('doubles from min up to max with equal jitter', () => {
    expect([1, 2, 3, 4].map((a) => nextReconnectDelay(a, 250, 10_000, 0))).toEqual([125, 250, 500, 1000]);
    expect(nextReconnectDelay(1, 250, 10_000, 1)).toBe(250);
    expect(nextReconnectDelay(50, 250, 10_000, 1)).toBe(10_000);
    expect(nextReconnectDelay(50, 250, 10_000, 0)).toBe(5000);
  });
});
