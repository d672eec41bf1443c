import type { HubKeys } from '@hub/protocol';
import { RegistryCache, whenReady } from '@hub/registry';
import type { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createActionHandler } from './action-consumer.js';
import { type AlertsKeys, alertsKeys } from './alerts-keys.js';
import { type AlertsMetrics, createAlertsMetrics } from './alerts-metrics.js';
import { BusyStations } from './busy-stations.js';
import { EscalationTimers } from './escalation-timers.js';
import { createFireLaneHandler } from './fire-lane-consumer.js';
import type { LadderParams } from './incident-decision.js';
import { IncidentEngine } from './incident-engine.js';
import { IncidentStore } from './incident-store.js';
import { KeyPeriodWatcher } from './key-period-watcher.js';
import type { LadderPolicyConfig } from './ladder-policy.js';
import { Notifier } from './notifier.js';
import { createOperatorActionHandler } from './operator-action-consumer.js';
import { createOtherLaneHandler } from './other-lane-consumer.js';
import { PageDispatcher } from './page-outbox.js';
import { MqttPageSender, type PageSender } from './page-sender.js';
import type { TravelTimes } from './station-choice.js';
import { StreamConsumer } from './stream-consumer.js';
import { DEFAULT_TICKET_PARAMS, type TicketParams } from './ticket-decision.js';
import { TicketEngine } from './ticket-engine.js';
import { TicketStore } from './ticket-store.js';
import type { VerificationParams } from './verification.js';
import { WebhookChannel } from './webhook-channel.js';

/**
 * The alerts service assembled from its parts, given open connections. main.ts
 * opens the sockets and hands them in; integration tests do the same against the
 * test Redis and an in-process broker.
 *
 * Start order matters for "never lose an alarm": the registry first (decisions
 * need it), the timer worker, then the repair pass (timers of open incidents), the
 * outbox sweep (pages decided before a crash), and only then the stream consumers,
 * which first take over their own and dead consumers' pending entries.
 */
export interface AlertsServiceOptions {
  keys: HubKeys;
  params: LadderParams;
  /** Unique per process: `alerts-<hostname>-<pid>` by default. */
  consumerName: string;
  claimIdleMs: number;
  /** Shared command connection (not closed by the service). */
  redis: Redis;
  /**
   * Opens a dedicated connection (blocking reads, the registry subscriber, the BullMQ
   * worker). `worker` asks for `maxRetriesPerRequest: null`. The service closes them.
   */
  openRedis: (purpose: string, worker: boolean) => Redis;
  /** Connected as hub-alerts (not closed by the service). */
  mqtt: MqttClient;
  logger: Logger;
  metricsRegistry: Registry;
  clock?: () => number;
  /** Replaces the MQTT sender (tests of failure paths). */
  sender?: PageSender;
  sweepEveryMs?: number;
  sweepMinAgeMs?: number;
  repairEveryMs?: number;
  claimEveryMs?: number;
  blockMs?: number;
  /** Ladders per occupancy and key-period mode; without it every incident uses `params`. */
  ladders?: LadderPolicyConfig;
  verification?: VerificationParams;
  /** Quarantine after a device_fault close; 0 = off, default 30 min (fault-quarantine.ts). */
  faultQuarantineMs?: number;
  skipBusyStations?: boolean;
  travelTimes?: TravelTimes;
  tickets?: TicketParams;
  /** The signed webhook channel; off when absent. */
  webhook?: {
    url: string;
    secret: string;
    maxAttempts: number;
    backoffMs: number;
    timeoutMs: number;
    maxQueued: number;
  };
  throttleMs?: { sms: number; voice: number; wecom: number };
}

export class AlertsService {
  readonly metrics: AlertsMetrics;
  readonly akeys: AlertsKeys;
  readonly store: IncidentStore;
  readonly dispatcher: PageDispatcher;
  readonly engine: IncidentEngine;
  readonly timers: EscalationTimers;
  readonly ticketStore: TicketStore;
  readonly tickets: TicketEngine;
  readonly keyPeriod: KeyPeriodWatcher;
  readonly webhook: WebhookChannel | null;
  readonly notifier: Notifier | null;
  private readonly busy: BusyStations | null;
  private readonly keyPeriodSub: Redis;
  private registry: RegistryCache | null = null;
  private readonly consumers: StreamConsumer[] = [];
  private readonly owned: Redis[] = [];
  private readonly tickers = new Map<string, NodeJS.Timeout>();
  private readonly tasksRunning = new Set<Promise<unknown>>();
  private closed = false;

