import type { AuditEntry, HubKeys, LiveMessage, PageMessage } from '@hub/protocol';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AlertsKeys } from './alerts-keys.js';
import type { AlertsMetrics } from './alerts-metrics.js';
import type { IncidentNoticeSink } from './incident-engine.js';
import type { NoticeOutboxEntry, OutboxEntry } from './incident-store.js';
import type { PageSender } from './page-sender.js';

/**
 * Sends decided pages exactly once per (incident, step, station), as far as a
 * network allows, and records every attempt in the incident's audit.
 *
 * How a page travels:
 *   1. The decision that produces a page is committed together with an outbox entry
 *      (incident-store.ts, one Lua script). From then on the page cannot be lost.
 *   2. dispatch(): `SET keys.pageSent(incident, step, station) NX` claims the send;
 *      a second dispatch of the same page (a replayed stream entry, a second
 *      process) finds the marker and stops.
 *   3. The page goes out (MQTT QoS 1, PUBACK awaited).
 *   4. The outbox entry is deleted, a `page_sent` audit line written and the page
 *      published on the live channel (one MULTI).
 *
 * The gap the brief names, a crash between 2 and 3 (marker set, page never sent),
 * is closed by the outbox: the sweeper sends every entry older than `sweepMinAgeMs`
 * that this process is not sending right now, whatever the marker says, at start
 * and then periodically. A crash between 3 and 4 makes the sweeper send the page a
 * second time; it carries the same pageId, which terminals drop when seen before
 * (the protocol says so). So the transport is at-least-once and the effect
 * exactly-once. The age threshold keeps a starting process from re-sending pages
 * another live process is sending at that moment (sends take milliseconds).
 */
export interface PageDispatcherOptions {
  redis: Redis;
  keys: HubKeys;
  akeys: AlertsKeys;
  sender: PageSender;
  clock: () => number;
  metrics: AlertsMetrics;
  logger: Logger;
  /** Lifetime of the pageSent markers; far longer than any incident's ladder. */
  markerTtlSec?: number;
  /** Outbox entries younger than this are left to their owner. */
  sweepMinAgeMs?: number;
  /** Entries looked at per sweep (bounded work per tick). */
  sweepBatch?: number;
  /** Where notice entries of the outbox go (the notifier); without it they are dropped. */
  notices?: () => IncidentNoticeSink | null;
}

export type DispatchResult = 'sent' | 'duplicate' | 'failed' | 'in_flight';

export class PageDispatcher {
  /** Page ids this process is sending now (bounded by pages in flight: a handful). */
  private readonly inFlight = new Set<string>();
  private readonly markerTtlSec: number;
  private readonly sweepMinAgeMs: number;
  private readonly sweepBatch: number;

  constructor(private readonly opts: PageDispatcherOptions) {
    this.markerTtlSec = opts.markerTtlSec ?? 7 * 24 * 3600;
    this.sweepMinAgeMs = opts.sweepMinAgeMs ?? 3_000;
    this.sweepBatch = opts.sweepBatch ?? 200;
  }

  async dispatch(page: PageMessage): Promise<DispatchResult> {
    if (this.inFlight.has(page.pageId)) return 'in_flight';
    this.inFlight.add(page.pageId);
    try {
      const { redis, keys } = this.opts;
      const claimed = await redis.set(
        keys.pageSent(page.incidentId, page.step, page.stationId),
        String(this.opts.clock()),
        'EX',
        this.markerTtlSec,
        'NX',
      );
      if (claimed === null) {
        this.opts.metrics.pageDuplicates.inc();
        await this.audit(page, 'page_duplicate', 'marker already set; not sent again');
        return 'duplicate';
      }
      return await this.sendNow(page, false);
    } finally {
      this.inFlight.delete(page.pageId);
    }
  }

