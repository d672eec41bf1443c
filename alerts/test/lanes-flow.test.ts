import type { HazardTicket, Incident } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { DEFAULT_OCCUPANCY_LADDERS, ladderPolicyConfigSchema } from '../src/ladder-policy.js';
import { DEFAULT_TICKET_PARAMS, type TicketParams } from '../src/ticket-decision.js';
import { type Harness, harnessPerTest, waitFor } from './harness.js';

/**
 * The other lanes and the newer fire rules end to end, against the real Redis and a
 * real MQTT broker: hazard events become tickets (keys per protocol/src/hazard-
 * tickets.ts), operators' actions drive them, deadlines fire through BullMQ, repeats
 * go under supervision; a corroborating hazard and a person confirm an incident;
 * key-period mode changes the ladder; a flood of other events never holds up a fire
 * page.
 */
const newHarness = harnessPerTest();

let seq = 0;
function ev(type: string, extra: Record<string, unknown> = {}) {
  seq++;
  return { v: 1, id: `o-${seq}`, ts: Date.now(), seq, type, ...extra };
}

const tickets = (p: Partial<TicketParams>): TicketParams => ({ ...DEFAULT_TICKET_PARAMS, ...p });

async function ticketOf(hh: Harness, building: string, lane: string): Promise<HazardTicket | undefined> {
  const id = await hh.redis.get(hh.keys.buildingOpenTicket(building, lane));
  return id === null ? undefined : ((await hh.ticket(id)) ?? undefined);
}

