import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import { deviceTopic } from '@hub/protocol';
import { testInfluxUrl, uniqueName } from '@hub/registry/test-support';
import { Aedes, type Client } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxHttp, seriesRows } from '../src/influx-http.js';
import { InfluxWriter } from '../src/influx-writer.js';
import { MqttSource } from '../src/mqtt-source.js';
import { TelemetryPipeline } from '../src/telemetry-pipeline.js';
import { electricTelemetry, recordingLogger, smokeTelemetry, snapshot, waitFor } from './fixtures.js';

/**
 * MQTT end to end: a plain in-process aedes (no auth), the real MqttSource, pipeline and
 * writer, the real InfluxDB. A device publishes; the reading must show up in InfluxDB.
 */
const url = testInfluxUrl();
const db = uniqueName('ingest_mqtt');
const http = new InfluxHttp({ url, auth: { type: 'none' } });
let broker: Aedes;
/** The broker-side client of our MqttSource (to cut its connection). */
let ingestClient: Client | undefined;
let server: Server;
let brokerUrl: string;
let writer: InfluxWriter;
let source: MqttSource;
let pipeline: TelemetryPipeline;

beforeAll(async () => {
  broker = await Aedes.createBroker();
  broker.on('client', (c) => {
    if (c.id.startsWith('hub-ingest-')) ingestClient = c;
  });
  server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  brokerUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;

  writer = new InfluxWriter({
    url,
    database: db,
    auth: { type: 'none' },
    batchSize: 5000,
    flushIntervalMs: 200,
    maxBufferedLines: 10_000,
  });
  await writer.ensureDatabase();
  const { logger } = recordingLogger();
  pipeline = new TelemetryPipeline({ registry: { current: snapshot() }, sink: writer, logger });
  source = new MqttSource({
    url: brokerUrl,
    username: 'hub-ingest',
    password: 'unused-by-this-broker',
    clientId: `hub-ingest-${process.pid}`,
    onMessage: (topic, payload, receivedAt, retained) =>
      pipeline.handleMessage(topic, payload, receivedAt, retained),
    logger,
  });
  source.start();
  await waitFor(() => (source.ready ? true : undefined));
});

afterAll(async () => {
  await source?.close();
  await writer?.close(5000);
  await new Promise<void>((r) => broker.close(() => r()));
  await new Promise<void>((r) => server.close(() => r()));
  await http.query(`DROP DATABASE "${db}"`);
});

async function select(q: string) {
  const [r] = await http.query(q, db);
  return (r?.series ?? []).flatMap(seriesRows);
}

describe('MQTT → InfluxDB', () => {
  it('a published telemetry message and event end up in InfluxDB', async () => {
    const device = await mqtt.connectAsync(brokerUrl, { clientId: 'sd-1', protocolVersion: 4 });
    const ts = Date.now() - 1000;
    try {
      await device.publishAsync(deviceTopic('sd-1', 'telemetry'), JSON.stringify(smokeTelemetry(ts)), {
        qos: 0,
      });
      const ev = { v: 1, id: 'ev-42', ts: ts + 1, seq: 11, type: 'alarm', value: 41.5 };
      await device.publishAsync(deviceTopic('sd-1', 'event'), JSON.stringify(ev), { qos: 1 });
      await device.publishAsync(deviceTopic('em-1', 'telemetry'), JSON.stringify(electricTelemetry(ts)), {
        qos: 0,
      });
    } finally {
      await device.endAsync();
    }

    const smoke = await waitFor(async () => {
      const rows = await select(
        'SELECT "smoke","temp_c","battery","seq" FROM "smoke" WHERE "device" = \'sd-1\'',
      );
      return rows.length > 0 ? rows : undefined;
    });
    expect(smoke).toEqual([{ time: ts, smoke: 1.25, temp_c: 23.5, battery: 88, seq: 7 }]);

    const events = await waitFor(async () => {
      const rows = await select('SELECT "type","value","msg_id" FROM "device_event"');
      return rows.length > 0 ? rows : undefined;
    });
    expect(events).toEqual([{ time: ts + 1, type: 'alarm', value: 41.5, msg_id: 'ev-42' }]);

    const circuits = await waitFor(async () => {
      const rows = await select('SELECT "residual_ma" FROM "electric_circuit" GROUP BY "ch"');
      return rows.length === 2 ? rows : undefined;
    });
    expect(circuits.map((r) => [r.ch, r.residual_ma])).toEqual([
      ['1', 120.5],
      ['2', 350],
    ]);
    expect(source.stats.messages).toBe(3);
    expect(pipeline.stats.rejected.E_UNKNOWN_DEVICE).toBe(0);
  });

  it('counts a message from an unregistered device as E_UNKNOWN_DEVICE', async () => {
    const stranger = await mqtt.connectAsync(brokerUrl, { clientId: 'ghost', protocolVersion: 4 });
    try {
      await stranger.publishAsync(
        deviceTopic('ghost', 'telemetry'),
        JSON.stringify(smokeTelemetry(Date.now())),
      );
    } finally {
      await stranger.endAsync();
    }
    await waitFor(() => (pipeline.stats.rejected.E_UNKNOWN_DEVICE === 1 ? true : undefined));
  });

  it('reconnects and resubscribes after the broker drops its connection', async () => {
    const before = source.stats.connects;
    expect(ingestClient).toBeDefined();
    ingestClient?.close();
    await waitFor(() => (source.stats.connects > before && source.ready ? true : undefined));
    const device = await mqtt.connectAsync(brokerUrl, { clientId: 'ch-1', protocolVersion: 4 });
    try {
      await device.publishAsync(
        deviceTopic('ch-1', 'status'),
        JSON.stringify({ v: 1, ts: Date.now(), state: 'online' }),
      );
    } finally {
      await device.endAsync();
    }
    const rows = await waitFor(async () => {
      const r = await select('SELECT "state" FROM "device_status" WHERE "device" = \'ch-1\'');
      return r.length > 0 ? r : undefined;
    });
    expect(rows[0]?.state).toBe('online');
  });
});
