import type { Socket } from 'node:net';
import { parseProxyHeader } from './proxy-protocol.js';

/** The client address a trusted load balancer reported (proxy-protocol.ts), on the socket. */
export interface ProxiedSocket extends Socket {
  hubPeerAddress?: string;
}

/** Longest header read before giving up (a v2 header with TLVs is well under this). */
const MAX_HEADER_BYTES = 1040;

/**
 * Reads the PROXY protocol header a trusted load balancer sends first, then hands the
 * socket on with the bytes after the header put back (`unshift`), so aedes reads the
 * MQTT stream from its first byte. `done(address)` gets the client address, or the
 * balancer's own when the header carries none (its health checks); `done(null, reason)`
 * when the header is missing, invalid or late: the caller closes the socket.
 */
export function readProxyHeader(
  socket: ProxiedSocket,
  timeoutMs: number,
  done: (address: string | null, reason?: string) => void,
): void {
  let buf: Buffer = Buffer.alloc(0);
  let finished = false;
  const finish = (address: string | null, reason?: string, rest?: Buffer): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onClose);
    // On failure the listener stays: the caller destroys the socket, and a late error
    // must not be an unhandled 'error' event.
    if (address !== null) socket.off('error', onError);
    socket.pause();
    if (address !== null && rest !== undefined && rest.length > 0) socket.unshift(rest);
    done(address, reason);
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const h = parseProxyHeader(buf);
    if (h.status === 'partial') {
      if (buf.length > MAX_HEADER_BYTES) finish(null, 'header too long');
      return;
    }
    if (h.status === 'invalid') {
      finish(null, h.reason);
      return;
    }
    const address = h.address ?? socket.remoteAddress ?? 'unknown';
    socket.hubPeerAddress = address;
    finish(address, undefined, buf.subarray(h.length));
  };
  const onClose = (): void => finish(null, 'closed before the header');
  const onError = (): void => finish(null, 'socket error before the header');
  const timer = setTimeout(() => finish(null, 'no header in time'), timeoutMs);
  timer.unref();
  socket.on('data', onData);
  socket.once('close', onClose);
  socket.on('error', onError);
}
