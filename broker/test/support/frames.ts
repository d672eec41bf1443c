/**
 * Hand-built MQTT 3.1.1 frames for packets mqtt.js and mqtt-packet refuse to generate
 * (invalid UTF-8, NUL, message id 0, reserved flags, bad remaining lengths). Strings
 * are given as Buffers when their bytes matter.
 */

type Bytes = Buffer | string;

function bytes(b: Bytes): Buffer {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}

/** A length-prefixed MQTT string/binary field. */
export function field(b: Bytes): Buffer {
  const body = bytes(b);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([len, body]);
}

/** The variable-length "remaining length" (1-4 bytes). */
export function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

export function frame(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), remainingLength(body.length), body]);
}

export interface ConnectSpec {
  clientId: Bytes;
  username?: Bytes;
  password?: Bytes;
  clean?: boolean;
  keepalive?: number;
  will?: { topic: Bytes; payload: Bytes; qos?: 0 | 1; retain?: boolean };
  /** Raw connect-flags override (reserved bit tests). */
  flags?: number;
  protocolName?: string;
}

export function connectFrame(spec: ConnectSpec): Buffer {
  let flags = 0;
  if (spec.clean !== false) flags |= 0x02;
  if (spec.will) {
    flags |= 0x04;
    flags |= (spec.will.qos ?? 0) << 3;
    if (spec.will.retain) flags |= 0x20;
  }
  if (spec.password !== undefined) flags |= 0x40;
  if (spec.username !== undefined) flags |= 0x80;
  if (spec.flags !== undefined) flags = spec.flags;
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(spec.keepalive ?? 0);
  const parts = [
    field(spec.protocolName ?? 'MQTT'),
    Buffer.from([4, flags]),
    keepalive,
    field(spec.clientId),
  ];
  if (spec.will) parts.push(field(spec.will.topic), field(spec.will.payload));
  if (spec.username !== undefined) parts.push(field(spec.username));
  if (spec.password !== undefined) parts.push(field(spec.password));
  return frame(0x10, Buffer.concat(parts));
}

export function publishFrame(
  topic: Bytes,
  payload: Bytes,
  qos: 0 | 1,
  messageId = 1,
  retain = false,
): Buffer {
  const parts = [field(topic)];
  if (qos > 0) {
    const id = Buffer.alloc(2);
    id.writeUInt16BE(messageId);
    parts.push(id);
  }
  parts.push(bytes(payload));
  return frame(0x30 | (qos << 1) | (retain ? 1 : 0), Buffer.concat(parts));
}

export function subscribeFrame(filter: Bytes, messageId: number, firstByte = 0x82): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  return frame(firstByte, Buffer.concat([id, field(filter), Buffer.from([1])]));
}
