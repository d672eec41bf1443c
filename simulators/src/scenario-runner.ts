import type { DeviceEvent, EventType, HubKeys } from '@hub/protocol';
import { laneOf } from '@hub/protocol';
import { type RegistrySnapshot, seededRandom } from '@hub/registry';
import type { Redis } from 'ioredis';
import { AlarmAudit } from './alarm-audit.js';
import { type Clock, systemClock } from './clock.js';
import { DashboardLiveSource } from './dashboard-live-source.js';
import { deviceEvent } from './device-profiles.js';
import { selectFleet } from './fleet-selection.js';
import { FloodFleet } from './flood-fleet.js';
import { type SettleUntil, sleep, waitUntil } from './run-wait.js';
import type { Scenario, ScenarioContext, ScenarioReport, SeriesPoint } from './scenario.js';
import { SIM_ERRORS, SimError } from './sim-error.js';
import { demoStationAccounts, StationListener } from './station-listener.js';

/**
 * Runs one scenario over a flood fleet and measures it:
 * 1. station listeners connect first (a page must never arrive before anyone
 *    listens), optionally the dashboard's live stream;
 * 2. the fleet ramps up (required devices first);
 * 3. the scenario's script runs; fire-lane alarms are tracked by AlarmAudit;
 * 4. the run holds until the duration is over and every alarm is paged or timed
 *    out, plus a grace second for late duplicates and escalation pages;
 * 5. everything is stopped and the report assembled (checks included).
 */
export interface RunOptions {
  mqttUrl: string;
  snapshot: RegistrySnapshot;
  seed: string;
  bootId: string;
  /** Devices to connect. */
  scale: number;
  durationS?: number;
  sourceAddresses: readonly string[];
  connectRate?: number;
  maxConnecting?: number;
  connectTimeoutMs?: number;
  keepaliveS?: number;
  /** Overrides the scenario's interval scale. */
  intervalScale?: number;
  telemetry?: boolean;
  status?: boolean;
  pageTimeoutMs?: number;
  /** Delay before listeners accept a page (default 500 ms). */
  acceptDelayMs?: number;
  /** No station listeners (a pure connection flood). */
  noStations?: boolean;
  dashboard?: { url: string; headers?: Record<string, string> } | null;
  redis?: Redis | null;
  keys?: HubKeys;
  onProgress?: (p: RunProgress) => void;
  progressMs?: number;
  signal?: AbortSignal;
  clock?: Clock;
  /** Wait this long after the run settles for late duplicates and escalation pages (default 1 s). */
  settleGraceMs?: number;
  /** Before that grace, also wait (bounded) for this, e.g. the accept replies counted. */
  settleUntil?: SettleUntil;
  /**
   * Multiplies the script's waits and the duration (tests run a 60 s scenario in
   * 2 s). Report intervals are not scaled (use intervalScale). Default 1.
   */
  timeScale?: number;
}

export interface RunProgress {
  elapsedS: number;
  devices: number;
  connected: number;
  connecting: number;
  connectErrors: number;
  msgsPerS: number;
  errors: number;
  ackP99Ms: number | null;
  pages: number;
}

const MAX_SERIES = 7_200;

