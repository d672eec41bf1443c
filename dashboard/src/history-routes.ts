import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { townshipScope } from './access-policy.js';
import { API_ERRORS, ApiError } from './api-error.js';
import type { AppContext } from './app-context.js';
import { authenticateAs } from './authenticate.js';

/** Points per series one chart request may return (a week of 1-minute readings is 10k). */
export const MAX_HISTORY_POINTS = 20_000;
/** The widest window one request may ask for. */
export const MAX_HISTORY_SPAN_MS = 31 * 86_400_000;

const historyQuery = z
  .object({
    from: z.coerce.number().int().nonnegative().optional(),
    to: z.coerce.number().int().positive().optional(),
  })
  .strict();

/**
 * GET /api/devices/:deviceId/history — a device's readings from InfluxDB through
 * ingest's query functions (createInfluxQueries().deviceHistory), for the uPlot charts.
 * Series are returned as columns: `time` (ms) plus every numeric field, per measurement
 * (and per circuit/port for monitors and chargers).
 */
export function registerHistoryRoutes(fastify: FastifyInstance, ctx: AppContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/api/devices/:deviceId/history',
    {
      schema: {
        tags: ['township'],
        params: z.object({ deviceId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) }),
        querystring: historyQuery,
        summary: "A device's readings (InfluxDB), as columns for charts",
      },
    },
    async (req) => {
      const p = await authenticateAs(ctx, req, ['township', 'admin']);
      const snapshot = ctx.registry.current;
      const device = snapshot.devices.get(req.params.deviceId);
      const building = device === undefined ? undefined : snapshot.buildings.get(device.buildingId);
      if (device === undefined || building === undefined) {
        throw new ApiError(404, API_ERRORS.DEVICE_NOT_FOUND, 'unknown device');
      }
      const scope = townshipScope(p);
      if (scope !== null && building.township !== scope) {
        throw new ApiError(403, API_ERRORS.OTHER_TOWNSHIP, 'that device is not in your township');
      }
      if (ctx.influx === null) {
        throw new ApiError(
          503,
          API_ERRORS.INFLUX_UNAVAILABLE,
          'InfluxDB is not configured for the dashboard',
        );
      }
      const to = req.query.to ?? ctx.clock() + 1;
      const from = req.query.from ?? to - 86_400_000;
      if (to <= from || to - from > MAX_HISTORY_SPAN_MS) {
        throw new ApiError(400, API_ERRORS.BAD_QUERY, 'need from < to within 31 days');
      }
      let series: Awaited<ReturnType<NonNullable<AppContext['influx']>['deviceHistory']>>;
      try {
        series = await ctx.influx.deviceHistory(device.id, from, to, MAX_HISTORY_POINTS);
      } catch (err) {
        req.log.warn({ err }, 'history query failed');
        throw new ApiError(503, API_ERRORS.INFLUX_UNAVAILABLE, 'InfluxDB did not answer');
      }
      return {
        device: {
          id: device.id,
          kind: device.kind,
          model: device.model,
          floor: device.floor,
          room: device.room,
        },
        building: { id: building.id, name: building.name },
        from,
        to,
        series: series.flatMap((s) => toColumns(s.measurement, s.rows)),
      };
    },
  );
}

/** Fields that are tags or identifiers, never plotted. */
const NOT_PLOTTED = new Set(['time', 'device', 'kind', 'model', 'township', 'seq', 'ch', 'port']);

/**
 * Rows → one chart series per (measurement, circuit/port): `time` and each numeric
 * field as columns (null where a row lacks the field, which uPlot draws as a gap).
 */
export function toColumns(
  measurement: string,
  rows: Array<Record<string, unknown>>,
): Array<{
  measurement: string;
  channel: string | null;
  time: number[];
  fields: Record<string, Array<number | null>>;
}> {
  const groups = new Map<string, Array<Record<string, unknown>>>();
  for (const r of rows) {
    const ch = r.ch ?? r.port;
    const key = ch === undefined || ch === null ? '' : String(ch);
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [r]);
    else g.push(r);
  }
  const out = [];
  for (const [channel, list] of groups) {
    const names = new Set<string>();
    for (const r of list)
      for (const [k, v] of Object.entries(r)) if (!NOT_PLOTTED.has(k) && typeof v === 'number') names.add(k);
    if (names.size === 0) continue;
    const fields: Record<string, Array<number | null>> = {};
    for (const n of names) fields[n] = list.map((r) => (typeof r[n] === 'number' ? (r[n] as number) : null));
    out.push({
      measurement,
      channel: channel === '' ? null : channel,
      time: list.map((r) => Number(r.time)),
      fields,
    });
  }
  return out;
}
