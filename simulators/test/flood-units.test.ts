import { deviceStatusSchema, telemetrySchema } from '@hub/protocol';
import { seededRandom } from '@hub/registry';
import * as mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { checkFdLimit, FD_HEADROOM, readFdLimits } from '../src/fd-limit.js';
import { chargerJson, electricJson, smokeJson, statusJson } from '../src/flood-payloads.js';
import { baseIntervalMs, inEveningPeak, nextIntervalMs } from '../src/flood-profiles.js';
import { FrameScanner, PACKET } from '../src/frame-scanner.js';
import { IndexHeap } from '../src/index-heap.js';
import { LatencyRecorder } from '../src/latency-recorder.js';
import { qos0PublishFrame } from '../src/publish-frame.js';
import {
  parseSourceAddresses,
  planSourceAddresses,
  readEphemeralPortRange,
} from '../src/source-addresses.js';

describe('IndexHeap', () => {
  it('pops indices in key order, moves keys both ways, deletes', () => {
    const h = new IndexHeap(1000);
    const r = seededRandom('heap');
    const keys = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const k = Math.floor(r() * 500);
      h.set(i, k);
      keys.set(i, k);
    }
    for (let i = 0; i < 1000; i += 3) {
      const k = Math.floor(r() * 500);
      h.set(i, k);
      keys.set(i, k);
    }
    for (let i = 1; i < 1000; i += 7) {
      expect(h.delete(i)).toBe(true);
      keys.delete(i);
    }
    expect(h.delete(1)).toBe(false);
    expect(h.size).toBe(keys.size);
    let last = -1;
    let n = 0;
    while (h.size > 0) {
      const k = h.peekKey();
      const i = h.pop();
      expect(keys.get(i)).toBe(k);
      expect(k).toBeGreaterThanOrEqual(last);
      last = k;
      n++;
    }
    expect(n).toBe(keys.size);
    expect(h.pop()).toBe(-1);
    expect(() => h.set(1000, 1)).toThrow(RangeError);
  });
});

describe('FrameScanner', () => {
  const connack = mqttPacket.generate({ cmd: 'connack', returnCode: 5, sessionPresent: false });
  const puback = mqttPacket.generate({ cmd: 'puback', messageId: 0x1234 });
  const pingresp = mqttPacket.generate({ cmd: 'pingresp' });
  const publish = mqttPacket.generate({
    cmd: 'publish',
    topic: 'v1/dev/x/cmd',
    payload: 'x'.repeat(300),
    qos: 0,
    retain: false,
    dup: false,
  });
  const stream = Buffer.concat([connack, publish, puback, pingresp]);

  function scan(chunks: Buffer[]): Array<[number, number, number]> {
    const s = new FrameScanner(2);
    const out: Array<[number, number, number]> = [];
    for (const c of chunks)
      expect(s.feed(1, c, (_i, type, _len, b0, b1) => out.push([type, b0, b1]))).toBe(true);
    return out;
  }

  it('reads CONNACK return codes, PUBACK ids, PINGRESP and skips the rest, in one chunk or byte by byte', () => {
    const want: Array<[number, number, number]> = [
      [PACKET.CONNACK, 0, 5],
      [PACKET.PUBLISH, 0, 12],
      [PACKET.PUBACK, 0x12, 0x34],
      [PACKET.PINGRESP, 0, 0],
    ];
    expect(scan([stream])).toEqual(want);
    expect(scan([...stream].map((b) => Buffer.from([b])))).toEqual(want);
    expect(scan([stream.subarray(0, 5), stream.subarray(5, 200), stream.subarray(200)])).toEqual(want);
  });

  it('rejects a remaining length longer than four bytes', () => {
    const s = new FrameScanner(1);
    expect(s.feed(0, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), () => {})).toBe(false);
  });
});

describe('fd limits and source addresses', () => {
  const limits = readFdLimits(
    'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 20000                files\n',
  );

  it('reads /proc/self/limits and tells what to run', () => {
    expect(limits).toEqual({ soft: 1024, hard: 20000 });
    expect(checkFdLimit(500, limits).ok).toBe(true);
    const low = checkFdLimit(10_000, limits);
    expect(low.ok).toBe(false);
    expect(low.message).toContain(`ulimit -n ${10_000 + FD_HEADROOM}`);
    const high = checkFdLimit(100_000, limits);
    expect(high.ok).toBe(false);
    expect(high.message).toContain('hard limit is 20000');
    expect(readFdLimits()).not.toBeNull();
  });

  it('plans one loopback address per ~25k ports toward one destination', () => {
    const range = readEphemeralPortRange('32768\t60999\n');
    expect(range).toEqual({ low: 32768, high: 60999 });
    expect(planSourceAddresses(300, range)).toEqual(['127.0.0.2']);
    expect(planSourceAddresses(300, range, 2)).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(planSourceAddresses(100_000, range)).toHaveLength(4);
    expect(parseSourceAddresses('127.0.0.2, 127.0.0.3')).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(() => parseSourceAddresses('10.0.0.1')).toThrow(/loopback/);
  });
});

