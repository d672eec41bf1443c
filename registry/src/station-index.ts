import type { Station } from '@hub/protocol';
import * as geokdbush from 'geokdbush';
import KDBush from 'kdbush';
import { haversineMeters } from './geo.js';
import { pointInRing } from './point-in-ring.js';

export interface RankedStation {
  station: Station;
  /** Straight-line distance to the building, metres. */
  distanceM: number;
  /** True when the station's responsibility area contains the point. */
  inArea: boolean;
}

/**
 * Stations ranked for a location: those whose responsibility area contains it first,
 * then by distance. Built once per registry snapshot; lookups are in-process
 * (microseconds), never a database query.
 */
export class StationIndex {
  private readonly list: Station[];
  private readonly kd: KDBush | null;

  constructor(stations: Iterable<Station>) {
    this.list = [...stations];
    if (this.list.length === 0) {
      this.kd = null;
      return;
    }
    const kd = new KDBush(this.list.length);
    for (const s of this.list) kd.add(s.lon, s.lat);
    kd.finish();
    this.kd = kd;
  }

  get size(): number {
    return this.list.length;
  }

  /**
   * Up to `limit` stations for (lat, lon): area stations first (nearest first among
   * them), then the nearest others. `accept` filters (e.g. nobody on duty).
   */
  rank(lat: number, lon: number, limit: number, accept?: (s: Station) => boolean): RankedStation[] {
    if (this.kd === null || limit <= 0) return [];
    const inArea: RankedStation[] = [];
    const others: RankedStation[] = [];
    // Area stations can be far from the point (large rural areas): scan them all.
    // Station counts are small (5–30 per township), so this stays cheap.
    for (const s of this.list) {
      if (s.area !== undefined && pointInRing(lon, lat, s.area) && (accept === undefined || accept(s))) {
        inArea.push({ station: s, distanceM: haversineMeters(lat, lon, s.lat, s.lon), inArea: true });
      }
    }
    inArea.sort((a, b) => a.distanceM - b.distanceM);
    const ids: number[] = geokdbush.around(
      this.kd,
      lon,
      lat,
      limit + inArea.length,
      Infinity,
      (i: number) => {
        const s = this.list[i];
        return s !== undefined && (accept === undefined || accept(s));
      },
    );
    for (const i of ids) {
      const s = this.list[i];
      if (s === undefined || inArea.some((r) => r.station.id === s.id)) continue;
      others.push({ station: s, distanceM: haversineMeters(lat, lon, s.lat, s.lon), inArea: false });
    }
    return inArea.concat(others).slice(0, limit);
  }
}
