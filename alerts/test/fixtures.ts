import type { Building, Device, DeviceEvent, Station, Township } from '@hub/protocol';
import { RegistrySnapshot } from '@hub/registry';

/**
 * A small hand-made township for the alerts tests. Distances from building B1
 * (25.80 N, 114.90 E): S-NOBODY ~70 m (on duty, no officer on duty), S-CLOSED ~30 m
 * (station stood down), S-NEAR ~150 m, S-MID ~1.5 km, S-FAR ~4.4 km. Building B2 lies
 * inside S-AREA's responsibility area although S-B2NEAR is much closer to it.
 */
export const T0 = 1_763_800_000_000;

const hash = '0'.repeat(64);

export const township: Township = {
  id: 'T1',
  name: '示范镇',
  lat: 25.8,
  lon: 114.9,
  fireOfficePhone: '0797-1234567',
};

export const b1: Building = {
  id: 'B1',
  name: 'Rental block 1',
  address: '1 Main St',
  lat: 25.8,
  lon: 114.9,
  occupancy: 'rental',
  floors: 5,
  township: 'T1',
  grid: 'G1',
  contacts: [{ name: 'Landlord', phone: '13800000000' }],
};

export const b2: Building = {
  ...b1,
  id: 'B2',
  name: 'Shop house 2',
  lat: 25.9,
  lon: 115.0,
  occupancy: 'shop_residence',
};

function device(id: string, buildingId: string, extra: Partial<Device> = {}): Device {
  return {
    id,
    kind: 'smoke',
    model: 'SD-1',
    buildingId,
    floor: 3,
    room: '301',
    secretHash: hash,
    salt: 'saltsalt',
    maintenance: false,
    ...extra,
  };
}

export const devices: Device[] = [
  device('D1', 'B1'),
  device('D2', 'B1', { floor: 4, room: '401' }),
  device('DM', 'B1', { maintenance: true }),
  device('D3', 'B2'),
  device('E1', 'B1', { kind: 'electric', model: 'EFM-4C', room: '配电箱' }),
  device('D-ORPHAN', 'B-MISSING'),
];

const onDuty = [{ id: 'o1', name: 'Officer', phone: '13900000000', onDuty: true }];
const offDuty = [{ id: 'o2', name: 'Officer', phone: '13900000001', onDuty: false }];

function station(id: string, lat: number, lon: number, extra: Partial<Station> = {}): Station {
  return { id, name: `Station ${id}`, lat, lon, township: 'T1', officers: onDuty, onDuty: true, ...extra };
}

export const stations: Station[] = [
  station('S-NOBODY', 25.8005, 114.9005, { officers: offDuty }),
  station('S-CLOSED', 25.8002, 114.9002, { onDuty: false }),
  station('S-NEAR', 25.801, 114.901),
  station('S-MID', 25.81, 114.91),
  station('S-FAR', 25.83, 114.93),
  station('S-B2NEAR', 25.901, 115.001),
  station('S-AREA', 25.95, 115.05, {
    area: [
      [114.99, 25.89],
      [115.01, 25.89],
      [115.01, 25.91],
      [114.99, 25.91],
      [114.99, 25.89],
    ],
  }),
];

export function snapshot(
  version = 1,
  overrides: { stations?: Station[]; devices?: Device[] } = {},
): RegistrySnapshot {
  return new RegistrySnapshot(
    {
      townships: [township],
      buildings: [b1, b2],
      devices: overrides.devices ?? devices,
      stations: overrides.stations ?? stations,
      accounts: [],
    },
    version,
  );
}

let seq = 0;
export function event(type: DeviceEvent['type'], ts = T0): DeviceEvent {
  seq++;
  return { v: 1, id: `e-${seq}`, ts, seq, type, value: 14.2 };
}
