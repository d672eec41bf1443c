import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueName } from '@hub/registry/test-support';
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskSpool } from '../src/disk-spool.js';
import { InfluxHttp } from '../src/influx-http.js';
import { InfluxWriter } from '../src/influx-writer.js';
import { SpoolingSink } from '../src/spooling-sink.js';
import { recordingLogger, waitFor } from './fixtures.js';
import { PrivateInflux } from './private-influx.js';

/**
 * Nothing lost through an InfluxDB outage: a PRIVATE influxd (never the shared one) is
 * stopped for 60 s under a steady load and started again; every line the sink accepted
 * must be stored. Then a spool too small for the outage: drops are counted and logged
 * (rate-limited), everything that was not dropped is stored.
 */
const influx = new PrivateInflux(42101);
const http = new InfluxHttp({ url: influx.url, auth: { type: 'none' } });
const dirs: string[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  await influx.start();
}, 60_000);

afterAll(async () => {
  await influx.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(db: string, spoolMaxBytes: number, segmentBytes: number, logger?: Logger) {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-spool-'));
  dirs.push(dir);
  const holder: { sink: SpoolingSink | null } = { sink: null };
  const writer = new InfluxWriter({
    url: influx.url,
    database: db,
    auth: { type: 'none' },
    batchSize: 5000,
    flushIntervalMs: 200,
    maxBufferedLines: 20_000,
    requestTimeoutMs: 5000,
    spill: (lines) => holder.sink?.spill(lines),
  });
  const spool = new DiskSpool({ dir, maxBytes: spoolMaxBytes, segmentBytes, fsync: 'interval' });
  const sink = new SpoolingSink({
    writer,
    spool,
    http: writer.http,
    logger,
    minReplayDelayMs: 200,
    maxReplayDelayMs: 2000,
  });
  holder.sink = sink;
  sink.start();
  return { writer, spool, sink };
}

/** Unique point per line: one series, one millisecond each. */
const BASE = Date.now() - 3_600_000;
const lineOf = (i: number) => `load,device=d1 v=${i}i ${BASE + i}`;

/** Writes `perTick` lines every 20 ms until stopped; returns how many it offered. */
function steadyLoad(sink: SpoolingSink, perTick: number) {
  let next = 0;
  const buf: string[] = [];
  const timer = setInterval(() => {
    buf.length = 0;
    for (let k = 0; k < perTick; k++) buf.push(lineOf(next++));
    sink.write(buf, buf.length);
  }, 20);
  return {
    stop: () => {
      clearInterval(timer);
      return next;
    },
  };
}

describe('spool through an InfluxDB outage (private influxd)', () => {
  it('InfluxDB stopped for 60 s under a steady load: lines accepted = points stored', async () => {
    const db = uniqueName('spool_outage');
    await http.query(`CREATE DATABASE "${db}"`);
    const { writer, spool, sink } = setup(db, 256 << 20, 1 << 20);
    const load = steadyLoad(sink, 40); // ~2,000 lines/s
    await sleep(5000);
    await influx.stop();
    await sleep(60_000);
    // While it was down, lines went to disk.
    expect(sink.inSpoolMode).toBe(true);
    expect(spool.pendingLines).toBeGreaterThan(50_000);
    await influx.start();
    await sleep(5000);
    const offered = load.stop();

    await waitFor(() => (sink.pending === 0 ? true : undefined), 120_000);
    // pending = 0: every line was acknowledged (204), so it is queryable now.
    const stored = await influx.count(db, 'load');

    expect(sink.stats.dropped).toBe(0);
    expect(sink.stats.accepted).toBe(offered);
    expect(stored).toBe(sink.stats.accepted);
    expect(sink.stats.replayed).toBeGreaterThan(50_000);
    expect(writer.stats.spilled + sink.stats.spooled).toBeGreaterThan(0);
    expect(sink.inSpoolMode).toBe(false);
    await sink.close(5000);
  }, 180_000);

  it('a full spool drops lines, counts each one and logs (rate-limited); the rest is stored', async () => {
    const db = uniqueName('spool_full');
    await http.query(`CREATE DATABASE "${db}"`);
    const { logger, errors } = recordingLogger();
    const { spool, sink } = setup(db, 256 << 10, 64 << 10, logger);
    await influx.stop();
    const total = 20_000;
    let refused = 0;
    const buf: string[] = [];
    for (let i = 0; i < total; i += 100) {
      buf.length = 0;
      for (let k = 0; k < 100; k++) buf.push(lineOf(i + k));
      if (!sink.write(buf, buf.length)) refused += buf.length;
      // Let a failing write reach the spool (first batch is in the writer).
      if (i === 0) await waitFor(() => (sink.inSpoolMode ? true : undefined));
    }
    expect(refused).toBeGreaterThan(0);
    expect(sink.stats.dropped).toBe(refused);
    expect(sink.stats.accepted + refused).toBe(total);
    expect(spool.usedBytes).toBeLessThanOrEqual(256 << 10);
    const dropLogs = errors.filter((e) => e.msg === 'spool full: lines dropped');
    expect(dropLogs.length).toBe(1); // rate-limited: one line per 10 s
    await influx.start();
    await waitFor(() => (sink.pending === 0 ? true : undefined), 60_000);
    expect(await influx.count(db, 'load')).toBe(sink.stats.accepted);
    await sink.close(5000);
  }, 120_000);
});
