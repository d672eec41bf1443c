import type { FastifyReply, FastifyRequest } from 'fastify';
import { requireRole } from './access-policy.js';
import type { Principal, Role } from './account.js';
import { API_ERRORS, ApiError } from './api-error.js';
import type { AppContext } from './app-context.js';

/** Name of the HttpOnly session cookie. */
export const SESSION_COOKIE = 'hub_session';

/**
 * The principal of the request's session cookie; throws 401 E_UNAUTHENTICATED when
 * there is none (absent, expired, revoked). One Redis GET per API request.
 */
export async function authenticate(ctx: AppContext, req: FastifyRequest): Promise<Principal> {
  const p = await optionalPrincipal(ctx, req);
  if (p === null) throw new ApiError(401, API_ERRORS.UNAUTHENTICATED, 'log in first');
  return p;
}

/** authenticate, then the role check (401 before 403): the start of most routes. */
export async function authenticateAs(
  ctx: AppContext,
  req: FastifyRequest,
  roles: readonly Role[],
): Promise<Principal> {
  const p = await authenticate(ctx, req);
  requireRole(p, roles);
  return p;
}

export async function optionalPrincipal(ctx: AppContext, req: FastifyRequest): Promise<Principal | null> {
  const token = req.cookies[SESSION_COOKIE];
  if (token === undefined || token === '') return null;
  return ctx.auth.sessions.resolve(token, ctx.clock());
}

export interface CookieSettings {
  secure: boolean;
  maxAgeMs: number;
}

export function setSessionCookie(reply: FastifyReply, token: string, c: CookieSettings): void {
  reply.setCookie(SESSION_COOKIE, token, {
    httpOnly: true,
    // Strict: no cross-site request carries the session, so no CSRF token is needed
    // for the JSON-only POST routes.
    sameSite: 'strict',
    secure: c.secure,
    path: '/',
    maxAge: Math.floor(c.maxAgeMs / 1000),
  });
}

export function clearSessionCookie(reply: FastifyReply, c: CookieSettings): void {
  reply.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: c.secure, path: '/' });
}

/** Where a principal's console is. */
export function homeOf(p: Pick<Principal, 'role' | 'stationId'>): string {
  return p.role === 'officer' && p.stationId !== null ? `/station/${p.stationId}` : '/township';
}
