import type { Contact, DeviceKind, Incident, OccupancyType, Station } from '@hub/protocol';
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
  /** The alarming devices as the registry knows them (first ones first, at most MAX_VIEW_DEVICES). */
  devices: DeviceSummary[];
  distanceM?: number | null;
  /** Building contacts: only in a paged station's view (they are phone numbers). */
  contacts?: Contact[];
};

export interface DeviceSummary {
  id: string;
  kind: DeviceKind | null;
  floor: number | null;
  room: string | null;
}

/** A storm of alarms in one building must not make every list response huge. */
export const MAX_VIEW_DEVICES = 20;

function deviceSummaries(snapshot: RegistrySnapshot, ids: readonly string[]): DeviceSummary[] {
  const out: DeviceSummary[] = [];
  for (let i = 0; i < ids.length && i < MAX_VIEW_DEVICES; i++) {
    const id = ids[i] as string;
    const d = snapshot.devices.get(id);
    out.push(
      d === undefined
        ? { id, kind: null, floor: null, room: null }
        : { id, kind: d.kind, floor: d.floor, room: d.room },
    );
  }
  return out;
}

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
  const devices = deviceSummaries(snapshot, incident.deviceIds);
  if (station === undefined) return { ...incident, building, devices };
  const distanceM =
    building === null
      ? null
      : Math.round(haversineMeters(station.lat, station.lon, building.lat, building.lon));
  // A paged station needs the contacts on its way there; anyone else sees none.
  const paged = incident.pagedStations.includes(station.id) || incident.stationId === station.id;
  const contacts = paged ? (snapshot.buildings.get(incident.buildingId)?.contacts ?? []) : [];
  return { ...incident, building, devices, distanceM, contacts };
}
