import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket, WebSocketServer } from 'ws';

/**
 * The optional MQTT over WebSocket listener (MQTT 3.1.1 §6): an HTTP server that only
 * upgrades `GET <path>` with the `mqtt` subprotocol, and hands each WebSocket to aedes
 * as a stream (`aedes.handle(createWebSocketStream(ws), req)`, aedes' documented way),
 * so authentication, authorization, the packet-size cap, the packet guard and the
 * connect timer are the very same code paths as on TCP (create-broker.ts wires them).
 *
 * What the WebSocket layer adds, and bounds here:
 * - admission (connection cap, per-address and global rate) runs on the raw TCP socket
 *   at accept, before any HTTP byte is parsed: the address is the TCP peer of the
 *   upgrade request (`req.socket.remoteAddress`). X-Forwarded-For is not trusted (any
 *   client can write it); behind a proxy every client has the proxy's address;
 * - the HTTP phase (request line and headers, up to the upgrade) is bounded by the
 *   connect timeout (`headersTimeout`/`requestTimeout`); aedes' connect timer starts
 *   at the upgrade, so a client gets at most two connect timeouts before CONNECT;
 * - `maxPayload`: ws buffers a whole message before emitting it (default 100 MiB), so
 *   without it the packet-size cap would only act after the buffering. A message may
 *   carry one whole MQTT packet (fixed header ≤ 5 bytes + the largest allowed
 *   remaining length); a larger message closes the connection (1009);
 * - no permessage-deflate (CPU and memory per connection, and inflate bombs);
 * - text frames close the connection ([MQTT-6.0.0-1]: MQTT data is binary only).
 */

export const WS_SUBPROTOCOL = 'mqtt';

/** Fixed header of an MQTT packet at most: 1 type byte + 4 remaining-length bytes. */
const MAX_FIXED_HEADER_BYTES = 5;

export type WsRefusal = 'ws_not_upgrade' | 'ws_bad_path' | 'ws_bad_subprotocol';

export interface WsListenerOptions {
  path: string;
  /** HUB_MQTT_MAX_PACKET_BYTES: the largest remaining length a packet may declare. */
  maxPacketBytes: number;
  /** Bound on the HTTP phase before the upgrade (the MQTT connect timeout), and on the TLS handshake. */
  handshakeTimeoutMs: number;
  /** PEM certificate chain and key: the listener speaks wss:// (TLS before the HTTP upgrade). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Admission at TCP accept; false = the socket was refused and destroyed. */
  admit(socket: Socket): boolean;
  /** Called once per accepted WebSocket with the MQTT byte stream and the upgrade request. */
  handle(stream: Duplex, req: IncomingMessage): void;
  /** A request that is not a valid MQTT WebSocket upgrade (answered with an HTTP error). */
  onRefused(reason: WsRefusal, detail: string): void;
  /** A WebSocket closed for a protocol error (oversize message, text frame, bad frame). */
  onWsError(err: Error & { code?: string }): void;
  /** A text frame arrived; the connection is closed ([MQTT-6.0.0-1]). */
  onTextFrame(): void;
  onServerError(err: Error): void;
}

export interface WsListener {
  readonly server: Server;
  /**
   * Stops accepting and closes HTTP connections that did not upgrade; resolves when
   * every socket is gone. Open WebSockets are aedes clients: aedes.close() ends them,
   * so call it while this promise is pending.
   */
  close(): Promise<void>;
}

/** Largest WebSocket message accepted for a given MQTT packet cap. */
export function wsMaxPayload(maxPacketBytes: number): number {
  return maxPacketBytes + MAX_FIXED_HEADER_BYTES;
}

/** True when the Sec-WebSocket-Protocol header offers `mqtt` (a comma-separated list). */
export function offersMqtt(header: string | undefined): boolean {
  if (header === undefined) return false;
  for (const p of header.split(',')) if (p.trim() === WS_SUBPROTOCOL) return true;
  return false;
}