  private constructor(private readonly opts: AlertsServiceOptions) {
    const clock = opts.clock ?? Date.now;
    const { keys, logger, redis } = opts;
    this.metrics = createAlertsMetrics(opts.metricsRegistry);
    this.akeys = alertsKeys(keys);
    this.store = new IncidentStore(redis, keys, this.akeys);
    const sender = opts.sender ?? new MqttPageSender({ client: opts.mqtt });
    this.dispatcher = new PageDispatcher({
      redis,
      keys,
      akeys: this.akeys,
      sender,
      clock,
      metrics: this.metrics,
      logger,
      ...(opts.sweepMinAgeMs !== undefined ? { sweepMinAgeMs: opts.sweepMinAgeMs } : {}),
      notices: () => this.notifier,
    });
    this.timers = new EscalationTimers({
      connection: redis,
      workerConnection: this.own(opts.openRedis('bull-worker', true)),
      prefix: keys.bullPrefix,
      queueName: this.akeys.timerQueue,
      clock,
      metrics: this.metrics,
      logger,
      handler: async (t) => {
        if (t.kind === 'ticket_overdue') await this.tickets.onOverdue(t.ticketId);
        else await this.engine.onTimer(t);
      },
    });
    this.keyPeriodSub = this.own(opts.openRedis('key-period-subscriber', false));
    this.keyPeriod = new KeyPeriodWatcher(redis, this.keyPeriodSub, keys, clock, logger);
    this.busy = opts.skipBusyStations === true ? new BusyStations(redis, keys, logger) : null;
    this.webhook =
      opts.webhook === undefined
        ? null
        : new WebhookChannel({
            ...opts.webhook,
            connection: redis,
            workerConnection: this.own(opts.openRedis('webhook-worker', true)),
            prefix: keys.bullPrefix,
            queueName: this.akeys.webhookQueue,
            clock,
            metrics: this.metrics,
            logger,
            onAttempt: (a) => this.notifier!.onAttempt(a),
          });
    this.notifier =
      this.webhook === null
        ? null
        : new Notifier({
            queue: this.webhook,
            redis,
            keys,
            akeys: this.akeys,
            registry: () => this.registry!.current,
            throttleMs: opts.throttleMs ?? { sms: 0, voice: 60_000, wecom: 0 },
            clock,
            logger,
          });
    const busy = this.busy;
    this.engine = new IncidentEngine({
      store: this.store,
      dispatcher: this.dispatcher,
      timers: this.timers,
      registry: () => this.registry!.current,
      params: opts.params,
      redis,
      keys,
      akeys: this.akeys,
      clock,
      metrics: this.metrics,
      logger,
      ...(opts.ladders !== undefined ? { policy: { base: opts.params, config: opts.ladders } } : {}),
      keyPeriod: () => this.keyPeriod.active(),
      ...(opts.verification !== undefined ? { verification: opts.verification } : {}),
      ...(busy !== null ? { busyStations: () => busy.current } : {}),
      ...(opts.travelTimes !== undefined ? { travelTimes: opts.travelTimes } : {}),
      ...(this.notifier !== null ? { notices: this.notifier } : {}),
      ...(opts.faultQuarantineMs !== undefined ? { faultQuarantineMs: opts.faultQuarantineMs } : {}),
      // Constructed just below; only called once the service runs.
      faultTickets: { onHazard: (input) => this.tickets.onHazard(input) },
    });
    this.ticketStore = new TicketStore(redis, keys, this.akeys);
    this.tickets = new TicketEngine({
      store: this.ticketStore,
      timers: this.timers,
      registry: () => this.registry!.current,
      params: opts.tickets ?? DEFAULT_TICKET_PARAMS,
      redis,
      keys,
      clock,
      metrics: this.metrics,
      logger,
      ...(this.notifier !== null ? { notices: this.notifier } : {}),
    });
  }

  static async start(opts: AlertsServiceOptions): Promise<AlertsService> {
    const svc = new AlertsService(opts);
    try {
      await svc.startParts();
    } catch (err) {
      await svc.close().catch(() => undefined);
      throw err;
    }
    return svc;
  }

  private own(r: Redis): Redis {
    this.owned.push(r);
    return r;
  }

