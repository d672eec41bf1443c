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
