import { type DutyOfficer, type Station, stationSchema } from '@hub/protocol';
import {
  cellBoolean,
  cellNumber,
  type ImportProblems,
  type ImportRow,
  parseImportCsv,
} from './csv-import.js';

export const STATION_CSV_COLUMNS = [
  'id',
  'name',
  'lat',
  'lon',
  'township',
  'on_duty',
  'officers',
  'area',
] as const;

/** Officers as the export writes them: "id:name:phone:1; id:name:phone:0" (last part = on duty). */
export function officersCell(officers: readonly DutyOfficer[]): string {
  return officers.map((o) => `${o.id}:${o.name}:${o.phone}:${o.onDuty ? 1 : 0}`).join('; ');
}

/** Responsibility area as the export writes it: "lon lat; lon lat; …" (a closed ring, WGS-84). */
export function areaCell(area: Station['area']): string {
  return area === undefined ? '' : area.map(([lon, lat]) => `${lon} ${lat}`).join('; ');
}

function parseOfficers(cell: string): unknown[] {
  const out: unknown[] = [];
  for (const part of cell.split(';')) {
    const p = part.trim();
    if (p === '') continue;
    // id first, phone and on-duty last: a name may itself hold a colon.
    const parts = p.split(':').map((s) => s.trim());
    if (parts.length < 4) {
      out.push({ id: parts[0] ?? '' });
      continue;
    }
    const name = parts.slice(1, -2).join(':');
    out.push({ id: parts[0], name, phone: parts.at(-2), onDuty: cellBoolean(parts.at(-1) ?? '', true) });
  }
  return out;
}

function parseArea(cell: string): unknown {
  if (cell === '') return undefined;
  return cell.split(';').map((pt) => {
    const [lon = '', lat = ''] = pt.trim().split(/\s+/);
    return [cellNumber(lon), cellNumber(lat)];
  });
}

export function parseStationCsv(text: string, problems: ImportProblems): ImportRow<Station>[] {
  return parseImportCsv(
    text,
    {
      columns: STATION_CSV_COLUMNS,
      // An empty or missing area column means "no responsibility area" (the registry then
      // pages by distance); officers must be listed, so an old export cannot wipe a roster.
      optional: ['area'],
      schema: stationSchema,
      idOf: (s) => s.id,
      candidate: (get) => ({
        id: get('id'),
        name: get('name'),
        lat: cellNumber(get('lat')),
        lon: cellNumber(get('lon')),
        township: get('township'),
        onDuty: cellBoolean(get('on_duty'), true),
        officers: parseOfficers(get('officers')),
        area: parseArea(get('area')),
      }),
    },
    problems,
  );
}

export interface StationImportContext {
  /** The operator's township; null = an admin (any township). */
  scope: string | null;
  /** Townships of the registry among those the rows name. */
  townships: ReadonlySet<string>;
  /** Stored stations with the rows' ids. */
  existing: ReadonlyMap<string, Station>;
}

/** Unknown or foreign townships, open area rings and repeated officer ids are problems (pure). */
export function checkStations(
  rows: readonly ImportRow<Station>[],
  ctx: StationImportContext,
  problems: ImportProblems,
): void {
  for (const { line, value: s } of rows) {
    const old = ctx.existing.get(s.id);
    const first = s.area?.[0];
    const last = s.area?.[s.area.length - 1];
    const ids = new Set(s.officers.map((o) => o.id));
    if (!ctx.townships.has(s.township)) problems.add(line, `unknown township ${s.township}`);
    else if (ctx.scope !== null && s.township !== ctx.scope)
      problems.add(line, `township ${s.township} is not yours`);
    else if (ctx.scope !== null && old !== undefined && old.township !== ctx.scope)
      problems.add(line, `station ${s.id} belongs to township ${old.township}`);
    else if (first !== undefined && (first[0] !== last?.[0] || first[1] !== last?.[1]))
      problems.add(line, 'area: the ring must end where it starts');
    else if (ids.size !== s.officers.length) problems.add(line, 'officers: repeated officer id');
  }
}
