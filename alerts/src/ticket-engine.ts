import type { HazardTicket, HubKeys, OperatorAction, TicketLiveMessage } from '@hub/protocol';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ALERTS_CODES, AlertsError } from './alerts-codes.js';
import type { AlertsMetrics } from './alerts-metrics.js';
import type { TicketTimerScheduler } from './escalation-timers.js';
import type { DecisionRegistry } from './incident-decision.js';
import type { EngineResult } from './incident-engine.js';
import {
  applyTicketAction,
  assignTicketId,
  decideHazard,
  decideTicketOverdue,
  type HazardInput,
  type TicketParams,
} from './ticket-decision.js';
import type { StoredTicket, TicketStore } from './ticket-store.js';

/**
 * load → decide (ticket-decision.ts, pure) → commit (Lua, compare-and-set) → timer,
 * live view, notice. The only writer of hazard tickets. Inputs: hazard events from
 * the other-lane consumer, operators' actions, deadline timers.
 */
export interface TicketNoticeSink {
  /** A ticket was opened, put under supervision or became overdue (WeCom / SMS to the grid). */
  ticketNotice(kind: 'opened' | 'supervised' | 'overdue', ticket: HazardTicket): Promise<void>;
}

export interface TicketEngineOptions {
  store: TicketStore;
  timers: TicketTimerScheduler;
  registry: () => DecisionRegistry;
  params: TicketParams;
  redis: Redis;
  keys: HubKeys;
  clock: () => number;
  metrics: AlertsMetrics;
  logger: Logger;
  notices?: TicketNoticeSink;
}

const MAX_ATTEMPTS = 8;

export class TicketEngine {
  constructor(private readonly opts: TicketEngineOptions) {}

