import type { HazardTicket } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import {
  applyTicketAction,
  assignTicketId,
  DEFAULT_TICKET_PARAMS,
  decideHazard,
  decideTicketOverdue,
  type HazardDecision,
  type HazardInput,
  hazardLaneOf,
  type TicketParams,
} from '../src/ticket-decision.js';
import { snapshot, T0 } from './fixtures.js';

/** Hazard tickets as pure decisions with a fake clock (the integration side: lanes-flow.test.ts). */
const registry = snapshot();
const params: TicketParams = {
  ...DEFAULT_TICKET_PARAMS,
  superviseRepeatTickets: 3,
  superviseEventCount: 4,
  auditEvents: 2,
};
const input = (deviceId: string, type: string, extra: Partial<HazardInput> = {}): HazardInput => ({
  deviceId,
  type,
  lane: hazardLaneOf(type) ?? 'fault',
  eventId: `e-${type}`,
  receivedAt: T0,
  ...extra,
});

function opened(d: HazardDecision): HazardTicket {
  expect(d.kind).toBe('open');
  return assignTicketId(d as Extract<HazardDecision, { kind: 'open' }>, 'HZ-000001').ticket;
}

describe('hazard lanes', () => {
  it('maps event types to lanes; a passed self-test, fire and info events are no hazard', () => {
    expect(hazardLaneOf('arc_fault')).toBe('electrical');
    expect(hazardLaneOf('abnormal_charge_curve')).toBe('charging');
    expect(hazardLaneOf('tamper')).toBe('fault');
    expect(hazardLaneOf('self_test', 'fail')).toBe('fault');
    expect(hazardLaneOf('self_test', 'pass')).toBeNull();
    expect(hazardLaneOf('offline')).toBe('offline');
    expect(hazardLaneOf('smoke_rising')).toBe('fault');
    expect(hazardLaneOf('smoke_linkage')).toBeNull();
    expect(hazardLaneOf('mute')).toBeNull();
  });
});

describe('decideHazard', () => {
  it('opens with the lane deadline, folds later events with bounded audit, supervises at the event threshold', () => {
    const t = opened(decideHazard(params, registry, null, 0, input('E1', 'leakage'), T0));
    expect(t).toMatchObject({
      lane: 'electrical',
      state: 'open',
      deadline: T0 + 24 * 3_600_000,
      repeatCount: 1,
      supervised: false,
    });
    let cur = t;
    for (let i = 2; i <= 4; i++) {
      const d = decideHazard(
        params,
        registry,
        cur,
        0,
        input(i === 3 ? 'D1' : 'E1', 'overcurrent'),
        T0 + i * 1_000,
      );
      expect(d.kind).toBe('fold');
      cur = (d as Extract<HazardDecision, { kind: 'fold' }>).ticket;
    }
    expect(cur).toMatchObject({
      eventCount: 4,
      deviceIds: ['E1', 'D1'],
      causes: { leakage: 1, overcurrent: 3 },
    });
    // Audit lines for the first `auditEvents` events only, then the supervision line.
    expect(cur.audit.map((a) => a.kind)).toEqual(['opened', 'event', 'supervised']);
    expect(cur.supervised).toBe(true);
    expect(cur.supervisedAt).toBe(T0 + 4_000);
  });

  it('counts repeats in the window and supervises the third ticket; maintenance devices are recorded only', () => {
    expect(opened(decideHazard(params, registry, null, 1, input('E1', 'leakage'), T0)).supervised).toBe(
      false,
    );
    const third = opened(decideHazard(params, registry, null, 2, input('E1', 'leakage'), T0));
    expect(third).toMatchObject({ repeatCount: 3, supervised: true });
    // A closed ticket is not folded into: a new one opens.
    const closed = { ...third, state: 'closed' as const };
    expect(decideHazard(params, registry, closed, 0, input('E1', 'leakage'), T0).kind).toBe('open');
    expect(decideHazard(params, registry, null, 0, input('DM', 'low_battery'), T0).kind).toBe('record');
    expect(decideHazard(params, registry, null, 0, input('nope', 'low_battery'), T0)).toMatchObject({
      kind: 'reject',
      code: 'E_UNKNOWN_DEVICE',
    });
  });
});

describe('ticket actions and deadlines', () => {
  const t = opened(decideHazard(params, registry, null, 0, input('D1', 'tamper'), T0));
  const base = { v: 1 as const, ts: T0, ticketId: t.id };

  it('open → assigned → rectifying → closed with evidence; closed is final', () => {
    const a = applyTicketAction(t, 'op', { ...base, type: 'assign', ownerId: 'grid-7' }, T0 + 1);
    expect(a.kind).toBe('update');
    const assigned = (a as { ticket: HazardTicket }).ticket;
    expect(assigned).toMatchObject({ state: 'assigned', ownerId: 'grid-7', assignedAt: T0 + 1 });
    const r = (
      applyTicketAction(assigned, 'grid-7', { ...base, type: 'start_rectifying' }, T0 + 2) as {
        ticket: HazardTicket;
      }
    ).ticket;
    expect(r.state).toBe('rectifying');
    expect(applyTicketAction(r, 'grid-7', { ...base, type: 'start_rectifying' }, T0 + 3)).toMatchObject({
      kind: 'reject',
      code: 'E_BAD_TICKET_STATE',
    });
    // Reassigning while rectifying keeps the state.
    expect(
      (
        applyTicketAction(r, 'op', { ...base, type: 'assign', ownerId: 'grid-8' }, T0 + 3) as {
          ticket: HazardTicket;
        }
      ).ticket.state,
    ).toBe('rectifying');
    const c = (
      applyTicketAction(
        r,
        'grid-7',
        { ...base, type: 'close', evidence: { text: 'refitted the cover' } },
        T0 + 4,
      ) as { ticket: HazardTicket }
    ).ticket;
    expect(c).toMatchObject({
      state: 'closed',
      closedBy: 'grid-7',
      closedAt: T0 + 4,
      evidence: { text: 'refitted the cover' },
    });
    expect(applyTicketAction(c, 'op', { ...base, type: 'comment', note: 'x' }, T0 + 5)).toMatchObject({
      kind: 'reject',
      code: 'E_TICKET_CLOSED',
    });
    expect(decideTicketOverdue(params, c, T0 + 1e12)).toEqual({ kind: 'noop', reason: 'closed' });
  });

  it('overdue once, at the deadline, and then under supervision', () => {
    expect(decideTicketOverdue(params, t, t.deadline - 1)).toEqual({ kind: 'noop', reason: 'not_due' });
    const d = decideTicketOverdue(params, t, t.deadline);
    expect(d.kind).toBe('update');
    const o = (d as { ticket: HazardTicket }).ticket;
    expect(o).toMatchObject({ overdueAt: t.deadline, supervised: true });
    expect(decideTicketOverdue(params, o, t.deadline + 1)).toEqual({ kind: 'noop', reason: 'already' });
    const quiet = decideTicketOverdue({ ...params, superviseOnOverdue: false }, t, t.deadline);
    expect((quiet as { ticket: HazardTicket }).ticket.supervised).toBe(false);
  });
});
