import type { RegistrySnapshot } from '@hub/registry';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SIM_ERRORS } from '../src/sim-error.js';
import { runSimulation, type SimulationOptions } from '../src/simulation.js';
import { FakeAlerts, startTestBroker, type TestBroker } from './support/fake-hub.js';
import { loadTestTownship, type TestTownship } from './support/test-township.js';

const SEED = 'sim-it';

let broker: TestBroker;
let township: TestTownship;
let snapshot: RegistrySnapshot;
let alerts: FakeAlerts | null = null;

beforeAll(async () => {
  broker = await startTestBroker();
  township = await loadTestTownship('sim', { seed: SEED, buildings: 12, devices: 80, stations: 4 });
  snapshot = township.snapshot;
});

afterEach(async () => {
  await alerts?.stop();
  alerts = null;
});

afterAll(async () => {
  await township.cleanup();
  await broker.close();
});

async function withAlerts(answer: boolean, duplicate = false): Promise<FakeAlerts> {
  alerts = new FakeAlerts(broker.url, snapshot, { answer, duplicate });
  await alerts.start();
  return alerts;
}

function base(over: Partial<SimulationOptions>): SimulationOptions {
  return {
    mode: 'fire',
    mqttUrl: broker.url,
    snapshot,
    seed: SEED,
    devices: 0,
    connectRate: 1_000,
    durationS: 0,
    fire: 'random',
    fireAtS: 0,
    spreadMs: 0,
    pageTimeoutMs: 5_000,
    settleGraceMs: 300,
    bootId: Math.random().toString(36).slice(2, 8),
    ...over,
  };
}

describe('fleet + fire scenario against an in-process broker', () => {
  it('runs a fleet with telemetry, fires, and reports the alarms paged with finite latency', async () => {
    const fake = await withAlerts(true);
    const progress: number[] = [];
    const summary = await runSimulation(
      base({
        mode: 'fleet',
        devices: 40,
        durationS: 1.5,
        fireAtS: 0.3,
        spreadMs: 200,
        intervals: {
          smoke: { intervalMs: 150, jitter: 0.2 },
          electric: { intervalMs: 150, jitter: 0.2 },
          charger: { intervalMs: 150, jitter: 0.2 },
        },
        progressMs: 200,
        onProgress: (p) => progress.push(p.connected),
      }),
    );
    const fire = summary.fire!;
    expect(summary.ok).toBe(true);
    expect(fire.alarmsSent).toBeGreaterThan(0);
    expect(fire.alarmsSent).toBe(fire.detectors);
    expect(fire.alarmsAcked).toBe(fire.alarmsSent);
    expect(fire.paged).toBe(fire.alarmsSent);
    expect(fire.pagedDirect).toBeGreaterThanOrEqual(1);
    expect(fire.neverPaged).toBe(0);
    expect(fire.duplicates).toBe(0);
    expect(fire.alarmTsMatches).toBe(true);
    expect(fire.pagingStationId).toBe(fire.expectedStationId);
    expect(summary.expectedStationPaged).toBe(true);
    expect(summary.latency.count).toBe(fire.pagedDirect);
    expect(Number.isFinite(summary.latency.p50Ms)).toBe(true);
    expect(summary.latency.p50Ms).toBeGreaterThan(0);
    expect(fire.firstPageLatencyMs).toBeGreaterThan(0);
    // The fleet connected (fire detectors included) and published valid telemetry.
    expect(summary.fleet.devices).toBe(40);
    expect(summary.fleet.connected).toBe(40);
    expect(summary.fleet.connectErrors).toBe(0);
    expect(summary.fleet.messagesSent).toBeGreaterThan(0);
    expect(fake.telemetrySeen).toBeGreaterThan(0);
    expect(fake.telemetryInvalid).toBe(0);
    expect(fake.alarmsSeen).toBe(fire.alarmsSent);
    expect(summary.stations?.connected).toBe(4);
    expect(progress.length).toBeGreaterThan(0);
  });

  it('counts every alarm as never paged when nobody answers', async () => {
    const fake = await withAlerts(false);
    const summary = await runSimulation(base({ pageTimeoutMs: 1_000 }));
    const fire = summary.fire!;
    expect(summary.ok).toBe(false);
    expect(fire.alarmsSent).toBeGreaterThan(0);
    expect(fake.alarmsSeen).toBe(fire.alarmsSent);
    expect(fire.neverPaged).toBe(fire.alarmsSent);
    expect(fire.paged).toBe(0);
    expect(fire.pagingStationId).toBeNull();
    expect(summary.latency.count).toBe(0);
    // Fire mode connects only the building's detectors, without telemetry.
    expect(summary.fleet.devices).toBe(fire.detectors);
    expect(summary.fleet.messagesSent).toBe(0);
  });

  it('counts a page delivered twice as a duplicate', async () => {
    await withAlerts(true, true);
    // The second copy may land after the fire settles: hold until it is counted (bounded).
    const summary = await runSimulation(
      base({ settleUntil: { done: (s) => (s?.duplicatePages ?? 0) >= 1, maxMs: 20_000 } }),
    );
    expect(summary.fire?.paged).toBe(summary.fire?.alarmsSent);
    expect(summary.fire?.duplicates).toBe(1);
    expect(summary.stations?.duplicatePages).toBe(1);
  });

  it('fails fast, naming the address, when the broker refuses connections', async () => {
    const gone = await startTestBroker();
    await gone.close();
    // With a fire, the station listeners are the first to find out.
    await expect(runSimulation(base({ mqttUrl: gone.url, connectTimeoutMs: 1_000 }))).rejects.toMatchObject({
      code: SIM_ERRORS.STATION_LISTENER,
      message: expect.stringContaining(gone.url),
    });
    // Without one, the fleet gives up when no device connects at all.
    await expect(
      runSimulation(
        base({ mode: 'fleet', fire: null, devices: 5, durationS: 30, mqttUrl: gone.url, failFastMs: 500 }),
      ),
    ).rejects.toMatchObject({
      code: SIM_ERRORS.BROKER_UNREACHABLE,
      message: expect.stringContaining(gone.url),
    });
  });
});
