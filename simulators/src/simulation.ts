import { type RegistrySnapshot, seededRandom } from '@hub/registry';
import { type Clock, systemClock } from './clock.js';
import type { ProfileOptions, TelemetryIntervals } from './device-profiles.js';
import { chooseFireTarget, type FireReport, type FireTarget, FireTracker, ignite } from './fire-scenario.js';
import { type ConnectFn, Fleet, type FleetStats } from './fleet.js';
import { selectFleet } from './fleet-selection.js';
import { LatencyRecorder, type LatencySummary } from './latency-recorder.js';
import { type SettleUntil, sleep, waitUntil } from './run-wait.js';
import { SIM_ERRORS, SimError } from './sim-error.js';
import { demoStationAccounts, StationListener, type StationListenerStats } from './station-listener.js';

/**
 * One simulator run, shared by both commands:
 * - `fleet`: N registry devices connect at a ramp and publish telemetry for a
 *   duration; optionally one building burns at `fireAtS`.
 * - `fire`: only the burning building's detectors (and the station listeners)
 *   connect; the fire starts once they are up; the run ends when it settles.
 * The CLI is a thin shell around this; tests call it directly with an in-process broker.
 */
export interface SimulationOptions {
  mode: 'fleet' | 'fire';
  mqttUrl: string;
  snapshot: RegistrySnapshot;
  /** Seed of the demo township (device and station secrets derive from it). */
  seed: string;
  /** Devices to connect in fleet mode: the fire's detectors first, then the others by id. */
  devices: number;
  connectRate: number;
  /** Fleet mode: run this long (the fire, if any, may extend it until it settles). */
  durationS: number;
  /** Building id, 'random', or null for no fire. Fire mode requires one. */
  fire: string | null;
  /** Fleet mode: seconds after start to light the fire. */
  fireAtS: number;
  /** Spread of the later detectors' alarms, ms (0 = all at once). */
  spreadMs: number;
  /** An alarm with no page after this long is never paged (default 10 s). */
  pageTimeoutMs?: number;
  /** Wait this long after the fire settles for late duplicates and escalation pages (default 1 s). */
  settleGraceMs?: number;
  /** Before that grace, also wait (bounded) for this, e.g. a duplicate page counted. */
  settleUntil?: SettleUntil;
  /** Fire mode: how long to wait for the detectors to connect (default 15 s). */
  detectorWaitMs?: number;
  /** Give up when no device connects at all within this long (default 5 s). */
  failFastMs?: number;
  connectTimeoutMs?: number;
  maxConnecting?: number;
  reconnectDelayMs?: number;
  telemetry?: boolean;
  intervals?: Partial<TelemetryIntervals>;
  profile?: ProfileOptions;
  /** Unique per run; part of message ids and station listener client ids. */
  bootId: string;
  clock?: Clock;
  random?: () => number;
  connect?: ConnectFn;
  /** Called every progressMs with a progress snapshot (default every 1 s). */
  onProgress?: (p: Progress) => void;
  progressMs?: number;
  signal?: AbortSignal;
}

export interface Progress {
  elapsedS: number;
  devices: number;
  connected: number;
  connectErrors: number;
  msgsPerS: number;
  errors: number;
  pagesSeen: number;
}

export interface SimulationSummary {
  mode: 'fleet' | 'fire';
  mqttUrl: string;
  elapsedS: number;
  fleet: FleetStats;
  stations: StationListenerStats | null;
  fire: FireReport | null;
  /** Alarm publish → page arrival, per alarm named in a page. */
  latency: LatencySummary;
  /** True when the stations' first page came from the expected station (null without a fire or page). */
  expectedStationPaged: boolean | null;
  /** False when an alarm was never paged (the measurement failed). */
  ok: boolean;
  aborted: boolean;
}

