import { type InfluxHttp, type InfluxSeries, seriesRows } from './influx-http.js';
import { MEASUREMENTS, TELEMETRY_MEASUREMENTS } from './line-protocol.js';

/**
 * InfluxQL read helpers for the dashboard (device history, fleet counts).
 *
 * No value from a caller is ever pasted into a query raw: identifiers go through
 * `influxIdent` ("…" with `\` and `"` escaped), strings through `influxString`
 * ('…' with `\`, `'` and newlines escaped, which is every escape InfluxQL's scanner
 * knows), numbers must be finite integers. The builders are pure, so tests check the
 * exact text; the runners execute them through InfluxHttp.
 */

export class QueryArgumentError extends Error {
  readonly code = 'E_QUERY_ARGS';
  constructor(message: string) {
    super(message);
    this.name = 'QueryArgumentError';
  }
}

/** An InfluxQL double-quoted identifier. */
export function influxIdent(name: string): string {
  return '"' + escapeQuoted(name, 34) + '"';
}

/** An InfluxQL single-quoted string literal. */
export function influxString(value: string): string {
  return "'" + escapeQuoted(value, 39) + "'";
}

function escapeQuoted(value: string, quote: number): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    let rep: string | null = null;
    if (c === quote) rep = quote === 34 ? '\\"' : "\\'";
    else if (c === 92) rep = '\\\\';
    else if (c === 10) rep = '\\n';
    // InfluxQL has no escape for CR/NUL; a raw one ends the string with a parse error, so refuse.
    else if (c === 13 || c === 0)
      throw new QueryArgumentError('CR and NUL cannot appear in InfluxQL strings');
    if (rep === null) continue;
    out += value.slice(from, i) + rep;
    from = i + 1;
  }
  return from === 0 ? value : out + value.slice(from);
}

function epochMs(name: string, v: number): string {
  if (!Number.isSafeInteger(v) || v < 0)
    throw new QueryArgumentError(`${name} must be a non-negative integer (ms)`);
  return v + 'ms';
}

function positiveInt(name: string, v: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < 1 || v > max)
    throw new QueryArgumentError(`${name} must be an integer 1..${max}`);
  return v;
}

const HISTORY_MEASUREMENTS = [
  MEASUREMENTS.smoke,
  MEASUREMENTS.electricCircuit,
  MEASUREMENTS.chargerPort,
  MEASUREMENTS.deviceEvent,
  MEASUREMENTS.deviceStatus,
] as const;

export const DEFAULT_HISTORY_LIMIT = 10_000;

/** Every point of one device in [fromMs, toMs), oldest first, at most `limit` per series. */
export function deviceHistoryQuery(
  deviceId: string,
  fromMs: number,
  toMs: number,
  limit = DEFAULT_HISTORY_LIMIT,
): string {
  const from = epochMs('fromMs', fromMs);
  const to = epochMs('toMs', toMs);
  if (toMs <= fromMs) throw new QueryArgumentError('toMs must be after fromMs');
  if (deviceId.length === 0) throw new QueryArgumentError('deviceId is empty');
  return (
    'SELECT * FROM ' +
    HISTORY_MEASUREMENTS.map(influxIdent).join(',') +
    ' WHERE "device" = ' +
    influxString(deviceId) +
    ' AND time >= ' +
    from +
    ' AND time < ' +
    to +
    ' ORDER BY time ASC LIMIT ' +
    positiveInt('limit', limit, 1_000_000)
  );
}

/**
 * Latest telemetry of a building's devices (ids from the registry: `building` is a
 * field, so we select by the `device` tag, which is indexed), one row per series
 * (device, circuit, port), within the last `windowMs`.
 */
export function buildingLatestQuery(deviceIds: readonly string[], windowMs = 86_400_000): string {
  if (deviceIds.length === 0) throw new QueryArgumentError('deviceIds is empty');
  if (deviceIds.length > 1000) throw new QueryArgumentError('at most 1000 devices per query');
  const w = positiveInt('windowMs', windowMs, 366 * 86_400_000);
  return (
    'SELECT last(*) FROM ' +
    TELEMETRY_MEASUREMENTS.map(influxIdent).join(',') +
    ' WHERE (' +
    deviceIds.map((id) => '"device" = ' + influxString(id)).join(' OR ') +
    ') AND time > now() - ' +
    w +
    'ms GROUP BY "device","ch","port"'
  );
}

