import { BoundedMap } from './bounded-map.js';
import { type BucketState, newBucket, takeToken } from './token-bucket.js';

/**
 * Which TCP connections the broker accepts, decided at accept time, before a single
 * MQTT byte is parsed or any credential checked (pure: time is passed in).
 *
 * - a cap on open connections (each costs a socket, a parser, a client object);
 * - a global connection-rate token bucket: a reconnect storm after a power cut or a
 *   flood from many addresses cannot take every CPU cycle for TLS/CONNECT handling;
 * - a per-source-address token bucket: one address cannot use the whole global budget,
 *   so devices elsewhere still get in. The table of addresses is capped
 *   (BoundedMap): an attacker with many addresses can only make it forget.
 *
 * A refused socket is closed at once without a CONNACK (there is no CONNECT to answer).
 */

export type AdmissionRefusal = 'max_connections' | 'rate_address' | 'rate_global';

export interface AdmissionConfig {
  maxConnections: number;
  perAddressRatePerS: number;
  perAddressBurst: number;
  globalRatePerS: number;
  globalBurst: number;
  /** Most source addresses remembered at once. */
  maxTrackedAddresses: number;
}

export class ConnectionAdmission {
  private readonly global: BucketState;
  private readonly perAddress: BoundedMap<BucketState>;
  /** Connections admitted and not yet closed. */
  open = 0;

  constructor(
    private readonly cfg: Readonly<AdmissionConfig>,
    now: number,
  ) {
    this.global = newBucket(cfg.globalBurst, now);
    this.perAddress = new BoundedMap(cfg.maxTrackedAddresses);
  }

  get trackedAddresses(): number {
    return this.perAddress.size;
  }

  /** null when admitted (then `open` counts it until `closed()`), else why not. */
  admit(address: string, now: number): AdmissionRefusal | null {
    const c = this.cfg;
    if (this.open >= c.maxConnections) return 'max_connections';
    let bucket = this.perAddress.touch(address);
    if (bucket === undefined) {
      bucket = newBucket(c.perAddressBurst, now);
      this.perAddress.set(address, bucket);
    }
    // Per address first: a flooding address spends its own tokens, not the global ones.
    if (!takeToken(bucket, c.perAddressRatePerS, c.perAddressBurst, now)) return 'rate_address';
    if (!takeToken(this.global, c.globalRatePerS, c.globalBurst, now)) return 'rate_global';
    this.open++;
    return null;
  }

  closed(): void {
    if (this.open > 0) this.open--;
  }
}
