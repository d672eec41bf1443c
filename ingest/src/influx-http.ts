import type { InfluxAuth } from './ingest-config.js';

/**
 * The small part of InfluxDB's v1 HTTP API that is not writing: `/ping` (readiness)
 * and `/query` (CREATE DATABASE at start-up, the dashboard's InfluxQL helpers, tests).
 * The v1 endpoints exist on 1.x, and on 2.x/3.x through their v1 compatibility layer.
 * Queries go as POST form bodies: 1.x refuses CREATE/DROP over GET, and a body keeps
 * long queries out of URLs and access logs.
 */

export class InfluxHttpError extends Error {
  readonly code = 'E_INFLUX_HTTP';
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(message);
    this.name = 'InfluxHttpError';
  }
}

/** A statement-level error inside a 200 response (`{"results":[{"error":"..."}]}`). */
export class InfluxQueryError extends Error {
  readonly code = 'E_INFLUX_QUERY';
  constructor(
    message: string,
    readonly query: string,
  ) {
    super(message);
    this.name = 'InfluxQueryError';
  }
}

export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  /** Absent for a series with no rows (e.g. SHOW CONTINUOUS QUERIES of a database without any). */
  values?: unknown[][];
}

export interface InfluxStatementResult {
  statement_id: number;
  series?: InfluxSeries[];
  error?: string;
}

/** Authorization header value for the configured auth, or undefined. */
export function authorizationHeader(auth: InfluxAuth): string | undefined {
  if (auth.type === 'basic') {
    return 'Basic ' + Buffer.from(auth.username + ':' + auth.password, 'utf8').toString('base64');
  }
  if (auth.type === 'token') return 'Token ' + auth.token;
  return undefined;
}

export interface InfluxHttpOptions {
  url: string;
  auth: InfluxAuth;
  /** Per-request timeout (ms). */
  timeoutMs?: number;
}

export class InfluxHttp {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(opts: InfluxHttpOptions) {
    // Keep a path prefix (InfluxDB behind a reverse proxy) and drop a trailing slash.
    this.base = opts.url.endsWith('/') ? opts.url.slice(0, -1) : opts.url;
    const authorization = authorizationHeader(opts.auth);
    this.headers = authorization === undefined ? {} : { authorization };
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** True when InfluxDB answers /ping with 204 (1.x does not require auth for it). */
  async ping(timeoutMs = this.timeoutMs): Promise<boolean> {
    try {
      const res = await fetch(this.base + '/ping', {
        headers: this.headers,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer();
      return res.status === 204;
    } catch {
      return false;
    }
  }

  /**
   * POSTs a line-protocol body to the v1 `/write` endpoint (`pathAndQuery` is e.g.
   * `/write?db=hub&precision=ms`). Returns the HTTP status and the start of the body
   * (error text); rejects on network errors and timeouts.
   */
  async writeRaw(
    pathAndQuery: string,
    body: Uint8Array,
    timeoutMs = this.timeoutMs,
  ): Promise<{ status: number; text: string }> {
    const res = await fetch(this.base + pathAndQuery, {
      method: 'POST',
      headers: { ...this.headers, 'content-type': 'text/plain; charset=utf-8' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, text: text.slice(0, 300) };
  }

  /**
   * Runs InfluxQL statements (`;`-separated) and returns one result per statement.
   * Throws InfluxHttpError on HTTP errors and InfluxQueryError when a statement failed.
   * Times come back as epoch milliseconds.
   */
  async query(q: string, db?: string): Promise<InfluxStatementResult[]> {
    const body = new URLSearchParams({ q, epoch: 'ms' });
    if (db !== undefined) body.set('db', db);
    const res = await fetch(this.base + '/query', {
      method: 'POST',
      headers: { ...this.headers, 'content-type': 'application/x-www-form-urlencoded' },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    if (res.status !== 200) {
      throw new InfluxHttpError(
        `InfluxDB /query answered ${res.status}: ${text.slice(0, 300)}`,
        res.status,
        text,
      );
    }
    const parsed = JSON.parse(text) as { results?: InfluxStatementResult[]; error?: string };
    if (parsed.error !== undefined) throw new InfluxQueryError(parsed.error, q);
    const results = parsed.results ?? [];
    for (const r of results) if (r.error !== undefined) throw new InfluxQueryError(r.error, q);
    return results;
  }
}

/** Rows of one series as objects keyed by column (tags merged in), for tests and the dashboard. */
export function seriesRows(series: InfluxSeries): Array<Record<string, unknown>> {
  const rows: Array<Record<string, unknown>> = [];
  for (const values of series.values ?? []) {
    const row: Record<string, unknown> = { ...series.tags };
    for (let i = 0; i < series.columns.length; i++) row[series.columns[i]!] = values[i];
    rows.push(row);
  }
  return rows;
}
