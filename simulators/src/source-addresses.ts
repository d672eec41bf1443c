import { readFileSync } from 'node:fs';

/**
 * Loopback source addresses for many connections toward one broker port. A TCP
 * connection is (source address, source port, destination address, destination
 * port); toward one destination, one source address offers only the ephemeral port
 * range (Linux default 32768–60999: 28,232 ports, at most ~64k if widened). The
 * whole 127.0.0.0/8 is loopback on Linux, so 127.0.0.2, 127.0.0.3, ... each add a
 * full range without any configuration.
 */

export interface PortRange {
  low: number;
  high: number;
}

const DEFAULT_PORT_RANGE: Readonly<PortRange> = Object.freeze({ low: 32768, high: 60999 });

/** The kernel's ephemeral port range, or the Linux default when unreadable. */
export function readEphemeralPortRange(text?: string): PortRange {
  let t = text;
  if (t === undefined) {
    try {
      t = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    } catch {
      return { ...DEFAULT_PORT_RANGE };
    }
  }
  const [a, b] = t.trim().split(/\s+/).map(Number);
  if (a === undefined || b === undefined || !(a > 0) || !(b >= a)) return { ...DEFAULT_PORT_RANGE };
  return { low: a, high: b };
}

/** Connections one source address can safely hold toward one destination (10 % kept free for TIME_WAIT and others). */
function connectionsPerAddress(range: PortRange): number {
  return Math.floor((range.high - range.low + 1) * 0.9);
}

/**
 * Source addresses for `connections`: 127.0.0.2, 127.0.0.3, ... (127.0.0.1 is left
 * to the hub's own clients), at least `min`, as many as the port range needs.
 * Throws past 127.0.0.254 (more than ~6 million connections).
 */
export function planSourceAddresses(connections: number, range: PortRange, min = 1): string[] {
  const per = connectionsPerAddress(range);
  const count = Math.max(min, Math.ceil(connections / Math.max(1, per)));
  if (count > 253)
    throw new RangeError(`${connections} connections need ${count} source addresses (max 253)`);
  const out: string[] = [];
  for (let k = 0; k < count; k++) out.push(`127.0.0.${k + 2}`);
  return out;
}

/** Parses `--source-addresses 127.0.0.2,127.0.0.3` (IPv4 loopback only: load stays on this machine). */
export function parseSourceAddresses(v: string): string[] {
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const a of list) {
    const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
    if (m === null || m.slice(1).some((x) => Number(x) > 255)) {
      throw new RangeError(`"${a}" is not an IPv4 loopback address (127.x.y.z)`);
    }
  }
  if (list.length === 0) throw new RangeError('no source address given');
  return list;
}
