import { deviceTopic } from '@hub/protocol';
import { testInfluxUrl, uniqueName } from '@hub/registry/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxHttp, seriesRows } from '../src/influx-http.js';
import { InfluxWriter } from '../src/influx-writer.js';
import { createInfluxQueries } from '../src/queries.js';
import { TelemetryPipeline } from '../src/telemetry-pipeline.js';
import {
  chargerTelemetry,
  electricTelemetry,
  ODD,
  recordingLogger,
  smokeTelemetry,
  snapshot,
  waitFor,
} from './fixtures.js';

/**
 * Against the real InfluxDB 1.6 (own database per run, dropped afterwards): messages go
 * through the pipeline and the real writer, then come back through /query.
 */
const url = testInfluxUrl();
const db = uniqueName('ingest');
const http = new InfluxHttp({ url, auth: { type: 'none' } });
const writers: InfluxWriter[] = [];

function newWriter(batchSize: number): InfluxWriter {
  const w = new InfluxWriter({
    url,
    database: db,
    auth: { type: 'none' },
    batchSize,
    flushIntervalMs: 1000,
    maxBufferedLines: 200_000,
  });
  writers.push(w);
  return w;
}

async function select(q: string): Promise<Array<Record<string, unknown>>> {
  const [r] = await http.query(q, db);
  return (r?.series ?? []).flatMap(seriesRows);
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
// Device clocks a few seconds behind the hub: within the trusted window, inside fleetCounts' last hour.
const now = Date.now();
const T = now - 5000;

beforeAll(async () => {
  const w = newWriter(5000);
  await w.ensureDatabase();
  await w.ensureDatabase(); // idempotent: a restart must not fail on an existing database
});

afterAll(async () => {
  for (const w of writers) await w.close(5000);
  await http.query(`DROP DATABASE "${db}"`);
});

describe('pipeline + writer → InfluxDB 1.6', () => {
  it('stores smoke, electric, charger telemetry, events and statuses with exact values', async () => {
    const writer = writers[0]!;
    const { logger, warns } = recordingLogger();
    const pipeline = new TelemetryPipeline({ registry: { current: snapshot() }, sink: writer, logger });

    expect(pipeline.handleMessage(deviceTopic('sd-1', 'telemetry'), json(smokeTelemetry(T)), now)).toBe(
      'written',
    );
    expect(pipeline.handleMessage(deviceTopic('em-1', 'telemetry'), json(electricTelemetry(T)), now)).toBe(
      'written',
    );
    expect(pipeline.handleMessage(deviceTopic('ch-1', 'telemetry'), json(chargerTelemetry(T)), now)).toBe(
      'written',
    );
    const ev = {
      v: 1,
      id: 'ev-1',
      ts: T + 1,
      seq: 8,
      type: 'alarm',
      value: 37.5,
      detail: 'line1\nC:\\x "q"',
    };
    expect(pipeline.handleMessage(deviceTopic('sd-1', 'event'), json(ev), now)).toBe('written');
    const st = { v: 1, ts: T + 2, state: 'online', fw: '2.0.1' };
    expect(pipeline.handleMessage(deviceTopic('ch-1', 'status'), json(st), now)).toBe('written');
    // A clock 3 days behind: stored at the hub's receive time.
    expect(
      pipeline.handleMessage(
        deviceTopic(ODD.id, 'telemetry'),
        json(smokeTelemetry(now - 3 * 86_400_000)),
        now,
      ),
    ).toBe('written');
    expect(warns).toEqual([]);
    expect(pipeline.stats.clockSkew).toBe(1);

    expect(await writer.drain(15_000)).toBe(true);
    expect(writer.stats).toMatchObject({ accepted: 8, written: 8, failed: 0 });

    expect(await select('SELECT * FROM "smoke" WHERE "device" = \'sd-1\'')).toEqual([
      {
        time: T,
        battery: 88,
        building: 'b-1',
        device: 'sd-1',
        kind: 'smoke',
        model: 'NB-SD01',
        rsrp: -95,
        seq: 7,
        smoke: 1.25,
        snr: 12.5,
        temp_c: 23.5,
        township: 'tw-1',
      },
    ]);

    expect(await select('SELECT * FROM "electric_circuit" GROUP BY "ch"')).toEqual([
      {
        ch: '1',
        time: T,
        arc_count: 0,
        building: 'b-1',
        current_a: 10.25,
        device: 'em-1',
        kind: 'electric',
        model: 'EFM-4C',
        power_w: 2352.5,
        residual_ma: 120.5,
        seq: 42,
        temp_c: 31.5,
        township: 'tw-1',
        voltage_v: 229.5,
      },
      {
        ch: '2',
        time: T,
        arc_count: 3,
        building: 'b-1',
        current_a: 16,
        device: 'em-1',
        kind: 'electric',
        model: 'EFM-4C',
        power_w: 3696,
        residual_ma: 350,
        seq: 42,
        temp_c: 65,
        township: 'tw-1',
        voltage_v: 231,
      },
    ]);

    const ports = await select(
      'SELECT "state","power_w","current_a","voltage_v","temp_c","energy_wh","stop_reason","seq","building" FROM "charger_port" GROUP BY "port"',
    );
    expect(ports).toEqual([
      {
        port: '1',
        time: T,
        state: 'charging',
        power_w: 180.5,
        current_a: 3.5,
        voltage_v: 48.5,
        temp_c: 35.5,
        energy_wh: 120.25,
        stop_reason: null,
        seq: 9,
        building: 'b-2',
      },
      {
        port: '2',
        time: T,
        state: 'idle',
        power_w: 0,
        current_a: 0,
        voltage_v: 0,
        temp_c: 22,
        energy_wh: 0,
        stop_reason: 'full "ok"',
        seq: 9,
        building: 'b-2',
      },
    ]);

    const events = await select(
      'SELECT "type","value","detail","msg_id","seq","building","channel" FROM "device_event"',
    );
    expect(events).toEqual([
      {
        time: T + 1,
        type: 'alarm',
        value: 37.5,
        detail: 'line1\nC:\\x "q"',
        msg_id: 'ev-1',
        seq: 8,
        building: 'b-1',
        channel: null,
      },
    ]);
    expect(await select('SELECT "state","fw","building","device" FROM "device_status"')).toEqual([
      { time: T + 2, state: 'online', fw: '2.0.1', building: 'b-2', device: 'ch-1' },
    ]);

    // The odd model name survives escaping (backslash becomes '/'); skewed clock → receive time.
    expect(await select(`SELECT "seq","model" FROM "smoke" WHERE "device" = '${ODD.id}'`)).toEqual([
      { time: now, seq: 7, model: 'X 1,a=b/c' },
    ]);

    // Field types are what the schema says: seq/arc_count integers, state a string.
    const types = await select('SHOW FIELD KEYS FROM "electric_circuit"');
    expect(types).toContainEqual({ fieldKey: 'arc_count', fieldType: 'integer' });
    expect(types).toContainEqual({ fieldKey: 'seq', fieldType: 'integer' });
    expect(types).toContainEqual({ fieldKey: 'residual_ma', fieldType: 'float' });
    expect(types).toContainEqual({ fieldKey: 'building', fieldType: 'string' });

    // Dashboard helpers on the same data.
    const queries = createInfluxQueries(http, db);
    const history = await queries.deviceHistory('sd-1', T - 1, T + 10);
    expect(history.map((h) => [h.measurement, h.rows.length])).toEqual([
      ['device_event', 1],
      ['smoke', 1],
    ]);
    expect(history[1]!.rows[0]).toMatchObject({ time: T, smoke: 1.25, device: 'sd-1' });
    // An id crafted to break out of the string literal matches nothing and raises nothing.
    expect(await queries.deviceHistory('sd-1\' OR "device" =~ /.*/ --', T - 1, T + 10)).toEqual([]);

    // Per-building view: the latest reading of each of b-1's devices (sd-1, em-1 × 2 circuits).
    const latest = await queries.buildingLatest(['sd-1', 'em-1']);
    expect(latest.map((l) => [l.measurement, l.device, l.ch ?? '']).sort()).toEqual([
      ['electric_circuit', 'em-1', '1'],
      ['electric_circuit', 'em-1', '2'],
      ['smoke', 'sd-1', ''],
    ]);
    expect(latest.find((l) => l.ch === '2')?.values).toMatchObject({ residual_ma: 350, arc_count: 3 });

    const fleet = await queries.fleetCounts({ lowBatteryPct: 90 });
    expect(fleet.reporting.sort((a, b) => a.measurement.localeCompare(b.measurement))).toEqual([
      { measurement: 'charger_port', kind: 'charger', township: 'tw-1', devices: 1 },
      { measurement: 'electric_circuit', kind: 'electric', township: 'tw-1', devices: 1 },
      { measurement: 'smoke', kind: 'smoke', township: 'tw-1', devices: 2 },
    ]);
    expect(fleet.lowBattery).toEqual([{ township: 'tw-1', devices: 2 }]);
  });

  it('flushes within its interval without reaching the batch size', async () => {
    const w = newWriter(5000);
    const line = `flush_probe,device=p1 v=1i ${Date.now()}`;
    expect(w.write([line], 1)).toBe(true);
    // No drain()/flush(): only the writer's own flush timer can get this line out.
    const rows = await waitFor(async () => {
      const r = await select('SELECT "v" FROM "flush_probe"');
      return r.length > 0 ? r : undefined;
    });
    expect(rows).toHaveLength(1);
    // The row can be visible before the writer has read InfluxDB's 204: wait for that too.
    expect(await waitFor(() => (w.stats.written === 1 ? true : undefined))).toBe(true);
  });

  it('counts a batch InfluxDB refuses (field type conflict) as failed, not written', async () => {
    const w = newWriter(5000);
    // `seq` is an integer in "smoke"; a float seq is refused with 400 (partial write).
    w.write([`smoke,device=conflict seq=1.5 ${Date.now()}`], 1);
    expect(await w.drain(15_000)).toBe(true);
    expect(w.stats).toMatchObject({ written: 0, failed: 1 });
  });
});
