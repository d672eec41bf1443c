/**
 * Points per second through ingest into InfluxDB, side by side with the raw write
 * capacity of the same InfluxDB, in one run; CPU µs per point of ingest.
 *
 *   flock /tmp/heavy.lock npx tsx bench/ingest/ingest-vs-raw.ts [--lines 600000] [--port 42201] [--gzip-min-bytes 0]
 *
 * - A PRIVATE influxd (bench/ingest's own folder and ports, never the shared one) is
 *   started and stopped by this script.
 * - The fleet: 1,000 electric monitors (4 circuits), 1,000 charging stations (10
 *   ports), 2,000 smoke detectors; one message each per round, ~4 lines per message.
 *   Payloads are pre-encoded MQTT payload buffers (what MqttSource hands over).
 * - raw: the exact lines ingest produces, POSTed to /write?db=…&precision=ms in batches
 *   of 5,000 lines with 1 and with 2 requests in flight (the reference).
 * - ingest: the real TelemetryPipeline (decode, kind check, line protocol, heartbeat
 *   hook into a LastSeenBatch, threshold rules) → SpoolingSink → InfluxWriter (batches
 *   of 5,000, flush ≤ 1 s) → InfluxDB; fed as fast as the writer's pending bound lets
 *   it (the backpressure MQTT would see), timed until every line is acknowledged.
 * - Order raw(1) → ingest → raw(2 in flight) → raw(1) so drift on a shared machine shows.
 *   Each phase writes into a fresh database.
 * CPU: process.cpuUsage() of this process over the ingest phase (includes the HTTP
 * client and JSON decode: everything ingest does per point), and influxd's CPU from
 * /proc/<pid>/stat over each phase.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Building, Device, Township } from '@hub/protocol';
import { RegistrySnapshot } from '@hub/registry';
import { pino } from 'pino';
import { DiskSpool } from '../../ingest/src/disk-spool.js';
import { LastSeenBatch } from '../../ingest/src/heartbeat-policy.js';
import { InfluxHttp } from '../../ingest/src/influx-http.js';
import { InfluxWriter, type LineSink } from '../../ingest/src/influx-writer.js';
import { RuleEngine } from '../../ingest/src/rule-engine.js';
import { SpoolingSink } from '../../ingest/src/spooling-sink.js';
import { TelemetryPipeline } from '../../ingest/src/telemetry-pipeline.js';
import { parseRulesConfig } from '../../ingest/src/threshold-rules.js';
import { PrivateInflux } from '../../ingest/test/private-influx.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const TARGET_LINES = arg('lines', 600_000);
const PORT = arg('port', 42201);
const BATCH = 5000;
/** Gzip request bodies above this many bytes (ingest's HUB_INGEST_GZIP_MIN_BYTES); default off, like the raw phase. */
const GZIP_MIN = arg('gzip-min-bytes', 0);

// --- fleet -------------------------------------------------------------------
const township: Township = { id: 'tw-b', name: 'Bench', lat: 25.8, lon: 114.9, fireOfficePhone: '0' };
const buildings: Building[] = [];
for (let b = 0; b < 100; b++) {
  buildings.push({
    id: 'b' + b,
    name: 'B' + b,
    address: 'Road',
    lat: 25.8,
    lon: 114.9,
    occupancy: 'rental',
    floors: 5,
    township: 'tw-b',
    grid: 'g' + (b % 10),
    contacts: [],
  });
}
const devices: Device[] = [];
const dev = (id: string, kind: Device['kind'], model: string, i: number): Device => ({
  id,
  kind,
  model,
  buildingId: 'b' + (i % 100),
  floor: 1,
  room: '1',
  secretHash: '0'.repeat(64),
  salt: 'saltsalt',
  maintenance: false,
});
for (let i = 0; i < 1000; i++) devices.push(dev('em-' + i, 'electric', 'EFM-4C', i));
for (let i = 0; i < 1000; i++) devices.push(dev('ch-' + i, 'charger', 'EBC-10P', i));
for (let i = 0; i < 2000; i++) devices.push(dev('sd-' + i, 'smoke', 'NB-SD01', i));
const snapshot = new RegistrySnapshot(
  { townships: [township], buildings, devices, stations: [], accounts: [] },
  1,
);

