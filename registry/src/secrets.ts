import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Device and service secrets are random machine secrets (128 bits or more), never
 * human passwords, so SHA-256 over salt + secret is enough: nobody can brute-force a
 * 128-bit value, and verification costs ~1 µs, which keeps a reconnect storm of
 * 100k devices cheap. Human passwords (dashboard) use argon2 instead.
 */
export function hashSecret(secret: string, salt: string): string {
  return createHash('sha256').update(salt).update(secret).digest('hex');
}

export function verifySecret(secret: string | Buffer, salt: string, expectedHex: string): boolean {
  const actual = createHash('sha256').update(salt).update(secret).digest();
  const expected = Buffer.from(expectedHex, 'hex');
  return expected.length === actual.length && timingSafeEqual(actual, expected);
}

export function newSalt(): string {
  return randomBytes(12).toString('hex');
}

/**
 * The demo township's device secrets are derived from its seed, so the simulator can
 * connect as any demo device without a file of plaintext secrets. Real fleets get
 * random secrets provisioned at the factory.
 */
export function demoDeviceSecret(seed: string, deviceId: string): string {
  return createHmac('sha256', `demo-secret:${seed}`).update(deviceId).digest('base64url').slice(0, 24);
}

/** Deterministic salt for demo data (reproducible registry dumps). */
export function demoSalt(seed: string, id: string): string {
  return createHmac('sha256', `demo-salt:${seed}`).update(id).digest('hex').slice(0, 16);
}
