import type { Incident, StationReply } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import {
  type AlarmDecision,
  applyReply,
  assignIncidentId,
  type DecisionContext,
  decideAlarm,
  decideEscalation,
  type IncidentChange,
  type LadderParams,
  pendingTimers,
  type ReplyDecision,
} from '../src/incident-decision.js';
import { event, snapshot, T0 } from './fixtures.js';

const params: LadderParams = {
  acceptTimeoutMs: 60_000,
  onSceneDeadlineMs: 180_000,
  fireOfficeTimeoutMs: 30_000,
  maxStations: 3,
};
const ctx: DecisionContext = { registry: snapshot(), params };

/** A fake clock: time only moves when the test says so. */
function fakeClock(start = T0) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
      return now;
    },
  };
}

function expectKind<K extends AlarmDecision['kind']>(
  d: AlarmDecision,
  kind: K,
): Extract<AlarmDecision, { kind: K }> {
  expect(d.kind).toBe(kind);
  return d as Extract<AlarmDecision, { kind: K }>;
}

function update(d: ReplyDecision | ReturnType<typeof decideEscalation>): IncidentChange {
  expect(d.kind).toBe('update');
  return (d as { change: IncidentChange }).change;
}

function reply(
  type: StationReply['type'],
  incidentId: string,
  extra: Partial<StationReply> = {},
): StationReply {
  return { v: 1, type, incidentId, ts: T0, ...extra } as StationReply;
}

/** Opens an incident from D1 in B1 at `now` and numbers it INC-000001. */
function openB1(now: number, c: DecisionContext = ctx): IncidentChange {
  const d = expectKind(
    decideAlarm(c, null, { deviceId: 'D1', event: event('alarm'), receivedAt: now }, now),
    'open',
  );
  return assignIncidentId(d.change, 'INC-000001');
}

