import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { SseStream } from '../src/sse-stream.js';

/** The parts of ServerResponse SseStream uses; writableLength is set by the test. */
class FakeResponse extends EventEmitter {
  writableLength = 0;
  writableEnded = false;
  destroyed = false;
  written: string[] = [];
  status = 0;
  headers: Record<string, string> = {};
  socket = { setNoDelay: () => undefined };
  writeHead(status: number, headers: Record<string, string>) {
    this.status = status;
    this.headers = headers;
  }
  write(chunk: string) {
    this.written.push(chunk);
    return true;
  }
  end() {
    this.writableEnded = true;
  }
  destroy() {
    this.destroyed = true;
  }
}

function make(maxBufferedBytes = 100) {
  const res = new FakeResponse();
  const ends: string[] = [];
  const stream = new SseStream(res as unknown as ServerResponse, {
    scope: 'station',
    stationId: 's1',
    township: null,
    sessionId: 'session-1',
    maxBufferedBytes,
    onEnd: (_s, reason) => ends.push(reason),
  });
  return { res, stream, ends };
}

describe('SseStream', () => {
  it('writes the event-stream headers and first frames', () => {
    const { res, stream } = make();
    stream.open('retry: 3000\n\n');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(res.written).toEqual(['retry: 3000\n\n']);
  });

  it('drops the client once its queue exceeds the bound, exactly once', () => {
    const { res, stream, ends } = make(100);
    stream.open('');
    expect(stream.send('a')).toBe(true);
    res.writableLength = 101;
    expect(stream.send('b')).toBe(false);
    expect(res.destroyed).toBe(true);
    expect(stream.send('c')).toBe(false);
    res.emit('close');
    expect(ends).toEqual(['slow']);
    expect(res.written).toEqual(['', 'a']);
  });

  it('reports a client that went away and a server-side close', () => {
    const a = make();
    a.res.emit('close');
    expect(a.ends).toEqual(['client_closed']);
    expect(a.stream.isOpen).toBe(false);
    const b = make();
    b.stream.close();
    expect(b.res.writableEnded).toBe(true);
    expect(b.ends).toEqual(['server_closed']);
  });
});
