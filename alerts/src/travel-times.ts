import { ALERTS_CODES, AlertsError } from './alerts-codes.js';
import type { TravelTimes } from './station-choice.js';

/**
 * The operator's travel-time table (building → station → seconds), from a file
 * named by HUB_TRAVEL_TIMES_FILE: either JSON `{ "<building>": { "<station>": s } }`
 * or CSV lines `building,station,seconds` (a header line and # comments allowed).
 * Parsed once at start; a bad line fails start-up with its line number.
 */
export function parseTravelTimes(text: string): TravelTimes {
  const out = new Map<string, Map<string, number>>();
  const put = (b: string, s: string, sec: number, where: string) => {
    if (
      !/^[A-Za-z0-9_-]{1,64}$/.test(b) ||
      !/^[A-Za-z0-9_-]{1,64}$/.test(s) ||
      !Number.isFinite(sec) ||
      sec < 0 ||
      sec > 86_400
    ) {
      throw new AlertsError(ALERTS_CODES.BAD_ENTRY, `travel-time table: bad entry at ${where}`);
    }
    let m = out.get(b);
    if (m === undefined) {
      m = new Map();
      out.set(b, m);
    }
    m.set(s, sec);
  };
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const obj = JSON.parse(trimmed) as Record<string, Record<string, number>>;
    for (const [b, row] of Object.entries(obj)) {
      for (const [s, sec] of Object.entries(row)) put(b, s, Number(sec), `${b}.${s}`);
    }
    return out;
  }
  const lines = trimmed.split(/\r?\n/);
  lines.forEach((line, i) => {
    const l = line.trim();
    if (l === '' || l.startsWith('#') || (i === 0 && /^building\s*,/i.test(l))) return;
    const [b, s, sec] = l.split(',').map((x) => x.trim());
    put(b ?? '', s ?? '', Number(sec), `line ${i + 1}`);
  });
  return out;
}
