import {
  EVENT_TYPES,
  type EventType,
  HAZARD_LANES,
  type HazardLane,
  type HazardTicket,
  laneOf,
  type OperatorAction,
  TICKET_AUDIT_MAX,
  type TicketAuditEntry,
} from '@hub/protocol';
import { ALERTS_CODES, type AlertsCode } from './alerts-codes.js';
import type { DecisionRegistry } from './incident-decision.js';

/**
 * Hazard tickets (隐患清单) as pure decisions of (ticket state, input, now), like the
 * incident decisions: the ticket engine loads, decides, commits with compare-and-set.
 * Contract and state machine: protocol/src/hazard-tickets.ts.
 *
 * - An event of a hazard lane opens a ticket for (building, lane) or folds into the
 *   open one. A device in maintenance is recorded only (its faults are expected).
 * - `repeatCount` = tickets of the building and lane opened within `repeatWindowMs`,
 *   this one included. At `superviseRepeatTickets`, or when one ticket gathers
 *   `superviseEventCount` events, the ticket goes under listed supervision (挂牌督办).
 * - The deadline comes from the lane (`deadlineMs`); passing it marks the ticket
 *   overdue (once) and, when `superviseOnOverdue`, lists it for supervision.
 * - Audit lines are kept for the first `auditEvents` events of a ticket; after that
 *   only the counters grow, so a flapping device cannot grow a ticket without bound
 *   (and the audit list is capped at TICKET_AUDIT_MAX anyway).
 */
export interface TicketParams {
  readonly deadlineMs: Readonly<Record<HazardLane, number>>;
  readonly repeatWindowMs: number;
  readonly superviseRepeatTickets: number;
  readonly superviseEventCount: number;
  readonly superviseOnOverdue: boolean;
  readonly auditEvents: number;
}

export const DEFAULT_TICKET_PARAMS: TicketParams = Object.freeze({
  deadlineMs: Object.freeze({
    electrical: 24 * 3_600_000,
    charging: 24 * 3_600_000,
    fault: 72 * 3_600_000,
    offline: 48 * 3_600_000,
  }),
  repeatWindowMs: 30 * 86_400_000,
  superviseRepeatTickets: 3,
  superviseEventCount: 20,
  superviseOnOverdue: true,
  auditEvents: 20,
});

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);
const HAZARD_LANE_SET: ReadonlySet<string> = new Set(HAZARD_LANES);

function isEventType(type: string): type is EventType {
  return EVENT_TYPE_SET.has(type);
}

function isHazardLane(lane: string): lane is HazardLane {
  return HAZARD_LANE_SET.has(lane);
}

/**
 * Event type → hazard lane; null: not a hazard (info, a passed self-test, fire, an
 * unknown type). Built on protocol's `laneOf` so the two cannot drift; alerts differs
 * only where a lane event does not make a ticket:
 * `self_test` opens a fault ticket only when it failed (a passed one is routine).
 * `smoke_rising` (ingest's rule: smoke value rising over several readings, below the
 * detector's own alarm) opens a fault ticket so the grid officer goes to look: it is the
 * only trace of a smouldering start or a dirty chamber before the detector alarms.
 */
export function hazardLaneOf(type: string, result?: 'pass' | 'fail'): HazardLane | null {
  if (!isEventType(type)) return null;
  if (type === 'self_test') return result === 'fail' ? 'fault' : null;
  const lane = laneOf(type);
  return isHazardLane(lane) ? lane : null;
}

export interface HazardInput {
  readonly deviceId: string;
  readonly type: string;
  readonly lane: HazardLane;
  readonly eventId: string;
  readonly receivedAt: number;
  readonly detail?: string;
}

export const PENDING_TICKET_ID = '';

export function formatTicketId(seq: number): string {
  return 'HZ-' + String(seq).padStart(6, '0');
}

export interface TicketTimer {
  readonly ticketId: string;
  readonly dueAt: number;
}

