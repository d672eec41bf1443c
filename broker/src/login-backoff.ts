import { BoundedMap } from './bounded-map.js';

/**
 * Slows down repeated failed logins (pure: time is passed in). Every refused CONNECT
 * counts a failure against its source address and against the username it tried; from
 * the second failure on, the refusal CONNACK is held back by `baseMs · 2^(n-2)` (at
 * most `maxMs`), where n is the larger of the two counts (one typo is answered at once). A password guesser therefore gets exponentially fewer
 * answers per connection, while the per-address connection rate limit
 * (connection-admission.ts) bounds how many guesses run in parallel.
 *
 * A successful login clears its username's count but not its address's (otherwise one
 * valid device would let an attacker behind it reset the counter between guesses); a
 * count is forgotten `forgetAfterMs` after its last failure. Both tables are capped.
 * Only refusals are delayed: a device with the right secret connects at once, even from
 * an address that is backing off.
 */

export interface LoginBackoffConfig {
  baseMs: number;
  maxMs: number;
  forgetAfterMs: number;
  /** Most addresses, and most usernames, remembered at once. */
  maxTracked: number;
}

interface Failures {
  count: number;
  last: number;
}

export class LoginBackoff {
  private readonly byAddress: BoundedMap<Failures>;
  private readonly byUser: BoundedMap<Failures>;

  constructor(private readonly cfg: Readonly<LoginBackoffConfig>) {
    this.byAddress = new BoundedMap(cfg.maxTracked);
    this.byUser = new BoundedMap(cfg.maxTracked);
  }

  get tracked(): number {
    return this.byAddress.size + this.byUser.size;
  }

  private bump(table: BoundedMap<Failures>, key: string, now: number): number {
    const f = table.touch(key);
    if (f === undefined || now - f.last > this.cfg.forgetAfterMs) {
      table.set(key, { count: 1, last: now });
      return 1;
    }
    f.count++;
    f.last = now;
    return f.count;
  }

  /** Records a failed login; returns how long to hold the refusal back, ms. */
  failed(address: string, username: string | undefined, now: number): number {
    const a = this.bump(this.byAddress, address, now);
    const u = username === undefined || username.length === 0 ? 0 : this.bump(this.byUser, username, now);
    const n = Math.max(a, u);
    if (n < 2) return 0;
    // 2^(n-2) overflows to Infinity for large n; min() keeps it at maxMs.
    return Math.min(this.cfg.maxMs, this.cfg.baseMs * 2 ** (n - 2));
  }

  succeeded(username: string): void {
    this.byUser.delete(username);
  }
}
