import type { Station } from '@hub/protocol';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { API_ERRORS, ApiError } from './api-error.js';
import {
  actionBodySchema,
  actionParamsSchema,
  incidentParamsSchema,
  listQuerySchema,
  stationParamsSchema,
} from './api-schemas.js';
import type { AppContext } from './app-context.js';
import { toIncidentView } from './incident-view.js';
import { buildStationReply, checkStationMayAct, enqueueStationAction } from './station-actions.js';

/** REST routes under /api (the live streams are in live-routes.ts). */
export function registerApiRoutes(fastify: FastifyInstance, ctx: AppContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  function stationOr404(stationId: string): Station {
    const station = ctx.registry.current.stations.get(stationId);
    if (station === undefined) {
      throw new ApiError(404, API_ERRORS.STATION_NOT_FOUND, `unknown station ${stationId}`);
    }
    return station;
  }

  app.get('/api/incidents', { schema: { querystring: listQuerySchema } }, async (req) => {
    const list = await ctx.incidents.list({ state: req.query.state, limit: req.query.limit });
    const snapshot = ctx.registry.current;
    return { incidents: list.map((i) => toIncidentView(i, snapshot)) };
  });

  app.get('/api/incidents/:id', { schema: { params: incidentParamsSchema } }, async (req) => {
    const incident = await ctx.incidents.get(req.params.id);
    if (incident === null) {
      throw new ApiError(404, API_ERRORS.INCIDENT_NOT_FOUND, `unknown incident ${req.params.id}`);
    }
    const audit = await ctx.incidents.audit(incident.id);
    return { incident: toIncidentView(incident, ctx.registry.current), audit };
  });

  app.get('/api/stations', async () => {
    const stations = [];
    for (const s of ctx.registry.current.stations.values()) {
      let officersOnDuty = 0;
      for (const o of s.officers) if (o.onDuty) officersOnDuty++;
      // No officer names or phones here: those wait for accounts and roles.
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
    { schema: { params: stationParamsSchema, querystring: listQuerySchema } },
    async (req) => {
      const station = stationOr404(req.params.stationId);
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

  app.post(
    '/api/stations/:stationId/incidents/:incidentId/actions',
    { schema: { params: actionParamsSchema, body: actionBodySchema } },
    async (req, reply) => {
      const { stationId, incidentId } = req.params;
      const now = ctx.clock();
      // Body first: it needs no I/O, and a malformed request is the client's bug.
      const stationReply = buildStationReply(req.body, incidentId, now);
      stationOr404(stationId);
      const incident = await ctx.incidents.get(incidentId);
      if (incident === null) {
        throw new ApiError(404, API_ERRORS.INCIDENT_NOT_FOUND, `unknown incident ${incidentId}`);
      }
      checkStationMayAct(incident, stationId);
      const entryId = await enqueueStationAction(ctx.redis, ctx.keys, stationId, stationReply, now);
      ctx.metrics.actionsQueued.inc({ type: stationReply.type });
      req.log.info({ stationId, incidentId, type: stationReply.type, entryId }, 'station action queued');
      return reply.code(202).send({ queued: true, entryId });
    },
  );
}
