import { type Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AlertsMetrics } from './alerts-metrics.js';
import type { TimerKind, TimerRequest } from './incident-decision.js';
import type { TicketTimer } from './ticket-decision.js';

/**
 * Escalation timers as BullMQ delayed jobs (durable in Redis with AOF: a restart of
 * this process or of Redis loses none; engineering.md measured 0 of 3,000 lost).
 *
 * Job ids are deterministic, `${incidentId}-step${n}` / `${incidentId}-onscene${n}`,
 * so scheduling the same timer twice (a retried decision, the repair pass at start,
 * two processes) adds one job. (BullMQ refuses ':' in custom ids, hence '-'.)
 * Completed jobs are kept for an hour so a late duplicate schedule still finds them;
 * after that a duplicate would run and be a harmless stale no-op (decideEscalation
 * checks the step).
 *
 * Timers are at-least-once: the handler must be idempotent, and is: it loads the
 * incident and decides from its current state.
 */
export interface TimerScheduler {
  schedule(timer: TimerRequest): Promise<void>;
}

export interface TicketTimerScheduler {
  scheduleTicket(timer: TicketTimer): Promise<void>;
}

export interface TimerJobData {
  incidentId: string;
  kind: TimerKind;
  step: number;
  dueAt: number;
}

/** A hazard ticket's deadline (job id `${ticketId}-overdue`). */
export interface TicketTimerJobData {
  ticketId: string;
  kind: 'ticket_overdue';
  dueAt: number;
}

export type AnyTimerJobData = TimerJobData | TicketTimerJobData;

export interface EscalationTimersOptions {
  /** Producer connection (fails fast). */
  connection: Redis;
  /** Worker connection: BullMQ needs `maxRetriesPerRequest: null` on it. */
  workerConnection: Redis;
  /** keys.bullPrefix */
  prefix: string;
  queueName: string;
  clock: () => number;
  metrics: AlertsMetrics;
  logger: Logger;
  handler: (timer: AnyTimerJobData) => Promise<void>;
  /** Timers handled at once (different incidents; each handler is short). */
  concurrency?: number;
}

const JOB_SUFFIX: Record<TimerKind, string> = {
  accept: '-step',
  en_route: '-enroute',
  on_scene: '-onscene',
  close: '-close',
};

export function timerJobId(t: { incidentId: string; kind: TimerKind; step: number }): string {
  return t.incidentId + JOB_SUFFIX[t.kind] + t.step;
}

/** Local (precise) timers are armed only for timers due within this. */
const LOCAL_MAX_DELAY_MS = 3_600_000;
const LOCAL_MAX_TIMERS = 20_000;

export class EscalationTimers implements TimerScheduler, TicketTimerScheduler {
  private readonly queue: Queue<AnyTimerJobData>;
  private worker: Worker<AnyTimerJobData> | null = null;
  private readonly local = new Map<string, NodeJS.Timeout>();
  private readonly firedLocally = new Set<string>();
  private readonly localRunning = new Set<string>();
  private closing = false;

  constructor(private readonly opts: EscalationTimersOptions) {
    this.queue = new Queue<AnyTimerJobData>(opts.queueName, {
      connection: opts.connection,
      prefix: opts.prefix,
    });
    this.queue.on('error', (err) => opts.logger.error({ err }, 'timer queue error'));
  }

