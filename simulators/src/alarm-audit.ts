import type { DeviceEvent, PageMessage } from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import { expectedStation, type FireReport, FireTracker } from './fire-scenario.js';
import { LatencyRecorder, type LatencySummary } from './latency-recorder.js';
import type { ReceivedPage } from './station-listener.js';

/**
 * Bookkeeping of every fire-lane alarm a scenario sends and every page that comes
 * back, per building, from two receivers: the stations' MQTT page topics and
 * (optionally) the dashboard's live stream. Each building gets one FireTracker per
 * receiver (the rules of fire-scenario.ts: named or folded, never paged after the
 * timeout, duplicates by pageId, stale pages of older incidents ignored).
 *
 * Escalations are read from the pages: a page with step > 1 for an incident is the
 * ladder moving on (another station, the fire office); the report lists every step
 * with its station and time after the incident's first page.
 */
export type Receiver = 'station' | 'dashboard';

export interface EscalationStep {
  step: number;
  stationId: string;
  /** ms after the incident's first page arrived. */
  afterMs: number;
}

export interface IncidentPages {
  incidentId: string;
  buildingId: string;
  steps: EscalationStep[];
}

export interface BuildingReport {
  buildingId: string;
  station: FireReport;
  dashboard: FireReport | null;
  expectedStationId: string | null;
  /** The first page came from the expected station. */
  rightStation: boolean | null;
}

export interface AuditReport {
  buildings: BuildingReport[];
  alarmsSent: number;
  neverPaged: number;
  duplicates: number;
  /** Alarm publish → page at the station (MQTT), named alarms only. */
  stationLatency: LatencySummary;
  /** Alarm publish → page on the dashboard's live stream. */
  dashboardLatency: LatencySummary | null;
  incidents: IncidentPages[];
  /** Incidents that went past step 1. */
  escalated: number;
  /** Every alarm reached the expected station (first page), none never paged. */
  allReachedRightStation: boolean;
}

export class AlarmAudit {
  readonly stationLatency = new LatencyRecorder();
  readonly dashboardLatency = new LatencyRecorder();
  private readonly trackers = new Map<string, { station: FireTracker; dashboard: FireTracker | null }>();
  private readonly incidents = new Map<
    string,
    { buildingId: string; firstAt: number; steps: Map<string, EscalationStep> }
  >();

  constructor(
    private readonly snapshot: RegistrySnapshot,
    private readonly pageTimeoutMs: number,
    private readonly withDashboard: boolean,
  ) {}

  private trackerFor(buildingId: string) {
    let t = this.trackers.get(buildingId);
    if (t === undefined) {
      const building = this.snapshot.buildings.get(buildingId);
      const devices = (this.snapshot.devicesByBuilding.get(buildingId) ?? []).map((d) => d.id);
      const expected =
        building === undefined ? null : (expectedStation(this.snapshot, building)?.station.id ?? null);
      t = {
        station: new FireTracker(buildingId, devices, expected, this.stationLatency, this.pageTimeoutMs),
        dashboard: this.withDashboard
          ? new FireTracker(buildingId, devices, expected, this.dashboardLatency, this.pageTimeoutMs)
          : null,
      };
      this.trackers.set(buildingId, t);
    }
    return t;
  }

  /** A fire-lane alarm (alarm, smoke_linkage) left the device at `publishedAt`. */
  recordAlarm(deviceId: string, event: DeviceEvent, publishedAt: number): void {
    const device = this.snapshot.devices.get(deviceId);
    if (device === undefined) return;
    const t = this.trackerFor(device.buildingId);
    t.station.recordAlarm(deviceId, event, publishedAt);
    t.dashboard?.recordAlarm(deviceId, event, publishedAt);
  }

  recordAck(deviceId: string, messageId: string, at: number): void {
    const device = this.snapshot.devices.get(deviceId);
    const t = device && this.trackers.get(device.buildingId);
    t?.station.recordAck(deviceId, messageId, at);
    t?.dashboard?.recordAck(deviceId, messageId, at);
  }

  recordPublishError(deviceId: string, messageId: string, err: unknown): void {
    const device = this.snapshot.devices.get(deviceId);
    const t = device && this.trackers.get(device.buildingId);
    t?.station.recordPublishError(deviceId, messageId, err);
    t?.dashboard?.recordPublishError(deviceId, messageId, err);
  }

  onPage(receiver: Receiver, rec: ReceivedPage): void {
    const t = this.trackers.get(rec.page.building.id);
    if (t === undefined) return;
    if (receiver === 'station') {
      t.station.onPage(rec);
      this.noteStep(rec.page, rec.receivedAt);
    } else t.dashboard?.onPage(rec);
  }

  private noteStep(page: PageMessage, at: number): void {
    let inc = this.incidents.get(page.incidentId);
    if (inc === undefined) {
      inc = { buildingId: page.building.id, firstAt: at, steps: new Map() };
      this.incidents.set(page.incidentId, inc);
    }
    const key = `${page.step}:${page.stationId}`;
    if (!inc.steps.has(key)) {
      inc.steps.set(key, {
        step: page.step,
        stationId: page.stationId,
        afterMs: Math.round(at - inc.firstAt),
      });
    }
  }

  /** Every tracked alarm is paged, folded, or timed out. */
  settled(now: number): boolean {
    for (const t of this.trackers.values()) if (!t.station.settled(now)) return false;
    return true;
  }

  report(now: number): AuditReport {
    const buildings: BuildingReport[] = [];
    let sent = 0;
    let never = 0;
    let dup = 0;
    let allRight = true;
    for (const [id, t] of this.trackers) {
      const st = t.station.report(now);
      const db = t.dashboard?.report(now) ?? null;
      sent += st.alarmsSent;
      never += st.neverPaged + st.pending;
      dup += st.duplicates;
      const right =
        st.pagingStationId === null || st.expectedStationId === null
          ? null
          : st.pagingStationId === st.expectedStationId;
      if (right !== true || st.neverPaged + st.pending > 0) allRight = false;
      buildings.push({
        buildingId: id,
        station: st,
        dashboard: db,
        expectedStationId: st.expectedStationId,
        rightStation: right,
      });
    }
    const incidents: IncidentPages[] = [...this.incidents.entries()].map(([incidentId, v]) => ({
      incidentId,
      buildingId: v.buildingId,
      steps: [...v.steps.values()].sort((a, b) => a.step - b.step || a.afterMs - b.afterMs),
    }));
    return {
      buildings,
      alarmsSent: sent,
      neverPaged: never,
      duplicates: dup,
      stationLatency: this.stationLatency.summary(),
      dashboardLatency: this.withDashboard ? this.dashboardLatency.summary() : null,
      incidents,
      escalated: incidents.filter((i) => i.steps.some((s) => s.step > 1)).length,
      allReachedRightStation: allRight && buildings.length > 0,
    };
  }
}
