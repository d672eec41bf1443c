import type { InfluxHttp } from './influx-http.js';
import { MEASUREMENTS } from './line-protocol.js';
import { influxIdent } from './queries.js';

/**
 * Database, retention policies and downsampled long-term history on InfluxDB 1.x,
 * created idempotently at every start-up (`ensureInfluxSchema`):
 *
 * - database `db` (CREATE DATABASE is a no-op when it exists);
 * - retention policy `raw` (DEFAULT, `rawDuration`, e.g. 30d): everything ingest
 *   writes, at full resolution;
 * - retention policy `long` (`longDuration`, e.g. 730d): hourly aggregates of the
 *   telemetry measurements, written by continuous queries (`<measurement>_1h`);
 * - one continuous query per telemetry measurement. GROUP BY time(1h), * keeps every
 *   tag (device, kind, model, township, ch/port); the `building` field is not carried
 *   (the registry maps device → building).
 *
 * Idempotent: policies are read back (SHOW RETENTION POLICIES) and created or
 * altered only when they differ; continuous queries (SHOW CONTINUOUS QUERIES) are
 * created when missing and dropped + recreated when their text differs (1.x has no
 * ALTER CONTINUOUS QUERY). Two ingest processes starting at once may both issue the
 * same CREATE: InfluxDB treats an identical CREATE as a no-op.
 *
 * Device events and statuses stay in `raw` only: the alerts service keeps the
 * incident record; InfluxDB's copy is for charts.
 *
 * InfluxDB 2.x/3.x do not take these statements through their v1 API: there set
 * `HUB_INFLUX_SCHEMA=none` and configure retention (bucket) and downsampling (tasks)
 * there; see README.
 */

export interface InfluxSchemaOptions {
  database: string;
  /** Name of the default policy ingest writes to. Default `raw`. */
  rawPolicy?: string;
  /** InfluxQL duration, e.g. `30d`, `INF`. */
  rawDuration: string;
  longPolicy?: string;
  longDuration: string;
}

export interface DownsampleSpec {
  /** Source measurement (in `raw`). */
  from: string;
  /** Target measurement (in `long`). */
  into: string;
  /** InfluxQL select list. */
  select: string;
}

/** What the continuous queries keep per hour and series. */
export const DOWNSAMPLES: readonly DownsampleSpec[] = [
  {
    from: MEASUREMENTS.smoke,
    into: 'smoke_1h',
    select:
      'mean("smoke") AS "smoke_mean", max("smoke") AS "smoke_max", max("temp_c") AS "temp_c_max", ' +
      'min("battery") AS "battery_min", mean("rsrp") AS "rsrp_mean", count("seq") AS "reports"',
  },
  {
    from: MEASUREMENTS.electricCircuit,
    into: 'electric_circuit_1h',
    select:
      'mean("residual_ma") AS "residual_ma_mean", max("residual_ma") AS "residual_ma_max", ' +
      'max("temp_c") AS "temp_c_max", max("current_a") AS "current_a_max", mean("power_w") AS "power_w_mean", ' +
      'max("power_w") AS "power_w_max", sum("arc_count") AS "arc_count_sum", count("seq") AS "reports"',
  },
  {
    from: MEASUREMENTS.chargerPort,
    into: 'charger_port_1h',
    select:
      'mean("power_w") AS "power_w_mean", max("power_w") AS "power_w_max", max("temp_c") AS "temp_c_max", ' +
      'max("energy_wh") AS "energy_wh_max", count("seq") AS "reports"',
  },
];

export function cqName(spec: DownsampleSpec): string {
  return 'cq_' + spec.into;
}

/** The SELECT … INTO of a downsample, with an optional WHERE (backfill of a time range). */
export function downsampleSelect(
  spec: DownsampleSpec,
  db: string,
  rawPolicy: string,
  longPolicy: string,
  where = '',
): string {
  const d = influxIdent(db);
  return (
    `SELECT ${spec.select} INTO ${d}.${influxIdent(longPolicy)}.${influxIdent(spec.into)} ` +
    `FROM ${d}.${influxIdent(rawPolicy)}.${influxIdent(spec.from)}` +
    (where === '' ? '' : ` WHERE ${where}`) +
    ' GROUP BY time(1h), *'
  );
}

export function continuousQueryStatement(
  spec: DownsampleSpec,
  db: string,
  rawPolicy: string,
  longPolicy: string,
): string {
  return (
    `CREATE CONTINUOUS QUERY ${influxIdent(cqName(spec))} ON ${influxIdent(db)} BEGIN ` +
    downsampleSelect(spec, db, rawPolicy, longPolicy) +
    ' END'
  );
}

