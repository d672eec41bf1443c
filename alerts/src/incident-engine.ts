import type { AuditEntry, HubKeys, Incident, LiveMessage, PageMessage, StationReply } from '@hub/protocol';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ALERTS_CODES, type AlertsCode, AlertsError } from './alerts-codes.js';
import type { AlertsKeys } from './alerts-keys.js';
import type { AlertsMetrics } from './alerts-metrics.js';
import type { TimerJobData, TimerScheduler } from './escalation-timers.js';
import type { QuarantineEntry, QuarantineState, SuppressedAlarm } from './fault-quarantine.js';
import {
  type AlarmInput,
  applyReply,
  assignIncidentId,
  type DecisionContext,
  type DecisionRegistry,
  decideAlarm,
  decideCorroboration,
  decideEscalation,
  decideHumanConfirmation,
  type IncidentChange,
  type LadderParams,
  type Notice,
  pendingTimers,
} from './incident-decision.js';
import { type IncidentStore, noticeOutboxField, type StoredIncident } from './incident-store.js';
import type { LadderPolicy } from './ladder-policy.js';
import type { TravelTimes } from './station-choice.js';
import type { HazardInput } from './ticket-decision.js';
import { type Corroboration, DEFAULT_VERIFICATION, type VerificationParams } from './verification.js';

/**
 * The loop around the pure decisions: load state → decide → commit (atomic,
 * compare-and-set) → send pages, schedule timers, tell the live views. Every input
 * (stream entry, timer) goes through here, so replaying an input after a crash
 * decides against the already-committed state and changes nothing.
 *
 * Order after a commit: pages first (the station's screen is what counts), timers
 * and the live incident update alongside. None of these can be lost by a crash
 * after the commit: pages sit in the outbox, timers are re-derived from open
 * incidents (repairTimers), the live view reloads from keys.
 */
export interface PageDispatch {
  dispatch(page: PageMessage): Promise<unknown>;
}

/** Where notices (SMS / voice / WeCom through the webhook channel) go; see notifier.ts. */
export interface IncidentNoticeSink {
  notify(notices: readonly Notice[], incident: Pick<Incident, 'id' | 'township' | 'grid'>): Promise<void>;
}

export interface IncidentEngineOptions {
  store: IncidentStore;
  dispatcher: PageDispatch;
  timers: TimerScheduler;
  /** The current registry snapshot (RegistryCache.current): a field read, no I/O. */
  registry: () => DecisionRegistry;
  params: LadderParams;
  redis: Redis;
  keys: HubKeys;
  akeys: AlertsKeys;
  clock: () => number;
  metrics: AlertsMetrics;
  logger: Logger;
  /** Ladders per occupancy / key-period; without it every incident uses `params`. */
  policy?: LadderPolicy;
  /** Key-period mode in force now (KeyPeriodWatcher.active). */
  keyPeriod?: () => boolean;
  verification?: VerificationParams;
  /** Stations busy with another incident (BusyStations.current), when skipping them is configured. */
  busyStations?: () => ReadonlySet<string>;
  travelTimes?: TravelTimes;
  notices?: IncidentNoticeSink;
  /** Quarantine after a device_fault close (fault-quarantine.ts); 0 = off, default 30 min. */
  faultQuarantineMs?: number;
  /** Where a suppressed (quarantined) alarm opens / folds its fault ticket (TicketEngine). */
  faultTickets?: { onHazard(input: HazardInput): Promise<unknown> };
}

export type EngineResult =
  | { outcome: 'opened' | 'folded' | 'updated'; incidentId: string }
  | { outcome: 'recorded'; incidentId: string | null; reason: string }
  | { outcome: 'noop'; reason: string }
  | { outcome: 'rejected'; code: AlertsCode; message: string };

/** Compare-and-set retries before giving up (the entry stays pending and is retried). */
const MAX_ATTEMPTS = 8;

