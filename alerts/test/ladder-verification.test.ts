import type { Building, Device, Incident, StationReply } from '@hub/protocol';
import { RegistrySnapshot } from '@hub/registry';
import { describe, expect, it } from 'vitest';
import {
  type AlarmDecision,
  applyReply,
  assignIncidentId,
  type DecisionContext,
  decideAlarm,
  decideCorroboration,
  decideEscalation,
  decideHumanConfirmation,
  type IncidentChange,
  type LadderParams,
  pendingTimers,
} from '../src/incident-decision.js';
import { DEFAULT_OCCUPANCY_LADDERS, ladderPolicyConfigSchema, resolveLadder } from '../src/ladder-policy.js';
import { b1, b2, devices, event, stations, T0, township } from './fixtures.js';

/**
 * The rules added on top of the first ladder, as pure decisions with a fake clock:
 * ladders per occupancy and key-period mode (timeouts, first wave), verification
 * without delay (temperature, corroborating hazards, a person), confirmed skipping
 * to the fire office, the en-route / close deadlines, busy stations and the
 * travel-time table.
 */
const base: LadderParams = {
  acceptTimeoutMs: 60_000,
  onSceneDeadlineMs: 180_000,
  fireOfficeTimeoutMs: 30_000,
  maxStations: 3,
  enRouteDeadlineMs: 60_000,
  closeDeadlineMs: 1_800_000,
};
const elderly: Building = { ...b1, id: 'B-ELD', name: 'Elderly home', occupancy: 'elderly_home' };
const extraDevices: Device[] = [
  { ...devices[0]!, id: 'DE1', buildingId: 'B-ELD' },
  { ...devices[0]!, id: 'DE2', buildingId: 'B-ELD', room: '102' },
  { ...devices[0]!, id: 'DC1', buildingId: 'B1', kind: 'charger', room: '充电区' },
];
const registry = new RegistrySnapshot(
  {
    townships: [township],
    buildings: [b1, b2, elderly],
    devices: [...devices, ...extraDevices],
    stations,
    accounts: [],
  },
  1,
);
const policy = { base, config: ladderPolicyConfigSchema.parse({ occupancy: DEFAULT_OCCUPANCY_LADDERS }) };
const ctx: DecisionContext = { registry, params: base, policy, keyPeriod: false };

function open(
  c: DecisionContext,
  deviceId: string,
  now: number,
  extra: Record<string, unknown> = {},
): IncidentChange {
  const d = decideAlarm(c, null, { deviceId, event: { ...event('alarm'), ...extra }, receivedAt: now }, now);
  expect(d.kind).toBe('open');
  return assignIncidentId((d as Extract<AlarmDecision, { kind: 'open' }>).change, 'INC-000009');
}

function upd(d: { kind: string }): IncidentChange {
  expect(d.kind).toBe('update');
  return (d as unknown as { change: IncidentChange }).change;
}

function reply(type: StationReply['type'], extra: Partial<StationReply> = {}): StationReply {
  return { v: 1, type, incidentId: 'INC-000009', ts: T0, ...extra } as StationReply;
}

