import { buildingSchema, deviceSchema, serviceAccountSchema, stationSchema } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { generateDemoTownship } from '../src/demo-township.js';
import { demoDeviceSecret, verifySecret } from '../src/secrets.js';

describe('demo township', () => {
  const data = generateDemoTownship({
    seed: 'x',
    buildings: 300,
    devices: 1200,
    stations: 12,
    serviceSecret: 's',
  });

  it('is deterministic for a seed', () => {
    const again = generateDemoTownship({
      seed: 'x',
      buildings: 300,
      devices: 1200,
      stations: 12,
      serviceSecret: 's',
    });
    expect(again).toEqual(data);
    const other = generateDemoTownship({
      seed: 'y',
      buildings: 300,
      devices: 1200,
      stations: 12,
      serviceSecret: 's',
    });
    expect(other.buildings[0]).not.toEqual(data.buildings[0]);
  });

  it('produces valid entities of the requested sizes', () => {
    expect(data.buildings).toHaveLength(300);
    expect(data.devices).toHaveLength(1200);
    expect(data.stations).toHaveLength(12);
    for (const b of data.buildings) buildingSchema.parse(b);
    for (const d of data.devices) deviceSchema.parse(d);
    for (const s of data.stations) stationSchema.parse(s);
    for (const a of data.accounts) serviceAccountSchema.parse(a);
    const kinds = new Set(data.devices.map((d) => d.kind));
    expect(kinds).toEqual(new Set(['smoke', 'electric', 'charger']));
    const ids = new Set(data.buildings.map((b) => b.id));
    for (const d of data.devices) expect(ids.has(d.buildingId)).toBe(true);
    expect(data.buildings.some((b) => b.floors === 20)).toBe(true);
  });

  it('spaces stations realistically (nearest neighbour 1–4 km)', () => {
    for (const s of data.stations) {
      let best = Infinity;
      for (const o of data.stations) {
        if (o === s) continue;
        const dLat = (o.lat - s.lat) * 111_000;
        const dLon = (o.lon - s.lon) * 100_000;
        best = Math.min(best, Math.hypot(dLat, dLon));
      }
      expect(best).toBeGreaterThan(1000);
      expect(best).toBeLessThan(4000);
    }
  });

  it('derives device and station secrets from the seed', () => {
    const d = data.devices[5]!;
    expect(verifySecret(demoDeviceSecret('x', d.id), d.salt, d.secretHash)).toBe(true);
    expect(verifySecret(demoDeviceSecret('y', d.id), d.salt, d.secretHash)).toBe(false);
    const st = data.accounts.find((a) => a.role === 'station')!;
    expect(verifySecret(demoDeviceSecret('x', st.username), st.salt, st.secretHash)).toBe(true);
    const svc = data.accounts.find((a) => a.username === 'hub-alerts')!;
    expect(verifySecret('s', svc.salt, svc.secretHash)).toBe(true);
  });
});
