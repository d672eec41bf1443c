import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { townshipScope, visibleStation } from './access-policy.js';
import type { Principal } from './account.js';
import { API_ERRORS, ApiError } from './api-error.js';
import { stationParamsSchema } from './api-schemas.js';
import type { AppContext } from './app-context.js';
import { authenticate, authenticateAs } from './authenticate.js';
import type { StreamScope } from './sse-stream.js';

/**
 * Server-sent event streams: GET /api/live (township: everything of the caller's
 * township; an admin's: everything) and GET /api/stations/:stationId/live (what
 * concerns that station; its officers and its township's operators only). The
 * session is checked before the reply is hijacked, so refusals are ordinary JSON
 * errors; a stream ends when its session is revoked.
 *
 * Events: `hello` (server time, for countdowns), `page` ({type, page}),
 * `incident` ({type, incident} with the building), and `: hb` comments.
 */
export function registerLiveRoutes(fastify: FastifyInstance, ctx: AppContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  function startStream(
    reply: FastifyReply,
    scope: StreamScope,
    stationId: string | null,
    p: Principal,
  ): void {
    reply.hijack();
    try {
      ctx.live.attach(reply.raw, scope, stationId, { sessionId: p.sessionId, township: townshipScope(p) });
    } catch (err) {
      // Nothing was written yet: answer like any other API error.
      const e = err instanceof ApiError ? err : new ApiError(500, API_ERRORS.INTERNAL, 'internal error');
      reply.raw.writeHead(e.statusCode, { 'content-type': 'application/json; charset=utf-8' });
      reply.raw.end(JSON.stringify({ code: e.code, message: e.message }));
      return;
    }
    // Hijacked replies skip onResponse: count the stream here (status as opened).
    ctx.metrics.httpRequests.inc({
      route: reply.request.routeOptions.url ?? 'unmatched',
      method: 'GET',
      status: '200',
    });
  }

  app.get('/api/live', { schema: { tags: ['live'], summary: 'SSE: township scope' } }, async (req, reply) => {
    const p = await authenticateAs(ctx, req, ['township', 'admin']);
    startStream(reply, 'township', null, p);
  });

  app.get(
    '/api/stations/:stationId/live',
    { schema: { params: stationParamsSchema, tags: ['live'], summary: 'SSE: one station' } },
    async (req, reply) => {
      const p = await authenticate(ctx, req);
      const station = visibleStation(p, ctx.registry.current.stations, req.params.stationId);
      startStream(reply, 'station', station.id, p);
    },
  );
}
