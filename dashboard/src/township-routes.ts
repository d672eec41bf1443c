import { KEY_PERIOD_MODES, keyPeriodSchema, TICKET_STATES } from '@hub/protocol';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { townshipScope } from './access-policy.js';
import type { Principal } from './account.js';
import { API_ERRORS, ApiError } from './api-error.js';
import { incidentIdSchema } from './api-schemas.js';
import type { AppContext } from './app-context.js';
import { authenticateAs } from './authenticate.js';
import { fleetHealth } from './fleet-health.js';
import { computeIncidentStats, statsCsv } from './incident-stats.js';
import { keyPeriodStatus, readKeyPeriod, writeKeyPeriod } from './key-period-store.js';
import { buildOperatorAction, enqueueOperatorAction } from './operator-actions.js';
import { REGISTRY_CSV_KINDS, registryCsv } from './registry-csv.js';
import { importRegistryCsv } from './registry-import.js';
import { MAX_TICKETS_LISTED } from './ticket-reader.js';
import { townshipMap } from './township-map.js';

/** Incidents one statistics request may read (a township has a few hundred a month). */
export const MAX_STATS_INCIDENTS = 20_000;
const DAY = 86_400_000;

const ticketIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const ticketListQuery = z
  .object({
    state: z.enum(['open', 'all']).default('open'),
    limit: z.coerce.number().int().min(1).max(MAX_TICKETS_LISTED).default(200),
  })
  .strict();
const ticketActionBody = z
  .object({
    type: z.enum(['assign', 'start_rectifying', 'close', 'supervise', 'comment']),
    ownerId: z.string().min(1).max(64).optional(),
    evidence: z
      .object({ text: z.string().min(1).max(2000), photoUrl: z.string().url().max(2000).optional() })
      .strict()
      .optional(),
    note: z.string().max(500).optional(),
  })
  .strict();
const statsQuery = z
  .object({
    /** ms since the epoch; default: the last 31 days. */
    from: z.coerce.number().int().nonnegative().optional(),
    to: z.coerce.number().int().positive().optional(),
  })
  .strict();
const keyPeriodBody = z
  .object({
    mode: z.enum(KEY_PERIOD_MODES),
    periods: z.array(keyPeriodSchema).max(200).optional(),
  })
  .strict();
const csvParams = z.object({ kind: z.enum(REGISTRY_CSV_KINDS) });
/** A township's buildings or devices as CSV: a few MB at most (20,000 rows). */
const IMPORT_BODY_LIMIT = 8 * 1024 * 1024;

/**
 * The township console's data: map layers, fleet health, hazard tickets and their
 * actions, statistics (JSON and CSV), the key-period switch and registry exports.
 * Township operators see their own township; admins everything.
 */
