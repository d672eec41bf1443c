import type { HubKeys } from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunOptions, runScenario } from '../src/scenario-runner.js';
import { findScenario, SCENARIOS } from '../src/scenarios/index.js';
import { FakeAlerts, startTestBroker, type TestBroker } from './support/fake-hub.js';
import { loadTestTownship, type TestTownship } from './support/test-township.js';

/**
 * Every scenario of the library, at small scale and 3 % of its timings, against a
 * real aedes broker and the fake alerts service of support/fake-hub.ts (one page per
 * building episode, no ladder). What the fake cannot do (escalate) must show as a
 * failed check, which is what the station-never-accepts test asserts.
 */
const SEED = 'scen-it';
let township: TestTownship;
let redis: Redis;
let keys: HubKeys;
let snapshot: RegistrySnapshot;
let broker: TestBroker;
let url: string;
let alerts: FakeAlerts;

beforeAll(async () => {
  township = await loadTestTownship('scen', { seed: SEED, buildings: 60, devices: 400, stations: 4 });
  ({ redis, keys, snapshot } = township);
  broker = await startTestBroker();
  url = broker.url;
});

// A fresh fake per test: its incidents never close, so a building two scenarios
// pick would otherwise fold the second scenario's alarms into the first's incident.
beforeEach(async () => {
  alerts = new FakeAlerts(url, snapshot, { answer: true });
  await alerts.start();
});

afterEach(async () => {
  await alerts.stop();
});

afterAll(async () => {
  await township.cleanup();
  await broker.close();
});

function opts(over: Partial<RunOptions> = {}): RunOptions {
  return {
    mqttUrl: url,
    snapshot,
    seed: SEED,
    bootId: Math.random().toString(36).slice(2, 8),
    scale: 200,
    sourceAddresses: ['127.0.0.2', '127.0.0.3'],
    connectRate: 5_000,
    intervalScale: 0.01,
    pageTimeoutMs: 5_000,
    settleGraceMs: 200,
    timeScale: 0.03,
    redis,
    keys,
    ...over,
  };
}

const FAKE_CAN_PASS = SCENARIOS.filter((s) => s.name !== 'station-never-accepts');

describe('scenario library against aedes + fake alerts', () => {
  it.each(FAKE_CAN_PASS.map((s) => [s.name, s] as const))(
    '%s runs and every check passes',
    async (_name, scenario) => {
      const report = await runScenario(scenario, opts());
      const failed = report.checks.filter((c) => !c.ok);
      expect(failed, JSON.stringify(failed)).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.audit.alarmsSent).toBeGreaterThan(0);
      expect(report.audit.neverPaged).toBe(0);
      expect(report.fleet.connectErrors).toBe(0);
      expect(report.fleet.devices).toBeGreaterThanOrEqual(200);
    },
    60_000,
  );

  it('station-never-accepts reports the missing escalation when the hub has no ladder', async () => {
    const report = await runScenario(findScenario('station-never-accepts')!, opts());
    const esc = report.checks.find((c) => c.name === 'escalated past the silent station');
    expect(esc?.ok).toBe(false);
    expect(report.ok).toBe(false);
    // The silent station got the page and did not accept it.
    expect(report.audit.neverPaged).toBe(0);
    expect(report.stations?.accepts).toBe(0);
  }, 60_000);

  it('spring-festival switches key-period mode through Redis and restores it', async () => {
    await redis.set(keys.keyPeriod, '{"v":1,"mode":"auto","periods":[],"updatedAt":1}');
    let seenOn = false;
    const sub = redis.duplicate();
    await sub.subscribe(keys.keyPeriodChanged);
    sub.on('message', () => {
      void redis.get(keys.keyPeriod).then((v) => {
        if (v?.includes('"mode":"on"')) seenOn = true;
      });
    });
    const report = await runScenario(findScenario('spring-festival')!, opts());
    sub.disconnect();
    expect(report.checks.find((c) => c.name === 'key-period mode switched')?.ok).toBe(true);
    expect(seenOn).toBe(true);
    expect(await redis.get(keys.keyPeriod)).toBe('{"v":1,"mode":"auto","periods":[],"updatedAt":1}');
  }, 60_000);
});
