import type { Station } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { haversineMeters } from '../src/geo.js';
import { pointInRing } from '../src/point-in-ring.js';
import { StationIndex } from '../src/station-index.js';

function station(id: string, lat: number, lon: number, extra: Partial<Station> = {}): Station {
  return { id, name: id, lat, lon, township: 't', officers: [], onDuty: true, ...extra };
}

describe('geo', () => {
  it('measures known distances', () => {
    // One degree of latitude is ~111.2 km everywhere.
    expect(haversineMeters(25, 115, 26, 115)).toBeGreaterThan(111_000);
    expect(haversineMeters(25, 115, 26, 115)).toBeLessThan(111_400);
    expect(haversineMeters(25.8, 114.9, 25.8, 114.9)).toBe(0);
  });

  it('tests points against a ring', () => {
    const square: Array<[number, number]> = [
      [0, 0],
      [1, 0],
      [1, 1],
      [0, 1],
      [0, 0],
    ];
    expect(pointInRing(0.5, 0.5, square)).toBe(true);
    expect(pointInRing(1.5, 0.5, square)).toBe(false);
    expect(pointInRing(0.5, -0.1, square)).toBe(false);
  });
});

describe('StationIndex', () => {
  const near = station('near', 25.8, 114.9);
  const mid = station('mid', 25.81, 114.9);
  const far = station('far', 25.9, 114.9);
  // Far away, but its drawn responsibility area covers the query point.
  const area = station('area', 25.95, 114.95, {
    area: [
      [114.85, 25.75],
      [114.95, 25.75],
      [114.95, 25.85],
      [114.85, 25.85],
      [114.85, 25.75],
    ],
  });

  it('ranks the area station first, then by distance', () => {
    const idx = new StationIndex([far, mid, area, near]);
    const ranked = idx.rank(25.8005, 114.9, 4);
    expect(ranked.map((r) => r.station.id)).toEqual(['area', 'near', 'mid', 'far']);
    expect(ranked[0]?.inArea).toBe(true);
    expect(ranked[1]?.distanceM).toBeLessThan(ranked[2]!.distanceM);
  });

  it('skips filtered stations and respects the limit', () => {
    const idx = new StationIndex([far, mid, area, near]);
    const ranked = idx.rank(25.8005, 114.9, 2, (s) => s.id !== 'near' && s.id !== 'area');
    expect(ranked.map((r) => r.station.id)).toEqual(['mid', 'far']);
  });

  it('copes with no stations', () => {
    expect(new StationIndex([]).rank(0, 0, 3)).toEqual([]);
  });
});
