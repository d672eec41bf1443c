import type { FastifyInstance } from 'fastify';
import type { AppContext } from './app-context.js';

/** How long /readyz waits for Redis PING before answering 503. */
export const READY_PING_TIMEOUT_MS = 1_000;

/** GET /livez (process is up), /readyz (Redis answers, live channel subscribed), /metrics. */
export function registerHealthRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get(
    '/livez',
    { schema: { tags: ['health'], summary: 'The process is up', security: [] } },
    async () => ({
      ok: true,
    }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Redis answers PING within 1 s and the live channel is subscribed',
        security: [],
      },
    },
    async (_req, reply) => {
      const redis = await pingWithin(ctx, READY_PING_TIMEOUT_MS);
      const live = ctx.live.subscribed;
      const ok = redis && live;
      return reply.code(ok ? 200 : 503).send({
        ok,
        ...(ok ? {} : { code: 'E_NOT_READY' }),
        redis: redis ? 'up' : 'down',
        live: live ? 'subscribed' : 'not_subscribed',
        registryVersion: ctx.registry.current.version,
        streams: ctx.live.streamCount,
      });
    },
  );

  app.get(
    '/metrics',
    { schema: { tags: ['health'], summary: 'Prometheus text', security: [] } },
    async (_req, reply) => {
      const body = await ctx.metrics.registry.metrics();
      return reply.type(ctx.metrics.registry.contentType).send(body);
    },
  );
}

async function pingWithin(ctx: AppContext, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      ctx.redis.ping().then(
        (r) => r === 'PONG',
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
