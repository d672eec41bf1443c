import type { RegistrySnapshot } from '@hub/registry';

/**
 * GeoJSON layers of one township for the offline map (Leaflet, no tile server):
 * buildings as points (occupancy, grid), stations as points plus their responsibility
 * areas as polygons. Built per request from the in-memory registry (a township has a
 * few thousand buildings: about 300 KB of JSON), coordinates in GeoJSON order [lon, lat].
 */
export interface TownshipMap {
  township: { id: string; name: string; lat: number; lon: number } | null;
  buildings: GeoJsonCollection;
  stations: GeoJsonCollection;
  areas: GeoJsonCollection;
}

interface GeoJsonCollection {
  type: 'FeatureCollection';
  features: Array<{
    type: 'Feature';
    geometry:
      | { type: 'Point'; coordinates: [number, number] }
      | { type: 'Polygon'; coordinates: number[][][] };
    properties: Record<string, string | number | boolean>;
  }>;
}

/** Coordinates rounded to ~1 m: the map needs no more and the payload shrinks by a third. */
function r6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** township null = every township (admin). */
export function townshipMap(snapshot: RegistrySnapshot, township: string | null): TownshipMap {
  const t = township === null ? undefined : snapshot.townships.get(township);
  const first = t ?? snapshot.townships.values().next().value;
  const buildings: GeoJsonCollection = { type: 'FeatureCollection', features: [] };
  for (const b of snapshot.buildings.values()) {
    if (township !== null && b.township !== township) continue;
    buildings.features.push({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [r6(b.lon), r6(b.lat)] },
      properties: { id: b.id, name: b.name, occupancy: b.occupancy, grid: b.grid, floors: b.floors },
    });
  }
  const stations: GeoJsonCollection = { type: 'FeatureCollection', features: [] };
  const areas: GeoJsonCollection = { type: 'FeatureCollection', features: [] };
  for (const s of snapshot.stations.values()) {
    if (township !== null && s.township !== township) continue;
    stations.features.push({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [r6(s.lon), r6(s.lat)] },
      properties: { id: s.id, name: s.name, onDuty: s.onDuty },
    });
    if (s.area !== undefined) {
      areas.features.push({
        type: 'Feature',
        geometry: { type: 'Polygon', coordinates: [s.area.map(([lon, lat]) => [r6(lon), r6(lat)])] },
        properties: { id: s.id, name: s.name },
      });
    }
  }
  return {
    township: first === undefined ? null : { id: first.id, name: first.name, lat: first.lat, lon: first.lon },
    buildings,
    stations,
    areas,
  };
}
