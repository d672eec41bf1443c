import { z } from 'zod';

/**
 * Hazard tickets (隐患清单/整改清单) and key-period mode (重点时段): the contract
 * between alerts (the only writer of tickets) and the dashboard (reads tickets,
 * sends operators' actions, writes the key-period switch).
 *
 * Tickets
 * - Events of the non-fire lanes (electrical, charging, fault, offline) in
 *   `keys.otherEvents` open a ticket per (building, lane) episode or fold into the
 *   open one (deviceIds, eventCount, lastEventAt grow). The ticket has a deadline per
 *   lane (alerts config); an overdue ticket gets `overdueAt` and an audit line.
 *   `repeatCount` counts tickets of that building and lane within the repeat window
 *   (this one included); reaching the configured threshold puts the ticket under
 *   listed supervision (挂牌督办: `supervised`, `supervisedAt`).
 * - Stored as JSON (hazardTicketSchema) at `keys.hazardTicket(id)`; open tickets in
 *   the ZSET `keys.hazardTicketsOpen` (score: deadline ms), every ticket in
 *   `keys.hazardTicketsByTime` (score: openedAt ms); the open ticket of a building
 *   and lane at `keys.buildingOpenTicket(buildingId, lane)` → ticket id.
 *   Every change is also PUBLISHed on `keys.live` as `{ type: 'ticket', ticket }`
 *   (TicketLiveMessage; live only, the keys are the truth).
 *
 * Operators' actions (dashboard → alerts)
 * - A NEW stream, `keys.operatorActions`, not `keys.actions`: that stream carries
 *   station replies (StationReply, fields s/j/r) that a station terminal may also
 *   write, and ticket work is done by grid officers and township operators, not by
 *   stations. Fields (OPERATOR_ACTION_STREAM_FIELDS): `u` the account id the dashboard
 *   authenticated (never taken from the payload), `j` the OperatorAction JSON, `r`
 *   receive time ms. alerts applies them in order per ticket; a refused action
 *   (unknown ticket, closed, bad transition) is counted, logged and acked, and an
 *   audit line is written on the ticket when it exists.
 * - `confirm_incident` (a human confirmation of a fire incident: it marks the
 *   incident `confirmed`, see alerts/README.md) rides the same stream.
 *
 * State machine: open → assigned → rectifying → closed. `assign` works from open,
 * assigned or rectifying (reassign); `start_rectifying` from open or assigned;
 * `close` from any state but closed and needs evidence text (photo URL optional);
 * `supervise` lists an open ticket for supervision by hand; `comment` adds an audit
 * line. Closed tickets are final: a new hazard opens a new ticket.
 *
 * Key-period mode
 * - JSON (keyPeriodConfigSchema) at `keys.keyPeriod`, written by the dashboard with a
 *   plain SET, then `PUBLISH keys.keyPeriodChanged <anything>`; alerts re-reads it on
 *   that message and every few seconds anyway. Missing key = mode 'auto', no periods.
 * - mode 'on' / 'off' forces the mode; 'auto' follows the calendar
 *   (isKeyPeriodActive). While active, alerts uses the key-period ladder (shorter
 *   timeouts, wider first wave).
 */

export const HAZARD_LANES = ['electrical', 'charging', 'fault', 'offline'] as const;
export type HazardLane = (typeof HAZARD_LANES)[number];

export const TICKET_STATES = ['open', 'assigned', 'rectifying', 'closed'] as const;
export type TicketState = (typeof TICKET_STATES)[number];

const ticketId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const accountId = z.string().min(1).max(64);

export const ticketAuditEntrySchema = z.object({
  at: z.number(),
  /** opened, event, assigned, rectifying, closed, overdue, supervised, comment, refused, ... */
  kind: z.string(),
  /** Account (operator / grid officer) for actions; device for events. */
  by: z.string().optional(),
  deviceId: z.string().optional(),
  detail: z.string().optional(),
});
export type TicketAuditEntry = z.infer<typeof ticketAuditEntrySchema>;

/** At most this many audit lines are kept on a ticket (oldest dropped, `auditDropped` counts them). */
export const TICKET_AUDIT_MAX = 200;

export const ticketEvidenceSchema = z.object({
  text: z.string().min(1).max(2000),
  photoUrl: z.string().url().max(2000).optional(),
});
export type TicketEvidence = z.infer<typeof ticketEvidenceSchema>;

