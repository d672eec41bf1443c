import type { HubKeys } from '@hub/protocol';

/**
 * Redis keys owned by the dashboard alone (accounts of people, their sessions, login
 * throttling). They live under the hub's prefix (`<prefix>:dash:...`) so a test's
 * cleanupPrefix and a township's namespace cover them, but no other service reads
 * them, so they are kept here rather than in protocol/src/hub-keys.ts.
 */
export interface DashboardKeys {
  /** HASH username → Account JSON. */
  readonly accounts: string;
  /** STRING Session JSON with a TTL; the name holds the SHA-256 of the cookie token, never the token. */
  session(tokenHash: string): string;
  /** SET of token hashes of one user's sessions (for revocation). */
  userSessions(username: string): string;
  /** SET of token hashes of the sessions of one station's officers (shift change). */
  stationSessions(stationId: string): string;
  /** STRING counter of failed logins of one username (expires with the lock window). */
  loginFailures(username: string): string;
  /** Pub/sub channel: JSON array of revoked token hashes, so every instance closes their live streams. */
  readonly sessionsRevoked: string;
}

export function dashboardKeys(keys: HubKeys): DashboardKeys {
  const p = `${keys.prefix}:dash`;
  return {
    accounts: `${p}:accounts`,
    session: (h) => `${p}:session:${h}`,
    userSessions: (u) => `${p}:sessions:user:${u}`,
    stationSessions: (s) => `${p}:sessions:station:${s}`,
    loginFailures: (u) => `${p}:login-failures:${u}`,
    sessionsRevoked: `${p}:sessions-revoked`,
  };
}
