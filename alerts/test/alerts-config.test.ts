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
    });
    expect(Object.isFrozen(c)).toBe(true);
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
});
