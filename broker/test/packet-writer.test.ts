import { Writable } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import {
  encodePuback,
  encodePublish,
  installPacketWriter,
  markUrgent,
  packetWriterStats,
  URGENT_SYNC_IMMEDIATES,
  writingUrgently,
} from '../src/packet-writer.js';

/** mqtt-packet's own encoding of a packet (what aedes wrote before). */
function reference(packet: object): Buffer {
  return mqttPacket.generate(packet as mqttPacket.Packet);
}

/** A stream that records each call the stream machinery makes into the "socket". */
class Recorder extends Writable {
  calls = 0;
  readonly bytes: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.calls++;
    this.bytes.push(chunk);
    cb();
  }
  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.calls++;
    for (const c of chunks) this.bytes.push(c.chunk);
    cb();
  }
}

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('packet-writer: one buffer per PUBLISH / PUBACK, byte-identical to mqtt-packet', () => {
  const payloadSizes = [0, 1, 100, 120, 121, 122, 16_370, 16_380, 16_400, 70_000, 2_097_140, 2_097_160];
  it.each(payloadSizes)('PUBLISH with a %i-byte payload (around each remaining-length boundary)', (size) => {
    for (const qos of [0, 1, 2] as const) {
      for (const [dup, retain] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const packet = {
          cmd: 'publish' as const,
          topic: 'v1/dev/sd-000123/event',
          payload: Buffer.alloc(size, 0x61),
          qos,
          dup,
          retain,
          ...(qos > 0 ? { messageId: 1 + (size % 65_535) } : {}),
        };
        expect(encodePublish(packet)?.equals(reference(packet))).toBe(true);
      }
    }
  });

  it('string payloads and multi-byte UTF-8 topics', () => {
    const packet = {
      cmd: 'publish' as const,
      topic: 'v1/站/s01/page',
      payload: '{"building":"幸福小区 3 栋","text":"火警"}',
      qos: 1 as const,
      messageId: 300,
      dup: false,
      retain: false,
    };
    expect(encodePublish(packet)?.equals(reference(packet))).toBe(true);
  });

  it('PUBACK for message ids 1, 255, 256 and 65535', () => {
    for (const messageId of [1, 255, 256, 65_535]) {
      expect(
        encodePuback({ cmd: 'puback', messageId })?.equals(reference({ cmd: 'puback', messageId })),
      ).toBe(true);
    }
  });

  it('leaves to mqtt-packet what it cannot encode exactly: properties, Buffer topics, a missing message id', () => {
    expect(encodePublish({ cmd: 'publish', topic: 't', payload: 'x', qos: 0, properties: {} })).toBeNull();
    expect(encodePublish({ cmd: 'publish', topic: Buffer.from('t'), payload: 'x', qos: 0 })).toBeNull();
    expect(encodePublish({ cmd: 'publish', topic: 't', payload: 'x', qos: 1 })).toBeNull();
    expect(encodePublish({ cmd: 'publish', topic: '', payload: 'x', qos: 0 })).toBeNull();
    expect(encodePuback({ cmd: 'puback' })).toBeNull();
  });
});

