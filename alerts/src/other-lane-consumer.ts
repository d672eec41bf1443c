import { decodeEvent, EVENT_STREAM_FIELDS } from '@hub/protocol';
import type { Logger } from 'pino';
import { ALERTS_CODES } from './alerts-codes.js';
import type { AlertsMetrics } from './alerts-metrics.js';
import type { IncidentEngine } from './incident-engine.js';
import { type BatchHandler, fieldOf } from './stream-consumer.js';

/**
 * Handler of `keys.otherEvents` (faults, electrical and charging hazards, info).
 * For now these are only counted by type and acked: the hazard lane (tickets for
 * the grid officer, deadlines, listed supervision) comes with a later issue. The
 * one exception is a detector's test press (`test`), which goes to the engine so it
 * lands in the audit record (never a page).
 */
export interface OtherLaneHandlerOptions {
  engine: IncidentEngine;
  metrics: AlertsMetrics;
  logger: Logger;
}

const STREAM = 'other';

export function createOtherLaneHandler(opts: OtherLaneHandlerOptions): BatchHandler {
  const { engine, metrics, logger } = opts;
  return async (entries) => {
    const acks: string[] = [];
    for (const e of entries) {
      const deviceId = fieldOf(e.fields, EVENT_STREAM_FIELDS.deviceId);
      const payload = fieldOf(e.fields, EVENT_STREAM_FIELDS.payload);
      const receivedAt = Number(fieldOf(e.fields, EVENT_STREAM_FIELDS.receivedAt));
      if (deviceId === undefined || payload === undefined || !Number.isFinite(receivedAt)) {
        metrics.rejections.inc({ stream: STREAM, code: ALERTS_CODES.BAD_ENTRY });
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
      metrics.otherEvents.inc({ type: decoded.value.type });
      if (decoded.value.type === 'test') {
        try {
          const res = await engine.onFireEvent({ deviceId, event: decoded.value, receivedAt });
          if (res.outcome === 'rejected') {
            metrics.rejections.inc({ stream: STREAM, code: res.code });
            logger.warn({ deviceId, code: res.code }, res.message);
          }
        } catch (err) {
          logger.error({ err, deviceId, entryId: e.id }, 'test event not recorded; will retry');
          continue;
        }
      }
      acks.push(e.id);
    }
    return acks;
  };
}
