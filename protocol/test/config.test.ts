import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, parseConfig } from '../src/config.js';

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
