import type { PageMessage } from '@hub/protocol';
import { generateDemoTownship, RegistrySnapshot, seededRandom } from '@hub/registry';
import { describe, expect, it } from 'vitest';
import { alarmEvent, createDeviceState } from '../src/device-profiles.js';
import { chooseFireTarget, FireTracker } from '../src/fire-scenario.js';
import { LatencyRecorder } from '../src/latency-recorder.js';
import type { ReceivedPage } from '../src/station-listener.js';

const T0 = 1_750_000_000_000;

function page(over: Partial<PageMessage>): PageMessage {
  return {
    v: 1,
    type: 'page',
    pageId: 'p1',
    incidentId: 'i1',
    stationId: 's01',
    lane: 'fire',
    step: 1,
    verification: 'unverified',
    building: {
      id: 'b1',
      name: 'B1',
      address: 'addr',
      lat: 25.8,
      lon: 114.9,
      occupancy: 'rental',
      floors: 3,
      contacts: [],
    },
    floor: 1,
    room: '101',
    deviceIds: ['d1'],
    distanceM: 100,
    alarmTs: T0,
    receivedAt: T0 + 1,
    sentAt: T0 + 2,
    acceptBy: T0 + 30_000,
    ...over,
  };
}

function received(p: PageMessage, at: number, duplicate = false): ReceivedPage {
  return { topicStationId: p.stationId, page: p, receivedAt: at, duplicate };
}

function alarms(ids: string[]) {
  return ids.map((id) => {
    const s = createDeviceState({ id, kind: 'smoke', model: 'NB-SD01' }, 'demo', 'b');
    return { id, state: s };
  });
}

