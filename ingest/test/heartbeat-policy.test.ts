import { describe, expect, it } from 'vitest';
import {
  allowedSilenceMs,
  decideDue,
  HeartbeatPolicy,
  LastSeenBatch,
  localDate,
  parseHeartbeatConfig,
} from '../src/heartbeat-policy.js';

const H = 3_600_000;

describe('heartbeat policy (pure)', () => {
  it('defaults per kind: NB-IoT smoke 24 h × 1.5, electric 60 s × 3, charger 30 s × 3', () => {
    const cfg = parseHeartbeatConfig('');
    expect(allowedSilenceMs(cfg, 'any', 'smoke')).toBe(36 * H);
    expect(allowedSilenceMs(cfg, 'any', 'electric')).toBe(180_000);
    expect(allowedSilenceMs(cfg, 'any', 'charger')).toBe(90_000);
  });

  it('a model overrides its kind; its grace falls back to the kind, then the global grace', () => {
    const cfg = parseHeartbeatConfig(
      JSON.stringify({
        grace: 4,
        kinds: {
          smoke: { intervalMs: 24 * H },
          electric: { intervalMs: 60_000, grace: 3 },
          charger: { intervalMs: 30_000 },
        },
        models: { 'NB-12H': { intervalMs: 12 * H }, 'EM-X': { intervalMs: 10_000, grace: 2 } },
      }),
    );
    expect(allowedSilenceMs(cfg, 'NB-12H', 'smoke')).toBe(48 * H); // 12 h × global 4 (smoke kind has no grace)
    expect(allowedSilenceMs(cfg, 'EM-X', 'electric')).toBe(20_000);
    expect(allowedSilenceMs(cfg, 'other', 'electric')).toBe(180_000);
    expect(allowedSilenceMs(cfg, 'other', 'charger')).toBe(120_000);
  });

  it('rejects bad config (interval under 1 s, grace under 1, not JSON)', () => {
    expect(() => parseHeartbeatConfig('{"models":{"x":{"intervalMs":10}}}')).toThrow();
    expect(() => parseHeartbeatConfig('{"grace":0.5}')).toThrow();
    expect(() => parseHeartbeatConfig('{')).toThrow(SyntaxError);
  });

  it('deadline = last report + allowed silence (fake clock)', () => {
    const p = new HeartbeatPolicy(parseHeartbeatConfig(''));
    const t0 = 1_700_000_000_000;
    expect(p.deadline(t0, 'm', 'charger')).toBe(t0 + 90_000);
    expect(p.deadline(t0 + 5, 'm', 'charger')).toBe(t0 + 90_005);
  });

  it('LastSeenBatch keeps the newest report per device, take() starts a new batch, full at its bound', () => {
    const b = new LastSeenBatch(2);
    b.seen('a', 10);
    b.seen('a', 5); // older report arriving late
    b.seen('b', 7);
    expect(b.full).toBe(true);
    const m = b.take();
    expect([...m]).toEqual([
      ['a', 10],
      ['b', 7],
    ]);
    expect(b.size).toBe(0);
  });

  it('local day in China time (UTC+8): 16:30 UTC is already the next day', () => {
    expect(localDate(Date.UTC(2026, 11, 1, 15, 59), 480)).toBe('2026-12-01');
    expect(localDate(Date.UTC(2026, 11, 1, 16, 30), 480)).toBe('2026-12-02');
  });

  it('a due device: silent, re-armed when in maintenance, forgotten when unregistered', () => {
    const p = new HeartbeatPolicy(parseHeartbeatConfig(''));
    const now = 1_000_000;
    expect(decideDue({ maintenance: false, model: 'm', kind: 'smoke' }, now, p)).toEqual({ kind: 'silent' });
    expect(decideDue({ maintenance: true, model: 'm', kind: 'electric' }, now, p)).toEqual({
      kind: 'rearm',
      at: now + 180_000,
    });
    expect(decideDue(undefined, now, p)).toEqual({ kind: 'forget' });
  });
});
