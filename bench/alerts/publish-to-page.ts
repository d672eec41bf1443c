/**
 * bench/alerts: publish → page latency through the real hub processes, with 10,000
 * connected devices sending background telemetry.
 *
 *   flock /tmp/heavy.lock npx tsx bench/alerts/publish-to-page.ts
 *
 * What runs (all on 127.0.0.1, bounded in time, stops by itself):
 * - a private redis-server (AOF everysec, noeviction) on a port of alerts' range;
 * - the real broker (broker/src/main.ts) and alerts (alerts/src/main.ts) processes;
 * - this loader: 10,000 demo devices over raw MQTT (mqtt-packet on net.Socket), each
 *   sending QoS 0 telemetry every TELEMETRY_PERIOD_MS; a station-side subscriber
 *   (service account) on v1/station/+/page; a reference subscriber on 20 probe
 *   devices' telemetry.
 * Measured (performance.now() in this one process, so publish and receive share a clock):
 * - single alarms: one building at a time, publish of the alarm → step-1 page received;
 * - fire bursts: every detector (2 per floor) of a 20-floor building alarms within 2 s;
 *   first alarm's publish → step-1 page, and an alarm elsewhere during the burst;
 * - escalation lateness: step-2 page received − step-1 acceptBy (timer due time),
 *   which bounds the timer's lateness from above (it includes deciding and sending);
 *   plus alerts' own hub_alerts_timer_lateness_seconds histogram;
 * - reference: device → broker → subscriber QoS 0 telemetry latency in the same run.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Device, hubKeys, type PageMessage } from '@hub/protocol';
import { demoDeviceSecret, demoSalt, generateDemoTownship, hashSecret, RegistryStore } from '@hub/registry';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { freePorts, REPO_ROOT, startService, waitForHttp } from '../../deploy/src/hub-processes.js';

const SEED = 'bench-alerts';
const SECRET = 'bench-alerts-service-secret';
const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const TELEMETRY_PERIOD_MS = Number(process.env.BENCH_TELEMETRY_PERIOD_MS ?? 30_000);
const SINGLES = Number(process.env.BENCH_SINGLES ?? 200);
const BURSTS = Number(process.env.BENCH_BURSTS ?? 10);
/**
 * Step-1 accept timeout of the base ladder (rental ×0.75, elderly ×0.5 by default):
 * long enough that the singles are all published before the first escalations,
 * which then run at a realistic rate (~10/s) during the bursts.
 */
const ACCEPT_MS = Number(process.env.BENCH_ACCEPT_MS ?? 20_000);
const REDIS_PORT = 41379;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const summary = (xs: number[]) =>
  `n=${xs.length} p50=${pct(xs, 50).toFixed(1)} p90=${pct(xs, 90).toFixed(1)} p99=${pct(xs, 99).toFixed(1)} max=${Math.max(...xs).toFixed(1)} ms`;

