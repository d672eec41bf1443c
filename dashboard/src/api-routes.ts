import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { checkSeeIncident, stationOr404, townshipScope, visibleStation } from './access-policy.js';
import { API_ERRORS, ApiError } from './api-error.js';
import {
  actionBodySchema,
  incidentActionParamsSchema,
  incidentParamsSchema,
  listQuerySchema,
  stationParamsSchema,
} from './api-schemas.js';
import type { AppContext } from './app-context.js';
import { authenticate, authenticateAs } from './authenticate.js';
import { toIncidentView } from './incident-view.js';
import { buildStationReply, checkStationMayAct, enqueueStationAction } from './station-actions.js';

/**
 * REST routes under /api (the live streams are in live-routes.ts). Every route
 * authenticates first and asks the access policy before it reads anything.
 */
export function registerApiRoutes(fastify: FastifyInstance, ctx: AppContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/api/incidents',
    { schema: { querystring: listQuerySchema, tags: ['incidents'], summary: 'Incidents of your township' } },
    async (req) => {
      const p = await authenticateAs(ctx, req, ['township', 'admin']);
      const scope = townshipScope(p);
      const list = await ctx.incidents.list({
        state: req.query.state,
        limit: req.query.limit,
        ...(scope === null ? {} : { township: scope }),
      });
      const snapshot = ctx.registry.current;
      return { incidents: list.map((i) => toIncidentView(i, snapshot)) };
    },
  );

  app.get(
    '/api/incidents/:id',
    { schema: { params: incidentParamsSchema, tags: ['incidents'], summary: 'One incident with its audit' } },
    async (req) => {
      const p = await authenticate(ctx, req);
      const incident = await ctx.incidents.get(req.params.id);
      if (incident === null) {
        throw new ApiError(404, API_ERRORS.INCIDENT_NOT_FOUND, `unknown incident ${req.params.id}`);
      }
      checkSeeIncident(p, incident);
      const audit = await ctx.incidents.audit(incident.id);
      const station = p.stationId === null ? undefined : ctx.registry.current.stations.get(p.stationId);
      return { incident: toIncidentView(incident, ctx.registry.current, station), audit };
    },
  );

  app.get('/api/stations', { schema: { tags: ['stations'] } }, async (req) => {
    const p = await authenticate(ctx, req);
    const scope = townshipScope(p);
    const stations = [];
    for (const s of ctx.registry.current.stations.values()) {
      if (scope !== null && s.township !== scope) continue;
      let officersOnDuty = 0;
      for (const o of s.officers) if (o.onDuty) officersOnDuty++;
      // No officer names or phones here.
      stations.push({
        id: s.id,
        name: s.name,
        township: s.township,
        lat: s.lat,
        lon: s.lon,
        onDuty: s.onDuty,
        officersOnDuty,
      });
    }
    stations.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { stations };
  });

  app.get(
    '/api/stations/:stationId/incidents',
    {
      schema: {
        params: stationParamsSchema,
        querystring: listQuerySchema,
        tags: ['stations'],
        summary: "A station's incidents (with distance)",
      },
    },
    async (req) => {
      const p = await authenticate(ctx, req);
      const station = visibleStation(p, ctx.registry.current.stations, req.params.stationId);
      const list = await ctx.incidents.list({
        state: req.query.state,
        limit: req.query.limit,
        stationId: station.id,
      });
      const snapshot = ctx.registry.current;
      return {
        station: { id: station.id, name: station.name, onDuty: station.onDuty },
        incidents: list.map((i) => toIncidentView(i, snapshot, station)),
      };
    },
  );

  /**
   * An officer's action on an incident. The acting station is the session's (never a
   * path or body field), so an officer can only ever act as their own station.
   */
  app.post(
    '/api/incidents/:incidentId/actions',
    {
      schema: {
        params: incidentActionParamsSchema,
        body: actionBodySchema,
        tags: ['incidents'],
        summary: "Queue a duty officer's action (station from the session)",
      },
    },
    async (req, reply) => {
      const p = await authenticateAs(ctx, req, ['officer']);
      const stationId = p.stationId as string; // officers always have one (account schema)
      const { incidentId } = req.params;
      const now = ctx.clock();
      // Body first: it needs no I/O, and a malformed request is the client's bug.
      const stationReply = buildStationReply(
        { ...req.body, officerId: req.body.officerId ?? p.username },
        incidentId,
        now,
      );
      stationOr404(ctx.registry.current.stations, stationId);
      const incident = await ctx.incidents.get(incidentId);
      if (incident === null) {
        throw new ApiError(404, API_ERRORS.INCIDENT_NOT_FOUND, `unknown incident ${incidentId}`);
      }
      checkStationMayAct(incident, stationId);
      const entryId = await enqueueStationAction(ctx.redis, ctx.keys, stationId, stationReply, now);
      ctx.metrics.actionsQueued.inc({ type: stationReply.type });
      req.log.info(
        { stationId, incidentId, type: stationReply.type, entryId, username: p.username },
        'station action queued',
      );
      return reply.code(202).send({ queued: true, entryId });
    },
  );
}
