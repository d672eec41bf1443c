import { EVENT_STREAM_FIELDS } from '@hub/protocol';
import type { Logger } from 'pino';
import { ALERTS_CODES } from './alerts-codes.js';
import type { AlertsMetrics } from './alerts-metrics.js';
import type { DecisionRegistry } from './incident-decision.js';
import type { EngineResult } from './incident-engine.js';
import { fieldOf, type StreamEntry } from './stream-consumer.js';

/**
 * The parts both device-event lanes (fire-lane-consumer.ts, other-lane-consumer.ts)
 * share when they take an entry of `keys.fireEvents` / `keys.otherEvents` apart
 * (fields d/p/r, broker/src/durable-writer.ts): reading the fields, and the counted,
 * logged, acked rejection of bad input, which must never block the stream.
 */

/** Where a lane counts and logs its rejections; one per handler. */
export interface LaneRejections {
  /** Metric label: 'fire' or 'other'. */
  readonly stream: string;
  readonly metrics: AlertsMetrics;
  readonly logger: Logger;
}

/** The d/p/r fields of one entry. Caller-owned and reused: no allocation per entry. */
export interface EventFields {
  deviceId: string;
  payload: string;
  receivedAt: number;
}

export function newEventFields(): EventFields {
  return { deviceId: '', payload: '', receivedAt: 0 };
}

/** Counts `code`, logs it with the device and entry, and acks the entry. */
export function rejectEntry(
  lane: LaneRejections,
  acks: string[],
  entryId: string,
  deviceId: string | undefined,
  code: string,
  message: string,
): void {
  lane.metrics.rejections.inc({ stream: lane.stream, code });
  lane.logger.warn({ deviceId, entryId, code }, message);
  acks.push(entryId);
}

/**
 * Counts and logs an engine's rejection of a decoded event (the entry is acked by the
 * caller all the same: a rejected event must not block the stream).
 */
export function countRejected(
  lane: LaneRejections,
  res: EngineResult,
  deviceId: string,
  entryId: string,
): void {
  if (res.outcome !== 'rejected') return;
  lane.metrics.rejections.inc({ stream: lane.stream, code: res.code });
  lane.logger.warn({ deviceId, code: res.code, entryId }, res.message);
}

/**
 * Reads d/p/r of `e` into `out`. An entry missing one (or with a non-numeric r) is
 * rejected (E_BAD_ENTRY, acked) and false returned.
 */
export function readEventFields(
  lane: LaneRejections,
  acks: string[],
  e: StreamEntry,
  out: EventFields,
): boolean {
  const deviceId = fieldOf(e.fields, EVENT_STREAM_FIELDS.deviceId);
  const payload = fieldOf(e.fields, EVENT_STREAM_FIELDS.payload);
  const receivedAt = Number(fieldOf(e.fields, EVENT_STREAM_FIELDS.receivedAt));
  if (deviceId === undefined || payload === undefined || !Number.isFinite(receivedAt)) {
    rejectEntry(
      lane,
      acks,
      e.id,
      deviceId,
      ALERTS_CODES.BAD_ENTRY,
      `${lane.stream} stream entry without d/p/r`,
    );
    return false;
  }
  out.deviceId = deviceId;
  out.payload = payload;
  out.receivedAt = receivedAt;
  return true;
}

/** The building of a known device; an unknown device is rejected (acked) and undefined returned. */
export function buildingOfDevice(
  lane: LaneRejections,
  acks: string[],
  registry: DecisionRegistry,
  entryId: string,
  deviceId: string,
): string | undefined {
  const device = registry.devices.get(deviceId);
  if (device === undefined) {
    rejectEntry(lane, acks, entryId, deviceId, ALERTS_CODES.UNKNOWN_DEVICE, 'event from an unknown device');
    return undefined;
  }
  return device.buildingId;
}

/**
 * An entry the engines could not handle (Redis or MQTT failed): counted
 * (E_HANDLER_FAILED) and logged, not acked, so the claim pass retries it. Returns
 * false, runGrouped's "stop this building here".
 */
export function handlerFailed(
  lane: LaneRejections,
  err: unknown,
  deviceId: string,
  entryId: string,
  message: string,
): false {
  lane.metrics.rejections.inc({ stream: lane.stream, code: ALERTS_CODES.HANDLER_FAILED });
  lane.logger.error({ err, deviceId, entryId }, message);
  return false;
}
