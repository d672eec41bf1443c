import type { AuditEntry, HazardTicket, HubKeys, Incident } from '@hub/protocol';
import type { RegistrySnapshot } from '@hub/registry';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AlertsKeys } from './alerts-keys.js';
import type { Notice } from './incident-decision.js';
import type { IncidentNoticeSink } from './incident-engine.js';
import type { TicketNoticeSink } from './ticket-engine.js';
import type { Delivery, DeliveryAttempt, DeliveryChannel } from './webhook-channel.js';

/**
 * From notices (incident-decision.ts) and ticket events to webhook deliveries:
 * who gets what, on which channel, with per-recipient throttling.
 *
 * - A page or a reminder to a station: an SMS to every officer on duty there, and a
 *   voice call to ONE of them: the first whose number was not called within the
 *   voice interval (vendors allow about one call a minute per number), starting at
 *   a different officer each step so calls rotate. When every number is throttled
 *   the call is skipped (audited as throttled): the SMS and the MQTT page still go.
 * - Fire office step, close overdue, 119 forwarding: voice + SMS to the township's
 *   fire office number (same throttling).
 * - Confirmed incidents and tickets (opened, supervised, overdue): a WeCom message
 *   to the grid's group (`to` = grid id; the gateway maps it).
 * Delivery ids are deterministic, so a notice decided twice queues one delivery.
 */
export interface DeliveryQueue {
  enqueue(d: Delivery): Promise<boolean>;
}

export interface NotifierOptions {
  queue: DeliveryQueue;
  redis: Redis;
  keys: HubKeys;
  akeys: AlertsKeys;
  registry: () => Pick<RegistrySnapshot, 'stations' | 'townships'>;
  /** Minimum interval per recipient and channel (ms); 0 = none. */
  throttleMs: Readonly<Record<DeliveryChannel, number>>;
  clock: () => number;
  logger: Logger;
}

interface Candidate {
  to: string;
  recipient: string;
}

export interface DeliveryPlan {
  channel: DeliveryChannel;
  /** 'all': one delivery per candidate; 'one': the first candidate not throttled. */
  pick: 'all' | 'one';
  candidates: Candidate[];
}

/** Pure: the deliveries a notice asks for, before throttling. */
export function planNotice(
  notice: Notice,
  incident: Pick<Incident, 'id' | 'township' | 'grid'>,
  registry: Pick<RegistrySnapshot, 'stations' | 'townships'>,
): DeliveryPlan[] {
  if (notice.kind === 'page' || notice.kind === 'remind') {
    const station = notice.stationId !== null ? registry.stations.get(notice.stationId) : undefined;
    if (station === undefined) return [];
    const officers = station.officers.filter((o) => o.onDuty);
    if (officers.length === 0) return [];
    const people = officers.map((o) => ({ to: o.phone, recipient: o.id }));
    // Rotate the first voice call across steps and reminders.
    const start = (notice.step - 1 + (notice.kind === 'remind' ? 1 : 0)) % people.length;
    const rotated = people.slice(start).concat(people.slice(0, start));
    return [
      { channel: 'sms', pick: 'all', candidates: people },
      { channel: 'voice', pick: 'one', candidates: rotated },
    ];
  }
  if (notice.kind === 'fire_office' || notice.kind === 'forward_119') {
    const t = registry.townships.get(incident.township);
    if (t === undefined) return [];
    const office = [{ to: t.fireOfficePhone, recipient: 'fire_office' }];
    return [
      { channel: 'voice', pick: 'one', candidates: office },
      { channel: 'sms', pick: 'all', candidates: office },
    ];
  }
  return [
    {
      channel: 'wecom',
      pick: 'all',
      candidates: [{ to: incident.grid, recipient: `grid:${incident.grid}` }],
    },
  ];
}

export class Notifier implements IncidentNoticeSink, TicketNoticeSink {
  constructor(private readonly opts: NotifierOptions) {}

