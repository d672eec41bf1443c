import type { z } from 'zod';

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
