import { deviceTopic, REJECT_CODES, stationTopic } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import type { LineSink } from '../src/influx-writer.js';
import { TelemetryPipeline } from '../src/telemetry-pipeline.js';
import { electricTelemetry, ORPHAN, recordingLogger, SMOKE, smokeTelemetry, snapshot } from './fixtures.js';

const NOW = 1_700_000_000_000;
const DAY = 86_400_000;

class FakeSink implements LineSink {
  lines: string[] = [];
  accept = true;
  write(lines: readonly string[], count: number): boolean {
    if (!this.accept) return false;
    for (let i = 0; i < count; i++) this.lines.push(lines[i]!);
    return true;
  }
}

function setup() {
  const sink = new FakeSink();
  const { logger, warns } = recordingLogger();
  const pipeline = new TelemetryPipeline({ registry: { current: snapshot() }, sink, logger });
  return { sink, warns, pipeline };
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('TelemetryPipeline: heartbeat hook', () => {
  it('counts telemetry, events and live online statuses as reports; not a last will, a retained replay or a reject', () => {
    const seen: Array<[string, number]> = [];
    const { logger } = recordingLogger();
    const pipeline = new TelemetryPipeline({
      registry: { current: snapshot() },
      sink: new FakeSink(),
      logger,
      onSeen: (id, at) => seen.push([id, at]),
    });
    pipeline.handleMessage(deviceTopic('sd-1', 'telemetry'), json(smokeTelemetry(NOW)), NOW);
    pipeline.handleMessage(
      deviceTopic('sd-1', 'event'),
      json({ v: 1, id: 'e1', ts: NOW, seq: 1, type: 'low_battery' }),
      NOW + 1,
    );
    pipeline.handleMessage(deviceTopic('sd-1', 'status'), json({ v: 1, ts: NOW, state: 'online' }), NOW + 2);
    pipeline.handleMessage(deviceTopic('sd-1', 'status'), json({ v: 1, ts: NOW, state: 'offline' }), NOW + 3);
    pipeline.handleMessage(
      deviceTopic('sd-1', 'status'),
      json({ v: 1, ts: NOW, state: 'online' }),
      NOW + 4,
      true,
    );
    pipeline.handleMessage(deviceTopic('sd-1', 'telemetry'), json({ bad: true }), NOW + 5);
    expect(seen).toEqual([
      ['sd-1', NOW],
      ['sd-1', NOW + 1],
      ['sd-1', NOW + 2],
    ]);
  });
});

describe('TelemetryPipeline: accepted messages', () => {
  it('writes smoke telemetry with the device time', () => {
    const { sink, pipeline } = setup();
    expect(
      pipeline.handleMessage(deviceTopic('sd-1', 'telemetry'), json(smokeTelemetry(NOW - 1000)), NOW),
    ).toBe('written');
    expect(sink.lines).toHaveLength(1);
    expect(sink.lines[0]).toMatch(
      /^smoke,device=sd-1,kind=smoke,model=NB-SD01,township=tw-1 .* 1699999999000$/,
    );
    expect(pipeline.stats.telemetry).toBe(1);
    expect(pipeline.stats.lines).toBe(1);
    expect(pipeline.stats.clockSkew).toBe(0);
  });

  it('writes one line per circuit and reuses nothing across messages', () => {
    const { sink, pipeline } = setup();
    pipeline.handleMessage(deviceTopic('em-1', 'telemetry'), json(electricTelemetry(NOW)), NOW);
    pipeline.handleMessage(deviceTopic('sd-1', 'telemetry'), json(smokeTelemetry(NOW)), NOW);
    expect(sink.lines.map((l) => l.slice(0, l.indexOf(',')))).toEqual([
      'electric_circuit',
      'electric_circuit',
      'smoke',
    ]);
    expect(pipeline.stats.lines).toBe(3);
  });

  it('stamps with the receive time and counts clock skew when the device clock is off by more than 24 h', () => {
    const { sink, pipeline } = setup();
    pipeline.handleMessage(deviceTopic('sd-1', 'telemetry'), json(smokeTelemetry(NOW - DAY - 1)), NOW);
    pipeline.handleMessage(deviceTopic('sd-1', 'telemetry'), json(smokeTelemetry(NOW + DAY + 1)), NOW);
    pipeline.handleMessage(deviceTopic('sd-1', 'telemetry'), json(smokeTelemetry(NOW - DAY)), NOW);
    expect(sink.lines.map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)))).toEqual([NOW, NOW, NOW - DAY]);
    expect(pipeline.stats.clockSkew).toBe(2);
  });

  it('records events and statuses; a device without a known building gets no township tag', () => {
    const { sink, pipeline } = setup();
    const ev = { v: 1, id: 'e1', ts: NOW, seq: 1, type: 'alarm', value: 12.5 };
    expect(pipeline.handleMessage(deviceTopic('sd-1', 'event'), json(ev), NOW)).toBe('written');
    expect(
      pipeline.handleMessage(deviceTopic(ORPHAN.id, 'status'), json({ v: 1, ts: NOW, state: 'online' }), NOW),
    ).toBe('written');
    expect(sink.lines[0]).toMatch(/^device_event,device=sd-1,.*,township=tw-1 type="alarm",value=12.5,/);
    expect(sink.lines[1]).toBe(
      'device_status,device=sd-orphan,kind=smoke,model=NB-SD01 state="online",building="b-missing" ' + NOW,
    );
    expect(pipeline.stats.events).toBe(1);
    expect(pipeline.stats.statuses).toBe(1);
  });

  it('skips a replayed retained status whose clock is not trusted, records a trusted one', () => {
    const { sink, pipeline } = setup();
    const old = json({ v: 1, ts: NOW - 3 * DAY, state: 'online' });
    expect(pipeline.handleMessage(deviceTopic('sd-1', 'status'), old, NOW, true)).toBe('skipped');
    expect(
      pipeline.handleMessage(
        deviceTopic('sd-1', 'status'),
        json({ v: 1, ts: NOW - 5, state: 'online' }),
        NOW,
        true,
      ),
    ).toBe('written');
    expect(pipeline.stats.staleRetained).toBe(1);
    expect(sink.lines).toHaveLength(1);
  });

  it('reports "dropped" and counts it when the sink refuses', () => {
    const { sink, pipeline } = setup();
    sink.accept = false;
    expect(pipeline.handleMessage(deviceTopic('sd-1', 'telemetry'), json(smokeTelemetry(NOW)), NOW)).toBe(
      'dropped',
    );
    expect(pipeline.stats.sinkRefused).toBe(1);
    expect(pipeline.stats.lines).toBe(0);
  });
});