describe('hazard tickets', () => {
  it('opens a ticket per building and lane, folds repeats, and follows the operators through to closed', async () => {
    const h = await newHarness('lanes_ticket');
    const svc = await h.startService();
    await h.publishPayload('E1', ev('leakage', { channel: 2, value: 420 }));
    const t = await waitFor('an electrical ticket', () => ticketOf(h, 'B1', 'electrical'));
    expect(t).toMatchObject({
      id: 'HZ-000001',
      lane: 'electrical',
      state: 'open',
      buildingId: 'B1',
      township: 'T1',
      grid: 'G1',
      deviceIds: ['E1'],
      cause: 'leakage',
      repeatCount: 1,
      supervised: false,
    });
    expect(t.deadline - t.openedAt).toBe(DEFAULT_TICKET_PARAMS.deadlineMs.electrical);
    const k = h.keys;
    expect(await h.redis.zscore(k.hazardTicketsOpen, t.id)).toBe(String(t.deadline));
    expect(await h.redis.zscore(k.hazardTicketsByTime, t.id)).toBe(String(t.openedAt));
    await waitFor('the ticket on the live channel', () => h.live.some((m) => m.type === 'ticket'));

    // A second event of the lane folds; a fault is another lane, another ticket.
    await h.publishPayload('E1', ev('arc_fault', { channel: 2 }));
    await h.publishPayload('D1', ev('low_battery', { value: 8 }));
    await waitFor('the arc folded', async () => (await h.ticket(t.id))?.eventCount === 2);
    const fault = await waitFor('a fault ticket', () => ticketOf(h, 'B1', 'fault'));
    expect(fault.cause).toBe('low_battery');
    expect((await h.ticket(t.id))?.causes).toEqual({ leakage: 1, arc_fault: 1 });
    // A passed self-test and a test press are no hazards.
    await h.publishPayload('D2', ev('self_test', { result: 'pass' }));
    await waitFor('the other stream drained', async () => (await h.pending(k.otherEvents)) === 0);

    await h.operatorAction('op-1', { type: 'assign', ticketId: t.id, ownerId: 'grid-officer-7' });
    await h.operatorAction('grid-officer-7', { type: 'start_rectifying', ticketId: t.id });
    // Refused: no evidence (schema) and a second start_rectifying (state).
    await h.operatorAction('grid-officer-7', { type: 'close', ticketId: t.id });
    await h.operatorAction('grid-officer-7', { type: 'start_rectifying', ticketId: t.id });
    await h.operatorAction('grid-officer-7', {
      type: 'close',
      ticketId: t.id,
      evidence: { text: 'replaced the breaker, leakage 40 mA', photoUrl: 'https://photos.example/hz1.jpg' },
    });
    const closed = await waitFor('the ticket closed', async () => {
      const x = await h.ticket(t.id);
      return x?.state === 'closed' && x;
    });
    expect(closed).toMatchObject({ ownerId: 'grid-officer-7', closedBy: 'grid-officer-7' });
    expect(closed.evidence?.photoUrl).toBe('https://photos.example/hz1.jpg');
    expect(closed.audit.map((a) => a.kind)).toEqual([
      'opened',
      'event',
      'assigned',
      'rectifying',
      'refused',
      'closed',
    ]);
    expect(await h.redis.zscore(k.hazardTicketsOpen, t.id)).toBeNull();
    expect(await h.redis.get(k.buildingOpenTicket('B1', 'electrical'))).toBeNull();
    const rej = (await svc.metrics.rejections.get()).values.filter(
      (v) => v.labels.stream === 'operator_actions',
    );
    expect(rej.map((v) => [v.labels.code, v.value]).sort()).toEqual([
      ['E_BAD_ACTION', 1],
      ['E_BAD_TICKET_STATE', 1],
    ]);
    // Nothing about it paged.
    expect(h.pages).toHaveLength(0);
  });

  it('repeated hazards in a building go under listed supervision; overdue tickets are raised by the timer', async () => {
    const h = await newHarness('lanes_supervise');
    await h.startService(
      {},
      {
        tickets: tickets({
          superviseRepeatTickets: 2,
          deadlineMs: { ...DEFAULT_TICKET_PARAMS.deadlineMs, offline: 1_500 },
        }),
      },
    );
    await h.publishPayload('E1', ev('overcurrent'));
    const first = await waitFor('a first ticket', () => ticketOf(h, 'B1', 'electrical'));
    expect(first.supervised).toBe(false);
    await h.operatorAction('op-1', { type: 'close', ticketId: first.id, evidence: { text: 'rewired' } });
    await waitFor('closed', async () => (await h.ticket(first.id))?.state === 'closed');
    await h.publishPayload('E1', ev('overcurrent'));
    const second = await waitFor('a second ticket', async () => {
      const t = await ticketOf(h, 'B1', 'electrical');
      return t !== undefined && t.id !== first.id && t;
    });
    expect(second).toMatchObject({ repeatCount: 2, supervised: true });
    expect(second.audit.map((a) => a.kind)).toEqual(['opened', 'supervised']);

    // Offline, in the format ingest writes (type 'offline'), with a short deadline.
    await h.publishPayload('D2', {
      v: 1,
      id: 'hb-miss-1',
      ts: Date.now(),
      type: 'offline',
      detail: 'no heartbeat for 2 intervals',
    });
    const off = await waitFor('an offline ticket', () => ticketOf(h, 'B1', 'offline'));
    expect(off.overdueAt).toBeNull();
    const overdue = await waitFor('the offline ticket overdue', async () => {
      const t = await h.ticket(off.id);
      return t !== null && t.overdueAt !== null && t;
    });
    expect(overdue.overdueAt).toBeGreaterThanOrEqual(off.deadline);
    expect(overdue).toMatchObject({ supervised: true, state: 'open' });
    expect(overdue.audit.map((a) => a.kind)).toEqual(['opened', 'overdue', 'supervised']);
  });
});