describe('ladders per occupancy and key-period mode', () => {
  it('resolves base, occupancy, key-period scaling and explicit key-period overrides', () => {
    expect(resolveLadder(policy, 'residential', false)).toMatchObject({
      name: 'base',
      acceptTimeoutMs: 60_000,
      firstWave: 1,
    });
    expect(resolveLadder(policy, 'elderly_home', false)).toMatchObject({
      name: 'elderly_home',
      acceptTimeoutMs: 30_000,
      firstWave: 2,
      confirmedSkipsToFireOffice: true,
    });
    expect(resolveLadder(policy, 'residential', true)).toMatchObject({
      name: 'base+key_period',
      acceptTimeoutMs: 30_000,
      fireOfficeTimeoutMs: 15_000,
      onSceneDeadlineMs: 90_000,
      enRouteDeadlineMs: 30_000,
      firstWave: 2,
    });
    // Scaled timeouts have a floor; the first wave never exceeds the stations on the ladder.
    const tight = {
      base: { ...base, acceptTimeoutMs: 6_000, maxStations: 2 },
      config: ladderPolicyConfigSchema.parse({
        keyPeriod: { firstWaveAdd: 3, occupancy: { rental: { fireOfficeTimeoutMs: 1_000 } } },
      }),
    };
    expect(resolveLadder(tight, 'rental', true)).toMatchObject({
      acceptTimeoutMs: 5_000,
      firstWave: 2,
      fireOfficeTimeoutMs: 1_000,
    });
    expect(() => ladderPolicyConfigSchema.parse({ occupancy: { castle: {} } })).toThrow();
  });

  it('an elderly home pages a first wave of two stations at once, with its shorter timeout', () => {
    const c = open(ctx, 'DE1', T0);
    expect(c.incident.ladder?.name).toBe('elderly_home');
    expect(c.pages.map((p) => p.stationId)).toEqual(['S-NEAR', 'S-MID']);
    expect(c.pages.map((p) => p.pageId)).toEqual(['INC-000009-s1-S-NEAR', 'INC-000009-s1-S-MID']);
    expect(c.incident.pageSteps).toEqual([1, 1]);
    expect(c.timers).toEqual([{ incidentId: 'INC-000009', kind: 'accept', step: 1, dueAt: T0 + 30_000 }]);
    // Step 2 pages the third station alone.
    const next = upd(decideEscalation(ctx, c.incident, { kind: 'accept', step: 1 }, T0 + 30_000));
    expect(next.pages.map((p) => [p.stationId, p.step])).toEqual([['S-FAR', 2]]);
  });

  it('key-period mode shortens the timeout and widens the first wave of a rental block', () => {
    const normal = open(ctx, 'D1', T0);
    expect(normal.pages).toHaveLength(1);
    expect(normal.timers[0]!.dueAt).toBe(T0 + 45_000);
    const key = open({ ...ctx, keyPeriod: true }, 'D1', T0);
    expect(key.incident.ladder?.name).toBe('rental+key_period');
    expect(key.pages.map((p) => p.stationId)).toEqual(['S-NEAR', 'S-MID']);
    expect(key.timers[0]!.dueAt).toBe(T0 + 22_500);
    // The incident keeps its ladder when the mode switches off.
    const later = upd(
      decideEscalation({ ...ctx, keyPeriod: false }, key.incident, { kind: 'accept', step: 1 }, T0 + 22_500),
    );
    expect(later.timers[0]!.dueAt).toBe(T0 + 22_500 + 22_500);
  });

  it('in a wave, one decline waits for the other station; the second decline climbs at once', () => {
    const c = open(ctx, 'DE1', T0).incident;
    const one = upd(applyReply(ctx, c, 'S-NEAR', reply('decline'), T0 + 1_000));
    expect(one.pages).toEqual([]);
    expect(one.incident.step).toBe(1);
    expect(one.incident.declined).toEqual(['S-NEAR']);
    const two = upd(applyReply(ctx, one.incident, 'S-MID', reply('decline'), T0 + 2_000));
    expect(two.incident.step).toBe(2);
    expect(two.pages.map((p) => p.stationId)).toEqual(['S-FAR']);
  });
});