  private async startParts(): Promise<void> {
    const { opts } = this;
    const { keys, logger } = opts;
    const clock = opts.clock ?? Date.now;
    const subscriber = this.own(opts.openRedis('registry-subscriber', false));
    await whenReady(subscriber);
    this.registry = await RegistryCache.start({
      redis: opts.redis,
      subscriber,
      keys,
      onReload: (s) => logger.info({ version: s.version, devices: s.devices.size }, 'registry loaded'),
      onError: (err) => logger.error({ err }, 'registry reload failed'),
    });

    await whenReady(this.keyPeriodSub);
    await this.keyPeriod.start();
    await this.busy?.start();
    this.webhook?.start();
    await this.webhook?.waitUntilReady();
    this.timers.start();
    await this.timers.waitUntilReady();
    const repaired = (await this.engine.repairTimers()) + (await this.tickets.repair());
    const resent = await this.dispatcher.sweep();
    if (repaired > 0 || resent > 0) logger.info({ repaired, resent }, 'recovered timers and outbox pages');

    const common = {
      redis: opts.redis,
      group: this.akeys.group,
      consumer: opts.consumerName,
      claimIdleMs: opts.claimIdleMs,
      clock,
      logger,
      metrics: this.metrics,
      ...(opts.claimEveryMs !== undefined ? { claimEveryMs: opts.claimEveryMs } : {}),
      ...(opts.blockMs !== undefined ? { blockMs: opts.blockMs } : {}),
    };
    const registry = () => this.registry!.current;
    this.consumers.push(
      new StreamConsumer({
        ...common,
        name: 'fire',
        stream: keys.fireEvents,
        blocking: this.own(opts.openRedis('fire-reader', false)),
        handle: createFireLaneHandler({ engine: this.engine, registry, metrics: this.metrics, logger }),
      }),
      new StreamConsumer({
        ...common,
        name: 'actions',
        stream: keys.actions,
        blocking: this.own(opts.openRedis('actions-reader', false)),
        handle: createActionHandler({ engine: this.engine, metrics: this.metrics, logger }),
      }),
      new StreamConsumer({
        ...common,
        name: 'other',
        stream: keys.otherEvents,
        blocking: this.own(opts.openRedis('other-reader', false)),
        handle: createOtherLaneHandler({
          engine: this.engine,
          tickets: this.tickets,
          registry,
          metrics: this.metrics,
          logger,
        }),
      }),
      new StreamConsumer({
        ...common,
        name: 'operator_actions',
        stream: keys.operatorActions,
        blocking: this.own(opts.openRedis('operator-actions-reader', false)),
        handle: createOperatorActionHandler({
          engine: this.engine,
          tickets: this.tickets,
          metrics: this.metrics,
          logger,
        }),
      }),
    );
    // Fire first: it is the lane that must never wait.
    for (const c of this.consumers) await c.start();

    this.every(opts.sweepEveryMs ?? 1_000, 'outbox sweep', () => this.dispatcher.sweep());
    this.every(opts.repairEveryMs ?? 10_000, 'timer repair', () => this.engine.repairTimers());
    // Tickets: timers are scheduled at opening; this is the slower safety net.
    this.every(60_000, 'ticket repair', () => this.tickets.repair());
  }

  /** Runs `task` every `ms` without overlapping runs. */
  private every(ms: number, what: string, task: () => Promise<unknown>): void {
    const tick = () => {
      if (this.closed) return;
      const run = task()
        .catch((err: unknown) => this.opts.logger.error({ err }, `${what} failed`))
        .finally(() => {
          this.tasksRunning.delete(run);
          if (!this.closed) this.tickers.set(what, setTimeout(tick, ms).unref());
        });
      this.tasksRunning.add(run);
    };
    this.tickers.set(what, setTimeout(tick, ms).unref());
  }

  /** Null when ready to take alarms, else why not. */
  notReadyReason(): string | null {
    if (this.closed) return 'shutting down';
    if (this.opts.redis.status !== 'ready') return 'redis ' + this.opts.redis.status;
    if (!this.opts.mqtt.connected) return 'mqtt not connected';
    if (this.registry === null || this.registry.current.version === 0) return 'registry not loaded';
    for (const c of this.consumers) if (!c.healthy) return 'stream consumer not running';
    return null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.tickers.values()) clearTimeout(t);
    await Promise.all([...this.tasksRunning]);
    // Stop reading first, then let the timer worker finish the job in hand.
    await Promise.all(this.consumers.map((c) => c.stop()));
    await this.timers.close().catch(() => undefined);
    await this.webhook?.close().catch(() => undefined);
    this.keyPeriod.close();
    this.busy?.close();
    await this.registry?.close();
    await Promise.all(this.owned.map((r) => r.quit().catch(() => r.disconnect())));
  }
}
