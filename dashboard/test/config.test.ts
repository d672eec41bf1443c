import { ConfigError } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { loadDashboardConfig } from '../src/dashboard-config.js';

describe('loadDashboardConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadDashboardConfig({})).toEqual({
      redisUrl: 'redis://127.0.0.1:16379',
      keyPrefix: 'hub',
      port: 18080,
      host: '127.0.0.1',
      logLevel: 'info',
      sessionTtlMs: 14 * 3_600_000,
      secureCookie: false,
      loginPerMinute: 20,
      influx: null,
      timeZone: 'Asia/Shanghai',
    });
  });

  it('reads every variable', () => {
    const c = loadDashboardConfig({
      HUB_REDIS_URL: 'redis://10.0.0.5:6379/2',
      HUB_KEY_PREFIX: 'ganzhou',
      HUB_DASHBOARD_PORT: '8080',
      HUB_DASHBOARD_HOST: '0.0.0.0',
      HUB_LOG_LEVEL: 'debug',
      HUB_DASHBOARD_SESSION_HOURS: '8',
      HUB_DASHBOARD_SECURE_COOKIE: 'true',
      HUB_DASHBOARD_LOGIN_PER_MINUTE: '5',
      HUB_INFLUX_URL: 'http://10.0.0.6:8086',
      HUB_INFLUX_DB: 'township_hub',
      HUB_INFLUX_USERNAME: 'reader',
      HUB_INFLUX_PASSWORD: 'pw',
      HUB_TIME_ZONE: 'Asia/Urumqi',
    });
    expect(c).toEqual({
      sessionTtlMs: 8 * 3_600_000,
      secureCookie: true,
      loginPerMinute: 5,
      redisUrl: 'redis://10.0.0.5:6379/2',
      keyPrefix: 'ganzhou',
      port: 8080,
      host: '0.0.0.0',
      logLevel: 'debug',
      influx: { url: 'http://10.0.0.6:8086', database: 'township_hub', username: 'reader', password: 'pw' },
      timeZone: 'Asia/Urumqi',
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('lists every violation at once', () => {
    try {
      loadDashboardConfig({
        HUB_REDIS_URL: 'http://x',
        HUB_KEY_PREFIX: 'a:b',
        HUB_DASHBOARD_PORT: '70000',
        HUB_LOG_LEVEL: 'loud',
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.violations).toHaveLength(4);
      for (const v of ['HUB_REDIS_URL', 'HUB_KEY_PREFIX', 'HUB_DASHBOARD_PORT', 'HUB_LOG_LEVEL']) {
        expect(e.message).toContain(v);
      }
    }
  });
});
