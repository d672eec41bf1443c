import type { Incident, OccupancyType, Station } from '@hub/protocol';
import { haversineMeters, type RegistrySnapshot } from '@hub/registry';

/** The building facts a console shows next to an incident (no contacts: they carry phone numbers). */
export interface BuildingSummary {
  id: string;
  name: string;
  address: string;
  occupancy: OccupancyType;
  floors: number;
  lat: number;
  lon: number;
}

/**
 * An incident as the API and the live stream send it: the stored record plus the
 * building from the registry (null when the registry does not know it) and, for a
 * station's view, the straight-line distance from that station in metres.
 */
export type IncidentView = Incident & {
  building: BuildingSummary | null;
  distanceM?: number | null;
};

export function buildingSummary(snapshot: RegistrySnapshot, buildingId: string): BuildingSummary | null {
  const b = snapshot.buildings.get(buildingId);
  if (b === undefined) return null;
  return {
    id: b.id,
    name: b.name,
    address: b.address,
    occupancy: b.occupancy,
    floors: b.floors,
    lat: b.lat,
    lon: b.lon,
  };
}

export function toIncidentView(
  incident: Incident,
  snapshot: RegistrySnapshot,
  station?: Station,
): IncidentView {
  const building = buildingSummary(snapshot, incident.buildingId);
  if (station === undefined) return { ...incident, building };
  const distanceM =
    building === null
      ? null
      : Math.round(haversineMeters(station.lat, station.lon, building.lat, building.lon));
  return { ...incident, building, distanceM };
}