describe('TelemetryPipeline: rejections', () => {
  const cases: Array<[string, string, Buffer | string, string]> = [
    ['topic outside the tree', 'other/sd-1/telemetry', json(smokeTelemetry(NOW)), REJECT_CODES.TOPIC],
    ['station topic', stationTopic('st-1', 'reply'), json({}), REJECT_CODES.TOPIC],
    ['cmd channel', deviceTopic('sd-1', 'cmd'), json({}), REJECT_CODES.TOPIC],
    [
      'unknown device',
      deviceTopic('nobody', 'telemetry'),
      json(smokeTelemetry(NOW)),
      REJECT_CODES.UNKNOWN_DEVICE,
    ],
    [
      'oversize payload',
      deviceTopic('sd-1', 'telemetry'),
      Buffer.alloc(16 * 1024 + 1, 32),
      REJECT_CODES.TOO_LARGE,
    ],
    ['invalid JSON', deviceTopic('sd-1', 'telemetry'), Buffer.from('{"v":1,'), REJECT_CODES.INVALID_JSON],
    ['JSON array', deviceTopic('sd-1', 'event'), Buffer.from('[1]'), REJECT_CODES.INVALID_JSON],
    [
      'schema violation',
      deviceTopic('sd-1', 'telemetry'),
      json(smokeTelemetry(NOW, { battery: 101 })),
      REJECT_CODES.SCHEMA,
    ],
    [
      'bad status',
      deviceTopic('sd-1', 'status'),
      json({ v: 1, ts: NOW, state: 'sleeping' }),
      REJECT_CODES.SCHEMA,
    ],
    [
      'kind mismatch',
      deviceTopic('sd-1', 'telemetry'),
      json(electricTelemetry(NOW)),
      REJECT_CODES.KIND_MISMATCH,
    ],
  ];

  for (const [name, topic, payload, code] of cases) {
    it(`${name} → ${code}, counted and logged at warn with the device id`, () => {
      const { sink, warns, pipeline } = setup();
      expect(pipeline.handleMessage(topic, payload, NOW)).toBe(code);
      expect(sink.lines).toEqual([]);
      expect(pipeline.stats.rejected[code as keyof typeof pipeline.stats.rejected]).toBe(1);
      const total = Object.values(pipeline.stats.rejected).reduce((a, b) => a + b, 0);
      expect(total).toBe(1);
      expect(warns).toHaveLength(1);
      expect(warns[0]!.obj.code).toBe(code);
      const expectedId =
        code === REJECT_CODES.TOPIC && !topic.startsWith('v1/dev/') ? undefined : topic.split('/')[2];
      expect(warns[0]!.obj.deviceId).toBe(expectedId);
    });
  }

  it('logs at most one line per device per minute but counts every rejection', () => {
    const { warns, pipeline } = setup();
    const bad = Buffer.from('not json');
    for (let i = 0; i < 100; i++)
      pipeline.handleMessage(deviceTopic('sd-1', 'telemetry'), bad, NOW + i * 100);
    pipeline.handleMessage(deviceTopic('em-1', 'telemetry'), bad, NOW);
    expect(pipeline.stats.rejected.E_INVALID_JSON).toBe(101);
    expect(warns.map((w) => w.obj.deviceId)).toEqual(['sd-1', 'em-1']);
    pipeline.handleMessage(deviceTopic('sd-1', 'telemetry'), bad, NOW + 60_000);
    expect(warns).toHaveLength(3);
    expect(warns[2]!.obj.suppressed).toBe(99);
  });

  it('never throws on garbage: each message is a counted rejection, nothing is written', () => {
    const { sink, pipeline } = setup();
    const topics = [
      '',
      '/',
      'v1/dev/',
      'v1/dev//telemetry',
      'v1/dev/+/telemetry',
      'v1/dev/a b/telemetry',
      deviceTopic(SMOKE.id, 'telemetry'),
    ];
    const payloads = [
      Buffer.alloc(0),
      Buffer.from([0xff, 0xfe, 0x00]),
      Buffer.from('null'),
      Buffer.from('{"v":1}'),
      '',
    ];
    const codes = new Set<string>(Object.values(REJECT_CODES));
    for (const t of topics)
      for (const p of payloads) {
        let result: string | undefined;
        expect(() => {
          result = pipeline.handleMessage(t, p, NOW);
        }).not.toThrow();
        expect(codes.has(result!), `${JSON.stringify(t)} → ${result}`).toBe(true);
      }
    expect(sink.lines).toEqual([]);
    const total = Object.values(pipeline.stats.rejected).reduce((a, b) => a + b, 0);
    expect(total).toBe(topics.length * payloads.length);
  });
});
