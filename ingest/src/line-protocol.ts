import type { Device, DeviceEvent, DeviceStatus, Telemetry } from '@hub/protocol';

/**
 * Decoded device messages → InfluxDB line protocol (the schema is in ../README.md).
 *
 * Runs once per message at fleet rate, so: plain string concatenation, no Point
 * objects, no closures, no regex; escaping scans char codes and returns its input
 * untouched in the common case (ids and model names need no escaping).
 *
 * Escaping follows what InfluxDB 1.6 actually parses (checked against 1.6.7):
 * - tag values: `,` `=` and space are backslash-escaped. 1.6 keeps a backslash that
 *   precedes any other character, but a backslash just before an escaped character
 *   or at the end of the value breaks the line ("invalid tag format"), and there is
 *   no escape for a backslash. So backslashes in tag values become `/`, and CR, LF
 *   and TAB become `\r` `\n` `\t` (two characters, as the official client does).
 * - string field values: `"` and `\` are backslash-escaped; newlines are fine inside
 *   the quotes.
 * - measurement names and tag/field keys are constants of this file (no escaping at
 *   run time); `escapeMeasurement` exists for callers that build other names.
 */

export const MEASUREMENTS = {
  smoke: 'smoke',
  electricCircuit: 'electric_circuit',
  chargerPort: 'charger_port',
  deviceEvent: 'device_event',
  deviceStatus: 'device_status',
} as const;
export type Measurement = (typeof MEASUREMENTS)[keyof typeof MEASUREMENTS];

/** The measurements that carry periodic telemetry. */
export const TELEMETRY_MEASUREMENTS: readonly Measurement[] = [
  MEASUREMENTS.smoke,
  MEASUREMENTS.electricCircuit,
  MEASUREMENTS.chargerPort,
];

/** Device clocks further than this from the hub's are not trusted for the point time. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;

/** True when the device's clock is close enough to the hub's to stamp the point with it. */
export function isTrustedDeviceTime(deviceTs: number, receivedAt: number, maxSkewMs: number): boolean {
  const d = deviceTs - receivedAt;
  return d <= maxSkewMs && d >= -maxSkewMs;
}

function needsTagEscape(c: number): boolean {
  // , = space \ LF CR TAB
  return c === 44 || c === 61 || c === 32 || c === 92 || c === 10 || c === 13 || c === 9;
}

/** Escapes a tag key, tag value or field key (see the rules above). */
export function escapeTag(value: string): string {
  const n = value.length;
  let i = 0;
  while (i < n && !needsTagEscape(value.charCodeAt(i))) i++;
  if (i === n) return value;
  let out = value.slice(0, i);
  let from = i;
  for (; i < n; i++) {
    const c = value.charCodeAt(i);
    if (!needsTagEscape(c)) continue;
    out += value.slice(from, i);
    from = i + 1;
    if (c === 44) out += '\\,';
    else if (c === 61) out += '\\=';
    else if (c === 32) out += '\\ ';
    else if (c === 92) out += '/';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else out += '\\t';
  }
  return out + value.slice(from);
}

/** Escapes a measurement name: `,` and space (and CR/LF/TAB, which cannot appear raw). */
export function escapeMeasurement(value: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    let rep: string | null = null;
    if (c === 44) rep = '\\,';
    else if (c === 32) rep = '\\ ';
    else if (c === 10) rep = '\\n';
    else if (c === 13) rep = '\\r';
    else if (c === 9) rep = '\\t';
    if (rep === null) continue;
    out += value.slice(from, i) + rep;
    from = i + 1;
  }
  return from === 0 ? value : out + value.slice(from);
}

/** A string field value, quoted: `"` and `\` are escaped. */
export function quoteString(value: string): string {
  let from = 0;
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c !== 34 && c !== 92) continue;
    out += value.slice(from, i) + (c === 34 ? '\\"' : '\\\\');
    from = i + 1;
  }
  return from === 0 ? '"' + value + '"' : out + value.slice(from) + '"';
}

/**
 * Tags shared by every line of one message, in key order so InfluxDB does not have
 * to sort them: `head` = `,device=…,kind=…,model=…`, `tail` = `,township=…` (empty
 * when the building has no township). Per-line tags go between: `ch` sorts before
 * `device`, `port` between `model` and `township`.
 */
export interface SeriesTags {
  head: string;
  tail: string;
}

