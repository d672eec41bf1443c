import { type Building, buildingSchema, type Contact } from '@hub/protocol';
import { cellNumber, type ImportProblems, type ImportRow, parseImportCsv } from './csv-import.js';

export const BUILDING_CSV_COLUMNS = [
  'id',
  'name',
  'address',
  'lat',
  'lon',
  'occupancy',
  'floors',
  'township',
  'grid',
  'contacts',
] as const;

/** "王伟(房东):138…; 李娜:139…" → contacts (the export's format). */
function parseContacts(cell: string): Contact[] {
  const out: Contact[] = [];
  for (const part of cell.split(';')) {
    const p = part.trim();
    if (p === '') continue;
    const colon = p.lastIndexOf(':');
    const who = colon < 0 ? p : p.slice(0, colon).trim();
    const phone = colon < 0 ? '' : p.slice(colon + 1).trim();
    const m = /^(.*?)\((.*)\)$/.exec(who);
    out.push(
      m === null
        ? { name: who, phone }
        : { name: (m[1] as string).trim(), phone, role: (m[2] as string).trim() },
    );
  }
  return out;
}

/** Buildings from a CSV in the export's columns, each validated with the registry's buildingSchema. */
export function parseBuildingCsv(text: string, problems: ImportProblems): ImportRow<Building>[] {
  return parseImportCsv(
    text,
    {
      columns: BUILDING_CSV_COLUMNS,
      optional: ['contacts'],
      schema: buildingSchema,
      idOf: (b) => b.id,
      candidate: (get) => ({
        id: get('id'),
        name: get('name'),
        address: get('address'),
        lat: cellNumber(get('lat')),
        lon: cellNumber(get('lon')),
        occupancy: get('occupancy'),
        floors: cellNumber(get('floors')),
        township: get('township'),
        grid: get('grid'),
        contacts: parseContacts(get('contacts')),
      }),
    },
    problems,
  );
}

export interface BuildingImportContext {
  /** The operator's township; null = an admin (any township). */
  scope: string | null;
  /** Townships of the registry among those the rows name. */
  townships: ReadonlySet<string>;
  /** Stored buildings with the rows' ids (moving one out of another township is not allowed). */
  existing: ReadonlyMap<string, Building>;
}

/** Checks against the registry and the operator's scope (pure). */
export function checkBuildings(
  rows: readonly ImportRow<Building>[],
  ctx: BuildingImportContext,
  problems: ImportProblems,
): void {
  for (const { line, value: b } of rows) {
    const old = ctx.existing.get(b.id);
    if (!ctx.townships.has(b.township)) problems.add(line, `unknown township ${b.township}`);
    else if (ctx.scope !== null && b.township !== ctx.scope)
      problems.add(line, `township ${b.township} is not yours`);
    else if (ctx.scope !== null && old !== undefined && old.township !== ctx.scope)
      problems.add(line, `building ${b.id} belongs to township ${old.township}`);
  }
}
