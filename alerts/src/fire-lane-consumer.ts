import { type DeviceEvent, decodeEvent, EVENT_STREAM_FIELDS } from '@hub/protocol';
import type { Logger } from 'pino';
import { ALERTS_CODES } from './alerts-codes.js';
import type { AlertsMetrics } from './alerts-metrics.js';
import type { DecisionRegistry } from './incident-decision.js';
import type { IncidentEngine } from './incident-engine.js';
import { type BatchHandler, fieldOf, runGrouped } from './stream-consumer.js';

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

interface ParsedAlarm {
  entryId: string;
  deviceId: string;
  receivedAt: number;
  event: DeviceEvent;
}

const STREAM = 'fire';

export function createFireLaneHandler(opts: FireLaneHandlerOptions): BatchHandler {
  const { engine, metrics, logger } = opts;

  const handleOne = async (acks: string[], a: ParsedAlarm): Promise<boolean> => {
    try {
      const res = await engine.onFireEvent({
        deviceId: a.deviceId,
        event: a.event,
        receivedAt: a.receivedAt,
      });
      if (res.outcome === 'rejected') {
        metrics.rejections.inc({ stream: STREAM, code: res.code });
        logger.warn({ deviceId: a.deviceId, code: res.code, entryId: a.entryId }, res.message);
      }
      acks.push(a.entryId);
      return true;
    } catch (err) {
      metrics.rejections.inc({ stream: STREAM, code: ALERTS_CODES.HANDLER_FAILED });
      logger.error({ err, deviceId: a.deviceId, entryId: a.entryId }, 'fire event not handled; will retry');
      return false;
    }
  };

  return async (entries) => {
    const acks: string[] = [];
    const registry = opts.registry();
    const byBuilding = new Map<string, ParsedAlarm[]>();
    for (const e of entries) {
      const deviceId = fieldOf(e.fields, EVENT_STREAM_FIELDS.deviceId);
      const payload = fieldOf(e.fields, EVENT_STREAM_FIELDS.payload);
      const receivedAt = Number(fieldOf(e.fields, EVENT_STREAM_FIELDS.receivedAt));
      if (deviceId === undefined || payload === undefined || !Number.isFinite(receivedAt)) {
        metrics.rejections.inc({ stream: STREAM, code: ALERTS_CODES.BAD_ENTRY });
        logger.warn(
          { deviceId, entryId: e.id, code: ALERTS_CODES.BAD_ENTRY },
          'fire stream entry without d/p/r',
        );
        acks.push(e.id);
        continue;
      }
      const decoded = decodeEvent(payload);
      if (!decoded.ok) {
        metrics.rejections.inc({ stream: STREAM, code: decoded.code });
        logger.warn({ deviceId, entryId: e.id, code: decoded.code }, decoded.message);
        acks.push(e.id);
        continue;
      }
      metrics.alarmsReceived.inc({ type: decoded.value.type });
      const device = registry.devices.get(deviceId);
      if (device === undefined) {
        metrics.rejections.inc({ stream: STREAM, code: ALERTS_CODES.UNKNOWN_DEVICE });
        logger.warn(
          { deviceId, entryId: e.id, code: ALERTS_CODES.UNKNOWN_DEVICE },
          'event from an unknown device',
        );
        acks.push(e.id);
        continue;
      }
      let list = byBuilding.get(device.buildingId);
      if (list === undefined) {
        list = [];
        byBuilding.set(device.buildingId, list);
      }
      list.push({ entryId: e.id, deviceId, receivedAt, event: decoded.value });
    }
    await runGrouped(byBuilding, (a) => handleOne(acks, a));
    return acks;
  };
}
