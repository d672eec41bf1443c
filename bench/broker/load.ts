import { type Socket, connect as tcpConnect } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

/**
 * The load generator shared by both brokers: raw MQTT 3.1.1 over net.Socket
 * (mqtt-packet), TCP_NODELAY on, one socket per device. Nothing here knows which
 * broker it talks to, so both get exactly the same bytes.
 */

export interface Credentials {
  clientId: string;
  username?: string;
  password?: string;
}

export class Conn {
  readonly socket: Socket;
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  connacked = false;
  closed = false;
  inflight = 0;
  private nextId = 1;
  onPacket: ((p: Packet) => void) | null = null;

  constructor(
    port: number,
    readonly creds: Credentials,
  ) {
    this.socket = tcpConnect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (b) => this.parser.parse(b));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closed = true;
    });
    this.parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connack') this.connacked = (p as { returnCode?: number }).returnCode === 0;
      this.onPacket?.(p);
    });
  }

  async connect(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepalive: 0,
        clientId: this.creds.clientId,
        ...(this.creds.username !== undefined ? { username: this.creds.username } : {}),
        ...(this.creds.password !== undefined ? { password: Buffer.from(this.creds.password) } : {}),
      }),
    );
    const deadline = Date.now() + 30_000;
    while (!this.connacked) {
      if (this.closed || Date.now() > deadline)
        throw new Error(`CONNECT refused or timed out: ${this.creds.clientId}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  msgId(): number {
    const id = this.nextId;
    this.nextId = id === 65535 ? 1 : id + 1;
    return id;
  }

  publish(topic: string, payload: string, qos: 0 | 1): void {
    if (this.closed) return;
    if (qos === 1) this.inflight++;
    this.socket.write(
      mqttPacket.generate({
        cmd: 'publish',
        topic,
        payload,
        qos,
        retain: false,
        dup: false,
        ...(qos === 1 ? { messageId: this.msgId() } : {}),
      }),
    );
  }

  /** A QoS 1 publish with a message id from `msgId()` the caller keeps (the probe times by it). */
  publishWithId(topic: string, payload: string, qos: 1, messageId: number): void {
    if (this.closed) return;
    this.inflight++;
    this.socket.write(
      mqttPacket.generate({ cmd: 'publish', topic, payload, qos, retain: false, dup: false, messageId }),
    );
  }

  /**
   * Pre-encoded frames, written as they are (the open-loop telemetry phases); false,
   * and nothing written, while more than `maxQueued` bytes wait in this socket: like a
   * device with a small buffer, the generator drops readings the broker does not take
   * instead of queueing them for the next phase.
   */
  writeRaw(frames: Buffer, maxQueued = 64 * 1024): boolean {
    if (this.closed || this.socket.writableLength > maxQueued) return false;
    this.socket.write(frames);
    return true;
  }

  /** Bytes written but not yet taken by the kernel. */
  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  subscribe(topic: string, qos: 0 | 1): void {
    this.socket.write(
      mqttPacket.generate({ cmd: 'subscribe', messageId: this.msgId(), subscriptions: [{ topic, qos }] }),
    );
  }

  puback(messageId: number): void {
    if (!this.closed) this.socket.write(mqttPacket.generate({ cmd: 'puback', messageId }));
  }

  end(): void {
    this.socket.destroy();
  }
}

/** Opens connections `batch` at a time (a connect storm of 1,000 is itself a test). */
export async function connectAll(port: number, creds: Credentials[], batch = 100): Promise<Conn[]> {
  const out: Conn[] = [];
  for (let i = 0; i < creds.length; i += batch) {
    const group = creds.slice(i, i + batch).map((c) => new Conn(port, c));
    await Promise.all(group.map((c) => c.connect()));
    out.push(...group);
  }
  return out;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}