export interface LatestReading {
  measurement: string;
  device: string;
  ch?: string;
  port?: string;
  /** Field name → latest value (InfluxDB names them `last_<field>`; the prefix is removed). */
  values: Record<string, unknown>;
}

export interface FleetCountsOptions {
  /** Devices that reported within this window count as reporting. Default 1 h. */
  windowMs?: number;
  /** Smoke detectors whose latest battery reading (last 24 h) is below this, %. Default 20. */
  lowBatteryPct?: number;
}

/**
 * Two statements: (0) devices that reported telemetry in the window, per measurement,
 * kind and township; (1) smoke detectors with a low latest battery, per township.
 * Counting distinct devices needs a subquery (`last` per device, then `count`);
 * InfluxDB has no COUNT(DISTINCT tag).
 */
export function fleetCountsQuery(opts: FleetCountsOptions = {}): string {
  const windowMs = positiveInt('windowMs', opts.windowMs ?? 3_600_000, 366 * 86_400_000);
  const low = opts.lowBatteryPct ?? 20;
  if (!Number.isFinite(low) || low < 0 || low > 100)
    throw new QueryArgumentError('lowBatteryPct must be 0..100');
  const from = TELEMETRY_MEASUREMENTS.map(influxIdent).join(',');
  return (
    'SELECT count("last") AS "devices" FROM (SELECT last("seq") FROM ' +
    from +
    ' WHERE time > now() - ' +
    windowMs +
    'ms GROUP BY "device","kind","township") GROUP BY "kind","township";' +
    'SELECT count("last") AS "devices" FROM (SELECT last("battery") FROM ' +
    influxIdent(MEASUREMENTS.smoke) +
    ' WHERE time > now() - 86400000ms GROUP BY "device","township") WHERE "last" < ' +
    low +
    ' GROUP BY "township"'
  );
}

export interface DeviceHistorySeries {
  measurement: string;
  rows: Array<Record<string, unknown>>;
}

export interface FleetCount {
  measurement: string;
  kind: string;
  township: string;
  devices: number;
}

export interface FleetCounts {
  reporting: FleetCount[];
  lowBattery: Array<{ township: string; devices: number }>;
}

function countOf(s: InfluxSeries): number {
  const i = s.columns.indexOf('devices');
  const v = s.values?.[0]?.[i];
  return typeof v === 'number' ? v : 0;
}

/** Query runners bound to one database. */
export function createInfluxQueries(http: InfluxHttp, database: string) {
  return {
    async deviceHistory(
      deviceId: string,
      fromMs: number,
      toMs: number,
      limit?: number,
    ): Promise<DeviceHistorySeries[]> {
      const [result] = await http.query(deviceHistoryQuery(deviceId, fromMs, toMs, limit), database);
      return (result?.series ?? []).map((s) => ({ measurement: s.name, rows: seriesRows(s) }));
    },

    /** Latest telemetry per device/circuit/port of the given devices (a building's). */
    async buildingLatest(deviceIds: readonly string[], windowMs?: number): Promise<LatestReading[]> {
      const [result] = await http.query(buildingLatestQuery(deviceIds, windowMs), database);
      return (result?.series ?? []).map((s) => {
        const row = seriesRows(s)[0] ?? {};
        const values: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(row)) {
          if (k.startsWith('last_') && v !== null) values[k.slice(5)] = v;
        }
        const tags = s.tags ?? {};
        const out: LatestReading = { measurement: s.name, device: tags.device ?? '', values };
        if (tags.ch) out.ch = tags.ch;
        if (tags.port) out.port = tags.port;
        return out;
      });
    },

    async fleetCounts(opts?: FleetCountsOptions): Promise<FleetCounts> {
      const [reporting, low] = await http.query(fleetCountsQuery(opts), database);
      return {
        reporting: (reporting?.series ?? []).map((s) => ({
          measurement: s.name,
          kind: s.tags?.kind ?? '',
          township: s.tags?.township ?? '',
          devices: countOf(s),
        })),
        lowBattery: (low?.series ?? []).map((s) => ({
          township: s.tags?.township ?? '',
          devices: countOf(s),
        })),
      };
    },
  };
}
export type InfluxQueries = ReturnType<typeof createInfluxQueries>;
