import { readFileSync } from 'node:fs';

/**
 * File-descriptor limits. Every simulated connection holds one descriptor, so a run
 * of N connections needs N plus some headroom (Redis, station listeners, stdio,
 * tsx's own files). Node cannot raise its own limit (no setrlimit), so the CLI
 * checks it before opening anything and says what to run.
 */
export interface FdLimits {
  soft: number;
  hard: number;
}

/** Descriptors the simulator needs beyond its device connections. */
export const FD_HEADROOM = 256;

/** "Max open files" from /proc/self/limits, or null where /proc is missing. */
export function readFdLimits(limitsText?: string): FdLimits | null {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return null;
    }
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('Max open files')) continue;
    const parts = line.slice('Max open files'.length).trim().split(/\s+/);
    const num = (s: string | undefined) => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
    const soft = num(parts[0]);
    const hard = num(parts[1]);
    if (Number.isNaN(soft) || Number.isNaN(hard)) return null;
    return { soft, hard };
  }
  return null;
}

export interface FdCheck {
  ok: boolean;
  needed: number;
  /** What to tell the operator when not ok. */
  message: string;
}

/** Whether `connections` fit under the soft limit, and if not, the commands that fix it. */
export function checkFdLimit(connections: number, limits: FdLimits | null): FdCheck {
  const needed = connections + FD_HEADROOM;
  if (limits === null) return { ok: true, needed, message: 'file-descriptor limit unknown (no /proc)' };
  if (needed <= limits.soft) return { ok: true, needed, message: `fd limit ${limits.soft} ≥ ${needed}` };
  const fix =
    needed <= limits.hard
      ? `run \`ulimit -n ${needed}\` in this shell first (the hard limit ${limits.hard} allows it)`
      : `the hard limit is ${limits.hard}: raise it as root (\`ulimit -Hn ${needed}\` needs CAP_SYS_RESOURCE; ` +
        `or LimitNOFILE=${needed} in a systemd unit, \`nofile\` in /etc/security/limits.conf, ` +
        `\`docker run --ulimit nofile=${needed}\`), then \`ulimit -n ${needed}\`; ` +
        `or run several simulator processes of at most ${Math.max(0, limits.hard - FD_HEADROOM)} connections each`;
  return {
    ok: false,
    needed,
    message: `${connections} connections need about ${needed} file descriptors but the soft limit is ${limits.soft}: ${fix}`,
  };
}
