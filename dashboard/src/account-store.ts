import type { Redis } from 'ioredis';
import { type Account, accountSchema, type Role } from './account.js';
import type { DashboardKeys } from './dashboard-keys.js';
import { hashPassword } from './password-hash.js';

export interface NewAccount {
  username: string;
  displayName: string;
  role: Role;
  password: string;
  stationId?: string | null;
  township?: string | null;
}

/** An account as the API shows it: everything but the password hash. */
export type PublicAccount = Omit<Account, 'passwordHash'>;

export function publicAccount(a: Account): PublicAccount {
  const { passwordHash: _omit, ...rest } = a;
  return rest;
}

/** Bound of one listing (a township has tens of accounts; a county a few thousand). */
export const MAX_ACCOUNTS_LISTED = 10_000;

/**
 * Accounts of people in one Redis HASH (username → JSON). Records that fail the
 * schema are treated as absent (and reported), never as a login.
 */
export class AccountStore {
  constructor(
    private readonly redis: Redis,
    private readonly dkeys: DashboardKeys,
    private readonly onBadRecord: (username: string) => void = () => undefined,
  ) {}

  async get(username: string): Promise<Account | null> {
    const raw = await this.redis.hget(this.dkeys.accounts, username);
    if (raw === null) return null;
    return this.parse(username, raw);
  }

  /** Creates or replaces an account (the password is hashed here). */
  async put(input: NewAccount, now: number): Promise<Account> {
    const account = accountSchema.parse({
      username: input.username,
      displayName: input.displayName,
      role: input.role,
      stationId: input.role === 'officer' ? (input.stationId ?? null) : null,
      township: input.role === 'admin' ? null : (input.township ?? null),
      passwordHash: await hashPassword(input.password),
      createdAt: now,
      disabled: false,
    });
    await this.redis.hset(this.dkeys.accounts, account.username, JSON.stringify(account));
    return account;
  }

  /** Replaces the password hash; null when the account is gone. */
  async setPassword(username: string, password: string): Promise<Account | null> {
    const a = await this.get(username);
    if (a === null) return null;
    const next = accountSchema.parse({ ...a, passwordHash: await hashPassword(password) });
    await this.redis.hset(this.dkeys.accounts, username, JSON.stringify(next));
    return next;
  }

  async setDisabled(username: string, disabled: boolean): Promise<Account | null> {
    const a = await this.get(username);
    if (a === null) return null;
    const next = { ...a, disabled };
    await this.redis.hset(this.dkeys.accounts, username, JSON.stringify(next));
    return next;
  }

  async list(): Promise<Account[]> {
    const out: Account[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.dkeys.accounts, cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const a = this.parse(flat[i] as string, flat[i + 1] as string);
        if (a !== null) out.push(a);
      }
    } while (cursor !== '0' && out.length < MAX_ACCOUNTS_LISTED);
    out.sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0));
    return out;
  }

  private parse(username: string, raw: string): Account | null {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = undefined;
    }
    const r = accountSchema.safeParse(value);
    if (r.success) return r.data;
    this.onBadRecord(username);
    return null;
  }
}
