import type { DeviceEvent, EventType } from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import type { AuditReport } from './alarm-audit.js';
import type { Clock } from './clock.js';
import type { DashboardSourceStats } from './dashboard-live-source.js';
import type { FloodStats } from './flood-fleet.js';
import type { LatencySummary } from './latency-recorder.js';
import type { StationListenerStats } from './station-listener.js';

/**
 * A scenario is a script over a flood fleet: which devices it needs, what they do
 * and when, and what the hub should have done (checks). One file per scenario under
 * scenarios/; the runner (scenario-runner.ts) connects the fleet, the station
 * listeners and the dashboard stream, runs the script, and measures.
 */
export interface ScenarioInput {
  snapshot: RegistrySnapshot;
  /** Seeded: the same seed picks the same buildings and devices on every machine. */
  rnd: () => number;
  /** Devices the fleet will connect (the --scale). */
  scale: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ScenarioPlan {
  /** Devices the script drives; always connected, before the rest of the fleet. */
  required: string[];
  /** Stations that never accept their pages (everyone else accepts after the accept delay). */
  neverAccept?: string[];
  /** One line on what this run does (which building, how many devices...). */
  summary: string;
  script(ctx: ScenarioContext): Promise<void>;
  /** The scenario's own verdicts, from the finished report. */
  checks?(report: ScenarioReport): Check[];
}

export interface Scenario {
  name: string;
  title: string;
  /** Run length when --duration is not given (the script may end earlier or hold longer). */
  defaultDurationS: number;
  /** Interval multiplier for the fleet's reports (e.g. a day compressed into minutes). */
  intervalScale?: number;
  eveningPeak?: boolean;
  /** Station listeners reply accept (default true). */
  autoAccept?: boolean;
  prepare(input: ScenarioInput): ScenarioPlan;
}

export interface ScenarioContext {
  readonly snapshot: RegistrySnapshot;
  readonly rnd: () => number;
  readonly clock: Clock;
  /** Device ids in the fleet (required ones first). */
  readonly fleetIds: readonly string[];
  readonly durationMs: number;
  elapsedMs(): number;
  /** Resolves after ms, or at once when the run is interrupted. */
  sleep(ms: number): Promise<void>;
  /** Waits until these devices are connected (or the timeout); returns how many are. */
  waitConnected(ids: readonly string[], timeoutMs: number): Promise<number>;
  /** Waits until the given fraction of the whole fleet is connected (or the timeout). */
  waitFleet(fraction: number, timeoutMs: number): Promise<number>;
  /**
   * Publishes an event QoS 1 from a device. Fire-lane events (alarm, smoke_linkage)
   * are tracked: they must come back as a page to the right station.
   */
  event(deviceId: string, type: EventType, extra?: Pick<DeviceEvent, 'channel' | 'value' | 'detail'>): void;
  /** Power cut: the devices drop without DISCONNECT and stay offline. */
  cut(ids: readonly string[]): number;
  /** Power back: they reconnect within spreadMs (0: all at once), at the fleet's connect rate. */
  restore(ids: readonly string[], spreadMs: number): void;
  /** Key-period mode on/off through the Redis key alerts reads; false when no Redis was given. */
  setKeyPeriod(on: boolean, name: string): Promise<boolean>;
  connectedCount(): number;
  /** A line in the report's timeline. */
  note(text: string): void;
  aborted(): boolean;
}

export interface SeriesPoint {
  t: number;
  connected: number;
  msgsPerS: number;
  /** p99 of PUBACK latency in this second, ms (null: no QoS 1 message). */
  ackP99Ms: number | null;
  pages: number;
}

export interface ScenarioReport {
  scenario: string;
  title: string;
  summary: string;
  mqttUrl: string;
  scale: number;
  /** Devices actually simulated (the registry may hold fewer than --scale). */
  devices: number;
  sourceAddresses: string[];
  elapsedS: number;
  aborted: boolean;
  fleet: FloodStats;
  peakConnected: number;
  /** Telemetry messages per second over the run. */
  msgsPerS: number;
  connectLatency: LatencySummary;
  ackLatency: LatencySummary;
  /** Probe `test` events → PUBACK, from their due time, corrected for coordinated omission. */
  probeLatency: LatencySummary;
  schedulerLag: LatencySummary;
  audit: AuditReport;
  eventsSent: Record<string, number>;
  stations: StationListenerStats | null;
  dashboard: DashboardSourceStats | null;
  timeline: Array<{ atS: number; text: string }>;
  series: SeriesPoint[];
  /** Percentile → ms of the station latency histogram, for charts. */
  stationLatencyCurve: Array<{ percentile: number; ms: number }>;
  dashboardLatencyCurve: Array<{ percentile: number; ms: number }>;
  probeCurve: Array<{ percentile: number; ms: number }>;
  checks: Check[];
  ok: boolean;
}