export function seriesTags(device: Device, township: string | undefined, out: SeriesTags): SeriesTags {
  // Device ids and kinds are validated ([A-Za-z0-9_-], enum); escaping them is a
  // no-op scan, kept so a registry bug can never corrupt a batch.
  let head = ',device=' + escapeTag(device.id) + ',kind=' + escapeTag(device.kind);
  const model = escapeTag(device.model);
  if (model.length > 0) head += ',model=' + model;
  out.head = head;
  out.tail = township !== undefined && township.length > 0 ? ',township=' + escapeTag(township) : '';
  return out;
}

/** Module-level scratch for the convenience functions below (single-threaded, not re-entrant). */
const scratchTags: SeriesTags = { head: '', tail: '' };

/**
 * Appends the lines of one telemetry message to `out` and returns how many were added
 * (1 for smoke, one per circuit or port otherwise). `timeMs` is the point time
 * chosen by the caller (see isTrustedDeviceTime).
 */
export function appendTelemetryLines(
  out: string[],
  t: Telemetry,
  device: Device,
  township: string | undefined,
  timeMs: number,
): number {
  const tags = seriesTags(device, township, scratchTags);
  const common = ',seq=' + t.seq + 'i,building=' + quoteString(device.buildingId) + ' ' + timeMs;
  switch (t.kind) {
    case 'smoke': {
      let fields = 'smoke=' + t.smoke + ',temp_c=' + t.tempC + ',battery=' + t.battery;
      if (t.rsrp !== undefined) fields += ',rsrp=' + t.rsrp;
      if (t.snr !== undefined) fields += ',snr=' + t.snr;
      out.push(MEASUREMENTS.smoke + tags.head + tags.tail + ' ' + fields + common);
      return 1;
    }
    case 'electric': {
      const circuits = t.circuits;
      for (let i = 0; i < circuits.length; i++) {
        const c = circuits[i]!;
        out.push(
          MEASUREMENTS.electricCircuit +
            ',ch=' +
            c.ch +
            tags.head +
            tags.tail +
            ' residual_ma=' +
            c.residualMa +
            ',temp_c=' +
            c.tempC +
            ',current_a=' +
            c.currentA +
            ',voltage_v=' +
            c.voltageV +
            ',power_w=' +
            c.powerW +
            ',arc_count=' +
            c.arcCount +
            'i' +
            common,
        );
      }
      return circuits.length;
    }
    case 'charger': {
      const ports = t.ports;
      for (let i = 0; i < ports.length; i++) {
        const p = ports[i]!;
        let fields =
          'state=' +
          quoteString(p.state) +
          ',power_w=' +
          p.powerW +
          ',current_a=' +
          p.currentA +
          ',voltage_v=' +
          p.voltageV +
          ',temp_c=' +
          p.tempC +
          ',energy_wh=' +
          p.energyWh;
        if (p.stopReason !== undefined) fields += ',stop_reason=' + quoteString(p.stopReason);
        out.push(
          MEASUREMENTS.chargerPort + tags.head + ',port=' + p.port + tags.tail + ' ' + fields + common,
        );
      }
      return ports.length;
    }
  }
}

/** One `device_event` line. */
export function eventLine(
  e: DeviceEvent,
  device: Device,
  township: string | undefined,
  timeMs: number,
): string {
  const tags = seriesTags(device, township, scratchTags);
  let fields = 'type=' + quoteString(e.type);
  if (e.value !== undefined) fields += ',value=' + e.value;
  if (e.channel !== undefined) fields += ',channel=' + e.channel + 'i';
  if (e.result !== undefined) fields += ',result=' + quoteString(e.result);
  if (e.detail !== undefined) fields += ',detail=' + quoteString(e.detail);
  fields += ',msg_id=' + quoteString(e.id) + ',seq=' + e.seq + 'i,building=' + quoteString(device.buildingId);
  return MEASUREMENTS.deviceEvent + tags.head + tags.tail + ' ' + fields + ' ' + timeMs;
}

/** One `device_status` line. */
export function statusLine(
  s: DeviceStatus,
  device: Device,
  township: string | undefined,
  timeMs: number,
): string {
  const tags = seriesTags(device, township, scratchTags);
  let fields = 'state=' + quoteString(s.state);
  if (s.fw !== undefined) fields += ',fw=' + quoteString(s.fw);
  if (s.reason !== undefined) fields += ',reason=' + quoteString(s.reason);
  fields += ',building=' + quoteString(device.buildingId);
  return MEASUREMENTS.deviceStatus + tags.head + tags.tail + ' ' + fields + ' ' + timeMs;
}
