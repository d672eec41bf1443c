import { describe, expect, it } from 'vitest';
import { SseParser } from '../src/dashboard-live-source.js';

describe('SseParser', () => {
  it('splits frames across chunks, skips comments, joins multi-line data, bounds its buffer', () => {
    const got: Array<[string, string]> = [];
    const p = new SseParser((e, d) => got.push([e, d]), 64);
    expect(p.push(': hb\n\nevent: page\ndata: {"a"')).toBe(true);
    expect(got).toEqual([]);
    expect(p.push(':1}\n\nevent: hello\ndata: x\ndata: y\n\ndata: plain\n\n')).toBe(true);
    expect(got).toEqual([
      ['page', '{"a":1}'],
      ['hello', 'x\ny'],
      ['message', 'plain'],
    ]);
    expect(p.push('data: ' + 'z'.repeat(100))).toBe(false);
    expect(p.push('event: page\ndata: ok\n\n')).toBe(true);
    expect(got.at(-1)).toEqual(['page', 'ok']);
  });
});
