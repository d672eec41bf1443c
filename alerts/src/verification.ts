import type { Building, Incident, Township } from '@hub/protocol';

/**
 * Verification without delay (domain.md, "How an alarm should flow" 3): the first
 * page never waits; these signals only raise the incident to `confirmed`:
 * - a second, different detector in the same building (folds into the incident);
 * - an electrical arc fault or over-temperature, or a charging smoke linkage / port
 *   over-temperature, in the same building within `corroborationWindowMs` of the
 *   incident's opening (either order: the hazard may come first);
 * - a rising temperature in the alarms' payload (`tempC`): at or above
 *   `heatConfirmC` (a fixed-temperature heat detector's class A1 is 54-65 °C), or
 *   `riseConfirmC` above the first alarm's temperature;
 * - a human confirmation (operator action `confirm_incident`).
 * Confirmation prepares the 119 forwarding record and, when the incident's ladder
 * says so, skips the remaining station steps (see incident-decision.ts).
 */
export interface VerificationParams {
  readonly corroborationWindowMs: number;
  readonly heatConfirmC: number;
  readonly riseConfirmC: number;
}

export const DEFAULT_VERIFICATION: VerificationParams = Object.freeze({
  corroborationWindowMs: 120_000,
  heatConfirmC: 57,
  riseConfirmC: 8,
});

export type ConfirmReason = 'second_detector' | 'electrical' | 'charging' | 'temperature' | 'human';

/** Other-lane event types that corroborate a fire in the same building. */
export const CORROBORATING_TYPES: Readonly<Record<string, 'electrical' | 'charging'>> = Object.freeze({
  arc_fault: 'electrical',
  over_temperature: 'electrical',
  short_circuit: 'electrical',
  port_over_temperature: 'charging',
  smoke_linkage: 'charging',
});

/** A corroborating event seen in a building (kept for the window; see engine). */
export interface Corroboration {
  readonly kind: 'electrical' | 'charging';
  readonly type: string;
  readonly deviceId: string;
  readonly at: number;
}

/** Whether `tempC` (from an alarm folded into or opening `incident`) confirms it. */
export function temperatureConfirms(
  params: VerificationParams,
  firstTempC: number | null | undefined,
  tempC: number | undefined,
): boolean {
  if (tempC === undefined) return false;
  if (tempC >= params.heatConfirmC) return true;
  return firstTempC !== null && firstTempC !== undefined && tempC - firstTempC >= params.riseConfirmC;
}

export function withinWindow(params: VerificationParams, incident: Incident, at: number): boolean {
  return Math.abs(at - incident.openedAt) <= params.corroborationWindowMs;
}

const OCCUPANCY_ZH: Record<string, string> = {
  rental: '出租屋',
  self_built: '自建房',
  shop_residence: '下店上住自建房',
  small_venue: '九小场所',
  elderly_home: '养老院',
  residential: '居民楼',
  charging_site: '集中充电点',
};

/**
 * The 119 forwarding record: what a dispatcher needs, in one text, prepared when the
 * incident is confirmed so forwarding (by the ladder or a person) takes no lookup.
 */
export function forward119Text(
  incident: Incident,
  building: Building | undefined,
  township: Township | undefined,
  reason: string,
  now: number,
): string {
  const b = building;
  const parts = [
    `火警 ${incident.id}（已确认: ${reason}）`,
    b ? `${b.name}，${b.address}` : `建筑 ${incident.buildingId}`,
    b ? `${OCCUPANCY_ZH[b.occupancy] ?? b.occupancy}，${b.floors}层` : '',
    `首报 ${incident.firstFloor}层 ${incident.firstRoom}，探测器 ${incident.deviceIds.length} 个`,
    b ? `坐标 ${b.lat.toFixed(6)},${b.lon.toFixed(6)} (WGS-84)` : '',
    b && b.contacts.length > 0 ? `联系人 ${b.contacts.map((c) => `${c.name} ${c.phone}`).join('、')}` : '',
    township ? `${township.name}消防所 ${township.fireOfficePhone}` : '',
    `首报时间 ${new Date(incident.receivedAt).toISOString()}，确认时间 ${new Date(now).toISOString()}`,
  ];
  return parts.filter((p) => p !== '').join('；');
}
