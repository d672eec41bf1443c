import { readFileSync } from 'node:fs';

/**
 * CPU and memory of processes from /proc, sampled once a second: utime+stime ticks
 * (CLK_TCK 100 on Linux x86-64) and VmRSS. CPU % is of one core (200 % = both cores).
 */
const CLK_TCK = 100;

export interface ProcSample {
  t: number;
  cpuPct: number;
  rssMb: number;
}

export interface ProcSeries {
  name: string;
  pid: number;
  samples: ProcSample[];
}

function readTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return null;
  }
}

function readRssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Number(m[1]) / 1024;
  } catch {
    return null;
  }
}

export class ProcSampler {
  private readonly series: ProcSeries[];
  private readonly last = new Map<number, { ticks: number; at: number }>();
  private timer: NodeJS.Timeout | null = null;
  private readonly t0 = Date.now();

  constructor(procs: Array<{ name: string; pid: number }>) {
    this.series = procs.map((p) => ({ ...p, samples: [] }));
  }

  start(everyMs = 1_000): void {
    for (const s of this.series) this.last.set(s.pid, { ticks: readTicks(s.pid) ?? 0, at: Date.now() });
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  private sample(): void {
    const now = Date.now();
    for (const s of this.series) {
      const ticks = readTicks(s.pid);
      const rss = readRssMb(s.pid);
      const prev = this.last.get(s.pid);
      if (ticks === null || rss === null || prev === undefined) continue;
      const cpuPct = ((ticks - prev.ticks) / CLK_TCK / ((now - prev.at) / 1000)) * 100;
      this.last.set(s.pid, { ticks, at: now });
      s.samples.push({
        t: (now - this.t0) / 1000,
        cpuPct: Math.round(cpuPct * 10) / 10,
        rssMb: Math.round(rss * 10) / 10,
      });
    }
  }

  stop(): ProcSeries[] {
    if (this.timer !== null) clearInterval(this.timer);
    this.sample();
    return this.series;
  }
}

export function summarize(s: ProcSeries): {
  name: string;
  cpuAvgPct: number;
  cpuMaxPct: number;
  rssMaxMb: number;
  rssEndMb: number;
} {
  const c = s.samples.map((x) => x.cpuPct);
  const r = s.samples.map((x) => x.rssMb);
  const avg = c.length === 0 ? 0 : c.reduce((a, b) => a + b, 0) / c.length;
  return {
    name: s.name,
    cpuAvgPct: Math.round(avg * 10) / 10,
    cpuMaxPct: Math.max(0, ...c),
    rssMaxMb: Math.max(0, ...r),
    rssEndMb: r.at(-1) ?? 0,
  };
}
