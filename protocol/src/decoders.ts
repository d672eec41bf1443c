import type { z } from 'zod';
import { type DeviceEvent, deviceEventSchema } from './events.js';
import { PAYLOAD_LIMITS } from './limits.js';
import { REJECT_CODES, type RejectCode } from './reject-codes.js';
import { type StationReply, stationReplySchema } from './station-messages.js';
import { type DeviceStatus, deviceStatusSchema } from './status.js';
import { type Telemetry, telemetrySchema } from './telemetry.js';

/**
 * Decoders for what devices and stations send: bytes in, a typed value or a
 * rejection with a stable code out. They never throw, so one bad packet cannot take
 * a service down.
 */
export type Decoded<T> = { ok: true; value: T } | { ok: false; code: RejectCode; message: string };

function decodeWith<T>(schema: z.ZodType<T>, limit: number, payload: Uint8Array | string): Decoded<T> {
  const size = typeof payload === 'string' ? payload.length : payload.byteLength;
  if (size > limit) {
    return { ok: false, code: REJECT_CODES.TOO_LARGE, message: `payload of ${size} bytes exceeds ${limit}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
  } catch (err) {
    return { ok: false, code: REJECT_CODES.INVALID_JSON, message: (err as Error).message };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { ok: false, code: REJECT_CODES.INVALID_JSON, message: 'payload is not a JSON object' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 0 ? first.path.join('.') + ': ' : '';
    return { ok: false, code: REJECT_CODES.SCHEMA, message: where + (first?.message ?? 'invalid') };
  }
  return { ok: true, value: parsed.data };
}

export function decodeTelemetry(payload: Uint8Array | string): Decoded<Telemetry> {
  return decodeWith(telemetrySchema, PAYLOAD_LIMITS.telemetry, payload);
}

export function decodeEvent(payload: Uint8Array | string): Decoded<DeviceEvent> {
  return decodeWith(deviceEventSchema, PAYLOAD_LIMITS.event, payload);
}

export function decodeStatus(payload: Uint8Array | string): Decoded<DeviceStatus> {
  return decodeWith(deviceStatusSchema, PAYLOAD_LIMITS.status, payload);
}

export function decodeStationReply(payload: Uint8Array | string): Decoded<StationReply> {
  return decodeWith(stationReplySchema, PAYLOAD_LIMITS.reply, payload);
}