const base = Date.now() - 3_600_000;
function payloadOf(d: Device, round: number): Buffer {
  const ts = base + round * 10;
  const env = { v: 1, id: d.id + '-' + round, ts, seq: round };
  if (d.kind === 'electric') {
    const circuits = [1, 2, 3, 4].map((ch) => ({
      ch,
      residualMa: 80 + ch + (round % 7),
      tempC: 30.5 + ch,
      currentA: 5.25 + ch,
      voltageV: 229.5,
      powerW: 1200.5 + ch * 10,
      arcCount: 0,
    }));
    return Buffer.from(JSON.stringify({ ...env, kind: 'electric', circuits }));
  }
  if (d.kind === 'charger') {
    const ports = Array.from({ length: 10 }, (_, k) => ({
      port: k + 1,
      state: k % 3 === 0 ? 'idle' : 'charging',
      powerW: k % 3 === 0 ? 0 : 180.5 + k,
      currentA: 3.5,
      voltageV: 48.5,
      tempC: 30 + k,
      energyWh: 100.25 + round,
    }));
    return Buffer.from(JSON.stringify({ ...env, kind: 'charger', ports }));
  }
  return Buffer.from(
    JSON.stringify({ ...env, kind: 'smoke', smoke: 0.25, tempC: 22.5, battery: 90, rsrp: -95, snr: 10.5 }),
  );
}

const topics = new Map(devices.map((d) => [d.id, `v1/dev/${d.id}/telemetry`]));
const messages: Array<{ topic: string; payload: Buffer }> = [];
const captured: string[] = [];
{
  // Build messages until the pipeline produced TARGET_LINES lines; capture those lines for the raw phase.
  const capture: LineSink = {
    write(l, n) {
      for (let i = 0; i < n; i++) captured.push(l[i]!);
      return true;
    },
  };
  const p = new TelemetryPipeline({
    registry: { current: snapshot },
    sink: capture,
    logger: pino({ level: 'silent' }),
  });
  for (let round = 0; captured.length < TARGET_LINES; round++) {
    for (const d of devices) {
      const m = { topic: topics.get(d.id)!, payload: payloadOf(d, round) };
      p.handleMessage(m.topic, m.payload, Date.now());
      messages.push(m);
      if (captured.length >= TARGET_LINES) break;
    }
  }
}
const LINES = captured.length;

// The raw phase's request bodies, built once (not inside a timed phase).
const bodies: string[] = [];
for (let i = 0; i < LINES; i += BATCH) bodies.push(captured.slice(i, i + BATCH).join('\n'));

// A full GC before each phase, so garbage of one phase is not collected on another's clock.
setFlagsFromString('--expose_gc');
const fullGc = runInNewContext('gc') as () => void;

// --- helpers -----------------------------------------------------------------
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, 100 Hz clock ticks
}

async function createDb(http: InfluxHttp, db: string) {
  await http.query(`CREATE DATABASE "${db}"`);
}