export async function runSimulation(opts: SimulationOptions): Promise<SimulationSummary> {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? Math.random;
  const pageTimeoutMs = opts.pageTimeoutMs ?? 10_000;
  const settleGraceMs = opts.settleGraceMs ?? 1_000;
  const failFastMs = opts.failFastMs ?? 5_000;
  const signal = opts.signal;
  if (opts.mode === 'fire' && opts.fire === null) {
    throw new SimError(SIM_ERRORS.BAD_OPTION, 'fire mode needs a building id or "random"');
  }
  if (opts.snapshot.devices.size === 0) {
    throw new SimError(SIM_ERRORS.REGISTRY_EMPTY, 'the registry holds no devices');
  }

  // The same seed picks the same building on every machine.
  const target: FireTarget | null =
    opts.fire === null ? null : chooseFireTarget(opts.snapshot, opts.fire, seededRandom(`${opts.seed}:fire`));
  const detectorIds = target?.detectors.map((d) => d.id) ?? [];
  // Fire mode plays only the fire's detectors; fleet mode adds the others up to `devices`.
  const devices = selectFleet(opts.snapshot, opts.seed, opts.mode === 'fire' ? 0 : opts.devices, detectorIds);

  const latency = new LatencyRecorder();
  let listener: StationListener | null = null;
  let tracker: FireTracker | null = null;
  if (target !== null) {
    // Listeners first: a page must never arrive before anyone listens for it.
    listener = new StationListener({
      mqttUrl: opts.mqttUrl,
      stations: demoStationAccounts(opts.snapshot, opts.seed),
      clientIdSuffix: `sim-${opts.bootId}`,
      connect: opts.connect,
      clock,
      connectTimeoutMs: opts.connectTimeoutMs ?? 5_000,
    });
    await listener.start();
    tracker = new FireTracker(
      target.building.id,
      detectorIds,
      target.expected?.station.id ?? null,
      latency,
      pageTimeoutMs,
    );
    const t = tracker;
    listener.onPage((p) => t.onPage(p));
  }

  const fleet = new Fleet({
    mqttUrl: opts.mqttUrl,
    devices,
    seed: opts.seed,
    bootId: opts.bootId,
    connectRate: opts.connectRate,
    maxConnecting: opts.maxConnecting,
    connectTimeoutMs: opts.connectTimeoutMs,
    reconnectDelayMs: opts.reconnectDelayMs,
    telemetry: opts.telemetry ?? opts.mode === 'fleet',
    intervals: opts.intervals,
    profile: opts.profile,
    connect: opts.connect,
    clock,
    random,
  });

  const started = clock();
  const elapsed = () => clock() - started;
  let lastSent = 0;
  let lastAt = started;
  const progressTimer = setInterval(() => {
    if (!opts.onProgress) return;
    const st = fleet.stats();
    const now = clock();
    const rate = ((st.messagesSent - lastSent) * 1000) / Math.max(1, now - lastAt);
    lastSent = st.messagesSent;
    lastAt = now;
    opts.onProgress({
      elapsedS: (now - started) / 1000,
      devices: st.devices,
      connected: st.connected,
      connectErrors: st.connectErrors,
      msgsPerS: Math.round(rate),
      errors: st.errors + st.publishErrors + st.eventErrors,
      pagesSeen: listener?.stats().pagesSeen ?? 0,
    });
  }, opts.progressMs ?? 1_000);

  let fireDone: Promise<void> | null = null;
  let fireStartedAt: number | null = null;
  let failure: unknown = null;
  // Stats as the run ends, before stopping disconnects everyone.
  let finalStats: FleetStats | null = null;
  let finalStations: StationListenerStats | null = null;
  try {
    fleet.start();
    const fireAtMs = opts.mode === 'fire' ? 0 : opts.fireAtS * 1000;
    const detectorWaitMs = opts.detectorWaitMs ?? 15_000;
    const endAtMs = opts.mode === 'fleet' ? opts.durationS * 1000 : Number.POSITIVE_INFINITY;
    for (;;) {
      if (signal?.aborted) break;
      const st = fleet.stats();
      if (st.connects === 0 && st.connectErrors > 0 && elapsed() >= failFastMs) {
        throw new SimError(
          SIM_ERRORS.BROKER_UNREACHABLE,
          `no device could connect to ${opts.mqttUrl} within ${failFastMs} ms: ${st.lastConnectError ?? 'unknown error'}`,
        );
      }
      // Light the fire once it is time and the detectors are up (or waited long enough).
      if (tracker !== null && fireDone === null && elapsed() >= fireAtMs) {
        const up = detectorIds.filter((id) => fleet.isConnected(id));
        const waitedMs = elapsed() - fireAtMs;
        if (up.length === detectorIds.length || (waitedMs >= detectorWaitMs && up.length > 0)) {
          fireStartedAt = clock();
          fireDone = ignite(fleet, tracker, up, { spreadMs: opts.spreadMs, clock, random });
          await fireDone;
        } else if (waitedMs >= detectorWaitMs) {
          throw new SimError(
            SIM_ERRORS.DEVICES_NOT_CONNECTED,
            `none of building ${tracker.buildingId}'s ${detectorIds.length} detectors connected to ${opts.mqttUrl} ` +
              `within ${detectorWaitMs} ms: ${st.lastConnectError ?? 'no error reported'}`,
          );
        }
      }
      const fireSettled = tracker === null || (fireStartedAt !== null && tracker.settled(clock()));
      if (fireSettled && elapsed() >= endAtMs) break;
      if (opts.mode === 'fire' && fireSettled) break;
      await sleep(20, signal);
    }
    // Late duplicates and escalation pages still count.
    if (tracker !== null && fireStartedAt !== null && !signal?.aborted) {
      const until = opts.settleUntil;
      if (until !== undefined)
        await waitUntil(() => until.done(listener?.stats() ?? null), until.maxMs, clock, signal);
      await sleep(settleGraceMs, signal);
    }
  } catch (err) {
    failure = err;
  } finally {
    clearInterval(progressTimer);
    finalStats = fleet.stats();
    finalStations = listener?.stats() ?? null;
    await fleet.stop();
    if (listener !== null) await listener.stop();
  }
  if (failure !== null) throw failure;

  const fire = tracker?.report(clock()) ?? null;
  const aborted = signal?.aborted === true;
  return {
    mode: opts.mode,
    mqttUrl: opts.mqttUrl,
    elapsedS: Math.round(elapsed()) / 1000,
    fleet: finalStats ?? fleet.stats(),
    stations: finalStations,
    fire,
    latency: latency.summary(),
    expectedStationPaged:
      fire === null || fire.pagingStationId === null || fire.expectedStationId === null
        ? null
        : fire.pagingStationId === fire.expectedStationId,
    // An interrupted run with alarms still pending failed to show they were paged.
    ok: fire === null || (fire.alarmsSent > 0 && fire.neverPaged === 0 && fire.pending === 0),
    aborted,
  };
}