describe('verification without delay', () => {
  it('pages at once and confirms on a heat reading in the opening alarm', () => {
    const c = open(ctx, 'D1', T0, { tempC: 68 });
    expect(c.pages).toHaveLength(1);
    expect(c.incident.verification).toBe('confirmed');
    expect(c.incident.confirmedBy).toBe('temperature');
    expect(c.incident.forward119?.text).toContain('INC-000009');
    expect(c.incident.forward119?.text).toContain('1 Main St');
    expect(c.audit.map((a) => a.kind)).toEqual(['opened', 'step', 'confirmed', 'forward_119_prepared']);
  });

  it('confirms on a rising temperature, even from the same detector (which does not page again)', () => {
    const c = open(ctx, 'D1', T0, { tempC: 30 });
    expect(c.incident.verification).toBe('unverified');
    const small = decideAlarm(
      ctx,
      c.incident,
      { deviceId: 'D1', event: { ...event('alarm'), tempC: 35 }, receivedAt: T0 },
      T0 + 5_000,
    );
    expect(small.kind).toBe('record');
    const rise = decideAlarm(
      ctx,
      c.incident,
      { deviceId: 'D1', event: { ...event('alarm'), tempC: 39 }, receivedAt: T0 },
      T0 + 10_000,
    );
    expect(rise.kind).toBe('fold');
    const ch = (rise as Extract<AlarmDecision, { kind: 'fold' }>).change;
    expect(ch.pages).toEqual([]);
    expect(ch.incident).toMatchObject({
      verification: 'confirmed',
      confirmedBy: 'temperature',
      maxTempC: 39,
    });
  });

  it('confirms on a charging smoke linkage in the same building', () => {
    const c = open(ctx, 'D1', T0).incident;
    const d = decideAlarm(
      ctx,
      c,
      { deviceId: 'DC1', event: event('smoke_linkage'), receivedAt: T0 },
      T0 + 3_000,
    );
    expect(d.kind).toBe('fold');
    expect((d as Extract<AlarmDecision, { kind: 'fold' }>).change.incident.confirmedBy).toBe('charging');
  });

  it('confirms on an electrical arc in the building within the window, before or after the alarm', () => {
    const c = open(ctx, 'D1', T0).incident;
    const arc = { kind: 'electrical' as const, type: 'arc_fault', deviceId: 'E1', at: T0 + 60_000 };
    const after = upd(decideCorroboration(ctx, c, arc, T0 + 60_000));
    expect(after.incident).toMatchObject({ verification: 'confirmed', confirmedBy: 'electrical' });
    // Outside the window (120 s by default): no.
    expect(decideCorroboration(ctx, c, { ...arc, at: T0 + 200_000 }, T0 + 200_000).kind).toBe('noop');
    // Before the alarm: the engine hands the building's recent corroboration in.
    const d = decideAlarm(ctx, null, { deviceId: 'D1', event: event('alarm'), receivedAt: T0 }, T0, {
      ...arc,
      at: T0 - 30_000,
    });
    const ch = (d as Extract<AlarmDecision, { kind: 'open' }>).change;
    expect(ch.pages).toHaveLength(1);
    expect(ch.incident.verification).toBe('confirmed');
  });

  it('a human confirmation confirms; a second one is only recorded; a closed incident refuses', () => {
    const c = open(ctx, 'D1', T0).incident;
    const ch = upd(decideHumanConfirmation(ctx, c, 'op-1', T0 + 1_000, 'called the landlord'));
    expect(ch.incident).toMatchObject({ verification: 'confirmed', confirmedBy: 'human' });
    expect(ch.audit[0]).toMatchObject({ kind: 'confirmed', officerId: 'op-1' });
    expect(decideHumanConfirmation(ctx, ch.incident, 'op-2', T0 + 2_000).kind).toBe('record');
    const closed: Incident = { ...c, state: 'closed' };
    expect(decideHumanConfirmation(ctx, closed, 'op-1', T0).kind).toBe('reject');
  });

  it('a confirmed elderly-home incident skips the remaining station steps to the fire office', () => {
    const c = open(ctx, 'DE1', T0).incident;
    const d = decideAlarm(ctx, c, { deviceId: 'DE2', event: event('alarm'), receivedAt: T0 }, T0 + 4_000);
    const ch = (d as Extract<AlarmDecision, { kind: 'fold' }>).change;
    expect(ch.incident.fireOfficeAt).toBe(T0 + 4_000);
    expect(ch.incident.step).toBe(2);
    expect(ch.audit.map((a) => a.kind)).toContain('skip_steps');
    expect(ch.timers).toEqual([
      { incidentId: 'INC-000009', kind: 'accept', step: 2, dueAt: T0 + 4_000 + 15_000 },
    ]);
    expect(ch.notices?.map((n) => n.kind)).toEqual(['confirmed', 'fire_office']);
    // The wave's stations may still accept.
    expect(applyReply(ctx, ch.incident, 'S-MID', reply('accept'), T0 + 5_000).kind).toBe('update');
    // The next timer forwards to 119 with the prepared record.
    const f = upd(decideEscalation(ctx, ch.incident, { kind: 'accept', step: 2 }, T0 + 34_000));
    expect(f.incident.forwarded119At).toBe(T0 + 34_000);
    expect(f.audit.find((a) => a.kind === 'forward_119')?.detail).toContain('Elderly home');
  });
});

