import { connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { createWebSocketStream, WebSocket } from 'ws';

/**
 * A bare MQTT 3.1.1 client over a socket (mqtt-packet), for tests that must see the
 * exact order of packets the broker sends (PUBACK vs PINGRESP) and know that no
 * PUBACK came before the connection closed. mqtt.js hides both.
 */
export class RawMqtt {
  readonly received: Packet[] = [];
  closed = false;
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });

  /** The WebSocket under the stream, for connections made with `openWs`. */
  ws: WebSocket | null = null;
  /** The WebSocket close code the broker sent (1009: message too large), when closed. */
  wsCloseCode: number | null = null;

  private constructor(private readonly socket: Duplex) {
    this.parser.on('packet', (p: Packet) => this.received.push(p));
    socket.on('data', (buf) => this.parser.parse(buf));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /** A TCP connection with nothing sent yet (`localAddress` picks a loopback source). */
  static async open(port: number, localAddress?: string): Promise<RawMqtt> {
    const socket = tcpConnect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
    socket.setNoDelay(true);
    const c = new RawMqtt(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return c;
  }

  /**
   * An MQTT over WebSocket connection (subprotocol `mqtt` unless told otherwise) with
   * nothing sent yet; rejects when the upgrade is refused.
   */
  static async openWs(url: string, protocols: string[] = ['mqtt'], localAddress?: string): Promise<RawMqtt> {
    const ws = new WebSocket(url, protocols, localAddress ? { localAddress } : {});
    ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)),
      );
    });
    const c = new RawMqtt(createWebSocketStream(ws));
    c.ws = ws;
    // The stream wrapper emits 'close' only when destroyed locally: watch the WebSocket.
    ws.once('close', (code) => {
      c.wsCloseCode = code;
      c.closed = true;
    });
    return c;
  }

  static async connect(port: number, clientId: string, username: string, password: string): Promise<RawMqtt> {
    return RawMqtt.login(await RawMqtt.open(port), clientId, username, password);
  }

  /** `connect` over WebSocket (`url` like ws://127.0.0.1:port/mqtt). */
  static async connectWs(
    url: string,
    clientId: string,
    username: string,
    password: string,
  ): Promise<RawMqtt> {
    return RawMqtt.login(await RawMqtt.openWs(url), clientId, username, password);
  }

  private static async login(
    c: RawMqtt,
    clientId: string,
    username: string,
    password: string,
  ): Promise<RawMqtt> {
    c.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepalive: 0,
      clientId,
      username,
      password: Buffer.from(password),
    });
    await c.waitForPacket('connack');
    const connack = c.received.find((p) => p.cmd === 'connack') as { returnCode?: number };
    if (connack.returnCode !== 0) throw new Error(`CONNACK ${connack.returnCode}`);
    return c;
  }

  /** Writes raw bytes (hand-built frames, see frames.ts). */
  write(buf: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(buf);
  }

  /** The CONNACK return code, or null when the broker closed without sending one. */
  async connackOrClose(timeoutMs = 10_000): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ack = this.received.find((p) => p.cmd === 'connack') as { returnCode?: number } | undefined;
      if (ack !== undefined) return ack.returnCode ?? -1;
      if (this.closed) return null;
      if (Date.now() > deadline) throw new Error('timed out waiting for CONNACK or close');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet));
  }

  publish(topic: string, payload: string, qos: 0 | 1, messageId?: number): void {
    this.send({
      cmd: 'publish',
      topic,
      payload: Buffer.from(payload),
      qos,
      retain: false,
      dup: false,
      messageId,
    });
  }

  has(cmd: Packet['cmd']): boolean {
    return this.received.some((p) => p.cmd === cmd);
  }

  async waitForPacket(cmd: Packet['cmd'], timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.has(cmd)) {
      if (this.closed) throw new Error(`connection closed before ${cmd}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${cmd}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async waitForClose(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the broker to close the connection');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Stops reading from the socket: the broker's writes to it back up (a stuck subscriber). */
  pause(): void {
    this.socket.pause();
  }

  /** Resolves when the socket can take more (false from write means wait for this). */
  writeAndWait(buf: Buffer): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    if (this.socket.write(buf)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('close', done);
        this.socket.off('drain', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  end(): void {
    this.socket.destroy();
  }
}
