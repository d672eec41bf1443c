import {
  type CommunicationObserver,
  HttpError,
  InfluxDB,
  type SendOptions,
  type Transport,
  type WriteApi,
} from '@influxdata/influxdb-client';
import type { Logger } from 'pino';
import { authorizationHeader, InfluxHttp } from './influx-http.js';
import type { InfluxAuth } from './ingest-config.js';
import { influxIdent } from './queries.js';

/**
 * Batching writer into InfluxDB's v1 `/write` endpoint, built on
 * @influxdata/influxdb-client's WriteApi (batching, gzip, retries with backoff).
 *
 * Pitfalls of that client with InfluxDB 1.6 (shared/engineering.md) and what we do:
 * - 1.6 has no `/api/v2/write`: we point the WriteApi at `/write?db=…&precision=ms`.
 *   `WriteApi.path` is public for exactly this: "HTTP path and query parameters of
 *   InfluxDB query API. It is automatically initialized to `/api/v2/write?org=...`,
 *   but it can be changed after the API is obtained" (node_modules/@influxdata/
 *   influxdb-client/dist/index.d.ts, interface WriteApi); WriteApiImpl.sendBatch
 *   passes `this.path` to `transport.send` for every batch (src/impl/WriteApiImpl.ts
 *   in the package's source map).
 * - precision `us` is misread by 1.6: we use `ms`, which is also our schema's precision.
 * - 1.x does not understand `Authorization: Token`: Basic auth for 1.x, Token only
 *   when configured for 2.x/3.x.
 * - default flushInterval is 60 s: set from config (≤ 1 s).
 * - close()/flush() do not wait for batches already in flight, and the retry buffer
 *   (maxBufferLines) drops its oldest lines silently: we count every line ourselves.
 *   accepted = written (writeSuccess) + failed (final writeFailed) + retryDropped
 *   (writeRetrySkipped) + shutdownLost + spilled + pending, and `drain()` waits for pending = 0.
 * - With `spill` set (production), transient failures go to the on-disk spool at once
 *   (see spooling-sink.ts) instead of the client's in-memory retry buffer.
 * - The client has no bound on batches in flight, so ours is on `pending` (accepted,
 *   not yet acknowledged): past `maxBufferedLines` new lines are dropped and counted
 *   (the on-disk spool of a later issue takes them instead).
 */

export interface InfluxWriterOptions {
  url: string;
  database: string;
  auth: InfluxAuth;
  /** Lines per write request. */
  batchSize: number;
  /** Longest a line waits before its batch is sent (ms). */
  flushIntervalMs: number;
  /** Bound on lines accepted but not yet acknowledged (batch + in flight + retrying). */
  maxBufferedLines: number;
  /** Retention policy (`rp=`); default: the database's default policy. */
  retentionPolicy?: string;
  /** Retries after the first failure of a batch (network errors, 429, 5xx). Default 5. */
  maxRetries?: number;
  /** Give up on a batch this long after its first attempt. Default 60 s. */
  maxRetryTimeMs?: number;
  /** First retry delay (ms), doubled per attempt up to maxRetryDelayMs. Defaults 1 s / 15 s. */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Per-request timeout (ms). Default 10 s. */
  requestTimeoutMs?: number;
  /** Gzip bodies larger than this (bytes); the client's default is 1000. */
  gzipThreshold?: number;
  /** Replace the HTTP transport (tests). The writer still wraps it to time requests. */
  transport?: Transport;
  /** Called once per write request with its latency (seconds) and outcome. */
  observeWriteLatency?: (seconds: number, ok: boolean) => void;
  /**
   * When set, a batch that failed in a way a retry could fix (network error, timeout,
   * 429, 5xx) is handed here at once instead of being retried in memory by the client
   * (the on-disk spool takes it: bounded, survives restarts). Counted as `spilled`.
   */
  spill?: (lines: string[]) => void;
  logger?: Logger;
}

export interface WriterStats {
  /** Lines taken into the buffer. */
  accepted: number;
  /** Lines InfluxDB acknowledged (204). */
  written: number;
  /** Lines whose batch failed for good (4xx other than 429, or retries exhausted). */
  failed: number;
  /** Lines refused because `pending` would exceed maxBufferedLines. */
  droppedBufferFull: number;
  /** Lines refused because the writer is closing or closed. */
  droppedClosed: number;
  /** Lines the client's retry buffer discarded to stay under its limit. */
  retryDropped: number;
  /** Lines still pending when close() gave up waiting. */
  shutdownLost: number;
  /** Lines of failed batches handed to `spill` (the spool). */
  spilled: number;
  /** Write requests sent, acknowledged, failed (a retried batch counts once per attempt). */
  requests: number;
  requestsOk: number;
  requestsFailed: number;
  /** performance.now() of the last acknowledged write, or -1. */
  lastWriteOkAt: number;
}

/** Where the pipeline hands its lines. */
export interface LineSink {
  /** Takes lines[0..count) all together, or none (returns false: dropped and counted). */
  write(lines: readonly string[], count: number): boolean;
}

/**
 * Times each write request and otherwise passes through. Also the seam where a test
 * injects a fake transport. One closure pair per batch, not per line.
 */
class TimedTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    private readonly observe: (ms: number, ok: boolean) => void,
  ) {}

  get chunkCombiner() {
    return this.inner.chunkCombiner;
  }

  send(
    path: string,
    body: string,
    options: SendOptions,
    callbacks?: Partial<CommunicationObserver<Uint8Array>>,
  ) {
    const started = performance.now();
    const observe = this.observe;
    let status: number | undefined;
    this.inner.send(path, body, options, {
      next: callbacks?.next?.bind(callbacks),
      useCancellable: callbacks?.useCancellable?.bind(callbacks),
      responseStarted(headers, statusCode) {
        status = statusCode;
        callbacks?.responseStarted?.(headers, statusCode);
      },
      error(err) {
        observe(performance.now() - started, false);
        callbacks?.error?.(err);
      },
      complete() {
        observe(performance.now() - started, status === undefined || status === 204 || status === 201);
        callbacks?.complete?.();
      },
    });
  }

  request(
    path: string,
    body: unknown,
    options: SendOptions,
    responseStarted?: Parameters<Transport['request']>[3],
  ) {
    return this.inner.request(path, body, options, responseStarted);
  }

  iterate(path: string, body: unknown, options: SendOptions) {
    return this.inner.iterate(path, body, options);
  }
}

/** Log a failing InfluxDB at most this often (a dead database fails every batch). */
const FAILURE_LOG_INTERVAL_MS = 10_000;

export class InfluxWriter implements LineSink {
  readonly stats: WriterStats = {
    accepted: 0,
    written: 0,
    failed: 0,
    droppedBufferFull: 0,
    droppedClosed: 0,
    retryDropped: 0,
    shutdownLost: 0,
    spilled: 0,
    requests: 0,
    requestsOk: 0,
    requestsFailed: 0,
    lastWriteOkAt: -1,
  };
  readonly http: InfluxHttp;
  private readonly writeApi: WriteApi;
  readonly maxBuffered: number;
  private readonly maxRetries: number;
  private closing = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private lastFailureLogAt = Number.NEGATIVE_INFINITY;
  private failuresNotLogged = 0;

  constructor(private readonly opts: InfluxWriterOptions) {
    if (opts.flushIntervalMs > 1000 || opts.flushIntervalMs <= 0) {
      throw new RangeError(
        'flushIntervalMs must be in (0, 1000]: readings must reach InfluxDB within a second',
      );
    }
    this.maxBuffered = opts.maxBufferedLines;
    this.maxRetries = opts.maxRetries ?? 5;
    this.http = new InfluxHttp({ url: opts.url, auth: opts.auth, timeoutMs: opts.requestTimeoutMs });

    const authorization = authorizationHeader(opts.auth);
    const timeout = opts.requestTimeoutMs ?? 10_000;
    // The default transport handles Basic auth through its default headers; we pass
    // no `token` so it never adds `Authorization: Token` (our header carries it).
    const inner =
      opts.transport ??
      new InfluxDB({
        url: opts.url,
        timeout,
        headers: authorization === undefined ? undefined : { authorization },
      }).transport;
    const influx = new InfluxDB({
      url: opts.url,
      timeout,
      transport: new TimedTransport(inner, (ms, ok) => this.onRequestDone(ms, ok)),
    });
    this.writeApi = influx.getWriteApi('', opts.database, 'ms', {
      batchSize: opts.batchSize,
      flushInterval: opts.flushIntervalMs,
      // Backstop only: pending (which includes the retry buffer) is bounded by us first.
      maxBufferLines: opts.maxBufferedLines,
      maxRetries: this.maxRetries,
      maxRetryTime: opts.maxRetryTimeMs ?? 60_000,
      minRetryDelay: opts.minRetryDelayMs ?? 1000,
      maxRetryDelay: opts.maxRetryDelayMs ?? 15_000,
      exponentialBase: 2,
      randomRetry: true,
      gzipThreshold: opts.gzipThreshold ?? 1000,
      writeSuccess: (lines) => this.onWriteSuccess(lines.length),
      writeFailed: (error, lines, attempt, expires) => this.onWriteFailed(error, lines, attempt, expires),
      writeRetrySkipped: (entry) => this.onRetrySkipped(entry.lines.length),
    });
    let path = '/write?db=' + encodeURIComponent(opts.database) + '&precision=ms';
    if (opts.retentionPolicy !== undefined) path += '&rp=' + encodeURIComponent(opts.retentionPolicy);
    this.writeApi.path = path;
  }

  /** Path and query of the v1 write endpoint this writer posts to (the spool replays there too). */
  get writePath(): string {
    return this.writeApi.path;
  }

  /** Lines accepted and not yet acknowledged, failed or discarded. */
  get pending(): number {
    const s = this.stats;
    return s.accepted - s.written - s.failed - s.retryDropped - s.shutdownLost - s.spilled;
  }

  /** Lines refused by this writer, for every reason. */
  get dropped(): number {
    const s = this.stats;
    return s.droppedBufferFull + s.droppedClosed + s.retryDropped + s.shutdownLost;
  }