describe('FireTracker', () => {
  it('an escalation page naming an already folded alarm gives it no latency sample', () => {
    const latency = new LatencyRecorder();
    const t = new FireTracker('b1', ['d1', 'd2'], 's01', latency, 5_000);
    const [a1, a2] = alarms(['d1', 'd2']);
    const e1 = alarmEvent(a1!.state, T0);
    t.recordAlarm('d1', e1, T0);
    t.recordAlarm('d2', alarmEvent(a2!.state, T0), T0);
    t.onPage(received(page({ alarmTs: e1.ts, deviceIds: ['d1'] }), T0 + 9));
    t.onPage(
      received(
        page({ pageId: 'p2', step: 2, stationId: 's02', alarmTs: e1.ts, deviceIds: ['d1', 'd2'] }),
        T0 + 60_000,
      ),
    );
    const r = t.report(T0 + 70_000);
    expect(r).toMatchObject({ pagedDirect: 1, folded: 1, pagesMatched: 2, neverPaged: 0 });
    expect(latency.count).toBe(1);
    expect(latency.summary().maxMs).toBeLessThan(10);
  });

  it('measures publish → page latency and folds alarms into a paged incident', () => {
    const latency = new LatencyRecorder();
    const t = new FireTracker('b1', ['d1', 'd2', 'd3'], 's01', latency, 5_000);
    const [a1, a2, a3] = alarms(['d1', 'd2', 'd3']);
    const e1 = alarmEvent(a1!.state, T0);
    const e2 = alarmEvent(a2!.state, T0 + 3);
    t.recordAlarm('d1', e1, T0 + 0.4);
    t.recordAlarm('d2', e2, T0 + 3.2);
    expect(t.settled(T0 + 10)).toBe(false);
    // The first page names d1 only: d1 gets 12.6 ms, d2 is folded into the incident.
    expect(t.onPage(received(page({ alarmTs: e1.ts, deviceIds: ['d1'] }), T0 + 13))).toBe(true);
    expect(t.settled(T0 + 13)).toBe(true);
    // A later update page naming d2 gives d2 its own latency.
    t.onPage(received(page({ pageId: 'p2', alarmTs: e1.ts, deviceIds: ['d1', 'd2'] }), T0 + 23.2));
    // An alarm after the incident was paged is folded too.
    t.recordAlarm('d3', alarmEvent(a3!.state, T0 + 100), T0 + 100);
    const r = t.report(T0 + 200);
    expect(r).toMatchObject({
      alarmsSent: 3,
      paged: 3,
      pagedDirect: 2,
      folded: 1,
      neverPaged: 0,
      pending: 0,
      duplicates: 0,
      pagesMatched: 2,
      expectedStationId: 's01',
      pagingStationId: 's01',
      alarmTsMatches: true,
    });
    expect(r.firstPageLatencyMs).toBeCloseTo(12.6, 3);
    const s = latency.summary();
    expect(s.count).toBe(2);
    expect(s.minMs).toBeCloseTo(12.6, 1);
    expect(s.maxMs).toBeCloseTo(20, 1);
  });

  it('counts a page id seen twice as a duplicate', () => {
    const t = new FireTracker('b1', ['d1'], 's01', new LatencyRecorder(), 5_000);
    const [a1] = alarms(['d1']);
    const e1 = alarmEvent(a1!.state, T0);
    t.recordAlarm('d1', e1, T0);
    t.onPage(received(page({ alarmTs: e1.ts }), T0 + 5));
    t.onPage(received(page({ alarmTs: e1.ts }), T0 + 6, true));
    t.onPage(received(page({ alarmTs: e1.ts, pageId: 'p-step2', step: 2, stationId: 's02' }), T0 + 7));
    const r = t.report(T0 + 10);
    expect(r.duplicates).toBe(1);
    expect(r.pagesMatched).toBe(2);
    expect(r.pagingStationId).toBe('s01');
  });

  it('reports an alarm with no page as pending, then never paged after the timeout', () => {
    const t = new FireTracker('b1', ['d1'], 's01', new LatencyRecorder(), 5_000);
    const [a1] = alarms(['d1']);
    const e1 = alarmEvent(a1!.state, T0);
    t.recordAlarm('d1', e1, T0);
    // Pages for other buildings, and a page from an older incident of this building, do not count.
    expect(
      t.onPage(received(page({ building: { ...page({}).building, id: 'b2' }, deviceIds: ['d7'] }), T0 + 5)),
    ).toBe(false);
    expect(t.onPage(received(page({ alarmTs: T0 - 60_000, pageId: 'old' }), T0 + 6))).toBe(false);
    expect(t.report(T0 + 4_999)).toMatchObject({ pending: 1, neverPaged: 0, paged: 0 });
    expect(t.settled(T0 + 4_999)).toBe(false);
    expect(t.settled(T0 + 5_000)).toBe(true);
    expect(t.report(T0 + 5_000)).toMatchObject({
      pending: 0,
      neverPaged: 1,
      paged: 0,
      stalePages: 1,
      pagingStationId: null,
      firstPageLatencyMs: null,
    });
  });

  it('ignores a page that arrived before the alarm was published', () => {
    const t = new FireTracker('b1', ['d1'], null, new LatencyRecorder(), 5_000);
    const [a1] = alarms(['d1']);
    const e1 = alarmEvent(a1!.state, T0);
    t.recordAlarm('d1', e1, T0 + 10);
    expect(t.onPage(received(page({ alarmTs: e1.ts }), T0 + 5))).toBe(false);
    expect(t.report(T0 + 20).paged).toBe(0);
  });
});

describe('chooseFireTarget', () => {
  const data = generateDemoTownship({
    seed: 'ft',
    buildings: 30,
    devices: 120,
    stations: 4,
    serviceSecret: 'x',
  });
  const snapshot = new RegistrySnapshot(data, 1);

  it('picks the same random building with smoke detectors for the same seed', () => {
    const a = chooseFireTarget(snapshot, 'random', seededRandom('s'));
    const b = chooseFireTarget(snapshot, 'random', seededRandom('s'));
    expect(a.building.id).toBe(b.building.id);
    expect(a.detectors.length).toBeGreaterThan(0);
    for (const d of a.detectors) {
      expect(d.kind).toBe('smoke');
      expect(d.buildingId).toBe(a.building.id);
    }
    expect(a.expected?.station.id).toMatch(/^s\d\d$/);
  });

  it('takes a given building and refuses unknown ones', () => {
    const withSmoke = data.devices.find((d) => d.kind === 'smoke')!.buildingId;
    expect(chooseFireTarget(snapshot, withSmoke, Math.random).building.id).toBe(withSmoke);
    expect(() => chooseFireTarget(snapshot, 'nope', Math.random)).toThrow(/no building "nope"/);
  });
});