describe('decideAlarm', () => {
  it('opens an incident and pages the nearest station with someone on duty at step 1', () => {
    const clock = fakeClock();
    const change = openB1(clock.now());
    const { incident, pages, timers } = change;
    expect(incident).toMatchObject({
      id: 'INC-000001',
      state: 'paging',
      verification: 'unverified',
      buildingId: 'B1',
      township: 'T1',
      grid: 'G1',
      step: 1,
      pagedStations: ['S-NEAR'],
      deviceIds: ['D1'],
      firstFloor: 3,
      firstRoom: '301',
      acceptBy: T0 + 60_000,
    });
    // S-NOBODY (no officer on duty) and S-CLOSED (stood down) are nearer, and skipped.
    expect(pages).toHaveLength(1);
    expect(pages[0]).toMatchObject({
      pageId: 'INC-000001-s1-S-NEAR',
      incidentId: 'INC-000001',
      stationId: 'S-NEAR',
      step: 1,
      acceptBy: T0 + 60_000,
      building: { id: 'B1', name: 'Rental block 1', occupancy: 'rental' },
      deviceIds: ['D1'],
    });
    expect(pages[0]!.distanceM).toBeGreaterThan(100);
    expect(pages[0]!.distanceM).toBeLessThan(200);
    expect(timers).toEqual([{ incidentId: 'INC-000001', kind: 'accept', step: 1, dueAt: T0 + 60_000 }]);
    expect(change.audit.map((a) => a.kind)).toEqual(['opened', 'step']);
  });

  it('prefers a station whose responsibility area contains the building over a nearer one', () => {
    const d = expectKind(
      decideAlarm(ctx, null, { deviceId: 'D3', event: event('alarm'), receivedAt: T0 }, T0),
      'open',
    );
    expect(d.change.pages[0]!.stationId).toBe('S-AREA');
    expect(d.change.pages[0]!.distanceM).toBeGreaterThan(5_000);
  });

  it('treats smoke_linkage from a charger as a fire signal that pages', () => {
    const d = decideAlarm(ctx, null, { deviceId: 'D1', event: event('smoke_linkage'), receivedAt: T0 }, T0);
    expect(expectKind(d, 'open').change.pages).toHaveLength(1);
  });

  it('folds a second device of the same building into the open incident without a new page', () => {
    const clock = fakeClock();
    const open = openB1(clock.now()).incident;
    const now = clock.advance(5_000);
    const d = expectKind(
      decideAlarm(ctx, open, { deviceId: 'D2', event: event('alarm'), receivedAt: now }, now),
      'fold',
    );
    expect(d.change.pages).toEqual([]);
    expect(d.change.timers).toEqual([]);
    expect(d.change.incident.id).toBe('INC-000001');
    expect(d.change.incident.deviceIds).toEqual(['D1', 'D2']);
    // A second detector raises confidence.
    expect(d.change.incident.verification).toBe('confirmed');
    expect(d.change.incident.step).toBe(1);
    expect(d.change.audit.map((a) => a.kind)).toEqual(['fold', 'confirmed', 'forward_119_prepared']);
  });

  it('does not page again for a device already in the incident', () => {
    const open = openB1(T0).incident;
    const d = decideAlarm(ctx, open, { deviceId: 'D1', event: event('alarm'), receivedAt: T0 + 60 }, T0 + 60);
    const r = expectKind(d, 'record');
    expect(r.reason).toBe('repeat_device');
    expect(r.incidentId).toBe('INC-000001');
  });

  it('opens a new incident when the building key names a closed incident', () => {
    const closed: Incident = { ...openB1(T0).incident, state: 'closed' };
    const d = decideAlarm(ctx, closed, { deviceId: 'D1', event: event('alarm'), receivedAt: T0 }, T0);
    expect(d.kind).toBe('open');
  });

  it('never pages for a test alarm, with or without an open incident, but records it', () => {
    const none = expectKind(
      decideAlarm(ctx, null, { deviceId: 'D1', event: event('test'), receivedAt: T0 }, T0),
      'record',
    );
    expect(none).toMatchObject({
      reason: 'test',
      incidentId: null,
      entry: { kind: 'test_alarm', deviceId: 'D1' },
    });
    const open = openB1(T0).incident;
    const inOpen = expectKind(
      decideAlarm(ctx, open, { deviceId: 'D2', event: event('test'), receivedAt: T0 }, T0),
      'record',
    );
    expect(inOpen).toMatchObject({ reason: 'test', incidentId: 'INC-000001' });
  });

  it('never pages for a device in maintenance, but records it', () => {
    const d = expectKind(
      decideAlarm(ctx, null, { deviceId: 'DM', event: event('alarm'), receivedAt: T0 }, T0),
      'record',
    );
    expect(d).toMatchObject({
      reason: 'maintenance',
      incidentId: null,
      entry: { kind: 'maintenance_alarm' },
    });
    // ...and it does not fold into an open incident either.
    const open = openB1(T0).incident;
    const f = expectKind(
      decideAlarm(ctx, open, { deviceId: 'DM', event: event('alarm'), receivedAt: T0 }, T0),
      'record',
    );
    expect(f).toMatchObject({ reason: 'maintenance', incidentId: 'INC-000001' });
  });

  it('records alarm_cleared without changing the incident', () => {
    const open = openB1(T0).incident;
    const d = expectKind(
      decideAlarm(ctx, open, { deviceId: 'D1', event: event('alarm_cleared'), receivedAt: T0 }, T0),
      'record',
    );
    expect(d.reason).toBe('cleared');
  });

  it('rejects unknown devices and devices whose building is missing with stable codes', () => {
    const u = expectKind(
      decideAlarm(ctx, null, { deviceId: 'NOPE', event: event('alarm'), receivedAt: T0 }, T0),
      'reject',
    );
    expect(u.code).toBe('E_UNKNOWN_DEVICE');
    const b = expectKind(
      decideAlarm(ctx, null, { deviceId: 'D-ORPHAN', event: event('alarm'), receivedAt: T0 }, T0),
      'reject',
    );
    expect(b.code).toBe('E_UNKNOWN_BUILDING');
  });

  it('goes straight to the fire office step when no station has anyone on duty', () => {
    const c: DecisionContext = {
      params,
      registry: snapshot(1, { stations: [] }),
    };
    const d = expectKind(
      decideAlarm(c, null, { deviceId: 'D1', event: event('alarm'), receivedAt: T0 }, T0),
      'open',
    );
    expect(d.change.pages).toEqual([]);
    expect(d.change.incident.step).toBe(1);
    expect(d.change.incident.acceptBy).toBe(T0 + 30_000);
    expect(d.change.audit.map((a) => a.kind)).toContain('fire_office');
  });
});

