import { DISPOSITION_CODES, STATION_ACTIONS } from '@hub/protocol';
import { z } from 'zod';
import { MAX_LIST_LIMIT } from './incident-reader.js';

/**
 * Request schemas of the HTTP API (zod, through fastify-type-provider-zod). Ids are
 * restricted to the registry's id alphabet (plus '.'), so a path parameter can never
 * reach into another key of the Redis namespace (no ':').
 */
export const stationIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'station ids are 1-64 of A-Z a-z 0-9 _ -');
export const incidentIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'incident ids are 1-64 of A-Z a-z 0-9 _ . -');

export const stationParamsSchema = z.object({ stationId: stationIdSchema });
export const incidentParamsSchema = z.object({ id: incidentIdSchema });
export const incidentActionParamsSchema = z.object({ incidentId: incidentIdSchema });

export const listQuerySchema = z
  .object({
    state: z.enum(['open', 'all']).default('open'),
    limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(100),
  })
  .strict();

/**
 * What a console posts. The incident and station come from the path, version and
 * time from the server; the result is then checked against the protocol's
 * stationReplySchema (lengths, "close needs a disposition").
 */
export const actionBodySchema = z
  .object({
    type: z.enum(STATION_ACTIONS),
    /** Defaults to the session's username. */
    officerId: z.string().optional(),
    disposition: z.enum(DISPOSITION_CODES).optional(),
    note: z.string().optional(),
  })
  .strict();
export type ActionBody = z.infer<typeof actionBodySchema>;