/** InfluxQL duration → 1.x's SHOW output form (`30d` → `720h0m0s`, `INF` → `0s`). */
export function normalizeDuration(d: string): string {
  if (d.toUpperCase() === 'INF') return '0s';
  const re = /(\d+)(w|d|h|m|s)/g;
  let ms = 0;
  let consumed = 0;
  for (let m = re.exec(d); m !== null; m = re.exec(d)) {
    consumed += m[0].length;
    const n = Number(m[1]);
    const unit = m[2];
    ms +=
      n *
      (unit === 'w'
        ? 604_800_000
        : unit === 'd'
          ? 86_400_000
          : unit === 'h'
            ? 3_600_000
            : unit === 'm'
              ? 60_000
              : 1000);
  }
  if (consumed !== d.length || consumed === 0) throw new RangeError(`not an InfluxQL duration: ${d}`);
  const h = Math.floor(ms / 3_600_000);
  const min = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  return `${h}h${min}m${s}s`;
}

export interface SchemaReport {
  created: string[];
  altered: string[];
  unchanged: string[];
}

export async function ensureInfluxSchema(http: InfluxHttp, opts: InfluxSchemaOptions): Promise<SchemaReport> {
  const raw = opts.rawPolicy ?? 'raw';
  const long = opts.longPolicy ?? 'long';
  const db = opts.database;
  const d = influxIdent(db);
  const report: SchemaReport = { created: [], altered: [], unchanged: [] };
  await http.query('CREATE DATABASE ' + d);

  const [rps] = await http.query('SHOW RETENTION POLICIES ON ' + d);
  const existing = new Map<string, { duration: string; default: boolean }>();
  const s = rps?.series?.[0];
  if (s !== undefined) {
    const iName = s.columns.indexOf('name');
    const iDur = s.columns.indexOf('duration');
    const iDef = s.columns.indexOf('default');
    for (const v of s.values ?? [])
      existing.set(String(v[iName]), { duration: String(v[iDur]), default: v[iDef] === true });
  }
  const policies: Array<{ name: string; duration: string; isDefault: boolean }> = [
    { name: raw, duration: opts.rawDuration, isDefault: true },
    { name: long, duration: opts.longDuration, isDefault: false },
  ];
  for (const p of policies) {
    const cur = existing.get(p.name);
    const clause = `DURATION ${p.duration} REPLICATION 1${p.isDefault ? ' DEFAULT' : ''}`;
    if (cur === undefined) {
      await http.query(`CREATE RETENTION POLICY ${influxIdent(p.name)} ON ${d} ${clause}`);
      report.created.push('rp ' + p.name);
    } else if (cur.duration !== normalizeDuration(p.duration) || (p.isDefault && !cur.default)) {
      await http.query(`ALTER RETENTION POLICY ${influxIdent(p.name)} ON ${d} ${clause}`);
      report.altered.push('rp ' + p.name);
    } else {
      report.unchanged.push('rp ' + p.name);
    }
  }

  const [cqs] = await http.query('SHOW CONTINUOUS QUERIES');
  const cqText = new Map<string, string>();
  for (const series of cqs?.series ?? []) {
    if (series.name !== db) continue;
    const iName = series.columns.indexOf('name');
    const iQuery = series.columns.indexOf('query');
    for (const v of series.values ?? []) cqText.set(String(v[iName]), String(v[iQuery]));
  }
  for (const spec of DOWNSAMPLES) {
    const name = cqName(spec);
    const stmt = continuousQueryStatement(spec, db, raw, long);
    const cur = cqText.get(name);
    if (cur === undefined) {
      await http.query(stmt);
      report.created.push('cq ' + name);
    } else if (!sameCq(cur, spec, raw, long)) {
      await http.query(`DROP CONTINUOUS QUERY ${influxIdent(name)} ON ${d}`);
      await http.query(stmt);
      report.altered.push('cq ' + name);
    } else {
      report.unchanged.push('cq ' + name);
    }
  }
  return report;
}

/**
 * InfluxDB prints a stored CQ in its own normalized form (quoting, spacing), so we
 * compare what matters: target, source and every aggregate alias, case-insensitively.
 */
function sameCq(stored: string, spec: DownsampleSpec, raw: string, long: string): boolean {
  const norm = (x: string) => x.replace(/["\s]/g, '').toLowerCase();
  const t = norm(stored);
  const must = [
    `into`,
    norm(`${long}.${spec.into}`),
    norm(`${raw}.${spec.from}`),
    ...spec.select.split(',').map((part) => norm(part)),
  ];
  return must.every((m) => t.includes(m));
}