describe('decideEscalation', () => {
  it('pages the next ranked station when the accept timer fires', () => {
    const clock = fakeClock();
    const open = openB1(clock.now()).incident;
    const now = clock.advance(60_000);
    const change = update(decideEscalation(ctx, open, { kind: 'accept', step: 1 }, now));
    expect(change.incident.step).toBe(2);
    expect(change.incident.pagedStations).toEqual(['S-NEAR', 'S-MID']);
    expect(change.incident.acceptBy).toBe(now + 60_000);
    expect(change.pages.map((p) => [p.stationId, p.step, p.pageId])).toEqual([
      ['S-MID', 2, 'INC-000001-s2-S-MID'],
    ]);
    expect(change.timers).toEqual([
      { incidentId: 'INC-000001', kind: 'accept', step: 2, dueAt: now + 60_000 },
    ]);
    expect(change.audit.map((a) => a.kind)).toEqual(['timeout', 'step']);
    expect(change.audit[0]!.stationId).toBe('S-NEAR');
  });

  it('is a no-op for a stale timer (the step already moved on)', () => {
    const open = openB1(T0).incident;
    const step2 = update(decideEscalation(ctx, open, { kind: 'accept', step: 1 }, T0 + 60_000)).incident;
    const again = decideEscalation(ctx, step2, { kind: 'accept', step: 1 }, T0 + 60_001);
    expect(again).toEqual({ kind: 'noop', reason: 'stale' });
  });

  it('stops once a station accepted, and once the incident is closed', () => {
    const open = openB1(T0).incident;
    const accepted = update(applyReply(ctx, open, 'S-NEAR', reply('accept', open.id), T0 + 10_000)).incident;
    expect(decideEscalation(ctx, accepted, { kind: 'accept', step: 1 }, T0 + 60_000)).toEqual({
      kind: 'noop',
      reason: 'not_paging',
    });
    const closed = update(
      applyReply(
        ctx,
        accepted,
        'S-NEAR',
        reply('close', open.id, { disposition: 'false_cooking' }),
        T0 + 20_000,
      ),
    ).incident;
    expect(decideEscalation(ctx, closed, { kind: 'accept', step: 1 }, T0 + 60_000).kind).toBe('noop');
  });

  it('runs out of stations, then records the fire office step, then the 119 forwarding record', () => {
    const clock = fakeClock();
    let inc = openB1(clock.now()).incident;
    const paged: string[] = [];
    for (let step = 1; step <= 3; step++) {
      const change = update(decideEscalation(ctx, inc, { kind: 'accept', step }, clock.advance(60_000)));
      paged.push(...change.pages.map((p) => p.stationId));
      inc = change.incident;
    }
    // Steps 2 and 3 paged the next stations; step 4 is the fire office (no station page).
    expect(paged).toEqual(['S-MID', 'S-FAR']);
    expect(inc.step).toBe(4);
    expect(inc.pagedStations).toEqual(['S-NEAR', 'S-MID', 'S-FAR']);
    expect(inc.forwarded119At).toBeNull();
    expect(inc.acceptBy).toBe(clock.now() + 30_000);

    const at119 = clock.advance(30_000);
    const last = update(decideEscalation(ctx, inc, { kind: 'accept', step: 4 }, at119));
    expect(last.pages).toEqual([]);
    expect(last.timers).toEqual([]);
    expect(last.incident.step).toBe(5);
    expect(last.incident.forwarded119At).toBe(at119);
    expect(last.incident.acceptBy).toBeNull();
    expect(last.audit.map((a) => a.kind)).toEqual(['timeout', 'forward_119']);
    expect(pendingTimers(last.incident)).toEqual([]);
    expect(decideEscalation(ctx, last.incident, { kind: 'accept', step: 5 }, at119 + 1)).toEqual({
      kind: 'noop',
      reason: 'ladder_done',
    });
  });

  it('records the fire office step with its timestamp and phone in the audit', () => {
    let inc = openB1(T0).incident;
    let change: IncidentChange | null = null;
    for (let step = 1; step <= 3; step++) {
      change = update(decideEscalation(ctx, inc, { kind: 'accept', step }, T0 + step * 60_000));
      inc = change.incident;
    }
    // The step-3 timeout (third station not accepting) produced the fire office record.
    const audit = change!.audit.find((a) => a.kind === 'fire_office');
    expect(audit).toMatchObject({ at: T0 + 180_000, channel: 'record' });
    expect(audit!.detail).toContain('0797-1234567');
    expect(change!.timers).toEqual([{ incidentId: inc.id, kind: 'accept', step: 4, dueAt: T0 + 210_000 }]);
  });

  it('escalates an overdue arrival with a reinforcement page, keeping the accepted station', () => {
    const open = openB1(T0).incident;
    const accepted = update(applyReply(ctx, open, 'S-NEAR', reply('accept', open.id), T0 + 10_000));
    expect(accepted.timers).toEqual([
      { incidentId: open.id, kind: 'on_scene', step: 1, dueAt: T0 + 10_000 + 180_000 },
    ]);
    const early = decideEscalation(ctx, accepted.incident, { kind: 'on_scene', step: 1 }, T0 + 100_000);
    expect(early).toEqual({ kind: 'noop', reason: 'not_due' });
    const late = update(
      decideEscalation(ctx, accepted.incident, { kind: 'on_scene', step: 1 }, T0 + 190_000),
    );
    expect(late.incident.state).toBe('accepted');
    expect(late.incident.stationId).toBe('S-NEAR');
    expect(late.incident.onSceneBy).toBeNull();
    expect(late.pages.map((p) => p.stationId)).toEqual(['S-MID']);
    expect(late.audit[0]!.kind).toBe('on_scene_overdue');
  });
});

