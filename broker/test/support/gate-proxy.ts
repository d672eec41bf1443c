import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/**
 * A TCP proxy in front of Redis whose client→Redis direction can be held shut: while
 * the gate is closed, commands reach the proxy (counted in `heldBytes`) but not Redis.
 * It lets a test hold one broker's durable writes without touching the shared Redis
 * (no CLIENT PAUSE, no DEBUG SLEEP), so other engineers' tests are not disturbed.
 */

export class GateProxy {
  private gateOpen = true;
  private held: Array<{ upstream: Socket; chunk: Buffer }> = [];
  private readonly sockets = new Set<Socket>();
  heldBytes = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<GateProxy> {
    let proxy: GateProxy | null = null;
    const server = createServer((client) => {
      const p = proxy as GateProxy;
      const upstream = tcpConnect(targetPort, targetHost);
      p.sockets.add(client);
      p.sockets.add(upstream);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      upstream.pipe(client);
      client.on('data', (chunk: Buffer) => {
        if (p.gateOpen) upstream.write(chunk);
        else {
          p.held.push({ upstream, chunk });
          p.heldBytes += chunk.length;
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    proxy = new GateProxy(server, addr.port);
    return proxy;
  }

  /** Holds every byte sent towards Redis from now on. */
  closeGate(): void {
    this.gateOpen = false;
  }

  /** Forwards what was held, in order, and lets traffic through again. */
  openGate(): void {
    this.gateOpen = true;
    for (const { upstream, chunk } of this.held) if (!upstream.destroyed) upstream.write(chunk);
    this.held = [];
    this.heldBytes = 0;
  }

  /** Drops held bytes (never delivered) and closes everything. */
  async close(): Promise<void> {
    this.held = [];
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port nothing listens on (bound then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}
