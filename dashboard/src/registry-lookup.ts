import type { Redis } from 'ioredis';
import type { z } from 'zod';

/** HMGET in slices so an import of 20k rows never sends one 20k-field command. */
const LOOKUP_CHUNK = 1000;

/**
 * Stored registry entities by id, read from Redis (the source of truth) rather than the
 * in-memory snapshot, which may lag an import that just happened. A stored record that
 * fails the schema counts as absent (the registry's loader skips it too).
 */
export async function readEntities<T>(
  redis: Redis,
  hashKey: string,
  schema: z.ZodType<T>,
  ids: Iterable<string>,
): Promise<Map<string, T>> {
  const all = [...new Set(ids)];
  const out = new Map<string, T>();
  for (let i = 0; i < all.length; i += LOOKUP_CHUNK) {
    const slice = all.slice(i, i + LOOKUP_CHUNK);
    const raw = await redis.hmget(hashKey, ...slice);
    raw.forEach((json, k) => {
      if (json === null) return;
      try {
        const res = schema.safeParse(JSON.parse(json));
        if (res.success) out.set(slice[k] as string, res.data);
      } catch {
        // Not JSON: absent, as for the registry's loader.
      }
    });
  }
  return out;
}