describe('packet-writer: one flush per connection per event-loop turn', () => {
  let uninstall: (() => void) | null = null;
  afterEach(() => {
    uninstall?.();
    uninstall = null;
  });

  it('many packets written in one turn reach the socket in one call, in order; the next turn is a new flush', async () => {
    uninstall = installPacketWriter();
    const s = new Recorder();
    const packets: object[] = [];
    for (let i = 1; i <= 200; i++) {
      packets.push({
        cmd: 'publish',
        topic: `v1/dev/d${i}/event`,
        payload: `{"n":${i}}`,
        qos: 1,
        messageId: i,
      });
      packets.push({ cmd: 'puback', messageId: i });
    }
    // A SUBACK goes through mqtt-packet's own encoder, on the same corked stream.
    packets.push({ cmd: 'suback', messageId: 7, granted: [1] });
    const before = packetWriterStats.fastPackets;
    // Immediates, as aedes schedules its deliveries: each in its own setImmediate.
    await new Promise<void>((resolve) => {
      let left = packets.length;
      for (const p of packets)
        setImmediate(() => {
          mqttPacket.writeToStream(p as mqttPacket.Packet, s);
          if (--left === 0) resolve();
        });
    });
    expect(s.calls).toBe(0); // still corked until the next check phase
    await nextTurn();
    await nextTurn();
    expect(s.calls).toBe(1);
    expect(Buffer.concat(s.bytes).equals(Buffer.concat(packets.map((p) => reference(p))))).toBe(true);
    expect(packetWriterStats.fastPackets - before).toBe(400);

    mqttPacket.writeToStream({ cmd: 'puback', messageId: 9 }, s);
    await nextTurn();
    expect(s.calls).toBe(2);
  });

  it("a fire alarm's PUBACK and deliveries leave at once, behind what waited on the connection", async () => {
    uninstall = installPacketWriter();
    const s = new Recorder();
    const sub = new Recorder();
    const telemetry = {
      cmd: 'publish',
      topic: 'v1/dev/d1/telemetry',
      payload: Buffer.from('{"t":1}'),
      qos: 0,
    };
    mqttPacket.writeToStream({ cmd: 'puback', messageId: 1 } as mqttPacket.Packet, s);
    mqttPacket.writeToStream(telemetry as mqttPacket.Packet, sub);
    expect(s.calls + sub.calls).toBe(0); // corked, as any packet
    const before = packetWriterStats.urgentWrites;

    writingUrgently(() => mqttPacket.writeToStream({ cmd: 'puback', messageId: 2 } as mqttPacket.Packet, s));
    expect(s.calls).toBe(1); // before any check phase: the waiting PUBACK 1 first, then 2
    expect(
      Buffer.concat(s.bytes).equals(
        Buffer.concat([
          reference({ cmd: 'puback', messageId: 1 }),
          reference({ cmd: 'puback', messageId: 2 }),
        ]),
      ),
    ).toBe(true);

    const alarmPayload = Buffer.from('{"type":"alarm"}');
    markUrgent(alarmPayload);
    // aedes gives each subscriber its own packet object around the same payload buffer.
    const delivery = {
      cmd: 'publish',
      topic: 'v1/dev/d9/event',
      payload: alarmPayload,
      qos: 1,
      messageId: 5,
    };
    mqttPacket.writeToStream(delivery as mqttPacket.Packet, sub);
    expect(sub.calls).toBe(1);
    expect(Buffer.concat(sub.bytes).equals(Buffer.concat([reference(telemetry), reference(delivery)]))).toBe(
      true,
    );
    expect(packetWriterStats.urgentWrites - before).toBe(2);

    // Outside the urgent window, and for other payloads, writes wait for the turn again.
    mqttPacket.writeToStream({ cmd: 'puback', messageId: 3 } as mqttPacket.Packet, s);
    mqttPacket.writeToStream(
      { ...delivery, payload: Buffer.from('{"type":"test"}') } as mqttPacket.Packet,
      sub,
    );
    expect(s.calls).toBe(1);
    expect(sub.calls).toBe(1);
    await nextTurn();
    await nextTurn();
    expect(s.calls).toBe(2);
    expect(sub.calls).toBe(2);
  });

  it("inside a fire alarm's continuation the first setImmediate hops run at once, the rest as usual", async () => {
    const real = globalThis.setImmediate;
    const ran: number[] = [];
    writingUrgently(() => {
      for (let i = 0; i < URGENT_SYNC_IMMEDIATES + 3; i++) setImmediate(() => ran.push(i));
      expect(ran).toHaveLength(URGENT_SYNC_IMMEDIATES);
    });
    expect(globalThis.setImmediate).toBe(real);
    setImmediate(() => ran.push(-1));
    expect(ran).toHaveLength(URGENT_SYNC_IMMEDIATES);
    await nextTurn();
    expect(ran.slice(URGENT_SYNC_IMMEDIATES)).toEqual([
      URGENT_SYNC_IMMEDIATES,
      URGENT_SYNC_IMMEDIATES + 1,
      URGENT_SYNC_IMMEDIATES + 2,
      -1,
    ]);
    // Restored when the continuation throws, too.
    expect(() =>
      writingUrgently(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(globalThis.setImmediate).toBe(real);
  });

  it('uninstalled, mqtt-packet writes as before (several writes per packet, no cork across turns)', async () => {
    const off = installPacketWriter();
    off();
    const s = new Recorder();
    mqttPacket.writeToStream(
      { cmd: 'publish', topic: 't/x', payload: 'abc', qos: 0 } as mqttPacket.Packet,
      s,
    );
    await nextTurn();
    expect(s.calls).toBeGreaterThan(0);
    expect(
      Buffer.concat(s.bytes).equals(reference({ cmd: 'publish', topic: 't/x', payload: 'abc', qos: 0 })),
    ).toBe(true);
  });
});