  async notify(
    notices: readonly Notice[],
    incident: Pick<Incident, 'id' | 'township' | 'grid'>,
  ): Promise<void> {
    const registry = this.opts.registry();
    for (const n of notices) {
      for (const plan of planNotice(n, incident, registry)) {
        const subject = { incidentId: incident.id };
        const idBase = `${incident.id}-${n.kind}-${n.step}-${plan.channel}`;
        const text = `${incident.id} ${n.text}`;
        if (plan.pick === 'all') {
          for (const c of plan.candidates) {
            if (await this.claim(plan.channel, c.to)) {
              await this.opts.queue.enqueue(this.delivery(idBase, plan.channel, c, text, subject, n.kind));
            } else await this.throttled(subject, plan.channel, c, n.kind);
          }
          continue;
        }
        let sent = false;
        for (const c of plan.candidates) {
          if (await this.claim(plan.channel, c.to)) {
            await this.opts.queue.enqueue(this.delivery(idBase, plan.channel, c, text, subject, n.kind));
            sent = true;
            break;
          }
        }
        if (!sent && plan.candidates.length > 0) {
          await this.throttled(
            subject,
            plan.channel,
            { to: '', recipient: plan.candidates.map((c) => c.recipient).join('/') },
            n.kind,
          );
        }
      }
    }
  }

  async ticketNotice(kind: 'opened' | 'supervised' | 'overdue', ticket: HazardTicket): Promise<void> {
    const c = { to: ticket.grid, recipient: `grid:${ticket.grid}` };
    const text = `${ticket.id} ${kind}: ${ticket.lane} hazard (${ticket.cause}) in building ${ticket.buildingId}, deadline ${new Date(ticket.deadline).toISOString()}`;
    await this.opts.queue.enqueue(
      this.delivery(
        `${ticket.id}-${kind}-wecom`,
        'wecom',
        c,
        text,
        { ticketId: ticket.id },
        `ticket_${kind}`,
      ),
    );
  }

  /** Writes one audit line per delivery attempt (the webhook channel calls this). */
  async onAttempt(a: DeliveryAttempt): Promise<void> {
    const d = a.delivery;
    const entry: AuditEntry = {
      at: a.at,
      kind: `delivery_${a.result}`,
      channel: d.channel,
      detail:
        `${d.kind} to ${d.recipient}, attempt ${a.attempt}` +
        (a.status !== undefined ? `, HTTP ${a.status}` : '') +
        (a.error !== undefined && a.status === undefined ? `: ${a.error}` : ''),
    };
    await this.audit(d.subject, entry);
  }

  private delivery(
    idBase: string,
    channel: DeliveryChannel,
    c: Candidate,
    text: string,
    subject: Delivery['subject'],
    kind: string,
  ): Delivery {
    return {
      id: `${idBase}-${c.recipient}`.replace(/[^A-Za-z0-9_-]/g, '_'),
      channel,
      to: c.to,
      recipient: c.recipient,
      text,
      subject,
      kind,
    };
  }

  /** True when `to` may be contacted on `channel` now (and marks it so for the interval). */
  private async claim(channel: DeliveryChannel, to: string): Promise<boolean> {
    const ms = this.opts.throttleMs[channel];
    if (ms <= 0) return true;
    const ok = await this.opts.redis.set(
      this.opts.akeys.throttle(channel, to),
      String(this.opts.clock()),
      'PX',
      ms,
      'NX',
    );
    return ok !== null;
  }

  private async throttled(
    subject: Delivery['subject'],
    channel: DeliveryChannel,
    c: Candidate,
    kind: string,
  ): Promise<void> {
    await this.audit(subject, {
      at: this.opts.clock(),
      kind: 'delivery_throttled',
      channel,
      detail: `${kind} to ${c.recipient}: contacted within the minimum interval`,
    });
  }

  private async audit(subject: Delivery['subject'], entry: AuditEntry): Promise<void> {
    const { redis, keys, akeys } = this.opts;
    if ('incidentId' in subject) {
      await redis.rpush(keys.incidentAudit(subject.incidentId), JSON.stringify(entry));
      return;
    }
    const k = akeys.ticketDeliveries(subject.ticketId);
    await redis.multi().rpush(k, JSON.stringify(entry)).ltrim(k, -500, -1).exec();
  }
}
