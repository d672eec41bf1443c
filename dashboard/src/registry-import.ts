import {
  type Building,
  buildingSchema,
  type Device,
  deviceSchema,
  type HubKeys,
  type Station,
  stationSchema,
  townshipSchema,
} from '@hub/protocol';
import { RegistryStore } from '@hub/registry';
import type { Redis } from 'ioredis';
import { checkBuildings, parseBuildingCsv } from './building-import.js';
import { type ImportProblem, ImportProblems } from './csv-import.js';
import { checkDevices, type ProvisionedSecret, parseDeviceCsv, withCredentials } from './device-import.js';
import type { RegistryCsvKind } from './registry-csv.js';
import { readEntities } from './registry-lookup.js';
import { checkStations, parseStationCsv } from './station-import.js';

export type ImportOutcome =
  | { ok: false; problems: ImportProblem[]; problemCount: number }
  | {
      ok: true;
      valid: number;
      written: number;
      version: number | null;
      /** Devices only: how many rows are new devices (they get a credential). */
      created?: number;
      /** Devices only, and only when written: the plain secrets of the new devices, returned once. */
      secrets?: ProvisionedSecret[];
    };

/** Problems by line: the schema pass and the registry pass each add theirs in file order. */
function rejected(problems: ImportProblems): ImportOutcome {
  const sorted = [...problems.list].sort((a, b) => a.line - b.line);
  return { ok: false, problems: sorted, problemCount: problems.count };
}

/**
 * One CSV import, all or nothing: the rows are parsed and validated, then checked
 * against the stored registry (read from Redis, not the possibly older in-memory
 * snapshot) and the operator's township; any problem and nothing is written. Written
 * through the registry's own store, which validates again, bumps the registry version
 * and publishes the change, so broker, alerts, ingest and this dashboard reload. A file
 * with a header and no rows writes nothing and leaves the version alone.
 */
export async function importRegistryCsv(
  redis: Redis,
  keys: HubKeys,
  kind: RegistryCsvKind,
  text: string,
  scope: string | null,
  dryRun: boolean,
): Promise<ImportOutcome> {
  const problems = new ImportProblems();
  const store = new RegistryStore(redis, keys);
  if (kind === 'buildings') {
    const rows = parseBuildingCsv(text, problems);
    const townships = await readEntities(
      redis,
      keys.townships,
      townshipSchema,
      rows.map((r) => r.value.township),
    );
    const existing = await readEntities<Building>(
      redis,
      keys.buildings,
      buildingSchema,
      rows.map((r) => r.value.id),
    );
    checkBuildings(rows, { scope, townships: new Set(townships.keys()), existing }, problems);
    if (problems.count > 0) return rejected(problems);
    const valid = rows.length;
    if (dryRun || valid === 0) return { ok: true, valid, written: 0, version: null };
    const version = await store.upsert(
      'buildings',
      rows.map((r) => r.value),
    );
    return { ok: true, valid, written: valid, version };
  }
  if (kind === 'devices') {
    const rows = parseDeviceCsv(text, problems);
    const existing = await readEntities<Device>(
      redis,
      keys.devices,
      deviceSchema,
      rows.map((r) => r.value.id),
    );
    const buildingIds = [
      ...rows.map((r) => r.value.buildingId),
      ...[...existing.values()].map((d) => d.buildingId),
    ];
    const buildings = await readEntities<Building>(redis, keys.buildings, buildingSchema, buildingIds);
    checkDevices(rows, { scope, buildings, existing }, problems);
    if (problems.count > 0) return rejected(problems);
    const valid = rows.length;
    const created = rows.filter((r) => !existing.has(r.value.id)).length;
    if (dryRun || valid === 0) return { ok: true, valid, written: 0, version: null, created, secrets: [] };
    const { devices, secrets } = withCredentials(rows, existing);
    const version = await store.upsert('devices', devices);
    return { ok: true, valid, written: valid, version, created, secrets };
  }
  const rows = parseStationCsv(text, problems);
  const townships = await readEntities(
    redis,
    keys.townships,
    townshipSchema,
    rows.map((r) => r.value.township),
  );
  const existing = await readEntities<Station>(
    redis,
    keys.stations,
    stationSchema,
    rows.map((r) => r.value.id),
  );
  checkStations(rows, { scope, townships: new Set(townships.keys()), existing }, problems);
  if (problems.count > 0) return rejected(problems);
  const valid = rows.length;
  if (dryRun || valid === 0) return { ok: true, valid, written: 0, version: null };
  const version = await store.upsert(
    'stations',
    rows.map((r) => r.value),
  );
  return { ok: true, valid, written: valid, version };
}
