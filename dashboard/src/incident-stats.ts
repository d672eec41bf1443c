import type { AuditEntry, DispositionCode, Incident } from '@hub/protocol';
import { DISPOSITION_CODES } from '@hub/protocol';

/**
 * Monthly statistics (火灾和警情统计) of fire-lane incidents: alarms, true fires,
 * false alarms by cause, time to accept and time to arrive, per station, grid and
 * month. Pure: (incidents with their audit, names, time zone) → numbers. Times come
 * from the audit lines (`accept`, `on_scene`) when present, else from the incident
 * record's `acceptedAt` / `onSceneAt`, both measured from the hub's receive time of
 * the first alarm (`receivedAt`).
 */
export interface DurationStats {
  n: number;
  avgMs: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  maxMs: number | null;
}

export interface StatsBucket {
  key: string;
  label: string;
  alarms: number;
  closed: number;
  trueFires: number;
  falseAlarms: number;
  /** False alarms / closed incidents with a disposition, 0..1; null when none closed. */
  falseAlarmRate: number | null;
  byDisposition: Record<DispositionCode, number>;
  declines: number;
  forwarded119: number;
  toAccept: DurationStats;
  toArrive: DurationStats;
}

export interface IncidentStats {
  from: number;
  to: number;
  timeZone: string;
  total: StatsBucket;
  byStation: StatsBucket[];
  byGrid: StatsBucket[];
  byMonth: StatsBucket[];
}

export interface StatsInput {
  incident: Incident;
  audit: readonly AuditEntry[];
}

const FALSE_CAUSES: readonly DispositionCode[] = [
  'false_cooking',
  'false_smoking',
  'false_steam_dust',
  'device_fault',
  'human_error',
];

function emptyDispositions(): Record<DispositionCode, number> {
  const out = {} as Record<DispositionCode, number>;
  for (const c of DISPOSITION_CODES) out[c] = 0;
  return out;
}

class Acc {
  alarms = 0;
  closed = 0;
  trueFires = 0;
  falseAlarms = 0;
  declines = 0;
  forwarded119 = 0;
  byDisposition = emptyDispositions();
  accept: number[] = [];
  arrive: number[] = [];
  constructor(
    readonly key: string,
    readonly label: string,
  ) {}
}

function durations(values: number[]): DurationStats {
  if (values.length === 0) return { n: 0, avgMs: null, p50Ms: null, p90Ms: null, maxMs: null };
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number) => v[Math.min(v.length - 1, Math.floor(q * v.length))] as number;
  let sum = 0;
  for (const x of v) sum += x;
  return {
    n: v.length,
    avgMs: Math.round(sum / v.length),
    p50Ms: at(0.5),
    p90Ms: at(0.9),
    maxMs: v[v.length - 1] as number,
  };
}

function finish(a: Acc): StatsBucket {
  const decided = a.trueFires + a.falseAlarms;
  return {
    key: a.key,
    label: a.label,
    alarms: a.alarms,
    closed: a.closed,
    trueFires: a.trueFires,
    falseAlarms: a.falseAlarms,
    falseAlarmRate: decided === 0 ? null : a.falseAlarms / decided,
    byDisposition: a.byDisposition,
    declines: a.declines,
    forwarded119: a.forwarded119,
    toAccept: durations(a.accept),
    toArrive: durations(a.arrive),
  };
}

function firstAt(audit: readonly AuditEntry[], kinds: readonly string[]): AuditEntry | undefined {
  for (const e of audit) if (kinds.includes(e.kind)) return e;
  return undefined;
}

/** "2026-12" in the given IANA time zone. */
export function monthOf(ms: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
  }).formatToParts(ms);
  const y = parts.find((p) => p.type === 'year')?.value ?? '0000';
  const m = parts.find((p) => p.type === 'month')?.value ?? '00';
  return `${y}-${m}`;
}

