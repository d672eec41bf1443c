import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Account, Principal } from './account.js';
import { type Session, sessionSchema } from './account.js';
import type { DashboardKeys } from './dashboard-keys.js';

/** 256-bit random tokens, base64url in the cookie. */
const TOKEN_BYTES = 32;

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Sessions in Redis: `session(sha256(token))` holds the Session JSON with a TTL (the
 * shift length); the token itself is only in the browser's HttpOnly cookie, so
 * reading Redis does not hand out usable sessions. Index sets per user and per station
 * make revocation one call (shift change: every session of a station).
 */
export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly dkeys: DashboardKeys,
    private readonly ttlMs: number,
  ) {}

  async create(account: Account, now: number): Promise<{ token: string; session: Session }> {
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const h = tokenHash(token);
    const session: Session = {
      username: account.username,
      displayName: account.displayName,
      role: account.role,
      stationId: account.stationId,
      township: account.township,
      createdAt: now,
      expiresAt: now + this.ttlMs,
    };
    const m = this.redis.multi();
    m.set(this.dkeys.session(h), JSON.stringify(session), 'PX', this.ttlMs);
    // Index sets expire with the newest session in them, so they never outgrow the TTL.
    m.sadd(this.dkeys.userSessions(account.username), h);
    m.pexpire(this.dkeys.userSessions(account.username), this.ttlMs);
    if (account.stationId !== null) {
      m.sadd(this.dkeys.stationSessions(account.stationId), h);
      m.pexpire(this.dkeys.stationSessions(account.stationId), this.ttlMs);
    }
    await m.exec();
    return { token, session };
  }

  /** The principal of a cookie token, or null (unknown, expired, revoked, corrupt). */
  async resolve(token: string, now: number): Promise<Principal | null> {
    if (token.length === 0 || token.length > 100) return null;
    const h = tokenHash(token);
    const raw = await this.redis.get(this.dkeys.session(h));
    if (raw === null) return null;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return null;
    }
    const r = sessionSchema.safeParse(value);
    if (!r.success || r.data.expiresAt <= now) return null;
    const s = r.data;
    return {
      username: s.username,
      displayName: s.displayName,
      role: s.role,
      stationId: s.stationId,
      township: s.township,
      sessionId: h,
    };
  }

  /** Ends one session (logout). Returns the revoked session ids. */
  async revoke(sessionId: string): Promise<string[]> {
    const n = await this.redis.del(this.dkeys.session(sessionId));
    return n > 0 ? [sessionId] : [];
  }

  /** Ends every session of a user (password change, account disabled). */
  async revokeUser(username: string): Promise<string[]> {
    return this.revokeSet(this.dkeys.userSessions(username));
  }

  /** Ends every session of a station's officers (shift change). */
  async revokeStation(stationId: string): Promise<string[]> {
    return this.revokeSet(this.dkeys.stationSessions(stationId));
  }

  private async revokeSet(setKey: string): Promise<string[]> {
    const ids = await this.redis.smembers(setKey);
    if (ids.length === 0) return [];
    const m = this.redis.multi();
    for (const id of ids) m.del(this.dkeys.session(id));
    m.del(setKey);
    const res = await m.exec();
    const revoked: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const r = res?.[i];
      if (r !== undefined && r[0] === null && r[1] === 1) revoked.push(ids[i] as string);
    }
    return revoked;
  }
}
