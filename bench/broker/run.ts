/**
 * Broker benchmark: our broker (aedes + hub hooks, real registry in a private Redis
 * with AOF, real durable writes before PUBACK) against Debian's Mosquitto, driven in
 * the same run by the same load generator (load.ts) with 1,000+ device connections.
 *
 *   flock /tmp/heavy.lock npx tsx bench/broker/run.ts [--devices 1000] [--phase-s 8] [--steady 8000] [--max-rate 150000] [--qos1-window 1]
 *
 * Phases, for each broker in turn (each `--phase-s` long, first second not measured):
 *   qos1-closed   every device publishes a QoS 1 event (`test`, other lane) and the next
 *                 only after its PUBACK: sustained QoS 1 ingress. On the hub every one is
 *                 an XADD in Redis before the PUBACK; Mosquitto keeps nothing.
 *   qos0-max      QoS 0 telemetry (~200 B) offered at `--max-rate` msg/s (more than either
 *                 broker takes here): what reaches the telemetry subscriber per second is
 *                 the sustained QoS 0 throughput.
 *   qos0-steady   QoS 0 telemetry at a fixed `--steady` msg/s (below both capacities).
 *   overload-3x   QoS 0 telemetry offered at 3x the hub's qos0-max delivered rate.
 * In every phase one more device publishes a QoS 1 alarm every 20 ms from a probe process
 * of its own (alarm-probe.ts), where a subscriber on that device's event topic receives
 * it: alarm latency = send → PUBACK and send → delivery (both ends
 * in that process, performance.now()). CPU of each broker process (and of Redis for
 * the hub) comes from /proc/<pid>/stat, divided by the messages of the phase.
 *
 * Ports: free ports chosen by the kernel (bind to port 0, then release), all on
 * 127.0.0.1. Everything started here is stopped here.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePorts } from '@hub/deploy';
import { hubKeys } from '@hub/protocol';
import { demoDeviceSecret, generateDemoTownship, RegistryStore } from '@hub/registry';
import { Redis } from 'ioredis';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { type Conn, type Credentials, connectAll, percentile } from './load.js';
import { privateRedisArgs } from './private-redis.js';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' },
    'phase-s': { type: 'string', default: '8' },
    steady: { type: 'string', default: '8000' },
    'max-rate': { type: 'string', default: '150000' },
    only: { type: 'string' },
    'hub-node-args': { type: 'string' },
    phases: { type: 'string', default: 'qos1,max,steady,overload' },
    'qos1-window': { type: 'string', default: '1' },
  },
});
const N_DEVICES = Number(args.devices);
const PHASE_MS = Math.min(20, Number(args['phase-s'])) * 1000;
const WARMUP_MS = 1000;
const STEADY_RATE = Number(args.steady);
const MAX_RATE = Number(args['max-rate']);
const ALARM_EVERY_MS = 20;
/** QoS 1 events each device keeps in flight in the closed loop (1: the next one only after the PUBACK). */
const QOS1_WINDOW = Math.max(1, Number(args['qos1-window']));
/** Which phases run (e.g. `--phases qos1` to profile one of them alone). */
const PHASES = new Set((args.phases as string).split(','));
const SEED = 'bench';
const SVC = 'svc';
/** Free ports picked by the kernel (port 0), filled in at start. */
const PORTS = { redis: 0, hub: 0, hubHttp: 0, mosquitto: 0 };
const ROOT = resolve(import.meta.dirname, '../..');
const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64
const RUN = Date.now().toString(36);

const TELEMETRY = JSON.stringify({
  v: 1,
  id: 't',
  ts: 1_764_600_000_000,
  seq: 1,
  kind: 'smoke',
  smoke: 0.012,
  temp: 23.5,
  battery: 87,
  rsrp: -95,
  snr: 12,
  pad: 'x'.repeat(80),
});

const children: ChildProcess[] = [];
function stopAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', stopAll);
process.on('SIGINT', () => process.exit(130));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuTicks(pid: number): number {
  const t = cpuSplit(pid);
  return t.user + t.system;
}

