import { decodeEvent } from '@hub/protocol';
import type { Logger } from 'pino';
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
import type { AlarmInput, DecisionRegistry } from './incident-decision.js';
import type { IncidentEngine } from './incident-engine.js';
import { addToGroup, type BatchHandler, runGrouped } from './stream-consumer.js';

/**
 * Handler of the fire-lane stream (`keys.fireEvents`, fields d/p/r written by the
 * broker before its PUBACK). Per entry: parse, decode (never throws), look the
 * device up in the in-memory registry (no database query per message), then the
 * engine decides, persists and pages. Bad input (missing fields, invalid payload,
 * unknown device) is counted by code, logged with the device id, and acked: it must
 * never block the stream. An entry is left unacked only when Redis or MQTT failed;
 * the consumer's claim pass retries it.
 */
export interface FireLaneHandlerOptions {
  engine: IncidentEngine;
  registry: () => DecisionRegistry;
  metrics: AlertsMetrics;
  logger: Logger;
}

/** The engine's input plus the entry id; handed to the engine as is (no copy per alarm). */
interface ParsedAlarm extends AlarmInput {
  readonly entryId: string;
}

const STREAM = 'fire';

export function createFireLaneHandler(opts: FireLaneHandlerOptions): BatchHandler {
  const { engine, metrics, logger } = opts;
  const lane: LaneRejections = { stream: STREAM, metrics, logger };
  const f = newEventFields();

  const handleOne = async (acks: string[], a: ParsedAlarm): Promise<boolean> => {
    try {
      countRejected(lane, await engine.onFireEvent(a), a.deviceId, a.entryId);
      acks.push(a.entryId);
      return true;
    } catch (err) {
      return handlerFailed(lane, err, a.deviceId, a.entryId, 'fire event not handled; will retry');
    }
  };

  return async (entries) => {
    const acks: string[] = [];
    const registry = opts.registry();
    const byBuilding = new Map<string, ParsedAlarm[]>();
    for (const e of entries) {
      if (!readEventFields(lane, acks, e, f)) continue;
      const decoded = decodeEvent(f.payload);
      if (!decoded.ok) {
        rejectEntry(lane, acks, e.id, f.deviceId, decoded.code, decoded.message);
        continue;
      }
      metrics.alarmsReceived.inc({ type: decoded.value.type });
      const buildingId = buildingOfDevice(lane, acks, registry, e.id, f.deviceId);
      if (buildingId === undefined) continue;
      addToGroup(byBuilding, buildingId, {
        entryId: e.id,
        deviceId: f.deviceId,
        receivedAt: f.receivedAt,
        event: decoded.value,
      });
    }
    await runGrouped(byBuilding, (a) => handleOne(acks, a));
    return acks;
  };
}
