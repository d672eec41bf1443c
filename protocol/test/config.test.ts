import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, commonEnvShape, parseConfig } from '../src/config.js';

describe('parseConfig', () => {
  const schema = z.object({
    HUB_PORT: z.coerce.number().int().min(1).max(65535).default(18080),
    HUB_REDIS_URL: z.string().url(),
  });

  it('applies defaults and freezes the result', () => {
    const c = parseConfig('svc', schema, { HUB_REDIS_URL: 'redis://127.0.0.1:1' });
    expect(c.HUB_PORT).toBe(18080);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('lists every violation at once', () => {
    try {
      parseConfig('svc', schema, { HUB_PORT: '99999' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.code).toBe('E_CONFIG');
      expect(e.violations).toHaveLength(2);
      expect(e.message).toContain('HUB_PORT');
      expect(e.message).toContain('HUB_REDIS_URL');
    }
  });
});

describe('commonEnvShape', () => {
  const schema = z.object(commonEnvShape);

  it('defaults the Redis URL, key prefix and log level', () => {
    const c = parseConfig('svc', schema, {});
    expect(c).toEqual({
      HUB_REDIS_URL: 'redis://127.0.0.1:16379',
      HUB_KEY_PREFIX: 'hub',
      HUB_LOG_LEVEL: 'info',
    });
  });

  it('rejects a non-redis URL, a bad prefix and an unknown log level, each by name', () => {
    try {
      parseConfig('svc', schema, { HUB_REDIS_URL: 'http://x', HUB_KEY_PREFIX: 'a b', HUB_LOG_LEVEL: 'loud' });
      expect.unreachable();
    } catch (err) {
      const e = err as ConfigError;
      expect(e.violations).toHaveLength(3);
      expect(e.message).toContain('HUB_REDIS_URL: must be a redis:// or rediss:// URL');
      expect(e.message).toContain('HUB_KEY_PREFIX');
      expect(e.message).toContain('HUB_LOG_LEVEL');
    }
  });
});
