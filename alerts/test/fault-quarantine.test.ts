import type { Incident, StationReply } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { type QuarantineState, quarantineOnClose, quarantineVerdict } from '../src/fault-quarantine.js';
import {
  type AlarmDecision,
  type AlarmInput,
  applyReply,
  assignIncidentId,
  type DecisionContext,
  decideAlarm,
  type IncidentChange,
  type LadderParams,
} from '../src/incident-decision.js';
import { DEFAULT_VERIFICATION } from '../src/verification.js';
import { event, snapshot, T0 } from './fixtures.js';

const params: LadderParams = {
  acceptTimeoutMs: 60_000,
  onSceneDeadlineMs: 180_000,
  fireOfficeTimeoutMs: 30_000,
  maxStations: 3,
};
const WINDOW = 30 * 60_000;
const ctx: DecisionContext = { registry: snapshot(), params, faultQuarantineMs: WINDOW };

/** A fake clock: time only moves when the test says so. */
function fakeClock(start = T0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function kind<K extends AlarmDecision['kind']>(d: AlarmDecision, k: K): Extract<AlarmDecision, { kind: K }> {
  expect(d.kind).toBe(k);
  return d as Extract<AlarmDecision, { kind: K }>;
}

function alarm(deviceId: string, at: number, tempC?: number): AlarmInput {
  const e = event('alarm');
  return { deviceId, event: tempC === undefined ? e : { ...e, tempC }, receivedAt: at };
}

function reply(
  type: StationReply['type'],
  incidentId: string,
  extra: Partial<StationReply> = {},
): StationReply {
  return { v: 1, type, incidentId, ts: T0, ...extra } as StationReply;
}

/** D1 opens INC-000001 in B1, S-NEAR accepts and closes it with `disposition` at `closeAt`. */
function closedIncident(disposition: StationReply['disposition'], closeAt: number, c = ctx): IncidentChange {
  const opened = assignIncidentId(
    kind(decideAlarm(c, null, alarm('D1', T0), T0), 'open').change,
    'INC-000001',
  );
  const accepted = applyReply(c, opened.incident, 'S-NEAR', reply('accept', 'INC-000001'), T0 + 1_000);
  if (accepted.kind !== 'update') throw new Error('accept');
  const closed = applyReply(
    c,
    accepted.change.incident,
    'S-NEAR',
    reply('close', 'INC-000001', { disposition }),
    closeAt,
  );
  if (closed.kind !== 'update') throw new Error('close');
  return closed.change;
}

function stateAfter(change: IncidentChange, deviceId = 'D1'): QuarantineState {
  return { entry: change.quarantine?.find((q) => q.deviceId === deviceId) ?? null, lastSuppressed: null };
}

describe('fault quarantine', () => {
  it('a device_fault close quarantines the incident devices for the window, audited in the same change', () => {
    const closeAt = T0 + 60_000;
    const change = closedIncident('device_fault', closeAt);
    expect(change.incident.state).toBe('closed');
    expect(change.quarantine).toEqual([
      { deviceId: 'D1', buildingId: 'B1', incidentId: 'INC-000001', since: closeAt, until: closeAt + WINDOW },
    ]);
    expect(change.audit.map((a) => a.kind)).toEqual(['close', 'fault_quarantine']);
  });

  it('other dispositions, and a window of 0, quarantine nothing', () => {
    expect(closedIncident('false_cooking', T0 + 60_000).quarantine).toBeUndefined();
    expect(closedIncident('real_fire', T0 + 60_000).quarantine).toBeUndefined();
    const off: DecisionContext = { ...ctx, faultQuarantineMs: 0 };
    expect(closedIncident('device_fault', T0 + 60_000, off).quarantine).toBeUndefined();
    // The default (no setting) is 30 minutes.
    const dflt: DecisionContext = { registry: ctx.registry, params };
    expect(closedIncident('device_fault', T0 + 60_000, dflt).quarantine?.[0]?.until).toBe(
      T0 + 60_000 + WINDOW,
    );
  });

  it('a quarantined detector alarming alone does not page: suppressed, to be recorded and ticketed', () => {
    const clock = fakeClock(T0 + 60_000);
    const q = stateAfter(closedIncident('device_fault', clock.now()));
    clock.advance(5 * 60_000);
    const d = kind(decideAlarm(ctx, null, alarm('D1', clock.now()), clock.now(), null, q), 'suppress');
    expect(d.quarantine.incidentId).toBe('INC-000001');
    expect(d.entry).toMatchObject({ kind: 'fault_quarantined', deviceId: 'D1', at: clock.now() });
    expect(d.entry.detail).toContain('not paged');
  });

  it('a second, non-quarantined detector of the building pages at once', () => {
    const clock = fakeClock(T0 + 60_000);
    const q = stateAfter(closedIncident('device_fault', clock.now()));
    clock.advance(60_000);
    kind(decideAlarm(ctx, null, alarm('D1', clock.now()), clock.now(), null, q), 'suppress');
    clock.advance(1_000);
    // D2 is not quarantined; D1's held-back alarm is the building's last suppressed one.
    const d2 = kind(
      decideAlarm(ctx, null, alarm('D2', clock.now()), clock.now(), null, {
        entry: null,
        lastSuppressed: { deviceId: 'D1', at: clock.now() - 1_000 },
      }),
      'open',
    );
    expect(d2.change.pages.map((p) => p.stationId)).toEqual(['S-NEAR']);
    // Two detectors agree: confirmed at once.
    expect(d2.change.incident).toMatchObject({ verification: 'confirmed', confirmedBy: 'second_detector' });
    // Without a held-back alarm D2 pages as usual, unverified.
    const alone = kind(decideAlarm(ctx, null, alarm('D2', clock.now()), clock.now(), null, null), 'open');
    expect(alone.change.incident.verification).toBe('unverified');
  });

  it('a second quarantined detector alarming within the window pages (two detectors agree)', () => {
    const now = T0 + 120_000;
    const q: QuarantineState = {
      entry: { deviceId: 'D2', buildingId: 'B1', incidentId: 'INC-000001', since: T0, until: T0 + WINDOW },
      lastSuppressed: { deviceId: 'D1', at: now - 30_000 },
    };
    const d = kind(decideAlarm(ctx, null, alarm('D2', now), now, null, q), 'open');
    expect(d.change.pages).toHaveLength(1);
    expect(d.change.audit.find((a) => a.kind === 'quarantine_override')?.detail).toContain('second_detector');
    // The same device repeating is not a second detector; nor is one outside the window.
    const same = { ...q, lastSuppressed: { deviceId: 'D2', at: now - 30_000 } };
    kind(decideAlarm(ctx, null, alarm('D2', now), now, null, same), 'suppress');
    const old = {
      ...q,
      lastSuppressed: { deviceId: 'D1', at: now - DEFAULT_VERIFICATION.corroborationWindowMs - 1 },
    };
    kind(decideAlarm(ctx, null, alarm('D2', now), now, null, old), 'suppress');
  });

  it('a hot alarm (at or above the heat threshold) of a quarantined detector pages and confirms', () => {
    const clock = fakeClock(T0 + 60_000);
    const q = stateAfter(closedIncident('device_fault', clock.now()));
    clock.advance(60_000);
    const heat = DEFAULT_VERIFICATION.heatConfirmC;
    kind(decideAlarm(ctx, null, alarm('D1', clock.now(), heat - 1), clock.now(), null, q), 'suppress');
    const d = kind(decideAlarm(ctx, null, alarm('D1', clock.now(), heat), clock.now(), null, q), 'open');
    expect(d.change.pages).toHaveLength(1);
    expect(d.change.incident.verification).toBe('confirmed');
    expect(d.change.audit.find((a) => a.kind === 'quarantine_override')?.detail).toContain('heat');
  });

  it('a corroborating electrical event in the building within the window pages', () => {
    const clock = fakeClock(T0 + 60_000);
    const q = stateAfter(closedIncident('device_fault', clock.now()));
    clock.advance(60_000);
    const c = { kind: 'electrical' as const, type: 'arc_fault', deviceId: 'E1', at: clock.now() - 10_000 };
    const d = kind(decideAlarm(ctx, null, alarm('D1', clock.now()), clock.now(), c, q), 'open');
    expect(d.change.pages).toHaveLength(1);
    expect(d.change.audit.find((a) => a.kind === 'quarantine_override')?.detail).toContain('corroboration');
    // An old one (outside the window) does not override.
    const stale = { ...c, at: clock.now() - DEFAULT_VERIFICATION.corroborationWindowMs - 1 };
    kind(decideAlarm(ctx, null, alarm('D1', clock.now()), clock.now(), stale, q), 'suppress');
  });

  it('after the window expires the detector pages again', () => {
    const closeAt = T0 + 60_000;
    const q = stateAfter(closedIncident('device_fault', closeAt));
    const clock = fakeClock(closeAt + WINDOW - 1);
    kind(decideAlarm(ctx, null, alarm('D1', clock.now()), clock.now(), null, q), 'suppress');
    clock.advance(1);
    const d = kind(decideAlarm(ctx, null, alarm('D1', clock.now()), clock.now(), null, q), 'open');
    expect(d.change.pages).toHaveLength(1);
    expect(d.change.audit.some((a) => a.kind === 'quarantine_override')).toBe(false);
  });

  it('with an open incident in the building the quarantined detector folds as before', () => {
    const opened = assignIncidentId(
      kind(decideAlarm(ctx, null, alarm('D2', T0), T0), 'open').change,
      'INC-000002',
    );
    const q: QuarantineState = {
      entry: { deviceId: 'D1', buildingId: 'B1', incidentId: 'INC-000001', since: T0, until: T0 + WINDOW },
      lastSuppressed: null,
    };
    const d = kind(decideAlarm(ctx, opened.incident, alarm('D1', T0 + 1_000), T0 + 1_000, null, q), 'fold');
    expect(d.change.incident.deviceIds).toEqual(['D2', 'D1']);
  });

  it('test presses and maintenance devices are recorded as before, not suppressed', () => {
    const q: QuarantineState = {
      entry: { deviceId: 'D1', buildingId: 'B1', incidentId: 'INC-000001', since: T0, until: T0 + WINDOW },
      lastSuppressed: null,
    };
    const d = decideAlarm(
      ctx,
      null,
      { deviceId: 'D1', event: event('test'), receivedAt: T0 },
      T0 + 1,
      null,
      q,
    );
    expect(d).toMatchObject({ kind: 'record', reason: 'test' });
  });

  it('quarantineOnClose and quarantineVerdict ignore entries of another device and open incidents', () => {
    const open = { state: 'paging', disposition: null, deviceIds: ['D1'] } as unknown as Incident;
    expect(quarantineOnClose(open, WINDOW, T0)).toEqual([]);
    const entry = { deviceId: 'D2', buildingId: 'B1', incidentId: 'I', since: T0, until: T0 + WINDOW };
    expect(
      quarantineVerdict(DEFAULT_VERIFICATION, { entry, lastSuppressed: null }, 'D1', undefined, null, T0),
    ).toEqual({
      kind: 'none',
    });
  });
});