/** utime and stime (fields 14, 15 of /proc/<pid>/stat), in clock ticks. */
function cpuSplit(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]), system: Number(f[12]) };
}

/** Idle and total clock ticks of the whole machine (first line of /proc/stat; idle + iowait). */
function machineTicks(): { idle: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { idle: (f[3] ?? 0) + (f[4] ?? 0), total };
}

async function waitPort(port: number, what: string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port}`);
    await sleep(100);
  }
}

function start(
  cmd: string,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess & { tail: string[] } {
  const c = spawn(cmd, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & {
    tail: string[];
  };
  c.tail = [];
  const keep = (b: Buffer) => {
    c.tail.push(b.toString());
    if (process.env.BENCH_CHILD_LOG) appendFileSync(process.env.BENCH_CHILD_LOG, b);
    if (c.tail.length > 40) c.tail.shift();
  };
  c.stdout?.on('data', keep);
  c.stderr?.on('data', keep);
  children.push(c);
  return c;
}

interface Target {
  name: 'hub' | 'mosquitto';
  port: number;
  proc: ChildProcess & { tail: string[] };
  device(id: string): Credentials;
  service(name: string, suffix: string): Credentials;
  extraCpuPid?: number;
  metrics?: () => Promise<string>;
}

interface PhaseResult {
  broker: string;
  phase: string;
  offeredPerS: number;
  ingressPerS: number;
  deliveredPerS: number;
  brokerCpuUsPerMsg: number;
  /** Share of the broker's CPU time spent in the kernel (stime / (utime + stime)). */
  brokerKernelShare: number;
  redisCpuUsPerMsg?: number;
  /**
   * The load generator (this process: device sockets and the subscribers) per ingress
   * message, and how much of one core it used: near 1 the generator, not the broker, set
   * the rate.
   */
  generatorCpuUsPerMsg: number;
  generatorCores: number;
  /** Share of the machine's CPU time (all cores) left idle during the phase. */
  machineIdle: number;
  alarmsSent: number;
  alarmsReceived: number;
  /** send → PUBACK at the alarm device (on the hub: durable in Redis). */
  alarmAckP50Ms: number;
  alarmAckP99Ms: number;
  /** send → delivery at the probe's subscriber. */
  alarmP50Ms: number;
  alarmP99Ms: number;
  alarmMaxMs: number;
  shed?: number;
  alive: boolean;
}

function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && (line[name.length] === '{' || line[name.length] === ' ')) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

async function runTarget(t: Target, deviceIds: string[], alarmId: string, overloadRate: () => number) {
  const results: PhaseResult[] = [];
  const devices = await connectAll(
    t.port,
    deviceIds.map((id) => t.device(id)),
  );
  const [teleSub, eventSub] = await connectAll(t.port, [
    t.service('hub-ingest', 'bench'),
    t.service('hub-alerts', 'bench'),
  ]);
  if (!teleSub || !eventSub) throw new Error('subscribers did not connect');
  const probe = await startProbe(t.port, t.device(alarmId), t.service('hub-alerts', 'probe'));
  teleSub.subscribe('v1/dev/+/telemetry', 0);
  eventSub.subscribe('v1/dev/+/event', 1);
  await sleep(300);

  let teleRecv = 0;
  let eventRecv = 0;
  let acks = 0;
  let sent = 0;
  const alarmTopic = `v1/dev/${alarmId}/event`;
  teleSub.onPacket = (p) => {
    if (p.cmd === 'publish') teleRecv++;
  };
  eventSub.onPacket = (p: Packet) => {
    if (p.cmd !== 'publish') return;
    const pub = p as { topic: string; payload: Buffer; messageId?: number; qos: number };
    if (pub.qos > 0 && pub.messageId !== undefined) eventSub.puback(pub.messageId);
    if (pub.topic !== alarmTopic) eventRecv++;
  };
  let mode: 'idle' | 'qos1' = 'idle';
  let seq = 0;
  const eventPayload = (n: number) =>
    `{"v":1,"id":"e${RUN}-${n}","ts":${Date.now()},"seq":${n & 0xffff},"type":"test"}`;
  for (const d of devices) {
    d.onPacket = (p) => {
      if (p.cmd !== 'puback') return;
      d.inflight--;
      acks++;
      if (mode === 'qos1') {
        sent++;
        d.publish(`v1/dev/${d.creds.clientId}/event`, eventPayload(++seq), 1);
      }
    };
  }

  // Open-loop telemetry: each device's frame is encoded once, and a device sends its
  // share of a tick in one write (up to BURST frames); a device whose socket already
  // holds 64 KiB drops its share (counted out of "offered"). Encoding every message with
  // mqtt-packet capped this generator near 60k msg/s on this machine, below 3x the
  // hub's capacity; both brokers get exactly the same bytes either way.
  const BURST = 64;
  const teleBursts = devices.map((d) => {
    const one = mqttPacket.generate({
      cmd: 'publish',
      topic: `v1/dev/${d.creds.clientId}/telemetry`,
      payload: TELEMETRY,
      qos: 0,
      retain: false,
      dup: false,
    });
    return { one: one.length, frames: Buffer.concat(Array.from({ length: BURST }, () => one)) };
  });
  const owed = new Uint32Array(devices.length);
  let rr = 0;
  function sendTelemetry(n: number): void {
    for (let i = 0; i < n; i++) {
      const k = rr++ % devices.length;
      owed[k] = (owed[k] as number) + 1;
    }
    for (let k = 0; k < devices.length; k++) {
      let c = owed[k] as number;
      if (c === 0) continue;
      owed[k] = 0;
      const b = teleBursts[k] as { one: number; frames: Buffer };
      while (c > 0) {
        const m = Math.min(c, BURST);
        if ((devices[k] as Conn).writeRaw(b.frames.subarray(0, m * b.one))) sent += m;
        c -= m;
      }
    }
  }

  async function phase(name: string, body: { start(): void; stop(): void; offered?: () => number }) {
    teleRecv = 0;
    eventRecv = 0;
    acks = 0;
    sent = 0;
    body.start();
    // BENCH_WATCH=1: the hub's lag and ingress queues every 500 ms during the phase.
    const watch =
      process.env.BENCH_WATCH && t.metrics
        ? setInterval(() => {
            t.metrics?.()
              .then((m) => {
                const pick = m
                  .split('\n')
                  .filter((l) =>
                    /^hub_broker_(event_loop_lag|ingress_queued|routing_queue|shed_total)/.test(l),
                  );
                console.log(`  watch ${pick.map((l) => l.replace('hub_broker_', '')).join(' ')}`);
              })
              .catch(() => undefined);
          }, 500)
        : null;
    await sleep(WARMUP_MS);
    probe.start();
    const c0 = { tele: teleRecv, ev: eventRecv, acks, sent };
    const split0 = cpuSplit(t.proc.pid as number);
    const cpu0 = split0.user + split0.system;
    const redis0 = t.extraCpuPid ? cpuTicks(t.extraCpuPid) : 0;
    const shed0 = t.metrics ? metricSum(await t.metrics(), 'hub_broker_shed_total') : 0;
    const gen0 = process.cpuUsage();
    const m0 = machineTicks();
    const t0 = performance.now();
    await sleep(PHASE_MS - WARMUP_MS);
    const secs = (performance.now() - t0) / 1000;
    const gen = process.cpuUsage(gen0);
    const m1 = machineTicks();
    let alive = t.proc.exitCode === null && t.proc.signalCode === null;
    const split1 = alive ? cpuSplit(t.proc.pid as number) : split0;
    const cpu1 = split1.user + split1.system;
    const redis1 = t.extraCpuPid ? cpuTicks(t.extraCpuPid) : 0;
    const c1 = { tele: teleRecv, ev: eventRecv, acks, sent };
    if (watch) clearInterval(watch);
    const probed = probe.stop(); // answers after 1.5 s: the last alarms may arrive late
    body.stop();
    const { ack, delivery, sent: alarmsSent } = await probed;
    alive = t.proc.exitCode === null && t.proc.signalCode === null;
    const metricsText = t.metrics && alive ? await t.metrics() : '';
    const shed1 = t.metrics && alive ? metricSum(metricsText, 'hub_broker_shed_total') : shed0;
    if (process.env.BENCH_METRICS) {
      const wanted = process.env.BENCH_METRICS.split(',');
      for (const line of metricsText.split('\n'))
        if (!line.startsWith('#') && wanted.some((w) => line.startsWith(w))) console.log(`  ${line}`);
    }
    const isQos1 = name.startsWith('qos1');
    const ingress = isQos1 ? c1.acks - c0.acks : c1.tele - c0.tele;
    const sorted = delivery.slice().sort((a, b) => a - b);
    const acked = ack.slice().sort((a, b) => a - b);
    const r: PhaseResult = {
      broker: t.name,
      phase: name,
      offeredPerS: Math.round((c1.sent - c0.sent) / secs),
      ingressPerS: Math.round(ingress / secs),
      deliveredPerS: Math.round((isQos1 ? c1.ev - c0.ev : c1.tele - c0.tele) / secs),
      brokerCpuUsPerMsg:
        ingress > 0 ? Math.round((((cpu1 - cpu0) * 1e6) / CLK_TCK / ingress) * 10) / 10 : Number.NaN,
      brokerKernelShare:
        cpu1 > cpu0 ? Math.round(((split1.system - split0.system) / (cpu1 - cpu0)) * 100) / 100 : Number.NaN,
      generatorCpuUsPerMsg:
        ingress > 0 ? Math.round(((gen.user + gen.system) / ingress) * 10) / 10 : Number.NaN,
      generatorCores: Math.round(((gen.user + gen.system) / 1e6 / secs) * 100) / 100,
      machineIdle: Math.round(((m1.idle - m0.idle) / Math.max(1, m1.total - m0.total)) * 100) / 100,
      alarmsSent,
      alarmsReceived: delivery.length,
      alarmAckP50Ms: Math.round(percentile(acked, 50) * 10) / 10,
      alarmAckP99Ms: Math.round(percentile(acked, 99) * 10) / 10,
      alarmP50Ms: Math.round(percentile(sorted, 50) * 10) / 10,
      alarmP99Ms: Math.round(percentile(sorted, 99) * 10) / 10,
      alarmMaxMs: Math.round((sorted[sorted.length - 1] ?? Number.NaN) * 10) / 10,
      alive,
    };
    if (t.extraCpuPid && ingress > 0)
      r.redisCpuUsPerMsg = Math.round((((redis1 - redis0) * 1e6) / CLK_TCK / ingress) * 10) / 10;
    if (t.metrics) r.shed = shed1 - shed0;
    results.push(r);
    console.log(JSON.stringify(r));
    // Drain between phases: what the sockets still hold (in the generator and in the
    // kernel on both sides, megabytes per connection on loopback) is delivered before
    // the next phase starts, so it is not counted there. Done when the telemetry
    // subscriber got nothing for 500 ms (at most 60 s).
    const drainUntil = Date.now() + 60_000;
    let last = -1;
    while (Date.now() < drainUntil) {
      const now = teleRecv + eventRecv;
      if (now === last && devices.every((d) => d.queuedBytes === 0)) break;
      last = now;
      await sleep(500);
    }
    await sleep(500);
    return r;
  }

  if (PHASES.has('qos1'))
    await phase(QOS1_WINDOW === 1 ? 'qos1-closed' : `qos1-closed-w${QOS1_WINDOW}`, {
      start() {
        mode = 'qos1';
        // QOS1_WINDOW events in flight per device; each PUBACK sends the next one.
        for (let w = 0; w < QOS1_WINDOW; w++)
          for (const d of devices) {
            sent++;
            d.publish(`v1/dev/${d.creds.clientId}/event`, eventPayload(++seq), 1);
          }
      },
      stop() {
        mode = 'idle';
      },
    });

  function openLoop(rate: number) {
    let timer: NodeJS.Timeout | null = null;
    return {
      start() {
        const t0 = performance.now();
        // Readings handed to sendTelemetry, written or dropped: the schedule, not the result.
        let attempted = 0;
        timer = setInterval(() => {
          const due = Math.floor(((performance.now() - t0) / 1000) * rate) - attempted;
          // At most 4 ticks' worth at once: a generator that fell behind does not burst.
          if (due > 0) {
            const n = Math.min(due, Math.ceil(rate / 25));
            attempted += n;
            sendTelemetry(n);
          }
        }, 10);
      },
      stop() {
        if (timer) clearInterval(timer);
      },
    };
  }
  const q0 = PHASES.has('max') ? await phase(`qos0-max-${MAX_RATE}`, openLoop(MAX_RATE)) : null;
  if (PHASES.has('steady')) await phase(`qos0-steady-${STEADY_RATE}`, openLoop(STEADY_RATE));
  const rate = overloadRate() || (q0?.deliveredPerS ?? 0) * 3 || MAX_RATE;
  if (PHASES.has('overload')) await phase(`overload-3x-${rate}`, openLoop(rate));

  for (const c of [...devices, teleSub, eventSub]) c.end();
  probe.exit();
  return { results, q0Rate: q0?.deliveredPerS ?? 0 };
}

interface ProbeReport {
  ack: number[];
  delivery: number[];
  sent: number;
}

/** The alarm probe (alarm-probe.ts) in its own process: the generator's load does not delay it. */
async function startProbe(port: number, device: Credentials, subscriber: Credentials) {
  const child = fork(
    join(import.meta.dirname, 'alarm-probe.ts'),
    [JSON.stringify({ port, device, subscriber, everyMs: ALARM_EVERY_MS, run: RUN })],
    { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`alarm probe exited with ${code}`)));
  });
  return {
    start: () => child.send({ cmd: 'start' }),
    stop: () =>
      new Promise<ProbeReport>((resolve) => {
        child.once('message', (m) => resolve(m as ProbeReport));
        child.send({ cmd: 'stop' });
      }),
    exit: () => child.send({ cmd: 'exit' }),
  };
}

async function main() {
  const free = await freePorts(4);
  [PORTS.redis, PORTS.hub, PORTS.hubHttp, PORTS.mosquitto] = free as [number, number, number, number];
  const dir = mkdtempSync(join(tmpdir(), 'broker-bench-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    // A private Redis with AOF, as the hub runs it.
    const redisProc = start('redis-server', privateRedisArgs(PORTS.redis, dir));
    await waitPort(PORTS.redis, 'redis');
    const redisUrl = `redis://127.0.0.1:${PORTS.redis}`;
    const redis = new Redis(redisUrl);
    const keys = hubKeys('bench');
    const demo = generateDemoTownship({
      seed: SEED,
      buildings: 300,
      devices: N_DEVICES + 10,
      stations: 4,
      serviceSecret: SVC,
    });
    await new RegistryStore(redis, keys).replaceAll(demo);
    const snapshot = await new RegistryStore(redis, keys).load();
    const ids = [...snapshot.devices.keys()].sort();
    const deviceIds = ids.slice(0, N_DEVICES);
    const alarmId = ids[N_DEVICES] as string;
    console.log(
      `registry: ${snapshot.devices.size} devices in a private Redis on ${PORTS.redis}; ${N_DEVICES} device connections per broker`,
    );

    const all: PhaseResult[] = [];
    let hubQ0 = 0;
    if (args.only !== 'mosquitto') {
      // --hub-node-args: extra node flags for the hub process (e.g. `--cpu-prof`).
      const nodeArgs = (args['hub-node-args'] ?? '').split(' ').filter((a) => a !== '');
      const hub = start(process.execPath, [...nodeArgs, '--import', 'tsx', 'broker/src/main.ts'], {
        ...process.env,
        HUB_REDIS_URL: redisUrl,
        HUB_KEY_PREFIX: 'bench',
        HUB_MQTT_PORT: String(PORTS.hub),
        HUB_BROKER_HTTP_PORT: String(PORTS.hubHttp),
        HUB_LOG_LEVEL: 'warn',
        // The generator opens all its connections from 127.0.0.1 at once.
        HUB_MQTT_CONN_RATE_PER_ADDRESS: '100000',
        HUB_MQTT_CONN_BURST_PER_ADDRESS: '100000',
      });
      await waitPort(PORTS.hub, 'hub broker');
      const target: Target = {
        name: 'hub',
        port: PORTS.hub,
        proc: hub,
        device: (id) => ({ clientId: id, username: id, password: demoDeviceSecret(SEED, id) }),
        service: (name, suffix) => ({ clientId: `${name}-${suffix}`, username: name, password: SVC }),
        extraCpuPid: redisProc.pid as number,
        metrics: async () => (await fetch(`http://127.0.0.1:${PORTS.hubHttp}/metrics`)).text(),
      };
      const { results, q0Rate } = await runTarget(target, deviceIds, alarmId, () => 0);
      hubQ0 = q0Rate;
      all.push(...results);
      const m = await target.metrics?.().catch(() => '');
      console.log(
        `hub durable writes ok: ${metricSum(m ?? '', 'hub_broker_durable_writes_total')}, rejections: ${metricSum(m ?? '', 'hub_broker_rejections_total')}`,
      );
      const exited = hub.exitCode !== null || hub.signalCode !== null;
      if (exited) console.log(`HUB BROKER DIED:\n${hub.tail.join('')}`);
      hub.kill('SIGTERM');
      await sleep(500);
    }
    if (args.only !== 'hub') {
      const conf = join(dir, 'mosquitto.conf');
      writeFileSync(
        conf,
        [
          `listener ${PORTS.mosquitto} 127.0.0.1`,
          'allow_anonymous true',
          'persistence false',
          'set_tcp_nodelay true',
          'max_queued_messages 100000',
          'log_dest stderr',
          'log_type error',
          '',
        ].join('\n'),
      );
      const mosq = start('mosquitto', ['-c', conf]);
      await waitPort(PORTS.mosquitto, 'mosquitto');
      const target: Target = {
        name: 'mosquitto',
        port: PORTS.mosquitto,
        proc: mosq,
        device: (id) => ({ clientId: id }),
        service: (name, suffix) => ({ clientId: `${name}-${suffix}` }),
      };
      const { results } = await runTarget(target, deviceIds, alarmId, () => hubQ0 * 3);
      all.push(...results);
      if (mosq.exitCode !== null || mosq.signalCode !== null)
        console.log(`MOSQUITTO DIED:\n${mosq.tail.join('')}`);
      mosq.kill('SIGTERM');
    }
    redis.disconnect();
    redisProc.kill('SIGTERM');
    await sleep(300);

    console.log(
      '\n| broker | phase | offered msg/s | ingress msg/s | delivered msg/s | broker CPU µs/msg | Redis CPU µs/msg | generator µs/msg (cores) | machine idle | alarms recv/sent | alarm PUBACK p50 / p99 ms | alarm delivery p50 ms | alarm delivery p99 ms | alarm delivery max ms | shed | alive |',
    );
    console.log(
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    );
    for (const r of all) {
      console.log(
        `| ${r.broker} | ${r.phase} | ${r.offeredPerS} | ${r.ingressPerS} | ${r.deliveredPerS} | ${r.brokerCpuUsPerMsg} | ${r.redisCpuUsPerMsg ?? '–'} | ${r.generatorCpuUsPerMsg} (${r.generatorCores}) | ${Math.round(r.machineIdle * 100)} % | ${r.alarmsReceived}/${r.alarmsSent} | ${r.alarmAckP50Ms} / ${r.alarmAckP99Ms} | ${r.alarmP50Ms} | ${r.alarmP99Ms} | ${r.alarmMaxMs} | ${r.shed ?? '–'} | ${r.alive ? 'yes' : 'NO'} |`,
      );
    }
  } finally {
    stopAll();
    cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    stopAll();
    process.exit(1);
  },
);
