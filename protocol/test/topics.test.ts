import { describe, expect, it } from 'vitest';
import {
  deviceTopic,
  hasWildcard,
  isOwnDeviceTopic,
  isValidId,
  newParsedTopic,
  parseTopic,
  stationTopic,
} from '../src/topics.js';

describe('topic tree v1', () => {
  it('builds and parses device topics', () => {
    const out = newParsedTopic();
    for (const ch of ['telemetry', 'event', 'status', 'cmd'] as const) {
      expect(parseTopic(deviceTopic('d000001', ch), out)).toBe(true);
      expect(out).toEqual({ scope: 'dev', id: 'd000001', channel: ch });
    }
  });

  it('builds and parses station topics', () => {
    const out = newParsedTopic();
    expect(parseTopic(stationTopic('s01', 'page'), out)).toBe(true);
    expect(out).toEqual({ scope: 'station', id: 's01', channel: 'page' });
    expect(parseTopic(stationTopic('s01', 'reply'), out)).toBe(true);
    expect(out.channel).toBe('reply');
  });

  it.each([
    'v1/dev/d1/telemetryx',
    'v1/dev/d1/',
    'v1/dev//telemetry',
    'v1/dev/d1',
    'v1/dev/+/telemetry',
    'v1/dev/#',
    'v1/dev/d1/telemetry/extra',
    'v2/dev/d1/telemetry',
    '$SYS/broker/uptime',
    'v1/station/s1/cmd',
    'v1/dev/d\u0000/event',
    'v1/dev/dé/event',
    `v1/dev/${'a'.repeat(65)}/event`,
    '',
  ])('rejects %j and resets the output', (topic) => {
    const out = newParsedTopic();
    parseTopic('v1/dev/d1/event', out);
    expect(parseTopic(topic, out)).toBe(false);
    expect(out.scope).toBeNull();
    expect(out.channel).toBeNull();
  });

  it('checks own-topic without being fooled by prefixes', () => {
    expect(isOwnDeviceTopic('v1/dev/d1/event', 'd1', 'event')).toBe(true);
    expect(isOwnDeviceTopic('v1/dev/d12/event', 'd1', 'event')).toBe(false);
    expect(isOwnDeviceTopic('v1/dev/d1/event', 'd12', 'event')).toBe(false);
    expect(isOwnDeviceTopic('v1/dev/d1/telemetry', 'd1', 'event')).toBe(false);
    expect(isOwnDeviceTopic('v1/dev/d1xevent', 'd1', 'event')).toBe(false);
    expect(isOwnDeviceTopic('x1/dev/d1/event', 'd1', 'event')).toBe(false);
  });

  it('validates ids and finds wildcards', () => {
    expect(isValidId('d-01_A')).toBe(true);
    expect(isValidId('')).toBe(false);
    expect(isValidId('a/b')).toBe(false);
    expect(isValidId('a'.repeat(64))).toBe(true);
    expect(isValidId('a'.repeat(65))).toBe(false);
    expect(hasWildcard('v1/dev/+/event')).toBe(true);
    expect(hasWildcard('v1/#')).toBe(true);
    expect(hasWildcard('v1/dev/d1/event')).toBe(false);
  });
});
