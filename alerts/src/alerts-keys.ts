import type { HubKeys } from '@hub/protocol';

/**
 * Redis keys only the alerts service reads and writes (not part of the shared
 * contract, so they live here and not in @hub/protocol). Same prefix as the rest.
 */
export interface AlertsKeys {
  /** HASH pageId → OutboxEntry JSON: pages decided but not yet confirmed sent (PUBACK). */
  readonly outbox: string;
  /** Capped LIST of AuditEntry JSON for recorded inputs with no open incident to attach to. */
  readonly unpagedAudit: string;
  /** Stream consumer group name (same for every alerts process). */
  readonly group: string;
  /** BullMQ queue name of the escalation timers (BullMQ forbids ':' in it). */
  readonly timerQueue: string;
  /** ZSET of ticket ids of a building and hazard lane, score openedAt (repeat counting; trimmed to the window). */
  ticketHistory(buildingId: string, lane: string): string;
  /** The building's latest corroborating hazard (JSON Corroboration), expiring with the window. */
  corroboration(buildingId: string): string;
  /** SET NX PX marker: a recipient was called / messaged on a channel within its minimum interval. */
  throttle(channel: string, to: string): string;
  /** Capped LIST of delivery audit lines of a ticket (incidents use their own audit list). */
  ticketDeliveries(ticketId: string): string;
  /** BullMQ queue name of webhook deliveries. */
  readonly webhookQueue: string;
  /** A device's fault quarantine (JSON QuarantineEntry), expiring with it (fault-quarantine.ts). */
  faultQuarantine(deviceId: string): string;
  /** The building's latest suppressed alarm (JSON SuppressedAlarm), expiring with the verification window. */
  faultSuppressed(buildingId: string): string;
}

export function alertsKeys(keys: HubKeys): AlertsKeys {
  return {
    outbox: `${keys.prefix}:alerts:outbox`,
    unpagedAudit: `${keys.prefix}:alerts:unpaged-audit`,
    group: 'alerts',
    timerQueue: 'escalation',
    ticketHistory: (b, lane) => `${keys.prefix}:alerts:ticket-history:${b}:${lane}`,
    corroboration: (b) => `${keys.prefix}:alerts:corroboration:${b}`,
    throttle: (channel, to) => `${keys.prefix}:alerts:throttle:${channel}:${to}`,
    ticketDeliveries: (id) => `${keys.prefix}:alerts:ticket-deliveries:${id}`,
    webhookQueue: 'webhooks',
    faultQuarantine: (d) => `${keys.prefix}:alerts:fault-quarantine:${d}`,
    faultSuppressed: (b) => `${keys.prefix}:alerts:fault-suppressed:${b}`,
  };
}

/** Bound of the unpaged audit list (test presses, maintenance devices without an incident). */
export const UNPAGED_AUDIT_MAX = 10_000;
