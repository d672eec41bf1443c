import type { Incident } from '@hub/protocol';
import { type Corroboration, temperatureConfirms, type VerificationParams } from './verification.js';

/**
 * Fault quarantine (issue 4: "a flapping detector or repeated alarms from one device
 * do not page again"). Within an open incident repeats already fold; this covers the
 * detector that keeps alarming after a station closed its incident as `device_fault`
 * (设备故障): every device that alarmed in that incident is quarantined for
 * `HUB_FAULT_QUARANTINE_MS` (30 min; 0 = off). The station reply carries no device
 * list, so the close quarantines all of the incident's devices.
 *
 * SAFETY RULE — suppression never hides a corroborated fire. A quarantined device's
 * alarm is held back only when it is ALONE. It pages at once, as a normal incident,
 * when any of these holds:
 *   - the alarm carries a temperature at or above the verification heat threshold
 *     (`HUB_CONFIRM_HEAT_C`, the same one that confirms an incident);
 *   - a corroborating electrical / charging event (arc fault, over-temperature, short
 *     circuit, port over-temperature, smoke linkage) was seen in the building within
 *     the verification window (`HUB_CONFIRM_WINDOW_MS`);
 *   - another detector of the building alarmed within that window: a non-quarantined
 *     one opens its own incident anyway (and this one folds into it), and a second
 *     quarantined one is remembered per building (`lastSuppressed`), so two
 *     quarantined detectors agreeing page too;
 *   - the building already has an open fire incident (the alarm folds into it; the
 *     engine checks that before asking here).
 * A suppressed alarm is never dropped: it is recorded (unpaged audit), counted, and
 * opens or updates the building's `fault` hazard ticket so the grid officer replaces
 * the device. Pure functions with injected time; the engine keeps the state in Redis
 * (per-device key with a TTL written in the same Lua commit as the close).
 */

export const DEFAULT_FAULT_QUARANTINE_MS = 30 * 60_000;

/** Stored per device (alerts-keys `faultQuarantine`) while the quarantine lasts. */
export interface QuarantineEntry {
  readonly deviceId: string;
  readonly buildingId: string;
  /** The incident closed as device_fault that started it. */
  readonly incidentId: string;
  readonly since: number;
  readonly until: number;
}

/** The latest suppressed alarm of a building (kept for the verification window). */
export interface SuppressedAlarm {
  readonly deviceId: string;
  readonly at: number;
}

/** What the engine loaded for a device about to open an incident. */
export interface QuarantineState {
  readonly entry: QuarantineEntry | null;
  readonly lastSuppressed: SuppressedAlarm | null;
}

export type OverrideReason = 'heat' | 'corroboration' | 'second_detector';

export type QuarantineVerdict =
  /** Not quarantined (or the window passed): decide as usual. */
  | { readonly kind: 'none' }
  /** Quarantined, but the alarm is corroborated: page as usual, audit why. */
  | { readonly kind: 'override'; readonly reason: OverrideReason; readonly entry: QuarantineEntry }
  /** Quarantined and alone: record, count, fault ticket; no page. */
  | { readonly kind: 'suppress'; readonly entry: QuarantineEntry };

/** The devices a close quarantines: all of the incident's, when closed as device_fault. */
export function quarantineOnClose(incident: Incident, windowMs: number, now: number): QuarantineEntry[] {
  if (windowMs <= 0 || incident.state !== 'closed' || incident.disposition !== 'device_fault') return [];
  return incident.deviceIds.map((deviceId) => ({
    deviceId,
    buildingId: incident.buildingId,
    incidentId: incident.id,
    since: now,
    until: now + windowMs,
  }));
}

/**
 * Whether an alarm of `deviceId` that would open an incident (no open incident in
 * the building) is held back. See the safety rule above; the order of the checks
 * only chooses which reason is audited.
 */
export function quarantineVerdict(
  vp: VerificationParams,
  state: QuarantineState | null | undefined,
  deviceId: string,
  tempC: number | undefined,
  corroboration: Corroboration | null | undefined,
  now: number,
): QuarantineVerdict {
  const entry = state?.entry ?? null;
  if (entry === null || entry.deviceId !== deviceId || now >= entry.until) return { kind: 'none' };
  if (temperatureConfirms(vp, null, tempC)) return { kind: 'override', reason: 'heat', entry };
  if (
    corroboration !== null &&
    corroboration !== undefined &&
    Math.abs(now - corroboration.at) <= vp.corroborationWindowMs
  ) {
    return { kind: 'override', reason: 'corroboration', entry };
  }
  const last = state?.lastSuppressed ?? null;
  if (last !== null && last.deviceId !== deviceId && now - last.at <= vp.corroborationWindowMs) {
    return { kind: 'override', reason: 'second_detector', entry };
  }
  return { kind: 'suppress', entry };
}
