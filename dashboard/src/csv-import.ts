import type { z } from 'zod';
import { CsvError, parseCsv } from './csv-parse.js';

/** Rows one import may carry (a township has a few thousand buildings, tens of thousands of devices). */
export const MAX_IMPORT_ROWS = 20_000;
/** Problems listed in an answer (the count is complete). */
export const MAX_IMPORT_ERRORS = 50;
/** A station's responsibility area is one cell of "lon lat; lon lat; …" (hundreds of points). */
const MAX_IMPORT_FIELD = 64_000;

export interface ImportProblem {
  line: number;
  message: string;
}

/** Problems of one import: the first MAX_IMPORT_ERRORS listed, all counted. */
export class ImportProblems {
  readonly list: ImportProblem[] = [];
  count = 0;

  add(line: number, message: string): void {
    this.count++;
    if (this.list.length < MAX_IMPORT_ERRORS) this.list.push({ line, message });
  }
}

export interface ImportRow<T> {
  /** Line of the file (the header is line 1). */
  line: number;
  value: T;
}

export interface ImportSpec<T> {
  /** The export's columns; the header may put them in any order, extra columns are ignored. */
  columns: readonly string[];
  /** Columns that may be missing from the header (empty cells then). */
  optional: readonly string[];
  /** Cells of one row (trimmed, '' when missing) → what `schema` validates. */
  candidate: (get: (column: string) => string) => unknown;
  schema: z.ZodType<T>;
  idOf: (value: T) => string;
}

/** "" → NaN, so an empty numeric cell is a schema error instead of a silent 0. */
export function cellNumber(cell: string): number {
  return cell === '' ? Number.NaN : Number(cell);
}

/** true/false, 1/0, yes/no (and "" → `empty`); anything else is left for the schema to reject. */
export function cellBoolean(cell: string, empty: boolean): boolean | string {
  const c = cell.toLowerCase();
  if (c === '') return empty;
  if (c === 'true' || c === '1' || c === 'yes') return true;
  if (c === 'false' || c === '0' || c === 'no') return false;
  return cell;
}

/** The first zod issue as "path: message" (one line per CSV row is enough to fix it). */
export function issueText(error: z.ZodError): string {
  const first = error.issues[0];
  return `${first?.path.join('.') ?? ''}: ${first?.message ?? 'invalid'}`;
}

/**
 * Rows of a registry CSV (header required) validated with the entity's schema; bad
 * rows, duplicate ids and file-level errors (bad quoting, missing columns, too many
 * rows) go to `problems` with their line. Pure: the caller writes nothing when there is
 * any problem (all or nothing), after its own checks against the registry.
 */
export function parseImportCsv<T>(
  text: string,
  spec: ImportSpec<T>,
  problems: ImportProblems,
): ImportRow<T>[] {
  let rows: string[][];
  try {
    rows = parseCsv(text, MAX_IMPORT_ROWS + 1, MAX_IMPORT_FIELD);
  } catch (err) {
    const e = err instanceof CsvError ? err : new CsvError(0, String(err));
    problems.add(e.line, e.message);
    return [];
  }
  const [header, ...body] = rows;
  if (header === undefined) {
    problems.add(1, 'empty file');
    return [];
  }
  const col = new Map(header.map((h, i) => [h.trim().toLowerCase(), i]));
  const missing = spec.columns.filter((c) => !spec.optional.includes(c) && !col.has(c));
  if (missing.length > 0) {
    problems.add(1, `missing columns: ${missing.join(', ')}`);
    return [];
  }
  const out: ImportRow<T>[] = [];
  const seen = new Set<string>();
  body.forEach((r, k) => {
    const line = k + 2;
    const get = (name: string) => {
      const i = col.get(name);
      return i === undefined ? '' : (r[i] ?? '').trim();
    };
    const res = spec.schema.safeParse(spec.candidate(get));
    if (!res.success) {
      problems.add(line, issueText(res.error));
      return;
    }
    const id = spec.idOf(res.data);
    if (seen.has(id)) {
      problems.add(line, `duplicate id ${id}`);
      return;
    }
    seen.add(id);
    out.push({ line, value: res.data });
  });
  return out;
}
