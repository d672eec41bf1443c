import type { Redis } from 'ioredis';
import type { DashboardKeys } from './dashboard-keys.js';

export interface LoginGuardOptions {
  /** Failed logins of one username before it is locked. */
  maxFailures: number;
  /** How long failures are remembered (and the lock lasts), ms. */
  windowMs: number;
}

export const LOGIN_GUARD_DEFAULTS: LoginGuardOptions = { maxFailures: 8, windowMs: 15 * 60_000 };

/**
 * Per-username brake on password guessing, in Redis so it holds across dashboard
 * instances and restarts (the per-address limit is @fastify/rate-limit's). Each
 * counter expires with its window: the state is bounded by the usernames tried in the
 * last window. A lock also stops the right password: a guesser must not learn
 * it was right.
 */
export class LoginGuard {
  constructor(
    private readonly redis: Redis,
    private readonly dkeys: DashboardKeys,
    private readonly opts: LoginGuardOptions = LOGIN_GUARD_DEFAULTS,
  ) {}

  async isLocked(username: string): Promise<boolean> {
    const raw = await this.redis.get(this.dkeys.loginFailures(username));
    return raw !== null && Number(raw) >= this.opts.maxFailures;
  }

  async recordFailure(username: string): Promise<void> {
    const key = this.dkeys.loginFailures(username);
    const m = this.redis.multi();
    m.incr(key);
    m.pexpire(key, this.opts.windowMs, 'NX');
    await m.exec();
  }

  async clear(username: string): Promise<void> {
    await this.redis.del(this.dkeys.loginFailures(username));
  }
}
