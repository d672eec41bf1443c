import { type Building, buildingSchema, type Contact } from '@hub/protocol';
import { CsvError, parseCsv } from './csv-parse.js';

/** Rows one import may carry (a township has a few thousand buildings). */
export const MAX_IMPORT_ROWS = 20_000;
/** Problems listed in an answer (the count is complete). */
export const MAX_IMPORT_ERRORS = 50;

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

export interface ImportProblem {
  line: number;
  message: string;
}

export interface BuildingImport {
  buildings: Building[];
  problems: ImportProblem[];
  problemCount: number;
}

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

/**
 * Buildings from a CSV in the export's columns (header required, any order, extra
 * columns ignored). Every row is validated with the registry's buildingSchema; rows of
 * another township than `township` (when given) are problems. Pure: the caller
 * decides to write nothing when there is any problem (all or nothing).
 */
export function parseBuildingCsv(text: string, township: string | null): BuildingImport {
  const problems: ImportProblem[] = [];
  let count = 0;
  const problem = (line: number, message: string) => {
    count++;
    if (problems.length < MAX_IMPORT_ERRORS) problems.push({ line, message });
  };
  let rows: string[][];
  try {
    rows = parseCsv(text, MAX_IMPORT_ROWS + 1);
  } catch (err) {
    const e = err instanceof CsvError ? err : new CsvError(0, String(err));
    return { buildings: [], problems: [{ line: e.line, message: e.message }], problemCount: 1 };
  }
  const [header, ...body] = rows;
  if (header === undefined)
    return { buildings: [], problems: [{ line: 1, message: 'empty file' }], problemCount: 1 };
  const col = new Map(header.map((h, i) => [h.trim().toLowerCase(), i]));
  const missing = BUILDING_CSV_COLUMNS.filter((c) => c !== 'contacts' && !col.has(c));
  if (missing.length > 0) {
    return {
      buildings: [],
      problems: [{ line: 1, message: `missing columns: ${missing.join(', ')}` }],
      problemCount: 1,
    };
  }
  const get = (r: string[], name: string) => {
    const i = col.get(name);
    return i === undefined ? '' : (r[i] ?? '').trim();
  };
  const buildings: Building[] = [];
  const seen = new Set<string>();
  body.forEach((r, k) => {
    const line = k + 2;
    const candidate = {
      id: get(r, 'id'),
      name: get(r, 'name'),
      address: get(r, 'address'),
      lat: Number(get(r, 'lat')),
      lon: Number(get(r, 'lon')),
      occupancy: get(r, 'occupancy'),
      floors: Number(get(r, 'floors')),
      township: get(r, 'township'),
      grid: get(r, 'grid'),
      contacts: parseContacts(get(r, 'contacts')),
    };
    const res = buildingSchema.safeParse(candidate);
    if (!res.success) {
      const first = res.error.issues[0];
      problem(line, `${first?.path.join('.') ?? ''}: ${first?.message ?? 'invalid'}`);
      return;
    }
    if (township !== null && res.data.township !== township) {
      problem(line, `township ${res.data.township} is not yours`);
      return;
    }
    if (seen.has(res.data.id)) {
      problem(line, `duplicate id ${res.data.id}`);
      return;
    }
    seen.add(res.data.id);
    buildings.push(res.data);
  });
  return { buildings, problems, problemCount: count };
}