export const hazardTicketSchema = z.object({
  v: z.literal(1),
  id: ticketId,
  lane: z.enum(HAZARD_LANES),
  state: z.enum(TICKET_STATES),
  buildingId: z.string(),
  township: z.string(),
  grid: z.string(),
  /** Devices that reported in this episode, first one first. */
  deviceIds: z.array(z.string()),
  /** Event type of the first event (an EventType of events.ts, or 'offline'). */
  cause: z.string().max(64),
  /** Every event type seen in this episode with its count. */
  causes: z.record(z.string(), z.number().int().nonnegative()),
  /** Events folded into this ticket (the first one included). */
  eventCount: z.number().int().min(1),
  /** Hub receive time (ms) of the first and of the latest event. */
  openedAt: z.number(),
  lastEventAt: z.number(),
  updatedAt: z.number(),
  /** Rectify by (ms); from the lane's configured deadline. */
  deadline: z.number(),
  /** Set once when the deadline passed with the ticket still not closed. */
  overdueAt: z.number().nullable(),
  /** Grid officer (网格员) responsible, an account id; null until assigned. */
  ownerId: z.string().nullable(),
  assignedAt: z.number().nullable(),
  rectifyingAt: z.number().nullable(),
  closedAt: z.number().nullable(),
  closedBy: z.string().nullable(),
  evidence: ticketEvidenceSchema.nullable(),
  /** Tickets of this building and lane within the repeat window, this one included. */
  repeatCount: z.number().int().min(1),
  /** Listed supervision (挂牌督办). */
  supervised: z.boolean(),
  supervisedAt: z.number().nullable(),
  audit: z.array(ticketAuditEntrySchema).max(TICKET_AUDIT_MAX),
  auditDropped: z.number().int().nonnegative(),
});
export type HazardTicket = z.infer<typeof hazardTicketSchema>;

/** What `keys.live` carries for a ticket change (besides station-messages' LiveMessage). */
export interface TicketLiveMessage {
  type: 'ticket';
  ticket: HazardTicket;
}

const actionBase = {
  v: z.literal(1),
  /** Client time (ms), informational: alerts stamps its own time. */
  ts: z.number().int().nonnegative(),
  note: z.string().max(500).optional(),
};

export const OPERATOR_ACTION_TYPES = [
  'assign',
  'start_rectifying',
  'close',
  'supervise',
  'comment',
  'confirm_incident',
] as const;
export type OperatorActionType = (typeof OPERATOR_ACTION_TYPES)[number];

export const operatorActionSchema = z.discriminatedUnion('type', [
  z.object({ ...actionBase, type: z.literal('assign'), ticketId, ownerId: accountId }),
  z.object({ ...actionBase, type: z.literal('start_rectifying'), ticketId }),
  z.object({ ...actionBase, type: z.literal('close'), ticketId, evidence: ticketEvidenceSchema }),
  z.object({ ...actionBase, type: z.literal('supervise'), ticketId }),
  z.object({ ...actionBase, type: z.literal('comment'), ticketId, note: z.string().min(1).max(500) }),
  z.object({ ...actionBase, type: z.literal('confirm_incident'), incidentId: z.string().min(1).max(64) }),
]);
export type OperatorAction = z.infer<typeof operatorActionSchema>;

/**
 * Fields of an entry in `keys.operatorActions`: u the account the dashboard
 * authenticated, j the OperatorAction JSON, r receive time ms.
 */
export const OPERATOR_ACTION_STREAM_FIELDS = { accountId: 'u', action: 'j', receivedAt: 'r' } as const;

// ---------------------------------------------------------------- key-period mode

export const KEY_PERIOD_MODES = ['auto', 'on', 'off'] as const;
export type KeyPeriodMode = (typeof KEY_PERIOD_MODES)[number];

export const keyPeriodSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    /** e.g. 春节 Spring Festival, 元宵节, 两会, 冬季供暖期 */
    name: z.string().min(1).max(100),
    /** ms since the epoch; active while start <= now < end. */
    start: z.number().int(),
    end: z.number().int(),
  })
  .refine((p) => p.end > p.start, { message: 'end must be after start', path: ['end'] });
export type KeyPeriod = z.infer<typeof keyPeriodSchema>;

export const keyPeriodConfigSchema = z.object({
  v: z.literal(1),
  mode: z.enum(KEY_PERIOD_MODES),
  periods: z.array(keyPeriodSchema).max(200),
  updatedAt: z.number().int(),
  updatedBy: z.string().max(64).optional(),
});
export type KeyPeriodConfig = z.infer<typeof keyPeriodConfigSchema>;

export const DEFAULT_KEY_PERIOD_CONFIG: KeyPeriodConfig = Object.freeze({
  v: 1,
  mode: 'auto',
  periods: [],
  updatedAt: 0,
}) as KeyPeriodConfig;

/** The calendar period in force at `now`, if any (first match). */
export function activeKeyPeriod(config: KeyPeriodConfig, now: number): KeyPeriod | undefined {
  for (const p of config.periods) if (p.start <= now && now < p.end) return p;
  return undefined;
}

/** Whether key-period mode is in force at `now`: the manual switch wins over the calendar. */
export function isKeyPeriodActive(config: KeyPeriodConfig, now: number): boolean {
  if (config.mode === 'on') return true;
  if (config.mode === 'off') return false;
  return activeKeyPeriod(config, now) !== undefined;
}