describe('fire lane against the other lanes', () => {
  it('a flood of other-lane events does not hold up a fire page', async () => {
    const h = await newHarness('lanes_flood');
    const svc = await h.startService();
    const FLOOD = 5_000;
    const pipe = h.redis.pipeline();
    for (let i = 0; i < FLOOD; i++) {
      pipe.xadd(
        h.keys.otherEvents,
        '*',
        'd',
        'E1',
        'p',
        JSON.stringify(ev('leakage', { value: 400 + (i % 50) })),
        'r',
        String(Date.now()),
      );
    }
    await pipe.exec();
    await h.publishEvent('D3', 'alarm');
    await waitFor(
      'the fire page',
      () => h.pagesFor('S-AREA').length > 0 || h.pagesFor('S-B2NEAR').length > 0,
    );
    // The condition, not a time: when the page was out, the flood was still being worked through.
    const handled = (await svc.metrics.otherEvents.get()).values.reduce((n, v) => n + v.value, 0);
    expect(handled).toBeLessThan(FLOOD);
    const ticket = await ticketOf(h, 'B1', 'electrical');
    expect(ticket === undefined || ticket.eventCount < FLOOD).toBe(true);
  });
});

describe('verification and key-period mode', () => {
  it('an electrical arc in the building confirms the open incident and prepares the 119 record', async () => {
    const h = await newHarness('lanes_arc');
    await h.startService();
    await h.publishEvent('D1', 'alarm');
    await waitFor('the page', () => h.pagesFor('S-NEAR').length > 0);
    expect((await h.incident('INC-000001'))?.verification).toBe('unverified');
    await h.publishPayload('E1', ev('arc_fault', { channel: 1 }));
    const inc = await waitFor('confirmed', async () => {
      const i = await h.incident('INC-000001');
      return i?.verification === 'confirmed' && i;
    });
    expect(inc.confirmedBy).toBe('electrical');
    expect(inc.forward119?.text).toContain('INC-000001');
    // The arc also made its electrical ticket; no second page.
    await waitFor('the arc ticket', () => ticketOf(h, 'B1', 'electrical'));
    expect(h.pages).toHaveLength(1);
  });

  it('a human confirmation through the operator actions stream confirms', async () => {
    const h = await newHarness('lanes_human');
    await h.startService();
    await h.publishEvent('D1', 'alarm');
    await waitFor('the page', () => h.pagesFor('S-NEAR').length > 0);
    await h.operatorAction('op-9', {
      type: 'confirm_incident',
      incidentId: 'INC-000001',
      note: 'CCTV shows smoke',
    });
    const inc = await waitFor('confirmed', async () => {
      const i = await h.incident('INC-000001');
      return i?.verification === 'confirmed' && i;
    });
    expect(inc.confirmedBy).toBe('human');
    const audit = await h.redis.lrange(h.keys.incidentAudit('INC-000001'), 0, -1);
    expect(audit.some((a) => a.includes('op-9') && a.includes('CCTV'))).toBe(true);
  });

  it('key-period mode switched on by the dashboard key widens the first wave and shortens the timeout', async () => {
    const h = await newHarness('lanes_keyperiod');
    const ladders = ladderPolicyConfigSchema.parse({ occupancy: DEFAULT_OCCUPANCY_LADDERS });
    const svc = await h.startService({}, { ladders });
    await h.redis.set(
      h.keys.keyPeriod,
      JSON.stringify({ v: 1, mode: 'on', periods: [], updatedAt: Date.now(), updatedBy: 'op-1' }),
    );
    await h.redis.publish(h.keys.keyPeriodChanged, '1');
    await waitFor('key-period mode on', () => svc.keyPeriod.active());
    await h.publishEvent('D1', 'alarm');
    await waitFor('two pages at step 1', () => h.pages.length >= 2);
    const inc = (await h.incident('INC-000001')) as Incident;
    expect(inc.ladder?.name).toBe('rental+key_period');
    expect(inc.pagedStations).toEqual(['S-NEAR', 'S-MID']);
    expect(inc.acceptBy! - inc.openedAt).toBe(Math.round(60_000 * 0.75 * 0.5));
    expect(h.pages.every((p) => p.page.step === 1)).toBe(true);
  });
});