export function computeIncidentStats(
  inputs: readonly StatsInput[],
  opts: { from: number; to: number; timeZone: string; stationName: (id: string) => string },
): IncidentStats {
  const total = new Acc('total', 'total');
  const stations = new Map<string, Acc>();
  const grids = new Map<string, Acc>();
  const months = new Map<string, Acc>();
  const get = (m: Map<string, Acc>, key: string, label: string) => {
    let a = m.get(key);
    if (a === undefined) {
      a = new Acc(key, label);
      m.set(key, a);
    }
    return a;
  };
  for (const { incident: inc, audit } of inputs) {
    if (inc.lane !== 'fire') continue;
    if (inc.openedAt < opts.from || inc.openedAt >= opts.to) continue;
    const acceptLine = firstAt(audit, ['accept', 'accepted']);
    const arriveLine = firstAt(audit, ['on_scene']);
    const acceptedAt = acceptLine?.at ?? inc.acceptedAt;
    const onSceneAt = arriveLine?.at ?? inc.onSceneAt;
    const stationId = acceptLine?.stationId ?? inc.stationId;
    const declines = audit.filter((e) => e.kind === 'decline').length;
    const month = monthOf(inc.openedAt, opts.timeZone);
    const buckets = [
      total,
      get(grids, inc.grid, inc.grid),
      get(months, month, month),
      // An incident nobody accepted counts for the first station it paged.
      get(
        stations,
        stationId ?? inc.pagedStations[0] ?? '(none)',
        opts.stationName(stationId ?? inc.pagedStations[0] ?? '(none)'),
      ),
    ];
    for (const a of buckets) {
      a.alarms++;
      a.declines += declines;
      if (inc.forwarded119At !== null) a.forwarded119++;
      if (acceptedAt !== null && acceptedAt !== undefined)
        a.accept.push(Math.max(0, acceptedAt - inc.receivedAt));
      if (onSceneAt !== null && onSceneAt !== undefined)
        a.arrive.push(Math.max(0, onSceneAt - inc.receivedAt));
      if (inc.state === 'closed') a.closed++;
      if (inc.disposition !== null) {
        a.byDisposition[inc.disposition]++;
        if (inc.disposition === 'real_fire') a.trueFires++;
        else if (FALSE_CAUSES.includes(inc.disposition)) a.falseAlarms++;
      }
    }
  }
  const sorted = (m: Map<string, Acc>) =>
    [...m.values()].sort((a, b) => (a.key < b.key ? -1 : 1)).map(finish);
  return {
    from: opts.from,
    to: opts.to,
    timeZone: opts.timeZone,
    total: finish(total),
    byStation: sorted(stations),
    byGrid: sorted(grids),
    byMonth: sorted(months),
  };
}

/** CSV of the per-station, per-grid and per-month rows (one header; `group` column says which). */
export function statsCsv(s: IncidentStats): string {
  const head = [
    'group',
    'key',
    'label',
    'alarms',
    'closed',
    'true_fires',
    'false_alarms',
    'false_alarm_rate',
    ...DISPOSITION_CODES.map((c) => `disposition_${c}`),
    'declines',
    'forwarded_119',
    'accepted',
    'accept_avg_s',
    'accept_p90_s',
    'arrived',
    'arrive_avg_s',
    'arrive_p90_s',
  ];
  const secs = (ms: number | null) => (ms === null ? '' : (ms / 1000).toFixed(1));
  const lines = [head.join(',')];
  const add = (group: string, b: StatsBucket) =>
    lines.push(
      [
        group,
        b.key,
        b.label,
        b.alarms,
        b.closed,
        b.trueFires,
        b.falseAlarms,
        b.falseAlarmRate === null ? '' : b.falseAlarmRate.toFixed(3),
        ...DISPOSITION_CODES.map((c) => b.byDisposition[c]),
        b.declines,
        b.forwarded119,
        b.toAccept.n,
        secs(b.toAccept.avgMs),
        secs(b.toAccept.p90Ms),
        b.toArrive.n,
        secs(b.toArrive.avgMs),
        secs(b.toArrive.p90Ms),
      ]
        .map((v) => csvField(String(v)))
        .join(','),
    );
  add('total', s.total);
  for (const b of s.byStation) add('station', b);
  for (const b of s.byGrid) add('grid', b);
  for (const b of s.byMonth) add('month', b);
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * RFC 4180 quoting; a leading = + - @ is prefixed with a quote so a spreadsheet does
 * not run it as a formula (CSV injection from names typed into the registry).
 */
export function csvField(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) && !/^-?\d+(\.\d+)?$/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