export class IncidentEngine {
  /** The parts of the decision context fixed at construction (built once, not per input). */
  private readonly fixed: Omit<DecisionContext, 'registry' | 'keyPeriod' | 'busyStations'>;

  constructor(private readonly opts: IncidentEngineOptions) {
    this.fixed = {
      params: opts.params,
      policy: opts.policy,
      verification: opts.verification,
      skipBusyStations: opts.busyStations !== undefined ? true : undefined,
      travelTimes: opts.travelTimes,
      faultQuarantineMs: opts.faultQuarantineMs,
    };
  }

  /** The context of one decision: the fixed part plus the snapshots read now (one object per attempt). */
  private ctx(): DecisionContext {
    const o = this.opts;
    return {
      ...this.fixed,
      registry: o.registry(),
      keyPeriod: o.keyPeriod?.() ?? false,
      busyStations: o.busyStations?.(),
    };
  }

  /** A fire-lane event (or a test press from the other lane, which is only recorded). */
  async onFireEvent(alarm: AlarmInput): Promise<EngineResult> {
    const { store, metrics } = this.opts;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const ctx = this.ctx();
      const device = ctx.registry.devices.get(alarm.deviceId);
      const loaded =
        device === undefined ? null : await this.loadOpenWithCorroboration(device.buildingId, alarm.deviceId);
      const open = loaded?.open ?? null;
      let d = decideAlarm(
        ctx,
        open?.incident ?? null,
        alarm,
        this.opts.clock(),
        loaded?.corroboration ?? null,
        loaded?.quarantine ?? null,
      );
      if (d.kind === 'suppress' && device !== undefined) {
        // Remember this suppressed alarm for the building and read the one before it
        // in the same command (SET … GET), so two quarantined detectors of a building
        // alarming at once in two processes cannot both be held back: the second sees
        // the first and pages (the safety rule of fault-quarantine.ts).
        const windowMs = (this.opts.verification ?? DEFAULT_VERIFICATION).corroborationWindowMs;
        const mine: SuppressedAlarm = { deviceId: alarm.deviceId, at: this.opts.clock() };
        const prev = await this.opts.redis.set(
          this.opts.akeys.faultSuppressed(device.buildingId),
          JSON.stringify(mine),
          'PX',
          windowMs,
          'GET',
        );
        const lastSuppressed = parseJson<SuppressedAlarm>(prev);
        if (lastSuppressed !== null) {
          d = decideAlarm(
            ctx,
            open?.incident ?? null,
            alarm,
            this.opts.clock(),
            loaded?.corroboration ?? null,
            { entry: loaded?.quarantine?.entry ?? null, lastSuppressed },
          );
        }
      }
      switch (d.kind) {
        case 'reject':
          return { outcome: 'rejected', code: d.code, message: d.message };
        case 'suppress':
          await this.suppressed(alarm, d.entry, d.quarantine);
          return { outcome: 'recorded', incidentId: null, reason: 'fault_quarantine' };
        case 'record':
          if (d.incidentId !== null) await store.appendAudit(d.incidentId, [d.entry]);
          else await store.appendUnpaged(d.entry);
          metrics.recorded.inc({ reason: d.reason });
          return { outcome: 'recorded', incidentId: d.incidentId, reason: d.reason };
        case 'fold': {
          const saved = await store.update(
            open!.raw,
            d.change.incident,
            d.change.audit,
            [],
            this.opts.clock(),
            this.noticesOf(d.change),
          );
          if (saved === null) {
            metrics.casConflicts.inc();
            continue;
          }
          metrics.alarmsFolded.inc();
          await this.afterCommit(d.change);
          return { outcome: 'folded', incidentId: d.change.incident.id };
        }
        case 'open': {
          const change = assignIncidentId(d.change, await store.nextId());
          const res = await store.create(
            change.incident,
            change.audit,
            change.pages,
            this.opts.clock(),
            this.noticesOf(change),
          );
          if (!res.ok) {
            // Another alarm of the building opened one first: decide again (it folds).
            metrics.casConflicts.inc();
            continue;
          }
          metrics.incidentsOpened.inc();
          // One line per incident (not per message): operators want to see these.
          this.opts.logger.info(
            {
              incidentId: change.incident.id,
              buildingId: change.incident.buildingId,
              deviceId: alarm.deviceId,
            },
            'incident opened',
          );
          for (const a of change.audit)
            if (a.kind === 'quarantine_override') metrics.faultQuarantine.inc({ result: 'paged_anyway' });
          await this.afterCommit(change);
          return { outcome: 'opened', incidentId: change.incident.id };
        }
      }
    }
    throw new AlertsError(
      ALERTS_CODES.HANDLER_FAILED,
      `alarm of ${alarm.deviceId}: too many conflicting updates`,
    );
  }

  /** A station reply from the actions stream; `stationId` is the authenticated station. */
  async onReply(stationId: string, reply: StationReply): Promise<EngineResult> {
    const { store, metrics } = this.opts;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const stored = await store.get(reply.incidentId);
      if (stored === null) {
        return {
          outcome: 'rejected',
          code: ALERTS_CODES.UNKNOWN_INCIDENT,
          message: `no incident ${reply.incidentId}`,
        };
      }
      const d = applyReply(this.ctx(), stored.incident, stationId, reply, this.opts.clock());
      if (d.kind === 'reject') return { outcome: 'rejected', code: d.code, message: d.message };
      metrics.replies.inc({ type: reply.type });
      if (d.kind === 'record') {
        await store.appendAudit(stored.incident.id, [d.entry]);
        return { outcome: 'recorded', incidentId: stored.incident.id, reason: d.entry.kind };
      }
      if (await this.commit(stored, d.change)) return { outcome: 'updated', incidentId: stored.incident.id };
    }
    throw new AlertsError(
      ALERTS_CODES.HANDLER_FAILED,
      `reply to ${reply.incidentId}: too many conflicting updates`,
    );
  }

  /** An escalation timer fired. */
  async onTimer(timer: TimerJobData): Promise<EngineResult> {
    const { store, metrics } = this.opts;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const stored = await store.get(timer.incidentId);
      if (stored === null) {
        metrics.escalations.inc({ result: 'missing' });
        return { outcome: 'noop', reason: 'missing' };
      }
      const d = decideEscalation(this.ctx(), stored.incident, timer, this.opts.clock());
      if (d.kind === 'noop') {
        metrics.escalations.inc({ result: d.reason });
        return { outcome: 'noop', reason: d.reason };
      }
      if (await this.commit(stored, d.change)) {
        metrics.escalations.inc({ result: 'update' });
        return { outcome: 'updated', incidentId: stored.incident.id };
      }
    }
    throw new AlertsError(
      ALERTS_CODES.HANDLER_FAILED,
      `timer of ${timer.incidentId}: too many conflicting updates`,
    );
  }

  /**
   * A corroborating hazard (electrical arc / over-temperature, charging smoke or port
   * over-temperature) in a building: remembered for the window (an alarm after it
   * opens confirmed) and applied to the building's open fire incident now.
   */
  async onCorroboration(buildingId: string, c: Corroboration): Promise<EngineResult> {
    const { metrics, redis, akeys } = this.opts;
    const windowMs = (this.opts.verification ?? DEFAULT_VERIFICATION).corroborationWindowMs;
    await redis.set(akeys.corroboration(buildingId), JSON.stringify(c), 'PX', windowMs);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const open = await this.loadOpen(buildingId);
      if (open === null) {
        metrics.corroborations.inc({ kind: c.kind, result: 'no_incident' });
        return { outcome: 'noop', reason: 'no_incident' };
      }
      const d = decideCorroboration(this.ctx(), open.incident, c, this.opts.clock());
      if (d.kind === 'noop') {
        metrics.corroborations.inc({ kind: c.kind, result: d.reason });
        return { outcome: 'noop', reason: d.reason };
      }
      if (await this.commit(open, d.change)) {
        metrics.corroborations.inc({ kind: c.kind, result: 'confirmed' });
        return { outcome: 'updated', incidentId: open.incident.id };
      }
    }
    throw new AlertsError(
      ALERTS_CODES.HANDLER_FAILED,
      `corroboration in ${buildingId}: too many conflicting updates`,
    );
  }

  /** A person confirmed the fire (operator action `confirm_incident`). */
  async onHumanConfirm(incidentId: string, accountId: string, note?: string): Promise<EngineResult> {
    const { store } = this.opts;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const stored = await store.get(incidentId);
      if (stored === null) {
        return {
          outcome: 'rejected',
          code: ALERTS_CODES.UNKNOWN_INCIDENT,
          message: `no incident ${incidentId}`,
        };
      }
      const d = decideHumanConfirmation(this.ctx(), stored.incident, accountId, this.opts.clock(), note);
      if (d.kind === 'reject') return { outcome: 'rejected', code: d.code, message: d.message };
      if (d.kind === 'record') {
        await store.appendAudit(incidentId, [d.entry]);
        return { outcome: 'recorded', incidentId, reason: d.entry.kind };
      }
      if (await this.commit(stored, d.change)) return { outcome: 'updated', incidentId };
    }
    throw new AlertsError(
      ALERTS_CODES.HANDLER_FAILED,
      `confirmation of ${incidentId}: too many conflicting updates`,
    );
  }

  /**
   * Schedules the timers every open incident should have (deterministic job ids make
   * this harmless). Run at start and periodically: it closes the gap of a crash
   * between a commit and its timer.
   */
  async repairTimers(): Promise<number> {
    let n = 0;
    for (const id of await this.opts.store.openIds()) {
      const stored = await this.opts.store.get(id);
      if (stored === null) continue;
      for (const t of pendingTimers(stored.incident)) {
        await this.opts.timers.schedule(t);
        n++;
      }
    }
    return n;
  }

  /**
   * A quarantined device alarmed alone: no page. The fault ticket first (a failure
   * leaves the entry pending and it is retried; a replay folds into the same ticket),
   * then the unpaged audit line and the counters.
   */
  private async suppressed(alarm: AlarmInput, entry: AuditEntry, q: QuarantineEntry): Promise<void> {
    const { store, metrics } = this.opts;
    if (this.opts.faultTickets !== undefined) {
      await this.opts.faultTickets.onHazard({
        deviceId: alarm.deviceId,
        type: 'quarantined_alarm',
        lane: 'fault',
        eventId: alarm.event.id,
        receivedAt: alarm.receivedAt,
        detail: `${alarm.event.type} while quarantined after ${q.incidentId} (device_fault); replace the device`,
      });
    }
    await store.appendUnpaged(entry);
    metrics.recorded.inc({ reason: 'fault_quarantine' });
    metrics.faultQuarantine.inc({ result: 'suppressed' });
  }

  private async commit(stored: StoredIncident, change: IncidentChange): Promise<boolean> {
    const saved = await this.opts.store.update(
      stored.raw,
      change.incident,
      change.audit,
      change.pages,
      this.opts.clock(),
      this.noticesOf(change),
      change.quarantine ?? [],
    );
    if (saved === null) {
      this.opts.metrics.casConflicts.inc();
      return false;
    }
    if (change.quarantine !== undefined && change.quarantine.length > 0)
      this.opts.metrics.faultQuarantine.inc({ result: 'quarantined' }, change.quarantine.length);
    await this.afterCommit(change);
    return true;
  }

  /** Notices of a change, when a notifier is configured (none are stored otherwise). */
  private noticesOf(change: IncidentChange): readonly Notice[] {
    return this.opts.notices !== undefined ? (change.notices ?? []) : [];
  }

  /** The open incident and the recent corroboration of a building, in one round trip for both keys. */
  private async loadOpenWithCorroboration(
    buildingId: string,
    deviceId: string,
  ): Promise<{
    open: StoredIncident | null;
    corroboration: Corroboration | null;
    quarantine: QuarantineState;
  }> {
    const [id, c, q, s] = await this.opts.redis.mget(
      this.opts.keys.buildingOpenIncident(buildingId, 'fire'),
      this.opts.akeys.corroboration(buildingId),
      this.opts.akeys.faultQuarantine(deviceId),
      this.opts.akeys.faultSuppressed(buildingId),
    );
    const corroboration = parseJson<Corroboration>(c);
    // lastSuppressed read here confirms an incident another detector opens; before a
    // suppression it is read again, atomically with writing it (onFireEvent).
    const quarantine: QuarantineState = {
      entry: parseJson<QuarantineEntry>(q),
      lastSuppressed: parseJson<SuppressedAlarm>(s),
    };
    return { open: await this.openById(buildingId, id ?? null), corroboration, quarantine };
  }

  /** The building's open incident; a key naming a missing or closed incident is cleared. */
  private async loadOpen(buildingId: string): Promise<StoredIncident | null> {
    return this.openById(buildingId, await this.opts.store.openIdFor(buildingId));
  }

  /** The incident the building's open key names (`id`), unless missing or closed: then the key is cleared. */
  private async openById(buildingId: string, id: string | null): Promise<StoredIncident | null> {
    if (id === null) return null;
    const stored = await this.opts.store.get(id);
    if (stored === null || stored.incident.state === 'closed') {
      await this.opts.store.clearStaleOpen(buildingId, id);
      return null;
    }
    return stored;
  }

  private async afterCommit(change: IncidentChange): Promise<void> {
    const { logger } = this.opts;
    const work: Promise<unknown>[] = [];
    for (const page of change.pages) work.push(this.opts.dispatcher.dispatch(page));
    for (const t of change.timers) {
      // A failed schedule is repaired by repairTimers; it must not fail the input.
      work.push(
        this.opts.timers.schedule(t).catch((err: unknown) => {
          logger.error(
            { err, incidentId: t.incidentId, kind: t.kind, step: t.step },
            'timer schedule failed',
          );
        }),
      );
    }
    const live: LiveMessage = { type: 'incident', incident: change.incident };
    work.push(
      this.opts.redis.publish(this.opts.keys.live, JSON.stringify(live)).catch((err: unknown) => {
        logger.warn({ err, incidentId: change.incident.id }, 'live incident update not published');
      }),
    );
    const notices = this.noticesOf(change);
    if (notices.length > 0 && this.opts.notices !== undefined) {
      // Committed in the outbox with the change; queued now and removed from the
      // outbox once queued. A failure leaves them for the sweeper.
      const sink = this.opts.notices;
      work.push(
        sink
          .notify(notices, change.incident)
          .then(() =>
            this.opts.redis.hdel(this.opts.akeys.outbox, ...notices.map((n, i) => noticeOutboxField(n, i))),
          )
          .catch((err: unknown) => {
            logger.error(
              { err, incidentId: change.incident.id },
              'notices not queued; the outbox sweeper retries',
            );
          }),
      );
    }
    if (change.incident.verification === 'confirmed') {
      for (const a of change.audit)
        if (a.kind === 'confirmed')
          this.opts.metrics.confirmations.inc({ reason: change.incident.confirmedBy ?? 'unknown' });
    }
    await Promise.all(work);
    if (logger.isLevelEnabled('debug')) logAudit(logger, change.incident.id, change.audit);
  }
}

function parseJson<T>(s: string | null | undefined): T | null {
  if (s === null || s === undefined) return null;
  try {
    return JSON.parse(s) as T;
  } catch {
    return null;
  }
}

function logAudit(logger: Logger, incidentId: string, audit: AuditEntry[]): void {
  for (const a of audit) logger.debug({ incidentId, ...a }, 'incident audit');
}
