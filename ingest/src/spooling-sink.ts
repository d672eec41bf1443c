import type { Logger } from 'pino';
import type { DiskSpool, SpoolRecord } from './disk-spool.js';
import type { InfluxHttp } from './influx-http.js';
import type { InfluxWriter, LineSink } from './influx-writer.js';

/**
 * The pipeline's sink: lines go to the InfluxDB writer while it keeps up, and to the
 * on-disk spool when it does not; a replay loop sends the spool back in order.
 *
 *   write() ──► direct mode: InfluxWriter (batches ≤ 1 s) ──► InfluxDB
 *          └──► spool mode:  DiskSpool ──► replay loop (one record = one request) ──► InfluxDB
 *
 * Spool mode starts when the writer hands back a failed batch (`spill`: network
 * error, timeout, 429, 5xx) or when its in-memory bound (`maxBuffered`) would be
 * passed (InfluxDB slow). While in spool mode every new line is appended to the spool
 * behind what is there, so the order is kept; the loop replays the oldest record,
 * commits it on 2xx, backs off on transient errors (1 s doubling to 10 s) and leaves
 * spool mode when the spool is empty. Batches that were in flight when spool mode
 * began may land in the spool after newer lines: the order is per record, not global
 * (harmless: a point is its series and timestamp, a replay overwrites itself).
 *
 * A 4xx other than 404 (database not yet created) and 429 on replay (bad lines, partial write) is final: the record is
 * committed and its lines counted as failed, or it would block the spool for ever.
 * Only a full spool drops lines: counted (`spool.stats.droppedLines`) and logged at
 * most once per `dropLogIntervalMs` with the number suppressed.
 *
 * Counting (what a test checks): accepted = writer.written + replayed + failed +
 * spool-dropped + pending (writer.pending + spool.pendingLines) + shutdownLost.
 */

export interface SpoolingSinkOptions {
  writer: InfluxWriter;
  spool: DiskSpool;
  http: InfluxHttp;
  logger?: Logger;
  /** Memory chunk → disk at least this often (ms). Default 100. */
  spoolFlushMs?: number;
  minReplayDelayMs?: number;
  maxReplayDelayMs?: number;
  replayTimeoutMs?: number;
  dropLogIntervalMs?: number;
}

export interface SpoolingSinkStats {
  /** Lines the sink took (writer or spool). */
  accepted: number;
  /** Lines sent to the spool (appended; excludes drops). */
  spooled: number;
  /** Lines refused because the spool was full. */
  dropped: number;
  /** Lines replayed from the spool and acknowledged by InfluxDB. */
  replayed: number;
  /** Lines of replayed records InfluxDB refused for good (4xx). */
  replayFailed: number;
  replayRequests: number;
  replayErrors: number;
  /** Times spool mode was entered. */
  spoolModeEntered: number;
}

export class SpoolingSink implements LineSink {
  readonly stats: SpoolingSinkStats = {
    accepted: 0,
    spooled: 0,
    dropped: 0,
    replayed: 0,
    replayFailed: 0,
    replayRequests: 0,
    replayErrors: 0,
    spoolModeEntered: 0,
  };
  private spoolMode: boolean;
  private closing = false;
  private readonly flushTimer: NodeJS.Timeout;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private backoff: number;
  private sleepTimer: NodeJS.Timeout | undefined;
  private cancelSleep: (() => void) | null = null;
  private lastDropLogAt = Number.NEGATIVE_INFINITY;
  private dropsNotLogged = 0;
  private readonly minDelay: number;
  private readonly maxDelay: number;

  constructor(private readonly opts: SpoolingSinkOptions) {
    this.minDelay = opts.minReplayDelayMs ?? 1000;
    this.maxDelay = opts.maxReplayDelayMs ?? 10_000;
    this.backoff = this.minDelay;
    // A spool left by the previous run is replayed first: new lines queue behind it.
    this.spoolMode = opts.spool.pendingLines > 0;
    this.flushTimer = setInterval(() => this.flushSpool(), opts.spoolFlushMs ?? 100);
    this.flushTimer.unref();
  }

  /** Starts the replay loop (call once the writer may be used). */
  start(): void {
    if (this.loop === null) this.loop = this.run();
  }

  get inSpoolMode(): boolean {
    return this.spoolMode;
  }

  /** The writer's `spill` callback: a failed batch goes to the spool, spool mode on. */
  readonly spill = (lines: string[]): void => {
    this.enterSpoolMode();
    this.toSpool(lines, lines.length);
  };

  write(lines: readonly string[], count: number): boolean {
    if (this.closing) return this.opts.writer.write(lines, count); // counted as closing by the writer
    const w = this.opts.writer;
    if (!this.spoolMode && w.pending + count > w.maxBuffered) this.enterSpoolMode();
    if (this.spoolMode) {
      if (!this.toSpool(lines, count)) return false;
      this.stats.accepted += count;
      return true;
    }
    if (!w.write(lines, count)) return false;
    this.stats.accepted += count;
    return true;
  }

