import { ACTION_STREAM_FIELDS, decodeStationReply, type StationReply } from '@hub/protocol';
import type { Logger } from 'pino';
import { ALERTS_CODES } from './alerts-codes.js';
import type { AlertsMetrics } from './alerts-metrics.js';
import type { IncidentEngine } from './incident-engine.js';
import { addToGroup, type BatchHandler, fieldOf, runGrouped } from './stream-consumer.js';

/**
 * Handler of the actions stream (`keys.actions`, fields s/j/r): station replies from
 * the dashboard's REST API and from terminals via the broker. `s` is the station the
 * writer authenticated; the payload never chooses it. Replies to one incident are
 * applied in order; refused replies (not paged, closed, bad state) are counted by
 * code, logged and acked.
 */
export interface ActionHandlerOptions {
  engine: IncidentEngine;
  metrics: AlertsMetrics;
  logger: Logger;
}

interface ParsedReply {
  entryId: string;
  stationId: string;
  reply: StationReply;
}

const STREAM = 'actions';

export function createActionHandler(opts: ActionHandlerOptions): BatchHandler {
  const { engine, metrics, logger } = opts;

  const handleOne = async (acks: string[], r: ParsedReply): Promise<boolean> => {
    try {
      const res = await engine.onReply(r.stationId, r.reply);
      if (res.outcome === 'rejected') {
        metrics.rejections.inc({ stream: STREAM, code: res.code });
        logger.warn(
          { stationId: r.stationId, incidentId: r.reply.incidentId, type: r.reply.type, code: res.code },
          res.message,
        );
      }
      acks.push(r.entryId);
      return true;
    } catch (err) {
      metrics.rejections.inc({ stream: STREAM, code: ALERTS_CODES.HANDLER_FAILED });
      logger.error({ err, stationId: r.stationId, entryId: r.entryId }, 'reply not handled; will retry');
      return false;
    }
  };

  return async (entries) => {
    const acks: string[] = [];
    const byIncident = new Map<string, ParsedReply[]>();
    for (const e of entries) {
      const stationId = fieldOf(e.fields, ACTION_STREAM_FIELDS.stationId);
      const json = fieldOf(e.fields, ACTION_STREAM_FIELDS.reply);
      if (stationId === undefined || json === undefined) {
        metrics.rejections.inc({ stream: STREAM, code: ALERTS_CODES.BAD_ENTRY });
        logger.warn({ stationId, entryId: e.id, code: ALERTS_CODES.BAD_ENTRY }, 'actions entry without s/j');
        acks.push(e.id);
        continue;
      }
      const decoded = decodeStationReply(json);
      if (!decoded.ok) {
        metrics.rejections.inc({ stream: STREAM, code: decoded.code });
        logger.warn({ stationId, entryId: e.id, code: decoded.code }, decoded.message);
        acks.push(e.id);
        continue;
      }
      addToGroup(byIncident, decoded.value.incidentId, { entryId: e.id, stationId, reply: decoded.value });
    }
    await runGrouped(byIncident, (r) => handleOne(acks, r));
    return acks;
  };
}