export type HazardDecision =
  | { kind: 'open'; ticket: HazardTicket; timers: TicketTimer[] }
  | { kind: 'fold'; ticket: HazardTicket }
  | { kind: 'record'; reason: 'maintenance'; detail: string }
  | { kind: 'reject'; code: AlertsCode; message: string };

export type TicketActionDecision =
  | { kind: 'update'; ticket: HazardTicket }
  | { kind: 'reject'; code: AlertsCode; message: string };

export type TicketOverdueDecision =
  | { kind: 'update'; ticket: HazardTicket }
  | { kind: 'noop'; reason: 'closed' | 'not_due' | 'already' };

/** Appends audit lines, dropping the oldest past TICKET_AUDIT_MAX. */
function withAudit(t: HazardTicket, entries: TicketAuditEntry[]): HazardTicket {
  const audit = [...t.audit, ...entries];
  const drop = Math.max(0, audit.length - TICKET_AUDIT_MAX);
  return { ...t, audit: drop > 0 ? audit.slice(drop) : audit, auditDropped: t.auditDropped + drop };
}

function supervise(t: HazardTicket, now: number, why: string): HazardTicket {
  if (t.supervised) return t;
  return withAudit({ ...t, supervised: true, supervisedAt: now }, [
    { at: now, kind: 'supervised', detail: why },
  ]);
}

/**
 * A hazard-lane event. `open` is the building's open ticket of that lane (or null),
 * `recentTickets` how many tickets of that building and lane were opened within the
 * repeat window before now.
 */
export function decideHazard(
  params: TicketParams,
  registry: Pick<DecisionRegistry, 'devices' | 'buildings'>,
  open: HazardTicket | null,
  recentTickets: number,
  input: HazardInput,
  now: number,
): HazardDecision {
  const device = registry.devices.get(input.deviceId);
  if (device === undefined) {
    return { kind: 'reject', code: ALERTS_CODES.UNKNOWN_DEVICE, message: 'device not in the registry' };
  }
  const building = registry.buildings.get(device.buildingId);
  if (building === undefined) {
    return {
      kind: 'reject',
      code: ALERTS_CODES.UNKNOWN_BUILDING,
      message: `building ${device.buildingId} not in the registry`,
    };
  }
  if (device.maintenance) {
    return { kind: 'record', reason: 'maintenance', detail: `${input.type} from a device in maintenance` };
  }
  const line: TicketAuditEntry = {
    at: now,
    kind: 'event',
    deviceId: input.deviceId,
    detail: `${input.type}, event ${input.eventId}${input.detail ? ': ' + input.detail : ''}`,
  };

  if (open !== null && open.state !== 'closed') {
    const eventCount = open.eventCount + 1;
    let t: HazardTicket = {
      ...open,
      deviceIds: open.deviceIds.includes(input.deviceId)
        ? open.deviceIds
        : [...open.deviceIds, input.deviceId],
      causes: { ...open.causes, [input.type]: (open.causes[input.type] ?? 0) + 1 },
      eventCount,
      lastEventAt: input.receivedAt,
      updatedAt: now,
    };
    if (eventCount <= params.auditEvents) t = withAudit(t, [line]);
    if (eventCount >= params.superviseEventCount) {
      t = supervise(t, now, `${eventCount} hazard events in one ticket`);
    }
    return { kind: 'fold', ticket: t };
  }

  const repeatCount = recentTickets + 1;
  const deadline = now + params.deadlineMs[input.lane];
  let t: HazardTicket = {
    v: 1,
    id: PENDING_TICKET_ID,
    lane: input.lane,
    state: 'open',
    buildingId: building.id,
    township: building.township,
    grid: building.grid,
    deviceIds: [input.deviceId],
    cause: input.type,
    causes: { [input.type]: 1 },
    eventCount: 1,
    openedAt: now,
    lastEventAt: input.receivedAt,
    updatedAt: now,
    deadline,
    overdueAt: null,
    ownerId: null,
    assignedAt: null,
    rectifyingAt: null,
    closedAt: null,
    closedBy: null,
    evidence: null,
    repeatCount,
    supervised: false,
    supervisedAt: null,
    audit: [{ ...line, kind: 'opened' }],
    auditDropped: 0,
  };
  if (repeatCount >= params.superviseRepeatTickets) {
    t = supervise(t, now, `${repeatCount} ${input.lane} tickets in this building within the repeat window`);
  }
  return { kind: 'open', ticket: t, timers: [{ ticketId: PENDING_TICKET_ID, dueAt: deadline }] };
}

