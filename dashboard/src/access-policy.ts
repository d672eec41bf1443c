import type { Incident, Station } from '@hub/protocol';
import type { Principal, Role } from './account.js';
import { API_ERRORS, ApiError } from './api-error.js';

/**
 * Who may see and do what. Pure functions of (principal, thing): every route calls
 * one of them before it reads or writes anything, and throws a stable 403 code.
 *
 * - officer: their own station only: its incidents (the ones that paged it or that
 *   it accepted), its live stream, its actions. Never another station's.
 * - township operator: everything of their township; may not act as a station.
 * - admin: everything.
 */
export function requireRole(p: Principal, roles: readonly Role[]): void {
  if (!roles.includes(p.role)) {
    throw new ApiError(403, API_ERRORS.FORBIDDEN_ROLE, `role ${p.role} may not do this`);
  }
}

/** Whether the incident concerns the station (paged it, or it accepted). */
export function incidentConcernsStation(incident: Incident, stationId: string): boolean {
  return incident.stationId === stationId || incident.pagedStations.includes(stationId);
}

export function maySeeIncident(p: Principal, incident: Incident): boolean {
  if (p.role === 'admin') return true;
  if (p.role === 'township') return incident.township === p.township;
  return p.stationId !== null && incidentConcernsStation(incident, p.stationId);
}

export function checkSeeIncident(p: Principal, incident: Incident): void {
  if (maySeeIncident(p, incident)) return;
  if (p.role === 'officer') {
    throw new ApiError(403, API_ERRORS.STATION_NOT_PAGED, `incident ${incident.id} is not your station's`);
  }
  throw new ApiError(403, API_ERRORS.OTHER_TOWNSHIP, `incident ${incident.id} is not in your township`);
}

export function maySeeStation(p: Principal, station: Station): boolean {
  if (p.role === 'admin') return true;
  if (p.role === 'township') return station.township === p.township;
  return p.stationId === station.id;
}

/** The station by id, or a 404 (unknown id): one place for every route that names a station. */
export function stationOr404(stations: ReadonlyMap<string, Station>, stationId: string): Station {
  const station = stations.get(stationId);
  if (station === undefined) {
    throw new ApiError(404, API_ERRORS.STATION_NOT_FOUND, `unknown station ${stationId}`);
  }
  return station;
}

/** The station the principal names, if it exists (404) and is theirs to see (403). */
export function visibleStation(
  p: Principal,
  stations: ReadonlyMap<string, Station>,
  stationId: string,
): Station {
  const station = stationOr404(stations, stationId);
  checkSeeStation(p, station);
  return station;
}

export function checkSeeStation(p: Principal, station: Station): void {
  if (maySeeStation(p, station)) return;
  throw new ApiError(
    403,
    p.role === 'officer' ? API_ERRORS.OTHER_STATION : API_ERRORS.OTHER_TOWNSHIP,
    `station ${station.id} is not yours`,
  );
}

/** Township scope of a principal's township-wide views: null = every township (admin). */
export function townshipScope(p: Principal): string | null {
  return p.role === 'admin' ? null : p.township;
}
