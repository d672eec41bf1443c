import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { maySeeStation } from './access-policy.js';
import type { Principal } from './account.js';
import { stationParamsSchema } from './api-schemas.js';
import type { AppContext } from './app-context.js';
import { homeOf, optionalPrincipal } from './authenticate.js';

/** dashboard/public: plain HTML, CSS and ES modules, no build step. */
export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

const require = createRequire(import.meta.url);
/** dist/ folders of the browser libraries, wherever npm hoisted them. */
const LEAFLET_DIST = join(dirname(require.resolve('leaflet/package.json')), 'dist');
const UPLOT_DIST = join(dirname(require.resolve('uplot/package.json')), 'dist');

/**
 * Only our own origin may load anything: the consoles run where nothing external is
 * reachable, and a duty screen must not depend on a CDN.
 */
const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'";

/**
 * The consoles' pages and their static files. Pages need a session: without one the
 * browser is sent to /login (and back afterwards); an officer opening another
 * station's console gets a 403 page.
 */
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
  // Leaflet and uPlot from node_modules, same origin (no CDN).
  await app.register(fastifyStatic, {
    root: LEAFLET_DIST,
    prefix: '/vendor/leaflet/',
    decorateReply: false,
    index: false,
    allowedPath: (p) => /^\/(leaflet\.(js|css)|images\/[a-z-]+\.png)$/.test(p),
  });
  await app.register(fastifyStatic, {
    root: UPLOT_DIST,
    prefix: '/vendor/uplot/',
    decorateReply: false,
    index: false,
    allowedPath: (p) => /^\/uPlot\.(esm\.js|min\.css)$/.test(p),
  });

  function page(reply: FastifyReply, file: string, code = 200) {
    reply.header('content-security-policy', CSP);
    return reply.code(code).sendFile(file, PUBLIC_DIR);
  }

  async function principalOrLogin(req: FastifyRequest, reply: FastifyReply): Promise<Principal | null> {
    const p = await optionalPrincipal(ctx, req);
    if (p === null) {
      await reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 302);
      return null;
    }
    return p;
  }

  app.get('/', { schema: { hide: true } }, async (req, reply) => {
    const p = await optionalPrincipal(ctx, req);
    return reply.redirect(p === null ? '/login' : homeOf(p), 302);
  });

  // Browsers ask for it on every page; an icon is not worth a 404 in every log.
  app.get('/favicon.ico', { schema: { hide: true } }, (_req, reply) => reply.code(204).send());

  app.get('/login', { schema: { hide: true } }, (_req, reply) => page(reply, 'login.html'));

  app.get('/township', { schema: { hide: true } }, async (req, reply) => {
    const p = await principalOrLogin(req, reply);
    if (p === null) return reply;
    if (p.role === 'officer') return reply.redirect(homeOf(p), 302);
    return page(reply, 'township.html');
  });

  app.get(
    '/station/:stationId',
    { schema: { params: stationParamsSchema, hide: true } },
    async (req, reply) => {
      const p = await principalOrLogin(req, reply);
      if (p === null) return reply;
      const station = ctx.registry.current.stations.get(req.params.stationId);
      if (station === undefined) return page(reply, 'unknown-station.html', 404);
      if (!maySeeStation(p, station)) return page(reply, 'forbidden.html', 403);
      return page(reply, 'station.html');
    },
  );
}