describe('deadlines after accepting', () => {
  it('en route missed: reminds and pages a reinforcement; on scene then sets the close deadline', () => {
    const c = open(ctx, 'D1', T0).incident;
    const acc = upd(applyReply(ctx, c, 'S-NEAR', reply('accept'), T0 + 10_000));
    expect(acc.timers.map((t) => [t.kind, t.dueAt])).toEqual([
      ['en_route', T0 + 70_000],
      ['on_scene', T0 + 190_000],
    ]);
    expect(pendingTimers(acc.incident).map((t) => t.kind)).toEqual(['en_route', 'on_scene']);
    expect(decideEscalation(ctx, acc.incident, { kind: 'en_route', step: 1 }, T0 + 69_000).kind).toBe('noop');
    const late = upd(decideEscalation(ctx, acc.incident, { kind: 'en_route', step: 1 }, T0 + 70_000));
    expect(late.audit.map((a) => a.kind)).toEqual(['en_route_overdue', 'step']);
    expect(late.notices?.[0]).toMatchObject({ kind: 'remind', stationId: 'S-NEAR' });
    expect(late.pages.map((p) => p.stationId)).toEqual(['S-MID']);
    expect(late.incident.stationId).toBe('S-NEAR');
    expect(late.timers).toEqual([]);
    const scene = upd(applyReply(ctx, late.incident, 'S-NEAR', reply('on_scene'), T0 + 100_000));
    expect(scene.timers).toEqual([
      { incidentId: 'INC-000009', kind: 'close', step: 2, dueAt: T0 + 1_900_000 },
    ]);
    expect(decideEscalation(ctx, scene.incident, { kind: 'on_scene', step: 1 }, T0 + 190_000).kind).toBe(
      'noop',
    );
    const notClosed = upd(decideEscalation(ctx, scene.incident, { kind: 'close', step: 2 }, T0 + 1_900_000));
    expect(notClosed.audit.map((a) => a.kind)).toEqual(['close_overdue', 'fire_office']);
    expect(notClosed.notices?.map((n) => n.kind)).toEqual(['remind', 'fire_office']);
    expect(pendingTimers(notClosed.incident)).toEqual([]);
    // en route in time clears its deadline: its timer is a stale no-op.
    const enr = upd(applyReply(ctx, acc.incident, 'S-NEAR', reply('en_route'), T0 + 20_000));
    expect(decideEscalation(ctx, enr.incident, { kind: 'en_route', step: 1 }, T0 + 70_000).kind).toBe('noop');
  });
});

describe('station choice', () => {
  it('skips a station busy with another incident when configured, unless none is idle', () => {
    const busy = new Set(['S-NEAR']);
    const skip = open({ ...ctx, busyStations: busy, skipBusyStations: true }, 'D1', T0);
    expect(skip.pages.map((p) => p.stationId)).toEqual(['S-MID']);
    const keep = open({ ...ctx, busyStations: busy, skipBusyStations: false }, 'D1', T0);
    expect(keep.pages.map((p) => p.stationId)).toEqual(['S-NEAR']);
    const allBusy = new Set(stations.map((s) => s.id));
    const still = open({ ...ctx, busyStations: allBusy, skipBusyStations: true }, 'D1', T0);
    expect(still.pages.map((p) => p.stationId)).toEqual(['S-NEAR']);
    expect(still.audit.find((a) => a.kind === 'step')?.detail).toContain('busy');
  });

  it('an operator travel-time table wins over straight-line distance', () => {
    const travelTimes = new Map([
      [
        'B1',
        new Map([
          ['S-FAR', 120],
          ['S-MID', 300],
        ]),
      ],
    ]);
    const c = open({ ...ctx, travelTimes }, 'D1', T0);
    expect(c.pages.map((p) => p.stationId)).toEqual(['S-FAR']);
    expect(c.audit.find((a) => a.kind === 'step')?.detail).toContain('120 s by the travel-time table');
    const next = upd(
      decideEscalation({ ...ctx, travelTimes }, c.incident, { kind: 'accept', step: 1 }, T0 + 45_000),
    );
    expect(next.pages.map((p) => p.stationId)).toEqual(['S-MID']);
    // The responsibility area still comes first (B2 lies in S-AREA's area; a shop
    // house pages two stations at once by default).
    const b2t = new Map([['B2', new Map([['S-B2NEAR', 30]])]]);
    const area = open({ ...ctx, travelTimes: b2t }, 'D3', T0);
    expect(area.pages.map((p) => p.stationId)).toEqual(['S-AREA', 'S-B2NEAR']);
  });
});
