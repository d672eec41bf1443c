import { decodeEvent, envelopeShape } from '@hub/protocol';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AlertsMetrics } from './alerts-metrics.js';
import {
  buildingOfDevice,
  countRejected,
  handlerFailed,
  type LaneRejections,
  newEventFields,
  readEventFields,
  rejectEntry,
} from './event-entry.js';
import type { DecisionRegistry } from './incident-decision.js';
import type { IncidentEngine } from './incident-engine.js';
import { addToGroup, type BatchHandler, runGrouped } from './stream-consumer.js';
import { type HazardInput, hazardLaneOf } from './ticket-decision.js';
import type { TicketEngine } from './ticket-engine.js';
import { CORROBORATING_TYPES, type Corroboration } from './verification.js';

/**
 * Handler of `keys.otherEvents` (fields d/p/r, written by the broker, and by ingest
 * for offline devices): faults, electrical and charging hazards, offline, info.
 * It runs in its own consumer (its own connection and loop), so however many of
 * these arrive, the fire lane never waits behind them.
 *
 * Per event:
 * - a hazard lane (electrical, charging, fault, offline; ticket-decision.ts) → the
 *   ticket engine opens or folds the building's ticket of that lane;
 * - a corroborating type (arc fault, over-temperature, ...) → also the incident
 *   engine, which confirms the building's open fire incident;
 * - a test press → the incident audit (never a page).
 * Events of one building are applied in order; buildings run concurrently. Offline
 * events come from ingest's heartbeat supervision as `{v, id, ts, type: 'offline'}`
 * (seq optional): they are accepted here even before protocol's EVENT_TYPES lists
 * the type.
 */
export interface OtherLaneHandlerOptions {
  engine: IncidentEngine;
  tickets: TicketEngine;
  registry: () => DecisionRegistry;
  metrics: AlertsMetrics;
  logger: Logger;
}

const STREAM = 'other';

const offlineEventSchema = z.object({
  v: envelopeShape.v,
  id: envelopeShape.id,
  ts: envelopeShape.ts,
  seq: envelopeShape.seq.optional(),
  type: z.literal('offline'),
  detail: z.string().max(200).optional(),
});

interface Parsed {
  entryId: string;
  deviceId: string;
  receivedAt: number;
  type: string;
  eventId: string;
  result?: 'pass' | 'fail';
  detail?: string;
  raw: ReturnType<typeof decodeEvent>;
}

export function createOtherLaneHandler(opts: OtherLaneHandlerOptions): BatchHandler {
  const { engine, tickets, metrics, logger } = opts;
  const lane: LaneRejections = { stream: STREAM, metrics, logger };
  const f = newEventFields();

  const handleOne = async (acks: string[], buildingId: string, p: Parsed): Promise<boolean> => {
    try {
      if (p.type === 'test' && p.raw.ok) {
        const res = await engine.onFireEvent({
          deviceId: p.deviceId,
          event: p.raw.value,
          receivedAt: p.receivedAt,
        });
        countRejected(lane, res, p.deviceId, p.entryId);
      }
      const kind = CORROBORATING_TYPES[p.type];
      if (kind !== undefined) {
        const c: Corroboration = { kind, type: p.type, deviceId: p.deviceId, at: p.receivedAt };
        await engine.onCorroboration(buildingId, c);
      }
      const hazardLane = hazardLaneOf(p.type, p.result);
      if (hazardLane !== null) {
        const input: HazardInput = {
          deviceId: p.deviceId,
          type: p.type,
          lane: hazardLane,
          eventId: p.eventId,
          receivedAt: p.receivedAt,
          ...(p.detail !== undefined ? { detail: p.detail } : {}),
        };
        countRejected(lane, await tickets.onHazard(input), p.deviceId, p.entryId);
      }
      acks.push(p.entryId);
      return true;
    } catch (err) {
      return handlerFailed(lane, err, p.deviceId, p.entryId, 'other-lane event not handled; will retry');
    }
  };

  return async (entries) => {
    const acks: string[] = [];
    const registry = opts.registry();
    const byBuilding = new Map<string, Parsed[]>();
    for (const e of entries) {
      if (!readEventFields(lane, acks, e, f)) continue;
      const { deviceId, payload, receivedAt } = f;
      const decoded = decodeEvent(payload);
      let parsed: Parsed;
      if (decoded.ok) {
        const v = decoded.value;
        parsed = {
          entryId: e.id,
          deviceId,
          receivedAt,
          type: v.type,
          eventId: v.id,
          ...(v.result !== undefined ? { result: v.result } : {}),
          ...(v.detail !== undefined ? { detail: v.detail } : {}),
          raw: decoded,
        };
      } else {
        const offline = parseOffline(payload);
        if (offline === null) {
          rejectEntry(lane, acks, e.id, deviceId, decoded.code, decoded.message);
          continue;
        }
        parsed = {
          entryId: e.id,
          deviceId,
          receivedAt,
          type: 'offline',
          eventId: offline.id,
          ...(offline.detail !== undefined ? { detail: offline.detail } : {}),
          raw: decoded,
        };
      }
      metrics.otherEvents.inc({ type: parsed.type });
      const buildingId = buildingOfDevice(lane, acks, registry, e.id, deviceId);
      if (buildingId === undefined) continue;
      addToGroup(byBuilding, buildingId, parsed);
    }
    await runGrouped(byBuilding, (p, buildingId) => handleOne(acks, buildingId, p));
    return acks;
  };
}

function parseOffline(payload: string): z.infer<typeof offlineEventSchema> | null {
  if (payload.length > 2_048) return null;
  try {
    const r = offlineEventSchema.safeParse(JSON.parse(payload));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}
