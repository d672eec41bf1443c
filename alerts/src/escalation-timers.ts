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

export class EscalationTimers implements TimerScheduler, TicketTimerScheduler {
  private readonly queue: Queue<AnyTimerJobData>;
  private worker: Worker<AnyTimerJobData> | null = null;

  constructor(private readonly opts: EscalationTimersOptions) {
    this.queue = new Queue<AnyTimerJobData>(opts.queueName, {
      connection: opts.connection,
      prefix: opts.prefix,
    });
    this.queue.on('error', (err) => opts.logger.error({ err }, 'timer queue error'));
  }

  async schedule(t: TimerRequest): Promise<void> {
    const data: TimerJobData = { incidentId: t.incidentId, kind: t.kind, step: t.step, dueAt: t.dueAt };
    await this.queue.add(t.kind, data, {
      jobId: timerJobId(t),
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
        // Lateness only on the first attempt: a retry's delay is our own backoff.
        if (job.attemptsMade === 0 && job.data.kind !== 'ticket_overdue') {
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

  async close(): Promise<void> {
    // Worker first: it finishes the job in hand, then the producer goes.
    if (this.worker !== null) await this.worker.close();
    await this.queue.close();
  }
}
