import type { RegistrySnapshot } from '@hub/registry';
import { BUILDING_CSV_COLUMNS } from './building-import.js';
import { DEVICE_CSV_COLUMNS } from './device-import.js';
import { csvField } from './incident-stats.js';
import { areaCell, officersCell, STATION_CSV_COLUMNS } from './station-import.js';

export const REGISTRY_CSV_KINDS = ['buildings', 'devices', 'stations'] as const;
export type RegistryCsvKind = (typeof REGISTRY_CSV_KINDS)[number];

/**
 * CSV export of the registry for one township (null = all), in the columns the imports
 * read back (stations add `officers_on_duty`, a count the import ignores). Device secrets and salts
 * never leave; contacts' phones do (the export is for the township office that owns them).
 */
export function registryCsv(
  snapshot: RegistrySnapshot,
  kind: RegistryCsvKind,
  township: string | null,
): string {
  const rows: string[][] = [];
  const inT = (t: string) => township === null || t === township;
  if (kind === 'buildings') {
    rows.push([...BUILDING_CSV_COLUMNS]);
    for (const b of snapshot.buildings.values()) {
      if (!inT(b.township)) continue;
      const contacts = b.contacts.map((c) => `${c.name}${c.role ? `(${c.role})` : ''}:${c.phone}`).join('; ');
      rows.push([
        b.id,
        b.name,
        b.address,
        String(b.lat),
        String(b.lon),
        b.occupancy,
        String(b.floors),
        b.township,
        b.grid,
        contacts,
      ]);
    }
  } else if (kind === 'devices') {
    rows.push([...DEVICE_CSV_COLUMNS]);
    for (const d of snapshot.devices.values()) {
      const b = snapshot.buildings.get(d.buildingId);
      if (b === undefined || !inT(b.township)) continue;
      rows.push([
        d.id,
        d.kind,
        d.model,
        d.buildingId,
        String(d.floor),
        d.room,
        String(d.maintenance),
        b.grid,
      ]);
    }
  } else {
    rows.push([...STATION_CSV_COLUMNS, 'officers_on_duty']);
    for (const s of snapshot.stations.values()) {
      if (!inT(s.township)) continue;
      rows.push([
        s.id,
        s.name,
        String(s.lat),
        String(s.lon),
        s.township,
        String(s.onDuty),
        officersCell(s.officers),
        areaCell(s.area),
        String(s.officers.filter((o) => o.onDuty).length),
      ]);
    }
  }
  const [head, ...body] = rows;
  body.sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1));
  // A BOM so Excel opens the Chinese names as UTF-8.
  return `\uFEFF${[head as string[], ...body].map((r) => r.map(csvField).join(',')).join('\r\n')}\r\n`;
}
