import {
  activeKeyPeriod,
  DEFAULT_KEY_PERIOD_CONFIG,
  type HubKeys,
  isKeyPeriodActive,
  type KeyPeriodConfig,
  keyPeriodConfigSchema,
} from '@hub/protocol';
import type { Redis } from 'ioredis';

/**
 * Key-period mode (重点时段), per protocol/src/hazard-tickets.ts: JSON at
 * `keys.keyPeriod` written with a plain SET, then PUBLISH `keys.keyPeriodChanged`;
 * alerts re-reads it. A missing or corrupt key reads as the default (auto, no periods).
 */
export async function readKeyPeriod(redis: Redis, keys: HubKeys): Promise<KeyPeriodConfig> {
  const raw = await redis.get(keys.keyPeriod);
  if (raw === null) return DEFAULT_KEY_PERIOD_CONFIG;
  try {
    const r = keyPeriodConfigSchema.safeParse(JSON.parse(raw));
    return r.success ? r.data : DEFAULT_KEY_PERIOD_CONFIG;
  } catch {
    return DEFAULT_KEY_PERIOD_CONFIG;
  }
}

export async function writeKeyPeriod(redis: Redis, keys: HubKeys, config: KeyPeriodConfig): Promise<void> {
  const valid = keyPeriodConfigSchema.parse(config);
  await redis.set(keys.keyPeriod, JSON.stringify(valid));
  await redis.publish(keys.keyPeriodChanged, String(valid.updatedAt));
}

export function keyPeriodStatus(config: KeyPeriodConfig, now: number) {
  const period = activeKeyPeriod(config, now);
  return { config, active: isKeyPeriodActive(config, now), period: period ?? null };
}