describe('flood payloads and profiles', () => {
  it('builds telemetry and status valid under the protocol schemas', () => {
    const r = seededRandom('payloads');
    for (let seq = 0; seq < 50; seq++) {
      const ts = 1_760_000_000_000 + seq * 997_000;
      for (const json of [
        smokeJson('b1t', seq, ts, seq / 50, r, true),
        smokeJson('b1t', seq, ts, seq / 50, r, false),
        electricJson('b1t', seq, ts, seq / 50, r, 1 + (seq % 8)),
        chargerJson('b1t', seq, ts, seq / 50, r, 1 + (seq % 16), seq % 2 === 0),
      ]) {
        const parsed = telemetrySchema.safeParse(JSON.parse(json));
        expect(parsed.success, json).toBe(true);
      }
    }
    expect(deviceStatusSchema.safeParse(JSON.parse(statusJson(1, 'online'))).success).toBe(true);
  });

  it('gives battery detectors hour-long heartbeats, monitors 30–60 s, chargers 10–30 s halved in the evening peak', () => {
    expect(baseIntervalMs('smoke', 'NB-S1', 0.1)).toBe(3_600_000);
    expect(baseIntervalMs('smoke', 'NB-S1', 0.99)).toBe(86_400_000);
    expect(baseIntervalMs('smoke', 'AC-S1', 0.5)).toBe(1_800_000);
    expect(baseIntervalMs('electric', 'EFM-4C', 0)).toBe(30_000);
    expect(baseIntervalMs('electric', 'EFM-4C', 0.999)).toBeCloseTo(59_970, 0);
    expect(baseIntervalMs('charger', 'EBC-10P', 0.5, 0.01)).toBe(200);
    // 20:00 in China is 12:00 UTC.
    const evening = Date.UTC(2026, 0, 28, 12, 0, 0);
    const noon = Date.UTC(2026, 0, 28, 4, 0, 0);
    expect(inEveningPeak(evening)).toBe(true);
    expect(inEveningPeak(noon)).toBe(false);
    expect(nextIntervalMs('charger', 20_000, 0.5, evening, { eveningPeak: true })).toBe(10_000);
    expect(nextIntervalMs('charger', 20_000, 0.5, noon, { eveningPeak: true })).toBe(20_000);
    expect(nextIntervalMs('electric', 40_000, 1, noon)).toBe(44_000);
  });
});

describe('coordinated omission correction', () => {
  it('fills in the samples a stalled sender would have taken', () => {
    const plain = new LatencyRecorder();
    const corrected = new LatencyRecorder();
    for (let k = 0; k < 99; k++) {
      plain.record(1);
      corrected.recordCorrected(1, 10);
    }
    // One 1 s stall of a sender that measures every 10 ms.
    plain.record(1000);
    corrected.recordCorrected(1000, 10);
    expect(plain.count).toBe(100);
    expect(plain.summary().p90Ms).toBeLessThan(2);
    expect(corrected.count).toBe(199);
    expect(corrected.summary().p90Ms).toBeGreaterThan(700);
    const sum = new LatencyRecorder();
    sum.add(plain);
    sum.add(corrected);
    expect(sum.count).toBe(299);
  });
});

describe('qos0PublishFrame', () => {
  it('writes the same bytes as mqtt-packet for every remaining-length width and UTF-8 text', () => {
    const topic = 'dev/SM-0001/telemetry';
    // Remaining length = 2 + topic + payload: cross the 1→2, 2→3 and 3→4 byte boundaries.
    const overhead = 2 + Buffer.byteLength(topic);
    const sizes = [0, 1, 127 - overhead, 128 - overhead, 16_383 - overhead, 16_384 - overhead];
    sizes.push(2_097_151 - overhead, 2_097_152 - overhead);
    for (const n of sizes) {
      const payload = 'x'.repeat(n);
      const expected = mqttPacket.generate({
        cmd: 'publish',
        topic,
        payload,
        qos: 0,
        retain: false,
        dup: false,
      });
      expect(qos0PublishFrame(topic, payload).equals(expected), `payload ${n} bytes`).toBe(true);
    }
    const utf8Topic = 'dev/烟感-1/telemetry';
    const utf8Payload = '{"note":"厨房 ☕"}';
    const expected = mqttPacket.generate({
      cmd: 'publish',
      topic: utf8Topic,
      payload: utf8Payload,
      qos: 0,
      retain: false,
      dup: false,
    });
    expect(qos0PublishFrame(utf8Topic, utf8Payload).equals(expected)).toBe(true);
  });
});
