import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { API_ERRORS, ApiError } from './api-error.js';
import { stationParamsSchema } from './api-schemas.js';
import type { AppContext } from './app-context.js';
import type { StreamScope } from './sse-stream.js';

/**
 * Server-sent event streams: GET /api/live (township: everything) and
 * GET /api/stations/:stationId/live (what concerns that station). The reply is
 * hijacked and written by hand on reply.raw, so the other routes keep fastify's
 * normal serialization and inject() works for them.
 *
 * Events: `hello` (server time, for countdowns), `page` ({type, page}),
 * `incident` ({type, incident} with the building), and `: hb` comments.
 */
export function registerLiveRoutes(fastify: FastifyInstance, ctx: AppContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  function startStream(reply: FastifyReply, scope: StreamScope, stationId: string | null): void {
    reply.hijack();
    try {
      ctx.live.attach(reply.raw, scope, stationId);
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

  app.get('/api/live', (_req, reply) => {
    startStream(reply, 'township', null);
  });

  app.get('/api/stations/:stationId/live', { schema: { params: stationParamsSchema } }, (req, reply) => {
    const { stationId } = req.params;
    if (!ctx.registry.current.stations.has(stationId)) {
      throw new ApiError(404, API_ERRORS.STATION_NOT_FOUND, `unknown station ${stationId}`);
    }
    startStream(reply, 'station', stationId);
  });
}
