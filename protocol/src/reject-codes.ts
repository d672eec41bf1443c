/**
 * Stable codes for everything the hub refuses from the outside. Services count
 * rejections by these codes (a metric label) and log them with the device id.
 */
export const REJECT_CODES = {
  /** Payload larger than the channel's limit. */
  TOO_LARGE: 'E_TOO_LARGE',
  /** Not UTF-8 JSON, or not a JSON object. */
  INVALID_JSON: 'E_INVALID_JSON',
  /** JSON that does not match the channel's schema. */
  SCHEMA: 'E_SCHEMA',
  /** Topic outside the v1 tree or malformed. */
  TOPIC: 'E_TOPIC',
  /** No such device in the registry. */
  UNKNOWN_DEVICE: 'E_UNKNOWN_DEVICE',
  /** Payload kind differs from the registered device kind. */
  KIND_MISMATCH: 'E_KIND_MISMATCH',
  /** Publishing or subscribing outside the client's own topics. */
  NOT_AUTHORIZED: 'E_NOT_AUTHORIZED',
  /** Credentials wrong or unknown account. */
  BAD_CREDENTIALS: 'E_BAD_CREDENTIALS',
} as const;
export type RejectCode = (typeof REJECT_CODES)[keyof typeof REJECT_CODES];