  /** Lines taken and not yet acknowledged or dropped (writer + spool). */
  get pending(): number {
    return this.opts.writer.pending + this.opts.spool.pendingLines;
  }

  /**
   * Stops taking lines, waits (bounded) for the writer's batches in flight (failures
   * still spill), then flushes and closes the spool. What is spooled is replayed by
   * the next start.
   */
  async close(timeoutMs = 10_000): Promise<{ lost: number; spooled: number }> {
    this.closing = true;
    clearInterval(this.flushTimer);
    const { lost } = await this.opts.writer.close(timeoutMs);
    this.cancelSleep?.();
    this.wake?.();
    await this.loop;
    this.opts.spool.close();
    return { lost, spooled: this.opts.spool.pendingLines };
  }

  /** Timer: memory chunk → disk. Write errors are counted by the spool; logged here (rate-limited). */
  private flushSpool(): void {
    const spool = this.opts.spool;
    const errors = spool.stats.writeErrors;
    spool.flush();
    if (spool.stats.writeErrors !== errors) {
      this.logDrop(0, spool.lastError?.message);
    }
  }

  private enterSpoolMode(): void {
    if (this.spoolMode) return;
    this.spoolMode = true;
    this.stats.spoolModeEntered++;
    this.opts.logger?.warn(
      { pending: this.opts.writer.pending },
      'InfluxDB not keeping up or failing: spooling to disk',
    );
    this.wake?.();
  }

  private toSpool(lines: readonly string[], count: number): boolean {
    const spool = this.opts.spool;
    if (spool.append(lines, count)) {
      this.stats.spooled += count;
      return true;
    }
    this.stats.dropped += count;
    this.logDrop(count);
    return false;
  }

  private logDrop(count: number, writeError?: string): void {
    const log = this.opts.logger;
    const now = performance.now();
    if (now - this.lastDropLogAt < (this.opts.dropLogIntervalMs ?? 10_000)) {
      this.dropsNotLogged += count;
      return;
    }
    this.lastDropLogAt = now;
    const suppressed = this.dropsNotLogged;
    this.dropsNotLogged = 0;
    log?.error(
      {
        lines: count,
        suppressed,
        usedBytes: this.opts.spool.usedBytes,
        totalDropped: this.opts.spool.stats.droppedLines,
        writeError,
      },
      writeError === undefined ? 'spool full: lines dropped' : 'spool write failed: lines dropped',
    );
  }

  /** The replay loop; ends when closing and nothing more can be done this run. */
  private async run(): Promise<void> {
    const spool = this.opts.spool;
    const w = this.opts.writer;
    while (!this.closing) {
      if (!this.spoolMode) {
        await new Promise<void>((r) => {
          this.wake = r;
        });
        this.wake = null;
        continue;
      }
      let rec: SpoolRecord | undefined = spool.peek();
      if (rec === undefined && spool.memoryLines > 0) {
        spool.flush();
        rec = spool.peek();
      }
      if (rec === undefined) {
        // Caught up. Stay in spool mode while the writer is still over its bound.
        if (w.pending < w.maxBuffered / 2) {
          this.spoolMode = false;
          this.opts.logger?.info({ replayed: this.stats.replayed }, 'spool replayed, writing directly again');
        } else {
          await this.sleep(this.minDelay / 4);
        }
        continue;
      }
      const outcome = await this.replay(rec);
      if (outcome === 'ok' || outcome === 'refused') {
        spool.commit(rec);
        this.backoff = this.minDelay;
      } else {
        await this.sleep(this.backoff);
        this.backoff = Math.min(this.maxDelay, this.backoff * 2);
      }
    }
  }

  private async replay(rec: SpoolRecord): Promise<'ok' | 'refused' | 'retry'> {
    this.stats.replayRequests++;
    try {
      const res = await this.opts.http.writeRaw(
        this.opts.writer.writePath,
        rec.body,
        this.opts.replayTimeoutMs ?? 10_000,
      );
      if (res.status >= 200 && res.status < 300) {
        this.stats.replayed += rec.lines;
        return 'ok';
      }
      this.stats.replayErrors++;
      // 404: database not found (schema not created yet): keep the record.
      if (res.status === 429 || res.status === 404 || res.status >= 500) return 'retry';
      this.stats.replayFailed += rec.lines;
      this.opts.logger?.error(
        { status: res.status, body: res.text, lines: rec.lines },
        'InfluxDB refused a spooled record; its lines are discarded',
      );
      return 'refused';
    } catch {
      this.stats.replayErrors++;
      return 'retry';
    }
  }

  /** Backoff sleep; only close() cuts it short (new lines must not, or an outage is hammered). */
  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      this.sleepTimer = setTimeout(r, ms);
      this.cancelSleep = () => {
        clearTimeout(this.sleepTimer);
        r();
      };
    });
  }
}
