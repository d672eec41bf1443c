import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The alerts service's metrics. Labels are small closed sets (event type, reject code,
 * ladder step, reason); never a device id, station id or phone number.
 */
export interface AlertsMetrics {
  readonly alarmsReceived: Counter<'type'>;
  readonly incidentsOpened: Counter;
  readonly alarmsFolded: Counter;
  readonly recorded: Counter<'reason'>;
  /** Fault quarantine (fault-quarantine.ts): devices quarantined, alarms suppressed, paged anyway. */
  readonly faultQuarantine: Counter<'result'>;
  readonly pagesSent: Counter<'step'>;
  readonly pageFailures: Counter;
  readonly pageDuplicates: Counter;
  /** Device event received by the hub (stream r) → first page handed to the broker. */
  readonly firstPageLatency: Histogram;
  readonly rejections: Counter<'stream' | 'code'>;
  readonly replies: Counter<'type'>;
  readonly escalations: Counter<'result'>;
  /** Timer fire time − due time. */
  readonly timerLateness: Histogram;
  readonly otherEvents: Counter<'type'>;
  readonly casConflicts: Counter;
  readonly outboxResent: Counter;
  readonly outboxSize: Gauge;
  readonly entriesInFlight: Gauge<'stream'>;
  readonly claimed: Counter<'stream'>;
  /**
   * Per-stage latency of the fire path: received (stream r) → decided (committed),
   * decided → sent (PUBACK of the page), received → sent. Every page, every step 1.
   */
  readonly stageLatency: Histogram<'stage'>;
  readonly ticketEvents: Counter<'lane' | 'result'>;
  readonly ticketActions: Counter<'type'>;
  readonly ticketsOverdue: Counter<'lane'>;
  readonly corroborations: Counter<'kind' | 'result'>;
  readonly confirmations: Counter<'reason'>;
  /** Webhook deliveries by channel and result (sent, retry, failed, throttled). */
  readonly deliveries: Counter<'channel' | 'result'>;
  readonly deliveryQueue: Gauge;
}

export function createAlertsMetrics(registry: Registry): AlertsMetrics {
  const registers = [registry];
  return {
    alarmsReceived: new Counter({
      name: 'hub_alerts_alarms_received_total',
      help: 'Fire-lane events read from the fire stream, by event type',
      labelNames: ['type'],
      registers,
    }),
    incidentsOpened: new Counter({
      name: 'hub_alerts_incidents_opened_total',
      help: 'Incidents opened',
      registers,
    }),
    alarmsFolded: new Counter({
      name: 'hub_alerts_alarms_folded_total',
      help: 'Alarms of a new device folded into an open incident of its building (no new page)',
      registers,
    }),
    recorded: new Counter({
      name: 'hub_alerts_recorded_total',
      help: 'Fire-lane inputs only recorded, never paging (repeat device, test, maintenance, cleared)',
      labelNames: ['reason'],
      registers,
    }),
    faultQuarantine: new Counter({
      name: 'hub_alerts_fault_quarantine_total',
      help: 'Fault quarantine: devices quarantined by a device_fault close, lone alarms suppressed, quarantined alarms paged anyway (corroborated)',
      labelNames: ['result'],
      registers,
    }),
    pagesSent: new Counter({
      name: 'hub_alerts_pages_sent_total',
      help: 'Pages handed to the broker (PUBACK), by ladder step',
      labelNames: ['step'],
      registers,
    }),
    pageFailures: new Counter({
      name: 'hub_alerts_page_failures_total',
      help: 'Page sends that failed; the outbox retries them',
      registers,
    }),
    pageDuplicates: new Counter({
      name: 'hub_alerts_page_duplicates_total',
      help: 'Pages not sent because the (incident, step, station) marker was already set',
      registers,
    }),
    firstPageLatency: new Histogram({
      name: 'hub_alerts_first_page_latency_seconds',
      help: 'Hub receive time of the alarm (stream r) to the first page acknowledged by the broker',
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    }),
    rejections: new Counter({
      name: 'hub_alerts_rejections_total',
      help: 'Inputs refused, by stream and stable code',
      labelNames: ['stream', 'code'],
      registers,
    }),
    replies: new Counter({
      name: 'hub_alerts_replies_total',
      help: 'Station replies applied or recorded, by type',
      labelNames: ['type'],
      registers,
    }),
    escalations: new Counter({
      name: 'hub_alerts_escalations_total',
      help: 'Escalation timers handled, by result (update or the no-op reason)',
      labelNames: ['result'],
      registers,
    }),
    timerLateness: new Histogram({
      name: 'hub_alerts_timer_lateness_seconds',
      help: 'Escalation timer fire time minus due time',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    }),
    otherEvents: new Counter({
      name: 'hub_alerts_other_events_total',
      help: 'Events of the other lanes (faults, hazards, info) read and acknowledged; recorded only for now',
      labelNames: ['type'],
      registers,
    }),
    casConflicts: new Counter({
      name: 'hub_alerts_cas_conflicts_total',
      help: 'Incident updates that lost a compare-and-set race and were decided again',
      registers,
    }),
    outboxResent: new Counter({
      name: 'hub_alerts_outbox_resent_total',
      help: 'Pages sent by the outbox sweeper (after a crash or a failed send)',
      registers,
    }),
    outboxSize: new Gauge({
      name: 'hub_alerts_outbox_size',
      help: 'Pages decided but not yet acknowledged by the broker (at the last sweep)',
      registers,
    }),
    entriesInFlight: new Gauge({
      name: 'hub_alerts_entries_in_flight',
      help: 'Stream entries read and not yet acknowledged by this process',
      labelNames: ['stream'],
      registers,
    }),
    claimed: new Counter({
      name: 'hub_alerts_claimed_total',
      help: 'Stream entries claimed from this or dead consumers (pending after a crash)',
      labelNames: ['stream'],
      registers,
    }),
    stageLatency: new Histogram({
      name: 'hub_alerts_stage_latency_seconds',
      help: 'Fire path per stage: received_to_decided, decided_to_sent, received_to_sent (step-1 pages)',
      labelNames: ['stage'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    }),
    ticketEvents: new Counter({
      name: 'hub_alerts_ticket_events_total',
      help: 'Hazard events turned into tickets, by lane and result (opened, folded)',
      labelNames: ['lane', 'result'],
      registers,
    }),
    ticketActions: new Counter({
      name: 'hub_alerts_ticket_actions_total',
      help: 'Operators ticket actions applied, by type',
      labelNames: ['type'],
      registers,
    }),
    ticketsOverdue: new Counter({
      name: 'hub_alerts_tickets_overdue_total',
      help: 'Tickets that passed their deadline, by lane',
      labelNames: ['lane'],
      registers,
    }),
    corroborations: new Counter({
      name: 'hub_alerts_corroborations_total',
      help: 'Electrical / charging events checked against open fire incidents, by result',
      labelNames: ['kind', 'result'],
      registers,
    }),
    confirmations: new Counter({
      name: 'hub_alerts_confirmations_total',
      help: 'Incidents confirmed, by reason',
      labelNames: ['reason'],
      registers,
    }),
    deliveries: new Counter({
      name: 'hub_alerts_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by channel and result',
      labelNames: ['channel', 'result'],
      registers,
    }),
    deliveryQueue: new Gauge({
      name: 'hub_alerts_webhook_queue',
      help: 'Webhook deliveries waiting or being retried (at the last check)',
      registers,
    }),
  };
}
