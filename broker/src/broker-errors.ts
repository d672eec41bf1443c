/**
 * Stable codes of the errors the broker hands to aedes. An error from an aedes hook
 * closes the client's connection (aedes 1.2, MQTT 3.1.1 has no negative PUBACK), so
 * each code is also the reason a device was disconnected; they appear in logs.
 */
export const BROKER_ERRORS = {
  /** Published outside the client's own topics ([MQTT-3.3.5-2]: we close the connection). */
  NOT_AUTHORIZED: 'E_BROKER_NOT_AUTHORIZED',
  /** An event or reply could not be stored in Redis: no PUBACK, the client retries. */
  DURABLE_WRITE: 'E_BROKER_DURABLE_WRITE',
  /** Too many durable writes in flight: refused like a failed write. */
  OVERLOADED: 'E_BROKER_OVERLOADED',
  /** A publish from a connection with no authenticated principal (e.g. an orphan will). */
  NO_PRINCIPAL: 'E_BROKER_NO_PRINCIPAL',
  /** A malformed CONNECT (bad UTF-8, NUL, wildcard will topic): closed without CONNACK. */
  PROTOCOL: 'E_BROKER_PROTOCOL',
} as const;

/**
 * Rejection codes the broker adds to protocol's REJECT_CODES for the
 * `hub_broker_rejections_total{code}` label (kept here, not in protocol, so no other
 * workspace's exhaustive switch on RejectCode changes meaning).
 */
export const BROKER_REJECT_CODES = {
  /** The MQTT rules themselves broken: bad UTF-8, NUL, message id 0, wildcard will. */
  PROTOCOL: 'E_PROTOCOL',
  /** Connection refused by a rate limit or the connection cap, before CONNECT. */
  RATE_LIMITED: 'E_RATE_LIMITED',
  /** Telemetry dropped because the broker or a subscriber is overloaded. */
  SHED: 'E_SHED',
} as const;
export type BrokerErrorCode = (typeof BROKER_ERRORS)[keyof typeof BROKER_ERRORS];

export class BrokerError extends Error {
  constructor(
    readonly code: BrokerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BrokerError';
  }
}