  /** `CREATE DATABASE` is a no-op in InfluxDB when the database exists, so this is safe at every start. */
  async ensureDatabase(): Promise<void> {
    await this.http.query('CREATE DATABASE ' + influxIdent(this.opts.database));
  }

  write(lines: readonly string[], count: number): boolean {
    if (this.closing) {
      this.stats.droppedClosed += count;
      return false;
    }
    if (this.pending + count > this.maxBuffered) {
      this.stats.droppedBufferFull += count;
      return false;
    }
    this.stats.accepted += count;
    for (let i = 0; i < count; i++) this.writeApi.writeRecord(lines[i]!);
    return true;
  }

  /**
   * Sends what is batched now and waits (at most `timeoutMs`) until every accepted
   * line is acknowledged or failed. True when nothing is pending any more.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    // flush() resolves when *this* batch is done and rejects when it fails; neither
    // says anything about other batches in flight, so we wait on our own count.
    this.writeApi.flush().catch(() => undefined);
    if (this.pending === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    let waiter: (() => void) | undefined;
    const idle = new Promise<boolean>((resolve) => {
      waiter = () => resolve(true);
      this.idleWaiters.push(waiter);
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await idle;
    } finally {
      clearTimeout(timer);
      this.idleWaiters = this.idleWaiters.filter((w) => w !== waiter);
    }
  }

  /**
   * Stops accepting lines, flushes, waits for acknowledgements (bounded) and closes
   * the client. Lines still pending after the wait are counted as shutdownLost.
   */
  async close(timeoutMs = 10_000): Promise<{ drained: boolean; lost: number }> {
    if (this.closed) return { drained: this.pending === 0, lost: 0 };
    this.closing = true;
    const drained = await this.drain(timeoutMs);
    this.closed = true;
    const lost = this.pending;
    this.stats.shutdownLost += lost;
    // dispose(), not close(): close() would flush and retry again with no bound on time.
    this.writeApi.dispose();
    if (lost > 0) this.opts.logger?.error({ lost }, 'influx writer closed with unacknowledged lines');
    return { drained, lost };
  }

  private onRequestDone(ms: number, ok: boolean): void {
    const s = this.stats;
    s.requests++;
    if (ok) {
      s.requestsOk++;
      s.lastWriteOkAt = performance.now();
    } else {
      s.requestsFailed++;
    }
    this.opts.observeWriteLatency?.(ms / 1000, ok);
  }

  private onWriteSuccess(n: number): void {
    if (this.closed) return; // already counted as shutdownLost
    this.stats.written += n;
    this.checkIdle();
  }

  /**
   * The client calls this on every failed attempt. Returning a promise tells it to
   * stop (no retry, no log of its own); returning undefined lets it retry. We return
   * a promise exactly when the failure is final, so each line ends in one counter.
   * Retry rule mirrors WriteApiImpl.sendBatch (1.35): network errors and HTTP ≥ 429
   * are retried while attempts and time remain; other 4xx (bad lines, "partial
   * write", field type conflicts) never succeed on retry.
   */
  private onWriteFailed(
    error: Error,
    lines: string[],
    attempt: number,
    expires: number,
  ): Promise<void> | undefined {
    if (this.closed) return Promise.resolve();
    const n = lines.length;
    const http = error instanceof HttpError ? error : undefined;
    if (
      http !== undefined &&
      typeof http.json?.error === 'string' &&
      http.json.error.includes('hinted handoff')
    ) {
      return undefined; // Enterprise: the client treats it as written (writeSuccess follows).
    }
    const transient = http === undefined || http.statusCode >= 429;
    // 404 is "database not found": the schema is still being created (InfluxDB was
    // down at start-up) or was dropped; the spool keeps the lines until it exists.
    if ((transient || http?.statusCode === 404) && this.opts.spill !== undefined) {
      this.stats.spilled += n;
      this.logFailure(error, n, attempt, false);
      this.opts.spill(lines);
      this.checkIdle();
      return Promise.resolve();
    }
    const retriable = transient && attempt <= this.maxRetries && Date.now() < expires;
    if (retriable) {
      this.logFailure(error, n, attempt, false);
      return undefined;
    }
    this.stats.failed += n;
    this.logFailure(error, n, attempt, true);
    this.checkIdle();
    return Promise.resolve();
  }

  private onRetrySkipped(n: number): void {
    if (this.closed) return;
    this.stats.retryDropped += n;
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || this.pending !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private logFailure(error: Error, lines: number, attempt: number, final: boolean): void {
    const log = this.opts.logger;
    if (log === undefined) return;
    const now = performance.now();
    if (now - this.lastFailureLogAt < FAILURE_LOG_INTERVAL_MS) {
      this.failuresNotLogged++;
      return;
    }
    this.lastFailureLogAt = now;
    const suppressed = this.failuresNotLogged;
    this.failuresNotLogged = 0;
    const status = error instanceof HttpError ? error.statusCode : undefined;
    log.warn(
      { err: error.message, status, lines, attempt, final, suppressed },
      final ? 'influx write failed, lines discarded' : 'influx write failed, will retry',
    );
  }
}
