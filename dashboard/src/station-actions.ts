import {
  ACTION_STREAM_FIELDS,
  type HubKeys,
  type Incident,
  type StationReply,
  stationReplySchema,
} from '@hub/protocol';
import type { Redis } from 'ioredis';
import { API_ERRORS, ApiError } from './api-error.js';
import type { ActionBody } from './api-schemas.js';

/**
 * Approximate cap of the actions stream (XADD MAXLEN ~). The alerts service consumes
 * it in a consumer group long before this; the cap only keeps a stalled consumer from
 * growing Redis without bound.
 */
export const ACTIONS_STREAM_MAXLEN = 100_000;

/** Body + path + server time → a StationReply, validated by the protocol's schema. */
export function buildStationReply(body: ActionBody, incidentId: string, now: number): StationReply {
  const candidate: Record<string, unknown> = { v: 1, type: body.type, incidentId, ts: now };
  if (body.officerId !== undefined) candidate.officerId = body.officerId;
  if (body.disposition !== undefined) candidate.disposition = body.disposition;
  if (body.note !== undefined) candidate.note = body.note;
  const r = stationReplySchema.safeParse(candidate);
  if (!r.success) {
    const first = r.error.issues[0];
    const where = first !== undefined && first.path.length > 0 ? `${first.path.join('.')}: ` : '';
    throw new ApiError(400, API_ERRORS.BAD_BODY, where + (first?.message ?? 'invalid action'));
  }
  return r.data;
}

/**
 * Whether this station may act on this incident. Only what the dashboard can know for
 * sure is checked here; the state machine (who may accept after whom) is the alerts
 * service's, which applies or rejects the queued action and publishes the result.
 */
export function checkStationMayAct(incident: Incident, stationId: string): void {
  if (!incident.pagedStations.includes(stationId) && incident.stationId !== stationId) {
    throw new ApiError(
      403,
      API_ERRORS.STATION_NOT_PAGED,
      `station ${stationId} was not paged for ${incident.id}`,
    );
  }
  if (incident.state === 'closed') {
    throw new ApiError(409, API_ERRORS.INCIDENT_CLOSED, `incident ${incident.id} is closed`);
  }
}

/** Appends the reply to keys.actions (fields s/j/r); returns the stream entry id. */
export async function enqueueStationAction(
  redis: Redis,
  keys: HubKeys,
  stationId: string,
  reply: StationReply,
  receivedAt: number,
): Promise<string> {
  const id = await redis.xadd(
    keys.actions,
    'MAXLEN',
    '~',
    ACTIONS_STREAM_MAXLEN,
    '*',
    ACTION_STREAM_FIELDS.stationId,
    stationId,
    ACTION_STREAM_FIELDS.reply,
    JSON.stringify(reply),
    ACTION_STREAM_FIELDS.receivedAt,
    String(receivedAt),
  );
  return id as string;
}
