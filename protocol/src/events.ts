import { z } from 'zod';
import type { DeviceKind } from './device-kinds.js';
import { envelopeShape } from './envelope.js';

/**
 * Device events, published QoS 1 on `v1/dev/{id}/event`. The broker records them
 * durably before it acknowledges (PUBACK), so a device that got its PUBACK may
 * forget the event.
 */
export const EVENT_TYPES = [
  // any device
  'alarm',
  'alarm_cleared',
  'test',
  'mute',
  'tamper',
  'low_battery',
  'fault',
  'self_test',
  // smart-electricity monitors (per circuit)
  'leakage',
  'over_temperature',
  'overcurrent',
  'short_circuit',
  'arc_fault',
  // e-bike charging stations (per port)
  'port_over_temperature',
  'over_power',
  'abnormal_charge_curve',
  'smoke_linkage',
  'port_fault',
  // written by the hub (ingest's heartbeat supervision), never by a device in practice
  /** The device missed its heartbeat (silent past interval × grace): offline lane. */
  'offline',
  /** A silent device reported again (recovery of `offline`): recorded only. */
  'online',
  /**
   * Hub threshold rule: a detector's smoke value rose over several readings without
   * (yet) an alarm — smouldering, or a dirty chamber; the grid officer checks (fault lane).
   */
  'smoke_rising',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const deviceEventSchema = z.object({
  ...envelopeShape,
  type: z.enum(EVENT_TYPES),
  /** Circuit (electric) or port (charger) the event concerns. */
  channel: z.number().int().min(1).max(128).optional(),
  /** The reading that triggered it (smoke %/m, mA, °C, W), when there is one. */
  value: z.number().optional(),
  /** Self-test result. */
  result: z.enum(['pass', 'fail']).optional(),
  /** Free vendor detail, short. */
  detail: z.string().max(200).optional(),
  /**
   * Temperature at the sensor when the event was raised (°C), when the device has one.
   * A rising temperature across a building's alarms confirms a fire (alerts).
   */
  tempC: z.number().min(-60).max(1500).optional(),
});
export type DeviceEvent = z.infer<typeof deviceEventSchema>;

/**
 * Lanes of the alerts service. The fire lane is never queued behind the others:
 * the broker writes fire events to their own stream.
 */
export const LANES = ['fire', 'electrical', 'charging', 'fault', 'offline', 'info'] as const;
export type Lane = (typeof LANES)[number];

/**
 * Which lane an event belongs to. `smoke_linkage` from a charging station is a
 * fire signal (its own smoke sensor fired), not a charging hazard.
 * `alarm_cleared` rides the fire lane so it stays ordered with the alarm it clears.
 * `test` and `mute` are recorded only ('info').
 */
export function laneOf(type: EventType, _kind?: DeviceKind): Lane {
  switch (type) {
    case 'alarm':
    case 'alarm_cleared':
    case 'smoke_linkage':
      return 'fire';
    case 'leakage':
    case 'over_temperature':
    case 'overcurrent':
    case 'short_circuit':
    case 'arc_fault':
      return 'electrical';
    case 'port_over_temperature':
    case 'over_power':
    case 'abnormal_charge_curve':
    case 'port_fault':
      return 'charging';
    case 'tamper':
    case 'low_battery':
    case 'fault':
    case 'self_test':
      return 'fault';
    case 'offline':
      return 'offline';
    case 'smoke_rising':
      return 'fault';
    case 'test':
    case 'mute':
    case 'online':
      return 'info';
  }
}

/** Event types the hub writes itself (ingest's heartbeat supervision and threshold rules). */
const HUB_WRITTEN: ReadonlySet<EventType> = new Set<EventType>(['offline', 'online', 'smoke_rising']);

/**
 * Whether a device of this kind can raise this event: circuit events come from
 * electricity monitors, port events from charging stations, and the hub's own types
 * (`offline`, `online`, `smoke_rising`) from no device. Fire-lane events (`alarm`,
 * `alarm_cleared`, `smoke_linkage`) and the common ones (`test`, `fault`, ...) fit every
 * kind: a fire signal is never refused for its sender's kind.
 */
export function eventFitsKind(type: EventType, kind: DeviceKind): boolean {
  if (HUB_WRITTEN.has(type)) return false;
  switch (laneOf(type)) {
    case 'electrical':
      return kind === 'electric';
    case 'charging':
      return kind === 'charger';
    default:
      return true;
  }
}
