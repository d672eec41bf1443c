import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../src/bounded-map.js';
import { type AdmissionConfig, ConnectionAdmission } from '../src/connection-admission.js';
import { LagMonitor } from '../src/lag-monitor.js';
import { LoginBackoff } from '../src/login-backoff.js';
import { newBucket, takeToken } from '../src/token-bucket.js';

/** The pure pre-authentication rules, with time passed in. */
describe('token bucket', () => {
  it('admits a burst, then the refill rate', () => {
    const b = newBucket(3, 0);
    expect([1, 2, 3, 4].map(() => takeToken(b, 2, 3, 0))).toEqual([true, true, true, false]);
    expect(takeToken(b, 2, 3, 400)).toBe(false); // 0.8 token
    expect(takeToken(b, 2, 3, 500)).toBe(true); // 1 token after 500 ms at 2/s
    expect(takeToken(b, 2, 3, 100_000)).toBe(true); // refill capped at the burst
    expect(b.tokens).toBe(2);
  });
});

describe('BoundedMap', () => {
  it('never grows past its cap and forgets the least recently touched entry', () => {
    const m = new BoundedMap<number>(3);
    for (let i = 0; i < 1000; i++) m.set(`k${i}`, i);
    expect(m.size).toBe(3);
    expect(m.evictions).toBe(997);
    m.touch('k997');
    m.set('new', 1);
    expect(m.touch('k997')).toBe(997);
    expect(m.touch('k998')).toBeUndefined();
  });
});

describe('ConnectionAdmission', () => {
  const cfg: AdmissionConfig = {
    maxConnections: 4,
    perAddressRatePerS: 1,
    perAddressBurst: 2,
    globalRatePerS: 10,
    globalBurst: 3,
    maxTrackedAddresses: 2,
  };

  it('limits one address, then the whole broker, then the number of open connections', () => {
    const a = new ConnectionAdmission(cfg, 0);
    expect([a.admit('A', 0), a.admit('A', 0), a.admit('A', 0)]).toEqual([null, null, 'rate_address']);
    expect(a.admit('B', 0)).toBeNull();
    expect(a.admit('C', 0)).toBe('rate_global'); // global burst 3 spent
    expect(a.admit('A', 1000)).toBeNull(); // refilled: 4 open now
    expect(a.admit('B', 5000)).toBe('max_connections');
    a.closed();
    expect(a.admit('B', 5000)).toBeNull();
  });

  it('remembers at most maxTrackedAddresses addresses', () => {
    const a = new ConnectionAdmission(
      { ...cfg, maxConnections: 1e9, globalBurst: 1e9, globalRatePerS: 1e9 },
      0,
    );
    for (let i = 0; i < 500; i++) a.admit(`10.0.${i >> 8}.${i & 255}`, i);
    expect(a.trackedAddresses).toBe(2);
  });
});

describe('LoginBackoff', () => {
  const cfg = { baseMs: 100, maxMs: 1000, forgetAfterMs: 60_000, maxTracked: 8 };

  it('answers the first failure at once, then doubles up to the max', () => {
    const b = new LoginBackoff(cfg);
    const delays = [0, 1, 2, 3, 4, 5, 6].map((t) => b.failed('1.2.3.4', 'dev-1', t));
    expect(delays).toEqual([0, 100, 200, 400, 800, 1000, 1000]);
  });

  it('counts per address and per username: another address guessing the same username is slowed too', () => {
    const b = new LoginBackoff(cfg);
    b.failed('A', 'victim', 0);
    b.failed('A', 'victim', 0);
    expect(b.failed('B', 'victim', 0)).toBe(200); // username count 3
    expect(b.failed('C', 'other', 0)).toBe(0);
  });

  it('a success clears the username but not the address; old failures are forgotten', () => {
    const b = new LoginBackoff(cfg);
    b.failed('A', 'u', 0);
    b.failed('A', 'u', 0);
    b.succeeded('u');
    expect(b.failed('A', 'u', 0)).toBe(200); // address count 3
    expect(b.failed('A', 'u', 60_001 + 0)).toBe(0); // both forgotten after the memory window
  });

  it('memory stays bounded under a stream of new addresses and usernames', () => {
    const b = new LoginBackoff(cfg);
    for (let i = 0; i < 10_000; i++) b.failed(`addr-${i}`, `user-${i}`, i);
    expect(b.tracked).toBe(16);
  });
});

describe('LagMonitor', () => {
  it('turns overloaded on after onSamples samples at onMs, and off only below offMs', () => {
    const m = new LagMonitor({ onMs: 100, offMs: 50, onSamples: 2 });
    const seen = [10, 99, 100, 10, 100, 120, 80, 51, 49, 120, 0].map((lag) => {
      m.sample(lag);
      return m.overloaded;
    });
    expect(seen).toEqual([false, false, false, false, false, true, true, true, false, false, false]);
  });

  it('one lag spike (a GC pause) does not shed with the default of 3 samples', () => {
    const m = new LagMonitor({ onMs: 100, offMs: 50 });
    for (const lag of [5, 400, 5, 300, 300, 5]) m.sample(lag);
    expect(m.overloaded).toBe(false);
    for (const lag of [150, 150, 150]) m.sample(lag);
    expect(m.overloaded).toBe(true);
  });

  it('never sheds when onMs is 0', () => {
    const m = new LagMonitor({ onMs: 0, offMs: 0 });
    m.sample(10_000);
    expect(m.overloaded).toBe(false);
    expect(m.lagMs).toBe(10_000);
  });
});