export function assignTicketId(d: Extract<HazardDecision, { kind: 'open' }>, id: string) {
  return { ticket: { ...d.ticket, id }, timers: d.timers.map((t) => ({ ...t, ticketId: id })) };
}

function rejectAction(code: AlertsCode, message: string): TicketActionDecision {
  return { kind: 'reject', code, message };
}

/** An operator's / grid officer's action (`accountId` authenticated by the dashboard). */
export function applyTicketAction(
  ticket: HazardTicket,
  accountId: string,
  action: Exclude<OperatorAction, { type: 'confirm_incident' }>,
  now: number,
): TicketActionDecision {
  if (ticket.state === 'closed') return rejectAction(ALERTS_CODES.TICKET_CLOSED, `${ticket.id} is closed`);
  const note = action.note !== undefined ? ': ' + action.note : '';
  switch (action.type) {
    case 'assign': {
      const t = {
        ...ticket,
        state: ticket.state === 'rectifying' ? 'rectifying' : 'assigned',
        ownerId: action.ownerId,
        assignedAt: now,
        updatedAt: now,
      } as HazardTicket;
      return {
        kind: 'update',
        ticket: withAudit(t, [
          { at: now, kind: 'assigned', by: accountId, detail: `to ${action.ownerId}${note}` },
        ]),
      };
    }
    case 'start_rectifying': {
      if (ticket.state === 'rectifying') {
        return rejectAction(ALERTS_CODES.BAD_TICKET_STATE, `${ticket.id} is already being rectified`);
      }
      const t: HazardTicket = { ...ticket, state: 'rectifying', rectifyingAt: now, updatedAt: now };
      return {
        kind: 'update',
        ticket: withAudit(t, [
          { at: now, kind: 'rectifying', by: accountId, ...(action.note ? { detail: action.note } : {}) },
        ]),
      };
    }
    case 'close': {
      const t: HazardTicket = {
        ...ticket,
        state: 'closed',
        closedAt: now,
        closedBy: accountId,
        evidence: action.evidence,
        updatedAt: now,
      };
      return {
        kind: 'update',
        ticket: withAudit(t, [
          {
            at: now,
            kind: 'closed',
            by: accountId,
            detail:
              action.evidence.text + (action.evidence.photoUrl ? ` (photo ${action.evidence.photoUrl})` : ''),
          },
        ]),
      };
    }
    case 'supervise': {
      if (ticket.supervised)
        return rejectAction(ALERTS_CODES.BAD_TICKET_STATE, `${ticket.id} is already supervised`);
      return {
        kind: 'update',
        ticket: supervise({ ...ticket, updatedAt: now }, now, `listed by ${accountId}${note}`),
      };
    }
    case 'comment':
      return {
        kind: 'update',
        ticket: withAudit({ ...ticket, updatedAt: now }, [
          { at: now, kind: 'comment', by: accountId, detail: action.note },
        ]),
      };
  }
}

/** The deadline timer fired (or the periodic safety net found the ticket due). */
export function decideTicketOverdue(
  params: TicketParams,
  ticket: HazardTicket,
  now: number,
): TicketOverdueDecision {
  if (ticket.state === 'closed') return { kind: 'noop', reason: 'closed' };
  if (ticket.overdueAt !== null) return { kind: 'noop', reason: 'already' };
  if (now < ticket.deadline) return { kind: 'noop', reason: 'not_due' };
  let t = withAudit({ ...ticket, overdueAt: now, updatedAt: now }, [
    { at: now, kind: 'overdue', detail: `not closed by ${new Date(ticket.deadline).toISOString()}` },
  ]);
  if (params.superviseOnOverdue) t = supervise(t, now, 'overdue');
  return { kind: 'update', ticket: t };
}
