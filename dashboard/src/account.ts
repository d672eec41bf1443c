import { z } from 'zod';

/**
 * People who use the consoles. A duty officer belongs to one station, a township
 * operator to one township (the township fire office), an administrator to the whole
 * deployment. What each may see and do is decided in access-policy.ts.
 */
export const ROLES = ['officer', 'township', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'ids are 1-64 of A-Z a-z 0-9 _ -');
export const usernameSchema = z.string().regex(/^[a-z0-9_.-]{2,64}$/, 'usernames are 2-64 of a-z 0-9 _ . -');

/** Minimum password length; the demo seeding is the only place allowed shorter ones (never). */
export const MIN_PASSWORD_LENGTH = 8;
export const passwordSchema = z.string().min(MIN_PASSWORD_LENGTH).max(200);

export const accountSchema = z
  .object({
    username: usernameSchema,
    displayName: z.string().min(1).max(50),
    role: z.enum(ROLES),
    /** Set for officers only. */
    stationId: id.nullable(),
    /** Set for township operators (and officers: their station's township). */
    township: id.nullable(),
    /** argon2id PHC string. */
    passwordHash: z.string().startsWith('$argon2'),
    createdAt: z.number().int(),
    disabled: z.boolean(),
  })
  .refine((a) => a.role !== 'officer' || a.stationId !== null, {
    message: 'an officer account needs a station',
    path: ['stationId'],
  })
  .refine((a) => a.role !== 'township' || a.township !== null, {
    message: 'a township operator account needs a township',
    path: ['township'],
  });
export type Account = z.infer<typeof accountSchema>;

/** Who is asking: what a session carries (copied from the account at login). */
export interface Principal {
  readonly username: string;
  readonly displayName: string;
  readonly role: Role;
  readonly stationId: string | null;
  readonly township: string | null;
  /** SHA-256 of the session token (the session's id in Redis and in live streams). */
  readonly sessionId: string;
}

export const sessionSchema = z.object({
  username: usernameSchema,
  displayName: z.string(),
  role: z.enum(ROLES),
  stationId: id.nullable(),
  township: id.nullable(),
  createdAt: z.number().int(),
  expiresAt: z.number().int(),
});
export type Session = z.infer<typeof sessionSchema>;
