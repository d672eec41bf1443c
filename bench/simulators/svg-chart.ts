/**
 * Tiny SVG line charts written by hand (no chart library): a latency-by-percentile
 * chart (x: 0 … 99.99 % on the usual 1/(1−p) log scale, y: ms, log) and a time
 * series chart. Enough for a bench report to show where the tail is.
 */
export interface Line {
  label: string;
  points: Array<{ x: number; y: number }>;
}

const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface Axis {
  min: number;
  max: number;
  log: boolean;
  ticks: Array<{ v: number; label: string }>;
}

function scale(a: Axis, v: number, lo: number, hi: number): number {
  const f = a.log
    ? (Math.log10(Math.max(v, a.min)) - Math.log10(a.min)) / (Math.log10(a.max) - Math.log10(a.min))
    : (v - a.min) / (a.max - a.min || 1);
  return lo + Math.min(1, Math.max(0, f)) * (hi - lo);
}

function chart(title: string, lines: Line[], x: Axis, y: Axis, xLabel: string, yLabel: string): string {
  const W = 760;
  const H = 420;
  const L = 70;
  const R = 20;
  const T = 40;
  const B = 60;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`);
  for (const t of y.ticks) {
    const py = scale(y, t.v, H - B, T);
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${py}" y2="${py}" stroke="#ddd"/>`);
    parts.push(`<text x="${L - 6}" y="${py + 4}" text-anchor="end">${esc(t.label)}</text>`);
  }
  for (const t of x.ticks) {
    const px = scale(x, t.v, L, W - R);
    parts.push(`<line x1="${px}" x2="${px}" y1="${T}" y2="${H - B}" stroke="#eee"/>`);
    parts.push(`<text x="${px}" y="${H - B + 16}" text-anchor="middle">${esc(t.label)}</text>`);
  }
  parts.push(
    `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#333"/>`,
  );
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 18}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  );
  lines.forEach((line, k) => {
    const color = COLORS[k % COLORS.length];
    const pts = line.points
      .map((p) => `${scale(x, p.x, L, W - R).toFixed(1)},${scale(y, p.y, H - B, T).toFixed(1)}`)
      .join(' ');
    if (line.points.length > 0)
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`);
    parts.push(`<rect x="${L + 10}" y="${T + 8 + k * 18}" width="12" height="12" fill="${color}"/>`);
    parts.push(`<text x="${L + 28}" y="${T + 18 + k * 18}">${esc(line.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function logTicks(min: number, max: number, fmt: (v: number) => string): Array<{ v: number; label: string }> {
  const out: Array<{ v: number; label: string }> = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++)
    out.push({ v: 10 ** e, label: fmt(10 ** e) });
  return out;
}

/** Lines of {percentile, ms}; x is 1/(1−p/100) on a log axis. */
export function percentileChart(
  title: string,
  curves: Array<{ label: string; curve: Array<{ percentile: number; ms: number }> }>,
): string {
  const lines: Line[] = curves.map((c) => ({
    label: c.label,
    points: c.curve
      .filter((p) => p.percentile < 100)
      .map((p) => ({ x: 1 / (1 - p.percentile / 100), y: Math.max(0.01, p.ms) })),
  }));
  const ys = lines.flatMap((l) => l.points.map((p) => p.y));
  const yMin = Math.max(0.01, 10 ** Math.floor(Math.log10(Math.min(1, ...ys))));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(10, ...ys)));
  const x: Axis = {
    min: 1,
    max: 10_000,
    log: true,
    ticks: [
      { v: 1, label: '0%' },
      { v: 10, label: '90%' },
      { v: 100, label: '99%' },
      { v: 1000, label: '99.9%' },
      { v: 10_000, label: '99.99%' },
    ],
  };
  const y: Axis = { min: yMin, max: yMax, log: true, ticks: logTicks(yMin, yMax, (v) => `${v} ms`) };
  return chart(title, lines, x, y, 'percentile', 'latency (ms, log)');
}

export function timeChart(title: string, lines: Line[], yLabel: string): string {
  const xs = lines.flatMap((l) => l.points.map((p) => p.x));
  const ys = lines.flatMap((l) => l.points.map((p) => p.y));
  const xMax = Math.max(1, ...xs);
  const yMax = Math.max(1, ...ys) * 1.1;
  const step = (m: number) => {
    const raw = m / 6;
    const p = 10 ** Math.floor(Math.log10(raw));
    return [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw) ?? raw;
  };
  const ticks = (m: number) => {
    const s = step(m);
    const out: Array<{ v: number; label: string }> = [];
    for (let v = 0; v <= m + 1e-9; v += s) out.push({ v, label: String(Math.round(v * 100) / 100) });
    return out;
  };
  return chart(
    title,
    lines,
    { min: 0, max: xMax, log: false, ticks: ticks(xMax) },
    { min: 0, max: yMax, log: false, ticks: ticks(yMax) },
    'time (s)',
    yLabel,
  );
}