export function registerTownshipRoutes(fastify: FastifyInstance, ctx: AppContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const tags = ['township'];

  const operator = (req: Parameters<typeof authenticateAs>[1]): Promise<Principal> =>
    authenticateAs(ctx, req, ['township', 'admin']);

  app.get(
    '/api/township/map',
    { schema: { tags, summary: 'GeoJSON layers: buildings, stations, areas' } },
    async (req) => {
      const p = await operator(req);
      return townshipMap(ctx.registry.current, townshipScope(p));
    },
  );

  app.get(
    '/api/township/fleet',
    { schema: { tags, summary: 'Fleet health and the silent-device worklist per grid' } },
    async (req) => {
      const p = await operator(req);
      return fleetHealth(
        ctx.redis,
        ctx.keys,
        ctx.registry.current,
        townshipScope(p),
        ctx.influx,
        (err) => req.log.warn({ err }, 'fleet counts from InfluxDB failed; battery counts left out'),
        { now: ctx.clock(), timeZone: ctx.timeZone },
      );
    },
  );

  app.get(
    '/api/tickets',
    { schema: { tags, querystring: ticketListQuery, summary: 'Hazard tickets' } },
    async (req) => {
      const p = await operator(req);
      const tickets = await ctx.tickets.list(req.query.state, req.query.limit, townshipScope(p));
      const snapshot = ctx.registry.current;
      return {
        tickets: tickets.map((t) => {
          const b = snapshot.buildings.get(t.buildingId);
          return { ...t, building: b === undefined ? null : { id: b.id, name: b.name, address: b.address } };
        }),
        states: TICKET_STATES,
      };
    },
  );

  app.post(
    '/api/tickets/:ticketId/actions',
    {
      schema: {
        tags,
        params: z.object({ ticketId: ticketIdSchema }),
        body: ticketActionBody,
        summary: 'Queue a ticket action for alerts (account from the session)',
      },
    },
    async (req, reply) => {
      const p = await operator(req);
      const ticket = await ctx.tickets.get(req.params.ticketId);
      if (ticket === null) throw new ApiError(404, API_ERRORS.TICKET_NOT_FOUND, 'unknown ticket');
      const scope = townshipScope(p);
      if (scope !== null && ticket.township !== scope) {
        throw new ApiError(403, API_ERRORS.OTHER_TOWNSHIP, 'that ticket is not in your township');
      }
      if (ticket.state === 'closed')
        throw new ApiError(409, API_ERRORS.TICKET_CLOSED, 'the ticket is closed');
      const now = ctx.clock();
      const action = buildOperatorAction({ ...req.body, ticketId: ticket.id }, now);
      const entryId = await enqueueOperatorAction(ctx.redis, ctx.keys, p.username, action, now);
      ctx.metrics.operatorActionsQueued.inc({ type: action.type });
      return reply.code(202).send({ queued: true, entryId });
    },
  );

  app.post(
    '/api/incidents/:incidentId/confirm',
    {
      schema: {
        tags,
        params: z.object({ incidentId: incidentIdSchema }),
        body: z.object({ note: z.string().max(500).optional() }).strict(),
        summary: 'A human confirmation of a fire incident (operator)',
      },
    },
    async (req, reply) => {
      const p = await operator(req);
      const incident = await ctx.incidents.get(req.params.incidentId);
      if (incident === null) throw new ApiError(404, API_ERRORS.INCIDENT_NOT_FOUND, 'unknown incident');
      const scope = townshipScope(p);
      if (scope !== null && incident.township !== scope) {
        throw new ApiError(403, API_ERRORS.OTHER_TOWNSHIP, 'that incident is not in your township');
      }
      const now = ctx.clock();
      const action = buildOperatorAction(
        { type: 'confirm_incident', incidentId: incident.id, ...req.body },
        now,
      );
      const entryId = await enqueueOperatorAction(ctx.redis, ctx.keys, p.username, action, now);
      ctx.metrics.operatorActionsQueued.inc({ type: action.type });
      return reply.code(202).send({ queued: true, entryId });
    },
  );

  async function stats(p: Principal, q: z.infer<typeof statsQuery>) {
    const to = q.to ?? ctx.clock() + 1;
    const from = q.from ?? to - 31 * DAY;
    if (to <= from) throw new ApiError(400, API_ERRORS.BAD_QUERY, 'to must be after from');
    const scope = townshipScope(p);
    const rows = (await ctx.incidents.range(from, to, MAX_STATS_INCIDENTS)).filter(
      (r) => scope === null || r.incident.township === scope,
    );
    const stations = ctx.registry.current.stations;
    return computeIncidentStats(rows, {
      from,
      to,
      timeZone: ctx.timeZone,
      stationName: (id) => stations.get(id)?.name ?? id,
    });
  }

  app.get(
    '/api/stats',
    { schema: { tags, querystring: statsQuery, summary: 'Alarm and response statistics' } },
    async (req) => stats(await operator(req), req.query),
  );

  app.get(
    '/api/stats.csv',
    { schema: { tags, querystring: statsQuery, summary: 'Statistics as CSV' } },
    async (req, reply) => {
      const s = await stats(await operator(req), req.query);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="hub-statistics.csv"')
        .send(`\uFEFF${statsCsv(s)}`);
    },
  );

  app.get('/api/key-period', { schema: { tags, summary: 'Key-period mode (重点时段)' } }, async (req) => {
    await operator(req);
    return keyPeriodStatus(await readKeyPeriod(ctx.redis, ctx.keys), ctx.clock());
  });

  app.put(
    '/api/key-period',
    { schema: { tags, body: keyPeriodBody, summary: 'Switch key-period mode' } },
    async (req) => {
      const p = await operator(req);
      const current = await readKeyPeriod(ctx.redis, ctx.keys);
      const now = ctx.clock();
      const next = {
        v: 1 as const,
        mode: req.body.mode,
        periods: req.body.periods ?? current.periods,
        updatedAt: now,
        updatedBy: p.username,
      };
      await writeKeyPeriod(ctx.redis, ctx.keys, next);
      req.log.info({ mode: next.mode, by: p.username }, 'key-period mode written');
      return keyPeriodStatus(next, now);
    },
  );

  // CSV bodies for the import only (every other route takes JSON and keeps the 16 KiB limit).
  app.addContentTypeParser(
    'text/csv',
    { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT },
    (_req, body, done) => done(null, body),
  );

  /**
   * Imports buildings, devices or stations (the export's columns). All or nothing: any
   * invalid row (schema, unknown building or township, another township's record) and
   * nothing is written; `?dryRun=true` only checks. New devices get a random secret,
   * returned in this answer only (the registry keeps its salted hash).
   */
  app.post(
    '/api/registry/:kind.csv',
    {
      bodyLimit: IMPORT_BODY_LIMIT,
      schema: {
        tags,
        params: csvParams,
        querystring: z.object({ dryRun: z.enum(['true', 'false']).default('false') }).strict(),
        summary: 'Import buildings, devices or stations from CSV (text/csv; all or nothing)',
      },
    },
    async (req, reply) => {
      const p = await operator(req);
      if (typeof req.body !== 'string') {
        throw new ApiError(415, API_ERRORS.UNSUPPORTED_MEDIA_TYPE, 'send the CSV as text/csv');
      }
      const { kind } = req.params;
      const dryRun = req.query.dryRun === 'true';
      const out = await importRegistryCsv(ctx.redis, ctx.keys, kind, req.body, townshipScope(p), dryRun);
      if (!out.ok) {
        ctx.metrics.registryImports.inc({ kind, result: 'rejected' });
        return reply.code(422).send({
          code: API_ERRORS.IMPORT_INVALID,
          message: `${out.problemCount} invalid rows; nothing was written`,
          problems: out.problems,
          problemCount: out.problemCount,
        });
      }
      const { ok: _ok, ...answer } = out;
      ctx.metrics.registryImports.inc({ kind, result: dryRun ? 'checked' : 'written' });
      ctx.metrics.registryImportRows.inc({ kind }, out.written);
      if (!dryRun && out.created !== undefined)
        ctx.metrics.registryImportRows.inc({ kind: 'devices_created' }, out.created);
      // Secrets are logged by count only, and the answer must not sit in any cache.
      req.log.info(
        {
          by: p.username,
          kind,
          valid: out.valid,
          written: out.written,
          created: out.created,
          version: out.version,
        },
        'registry imported',
      );
      return reply.header('cache-control', 'no-store').send(answer);
    },
  );

  app.get(
    '/api/registry/:kind.csv',
    { schema: { tags, params: csvParams, summary: 'Registry export (buildings, devices, stations)' } },
    async (req, reply) => {
      const p = await operator(req);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${req.params.kind}.csv"`)
        .send(registryCsv(ctx.registry.current, req.params.kind, townshipScope(p)));
    },
  );
}
