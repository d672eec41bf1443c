/**
 * Reads the MQTT packets a flood device receives (CONNACK, PUBACK, PINGRESP, and
 * anything else, skipped) from raw socket chunks, with the per-connection parse
 * state in typed arrays instead of a parser object per connection: at 100,000
 * connections an mqtt-packet Parser each (a bl buffer list, an EventEmitter, a packet
 * object) costs tens of MB and an allocation per packet. Packets split across TCP
 * chunks are handled: the state survives between `feed` calls.
 *
 * Only the first two body bytes are kept (CONNACK flags/return code, PUBACK packet
 * id): that is all a device needs from what the broker sends it.
 */
export const PACKET = {
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  SUBACK: 9,
  PINGRESP: 13,
} as const;

/** Called once per complete packet: type (upper nibble), body length, first two body bytes (0 if absent). */
export type PacketHandler = (index: number, type: number, length: number, b0: number, b1: number) => void;

/** Largest body accepted from the broker; beyond it the stream is corrupt (`feed` returns false). */
const MAX_BODY = 1 << 20;

export class FrameScanner {
  /** 0 = expect fixed header, 1 = remaining length, 2 = body. */
  private readonly phase: Uint8Array;
  private readonly type: Uint8Array;
  private readonly shift: Uint8Array;
  private readonly len: Int32Array;
  private readonly read: Int32Array;
  private readonly b0: Uint8Array;
  private readonly b1: Uint8Array;

  constructor(capacity: number) {
    this.phase = new Uint8Array(capacity);
    this.type = new Uint8Array(capacity);
    this.shift = new Uint8Array(capacity);
    this.len = new Int32Array(capacity);
    this.read = new Int32Array(capacity);
    this.b0 = new Uint8Array(capacity);
    this.b1 = new Uint8Array(capacity);
  }

  /** Forget a connection's partial packet (new socket). */
  reset(i: number): void {
    this.phase[i] = 0;
  }

  /** Scans one chunk; false when the stream is malformed (caller closes the socket). */
  feed(i: number, chunk: Uint8Array, onPacket: PacketHandler): boolean {
    let phase = this.phase[i] as number;
    let p = 0;
    const n = chunk.length;
    while (p < n) {
      if (phase === 0) {
        this.type[i] = (chunk[p] as number) >> 4;
        this.len[i] = 0;
        this.shift[i] = 0;
        this.read[i] = 0;
        this.b0[i] = 0;
        this.b1[i] = 0;
        phase = 1;
        p++;
      } else if (phase === 1) {
        const c = chunk[p] as number;
        p++;
        const sh = this.shift[i] as number;
        // [MQTT-2.2.3] remaining length: at most 4 bytes of 7 bits.
        if (sh > 21) return false;
        this.len[i] = (this.len[i] as number) + ((c & 0x7f) << sh);
        this.shift[i] = sh + 7;
        if ((c & 0x80) === 0) {
          if ((this.len[i] as number) > MAX_BODY) return false;
          if (this.len[i] === 0) {
            phase = 0;
            onPacket(i, this.type[i] as number, 0, 0, 0);
          } else phase = 2;
        }
      } else {
        const want = (this.len[i] as number) - (this.read[i] as number);
        const take = Math.min(want, n - p);
        const r = this.read[i] as number;
        if (r === 0 && take > 0) this.b0[i] = chunk[p] as number;
        if (r <= 1 && r + take > 1) this.b1[i] = chunk[p + 1 - r] as number;
        this.read[i] = r + take;
        p += take;
        if (take === want) {
          phase = 0;
          onPacket(
            i,
            this.type[i] as number,
            this.len[i] as number,
            this.b0[i] as number,
            this.b1[i] as number,
          );
        }
      }
    }
    this.phase[i] = phase;
    return true;
  }
}