async function rawPhase(http: InfluxHttp, db: string, inFlight: number, pid: number) {
  await createDb(http, db);
  fullGc();
  const path = `/write?db=${db}&precision=ms`;
  const cpu0 = procCpuMs(pid);
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= bodies.length) return;
      const r = await http.writeRaw(path, Buffer.from(bodies[i]!));
      if (r.status !== 204) throw new Error(`raw write ${r.status}: ${r.text}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const secs = (performance.now() - t0) / 1000;
  const influxCpu = procCpuMs(pid) - cpu0;
  return { pointsPerS: LINES / secs, secs, influxUsPerPoint: (influxCpu * 1000) / LINES };
}

async function ingestPhase(http: InfluxHttp, db: string, pid: number) {
  await createDb(http, db);
  const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-spool-'));
  const holder: { sink: SpoolingSink | null } = { sink: null };
  const writer = new InfluxWriter({
    url: influx.url,
    database: db,
    auth: { type: 'none' },
    batchSize: BATCH,
    flushIntervalMs: 1000,
    maxBufferedLines: 200_000,
    gzipThreshold: GZIP_MIN > 0 ? GZIP_MIN : Number.MAX_SAFE_INTEGER,
    spill: (l) => holder.sink?.spill(l),
  });
  const spool = new DiskSpool({ dir, maxBytes: 1 << 30, segmentBytes: 64 << 20, fsync: 'interval' });
  const sink = new SpoolingSink({ writer, spool, http: writer.http });
  holder.sink = sink;
  sink.start();
  const seen = new LastSeenBatch(1_000_000);
  const rules = new RuleEngine(parseRulesConfig(''), () => undefined);
  const pipeline = new TelemetryPipeline({
    registry: { current: snapshot },
    sink,
    logger: pino({ level: 'silent' }),
    onSeen: (id, at) => seen.seen(id, at),
    onTelemetry: (t, d, at) => rules.evaluate(t, d, at),
  });
  // Feed while the writer has room (its pending bound is the backpressure MQTT would get).
  const HIGH_WATER = 60_000;
  fullGc();
  const cpu0 = process.cpuUsage();
  const icpu0 = procCpuMs(pid);
  const t0 = performance.now();
  let i = 0;
  while (i < messages.length) {
    if (writer.pending > HIGH_WATER) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    const end = Math.min(messages.length, i + 200);
    const now = Date.now();
    for (; i < end; i++) {
      const m = messages[i]!;
      pipeline.handleMessage(m.topic, m.payload, now);
    }
    await new Promise((r) => setImmediate(r));
  }
  await writer.drain(120_000);
  while (sink.pending > 0) await new Promise((r) => setTimeout(r, 5));
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const influxCpu = procCpuMs(pid) - icpu0;
  const written = writer.stats.written + sink.stats.replayed;
  const out = {
    pointsPerS: written / secs,
    secs,
    written,
    accepted: sink.stats.accepted,
    spooled: sink.stats.spooled,
    ingestUsPerPoint: (cpu.user + cpu.system) / written,
    influxUsPerPoint: (influxCpu * 1000) / written,
  };
  await sink.close(5000);
  rmSync(dir, { recursive: true, force: true });
  return out;
}

async function count(http: InfluxHttp, db: string): Promise<number> {
  let total = 0;
  for (const m of ['smoke', 'electric_circuit', 'charger_port']) {
    const [r] = await http.query(`SELECT count("seq") FROM "${m}"`, db);
    total += Number(r?.series?.[0]?.values?.[0]?.[1] ?? 0);
  }
  return total;
}

// --- run ---------------------------------------------------------------------
const influx = new PrivateInflux(PORT);
async function main() {
  await influx.start();
  const pid = influx.pid;
  const http = new InfluxHttp({ url: influx.url, auth: { type: 'none' } });
  const tag = Date.now().toString(36);
  try {
    console.log(
      `lines per phase: ${LINES} (${messages.length} messages, ${(LINES / messages.length).toFixed(2)} lines/msg)`,
    );
    const raw1 = await rawPhase(http, `raw1_${tag}`, 1, pid);
    console.log('raw, 1 in flight   ', fmt(raw1));
    const ing = await ingestPhase(http, `ingest_${tag}`, pid);
    console.log('ingest             ', fmt(ing));
    const raw2 = await rawPhase(http, `raw2_${tag}`, 2, pid);
    console.log('raw, 2 in flight   ', fmt(raw2));
    const raw3 = await rawPhase(http, `raw3_${tag}`, 1, pid);
    console.log('raw, 1 in flight   ', fmt(raw3));
    const stored = await count(http, `ingest_${tag}`);
    const raw1Mean = (raw1.pointsPerS + raw3.pointsPerS) / 2;
    const best = Math.max(raw1Mean, raw2.pointsPerS);
    console.log(
      JSON.stringify(
        {
          lines: LINES,
          rawOneInFlightMean: Math.round(raw1Mean),
          rawTwoInFlight: Math.round(raw2.pointsPerS),
          ingest: Math.round(ing.pointsPerS),
          ingestStored: stored,
          ratioVsRawOneInFlight: +(ing.pointsPerS / raw1Mean).toFixed(3),
          ratioVsBestRaw: +(ing.pointsPerS / best).toFixed(3),
          ingestCpuUsPerPoint: +ing.ingestUsPerPoint.toFixed(2),
          influxdCpuUsPerPoint: {
            raw: +raw1.influxUsPerPoint.toFixed(2),
            ingest: +ing.influxUsPerPoint.toFixed(2),
          },
          spooled: ing.spooled,
        },
        null,
        2,
      ),
    );
  } finally {
    await influx.destroy();
  }
}

function fmt(r: { pointsPerS: number; secs: number }): string {
  return `${Math.round(r.pointsPerS).toLocaleString('en')} points/s (${r.secs.toFixed(2)} s)`;
}

main().catch(async (err) => {
  console.error(err);
  await influx.destroy();
  process.exit(1);
});
