import type {
  Building,
  Contact,
  Device,
  DeviceKind,
  OccupancyType,
  ServiceAccount,
  Station,
  Township,
} from '@hub/protocol';
import type { RegistryData } from './registry-snapshot.js';
import { demoDeviceSecret, demoSalt, hashSecret } from './secrets.js';
import { seededRandom } from './seeded-random.js';

export interface DemoOptions {
  seed?: string;
  buildings?: number;
  devices?: number;
  stations?: number;
  /** Secret of the hub services' broker accounts (hub-alerts, hub-ingest, hub-dashboard). */
  serviceSecret: string;
  /** Centre of the township, WGS-84. Default: a township near Ganzhou, Jiangxi. */
  centre?: { lat: number; lon: number };
}

export const DEMO_TOWNSHIP_ID = 'demo-town';
export const HUB_SERVICE_ACCOUNTS = ['hub-alerts', 'hub-ingest', 'hub-dashboard'] as const;

/** Smoke-detector and electricity-monitor models with their reporting habits (see ingest). */
export const DEMO_MODELS: Record<DeviceKind, string[]> = {
  smoke: ['NB-SD01', 'NB-SD02', '4G-SD10'],
  electric: ['EFM-4C', 'EFM-8C'],
  charger: ['EBC-10P', 'EBC-16P'],
};

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '胡', '朱', '高'];
const GIVEN = [
  '伟',
  '芳',
  '娜',
  '敏',
  '静',
  '丽',
  '强',
  '磊',
  '军',
  '洋',
  '勇',
  '艳',
  '杰',
  '涛',
  '明',
  '超',
];
const VILLAGES = [
  '东坑村',
  '西岭村',
  '南塘村',
  '北山村',
  '上湖村',
  '下坪村',
  '河口村',
  '新圩村',
  '石门村',
  '龙潭村',
];
const STREETS = ['解放路', '人民路', '新华街', '中山路', '建设路', '和平街', '文化路', '胜利路'];

/** Occupancy mix of the places the notices target first. */
const OCCUPANCY_WEIGHTS: Array<[OccupancyType, number]> = [
  ['rental', 0.3],
  ['self_built', 0.25],
  ['shop_residence', 0.15],
  ['small_venue', 0.12],
  ['residential', 0.12],
  ['elderly_home', 0.03],
  ['charging_site', 0.03],
];

/**
 * A deterministic demo township: villages scattered over ~8 × 8 km, buildings
 * clustered around them, stations spread over the area (about 2 km apart), devices of
 * the three kinds. The same seed gives the same township on every machine.
 */
