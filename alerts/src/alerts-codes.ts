import { REJECT_CODES } from '@hub/protocol';

/**
 * Stable codes for what the alerts service refuses or skips. Metrics count by these
 * (a label), logs carry them, and the dashboard can show them to an officer whose
 * reply was refused. The protocol's REJECT_CODES cover malformed input; these cover
 * input that is well-formed but does not fit the incident's state.
 */
export const ALERTS_CODES = {
  ...REJECT_CODES,
  /** A stream entry without the fields the contract names (d/p/r or s/j/r). */
  BAD_ENTRY: 'E_BAD_ENTRY',
  /** The device's building is not in the registry. */
  UNKNOWN_BUILDING: 'E_UNKNOWN_BUILDING',
  /** A reply names an incident that does not exist. */
  UNKNOWN_INCIDENT: 'E_UNKNOWN_INCIDENT',
  /** A reply from a station that was never paged for this incident. */
  NOT_PAGED: 'E_NOT_PAGED',
  /** A reply to an incident that is already closed. */
  INCIDENT_CLOSED: 'E_INCIDENT_CLOSED',
  /** A reply that does not fit the incident's state (e.g. decline after accepting). */
  BAD_STATE: 'E_BAD_STATE',
  /** Another station accepted; only it may report en route / on scene. */
  NOT_RESPONDER: 'E_NOT_RESPONDER',
  /** close without a disposition code. */
  DISPOSITION_REQUIRED: 'E_DISPOSITION_REQUIRED',
  /** A ticket action names a ticket that does not exist. */
  UNKNOWN_TICKET: 'E_UNKNOWN_TICKET',
  /** A ticket action on a closed ticket. */
  TICKET_CLOSED: 'E_TICKET_CLOSED',
  /** A ticket action that does not fit the ticket's state (e.g. rectifying before assigning is fine, twice is not). */
  BAD_TICKET_STATE: 'E_BAD_TICKET_STATE',
  /** An operators' action that fails its schema. */
  BAD_ACTION: 'E_BAD_ACTION',
  /** A handler failed on infrastructure (Redis/MQTT); the entry stays pending and is retried. */
  HANDLER_FAILED: 'E_HANDLER_FAILED',
} as const;
export type AlertsCode = (typeof ALERTS_CODES)[keyof typeof ALERTS_CODES];

/** An error with a stable code (for infrastructure failures that must propagate). */
export class AlertsError extends Error {
  constructor(
    readonly code: AlertsCode,
    message: string,
  ) {
    super(message);
    this.name = 'AlertsError';
  }
}
