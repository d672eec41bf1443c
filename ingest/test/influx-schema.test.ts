import { testInfluxUrl, uniqueName } from '@hub/registry/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { InfluxHttp, seriesRows } from '../src/influx-http.js';
import {
  cqName,
  DOWNSAMPLES,
  downsampleSelect,
  ensureInfluxSchema,
  normalizeDuration,
} from '../src/influx-schema.js';
import { InfluxWriter } from '../src/influx-writer.js';
import { appendTelemetryLines } from '../src/line-protocol.js';
import { ELECTRIC } from './fixtures.js';

/** Against the shared InfluxDB 1.6 (own database, dropped afterwards; nothing is stopped). */
const url = testInfluxUrl();
const db = uniqueName('ingest_schema');
const http = new InfluxHttp({ url, auth: { type: 'none' } });

afterAll(async () => {
  await http.query(`DROP DATABASE "${db}"`);
});

async function policies() {
  const [r] = await http.query(`SHOW RETENTION POLICIES ON "${db}"`);
  return (r?.series ?? []).flatMap(seriesRows);
}

async function cqs() {
  const [r] = await http.query('SHOW CONTINUOUS QUERIES');
  return (r?.series ?? []).filter((s) => s.name === db).flatMap(seriesRows);
}

describe('normalizeDuration', () => {
  it('matches what SHOW RETENTION POLICIES prints', () => {
    expect(normalizeDuration('30d')).toBe('720h0m0s');
    expect(normalizeDuration('1w2d')).toBe('216h0m0s');
    expect(normalizeDuration('90m')).toBe('1h30m0s');
    expect(normalizeDuration('INF')).toBe('0s');
    expect(() => normalizeDuration('30x')).toThrow(RangeError);
  });
});

describe('ensureInfluxSchema (InfluxDB 1.6)', () => {
  const opts = { database: db, rawDuration: '30d', longDuration: '730d' };

  it('creates database, raw (default) and long policies and one continuous query per telemetry measurement', async () => {
    const first = await ensureInfluxSchema(http, opts);
    expect(first.created).toEqual(
      expect.arrayContaining(['rp raw', 'rp long', ...DOWNSAMPLES.map((d) => 'cq ' + cqName(d))]),
    );
    const rps = await policies();
    expect(rps.find((p) => p.name === 'raw')).toMatchObject({ duration: '720h0m0s', default: true });
    expect(rps.find((p) => p.name === 'long')).toMatchObject({ duration: '17520h0m0s', default: false });
    expect((await cqs()).map((c) => c.name).sort()).toEqual(DOWNSAMPLES.map(cqName).sort());
  });

  it('is idempotent: a second start changes nothing', async () => {
    const again = await ensureInfluxSchema(http, opts);
    expect(again.created).toEqual([]);
    expect(again.altered).toEqual([]);
    expect(again.unchanged.length).toBe(2 + DOWNSAMPLES.length);
    expect((await cqs()).length).toBe(DOWNSAMPLES.length);
  });

  it('alters a policy whose duration changed in the config', async () => {
    const r = await ensureInfluxSchema(http, { ...opts, rawDuration: '14d' });
    expect(r.altered).toEqual(['rp raw']);
    expect((await policies()).find((p) => p.name === 'raw')).toMatchObject({ duration: '336h0m0s' });
  });

  it('the downsample statement aggregates raw points into the long policy', async () => {
    const writer = new InfluxWriter({
      url,
      database: db,
      auth: { type: 'none' },
      batchSize: 100,
      flushIntervalMs: 100,
      maxBufferedLines: 1000,
      retentionPolicy: 'raw',
    });
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000; // last full hour
    const lines: string[] = [];
    for (const [i, residualMa] of [100, 300, 200].entries()) {
      appendTelemetryLines(
        lines,
        {
          v: 1,
          id: 'x' + i,
          ts: hour + i * 60_000,
          seq: i,
          kind: 'electric',
          circuits: [
            { ch: 1, residualMa, tempC: 30 + i, currentA: 1, voltageV: 230, powerW: 230, arcCount: i },
          ],
        },
        ELECTRIC,
        'tw-1',
        hour + i * 60_000,
      );
    }
    writer.write(lines, lines.length);
    expect(await writer.drain(10_000)).toBe(true);
    await writer.close(1000);
    const spec = DOWNSAMPLES.find((d) => d.from === 'electric_circuit')!;
    // The CQ's own SELECT … INTO, run once over that hour (a backfill, as a CQ would at the hour's end).
    await http.query(
      downsampleSelect(spec, db, 'raw', 'long', `time >= ${hour}ms AND time < ${hour + 3_600_000}ms`),
      db,
    );
    const [r] = await http.query(`SELECT * FROM "long"."electric_circuit_1h"`, db);
    const rows = (r?.series ?? []).flatMap(seriesRows);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      time: hour,
      device: 'em-1',
      ch: '1',
      township: 'tw-1',
      residual_ma_max: 300,
      residual_ma_mean: 200,
      arc_count_sum: 3,
      reports: 3,
    });
  });
});
