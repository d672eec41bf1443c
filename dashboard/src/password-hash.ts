import { hash, verify } from '@node-rs/argon2';

/**
 * argon2id with the library's defaults (19 MiB, 2 passes: OWASP's minimum), about
 * 60 ms per hash on this machine. Passwords of people only; device secrets use a fast
 * hash (protocol/src/registry-entities.ts says why).
 */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false; // a corrupt stored hash is a failed login, not a 500
  }
}

let dummy: Promise<string> | null = null;

/**
 * Verifies against a throw-away hash so a login for an unknown user costs the same as
 * one with a wrong password (no user enumeration by timing).
 */
export async function burnVerify(password: string): Promise<void> {
  dummy ??= hash('not-a-real-account-password');
  await verifyPassword(await dummy, password);
}
