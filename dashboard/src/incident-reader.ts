import {
  type AuditEntry,
  auditEntrySchema,
  type HubKeys,
  type Incident,
  incidentSchema,
} from '@hub/protocol';
import type { Redis } from 'ioredis';

/** How many incidents one list request may return. */
export const MAX_LIST_LIMIT = 500;
/** Open incidents considered per request (a township has a handful; this bounds a storm). */
export const MAX_OPEN_SCAN = 5_000;
/** Closed history scanned per request when filtering by station. */
export const MAX_HISTORY_SCAN = 5_000;
/** Audit lines returned with one incident. */
export const MAX_AUDIT_ENTRIES = 1_000;

const HISTORY_PAGE = 200;
/** Audit lines read per incident for statistics (accept and arrival are early lines). */
const STATS_AUDIT_ENTRIES = 200;

export interface ListOptions {
  state: 'open' | 'all';
  limit: number;
  /** Only incidents whose pagedStations contain this station. */
  stationId?: string;
  /** Only incidents of this township. */
  township?: string;
}

/** Counts records that failed validation, so a bad writer shows up in metrics. */
export type BadRecordSink = (kind: 'incident' | 'audit', key: string) => void;

/**
 * Reads incidents as the alerts service stores them (the alerts service is the only
 * writer): `incident(id)` = Incident JSON, `incidentsByTime` ZSET by openedAt,
 * `incidentsOpen` SET, `incidentAudit(id)` LIST of AuditEntry JSON.
 * Records that fail the schema are skipped and reported, never thrown at a console.
 */
export class IncidentReader {
  constructor(
    private readonly redis: Redis,
    private readonly keys: HubKeys,
    private readonly onBadRecord: BadRecordSink = () => undefined,
  ) {}

  async get(id: string): Promise<Incident | null> {
    const key = this.keys.incident(id);
    return this.parse(key, await this.redis.get(key));
  }

  async audit(id: string): Promise<AuditEntry[]> {
    const key = this.keys.incidentAudit(id);
    const lines = await this.redis.lrange(key, 0, MAX_AUDIT_ENTRIES - 1);
    const out: AuditEntry[] = [];
    for (const line of lines) {
      const parsed = safeJson(line);
      const r = auditEntrySchema.safeParse(parsed);
      if (r.success) out.push(r.data);
      else this.onBadRecord('audit', key);
    }
    return out;
  }

  /**
   * Incidents opened in [from, to) with their audit, oldest first, at most `max`
   * (statistics). Read in chunks of 500: one MGET and one pipelined LRANGE each.
   */
  async range(
    from: number,
    to: number,
    max: number,
  ): Promise<Array<{ incident: Incident; audit: AuditEntry[] }>> {
    const ids = await this.redis.zrangebyscore(this.keys.incidentsByTime, from, `(${to}`, 'LIMIT', 0, max);
    const out: Array<{ incident: Incident; audit: AuditEntry[] }> = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const incidents = await this.fetch(chunk);
      const p = this.redis.pipeline();
      for (const inc of incidents) p.lrange(this.keys.incidentAudit(inc.id), 0, STATS_AUDIT_ENTRIES - 1);
      const res = (await p.exec()) ?? [];
      incidents.forEach((incident, k) => {
        const lines = (res[k]?.[1] as string[] | undefined) ?? [];
        const audit: AuditEntry[] = [];
        for (const line of lines) {
          const r = auditEntrySchema.safeParse(safeJson(line));
          if (r.success) audit.push(r.data);
        }
        out.push({ incident, audit });
      });
    }
    return out;
  }

  /** Newest first (by openedAt). */
  async list(opts: ListOptions): Promise<Incident[]> {
    const limit = Math.min(Math.max(opts.limit, 1), MAX_LIST_LIMIT);
    if (opts.state === 'open') return this.listOpen(limit, opts.stationId, opts.township);
    return this.listAll(limit, opts.stationId, opts.township);
  }

  private async listOpen(
    limit: number,
    stationId: string | undefined,
    township: string | undefined,
  ): Promise<Incident[]> {
    // The open set is small in normal times. SMEMBERS has no bound; SRANDMEMBER with a
    // count returns the whole set when it is smaller than the count, a bounded sample
    // otherwise (an alarm storm). Order comes from openedAt, sorted here.
    const ids = await this.redis.srandmember(this.keys.incidentsOpen, MAX_OPEN_SCAN);
    const incidents = await this.fetch(ids);
    const out: Incident[] = [];
    for (const inc of incidents) {
      if (inc.state === 'closed') continue; // the set lags the record by one write at most
      if (!matches(inc, stationId, township)) continue;
      out.push(inc);
    }
    out.sort(newestFirst);
    return out.length > limit ? out.slice(0, limit) : out;
  }

  private async listAll(
    limit: number,
    stationId: string | undefined,
    township: string | undefined,
  ): Promise<Incident[]> {
    if (stationId === undefined && township === undefined) {
      const ids = await this.redis.zrevrange(this.keys.incidentsByTime, 0, limit - 1);
      return this.fetch(ids);
    }
    // Filtered history: walk the time index page by page until enough match, bounded.
    const out: Incident[] = [];
    for (let start = 0; start < MAX_HISTORY_SCAN && out.length < limit; start += HISTORY_PAGE) {
      const ids = await this.redis.zrevrange(this.keys.incidentsByTime, start, start + HISTORY_PAGE - 1);
      if (ids.length === 0) break;
      for (const inc of await this.fetch(ids)) {
        if (matches(inc, stationId, township)) {
          out.push(inc);
          if (out.length >= limit) break;
        }
      }
      if (ids.length < HISTORY_PAGE) break;
    }
    return out;
  }

  /** MGET in one round trip; missing or invalid records are left out (order kept). */
  private async fetch(ids: string[]): Promise<Incident[]> {
    if (ids.length === 0) return [];
    const keys = ids.map((id) => this.keys.incident(id));
    const values = await this.redis.mget(keys);
    const out: Incident[] = [];
    for (let i = 0; i < values.length; i++) {
      const inc = this.parse(keys[i] as string, values[i] ?? null);
      if (inc !== null) out.push(inc);
    }
    return out;
  }

  private parse(key: string, raw: string | null): Incident | null {
    if (raw === null) return null;
    const r = incidentSchema.safeParse(safeJson(raw));
    if (r.success) return r.data;
    this.onBadRecord('incident', key);
    return null;
  }
}

function matches(inc: Incident, stationId: string | undefined, township: string | undefined): boolean {
  if (township !== undefined && inc.township !== township) return false;
  if (stationId !== undefined && !inc.pagedStations.includes(stationId) && inc.stationId !== stationId) {
    return false;
  }
  return true;
}

function newestFirst(a: Incident, b: Incident): number {
  return b.openedAt - a.openedAt;
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
