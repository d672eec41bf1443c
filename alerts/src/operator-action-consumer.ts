import { OPERATOR_ACTION_STREAM_FIELDS, type OperatorAction, operatorActionSchema } from '@hub/protocol';
import type { Logger } from 'pino';
import { ALERTS_CODES } from './alerts-codes.js';
import type { AlertsMetrics } from './alerts-metrics.js';
import type { EngineResult, IncidentEngine } from './incident-engine.js';
import { addToGroup, type BatchHandler, fieldOf, runGrouped } from './stream-consumer.js';
import type { TicketEngine } from './ticket-engine.js';

/**
 * Handler of `keys.operatorActions` (fields u/j/r; contract in
 * protocol/src/hazard-tickets.ts): ticket actions from grid officers and township
 * operators, and `confirm_incident`. `u` is the account the dashboard authenticated.
 * Actions on one ticket (or incident) apply in order; refused ones are counted by
 * code, logged and acked.
 */
export interface OperatorActionHandlerOptions {
  engine: IncidentEngine;
  tickets: TicketEngine;
  metrics: AlertsMetrics;
  logger: Logger;
}

const STREAM = 'operator_actions';
const MAX_ACTION_BYTES = 8_192;

interface Parsed {
  entryId: string;
  accountId: string;
  action: OperatorAction;
}

export function createOperatorActionHandler(opts: OperatorActionHandlerOptions): BatchHandler {
  const { engine, tickets, metrics, logger } = opts;

  const handleOne = async (acks: string[], p: Parsed): Promise<boolean> => {
    try {
      const a = p.action;
      const res: EngineResult =
        a.type === 'confirm_incident'
          ? await engine.onHumanConfirm(a.incidentId, p.accountId, a.note)
          : await tickets.onAction(p.accountId, a);
      if (res.outcome === 'rejected') {
        metrics.rejections.inc({ stream: STREAM, code: res.code });
        logger.warn({ accountId: p.accountId, type: a.type, code: res.code }, res.message);
      }
      acks.push(p.entryId);
      return true;
    } catch (err) {
      metrics.rejections.inc({ stream: STREAM, code: ALERTS_CODES.HANDLER_FAILED });
      logger.error({ err, entryId: p.entryId }, 'operator action not handled; will retry');
      return false;
    }
  };

  return async (entries) => {
    const acks: string[] = [];
    const byTarget = new Map<string, Parsed[]>();
    for (const e of entries) {
      const accountId = fieldOf(e.fields, OPERATOR_ACTION_STREAM_FIELDS.accountId);
      const json = fieldOf(e.fields, OPERATOR_ACTION_STREAM_FIELDS.action);
      if (
        accountId === undefined ||
        json === undefined ||
        accountId.length === 0 ||
        json.length > MAX_ACTION_BYTES
      ) {
        metrics.rejections.inc({ stream: STREAM, code: ALERTS_CODES.BAD_ENTRY });
        acks.push(e.id);
        continue;
      }
      let action: OperatorAction;
      try {
        const r = operatorActionSchema.safeParse(JSON.parse(json));
        if (!r.success) throw new Error(r.error.issues[0]?.message ?? 'invalid');
        action = r.data;
      } catch (err) {
        metrics.rejections.inc({ stream: STREAM, code: ALERTS_CODES.BAD_ACTION });
        logger.warn({ accountId, entryId: e.id, code: ALERTS_CODES.BAD_ACTION }, (err as Error).message);
        acks.push(e.id);
        continue;
      }
      const target = action.type === 'confirm_incident' ? action.incidentId : action.ticketId;
      addToGroup(byTarget, target, { entryId: e.id, accountId, action });
    }
    await runGrouped(byTarget, (p) => handleOne(acks, p));
    return acks;
  };
}
