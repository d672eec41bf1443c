import { isIP } from 'node:net';

/**
 * The PROXY protocol header (HAProxy's `send-proxy` / `send-proxy-v2`, also spoken by
 * AWS NLB, nginx stream and Envoy), read from the start of a TCP connection that comes
 * from a trusted load balancer. Behind a TCP load balancer every connection comes from
 * the balancer's own address: the per-address connection limits and the login backoff
 * would then treat the whole fleet as one source (one device guessing passwords would
 * slow down every login). The header carries the device's real address.
 *
 * Pure: bytes in, a verdict out. Spec: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
 * - v1: `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n` or `PROXY UNKNOWN…\r\n`, at
 *   most 107 bytes;
 * - v2: a 12-byte signature, version/command, family, a 16-bit length, addresses (and
 *   TLVs, skipped). `LOCAL` (the balancer's own health check) carries no address.
 */

export type ProxyHeader =
  /** More bytes are needed to decide. */
  | { status: 'partial' }
  /** `address` null: no client address (v1 UNKNOWN, v2 LOCAL or a non-IP family). */
  | { status: 'ok'; address: string | null; length: number }
  | { status: 'invalid'; reason: string };

const V1_PREFIX = Buffer.from('PROXY ');
const V1_MAX = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Header plus addresses and TLVs; HAProxy's own bound on what it sends is far lower. */
const V2_MAX = 16 + 1024;

const PARTIAL: ProxyHeader = { status: 'partial' };

function invalid(reason: string): ProxyHeader {
  return { status: 'invalid', reason };
}

/** Whether `buf` (shorter than `sig`) could still become `sig`. */
function prefixOf(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  return buf.subarray(0, n).equals(sig.subarray(0, n));
}

export function parseProxyHeader(buf: Buffer): ProxyHeader {
  if (buf.length === 0) return PARTIAL;
  if (buf[0] === 0x0d) return parseV2(buf);
  if (buf[0] === 0x50 /* P */) return parseV1(buf);
  return invalid('no PROXY protocol header');
}

function parseV1(buf: Buffer): ProxyHeader {
  if (buf.length < V1_PREFIX.length) return prefixOf(buf, V1_PREFIX) ? PARTIAL : invalid('not a v1 header');
  if (!prefixOf(buf, V1_PREFIX)) return invalid('not a v1 header');
  const end = buf.indexOf('\r\n');
  if (end < 0) return buf.length >= V1_MAX ? invalid('v1 header longer than 107 bytes') : PARTIAL;
  if (end + 2 > V1_MAX) return invalid('v1 header longer than 107 bytes');
  const parts = buf.toString('latin1', V1_PREFIX.length, end).split(' ');
  const length = end + 2;
  if (parts[0] === 'UNKNOWN') return { status: 'ok', address: null, length };
  if (parts.length !== 5) return invalid('v1 header needs protocol, two addresses and two ports');
  const [proto, src, dst, sport, dport] = parts as [string, string, string, string, string];
  const family = proto === 'TCP4' ? 4 : proto === 'TCP6' ? 6 : 0;
  if (family === 0) return invalid(`v1 protocol ${proto.slice(0, 16)}`);
  if (isIP(src) !== family || isIP(dst) !== family) return invalid('v1 address does not match its protocol');
  if (!isPort(sport) || !isPort(dport)) return invalid('v1 port out of range');
  return { status: 'ok', address: src, length };
}

function isPort(s: string): boolean {
  if (!/^[0-9]{1,5}$/.test(s) || (s.length > 1 && s[0] === '0')) return false;
  return Number(s) <= 65535;
}

function parseV2(buf: Buffer): ProxyHeader {
  if (buf.length < 16) return prefixOf(buf, V2_SIGNATURE) ? PARTIAL : invalid('not a v2 header');
  if (!buf.subarray(0, 12).equals(V2_SIGNATURE)) return invalid('not a v2 header');
  const verCmd = buf[12] as number;
  if (verCmd >> 4 !== 2) return invalid('v2 version is not 2');
  const command = verCmd & 0x0f;
  if (command > 1) return invalid('v2 command is neither LOCAL nor PROXY');
  const family = buf[13] as number;
  const addrLen = buf.readUInt16BE(14);
  const length = 16 + addrLen;
  if (length > V2_MAX) return invalid('v2 header too long');
  if (buf.length < length) return PARTIAL;
  if (command === 0) return { status: 'ok', address: null, length }; // LOCAL
  switch (family) {
    case 0x11: // TCP over IPv4
    case 0x12: // UDP over IPv4
      if (addrLen < 12) return invalid('v2 IPv4 addresses truncated');
      return { status: 'ok', address: `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}`, length };
    case 0x21: // TCP over IPv6
    case 0x22: {
      if (addrLen < 36) return invalid('v2 IPv6 addresses truncated');
      const groups: string[] = [];
      for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(16 + i * 2).toString(16));
      return { status: 'ok', address: compressIpv6(groups), length };
    }
    default:
      return { status: 'ok', address: null, length }; // AF_UNSPEC / unix: no IP
  }
}

/** The canonical short form (the longest run of zero groups as `::`), as Node prints addresses. */
function compressIpv6(groups: string[]): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