  async schedule(t: TimerRequest): Promise<void> {
    const data: TimerJobData = { incidentId: t.incidentId, kind: t.kind, step: t.step, dueAt: t.dueAt };
    const jobId = timerJobId(t);
    this.armLocal(jobId, data);
    await this.queue.add(t.kind, data, {
      jobId,
      delay: Math.max(0, t.dueAt - this.opts.clock()),
      attempts: 5,
      backoff: { type: 'exponential', delay: 200 },
      removeOnComplete: { age: 3600, count: 100_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  async scheduleTicket(t: TicketTimer): Promise<void> {
    const data: TicketTimerJobData = { ticketId: t.ticketId, kind: 'ticket_overdue', dueAt: t.dueAt };
    await this.queue.add('ticket_overdue', data, {
      jobId: `${t.ticketId}-overdue`,
      delay: Math.max(0, t.dueAt - this.opts.clock()),
      attempts: 5,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: { age: 3600, count: 100_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  start(): void {
    if (this.worker !== null) return;
    const { opts } = this;
    this.worker = new Worker<AnyTimerJobData>(
      opts.queueName,
      async (job: Job<AnyTimerJobData>) => {
        // Already handled by this process's local timer: the durable job is done.
        if (job.id !== undefined && this.firedLocally.has(job.id)) return;
        // Lateness only on the first attempt (a retry's delay is our own backoff) and
        // not when the local timer is handling it (it measured it).
        const local = job.id !== undefined && (this.local.has(job.id) || this.localRunning.has(job.id));
        if (job.attemptsMade === 0 && job.data.kind !== 'ticket_overdue' && !local) {
          opts.metrics.timerLateness.observe(Math.max(0, opts.clock() - job.data.dueAt) / 1000);
        }
        await opts.handler(job.data);
      },
      {
        connection: opts.workerConnection,
        prefix: opts.prefix,
        concurrency: opts.concurrency ?? 16,
        // A timer job in hand when its process is killed is "stalled" and runs again
        // once its lock expires: BullMQ's 30 s default would make that escalation
        // 30 s late. Handlers take milliseconds, so a short lock is safe (a job run
        // twice is a stale no-op).
        lockDuration: 5_000,
        stalledInterval: 2_500,
      },
    );
    this.worker.on('error', (err) => opts.logger.error({ err }, 'timer worker error'));
    this.worker.on('failed', (job, err) =>
      opts.logger.error({ err, job: job?.id, kind: job?.data.kind }, 'timer job failed'),
    );
  }

  async waitUntilReady(): Promise<void> {
    await this.queue.waitUntilReady();
    if (this.worker !== null) await this.worker.waitUntilReady();
  }

  /**
   * A local setTimeout beside the durable job. BullMQ's delayed jobs wait on a Redis
   * blocking call whose timeout Redis only checks on its event-loop ticks (hz 10:
   * every 100 ms on an idle server), so they fire up to ~100 ms late; measured in
   * bench/alerts. The local timer fires on time in the process that scheduled it (or
   * repaired it at start); the BullMQ job stays the durable backstop after a crash
   * and finds the work done (`firedLocally`) or decides a stale no-op. Bounded:
   * only timers due within LOCAL_MAX_DELAY_MS, at most LOCAL_MAX_TIMERS armed.
   */
  private armLocal(jobId: string, data: TimerJobData): void {
    if (this.closing || this.local.has(jobId) || this.firedLocally.has(jobId)) return;
    const delay = data.dueAt - this.opts.clock();
    if (delay > LOCAL_MAX_DELAY_MS || this.local.size >= LOCAL_MAX_TIMERS) return;
    const fire = () => {
      // Never early: a deadline timer that runs before its due time decides "not due"
      // and would be marked done, so wait out any remainder (clock granularity).
      const left = data.dueAt - this.opts.clock();
      if (left > 0) {
        const again = setTimeout(fire, left);
        again.unref();
        this.local.set(jobId, again);
        return;
      }
      this.local.delete(jobId);
      if (this.closing) return;
      this.opts.metrics.timerLateness.observe(Math.max(0, this.opts.clock() - data.dueAt) / 1000);
      this.localRunning.add(jobId);
      this.opts
        .handler(data)
        .finally(() => this.localRunning.delete(jobId))
        .then(() => {
          this.firedLocally.add(jobId);
          // Bounded memory: forget the oldest ids (their BullMQ jobs ran long ago).
          if (this.firedLocally.size > LOCAL_MAX_TIMERS) {
            const oldest = this.firedLocally.values().next().value;
            if (oldest !== undefined) this.firedLocally.delete(oldest);
          }
        })
        .catch((err: unknown) => {
          // The durable job retries it.
          this.opts.logger.error({ err, jobId }, 'local timer failed; the durable job will retry');
        });
    };
    const timer = setTimeout(fire, Math.max(0, delay));
    timer.unref();
    this.local.set(jobId, timer);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.local.values()) clearTimeout(t);
    this.local.clear();
    // Worker first: it finishes the job in hand, then the producer goes.
    if (this.worker !== null) await this.worker.close();
    await this.queue.close();
  }
}