export async function runScenario(scenario: Scenario, opts: RunOptions): Promise<ScenarioReport> {
  const clock = opts.clock ?? systemClock;
  const signal = opts.signal;
  const pageTimeoutMs = opts.pageTimeoutMs ?? 10_000;
  const url = new URL(opts.mqttUrl);
  const rnd = seededRandom(`${opts.seed}:scenario:${scenario.name}`);
  if (opts.snapshot.devices.size === 0)
    throw new SimError(SIM_ERRORS.REGISTRY_EMPTY, 'the registry holds no devices');
  const plan = scenario.prepare({ snapshot: opts.snapshot, rnd, scale: opts.scale });
  const devices = selectFleet(
    opts.snapshot,
    opts.seed,
    Math.max(opts.scale, plan.required.length),
    plan.required,
  );
  const timeScale = opts.timeScale ?? 1;
  const durationMs = (opts.durationS ?? scenario.defaultDurationS * timeScale) * 1000;

  const audit = new AlarmAudit(opts.snapshot, pageTimeoutMs, opts.dashboard != null);
  let listener: StationListener | null = null;
  if (opts.noStations !== true) {
    listener = new StationListener({
      mqttUrl: opts.mqttUrl,
      stations: demoStationAccounts(opts.snapshot, opts.seed),
      clientIdSuffix: `sim-${opts.bootId}`,
      clock,
      autoAccept:
        scenario.autoAccept === false
          ? undefined
          : { delayMs: opts.acceptDelayMs ?? 500, never: new Set(plan.neverAccept ?? []) },
    });
    await listener.start();
    listener.onPage((p) => audit.onPage('station', p));
  }
  let dashboard: DashboardLiveSource | null = null;
  if (opts.dashboard != null) {
    dashboard = new DashboardLiveSource({ url: opts.dashboard.url, headers: opts.dashboard.headers, clock });
    await dashboard.start();
    dashboard.onPage((p) => audit.onPage('dashboard', p));
  }

  const fleet = new FloodFleet({
    host: url.hostname,
    port: Number(url.port || 1883),
    devices,
    sourceAddresses: opts.sourceAddresses,
    bootId: opts.bootId,
    seed: opts.seed,
    connectRate: opts.connectRate,
    maxConnecting: opts.maxConnecting,
    connectTimeoutMs: opts.connectTimeoutMs,
    keepaliveS: opts.keepaliveS,
    telemetry: opts.telemetry,
    status: opts.status,
    profile: {
      intervalScale: opts.intervalScale ?? scenario.intervalScale ?? 1,
      eveningPeak: scenario.eveningPeak,
    },
    clock,
  });

  const started = clock();
  const elapsedMs = () => clock() - started;
  const timeline: Array<{ atS: number; text: string }> = [];
  const note = (text: string) => {
    if (timeline.length < 1_000) timeline.push({ atS: Math.round(elapsedMs()) / 1000, text });
  };
  const eventsSent: Record<string, number> = {};
  const series: SeriesPoint[] = [];
  let peakConnected = 0;
  let lastSent = 0;
  let lastAt = started;
  const pagesSeen = () => listener?.stats().pagesSeen ?? 0;
  const progressTimer = setInterval(() => {
    const st = fleet.stats();
    const now = clock();
    const rate = ((st.messagesSent - lastSent) * 1000) / Math.max(1, now - lastAt);
    lastSent = st.messagesSent;
    lastAt = now;
    peakConnected = Math.max(peakConnected, st.connected);
    const w = fleet.takeAckWindow().summary();
    const point: SeriesPoint = {
      t: Math.round(now - started) / 1000,
      connected: st.connected,
      msgsPerS: Math.round(rate),
      ackP99Ms: w.p99Ms,
      pages: pagesSeen(),
    };
    if (series.length < MAX_SERIES) series.push(point);
    opts.onProgress?.({
      elapsedS: point.t,
      devices: st.devices,
      connected: st.connected,
      connecting: st.connecting,
      connectErrors: st.connectErrors,
      msgsPerS: point.msgsPerS,
      errors: st.errors + st.eventErrors,
      ackP99Ms: w.p99Ms,
      pages: point.pages,
    });
  }, opts.progressMs ?? 1_000);

  let keyPeriodBefore: string | null | undefined;
  const ctx: ScenarioContext = {
    snapshot: opts.snapshot,
    rnd,
    clock,
    fleetIds: devices.map((d) => d.id),
    durationMs,
    elapsedMs,
    sleep: (ms) => sleep(ms * timeScale, signal),
    async waitConnected(ids, timeoutMs) {
      const deadline = clock() + timeoutMs;
      for (;;) {
        const up = ids.filter((id) => fleet.isConnected(id)).length;
        if (up === ids.length || clock() >= deadline || signal?.aborted) return up;
        await sleep(20, signal);
      }
    },
    async waitFleet(fraction, timeoutMs) {
      const deadline = clock() + timeoutMs;
      for (;;) {
        const st = fleet.stats();
        const up = st.connected;
        if (up >= fraction * fleet.size || clock() >= deadline || signal?.aborted) return up;
        // Nobody got in after a while: say why instead of waiting out the timeout.
        if (st.connects === 0 && st.connectErrors > 0 && elapsedMs() > 10_000) {
          throw new SimError(
            SIM_ERRORS.BROKER_UNREACHABLE,
            `no device could connect to ${opts.mqttUrl} within 10 s: ${st.lastConnectError ?? 'unknown'} ${JSON.stringify(st.connectErrorsByCode)}`,
          );
        }
        await sleep(50, signal);
      }
    },
    event(deviceId: string, type: EventType, extra: Pick<DeviceEvent, 'channel' | 'value' | 'detail'> = {}) {
      const state = fleet.deviceState(deviceId);
      if (state === undefined) return;
      const publishedAt = clock();
      const ev = deviceEvent(state, publishedAt, type, extra);
      eventsSent[type] = (eventsSent[type] ?? 0) + 1;
      const tracked = laneOf(type) === 'fire' && type !== 'alarm_cleared';
      if (tracked) audit.recordAlarm(deviceId, ev, publishedAt);
      fleet.publishEvent(deviceId, ev).then(
        () => {
          if (tracked) audit.recordAck(deviceId, ev.id, clock());
        },
        (err: unknown) => {
          if (tracked) audit.recordPublishError(deviceId, ev.id, err);
        },
      );
    },
    cut: (ids) => fleet.cut(ids),
    restore: (ids, spreadMs) => fleet.restore(ids, spreadMs),
    async setKeyPeriod(on, name) {
      if (opts.redis == null || opts.keys === undefined) return false;
      const key = opts.keys.keyPeriod;
      if (keyPeriodBefore === undefined) keyPeriodBefore = await opts.redis.get(key);
      const now = Math.floor(clock());
      const config = { v: 1, mode: on ? 'on' : 'off', periods: [], updatedAt: now, updatedBy: `sim:${name}` };
      await opts.redis.set(key, JSON.stringify(config));
      await opts.redis.publish(opts.keys.keyPeriodChanged, String(now));
      return true;
    },
    connectedCount: () => fleet.stats().connected,
    note,
    aborted: () => signal?.aborted === true,
  };

  let failure: unknown = null;
  let finalStats = fleet.stats();
  let finalStations = listener?.stats() ?? null;
  try {
    fleet.start();
    note(`fleet of ${devices.length} devices starts connecting`);
    await plan.script(ctx);
    // Hold to the end of the run, and until every alarm is paged or timed out.
    while (!signal?.aborted && (elapsedMs() < durationMs || !audit.settled(clock()))) await sleep(50, signal);
    const until = opts.settleUntil;
    if (until !== undefined)
      await waitUntil(() => until.done(listener?.stats() ?? null), until.maxMs, clock, signal);
    if (!signal?.aborted) await sleep(opts.settleGraceMs ?? 1_000, signal);
  } catch (err) {
    failure = err;
  } finally {
    clearInterval(progressTimer);
    finalStats = fleet.stats();
    peakConnected = Math.max(peakConnected, finalStats.connected);
    finalStations = listener?.stats() ?? null;
    if (keyPeriodBefore !== undefined && opts.redis != null && opts.keys !== undefined) {
      // Leave the hub as we found it.
      if (keyPeriodBefore === null) await opts.redis.del(opts.keys.keyPeriod);
      else await opts.redis.set(opts.keys.keyPeriod, keyPeriodBefore);
      await opts.redis.publish(opts.keys.keyPeriodChanged, String(Math.floor(clock())));
    }
    dashboard?.stop();
    await fleet.stop();
    if (listener !== null) await listener.stop();
  }
  if (failure !== null) throw failure;
  const elapsed = elapsedMs();
  const auditReport = audit.report(clock());
  const curve = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100];
  const report: ScenarioReport = {
    scenario: scenario.name,
    title: scenario.title,
    summary: plan.summary,
    mqttUrl: opts.mqttUrl,
    scale: opts.scale,
    devices: devices.length,
    sourceAddresses: [...opts.sourceAddresses],
    elapsedS: Math.round(elapsed) / 1000,
    aborted: signal?.aborted === true,
    fleet: finalStats,
    peakConnected,
    msgsPerS: Math.round((finalStats.messagesSent * 1000) / Math.max(1, elapsed)),
    connectLatency: fleet.connectLatency.summary(),
    ackLatency: fleet.ackLatency.summary(),
    probeLatency: fleet.probeLatency.summary(),
    schedulerLag: fleet.schedulerLag.summary(),
    audit: auditReport,
    eventsSent,
    stations: finalStations,
    dashboard: dashboard?.stats() ?? null,
    timeline,
    series,
    stationLatencyCurve: audit.stationLatency.valuesAt(curve),
    dashboardLatencyCurve: audit.dashboardLatency.valuesAt(curve),
    probeCurve: fleet.probeLatency.valuesAt(curve),
    checks: [],
    ok: true,
  };
  const checks = [
    {
      name: 'every alarm paged',
      ok: auditReport.neverPaged === 0,
      detail: `${auditReport.alarmsSent} fire-lane alarms, ${auditReport.neverPaged} never paged`,
    },
    {
      name: 'no duplicate pages',
      ok: auditReport.duplicates === 0,
      detail: `${auditReport.duplicates} duplicate page deliveries`,
    },
    ...(plan.checks?.(report) ?? []),
  ];
  report.checks = checks;
  report.ok = !report.aborted && checks.every((c) => c.ok);
  return report;
}
