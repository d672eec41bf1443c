import type { AuditEntry, Building, HubKeys, Incident, Station, Township } from '@hub/protocol';
import { RegistrySnapshot } from '@hub/registry';
import { waitFor as sharedWaitFor } from '@hub/registry/test-support';
import type { Redis } from 'ioredis';

/**
 * Test data in the contract's format. The alerts service (the only writer of incidents
 * in production) is written in parallel, so tests store incidents the way the
 * contract says it will: SET incident(id), ZADD incidentsByTime, SADD incidentsOpen,
 * RPUSH incidentAudit(id).
 */
export const T0 = 1_763_800_000_000;

const township: Township = {
  id: 'tw1',
  name: '测试镇',
  lat: 25.83,
  lon: 114.93,
  fireOfficePhone: '0797-1190000',
};

export const buildings: Building[] = [
  {
    id: 'b1',
    name: '东坑村1号',
    address: '测试镇东坑村解放路12号',
    lat: 25.83,
    lon: 114.93,
    occupancy: 'rental',
    floors: 4,
    township: 'tw1',
    grid: 'g01',
    contacts: [{ name: '王伟', phone: '13800000000', role: '房东' }],
  },
  {
    id: 'b2',
    name: '西岭村养老院',
    address: '测试镇西岭村人民路3号',
    lat: 25.85,
    lon: 114.95,
    occupancy: 'elderly_home',
    floors: 2,
    township: 'tw1',
    grid: 'g02',
    contacts: [],
  },
];

function station(id: string, lat: number, lon: number, onDuty = true): Station {
  return {
    id,
    name: `测试镇第${id.slice(1)}微型消防站`,
    lat,
    lon,
    township: 'tw1',
    officers: [{ id: `${id}-o1`, name: '李强', phone: '13900000000', onDuty: true }],
    onDuty,
  };
}

export const stations: Station[] = [
  station('s1', 25.831, 114.931), // ~140 m from b1
  station('s2', 25.84, 114.94),
  station('s3', 25.86, 114.96, false),
];

export function testSnapshot(): RegistrySnapshot {
  return new RegistrySnapshot({ townships: [township], buildings, devices: [], stations, accounts: [] }, 1);
}

export function makeIncident(id: string, overrides: Partial<Incident> = {}): Incident {
  const openedAt = overrides.openedAt ?? T0;
  return {
    id,
    lane: 'fire',
    state: 'paging',
    verification: 'unverified',
    buildingId: 'b1',
    township: 'tw1',
    grid: 'g01',
    openedAt,
    updatedAt: openedAt,
    deviceIds: ['d000001'],
    firstFloor: 3,
    firstRoom: '301',
    alarmTs: openedAt - 50,
    receivedAt: openedAt - 20,
    step: 1,
    pagedStations: ['s1'],
    stationId: null,
    acceptBy: openedAt + 30_000,
    acceptedAt: null,
    onSceneBy: null,
    onSceneAt: null,
    closedAt: null,
    disposition: null,
    forwarded119At: null,
    ...overrides,
  };
}

/** Stores an incident as the alerts service does. */
export async function writeIncident(
  redis: Redis,
  keys: HubKeys,
  incident: Incident,
  audit: AuditEntry[] = [],
): Promise<void> {
  const m = redis.multi();
  m.set(keys.incident(incident.id), JSON.stringify(incident));
  m.zadd(keys.incidentsByTime, incident.openedAt, incident.id);
  if (incident.state === 'closed') m.srem(keys.incidentsOpen, incident.id);
  else m.sadd(keys.incidentsOpen, incident.id);
  for (const a of audit) m.rpush(keys.incidentAudit(incident.id), JSON.stringify(a));
  await m.exec();
}

/**
 * Polls until `check` returns a truthy value (no fixed sleeps in tests): the shared
 * registry waitFor, with this workspace's argument order and "null = not yet".
 */
export function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  return sharedWaitFor(
    what,
    async () => {
      const v = await check();
      return v ? v : undefined;
    },
    timeoutMs,
  );
}
