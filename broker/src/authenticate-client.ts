import type { RegistrySnapshot } from '@hub/registry';
import { verifySecret } from '@hub/registry';
import { devicePrincipal, type Principal, servicePrincipal, stationPrincipal } from './principal.js';

/**
 * CONNECT authentication against the in-memory registry snapshot (no I/O):
 *
 * - device: username = client id = device id, password = device secret;
 * - service / station account: username as registered, client id equal to the
 *   username or `${username}-${suffix}` (several processes of one service), suffix of
 *   [A-Za-z0-9_-].
 *
 * Devices are looked up first; a username that is both a device id and an account is
 * a registry error and authenticates as the device.
 */

/** MQTT 3.1.1 CONNACK return codes used here. */
export const CONNACK_BAD_CREDENTIALS = 4;
export const CONNACK_NOT_AUTHORIZED = 5;

/** Why a CONNECT was refused: a metric label, so a fixed set. */
export type AuthFailureReason =
  | 'no_credentials'
  | 'unknown_user'
  | 'bad_secret'
  | 'client_id_mismatch'
  | 'account_invalid';

export type AuthResult =
  | { ok: true; principal: Principal }
  | {
      ok: false;
      reason: AuthFailureReason;
      returnCode: typeof CONNACK_BAD_CREDENTIALS | typeof CONNACK_NOT_AUTHORIZED;
    };

/** Longest client id accepted for an account (username ≤ 64 plus a suffix). */
export const MAX_ACCOUNT_CLIENT_ID = 128;

function isIdChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95;
}

/** `clientId` is `username` or `username-suffix` with a non-empty [A-Za-z0-9_-] suffix. */
export function isAccountClientId(username: string, clientId: string): boolean {
  if (clientId === username) return true;
  const n = clientId.length;
  const u = username.length;
  if (n <= u + 1 || n > MAX_ACCOUNT_CLIENT_ID) return false;
  if (!clientId.startsWith(username) || clientId.charCodeAt(u) !== 45 /* - */) return false;
  for (let i = u + 1; i < n; i++) if (!isIdChar(clientId.charCodeAt(i))) return false;
  return true;
}

const BAD = CONNACK_BAD_CREDENTIALS;
const DENIED = CONNACK_NOT_AUTHORIZED;

export function authenticateClient(
  snapshot: RegistrySnapshot,
  clientId: string,
  username: string | undefined,
  password: Buffer | undefined,
): AuthResult {
  if (username === undefined || username.length === 0 || password === undefined || password.length === 0) {
    return { ok: false, reason: 'no_credentials', returnCode: BAD };
  }
  const device = snapshot.devices.get(username);
  if (device !== undefined) {
    // Secret first, then the client id: a wrong secret always reads as "bad username
    // or password", whatever client id was sent.
    if (!verifySecret(password, device.salt, device.secretHash)) {
      return { ok: false, reason: 'bad_secret', returnCode: BAD };
    }
    if (clientId !== device.id) return { ok: false, reason: 'client_id_mismatch', returnCode: DENIED };
    return { ok: true, principal: devicePrincipal(device.id, device.kind) };
  }
  const account = snapshot.accounts.get(username);
  if (account === undefined) return { ok: false, reason: 'unknown_user', returnCode: BAD };
  if (!verifySecret(password, account.salt, account.secretHash)) {
    return { ok: false, reason: 'bad_secret', returnCode: BAD };
  }
  if (!isAccountClientId(account.username, clientId)) {
    return { ok: false, reason: 'client_id_mismatch', returnCode: DENIED };
  }
  if (account.role === 'service') return { ok: true, principal: servicePrincipal(account.username) };
  // A station account without a station id could not be confined to one station's topics.
  if (account.stationId === undefined) return { ok: false, reason: 'account_invalid', returnCode: DENIED };
  return { ok: true, principal: stationPrincipal(account.stationId, account.username) };
}
