import type { PageMessage } from '@hub/protocol';
import { generateDemoTownship, RegistrySnapshot } from '@hub/registry';
import { describe, expect, it } from 'vitest';
import { AlarmAudit } from '../src/alarm-audit.js';
import { expectedStation } from '../src/fire-scenario.js';
import type { ScenarioReport } from '../src/scenario.js';
import { formatReport, formatRunProgress } from '../src/scenario-report-format.js';
import { pageBuilding } from './support/fake-hub.js';

const data = generateDemoTownship({
  seed: 'audit',
  buildings: 20,
  devices: 120,
  stations: 4,
  serviceSecret: 's',
});

function snapshotOf(): RegistrySnapshot {
  return new RegistrySnapshot(data, 1);
}

describe('AlarmAudit', () => {
  const snapshot = snapshotOf();
  const building = [...snapshot.buildings.values()].find(
    (b) =>
      (snapshot.devicesByBuilding.get(b.id) ?? []).some((d) => d.kind === 'smoke' && !d.maintenance) &&
      expectedStation(snapshot, b) !== null,
  )!;
  const detector = (snapshot.devicesByBuilding.get(building.id) ?? []).find((d) => d.kind === 'smoke')!;
  const expected = expectedStation(snapshot, building)!.station.id;
  const other = [...snapshot.stations.keys()].find((id) => id !== expected)!;

  function page(step: number, stationId: string, pageId: string): PageMessage {
    return {
      v: 1,
      type: 'page',
      pageId,
      incidentId: 'inc-1',
      stationId,
      lane: 'fire',
      step,
      verification: 'unverified',
      building: pageBuilding(building),
      floor: detector.floor,
      room: detector.room,
      deviceIds: [detector.id],
      distanceM: 10,
      alarmTs: 1000,
      receivedAt: 1000,
      sentAt: 1000,
      acceptBy: 2000,
    };
  }

  it('tracks alarms per building on both receivers, lists escalation steps, counts duplicates and never-paged', () => {
    const audit = new AlarmAudit(snapshot, 5_000, true);
    const ev = { v: 1 as const, id: 'a-0', ts: 1000, seq: 0, type: 'alarm' as const };
    audit.recordAlarm(detector.id, ev, 10_000);
    expect(audit.settled(10_001)).toBe(false);
    audit.onPage('station', {
      topicStationId: expected,
      page: page(1, expected, 'p1'),
      receivedAt: 10_020,
      duplicate: false,
    });
    audit.onPage('station', {
      topicStationId: expected,
      page: page(1, expected, 'p1'),
      receivedAt: 10_021,
      duplicate: true,
    });
    audit.onPage('station', {
      topicStationId: other,
      page: page(2, other, 'p2'),
      receivedAt: 20_020,
      duplicate: false,
    });
    audit.onPage('dashboard', {
      topicStationId: expected,
      page: page(1, expected, 'p1'),
      receivedAt: 10_030,
      duplicate: false,
    });
    const r = audit.report(30_000);
    expect(r.alarmsSent).toBe(1);
    expect(r.neverPaged).toBe(0);
    expect(r.duplicates).toBe(1);
    expect(r.stationLatency.count).toBe(1);
    expect(r.stationLatency.p50Ms).toBeCloseTo(20, 0);
    expect(r.dashboardLatency?.p50Ms).toBeCloseTo(30, 0);
    expect(r.escalated).toBe(1);
    expect(r.incidents[0]?.steps).toEqual([
      { step: 1, stationId: expected, afterMs: 0 },
      { step: 2, stationId: other, afterMs: 10_000 },
    ]);
    expect(r.buildings[0]?.rightStation).toBe(true);
    expect(r.allReachedRightStation).toBe(true);
  });

  it('an alarm with no page is never paged once its timeout passed', () => {
    const audit = new AlarmAudit(snapshot, 5_000, false);
    audit.recordAlarm(detector.id, { v: 1, id: 'a-1', ts: 1, seq: 1, type: 'alarm' }, 0);
    // Still pending before the timeout: counted as not paged in the report's total.
    expect(audit.report(1_000).neverPaged).toBe(1);
    expect(audit.settled(4_999)).toBe(false);
    expect(audit.settled(5_000)).toBe(true);
    const r = audit.report(6_000);
    expect(r.neverPaged).toBe(1);
    expect(r.allReachedRightStation).toBe(false);
    expect(r.dashboardLatency).toBeNull();
  });
});

describe('report formatting', () => {
  it('prints progress and a table with checks and the verdict', () => {
    expect(
      formatRunProgress({
        elapsedS: 3,
        devices: 10,
        connected: 9,
        connecting: 1,
        connectErrors: 0,
        msgsPerS: 5,
        errors: 0,
        ackP99Ms: 1.25,
        pages: 0,
      }),
    ).toContain('connected 9/10 (connecting 1)');
    const lat = { count: 0, minMs: null, p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null, meanMs: null };
    const report = {
      scenario: 'x',
      title: 'X',
      summary: 's',
      mqttUrl: 'mqtt://h:1',
      scale: 10,
      devices: 10,
      sourceAddresses: ['127.0.0.2'],
      elapsedS: 1,
      aborted: false,
      fleet: {
        devices: 10,
        connected: 10,
        connecting: 0,
        queued: 0,
        offline: 0,
        connects: 10,
        connectErrors: 2,
        connectErrorsByCode: { EADDRNOTAVAIL: 2 },
        disconnects: 0,
        errors: 0,
        messagesSent: 3,
        bytesSent: 100,
        skippedBackpressure: 0,
        pings: 0,
        statusSent: 10,
        statusAcked: 10,
        eventsSent: 0,
        eventsAcked: 0,
        eventErrors: 0,
        probesSent: 1,
        probesAcked: 1,
        lastConnectError: null,
      },
      peakConnected: 10,
      msgsPerS: 3,
      connectLatency: lat,
      ackLatency: lat,
      probeLatency: lat,
      schedulerLag: lat,
      audit: {
        buildings: [],
        alarmsSent: 0,
        neverPaged: 0,
        duplicates: 0,
        stationLatency: lat,
        dashboardLatency: null,
        incidents: [],
        escalated: 0,
        allReachedRightStation: false,
      },
      eventsSent: {},
      stations: null,
      dashboard: { url: 'u', state: 'unauthorized', detail: 'HTTP 401', pagesSeen: 0, invalidEvents: 0 },
      timeline: [],
      series: [],
      stationLatencyCurve: [],
      dashboardLatencyCurve: [],
      probeCurve: [],
      checks: [{ name: 'every alarm paged', ok: false, detail: '1 never paged' }],
      ok: false,
    } satisfies ScenarioReport;
    const text = formatReport(report);
    expect(text).toContain('EADDRNOTAVAIL 2');
    expect(text).toContain('unauthorized: HTTP 401');
    expect(text).toMatch(/check: every alarm paged +FAILED/);
    expect(text.trimEnd().endsWith('FAILED')).toBe(true);
  });
});
