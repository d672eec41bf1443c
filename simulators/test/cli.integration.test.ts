import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HubKeys } from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import { testRedisUrl } from '@hub/registry/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulationSummary } from '../src/simulation.js';
import { FakeAlerts, startTestBroker, type TestBroker } from './support/fake-hub.js';
import { loadTestTownship, type TestTownship } from './support/test-township.js';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SEED = 'sim-cli';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs hub-sim as the operator would (node + tsx), with no HUB_* variables set. */
function hubSim(args: string[], timeoutMs = 30_000): Promise<Result> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HUB_')) env[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => {
      stdout += b;
    });
    child.stderr.on('data', (b) => {
      stderr += b;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hub-sim ${args.join(' ')} did not exit; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let broker: TestBroker;
let township: TestTownship;
let keys: HubKeys;
let snapshot: RegistrySnapshot;

beforeAll(async () => {
  broker = await startTestBroker();
  township = await loadTestTownship('simcli', { seed: SEED, buildings: 10, devices: 50, stations: 3 });
  ({ keys, snapshot } = township);
});

afterAll(async () => {
  await township.cleanup();
  await broker.close();
});

describe('hub-sim command line', () => {
  it('fire --json: pages answered by the hub give exit 0 and a JSON summary', async () => {
    const alerts = new FakeAlerts(broker.url, snapshot, { answer: true });
    await alerts.start();
    try {
      const common = [
        '--mqtt',
        broker.url,
        '--redis',
        testRedisUrl(),
        '--prefix',
        keys.prefix,
        '--seed',
        SEED,
      ];
      const r = await hubSim(['fire', '--building', 'random', ...common, '--page-timeout', '5', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout) as SimulationSummary;
      expect(summary.mode).toBe('fire');
      expect(summary.ok).toBe(true);
      expect(summary.fire?.alarmsSent).toBeGreaterThan(0);
      expect(summary.fire?.paged).toBe(summary.fire?.alarmsSent);
      expect(summary.fire?.neverPaged).toBe(0);
      expect(summary.latency.p99Ms).toBeGreaterThan(0);
    } finally {
      await alerts.stop();
    }
  });

  it('fleet with a fire nobody answers: summary table and a non-zero exit', async () => {
    const common = ['--mqtt', broker.url, '--redis', testRedisUrl(), '--prefix', keys.prefix, '--seed', SEED];
    const r = await hubSim([
      'fleet',
      ...common,
      '--devices',
      '20',
      '--rate',
      '500',
      '--duration',
      '1',
      '--fire',
      'random',
      '--fire-at',
      '0',
      '--page-timeout',
      '1',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/never paged\s+[1-9]/);
    expect(r.stdout).toMatch(/latency p99 \(ms\)\s+-/);
    expect(r.stdout).toContain('FAILED');
    expect(r.stderr).toMatch(/connected \d+\/20/);
  });

  it('rejects bad numbers with a usage error', async () => {
    // Independent processes: run them side by side.
    const [r, r2, r3, r4] = await Promise.all([
      hubSim(['fleet', '--devices', 'abc']),
      hubSim(['fleet', '--rate', '-5']),
      hubSim(['fire', '--building', 'a/b']),
      hubSim(['fleet', '--mqtt', 'http://x']),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('expected a positive integer, got "abc"');
    // The usage text printed after the error names every option and the default URL,
    // so each check looks for the parser's own message about the bad value.
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(
      `option '--rate <r>' argument '-5' is invalid. expected a number > 0, got "-5"`,
    );
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain('"a/b" is neither a building id nor "random"');
    expect(r4.code).toBe(2);
    expect(r4.stderr).toContain('"http://x" must start with mqtt://');
  });

  it('names the address when the broker is unreachable', async () => {
    const gone = await startTestBroker();
    await gone.close();
    const r = await hubSim(
      ['fire', '--building', 'random', '--mqtt', gone.url, '--redis', testRedisUrl()],
      15_000,
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`cannot reach the MQTT broker at ${gone.url}`);
  });

  it('names the address when Redis is unreachable', async () => {
    const gone = await startTestBroker();
    await gone.close();
    const redisUrl = gone.url.replace('mqtt:', 'redis:');
    const r = await hubSim(
      ['fire', '--building', 'random', '--mqtt', broker.url, '--redis', redisUrl],
      15_000,
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`cannot reach Redis at ${redisUrl}`);
  });
});
