import type { Redis } from 'ioredis';

/** A Lua script bound to a connection: (KEYS, ARGV) → its reply. */
export type Script = (keys: string[], args: (string | number)[]) => Promise<unknown>;

/** Runs a Lua script by SHA (EVALSHA), loading it once on NOSCRIPT (ioredis does this). */
export function defineScript(redis: Redis, name: string, lua: string): Script {
  const cmd = `hubAlerts${name}`;
  if (!(cmd in redis)) redis.defineCommand(cmd, { lua });
  const fn = (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[cmd]!;
  return (keys, args) => fn.call(redis, keys.length, ...keys, ...args);
}