/** The request target's path, without a query string. */
function pathOf(url: string | undefined): string {
  if (url === undefined) return '';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function ignoreError(): void {}

/** Answers an upgrade request that is refused, on the raw socket, and closes it. */
function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.on('error', ignoreError);
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }
  // end() flushes the answer; destroy soon after in case the peer never reads it.
  setTimeout(() => socket.destroy(), 1000).unref();
}

export function createWsListener(opts: WsListenerOptions): WsListener {
  // A text frame is not MQTT ([MQTT-6.0.0-1]): close. One listener function for every
  // connection (`this` is the WebSocket): no closure per connection or message.
  function onMessage(this: WebSocket, _data: unknown, isBinary: boolean): void {
    if (isBinary) return;
    opts.onTextFrame();
    this.terminate();
  }

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: wsMaxPayload(opts.maxPacketBytes),
    perMessageDeflate: false,
    // aedes tracks its clients; ws' own set would be a second table to keep in step.
    clientTracking: false,
    // Only reached when the client offers `mqtt` (checked before handleUpgrade).
    handleProtocols: () => WS_SUBPROTOCOL,
  });

  const httpOptions = {
    // No HTTP request may linger before the upgrade longer than a CONNECT may.
    headersTimeout: opts.handshakeTimeoutMs,
    requestTimeout: opts.handshakeTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, opts.handshakeTimeoutMs),
    keepAliveTimeout: 1000,
    noDelay: true,
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    opts.onRefused('ws_not_upgrade', `${req.method ?? '?'} ${pathOf(req.url)}`);
    res.writeHead(426, { Connection: 'close', Upgrade: 'websocket', 'Content-Length': '0' });
    res.end();
  };
  // wss://: an https server is an http server after its TLS handshake, with the same
  // 'connection' (raw TCP, before the handshake: admission), 'upgrade' and timeouts.
  const server: Server =
    opts.tls === undefined
      ? createServer(httpOptions, onRequest)
      : createHttpsServer(
          {
            ...httpOptions,
            cert: opts.tls.cert,
            key: opts.tls.key,
            handshakeTimeout: opts.handshakeTimeoutMs,
          },
          onRequest,
        );

  // headersTimeout only covers a request that has begun: a connection that never sends
  // a byte is closed by the idle timeout (no 'timeout' listener: Node destroys the
  // socket). ws resets it to 0 on the upgraded socket (WebSocket.setSocket), so it
  // never cuts an MQTT connection; aedes' keep-alive covers those.
  server.setTimeout(opts.handshakeTimeoutMs);

  // The raw TCP socket, before any HTTP parsing: admission here (as the TLS listener
  // does before its handshake).
  server.on('connection', (socket: Socket) => {
    opts.admit(socket);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (pathOf(req.url) !== opts.path) {
      opts.onRefused('ws_bad_path', pathOf(req.url).slice(0, 80));
      refuseUpgrade(socket, 404, 'Not Found');
      return;
    }
    if (!offersMqtt(req.headers['sec-websocket-protocol'])) {
      opts.onRefused('ws_bad_subprotocol', String(req.headers['sec-websocket-protocol'] ?? '').slice(0, 80));
      refuseUpgrade(socket, 400, 'Bad Request');
      return;
    }
    // handleUpgrade answers a malformed handshake (version, key) itself with 400.
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', onMessage);
      ws.on('error', opts.onWsError);
      opts.handle(createWebSocketStream(ws), req);
    });
  });

  server.on('clientError', (err: Error, socket: Duplex) => {
    // Bad HTTP or the headers timeout: answer if still possible, always close.
    refuseUpgrade(
      socket,
      (err as { code?: string }).code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400,
      'Bad Request',
    );
  });
  server.on('error', opts.onServerError);

  function close(): Promise<void> {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // HTTP connections that never upgraded (keep-alive, slow headers) would hold close().
    server.closeAllConnections();
    wss.close();
    return closed;
  }

  return { server, close };
}
