import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireRole, visibleStation } from './access-policy.js';
import { type Principal, passwordSchema, ROLES, usernameSchema } from './account.js';
import { publicAccount } from './account-store.js';
import { API_ERRORS, ApiError } from './api-error.js';
import { stationIdSchema } from './api-schemas.js';
import type { AppContext } from './app-context.js';
import {
  authenticate,
  authenticateAs,
  clearSessionCookie,
  homeOf,
  setSessionCookie,
} from './authenticate.js';
import { burnVerify, verifyPassword } from './password-hash.js';

export const loginBodySchema = z
  .object({ username: z.string().min(1).max(64), password: z.string().min(1).max(200) })
  .strict();

const revokeBodySchema = z.union([
  z.object({ stationId: stationIdSchema }).strict(),
  z.object({ username: usernameSchema }).strict(),
]);

const newAccountSchema = z
  .object({
    username: usernameSchema,
    displayName: z.string().min(1).max(50),
    role: z.enum(ROLES),
    password: passwordSchema,
    stationId: stationIdSchema.optional(),
    township: stationIdSchema.optional(),
  })
  .strict();

const usernameParamsSchema = z.object({ username: usernameSchema });

function me(p: Principal) {
  return {
    username: p.username,
    displayName: p.displayName,
    role: p.role,
    stationId: p.stationId,
    township: p.township,
    home: homeOf(p),
  };
}

/**
 * Login, logout, who-am-I, session revocation and account management. Login is
 * limited per client address (@fastify/rate-limit, route config) and per username
 * (LoginGuard, in Redis).
 */