export function generateDemoTownship(opts: DemoOptions): RegistryData & { seed: string } {
  const seed = opts.seed ?? 'demo';
  const nBuildings = opts.buildings ?? 2000;
  const nDevices = opts.devices ?? 10_000;
  const nStations = opts.stations ?? 12;
  const centre = opts.centre ?? { lat: 25.83, lon: 114.93 };
  const rnd = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T;
  const name = () => pick(SURNAMES) + pick(GIVEN) + (rnd() < 0.5 ? pick(GIVEN) : '');
  const phone = () => '13' + String(Math.floor(rnd() * 1e9)).padStart(9, '0');
  // ~8 km across: 1° lat ≈ 111 km; 1° lon ≈ 100 km at 25.8°N.
  const spanLat = 8 / 111;
  const spanLon = 8 / 100;

  const township: Township = {
    id: DEMO_TOWNSHIP_ID,
    name: '示范镇',
    lat: centre.lat,
    lon: centre.lon,
    fireOfficePhone: '0797-1190000',
  };

  const villages = VILLAGES.map((v) => ({
    name: v,
    lat: centre.lat + (rnd() - 0.5) * spanLat,
    lon: centre.lon + (rnd() - 0.5) * spanLon,
  }));

  const buildings: Building[] = [];
  for (let i = 0; i < nBuildings; i++) {
    const v = villages[i % villages.length]!;
    const w = rnd();
    let acc = 0;
    let occupancy: OccupancyType = 'rental';
    for (const [o, p] of OCCUPANCY_WEIGHTS) {
      acc += p;
      if (w < acc) {
        occupancy = o;
        break;
      }
    }
    // Most are 2–6 floors; one in fifty is a tall block (the fire-burst benchmark uses a 20-floor one).
    const floors = i % 50 === 7 ? 20 : 1 + Math.floor(rnd() * 6);
    const contacts: Contact[] = [{ name: name(), phone: phone(), role: '房东' }];
    if (rnd() < 0.5) contacts.push({ name: name(), phone: phone(), role: '住户' });
    buildings.push({
      id: `b${String(i + 1).padStart(5, '0')}`,
      name: `${v.name}${i + 1}号`,
      address: `示范镇${v.name}${pick(STREETS)}${1 + Math.floor(rnd() * 200)}号`,
      // Gaussian-ish scatter (~400 m) around the village centre.
      lat: v.lat + (rnd() + rnd() - 1) * 0.004,
      lon: v.lon + (rnd() + rnd() - 1) * 0.0045,
      occupancy,
      floors,
      township: township.id,
      grid: `g${String((i % 20) + 1).padStart(2, '0')}`,
      contacts,
    });
  }

  // Stations on a rough grid over the area, jittered: realistic ~2 km spacing.
  const stations: Station[] = [];
  const cols = Math.ceil(Math.sqrt(nStations));
  const rows = Math.ceil(nStations / cols);
  for (let i = 0; i < nStations; i++) {
    const r = Math.floor(i / cols);
    const c = i % cols;
    const lat = centre.lat - spanLat / 2 + ((r + 0.5) / rows) * spanLat + (rnd() - 0.5) * 0.003;
    const lon = centre.lon - spanLon / 2 + ((c + 0.5) / cols) * spanLon + (rnd() - 0.5) * 0.003;
    const officers = Array.from({ length: 3 + Math.floor(rnd() * 3) }, (_, k) => ({
      id: `s${String(i + 1).padStart(2, '0')}-o${k + 1}`,
      name: name(),
      phone: phone(),
      onDuty: k < 3,
    }));
    const station: Station = {
      id: `s${String(i + 1).padStart(2, '0')}`,
      name: `示范镇第${i + 1}微型消防站`,
      lat,
      lon,
      township: township.id,
      officers,
      onDuty: true,
    };
    // Every third station has a drawn responsibility area: its grid cell.
    if (i % 3 === 0) {
      const la0 = centre.lat - spanLat / 2 + (r / rows) * spanLat;
      const la1 = la0 + spanLat / rows;
      const lo0 = centre.lon - spanLon / 2 + (c / cols) * spanLon;
      const lo1 = lo0 + spanLon / cols;
      station.area = [
        [lo0, la0],
        [lo1, la0],
        [lo1, la1],
        [lo0, la1],
        [lo0, la0],
      ];
    }
    stations.push(station);
  }

  const devices: Device[] = [];
  for (let i = 0; i < nDevices; i++) {
    const b = buildings[i % buildings.length]!;
    const w = rnd();
    const kind: DeviceKind =
      b.occupancy === 'charging_site' ? 'charger' : w < 0.75 ? 'smoke' : w < 0.93 ? 'electric' : 'charger';
    const id = `d${String(i + 1).padStart(6, '0')}`;
    const salt = demoSalt(seed, id);
    const floor = 1 + (Math.floor(i / buildings.length) % b.floors);
    devices.push({
      id,
      kind,
      model: pick(DEMO_MODELS[kind]),
      buildingId: b.id,
      floor,
      room:
        kind === 'smoke'
          ? `${floor}0${1 + Math.floor(rnd() * 4)}`
          : kind === 'electric'
            ? '配电箱'
            : '充电区',
      secretHash: hashSecret(demoDeviceSecret(seed, id), salt),
      salt,
      maintenance: false,
    });
  }

  const accounts: ServiceAccount[] = [];
  for (const username of HUB_SERVICE_ACCOUNTS) {
    const salt = demoSalt(seed, username);
    accounts.push({ username, role: 'service', secretHash: hashSecret(opts.serviceSecret, salt), salt });
  }
  for (const s of stations) {
    const username = `station-${s.id}`;
    const salt = demoSalt(seed, username);
    accounts.push({
      username,
      role: 'station',
      stationId: s.id,
      secretHash: hashSecret(demoDeviceSecret(seed, username), salt),
      salt,
    });
  }

  return { seed, townships: [township], buildings, devices, stations, accounts };
}
