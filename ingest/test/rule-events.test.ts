import { decodeEvent, deviceTopic, laneOf } from '@hub/protocol';
import { cleanupPrefix, testKeys, testRedis, waitFor } from '@hub/registry/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { HubEventWriter } from '../src/hub-event-writer.js';
import type { LineSink } from '../src/influx-writer.js';
import { RuleEngine } from '../src/rule-engine.js';
import { TelemetryPipeline } from '../src/telemetry-pipeline.js';
import { parseRulesConfig } from '../src/threshold-rules.js';
import { electricTelemetry, recordingLogger, snapshot } from './fixtures.js';

/**
 * Integration: MQTT-shaped messages through the real pipeline → rule engine → event
 * writer → the real Redis stream `keys.otherEvents`. Two "ingest processes" (two
 * pipelines/engines/writers) see the same readings: one event per reading and rule.
 */
const redis = testRedis();
const keys = testKeys('rules');

afterAll(async () => {
  await cleanupPrefix(redis, keys);
  redis.disconnect();
});

const nullSink: LineSink = { write: () => true };

function process1() {
  const writer = new HubEventWriter({ redis, keys });
  const engine = new RuleEngine(parseRulesConfig(''), writer.push);
  const pipeline = new TelemetryPipeline({
    registry: { current: snapshot() },
    sink: nullSink,
    logger: recordingLogger().logger,
    onTelemetry: (t, device, at) => engine.evaluate(t, device, at),
  });
  return { writer, pipeline };
}

describe('threshold rules → keys.otherEvents (real Redis)', () => {
  it('a leakage reading gives one electrical-lane event with the broker fields, once across two processes', async () => {
    const a = process1();
    const b = process1();
    const now = Date.now();
    const topic = deviceTopic('em-1', 'telemetry');
    // electricTelemetry: circuit 2 at 350 mA (≥ 300) and arcCount 3 (< 10), 65 °C (< 70).
    for (let i = 0; i < 5; i++) {
      const msg = Buffer.from(JSON.stringify({ ...electricTelemetry(now - 5000 + i * 1000), seq: i }));
      a.pipeline.handleMessage(topic, msg, now + i * 1000);
      b.pipeline.handleMessage(topic, msg, now + i * 1000);
    }
    await a.writer.idle();
    await b.writer.idle();
    const entries = await waitFor('stream entries', async () => {
      const e = await redis.xrange(keys.otherEvents, '-', '+');
      return e.length > 0 ? e : undefined;
    });
    expect(entries).toHaveLength(1);
    const f = entries[0]![1];
    expect(f.filter((_, i) => i % 2 === 0)).toEqual(['d', 'p', 'r']);
    expect(f[1]).toBe('em-1');
    const decoded = decodeEvent(f[3]!);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.value).toMatchObject({ type: 'leakage', channel: 2, value: 350, ts: now - 5000, seq: 0 });
    expect(laneOf(decoded.value.type)).toBe('electrical');
    expect(a.writer.stats.written + b.writer.stats.written).toBe(1);
    expect(a.writer.stats.duplicates + b.writer.stats.duplicates).toBe(1);
  });
});
