/**
 * One command for a benchmark run of a simulator scenario against the real hub:
 *
 *   npx tsx bench/run-scenario.ts <scenario|flood> --scale N [--duration S] [--compare]
 *
 * 1. Redis + InfluxDB (deploy/local/services.sh, private HUB_LOCAL_DIR under
 *    bench/simulators/.local, ports 44379 / 44086);
 * 2. the demo township with at least `scale` devices (registry CLI);
 * 3. the hub processes (deploy/src/hub-processes.ts: broker 44830, ingest, alerts
 *    with a 10 s accept timeout so escalations show in a short run, dashboard);
 * 4. the scenario (simulators/src/cli.ts scenario|flood --json) while /proc is
 *    sampled for the hub processes' CPU and memory;
 * 5. with --compare, the same load (flood mode: the reference has no paging) through
 *    Mosquitto on 127.0.0.1:44883 + a minimal InfluxDB subscriber;
 * 6. bench/results/<scenario>-<scale>-<time>/: report.md, report.json, latency.svg,
 *    resources.svg.
 * Everything started is stopped at the end (also on Ctrl-C).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  type HubProcess,
  REPO_ROOT,
  SERVICE_ENTRIES,
  startService,
  waitForHttp,
} from '../deploy/src/hub-processes.js';
import type { ScenarioReport } from '../simulators/src/scenario.js';
import { ProcSampler, type ProcSeries, summarize } from './simulators/proc-sampler.js';
import { percentileChart, timeChart } from './simulators/svg-chart.js';

/**
 * Ports in this bench's range (44000-44999). The range lies inside the kernel's
 * ephemeral range (32768-60999), so another process's outgoing connection may hold
 * one of them: each port is the first free one at or after its preferred number.
 */
async function freePortFrom(preferred: number, taken: Set<number>): Promise<number> {
  for (let p = preferred; p <= 44_999; p++) {
    if (taken.has(p)) continue;
    const ok = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(p, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (ok) {
      taken.add(p);
      return p;
    }
  }
  throw new Error(`no free port in ${preferred}-44999`);
}
const taken = new Set<number>();
/** InfluxDB also binds its RPC port at +2 (deploy/local/services.sh). */
async function freeInfluxPort(preferred: number): Promise<number> {
  for (let p = preferred; p < 44_990; p += 3) {
    const a = await freePortFrom(p, taken);
    if (a !== p) continue;
    if ((await freePortFrom(p + 2, taken)) === p + 2) return p;
  }
  throw new Error('no free InfluxDB port pair');
}
const PORTS = {
  redis: await freePortFrom(44379, taken),
  influx: await freeInfluxPort(44086),
  mqtt: await freePortFrom(44830, taken),
  brokerHttp: await freePortFrom(44831, taken),
  ingestHttp: await freePortFrom(44832, taken),
  alertsHttp: await freePortFrom(44833, taken),
  dashboard: await freePortFrom(44834, taken),
  mosquitto: await freePortFrom(44883, taken),
};

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const scenario = process.argv[2];
if (scenario === undefined || scenario.startsWith('--')) {
  console.error(
    'usage: npx tsx bench/run-scenario.ts <scenario|flood> --scale N [--duration S] [--compare] [--rate R]',
  );
  process.exit(2);
}
const scale = Number(arg('scale', '2000'));
const duration = arg('duration');
const compare = process.argv.includes('--compare');
const rate = arg('rate', '1000') as string;
const extra = (arg('sim-args', '') as string).split(' ').filter((s) => s !== '');

const localDir = join(REPO_ROOT, 'bench/simulators/.local');
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const outDir = join(REPO_ROOT, 'bench/results', `${scenario}-${scale}-${stamp}`);
mkdirSync(outDir, { recursive: true });
const logDir = join(outDir, 'logs');
const secret = randomBytes(18).toString('base64url');
const env: Record<string, string | undefined> = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  HUB_LOCAL_DIR: localDir,
  HUB_REDIS_PORT: String(PORTS.redis),
  HUB_INFLUX_PORT: String(PORTS.influx),
  HUB_REDIS_URL: `redis://127.0.0.1:${PORTS.redis}`,
  HUB_INFLUX_URL: `http://127.0.0.1:${PORTS.influx}`,
  HUB_MQTT_URL: `mqtt://127.0.0.1:${PORTS.mqtt}`,
  HUB_MQTT_PORT: String(PORTS.mqtt),
  HUB_BROKER_HTTP_PORT: String(PORTS.brokerHttp),
  HUB_INGEST_HTTP_PORT: String(PORTS.ingestHttp),
  HUB_ALERTS_HTTP_PORT: String(PORTS.alertsHttp),
  HUB_DASHBOARD_PORT: String(PORTS.dashboard),
  HUB_KEY_PREFIX: 'bench',
  HUB_SERVICE_SECRET: secret,
  HUB_ACCEPT_TIMEOUT_MS: '10000',
  HUB_LOG_LEVEL: 'warn',
  // A load test connects thousands of devices from a few loopback addresses: lift the
  // broker's per-address and global connection-rate limits above the simulator's rate.
  HUB_MQTT_CONN_RATE_PER_ADDRESS: '20000',
  HUB_MQTT_CONN_BURST_PER_ADDRESS: '20000',
  HUB_MQTT_CONN_RATE_GLOBAL: '20000',
  HUB_MQTT_CONN_BURST_GLOBAL: '20000',
  HUB_MQTT_MAX_CONNECTIONS: '200000',
};
// --broker-head: run the broker as committed (git archive HEAD), not the shared
// working tree, when another engineer's uncommitted broker change is half done.
const brokerHead = process.argv.includes('--broker-head');

