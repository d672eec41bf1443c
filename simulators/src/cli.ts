#!/usr/bin/env -S npx tsx
/**
 * hub-sim: device fleet and fire-scenario simulator (the simulator's entry file: the
 * only one that reads the environment and the command line).
 *
 *   hub-sim fleet --devices 1000 --rate 200 --duration 60 [--fire random --fire-at 10] [--json]
 *   hub-sim fire --building b00012|random [--json]
 *
 *   hub-sim flood --devices 100000 --duration 300 [--fire random] [--json]
 *   hub-sim scenario <name> --scale 10000 [--json]
 *
 * Exit codes: 0 ok; 1 an alarm was never paged (or the run failed midway); 2 bad
 * options; 3 could not start (broker or Redis unreachable, empty registry).
 */
import { randomBytes } from 'node:crypto';
import { hubKeys } from '@hub/protocol';
import { RegistryStore } from '@hub/registry';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Redis } from 'ioredis';
import { DEFAULT_INTERVALS, type TelemetryIntervals } from './device-profiles.js';
import { checkFdLimit, readFdLimits } from './fd-limit.js';
import { probeBroker } from './probe.js';
import type { Scenario, ScenarioReport } from './scenario.js';
import { formatReport, formatRunProgress } from './scenario-report-format.js';
import { type RunProgress, runScenario } from './scenario-runner.js';
import { floodScenario } from './scenarios/flood.js';
import { findScenario, SCENARIOS } from './scenarios/index.js';
import { SIM_ERRORS, SimError } from './sim-error.js';
import { type Progress, runSimulation, type SimulationSummary } from './simulation.js';
import { parseSourceAddresses, planSourceAddresses, readEphemeralPortRange } from './source-addresses.js';
import { formatProgress, formatSummary } from './summary-format.js';

const EXIT_NOT_PAGED = 1;
const EXIT_USAGE = 2;
const EXIT_CANNOT_START = 3;

function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n <= 0) {
    throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  }
  return n;
}

function positiveNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a number > 0, got "${v}"`);
  return n;
}

function nonNegativeNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError(`expected a number ≥ 0, got "${v}"`);
  return n;
}

function fraction(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n >= 1) {
    throw new InvalidArgumentError(`expected a fraction in [0, 1), got "${v}"`);
  }
  return n;
}

function urlWith(protocols: string[]): (v: string) => string {
  return (v) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new InvalidArgumentError(`"${v}" is not a URL`);
    }
    if (!protocols.includes(u.protocol)) {
      throw new InvalidArgumentError(`"${v}" must start with ${protocols.map((p) => p + '//').join(' or ')}`);
    }
    return v;
  };
}

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
function buildingArg(v: string): string {
  if (v !== 'random' && !ID_RE.test(v))
    throw new InvalidArgumentError(`"${v}" is neither a building id nor "random"`);
  return v;
}

interface CommonOpts {
  mqtt: string;
  redis: string;
  prefix: string;
  seed: string;
  spreadMs: number;
  pageTimeout: number;
  connectTimeout: number;
  json: boolean;
}

function addCommon(cmd: Command): Command {
  return cmd
    .option(
      '--mqtt <url>',
      'MQTT broker URL',
      urlWith(['mqtt:', 'tcp:']),
      process.env.HUB_MQTT_URL ?? 'mqtt://127.0.0.1:18830',
    )
    .option(
      '--redis <url>',
      'Redis URL (registry)',
      urlWith(['redis:', 'rediss:']),
      process.env.HUB_REDIS_URL ?? 'redis://127.0.0.1:16379',
    )
    .option('--prefix <prefix>', 'Redis key prefix', process.env.HUB_KEY_PREFIX ?? 'hub')
    .option('--seed <seed>', 'seed of the demo township (device and station secrets)', 'demo')
    .option(
      '--spread-ms <ms>',
      "spread later detectors' alarms over this many ms (0 = all at once)",
      nonNegativeNumber,
      0,
    )
    .option(
      '--page-timeout <s>',
      'an alarm not paged within this many seconds counts as never paged',
      positiveNumber,
      10,
    )
    .option('--connect-timeout <s>', 'CONNACK deadline per connection attempt, seconds', positiveNumber, 5)
    .option('--json', 'print the summary as JSON on stdout', false);
}

/** Starts progress output: a rewritten line on a terminal, a line per second otherwise. */
function progressPrinter(): { onProgress: (p: Progress) => void; done: () => void } {
  const tty = process.stderr.isTTY === true;
  let printed = false;
  return {
    onProgress: (p) => {
      printed = true;
      if (tty) process.stderr.write('\r\x1b[2K' + formatProgress(p));
      else process.stderr.write(formatProgress(p) + '\n');
    },
    done: () => {
      if (tty && printed) process.stderr.write('\n');
    },
  };
}

async function loadSnapshot(redisUrl: string, prefix: string) {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    // Fail now instead of retrying forever: the operator must fix the address.
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    try {
      await redis.connect();
    } catch (err) {
      throw new SimError(
        SIM_ERRORS.REDIS_UNREACHABLE,
        `cannot reach Redis at ${redisUrl}: ${(err as Error).message}`,
      );
    }
    const snapshot = await new RegistryStore(redis, hubKeys(prefix)).load();
    if (snapshot.devices.size === 0) {
      throw new SimError(
        SIM_ERRORS.REGISTRY_EMPTY,
        `no devices in the registry under prefix "${prefix}" at ${redisUrl} (load one with: hub-registry load-demo)`,
      );
    }
    return snapshot;
  } finally {
    redis.disconnect();
  }
}

async function run(
  mode: 'fleet' | 'fire',
  o: CommonOpts & Record<string, unknown>,
  extra: {
    devices: number;
    rate: number;
    durationS: number;
    fire: string | null;
    fireAtS: number;
    intervals?: Partial<TelemetryIntervals>;
    eveningPeak?: boolean;
    maxConnecting?: number;
  },
): Promise<number> {
  const interrupt = onInterrupt();
  const progress = progressPrinter();
  let summary: SimulationSummary;
  try {
    await probeBroker(o.mqtt, 3_000);
    const snapshot = await loadSnapshot(o.redis, o.prefix);
    summary = await runSimulation({
      mode,
      mqttUrl: o.mqtt,
      snapshot,
      seed: o.seed,
      devices: extra.devices,
      connectRate: extra.rate,
      durationS: extra.durationS,
      fire: extra.fire,
      fireAtS: extra.fireAtS,
      spreadMs: o.spreadMs,
      pageTimeoutMs: o.pageTimeout * 1000,
      connectTimeoutMs: o.connectTimeout * 1000,
      maxConnecting: extra.maxConnecting,
      intervals: extra.intervals,
      profile: { eveningPeak: extra.eveningPeak ?? false },
      bootId: randomBytes(4).toString('hex'),
      onProgress: progress.onProgress,
      signal: interrupt.signal,
    });
  } catch (err) {
    progress.done();
    return failedRunExit(err);
  } finally {
    interrupt.release();
  }
  progress.done();
  if (o.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  else process.stdout.write(formatSummary(summary) + '\n');
  return summary.ok ? 0 : EXIT_NOT_PAGED;
}

/** SIGINT/SIGTERM stop the run cleanly (it still reports); a second one quits at once. */
function onInterrupt(): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\nhub-sim: stopping (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  return {
    signal: controller.signal,
    release() {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    },
  };
}

const STARTUP_ERRORS: readonly string[] = [
  SIM_ERRORS.BROKER_UNREACHABLE,
  SIM_ERRORS.REDIS_UNREACHABLE,
  SIM_ERRORS.REGISTRY_EMPTY,
  SIM_ERRORS.NO_BUILDING,
  SIM_ERRORS.STATION_LISTENER,
];

/** Says why a run failed; what kept it from starting exits 3, anything else counts as not paged. */
function failedRunExit(err: unknown): number {
  if (err instanceof SimError) {
    process.stderr.write(`hub-sim: ${err.message} [${err.code}]\n`);
    return STARTUP_ERRORS.includes(err.code) ? EXIT_CANNOT_START : EXIT_NOT_PAGED;
  }
  process.stderr.write(`hub-sim: ${(err as Error).stack ?? String(err)}\n`);
  return EXIT_NOT_PAGED;
}

interface FloodOpts extends CommonOpts {
  rate: number;
  maxConnecting: number;
  duration?: number;
  sourceAddresses?: string[];
  keepalive: number;
  intervalScale?: number;
  telemetry: boolean;
  status: boolean;
  stations: boolean;
  acceptDelayMs: number;
  dashboardUrl?: string;
  dashboardCookie?: string;
}

function addFloodOptions(cmd: Command): Command {
  return addCommon(cmd)
    .option('--rate <r>', 'new connections per second (reconnects share it)', positiveNumber, 1000)
    .option('--max-connecting <n>', 'connection attempts waiting for CONNACK at once', positiveInt, 1000)
    .option('--duration <s>', 'run this many seconds', positiveNumber)
    .option(
      '--source-addresses <list>',
      'local addresses to connect from, comma-separated (default: 127.0.0.2, .3, ... as many as the port range needs)',
      (v: string) => {
        try {
          return parseSourceAddresses(v);
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      },
    )
    .option('--keepalive <s>', 'MQTT keepalive of each device, seconds', positiveInt, 300)
    .option('--interval-scale <f>', 'multiply every report interval (0.01 = 100x faster)', positiveNumber)
    .option('--no-telemetry', 'connect and hold only, no periodic reports')
    .option('--no-status', 'no retained online status after CONNACK')
    .option('--no-stations', 'no station listeners (pure connection flood)')
    .option(
      '--accept-delay-ms <ms>',
      'station listeners accept pages after this delay',
      nonNegativeNumber,
      500,
    )
    .option(
      '--dashboard-url <url>',
      "also measure pages on the dashboard's live stream (e.g. http://127.0.0.1:18080/api/live)",
      urlWith(['http:', 'https:']),
    )
    .option('--dashboard-cookie <cookie>', 'Cookie header of a logged-in dashboard session');
}

async function runFloodLike(scenario: Scenario, o: FloodOpts, scale: number): Promise<number> {
  // Every connection holds a descriptor: say what to run before anything opens.
  const fd = checkFdLimit(scale + 16, readFdLimits());
  if (!fd.ok) {
    process.stderr.write(`hub-sim: ${fd.message} [${SIM_ERRORS.FD_LIMIT}]\n`);
    return EXIT_CANNOT_START;
  }
  const sourceAddresses = o.sourceAddresses ?? planSourceAddresses(scale, readEphemeralPortRange());
  const interrupt = onInterrupt();
  const tty = process.stderr.isTTY === true;
  const onProgress = (p: RunProgress) => {
    if (tty) process.stderr.write('\r\x1b[2K' + formatRunProgress(p));
    else process.stderr.write(formatRunProgress(p) + '\n');
  };
  let report: ScenarioReport;
  let redis: Redis | null = null;
  try {
    await probeBroker(o.mqtt, 3_000);
    const snapshot = await loadSnapshot(o.redis, o.prefix);
    redis = new Redis(o.redis, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
    redis.on('error', () => {});
    await redis.connect().catch(() => {
      redis = null;
    });
    report = await runScenario(scenario, {
      mqttUrl: o.mqtt,
      snapshot,
      seed: o.seed,
      bootId: randomBytes(4).toString('hex'),
      scale,
      durationS: o.duration,
      sourceAddresses,
      connectRate: o.rate,
      maxConnecting: o.maxConnecting,
      connectTimeoutMs: o.connectTimeout * 1000,
      keepaliveS: o.keepalive,
      intervalScale: o.intervalScale,
      telemetry: o.telemetry,
      status: o.status,
      noStations: !o.stations,
      acceptDelayMs: o.acceptDelayMs,
      pageTimeoutMs: o.pageTimeout * 1000,
      dashboard:
        o.dashboardUrl === undefined
          ? null
          : {
              url: o.dashboardUrl,
              headers: o.dashboardCookie === undefined ? {} : { cookie: o.dashboardCookie },
            },
      redis,
      keys: hubKeys(o.prefix),
      onProgress,
      signal: interrupt.signal,
    });
  } catch (err) {
    if (tty) process.stderr.write('\n');
    return failedRunExit(err);
  } finally {
    (redis as Redis | null)?.disconnect();
    interrupt.release();
  }
  if (tty) process.stderr.write('\n');
  if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(formatReport(report) + '\n');
  return report.ok ? 0 : EXIT_NOT_PAGED;
}

function intervalsFrom(o: Record<string, unknown>): Partial<TelemetryIntervals> {
  const jitter = (o.jitter as number | undefined) ?? DEFAULT_INTERVALS.smoke.jitter;
  const iv = (s: unknown, kind: keyof TelemetryIntervals) => ({
    intervalMs: s === undefined ? DEFAULT_INTERVALS[kind].intervalMs : (s as number) * 1000,
    jitter,
  });
  return {
    smoke: iv(o.smokeInterval, 'smoke'),
    electric: iv(o.electricInterval, 'electric'),
    charger: iv(o.chargerInterval, 'charger'),
  };
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('hub-sim')
    .description('Device fleet and fire-scenario simulator for the hub')
    .showHelpAfterError()
    .exitOverride();

  addCommon(
    program
      .command('fleet')
      .description('connect N registry devices, publish telemetry, optionally light a fire')
      .option('--devices <n>', 'devices to connect', positiveInt, 1000)
      .option('--rate <r>', 'new connections per second', positiveNumber, 200)
      .option('--max-connecting <n>', 'connection attempts in flight at once', positiveInt, 500)
      .option('--duration <s>', 'run this many seconds', positiveNumber, 60)
      .addOption(
        new Option('--fire <building>', 'light a fire: building id or "random"').argParser(buildingArg),
      )
      .option('--fire-at <s>', 'seconds after start to light the fire', nonNegativeNumber, 10)
      .option('--smoke-interval <s>', 'smoke detector telemetry interval, seconds', positiveNumber)
      .option('--electric-interval <s>', 'electricity monitor telemetry interval, seconds', positiveNumber)
      .option('--charger-interval <s>', 'charging station telemetry interval, seconds', positiveNumber)
      .option('--jitter <f>', 'telemetry interval jitter, fraction', fraction)
      .option('--evening-peak', 'more charging between 18:00 and 23:00 (UTC+8)', false),
  ).action(async (o) => {
    setExit(
      await run('fleet', o, {
        devices: o.devices,
        rate: o.rate,
        durationS: o.duration,
        fire: o.fire ?? null,
        fireAtS: o.fireAt,
        intervals: intervalsFrom(o),
        eveningPeak: o.eveningPeak,
        maxConnecting: o.maxConnecting,
      }),
    );
  });

  addCommon(
    program
      .command('fire')
      .description("connect one building's detectors and the station listeners, fire, report, exit")
      .requiredOption('--building <id>', 'building id or "random"', buildingArg),
  ).action(async (o) => {
    setExit(await run('fire', o, { devices: 0, rate: 200, durationS: 0, fire: o.building, fireAtS: 0 }));
  });
  addFloodOptions(
    program
      .command('flood')
      .description(
        'hold many raw-MQTT device connections (up to ~100k), realistic report rhythm, optional fire',
      )
      .option('--devices <n>', 'connections to hold', positiveInt, 10_000)
      .addOption(
        new Option('--fire <building>', 'light a fire: building id or "random"').argParser(buildingArg),
      )
      .option('--fire-at <s>', 'seconds after start to light the fire', nonNegativeNumber, 30),
  ).action(async (o) => {
    const duration = (o.duration as number | undefined) ?? 60;
    const scenario = floodScenario({
      durationS: duration,
      fire: (o.fire as string | undefined) ?? null,
      fireAtS: o.fireAt as number,
      spreadMs: o.spreadMs as number,
      seed: o.seed as string,
    });
    setExit(await runFloodLike(scenario, o as FloodOpts, o.devices as number));
  });

  addFloodOptions(
    program
      .command('scenario')
      .description(`run a named scenario: ${SCENARIOS.map((x) => x.name).join(', ')}`)
      .argument('<name>', 'scenario name')
      .option('--scale <n>', 'devices connected', positiveInt, 2_000),
  ).action(async (name: string, o) => {
    const scenario = findScenario(name);
    if (scenario === undefined) {
      process.stderr.write(
        `hub-sim: unknown scenario "${name}"; known: ${SCENARIOS.map((x) => x.name).join(', ')}\n`,
      );
      setExit(EXIT_USAGE);
      return;
    }
    setExit(await runFloodLike(scenario, o as FloodOpts, o.scale as number));
  });
  return program;
}

async function main(): Promise<void> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; every parse error is a usage error.
      process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    throw err;
  }
  // Force the exit: a half-closed socket must not keep a finished run alive.
  process.exit(code);
}

await main();
