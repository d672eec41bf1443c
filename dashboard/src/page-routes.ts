import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { stationParamsSchema } from './api-schemas.js';
import type { AppContext } from './app-context.js';

/** dashboard/public: plain HTML, CSS and ES modules, no build step. */
export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

/**
 * Only our own origin may load anything: the consoles run where nothing external is
 * reachable, and a duty screen must not depend on a CDN.
 */
const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'";

/** The consoles' pages and their static files. */
export async function registerPageRoutes(fastify: FastifyInstance, ctx: AppContext): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  await app.register(fastifyStatic, {
    root: PUBLIC_DIR,
    prefix: '/',
    index: false,
    dotfiles: 'ignore',
    // Consoles must pick up a new version at once: revalidate (ETag) on every load.
    cacheControl: false,
    setHeaders: (reply) => {
      reply.header('cache-control', 'no-cache');
      reply.header('x-content-type-options', 'nosniff');
    },
  });

  app.get('/', (_req, reply) => reply.redirect('/township', 302));

  app.get('/township', (_req, reply) => {
    reply.header('content-security-policy', CSP);
    return reply.sendFile('township.html');
  });

  app.get('/station/:stationId', { schema: { params: stationParamsSchema } }, (req, reply) => {
    reply.header('content-security-policy', CSP);
    if (!ctx.registry.current.stations.has(req.params.stationId)) {
      return reply.code(404).sendFile('unknown-station.html');
    }
    return reply.sendFile('station.html');
  });
}
