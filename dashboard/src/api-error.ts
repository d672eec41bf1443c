/**
 * Stable error codes of the dashboard's HTTP API. Every error body is
 * `{ code, message }`; consoles switch on `code` (the message is for people and logs).
 */
export const API_ERRORS = {
  BAD_REQUEST: 'E_BAD_REQUEST',
  BAD_QUERY: 'E_BAD_QUERY',
  BAD_PARAMS: 'E_BAD_PARAMS',
  BAD_BODY: 'E_BAD_BODY',
  BAD_JSON: 'E_BAD_JSON',
  BODY_TOO_LARGE: 'E_BODY_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'E_UNSUPPORTED_MEDIA_TYPE',
  NOT_FOUND: 'E_NOT_FOUND',
  STATION_NOT_FOUND: 'E_STATION_NOT_FOUND',
  INCIDENT_NOT_FOUND: 'E_INCIDENT_NOT_FOUND',
  /** The station acts on an incident it was never paged for. */
  STATION_NOT_PAGED: 'E_STATION_NOT_PAGED',
  /** The incident is closed: no further action applies. */
  INCIDENT_CLOSED: 'E_INCIDENT_CLOSED',
  /** Too many live streams open at once. */
  TOO_MANY_STREAMS: 'E_TOO_MANY_STREAMS',
  SHUTTING_DOWN: 'E_SHUTTING_DOWN',
  /** No valid session cookie (never logged in, expired or revoked). */
  UNAUTHENTICATED: 'E_UNAUTHENTICATED',
  /** Wrong username or password (which one is never said). */
  BAD_CREDENTIALS: 'E_BAD_CREDENTIALS',
  /** Too many login attempts from this address. */
  LOGIN_RATE_LIMITED: 'E_LOGIN_RATE_LIMITED',
  /** Too many failed logins for this username: locked for the guard's window. */
  LOGIN_LOCKED: 'E_LOGIN_LOCKED',
  /** The account is disabled. */
  ACCOUNT_DISABLED: 'E_ACCOUNT_DISABLED',
  /** The role may not use this route (e.g. an officer on the township's list). */
  FORBIDDEN_ROLE: 'E_FORBIDDEN_ROLE',
  /** An officer asked for another station's console, list or stream. */
  OTHER_STATION: 'E_OTHER_STATION',
  /** A township operator asked for another township's data. */
  OTHER_TOWNSHIP: 'E_OTHER_TOWNSHIP',
  ACCOUNT_NOT_FOUND: 'E_ACCOUNT_NOT_FOUND',
  TICKET_NOT_FOUND: 'E_TICKET_NOT_FOUND',
  /** The hazard ticket is closed: closed tickets are final. */
  TICKET_CLOSED: 'E_TICKET_CLOSED',
  /** InfluxDB is not configured or did not answer (history charts, battery counts). */
  INFLUX_UNAVAILABLE: 'E_INFLUX_UNAVAILABLE',
  DEVICE_NOT_FOUND: 'E_DEVICE_NOT_FOUND',
  /** A registry import had invalid rows: nothing was written. */
  IMPORT_INVALID: 'E_IMPORT_INVALID',
  INTERNAL: 'E_INTERNAL',
} as const;
export type ApiErrorCode = (typeof API_ERRORS)[keyof typeof API_ERRORS];

/** An error a route throws on purpose; the error handler turns it into `{ code, message }`. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
