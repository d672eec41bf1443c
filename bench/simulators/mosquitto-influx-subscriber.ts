/**
 * The pipeline users assemble by hand, as the reference beside the hub: Mosquitto plus
 * a minimal subscriber that writes every telemetry reading and event to InfluxDB
 * (v1 /write, line protocol, batches of ≤ 5,000 lines or 1 s). No schema checks, no
 * durability before PUBACK, no paging: what it does not do is the point of comparison.
 *
 *   npx tsx bench/simulators/mosquitto-influx-subscriber.ts <mqtt url> <influx url> <db>
 */
import { connect } from 'mqtt';

const [mqttUrl = 'mqtt://127.0.0.1:1883', influxUrl = 'http://127.0.0.1:8086', db = 'ref'] =
  process.argv.slice(2);
let lines: string[] = [];
let written = 0;
let failed = 0;
let received = 0;

await fetch(`${influxUrl}/query?q=${encodeURIComponent(`CREATE DATABASE "${db}"`)}`, { method: 'POST' });

async function flush(): Promise<void> {
  if (lines.length === 0) return;
  const body = lines.join('\n');
  const n = lines.length;
  lines = [];
  try {
    const res = await fetch(`${influxUrl}/write?db=${db}&precision=ms`, { method: 'POST', body });
    if (res.ok) written += n;
    else failed += n;
  } catch {
    failed += n;
  }
}

const client = connect(mqttUrl, { clientId: `ref-sub-${process.pid}`, reconnectPeriod: 1000 });
client.on('message', (topic, payload) => {
  received++;
  const id = topic.split('/')[2] ?? 'unknown';
  const kind = topic.endsWith('/event') ? 'event' : 'telemetry';
  // Store the raw JSON as a string field: what a quick hand-made pipeline does.
  const text = payload.toString('utf8').replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  lines.push(`${kind},device=${id} raw="${text}" ${Date.now()}`);
  if (lines.length >= 5_000) void flush();
});
await client.subscribeAsync(['v1/dev/+/telemetry', 'v1/dev/+/event'], { qos: 1 });
setInterval(() => void flush(), 1_000);
setInterval(
  () => process.stderr.write(`ref-sub received ${received} written ${written} failed ${failed}\n`),
  5_000,
);
process.on('SIGTERM', () => {
  void flush().then(() => {
    process.stdout.write(JSON.stringify({ received, written, failed }) + '\n');
    process.exit(0);
  });
});