function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; capture?: boolean } = {},
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', opts.capture ? 'pipe' : 'inherit', 'inherit'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('exit', (code) => resolve({ code, out }));
  });
}

const hub: HubProcess[] = [];
const others: ChildProcess[] = [];
let cleaned = false;
async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  for (const c of others) c.kill('SIGTERM');
  await Promise.all(hub.map((p) => p.stop()));
  await run('bash', ['deploy/local/services.sh', 'down'], { env });
}
process.on('SIGINT', () => {
  void cleanup().then(() => process.exit(130));
});

/** Runs the simulator with /proc sampling of `procs`; returns its JSON report and the samples. */
async function simulate(
  mqttUrl: string,
  mode: 'scenario' | 'flood',
  procs: Array<{ name: string; pid: number }>,
  more: string[],
): Promise<{ report: ScenarioReport | null; resources: ProcSeries[]; code: number | null }> {
  const args = ['--import', 'tsx', 'simulators/src/cli.ts'];
  if (mode === 'scenario') args.push('scenario', scenario as string, '--scale', String(scale));
  else args.push('flood', '--devices', String(scale));
  args.push(
    '--mqtt',
    mqttUrl,
    '--redis',
    env.HUB_REDIS_URL as string,
    '--prefix',
    'bench',
    '--seed',
    'demo',
    '--json',
    '--rate',
    rate,
    ...more,
    ...extra,
  );
  if (duration !== undefined) args.push('--duration', duration);
  const sampler = new ProcSampler(procs);
  sampler.start();
  const res = await run(process.execPath, args, { capture: true });
  const resources = sampler.stop();
  let report: ScenarioReport | null = null;
  try {
    report = JSON.parse(res.out) as ScenarioReport;
  } catch {
    console.error('bench: the simulator printed no JSON report');
  }
  return { report, resources, code: res.code };
}

/**
 * A township-console session for the live stream: an admin account made with the
 * dashboard's own accounts CLI, then POST /api/auth/login; returns the Cookie header.
 */