async function main(): Promise<void> {
  const dir = join(REPO_ROOT, '.local', 'bench-alerts');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'redis.conf'),
    `port ${REDIS_PORT}\nbind 127.0.0.1\ndir ${dir}\nappendonly yes\nappendfsync everysec\nmaxmemory-policy noeviction\nsave ""\n`,
  );
  const redisProc = spawn('redis-server', [join(dir, 'redis.conf')], { stdio: 'ignore' });
  cleanups.push(() => redisProc.kill('SIGTERM'));
  const redisUrl = `redis://127.0.0.1:${REDIS_PORT}`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  for (let i = 0; i < 50; i++) {
    try {
      await redis.ping();
      break;
    } catch {
      await sleep(100);
    }
  }
  const keys = hubKeys('bench');

  // Demo township, plus BURSTS buildings turned into 20-floor blocks with 2 detectors a floor.
  const data = generateDemoTownship({
    seed: SEED,
    buildings: 2_000,
    devices: DEVICES,
    stations: 12,
    serviceSecret: SECRET,
  });
  const burstBuildings = data.buildings.slice(0, BURSTS).map((b) => ({ ...b, floors: 20 }));
  data.buildings.splice(0, BURSTS, ...burstBuildings);
  const burstDevices = new Map<string, Device[]>();
  for (const b of burstBuildings) {
    const list: Device[] = [];
    for (let f = 1; f <= 20; f++) {
      for (let k = 1; k <= 2; k++) {
        const id = `bd-${b.id}-${f}-${k}`;
        const salt = demoSalt(SEED, id);
        list.push({
          id,
          kind: 'smoke',
          model: 'NB-SD01',
          buildingId: b.id,
          floor: f,
          room: `${f}0${k}`,
          secretHash: hashSecret(demoDeviceSecret(SEED, id), salt),
          salt,
          maintenance: false,
        });
      }
    }
    burstDevices.set(b.id, list);
    data.devices.push(...list);
  }
  await new RegistryStore(redis, keys).replaceAll(data);

  const [mqttPort, brokerHttp, alertsHttp] = (await freePorts(3)) as [number, number, number];
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HUB_REDIS_URL: redisUrl,
    HUB_KEY_PREFIX: keys.prefix,
    HUB_SERVICE_SECRET: SECRET,
    HUB_MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`,
    HUB_MQTT_HOST: '127.0.0.1',
    HUB_MQTT_PORT: String(mqttPort),
    HUB_BROKER_HTTP_PORT: String(brokerHttp),
    HUB_ALERTS_HTTP_PORT: String(alertsHttp),
    HUB_ACCEPT_TIMEOUT_MS: String(ACCEPT_MS),
    HUB_FIRE_OFFICE_TIMEOUT_MS: String(ACCEPT_MS),
    HUB_LOG_LEVEL: 'warn',
    // The broker's connection-rate limits guard against reconnect storms from one
    // address; this loader connects 10,000 devices from 127.0.0.1 on purpose.
    HUB_MQTT_CONN_RATE_PER_ADDRESS: '100000',
    HUB_MQTT_CONN_BURST_PER_ADDRESS: '100000',
    HUB_MQTT_CONN_RATE_GLOBAL: '100000',
    HUB_MQTT_CONN_BURST_GLOBAL: '100000',
  };
  const broker = startService('broker', 'broker/src/main.ts', env, dir);
  cleanups.push(() => void broker.kill9());
  await waitForHttp(`http://127.0.0.1:${brokerHttp}/readyz`, 60_000, broker);
  const alerts = startService('alerts', 'alerts/src/main.ts', env, dir);
  cleanups.push(() => void alerts.kill9());
  await waitForHttp(`http://127.0.0.1:${alertsHttp}/readyz`, 60_000, alerts);

  // Station side and reference subscriber.
  const pageAt = new Map<string, { t: number; page: PageMessage }>();
  const station = await mqtt.connectAsync(env.HUB_MQTT_URL, {
    protocolVersion: 4,
    username: 'hub-dashboard',
    password: SECRET,
    clientId: 'hub-dashboard-bench',
  });
  (station.stream as Socket).setNoDelay(true);
  station.on('message', (_t, payload) => {
    const t = performance.now();
    const page = JSON.parse(payload.toString()) as PageMessage;
    if (!pageAt.has(page.pageId)) pageAt.set(page.pageId, { t, page });
  });
  await station.subscribeAsync('v1/station/+/page', { qos: 1 });
  const probeIds = data.devices.slice(100, 120).map((d) => d.id);
  const refLat: number[] = [];
  const ref = await mqtt.connectAsync(env.HUB_MQTT_URL, {
    protocolVersion: 4,
    username: 'hub-ingest',
    password: SECRET,
    clientId: 'hub-ingest-benchref',
  });
  (ref.stream as Socket).setNoDelay(true);
  ref.on('message', (_t, payload) => {
    const m = JSON.parse(payload.toString()) as { sentAt?: number };
    if (m.sentAt !== undefined) refLat.push(performance.now() - m.sentAt);
  });
  for (const id of probeIds) await ref.subscribeAsync(`v1/dev/${id}/telemetry`, { qos: 0 });

  // 10,000 (+ burst) devices over raw MQTT.
  const socks = new Map<string, Socket>();
  let connacks = 0;
  const open = (d: Device) =>
    new Promise<void>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port: mqttPort, noDelay: true });
      // A CONNACK that never comes must not hang the run.
      const giveUp = setTimeout(resolve, 15_000);
      s.on('error', () => {
        clearTimeout(giveUp);
        resolve();
      });
      s.on('close', () => {
        clearTimeout(giveUp);
        resolve();
      });
      s.once('connect', () => {
        s.write(
          mqttPacket.generate({
            cmd: 'connect',
            protocolId: 'MQTT',
            protocolVersion: 4,
            clean: true,
            clientId: d.id,
            keepalive: 600,
            username: d.id,
            password: Buffer.from(demoDeviceSecret(SEED, d.id)),
          }),
        );
      });
      s.once('data', (b: Buffer) => {
        clearTimeout(giveUp);
        if (b[0] === 0x20 && b[3] === 0) connacks++;
        s.on('data', () => undefined);
        resolve();
      });
      socks.set(d.id, s);
    });
  const t0 = performance.now();
  const cpu0 = {
    broker: cpuSeconds(broker.child.pid),
    alerts: cpuSeconds(alerts.child.pid),
    redis: cpuSeconds(redisProc.pid),
    loader: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
  };
  const tMeasure = performance.now();
  const all = data.devices;
  for (let i = 0; i < all.length; i += 250) {
    await Promise.all(all.slice(i, i + 250).map(open));
    if (i % 2_000 === 0) console.log(`  ${i + 250} connecting, ${connacks} accepted`);
  }
  console.log(
    `connected ${connacks}/${all.length} devices in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  // Background telemetry, spread evenly over the period.
  const fleet = data.devices.filter((d) => !d.id.startsWith('bd-')).slice(0, DEVICES);
  let telemetrySent = 0;
  let running = true;
  const interval = TELEMETRY_PERIOD_MS / fleet.length;
  const telemetry = (async () => {
    let i = 0;
    let next = performance.now();
    while (running) {
      const now = performance.now();
      while (next <= now && running) {
        const d = fleet[i % fleet.length]!;
        i++;
        next += interval;
        const s = socks.get(d.id);
        if (s === undefined || s.destroyed) continue;
        const body = JSON.stringify({
          v: 1,
          id: `t${i}`,
          ts: Date.now(),
          seq: i % 0xffffffff,
          kind: 'smoke',
          smoke: 0.2,
          tempC: 24,
          battery: 90,
          sentAt: performance.now(),
        });
        s.write(
          mqttPacket.generate({
            cmd: 'publish',
            topic: `v1/dev/${d.id}/telemetry`,
            payload: body,
            qos: 0,
            retain: false,
            dup: false,
          }),
        );
        telemetrySent++;
      }
      await sleep(5);
    }
  })();
  await sleep(5_000);

  let mid = 1;
  const alarm = (d: Device): number => {
    const t = performance.now();
    const body = JSON.stringify({ v: 1, id: `a${mid}`, ts: Date.now(), seq: mid, type: 'alarm', value: 12 });
    socks.get(d.id)?.write(
      mqttPacket.generate({
        cmd: 'publish',
        topic: `v1/dev/${d.id}/event`,
        payload: body,
        qos: 1,
        messageId: (mid++ % 65000) + 1,
        retain: false,
        dup: false,
      }),
    );
    return t;
  };
  const firstPageOf = (deviceId: string): { t: number; page: PageMessage } | undefined => {
    for (const v of pageAt.values()) if (v.page.step === 1 && v.page.deviceIds[0] === deviceId) return v;
    return undefined;
  };

  // Single alarms, one building at a time, from smoke detectors of distinct buildings.
  const usedBuildings = new Set(burstBuildings.map((b) => b.id));
  const singles: Device[] = [];
  for (const d of fleet) {
    if (d.kind !== 'smoke' || usedBuildings.has(d.buildingId)) continue;
    usedBuildings.add(d.buildingId);
    singles.push(d);
    if (singles.length >= SINGLES + BURSTS) break;
  }
  const singleSent = new Map<string, number>();
  for (const d of singles.slice(0, SINGLES)) {
    singleSent.set(d.id, alarm(d));
    await sleep(100);
  }

  // Fire bursts: every detector of a 20-floor building within 2 s; one alarm elsewhere mid-burst.
  const burstFirst: { deviceId: string; t: number }[] = [];
  const duringBurst = new Map<string, number>();
  for (const [bi, b] of burstBuildings.entries()) {
    const list = burstDevices.get(b.id)!;
    const offsets = list.map(() => Math.random() * 2_000).sort((a, c) => a - c);
    const start = performance.now();
    let first: { deviceId: string; t: number } | null = null;
    let elsewhereDone = false;
    for (let k = 0; k < list.length; k++) {
      const wait = start + offsets[k]! - performance.now();
      if (wait > 0) await sleep(wait);
      const t = alarm(list[k]!);
      if (first === null) first = { deviceId: list[k]!.id, t };
      if (!elsewhereDone && k >= list.length / 2) {
        const other = singles[SINGLES + bi]!;
        duringBurst.set(other.id, alarm(other));
        elsewhereDone = true;
      }
    }
    burstFirst.push(first!);
    await sleep(1_000);
  }

  // Escalations: wait for step-2 pages of the singles (accept timeout ACCEPT_MS, rental ×0.75 etc.).
  await sleep(ACCEPT_MS + 2_000);
  running = false;
  await telemetry;

  const singleLat: number[] = [];
  for (const [id, t] of singleSent) {
    const p = firstPageOf(id);
    if (p !== undefined) singleLat.push(p.t - t);
  }
  const burstLat: number[] = [];
  for (const f of burstFirst) {
    const p = firstPageOf(f.deviceId);
    if (p !== undefined) burstLat.push(p.t - f.t);
  }
  const otherLat: number[] = [];
  for (const [id, t] of duringBurst) {
    const p = firstPageOf(id);
    if (p !== undefined) otherLat.push(p.t - t);
  }
  // Step-2 page received − step-1 acceptBy (ms since the epoch, alerts' clock = this machine's).
  const lateness: number[] = [];
  const epochOffset = Date.now() - performance.now();
  const byIncident = new Map<string, PageMessage[]>();
  for (const v of pageAt.values()) {
    const l = byIncident.get(v.page.incidentId) ?? [];
    l.push(v.page);
    byIncident.set(v.page.incidentId, l);
  }
  for (const [, pages] of byIncident) {
    const s1 = pages.find((p) => p.step === 1);
    const s2 = pages.find((p) => p.step === 2);
    if (s1 === undefined || s2 === undefined) continue;
    const recv = pageAt.get(s2.pageId)!.t + epochOffset;
    lateness.push(recv - s1.acceptBy);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${alertsHttp}/metrics`)).text();
  const cpu = {
    broker: cpuSeconds(broker.child.pid) - cpu0.broker,
    alerts: cpuSeconds(alerts.child.pid) - cpu0.alerts,
    redis: cpuSeconds(redisProc.pid) - cpu0.redis,
    loader: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6 - cpu0.loader,
  };
  const wall = (performance.now() - tMeasure) / 1000;
  const pick = (re: RegExp) =>
    metrics
      .split('\n')
      .filter((l) => re.test(l))
      .join('\n');

  const report = [
    `devices connected: ${connacks}/${all.length}; telemetry sent: ${telemetrySent} (${(telemetrySent / ((performance.now() - t0) / 1000)) | 0}/s average incl. ramp)`,
    `single alarm publish → step-1 page: ${summary(singleLat)}`,
    `fire burst (40 detectors / 20 floors in 2 s) first publish → step-1 page: ${summary(burstLat)}`,
    `alarm elsewhere during a burst → step-1 page: ${summary(otherLat)}`,
    `escalation: step-2 page received − step-1 due time: ${summary(lateness)}`,
    `reference: device → broker → subscriber telemetry (QoS 0): ${summary(refLat)}`,
    '',
    `CPU over ${wall.toFixed(0)} s (cores busy): broker ${(cpu.broker / wall).toFixed(2)}, alerts ${(cpu.alerts / wall).toFixed(2)}, redis ${(cpu.redis / wall).toFixed(2)}, loader ${(cpu.loader / wall).toFixed(2)}; machine load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
    pick(/^nodejs_eventloop_lag_(p50|p99|max)_seconds/),
    pick(/^hub_alerts_timer_lateness_seconds_(bucket|count|sum)/),
    pick(/^hub_alerts_stage_latency_seconds_(count|sum)/),
  ].join('\n');
  console.log(report);
  writeFileSync(join(dir, 'last-report.txt'), report);

  for (const s of socks.values()) s.destroy();
  station.end(true);
  ref.end(true);
  await alerts.stop();
  await broker.stop();
  await redis.quit();
  redisProc.kill('SIGTERM');
}

/** utime + stime of a process, seconds (Linux /proc). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** Run on failure too, so no service is left running. */
const cleanups: (() => void)[] = [];

const hardStop = setTimeout(() => {
  console.error('bench: hard stop after 10 minutes');
  for (const c of cleanups) c();
  setTimeout(() => process.exit(2), 500);
}, 600_000);
hardStop.unref();
main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    for (const c of cleanups) c();
    setTimeout(() => process.exit(1), 500);
  },
);