  async onHazard(input: HazardInput): Promise<EngineResult> {
    const { store, metrics, params, clock } = this.opts;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const registry = this.opts.registry();
      const device = registry.devices.get(input.deviceId);
      const now = clock();
      const open = device === undefined ? null : await store.openFor(device.buildingId, input.lane);
      const recent =
        open === null && device !== undefined
          ? await store.recentCount(device.buildingId, input.lane, now - params.repeatWindowMs)
          : 0;
      const d = decideHazard(params, registry, open?.ticket ?? null, recent, input, now);
      switch (d.kind) {
        case 'reject':
          return { outcome: 'rejected', code: d.code, message: d.message };
        case 'record':
          metrics.recorded.inc({ reason: d.reason });
          return { outcome: 'recorded', incidentId: null, reason: d.reason };
        case 'fold': {
          const saved = await store.update(open!.raw, d.ticket);
          if (saved === null) {
            metrics.casConflicts.inc();
            continue;
          }
          metrics.ticketEvents.inc({ lane: input.lane, result: 'folded' });
          await this.afterCommit(open!.ticket, d.ticket);
          return { outcome: 'folded', incidentId: d.ticket.id };
        }
        case 'open': {
          const { ticket, timers } = assignTicketId(d, await store.nextId());
          const saved = await store.create(ticket, now - params.repeatWindowMs);
          if (saved === null) {
            metrics.casConflicts.inc();
            continue;
          }
          metrics.ticketEvents.inc({ lane: input.lane, result: 'opened' });
          for (const t of timers) {
            await this.opts.timers.scheduleTicket(t).catch((err: unknown) => {
              // repair() schedules it again; the input must not fail for it.
              this.opts.logger.error({ err, ticketId: t.ticketId }, 'ticket timer schedule failed');
            });
          }
          await this.afterCommit(null, ticket);
          return { outcome: 'opened', incidentId: ticket.id };
        }
      }
    }
    throw new AlertsError(
      ALERTS_CODES.HANDLER_FAILED,
      `hazard of ${input.deviceId}: too many conflicting updates`,
    );
  }

  async onAction(
    accountId: string,
    action: Exclude<OperatorAction, { type: 'confirm_incident' }>,
  ): Promise<EngineResult> {
    const { store, metrics } = this.opts;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const stored = await store.get(action.ticketId);
      if (stored === null) {
        return {
          outcome: 'rejected',
          code: ALERTS_CODES.UNKNOWN_TICKET,
          message: `no ticket ${action.ticketId}`,
        };
      }
      const d = applyTicketAction(stored.ticket, accountId, action, this.opts.clock());
      if (d.kind === 'reject') {
        // Refusals are audited on the ticket too, so the officer's console can show why.
        if (stored.ticket.state !== 'closed') {
          const refused: HazardTicket = {
            ...stored.ticket,
            audit: [
              ...stored.ticket.audit,
              { at: this.opts.clock(), kind: 'refused', by: accountId, detail: `${action.type}: ${d.code}` },
            ].slice(-200),
          };
          await store.update(stored.raw, refused);
        }
        return { outcome: 'rejected', code: d.code, message: d.message };
      }
      const saved = await store.update(stored.raw, d.ticket);
      if (saved === null) {
        metrics.casConflicts.inc();
        continue;
      }
      metrics.ticketActions.inc({ type: action.type });
      await this.afterCommit(stored.ticket, d.ticket);
      return { outcome: 'updated', incidentId: d.ticket.id };
    }
    throw new AlertsError(
      ALERTS_CODES.HANDLER_FAILED,
      `action on ${action.ticketId}: too many conflicting updates`,
    );
  }

  async onOverdue(ticketId: string): Promise<EngineResult> {
    const { store, metrics } = this.opts;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const stored = await store.get(ticketId);
      if (stored === null) return { outcome: 'noop', reason: 'missing' };
      const d = decideTicketOverdue(this.opts.params, stored.ticket, this.opts.clock());
      if (d.kind === 'noop') return { outcome: 'noop', reason: d.reason };
      const saved = await store.update(stored.raw, d.ticket);
      if (saved === null) {
        metrics.casConflicts.inc();
        continue;
      }
      metrics.ticketsOverdue.inc({ lane: d.ticket.lane });
      await this.afterCommit(stored.ticket, d.ticket);
      return { outcome: 'updated', incidentId: ticketId };
    }
    throw new AlertsError(
      ALERTS_CODES.HANDLER_FAILED,
      `overdue of ${ticketId}: too many conflicting updates`,
    );
  }

  /**
   * Deadline timers of open tickets (deterministic job ids: repeats are harmless), and
   * the safety net: a due ticket not yet marked overdue is decided now. Bounded per pass.
   */
  async repair(limit = 5_000): Promise<number> {
    const now = this.opts.clock();
    let n = 0;
    for (const { id, deadline } of await this.opts.store.openWithDeadlines(limit)) {
      if (deadline <= now) {
        const r = await this.onOverdue(id);
        if (r.outcome === 'updated') n++;
      } else {
        await this.opts.timers.scheduleTicket({ ticketId: id, dueAt: deadline });
      }
    }
    return n;
  }

  private async afterCommit(prev: HazardTicket | null, next: HazardTicket): Promise<void> {
    const { redis, keys, logger, notices } = this.opts;
    const live: TicketLiveMessage = { type: 'ticket', ticket: next };
    const work: Promise<unknown>[] = [
      redis.publish(keys.live, JSON.stringify(live)).catch((err: unknown) => {
        logger.warn({ err, ticketId: next.id }, 'live ticket update not published');
      }),
    ];
    if (notices !== undefined) {
      const say = (kind: 'opened' | 'supervised' | 'overdue') =>
        work.push(
          notices.ticketNotice(kind, next).catch((err: unknown) => {
            logger.warn({ err, ticketId: next.id, kind }, 'ticket notice not queued');
          }),
        );
      if (prev === null) say('opened');
      if (next.supervised && (prev === null || !prev.supervised)) say('supervised');
      if (next.overdueAt !== null && (prev === null || prev.overdueAt === null)) say('overdue');
    }
    await Promise.all(work);
  }
}

export type { StoredTicket };