describe('applyReply', () => {
  it('accept stops the ladder and starts the on-scene deadline', () => {
    const open = openB1(T0).incident;
    const change = update(
      applyReply(ctx, open, 'S-NEAR', reply('accept', open.id, { officerId: 'o1' }), T0 + 5_000),
    );
    expect(change.incident).toMatchObject({
      state: 'accepted',
      stationId: 'S-NEAR',
      acceptedAt: T0 + 5_000,
      acceptBy: null,
      onSceneBy: T0 + 5_000 + 180_000,
    });
    expect(change.pages).toEqual([]);
    expect(change.audit[0]).toMatchObject({ kind: 'accept', stationId: 'S-NEAR', officerId: 'o1' });
    expect(pendingTimers(change.incident)).toEqual([
      { incidentId: open.id, kind: 'on_scene', step: 1, dueAt: T0 + 185_000 },
    ]);
  });

  it('decline pages the next station at once, not at the timeout', () => {
    const open = openB1(T0).incident;
    const change = update(applyReply(ctx, open, 'S-NEAR', reply('decline', open.id), T0 + 3_000));
    expect(change.incident.step).toBe(2);
    expect(change.incident.state).toBe('paging');
    expect(change.pages.map((p) => p.stationId)).toEqual(['S-MID']);
    expect(change.incident.acceptBy).toBe(T0 + 3_000 + 60_000);
    expect(change.audit.map((a) => a.kind)).toEqual(['decline', 'step']);
    // The step-1 timer that fires later is stale.
    expect(decideEscalation(ctx, change.incident, { kind: 'accept', step: 1 }, T0 + 60_000).kind).toBe(
      'noop',
    );
  });

  it('records a late decline from a station the ladder already passed', () => {
    const open = openB1(T0).incident;
    const step2 = update(decideEscalation(ctx, open, { kind: 'accept', step: 1 }, T0 + 60_000)).incident;
    const d = applyReply(ctx, step2, 'S-NEAR', reply('decline', open.id), T0 + 61_000);
    expect(d.kind).toBe('record');
  });

  it('refuses replies from a station that was not paged, with a stable code', () => {
    const open = openB1(T0).incident;
    const d = applyReply(ctx, open, 'S-MID', reply('accept', open.id), T0 + 1_000);
    expect(d).toMatchObject({ kind: 'reject', code: 'E_NOT_PAGED' });
  });

  it('walks accepted → en_route → on_scene → closed', () => {
    const open = openB1(T0).incident;
    let inc = update(applyReply(ctx, open, 'S-NEAR', reply('accept', open.id), T0 + 1_000)).incident;
    inc = update(applyReply(ctx, inc, 'S-NEAR', reply('en_route', open.id), T0 + 2_000)).incident;
    expect(inc.state).toBe('en_route');
    inc = update(applyReply(ctx, inc, 'S-NEAR', reply('on_scene', open.id), T0 + 100_000)).incident;
    expect(inc).toMatchObject({ state: 'on_scene', onSceneAt: T0 + 100_000, onSceneBy: null });
    expect(decideEscalation(ctx, inc, { kind: 'on_scene', step: 1 }, T0 + 181_000).kind).toBe('noop');
    inc = update(
      applyReply(ctx, inc, 'S-NEAR', reply('close', open.id, { disposition: 'real_fire' }), T0 + 900_000),
    ).incident;
    expect(inc).toMatchObject({ state: 'closed', closedAt: T0 + 900_000, disposition: 'real_fire' });
  });

  it('close requires a disposition code', () => {
    const open = openB1(T0).incident;
    const d = applyReply(ctx, open, 'S-NEAR', reply('close', open.id), T0 + 1_000);
    expect(d).toMatchObject({ kind: 'reject', code: 'E_DISPOSITION_REQUIRED' });
  });

  it('refuses replies to a closed incident and a decline after accepting', () => {
    const open = openB1(T0).incident;
    const accepted = update(applyReply(ctx, open, 'S-NEAR', reply('accept', open.id), T0 + 1_000)).incident;
    expect(applyReply(ctx, accepted, 'S-NEAR', reply('decline', open.id), T0 + 2_000)).toMatchObject({
      kind: 'reject',
      code: 'E_BAD_STATE',
    });
    const closed = update(
      applyReply(ctx, accepted, 'S-NEAR', reply('close', open.id, { disposition: 'test' }), T0 + 3_000),
    ).incident;
    expect(applyReply(ctx, closed, 'S-NEAR', reply('accept', open.id), T0 + 4_000)).toMatchObject({
      kind: 'reject',
      code: 'E_INCIDENT_CLOSED',
    });
  });

  it('only the accepted station may close; a repeated accept is only recorded', () => {
    const open = openB1(T0).incident;
    const step2 = update(decideEscalation(ctx, open, { kind: 'accept', step: 1 }, T0 + 60_000)).incident;
    const accepted = update(applyReply(ctx, step2, 'S-MID', reply('accept', open.id), T0 + 61_000)).incident;
    expect(accepted.stationId).toBe('S-MID');
    expect(
      applyReply(ctx, accepted, 'S-NEAR', reply('close', open.id, { disposition: 'test' }), T0),
    ).toMatchObject({
      kind: 'reject',
      code: 'E_NOT_RESPONDER',
    });
    expect(applyReply(ctx, accepted, 'S-MID', reply('accept', open.id), T0 + 62_000).kind).toBe('record');
  });

  it('on_scene while still paging implies the accept', () => {
    const open = openB1(T0).incident;
    const change = update(applyReply(ctx, open, 'S-NEAR', reply('on_scene', open.id), T0 + 90_000));
    expect(change.incident).toMatchObject({
      state: 'on_scene',
      stationId: 'S-NEAR',
      acceptedAt: T0 + 90_000,
    });
    expect(change.audit.map((a) => a.kind)).toEqual(['accept', 'on_scene']);
  });
});
