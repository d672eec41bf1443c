/**
 * PUBACK latency of a device's QoS 1 event, fire lane (`alarm`) against other lane
 * (`test`), on the hub broker with a connected fleet and background telemetry.
 *
 *   npx tsx bench/broker/event-ack.ts [--devices 3000] [--seconds 15] [--telemetry 300] [--probe-ms 50] [--stall-ms 0]
 *
 * Starts a private redis-server (AOF everysec, port 0 → free port) loaded with a demo
 * registry, the hub broker as its own process (`broker/src/main.ts`), connects
 * `--devices` devices from this process plus a service subscriber on
 * `v1/dev/+/event` (QoS 1, acked, as alerts does), offers QoS 0 telemetry at
 * `--telemetry` msg/s spread over the fleet, and every `--probe-ms` sends one probe
 * event from the next device in rotation, alternating `test` and `alarm`; the probe
 * starts before the connect storm, as in a scenario run.
 *
 * Two latencies per probe: the real send → PUBACK (performance.now() in this process),
 * and due time → PUBACK with the due time advanced by the period on every setInterval
 * firing (the way bench/simulators' flood fleet corrects its probe for coordinated
 * omission). Node's setInterval schedules the next firing from the late one and never
 * catches up, so every stall of the generator's own loop is added to every later probe
 * of the second kind; `--stall-ms` blocks this process once, 2 s after the fleet is
 * connected, to show it. Everything started here is stopped here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePorts } from '@hub/deploy';
import { hubKeys } from '@hub/protocol';
import { demoDeviceSecret, generateDemoTownship, RegistryStore } from '@hub/registry';
import { Redis } from 'ioredis';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { type Conn, connectAll, percentile } from './load.js';
import { privateRedisArgs } from './private-redis.js';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '3000' },
    seconds: { type: 'string', default: '15' },
    telemetry: { type: 'string', default: '300' },
    'probe-ms': { type: 'string', default: '50' },
    'stall-ms': { type: 'string', default: '0' },
  },
});
const N = Number(args.devices);
const RUN_MS = Math.min(60, Number(args.seconds)) * 1000;
const TELEMETRY_RATE = Number(args.telemetry);
const PROBE_MS = Number(args['probe-ms']);
const STALL_MS = Number(args['stall-ms']);
const SEED = 'bench';
const SVC = 'svc';
const ROOT = resolve(import.meta.dirname, '../..');

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitHttp(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} not ready`);
    await sleep(100);
  }
}

function start(cmd: string, argv: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const c = spawn(cmd, argv, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(c);
  return c;
}

function summary(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (v: number) => v.toFixed(1);
  return `n=${s.length} p50 ${f(percentile(s, 50))} p90 ${f(percentile(s, 90))} p99 ${f(percentile(s, 99))} max ${f(percentile(s, 100))} ms`;
}

async function main(): Promise<void> {
  const [redisPort, mqttPort, httpPort] = (await freePorts(3)) as [number, number, number];
  const dir = mkdtempSync(join(tmpdir(), 'event-ack-'));
  try {
    start('redis-server', privateRedisArgs(redisPort, dir));
    const redis = new Redis(`redis://127.0.0.1:${redisPort}`, {
      retryStrategy: (n) => (n > 50 ? null : 100),
    });
    // Connection refused until redis-server listens: retried by retryStrategy, not an error.
    redis.on('error', () => undefined);
    await redis.ping();
    const keys = hubKeys('bench');
    const demo = generateDemoTownship({
      seed: SEED,
      buildings: 300,
      devices: N + 1,
      stations: 4,
      serviceSecret: SVC,
    });
    const store = new RegistryStore(redis, keys);
    await store.replaceAll(demo);
    const ids = [...(await store.load()).devices.keys()].sort().slice(0, N);

    start(process.execPath, ['--import', 'tsx', 'broker/src/main.ts'], {
      ...process.env,
      HUB_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      HUB_KEY_PREFIX: 'bench',
      HUB_MQTT_PORT: String(mqttPort),
      HUB_BROKER_HTTP_PORT: String(httpPort),
      HUB_LOG_LEVEL: 'warn',
      HUB_MQTT_CONN_RATE_PER_ADDRESS: '100000',
      HUB_MQTT_CONN_BURST_PER_ADDRESS: '100000',
    });
    await waitHttp(`http://127.0.0.1:${httpPort}/readyz`);

    const [sub] = await connectAll(mqttPort, [
      { clientId: 'hub-alerts-bench', username: 'hub-alerts', password: SVC },
    ]);
    if (sub === undefined) throw new Error('subscriber did not connect');
    sub.subscribe('v1/dev/+/event', 1);
    sub.onPacket = (p: Packet) => {
      const pub = p as { cmd: string; qos?: number; messageId?: number };
      if (pub.cmd === 'publish' && pub.qos === 1 && pub.messageId !== undefined) sub.puback(pub.messageId);
    };
    const creds = ids.map((id) => ({ clientId: id, username: id, password: demoDeviceSecret(SEED, id) }));
    /** Connected devices; filled while the connect storm runs (the probe already runs). */
    const devices: Conn[] = [];
    const lat: Record<'test' | 'alarm', number[]> = { test: [], alarm: [] };
    /** The simulator's way: from a due time that advances by the period (setInterval). */
    const fromDue: Record<'test' | 'alarm', number[]> = { test: [], alarm: [] };
    /** (device index, message id) → [type, sent at, due at]. */
    const pending = new Map<number, ['test' | 'alarm', number, number]>();
    const watch = (d: Conn, i: number) => {
      d.onPacket = (p: Packet) => {
        if (p.cmd !== 'puback') return;
        const k = i * 65_536 + (p.messageId ?? 0);
        const e = pending.get(k);
        if (e === undefined) return;
        pending.delete(k);
        const now = performance.now();
        lat[e[0]].push(now - e[1]);
        fromDue[e[0]].push(now - e[2]);
      };
    };

    let seq = 0;
    let cursor = 0;
    let teleCursor = 0;
    let due = performance.now() + PROBE_MS;
    const probe = setInterval(() => {
      const at = due;
      due += PROBE_MS;
      if (devices.length === 0) return;
      const i = cursor % devices.length;
      cursor = i + 1;
      const d = devices[i];
      if (d === undefined) return;
      const type = seq % 2 === 0 ? 'test' : 'alarm';
      seq++;
      const payload = JSON.stringify({ v: 1, id: `p${seq}-${Date.now()}`, ts: Date.now(), seq, type });
      const mid = d.msgId();
      pending.set(i * 65_536 + mid, [type, performance.now(), at]);
      d.socket.write(
        mqttPacket.generate({
          cmd: 'publish',
          topic: `v1/dev/${d.creds.clientId}/event`,
          payload,
          qos: 1,
          messageId: mid,
          retain: false,
          dup: false,
        }),
      );
    }, PROBE_MS);
    const teleEvery = 10;
    const perTick = Math.max(1, Math.round((TELEMETRY_RATE * teleEvery) / 1000));
    const tele = setInterval(() => {
      for (let k = 0; k < perTick && devices.length > 0; k++) {
        teleCursor = teleCursor % devices.length;
        const d = devices[teleCursor];
        teleCursor++;
        d?.publish(
          `v1/dev/${d.creds.clientId}/telemetry`,
          JSON.stringify({ v: 1, id: 't', ts: Date.now(), seq: 1, kind: 'smoke', smoke: 0.01, battery: 90 }),
          0,
        );
      }
    }, teleEvery);
    // The connect storm, 100 at a time, while the probe runs (as in a scenario run).
    for (let b = 0; b < creds.length; b += 100) {
      const group = await connectAll(mqttPort, creds.slice(b, b + 100));
      for (const d of group) {
        watch(d, devices.length);
        devices.push(d);
      }
    }
    console.log(
      `${devices.length} devices connected; telemetry ${TELEMETRY_RATE}/s, probe every ${PROBE_MS} ms`,
    );
    if (STALL_MS > 0) {
      // One stall of this generator's own event loop (as a GC pause or a connect
      // storm's burst of CONNACKs would cause), once the fleet is connected.
      // It starts 10 ms before a probe is due, so that probe's firing is late.
      await sleep(2_000);
      setTimeout(
        () => {
          const s = performance.now();
          while (performance.now() - s < STALL_MS);
        },
        Math.max(0, due - performance.now() - 10),
      );
    }
    await sleep(RUN_MS);
    clearInterval(probe);
    clearInterval(tele);
    await sleep(500);
    console.log('send → PUBACK:');
    console.log(`  test  (other lane): ${summary(lat.test)}`);
    console.log(`  alarm (fire lane):  ${summary(lat.alarm)}`);
    console.log('due time → PUBACK (due += period, as bench/simulators measures its probe):');
    console.log(`  test  (other lane): ${summary(fromDue.test)}`);
    console.log(`  alarm (fire lane):  ${summary(fromDue.alarm)}`);
    console.log(`unacked probes: ${pending.size}`);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    for (const line of metrics.split('\n'))
      if (
        /^hub_broker_(event_ack_path_seconds_(sum|count)|event_ack_path_seconds_bucket\{le="0\.(005|1)"|durable_writes_total)/.test(
          line,
        )
      )
        console.log(line);
    for (const d of devices) d.end();
    sub.end();
    await redis.quit();
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
