import { randomBytes } from 'node:crypto';
import { type Building, type Device, deviceSchema } from '@hub/protocol';
import { hashSecret, newSalt } from '@hub/registry';
import type { z } from 'zod';
import {
  cellBoolean,
  cellNumber,
  type ImportProblems,
  type ImportRow,
  parseImportCsv,
} from './csv-import.js';

/** The export's columns (`grid` is the building's, shown for reading and ignored on import). */
export const DEVICE_CSV_COLUMNS = [
  'id',
  'kind',
  'model',
  'building_id',
  'floor',
  'room',
  'maintenance',
  'grid',
] as const;

/** A device row carries no credential: the registry keeps the stored one or the import makes one. */
const deviceRowSchema = deviceSchema.omit({ secretHash: true, salt: true });
export type DeviceRow = z.infer<typeof deviceRowSchema>;

export function parseDeviceCsv(text: string, problems: ImportProblems): ImportRow<DeviceRow>[] {
  return parseImportCsv(
    text,
    {
      columns: DEVICE_CSV_COLUMNS,
      optional: ['maintenance', 'grid', 'room'],
      schema: deviceRowSchema,
      idOf: (d) => d.id,
      candidate: (get) => ({
        id: get('id'),
        kind: get('kind'),
        model: get('model'),
        buildingId: get('building_id'),
        floor: cellNumber(get('floor')),
        room: get('room'),
        maintenance: cellBoolean(get('maintenance'), false),
      }),
    },
    problems,
  );
}

export interface DeviceImportContext {
  /** The operator's township; null = an admin (any township). */
  scope: string | null;
  /** Stored buildings: those the rows name and those the existing devices are in. */
  buildings: ReadonlyMap<string, Building>;
  /** Stored devices with the rows' ids. */
  existing: ReadonlyMap<string, Device>;
}

/** Unknown buildings, buildings of another township, and devices of another township are problems (pure). */
export function checkDevices(
  rows: readonly ImportRow<DeviceRow>[],
  ctx: DeviceImportContext,
  problems: ImportProblems,
): void {
  for (const { line, value: d } of rows) {
    const b = ctx.buildings.get(d.buildingId);
    const old = ctx.existing.get(d.id);
    const oldTownship = old === undefined ? null : (ctx.buildings.get(old.buildingId)?.township ?? null);
    if (b === undefined) problems.add(line, `unknown building ${d.buildingId}`);
    else if (ctx.scope !== null && b.township !== ctx.scope)
      problems.add(line, `building ${d.buildingId} is in township ${b.township}, not yours`);
    else if (ctx.scope !== null && oldTownship !== null && oldTownship !== ctx.scope)
      problems.add(line, `device ${d.id} belongs to township ${oldTownship}`);
  }
}

export interface ProvisionedSecret {
  id: string;
  secret: string;
}

/** 128 random bits, URL-safe (22 characters): what a device sends as its MQTT password. */
export function newDeviceSecret(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Devices to write: an existing device keeps its stored hash and salt (re-importing the
 * export never locks a fleet out); a new one gets a random secret, of which only the
 * salted hash is stored and the plain value is returned once, for provisioning.
 */
export function withCredentials(
  rows: readonly ImportRow<DeviceRow>[],
  existing: ReadonlyMap<string, Device>,
  secret: () => string = newDeviceSecret,
): { devices: Device[]; secrets: ProvisionedSecret[] } {
  const devices: Device[] = [];
  const secrets: ProvisionedSecret[] = [];
  for (const { value } of rows) {
    const old = existing.get(value.id);
    if (old !== undefined) {
      devices.push({ ...value, secretHash: old.secretHash, salt: old.salt });
      continue;
    }
    const plain = secret();
    const salt = newSalt();
    devices.push({ ...value, secretHash: hashSecret(plain, salt), salt });
    secrets.push({ id: value.id, secret: plain });
  }
  return { devices, secrets };
}
