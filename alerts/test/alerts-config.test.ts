import { ConfigError } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { loadAlertsConfig } from '../src/alerts-config.js';

const host = { hostname: 'node7', pid: 4242 };

describe('loadAlertsConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadAlertsConfig({ HUB_SERVICE_SECRET: 'secretsecret' }, host);
    expect(c).toMatchObject({
      redisUrl: 'redis://127.0.0.1:16379',
      keyPrefix: 'hub',
      mqttUrl: 'mqtt://127.0.0.1:18830',
      httpPort: 18083,
      acceptTimeoutMs: 60_000,
      onSceneDeadlineMs: 180_000,
      maxLadderStations: 3,
      consumerName: 'alerts-node7-4242',
      faultQuarantineMs: 30 * 60_000,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('HUB_FAULT_QUARANTINE_MS: 0 turns the quarantine off; negative is refused', () => {
    const env = { HUB_SERVICE_SECRET: 'secretsecret' };
    expect(loadAlertsConfig({ ...env, HUB_FAULT_QUARANTINE_MS: '0' }, host).faultQuarantineMs).toBe(0);
    expect(() => loadAlertsConfig({ ...env, HUB_FAULT_QUARANTINE_MS: '-1' }, host)).toThrow(ConfigError);
  });

  it('takes overrides from the environment', () => {
    const c = loadAlertsConfig(
      {
        HUB_SERVICE_SECRET: 'secretsecret',
        HUB_ACCEPT_TIMEOUT_MS: '15000',
        HUB_MAX_LADDER_STATIONS: '5',
        HUB_ALERTS_CONSUMER: 'alerts-a',
      },
      host,
    );
    expect(c).toMatchObject({ acceptTimeoutMs: 15_000, maxLadderStations: 5, consumerName: 'alerts-a' });
  });

  it('lists every violation at once', () => {
    try {
      loadAlertsConfig({ HUB_ACCEPT_TIMEOUT_MS: 'soon', HUB_REDIS_URL: 'http://x' }, host);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const v = (err as ConfigError).violations.join('\n');
      expect(v).toContain('HUB_SERVICE_SECRET: required');
      expect(v).toContain('HUB_ACCEPT_TIMEOUT_MS');
      expect(v).toContain('HUB_REDIS_URL');
    }
  });

  it('reads ladders, tickets and the webhook channel, and refuses bad ones with a stable code', () => {
    const c = loadAlertsConfig(
      {
        HUB_SERVICE_SECRET: 'secretsecret',
        HUB_ALERTS_LADDERS: JSON.stringify({
          occupancy: { elderly_home: { acceptTimeoutMs: 20_000, firstWave: 3 } },
        }),
        HUB_EN_ROUTE_DEADLINE_MS: '0',
        HUB_TICKET_DEADLINE_OFFLINE_MS: '3600000',
        HUB_WEBHOOK_URL: 'http://127.0.0.1:9/hooks',
        HUB_WEBHOOK_SECRET: 'whsec_c2VjcmV0c2VjcmV0',
        HUB_SKIP_BUSY_STATIONS: '1',
      },
      host,
    );
    expect(c.ladders.occupancy.elderly_home).toEqual({ acceptTimeoutMs: 20_000, firstWave: 3 });
    expect(c.ladders.keyPeriod.timeoutFactor).toBe(0.5);
    expect(c.enRouteDeadlineMs).toBeNull();
    expect(c.closeDeadlineMs).toBe(1_800_000);
    expect(c.tickets.deadlineMs.offline).toBe(3_600_000);
    expect(c.webhook).toMatchObject({ url: 'http://127.0.0.1:9/hooks', maxAttempts: 6 });
    expect(c.skipBusyStations).toBe(true);
    // Defaults: per-occupancy ladders on, webhook off.
    const d = loadAlertsConfig({ HUB_SERVICE_SECRET: 'secretsecret' }, host);
    expect(d.ladders.occupancy.elderly_home?.firstWave).toBe(2);
    expect(d.webhook).toBeNull();
    for (const bad of [
      { HUB_ALERTS_LADDERS: '{"occupancy":{"castle":{}}}' },
      { HUB_ALERTS_LADDERS: 'not json' },
      { HUB_WEBHOOK_URL: 'http://127.0.0.1:9/x' },
    ]) {
      try {
        loadAlertsConfig({ HUB_SERVICE_SECRET: 'secretsecret', ...bad }, host);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).code).toBe('E_CONFIG');
      }
    }
  });
});
