import { z } from 'zod';

/**
 * Config is validated once, at start-up, from an environment-like record. A wrong
 * config lists every violation at once (not just the first), so an operator fixes
 * it in one go. Services' entry files catch ConfigError, print it and exit 78
 * (EX_CONFIG).
 */
export class ConfigError extends Error {
  readonly code = 'E_CONFIG';
  constructor(
    readonly service: string,
    readonly violations: string[],
  ) {
    super(`${service}: invalid configuration:\n  - ${violations.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export const EXIT_CONFIG = 78;

export function parseConfig<S extends z.ZodType>(
  service: string,
  schema: S,
  env: Record<string, string | undefined>,
): Readonly<z.infer<S>> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      service,
      result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  return Object.freeze(result.data);
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Environment fields every service reads the same way: one definition, one error
 * text. Spread into a service's env schema: `z.object({ ...commonEnvShape, ... })`.
 */
export const commonEnvShape = {
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
  HUB_LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
};
