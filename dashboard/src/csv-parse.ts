/**
 * RFC 4180 CSV reader for registry imports: quoted fields with "" escapes, CRLF or LF,
 * a leading UTF-8 BOM. Bounded: more than `maxRows` rows or a field longer than
 * `maxField` characters is an error, not a memory spike. The apostrophe that the
 * exports put before a leading = + - @ (formula-injection guard) is taken off again.
 */
export class CsvError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvError';
  }
}

export function parseCsv(text: string, maxRows: number, maxField = 4_000): string[][] {
  const rows: string[][] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let inQuotes = false;
  const endField = () => {
    const v = !quoted && /^'[=+\-@\t\r]/.test(field) ? field.slice(1) : field;
    row.push(v);
    field = '';
    quoted = false;
  };
  const endRow = () => {
    endField();
    if (!(row.length === 1 && row[0] === '')) {
      if (rows.length >= maxRows) throw new CsvError(line, `more than ${maxRows} rows`);
      rows.push(row);
    }
    row = [];
    line++;
  };
  for (; i < text.length; i++) {
    const c = text[i] as string;
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field === '') {
      inQuotes = true;
      quoted = true;
    } else if (c === ',') endField();
    else if (c === '\n') endRow();
    else if (c === '\r') {
      if (text[i + 1] !== '\n') endRow();
    } else field += c;
    if (field.length > maxField) throw new CsvError(line, `a field is longer than ${maxField} characters`);
  }
  if (inQuotes) throw new CsvError(line, 'unterminated quoted field');
  if (field !== '' || row.length > 0) endRow();
  return rows;
}