async function dashboardLogin(): Promise<string | null> {
  const password = randomBytes(12).toString('base64url');
  const add = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      'dashboard/src/accounts-cli.ts',
      'add',
      '--username',
      'bench-admin',
      '--role',
      'admin',
      '--redis',
      env.HUB_REDIS_URL as string,
      '--prefix',
      'bench',
      '--quiet',
    ],
    { env: { ...env, HUB_ACCOUNT_PASSWORD: password }, capture: true },
  );
  if (add.code !== 0) return null;
  try {
    const res = await fetch(`http://127.0.0.1:${PORTS.dashboard}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bench-admin', password }),
    });
    const set = res.headers.getSetCookie();
    if (!res.ok || set.length === 0) return null;
    return set.map((c) => c.split(';')[0]).join('; ');
  } catch {
    return null;
  }
}

function row(cells: Array<string | number | null | undefined>): string {
  return `| ${cells.map((c) => (c === null || c === undefined ? '-' : String(c))).join(' | ')} |`;
}

try {
  console.log(`bench: services in ${localDir} (Redis ${PORTS.redis}, InfluxDB ${PORTS.influx})`);
  const up = await run('bash', ['deploy/local/services.sh', 'up'], { env });
  if (up.code !== 0) throw new Error('services.sh up failed');
  // A fresh hub every run: incidents left open by an earlier run would swallow this one's alarms.
  const flush = await run('redis-cli', ['-p', String(PORTS.redis), 'flushall']);
  if (flush.code !== 0) throw new Error('could not flush the bench Redis');
  const devices = Math.max(10_000, scale);
  const load = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      'registry/src/cli.ts',
      'load-demo',
      '--redis',
      env.HUB_REDIS_URL as string,
      '--prefix',
      'bench',
      '--devices',
      String(devices),
      '--buildings',
      String(Math.max(2_000, Math.ceil(devices / 5))),
      '--service-secret',
      secret,
    ],
    { env },
  );
  if (load.code !== 0) throw new Error('registry load-demo failed');

  let brokerEntry: string = SERVICE_ENTRIES.broker;
  if (brokerHead) {
    const dir = join(localDir, 'head');
    mkdirSync(dir, { recursive: true });
    const ex = await run('sh', ['-c', `git archive HEAD broker/src | tar -x -C '${dir}'`]);
    if (ex.code !== 0) throw new Error('git archive of the broker failed');
    brokerEntry = 'bench/simulators/.local/head/broker/src/main.ts';
  }
  const broker = startService('broker', brokerEntry, env, logDir);
  hub.push(broker);
  await waitForHttp(`http://127.0.0.1:${PORTS.brokerHttp}/readyz`, 60_000, broker);
  const ingest = startService('ingest', SERVICE_ENTRIES.ingest, env, logDir);
  const alerts = startService('alerts', SERVICE_ENTRIES.alerts, env, logDir);
  const dashboard = startService('dashboard', SERVICE_ENTRIES.dashboard, env, logDir);
  hub.push(ingest, alerts, dashboard);
  await waitForHttp(`http://127.0.0.1:${PORTS.ingestHttp}/readyz`, 60_000, ingest);
  await waitForHttp(`http://127.0.0.1:${PORTS.alertsHttp}/readyz`, 60_000, alerts);
  let dashboardUp = true;
  await waitForHttp(`http://127.0.0.1:${PORTS.dashboard}/readyz`, 60_000, dashboard).catch((err: Error) => {
    dashboardUp = false;
    console.error(`bench: dashboard not ready, measuring without it: ${err.message}`);
  });
  console.log('bench: hub up; running the simulator');
  const hubProcs = hub
    .filter((p) => p.child.pid !== undefined)
    .map((p) => ({ name: p.name, pid: p.child.pid as number }));
  const mode = scenario === 'flood' ? 'flood' : 'scenario';
  const dashArgs: string[] = [];
  if (dashboardUp) {
    dashArgs.push('--dashboard-url', `http://127.0.0.1:${PORTS.dashboard}/api/live`);
    const cookie = await dashboardLogin();
    if (cookie === null)
      console.error('bench: could not log in to the dashboard; its stream will answer 401');
    else dashArgs.push('--dashboard-cookie', cookie);
  }
  const hubRun = await simulate(env.HUB_MQTT_URL as string, mode, hubProcs, dashArgs);
  await Promise.all(hub.splice(0).map((p) => p.stop()));

  let refRun: Awaited<ReturnType<typeof simulate>> | null = null;
  if (compare) {
    console.log(`bench: reference run through Mosquitto on ${PORTS.mosquitto}`);
    const conf = join(localDir, 'mosquitto.conf');
    writeFileSync(
      conf,
      `listener ${PORTS.mosquitto} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 10000\nlog_dest stderr\nlog_type error\n`,
    );
    const mosq = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
    others.push(mosq);
    await new Promise((r) => setTimeout(r, 500));
    const sub = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/simulators/mosquitto-influx-subscriber.ts',
        `mqtt://127.0.0.1:${PORTS.mosquitto}`,
        env.HUB_INFLUX_URL as string,
        'ref',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'ignore'] },
    );
    others.push(sub);
    await new Promise((r) => setTimeout(r, 2_000));
    refRun = await simulate(
      `mqtt://127.0.0.1:${PORTS.mosquitto}`,
      'flood',
      [
        { name: 'mosquitto', pid: mosq.pid as number },
        { name: 'ref-subscriber', pid: sub.pid as number },
      ],
      ['--no-stations'],
    );
  }

  // ---- report ----
  const r = hubRun.report;
  const ref = refRun?.report ?? null;
  const res = hubRun.resources.map(summarize);
  const refRes = refRun?.resources.map(summarize) ?? [];
  const lat = (
    s: { p50Ms: number | null; p99Ms: number | null; maxMs: number | null; count: number } | undefined,
  ) => (s === undefined || s.count === 0 ? '-' : `${s.p50Ms} / ${s.p99Ms} / ${s.maxMs} (n=${s.count})`);
  const md: string[] = [
    `# ${scenario} at scale ${scale}`,
    '',
    `Command: \`npx tsx bench/run-scenario.ts ${process.argv.slice(2).join(' ')}\` · ${new Date().toISOString()} · 2 shared cores (other engineers' work ran meanwhile)`,
    '',
    r === null
      ? `The simulator failed (exit ${hubRun.code}); see ${logDir}.`
      : `Plan: ${r.summary}. Result: **${r.ok ? 'OK' : 'FAILED'}** (simulator exit ${hubRun.code}).`,
    '',
    '| measure | hub (aedes broker + ingest + alerts) | reference (Mosquitto + InfluxDB subscriber) |',
    '| --- | --- | --- |',
    row([
      'devices / peak connected',
      r ? `${r.devices} / ${r.peakConnected}` : null,
      ref ? `${ref.devices} / ${ref.peakConnected}` : null,
    ]),
    row([
      'connect errors',
      r ? `${r.fleet.connectErrors} ${JSON.stringify(r.fleet.connectErrorsByCode)}` : null,
      ref ? `${ref.fleet.connectErrors} ${JSON.stringify(ref.fleet.connectErrorsByCode)}` : null,
    ]),
    row(['connect latency p50 / p99 / max ms', lat(r?.connectLatency), lat(ref?.connectLatency)]),
    row(['telemetry msgs/s (avg)', r?.msgsPerS, ref?.msgsPerS]),
    row(['probe PUBACK (CO-corrected) p50 / p99 / max ms', lat(r?.probeLatency), lat(ref?.probeLatency)]),
    row(['status PUBACK p50 / p99 / max ms', lat(r?.ackLatency), lat(ref?.ackLatency)]),
    row(['alarm → station page p50 / p99 / max ms', lat(r?.audit.stationLatency), 'n/a (no paging)']),
    row([
      'alarm → dashboard page',
      r?.dashboard
        ? r.dashboard.state === 'connected' || r.dashboard.state === 'closed'
          ? lat(r.audit.dashboardLatency ?? undefined)
          : `${r.dashboard.state}: ${r.dashboard.detail}`
        : 'off',
      'n/a',
    ]),
    row([
      'alarms sent / never paged / duplicates',
      r ? `${r.audit.alarmsSent} / ${r.audit.neverPaged} / ${r.audit.duplicates}` : null,
      'n/a',
    ]),
    row(['escalated incidents', r ? `${r.audit.escalated} of ${r.audit.incidents.length}` : null, 'n/a']),
    row(['simulator scheduler lag p99 ms', r?.schedulerLag.p99Ms, ref?.schedulerLag.p99Ms]),
    '',
    '| process | CPU avg % | CPU max % | RSS max MB | RSS end MB |',
    '| --- | --- | --- | --- | --- |',
    ...[...res, ...refRes].map((x) => row([x.name, x.cpuAvgPct, x.cpuMaxPct, x.rssMaxMb, x.rssEndMb])),
    '',
    'Checks:',
    '',
    ...(r?.checks.map((c) => `- ${c.ok ? 'ok' : 'FAILED'}: ${c.name} — ${c.detail}`) ?? []),
    '',
    'Escalations:',
    '',
    ...(r?.audit.incidents.map(
      (i) =>
        `- ${i.incidentId} (${i.buildingId}): ${i.steps.map((s) => `step ${s.step} ${s.stationId} +${(s.afterMs / 1000).toFixed(1)} s`).join(' → ')}`,
    ) ?? []),
    '',
    'Timeline:',
    '',
    ...(r?.timeline.map((t) => `- ${t.atS.toFixed(1)} s: ${t.text}`) ?? []),
    '',
    'Charts: `latency.svg` (latency by percentile), `resources.svg` (CPU and RSS over time), `connections.svg`.',
  ];
  writeFileSync(join(outDir, 'report.md'), md.join('\n') + '\n');
  writeFileSync(
    join(outDir, 'report.json'),
    JSON.stringify(
      {
        hub: r,
        hubResources: hubRun.resources,
        reference: ref,
        referenceResources: refRun?.resources ?? null,
      },
      null,
      2,
    ),
  );
  const curves = [
    ...(r && r.stationLatencyCurve.length > 0
      ? [{ label: 'hub: alarm → station page', curve: r.stationLatencyCurve }]
      : []),
    ...(r && r.dashboardLatencyCurve.length > 0
      ? [{ label: 'hub: alarm → dashboard page', curve: r.dashboardLatencyCurve }]
      : []),
    ...(r?.probeCurve?.length ? [{ label: 'hub: probe PUBACK (CO-corrected)', curve: r.probeCurve }] : []),
    ...(ref?.probeCurve?.length
      ? [{ label: 'Mosquitto: probe PUBACK (CO-corrected)', curve: ref.probeCurve }]
      : []),
  ];
  writeFileSync(
    join(outDir, 'latency.svg'),
    percentileChart(`${scenario} at ${scale} devices: latency by percentile`, curves),
  );
  const resLines = [...hubRun.resources, ...(refRun?.resources ?? [])].flatMap((s) => [
    { label: `${s.name} CPU %`, points: s.samples.map((x) => ({ x: x.t, y: x.cpuPct })) },
  ]);
  const memLines = [...hubRun.resources, ...(refRun?.resources ?? [])].map((s) => ({
    label: `${s.name} RSS MB`,
    points: s.samples.map((x) => ({ x: x.t, y: x.rssMb })),
  }));
  writeFileSync(join(outDir, 'resources.svg'), timeChart('CPU % of one core', resLines, 'CPU %') + '\n');
  writeFileSync(join(outDir, 'memory.svg'), timeChart('resident memory', memLines, 'MB') + '\n');
  const connLines = [
    ...(r ? [{ label: 'hub: connected', points: r.series.map((p) => ({ x: p.t, y: p.connected })) }] : []),
    ...(ref
      ? [{ label: 'Mosquitto: connected', points: ref.series.map((p) => ({ x: p.t, y: p.connected })) }]
      : []),
  ];
  writeFileSync(
    join(outDir, 'connections.svg'),
    timeChart('connections held', connLines, 'connections') + '\n',
  );
  console.log(md.join('\n'));
  console.log(`\nbench: report in ${outDir}`);
} catch (err) {
  console.error(`bench: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