export function registerAuthRoutes(fastify: FastifyInstance, ctx: AppContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const cookie = { secure: ctx.auth.secureCookie, maxAgeMs: ctx.auth.sessionTtlMs };

  async function announce(revoked: string[]): Promise<void> {
    if (revoked.length === 0) return;
    ctx.metrics.sessionsRevoked.inc(revoked.length);
    // Every dashboard instance (this one included) closes the live streams of these sessions.
    await ctx.redis.publish(ctx.dkeys.sessionsRevoked, JSON.stringify(revoked));
  }

  app.post(
    '/api/auth/login',
    {
      schema: { body: loginBodySchema, tags: ['auth'], summary: 'Log in; sets the HttpOnly session cookie' },
      config: { rateLimit: { max: ctx.auth.loginPerMinute, timeWindow: 60_000 } },
    },
    async (req, reply) => {
      const username = req.body.username.toLowerCase();
      if (!usernameSchema.safeParse(username).success) {
        await burnVerify(req.body.password);
        ctx.metrics.logins.inc({ result: 'bad_credentials' });
        throw new ApiError(401, API_ERRORS.BAD_CREDENTIALS, 'wrong username or password');
      }
      if (await ctx.auth.guard.isLocked(username)) {
        ctx.metrics.logins.inc({ result: 'locked' });
        throw new ApiError(429, API_ERRORS.LOGIN_LOCKED, 'too many failed logins; try again later');
      }
      const account = await ctx.auth.accounts.get(username);
      let ok = false;
      if (account === null) await burnVerify(req.body.password);
      else ok = await verifyPassword(account.passwordHash, req.body.password);
      if (!ok || account === null) {
        await ctx.auth.guard.recordFailure(username);
        ctx.metrics.logins.inc({ result: 'bad_credentials' });
        req.log.info({ username }, 'login failed');
        throw new ApiError(401, API_ERRORS.BAD_CREDENTIALS, 'wrong username or password');
      }
      if (account.disabled) {
        ctx.metrics.logins.inc({ result: 'disabled' });
        throw new ApiError(403, API_ERRORS.ACCOUNT_DISABLED, 'this account is disabled');
      }
      await ctx.auth.guard.clear(username);
      const { token, session } = await ctx.auth.sessions.create(account, ctx.clock());
      setSessionCookie(reply, token, cookie);
      ctx.metrics.logins.inc({ result: 'ok' });
      req.log.info({ username, role: account.role, stationId: account.stationId }, 'login');
      return { user: me({ ...session, sessionId: '' }), expiresAt: session.expiresAt };
    },
  );

  app.post('/api/auth/logout', { schema: { tags: ['auth'] } }, async (req, reply) => {
    const p = await authenticate(ctx, req).catch(() => null);
    clearSessionCookie(reply, cookie);
    if (p !== null) await announce(await ctx.auth.sessions.revoke(p.sessionId));
    return { ok: true };
  });

  /** Own password change: the current password is required; every session of the account ends. */
  app.post(
    '/api/auth/password',
    {
      schema: {
        body: z.object({ current: z.string().min(1).max(200), next: passwordSchema }).strict(),
        tags: ['auth'],
        summary: 'Change your own password (ends all your sessions)',
      },
      config: { rateLimit: { max: ctx.auth.loginPerMinute, timeWindow: 60_000 } },
    },
    async (req, reply) => {
      const p = await authenticate(ctx, req);
      const account = await ctx.auth.accounts.get(p.username);
      if (account === null || !(await verifyPassword(account.passwordHash, req.body.current))) {
        await ctx.auth.guard.recordFailure(p.username);
        throw new ApiError(401, API_ERRORS.BAD_CREDENTIALS, 'the current password is wrong');
      }
      await ctx.auth.accounts.setPassword(p.username, req.body.next);
      await announce(await ctx.auth.sessions.revokeUser(p.username));
      clearSessionCookie(reply, cookie);
      return { ok: true };
    },
  );

  app.get('/api/auth/me', { schema: { tags: ['auth'] } }, async (req) => {
    return { user: me(await authenticate(ctx, req)) };
  });

  /**
   * Ends sessions: every session of a station (shift change) or of one user. An officer
   * may end their own station's shift only; a township operator their township's.
   */
  app.post('/api/sessions/revoke', { schema: { body: revokeBodySchema, tags: ['auth'] } }, async (req) => {
    const p = await authenticate(ctx, req);
    let revoked: string[];
    if ('stationId' in req.body) {
      const station = visibleStation(p, ctx.registry.current.stations, req.body.stationId);
      revoked = await ctx.auth.sessions.revokeStation(station.id);
    } else {
      requireRole(p, ['township', 'admin']);
      const account = await ctx.auth.accounts.get(req.body.username);
      if (account === null) throw new ApiError(404, API_ERRORS.ACCOUNT_NOT_FOUND, 'unknown account');
      checkAccountInScope(p, account.township);
      revoked = await ctx.auth.sessions.revokeUser(account.username);
    }
    await announce(revoked);
    return { revoked: revoked.length };
  });

  app.get('/api/accounts', { schema: { tags: ['accounts'] } }, async (req) => {
    const p = await authenticateAs(ctx, req, ['township', 'admin']);
    const all = await ctx.auth.accounts.list();
    const visible = p.role === 'admin' ? all : all.filter((a) => a.township === p.township);
    return { accounts: visible.map(publicAccount) };
  });

  /** Creates or replaces an account. Township operators may create officers of their own stations. */
  app.post(
    '/api/accounts',
    { schema: { body: newAccountSchema, tags: ['accounts'] } },
    async (req, reply) => {
      const p = await authenticateAs(ctx, req, ['township', 'admin']);
      const body = req.body;
      let township = body.township ?? null;
      if (body.role === 'officer') {
        const station =
          body.stationId === undefined ? undefined : ctx.registry.current.stations.get(body.stationId);
        if (station === undefined) {
          throw new ApiError(400, API_ERRORS.BAD_BODY, 'an officer needs a known stationId');
        }
        township = station.township;
      } else if (body.role === 'township' && township === null) {
        throw new ApiError(400, API_ERRORS.BAD_BODY, 'a township operator needs a township');
      }
      if (p.role !== 'admin' && (body.role !== 'officer' || township !== p.township)) {
        throw new ApiError(
          403,
          API_ERRORS.FORBIDDEN_ROLE,
          'township operators create officers of their own stations',
        );
      }
      const account = await ctx.auth.accounts.put(
        {
          username: body.username,
          displayName: body.displayName,
          role: body.role,
          password: body.password,
          stationId: body.stationId ?? null,
          township,
        },
        ctx.clock(),
      );
      // A replaced account's old sessions carry the old role/station: end them.
      await announce(await ctx.auth.sessions.revokeUser(account.username));
      return reply.code(201).send({ account: publicAccount(account) });
    },
  );

  app.post(
    '/api/accounts/:username/disable',
    { schema: { params: usernameParamsSchema, tags: ['accounts'] } },
    async (req) => {
      const p = await authenticateAs(ctx, req, ['township', 'admin']);
      const existing = await ctx.auth.accounts.get(req.params.username);
      if (existing === null) throw new ApiError(404, API_ERRORS.ACCOUNT_NOT_FOUND, 'unknown account');
      checkAccountInScope(p, existing.township);
      if (p.role !== 'admin' && existing.role !== 'officer') {
        throw new ApiError(403, API_ERRORS.FORBIDDEN_ROLE, 'township operators manage officers only');
      }
      const account = await ctx.auth.accounts.setDisabled(existing.username, true);
      await announce(await ctx.auth.sessions.revokeUser(existing.username));
      return { account: account === null ? null : publicAccount(account) };
    },
  );
}

function checkAccountInScope(p: Principal, township: string | null): void {
  if (p.role === 'admin') return;
  if (township !== p.township) {
    throw new ApiError(403, API_ERRORS.OTHER_TOWNSHIP, 'that account is not in your township');
  }
}