  /** Sends outbox entries older than the minimum age. Returns how many were sent. */
  async sweep(): Promise<number> {
    const { redis, akeys, clock } = this.opts;
    const now = clock();
    let sent = 0;
    let seen = 0;
    let cursor = '0';
    do {
      const [next, flat] = await redis.hscan(akeys.outbox, cursor, 'COUNT', this.sweepBatch);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        seen++;
        const pageId = flat[i]!;
        let entry: OutboxEntry | NoticeOutboxEntry;
        try {
          entry = JSON.parse(flat[i + 1]!) as OutboxEntry | NoticeOutboxEntry;
        } catch {
          this.opts.logger.error({ pageId }, 'unreadable outbox entry dropped');
          await redis.hdel(akeys.outbox, pageId);
          continue;
        }
        if ('notice' in entry) {
          if (now - entry.createdAt < this.sweepMinAgeMs) continue;
          // A notice committed with its change but not queued (crash, Redis hiccup).
          const sink = this.opts.notices?.() ?? null;
          try {
            if (sink !== null) await sink.notify([entry.notice], entry.incident);
            await redis.hdel(akeys.outbox, pageId);
          } catch (err) {
            this.opts.logger.warn({ err, field: pageId }, 'outbox notice not queued; retrying next sweep');
          }
          continue;
        }
        if (now - entry.createdAt < this.sweepMinAgeMs || this.inFlight.has(pageId)) continue;
        this.inFlight.add(pageId);
        try {
          if ((await this.sendNow(entry.page, true)) === 'sent') sent++;
        } finally {
          this.inFlight.delete(pageId);
        }
      }
    } while (cursor !== '0' && seen < this.sweepBatch * 10);
    this.opts.metrics.outboxSize.set(await redis.hlen(akeys.outbox));
    return sent;
  }

  private async sendNow(decided: PageMessage, fromSweep: boolean): Promise<DispatchResult> {
    const { redis, keys, akeys, metrics, clock } = this.opts;
    const page: PageMessage = { ...decided, sentAt: clock() };
    try {
      await this.opts.sender.send(page);
    } catch (err) {
      metrics.pageFailures.inc();
      this.opts.logger.warn(
        { err, incidentId: page.incidentId, stationId: page.stationId, step: page.step },
        'page send failed; the outbox will retry',
      );
      await this.audit(page, 'page_failed', (err as Error).message).catch(() => undefined);
      return 'failed';
    }
    const done = clock();
    metrics.pagesSent.inc({ step: String(page.step) });
    if (fromSweep) metrics.outboxResent.inc();
    if (page.step === 1 && !fromSweep) {
      metrics.firstPageLatency.observe(Math.max(0, done - page.receivedAt) / 1000);
      // decided.sentAt is the decision time (buildPage); page.sentAt the send start.
      metrics.stageLatency.observe(
        { stage: 'received_to_decided' },
        Math.max(0, decided.sentAt - page.receivedAt) / 1000,
      );
      metrics.stageLatency.observe({ stage: 'decided_to_sent' }, Math.max(0, done - decided.sentAt) / 1000);
      metrics.stageLatency.observe({ stage: 'received_to_sent' }, Math.max(0, done - page.receivedAt) / 1000);
    }
    const entry: AuditEntry = {
      at: page.sentAt,
      kind: 'page_sent',
      stationId: page.stationId,
      channel: 'mqtt',
      detail: `step ${page.step}, page ${page.pageId}${fromSweep ? ', resent from the outbox' : ''}`,
    };
    const live: LiveMessage = { type: 'page', page };
    await redis
      .multi()
      .hdel(akeys.outbox, page.pageId)
      .rpush(keys.incidentAudit(page.incidentId), JSON.stringify(entry))
      .publish(keys.live, JSON.stringify(live))
      .exec();
    return 'sent';
  }

  private async audit(page: PageMessage, kind: string, detail: string): Promise<void> {
    const entry: AuditEntry = {
      at: this.opts.clock(),
      kind,
      stationId: page.stationId,
      channel: 'mqtt',
      detail: `step ${page.step}, page ${page.pageId}: ${detail}`,
    };
    await this.opts.redis.rpush(this.opts.keys.incidentAudit(page.incidentId), JSON.stringify(entry));
  }
}
