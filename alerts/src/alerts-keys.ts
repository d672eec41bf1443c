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
}

export function alertsKeys(keys: HubKeys): AlertsKeys {
  return {
    outbox: `${keys.prefix}:alerts:outbox`,
    unpagedAudit: `${keys.prefix}:alerts:unpaged-audit`,
    group: 'alerts',
    timerQueue: 'escalation',
  };
}

/** Bound of the unpaged audit list (test presses, maintenance devices without an incident). */
export const UNPAGED_AUDIT_MAX = 10_000;
