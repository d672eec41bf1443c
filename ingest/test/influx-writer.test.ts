import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CommunicationObserver,
  HttpError,
  type SendOptions,
  setLogger,
  type Transport,
} from '@influxdata/influxdb-client';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InfluxWriter, type InfluxWriterOptions } from '../src/influx-writer.js';
import { waitFor } from './fixtures.js';

type Reply = 'ok' | 'hold' | 500 | 400;
interface Sent {
  path: string;
  lines: string[];
  callbacks: Partial<CommunicationObserver<Uint8Array>>;
}

/** A transport answering from a script of replies (then 'ok'), recording what was sent. */
class ScriptedTransport implements Transport {
  sent: Sent[] = [];
  held: Sent[] = [];
  constructor(public script: Reply[] = []) {}
  readonly chunkCombiner = undefined as unknown as Transport['chunkCombiner'];
  send(
    path: string,
    body: string,
    _o: SendOptions,
    callbacks: Partial<CommunicationObserver<Uint8Array>> = {},
  ) {
    const s = { path, lines: body.split('\n'), callbacks };
    this.sent.push(s);
    const reply = this.script.shift() ?? 'ok';
    setImmediate(() => {
      if (reply === 'ok') ScriptedTransport.ok(s);
      else if (reply === 'hold') this.held.push(s);
      else
        s.callbacks.error?.(
          new HttpError(reply, reply === 400 ? 'Bad Request' : 'Internal Server Error', '{}'),
        );
    });
  }
  static ok(s: Sent) {
    s.callbacks.responseStarted?.({}, 204);
    s.callbacks.complete?.();
  }
  request(): Promise<unknown> {
    throw new Error('not used');
  }
  iterate(): AsyncIterableIterator<Uint8Array> {
    throw new Error('not used');
  }
}

// The client logs every retry to the console; the writer counts and logs them itself.
beforeAll(() => {
  setLogger({ error: () => undefined, warn: () => undefined });
});

const writers: InfluxWriter[] = [];
function writer(transport: Transport | undefined, over: Partial<InfluxWriterOptions> = {}) {
  const latencies: boolean[] = [];
  const w = new InfluxWriter({
    url: 'http://127.0.0.1:1',
    database: 'db 1',
    auth: { type: 'none' },
    batchSize: 3,
    flushIntervalMs: 1000,
    maxBufferedLines: 10,
    minRetryDelayMs: 5,
    maxRetryDelayMs: 10,
    transport,
    observeWriteLatency: (_s, ok) => latencies.push(ok),
    ...over,
  });
  writers.push(w);
  return { w, latencies };
}

afterEach(async () => {
  for (const w of writers.splice(0)) await w.close(100);
});

const L = (n: number, tag = 'x') => Array.from({ length: n }, (_, i) => `m,t=${tag} f=${i} ${1000 + i}`);

describe('InfluxWriter (scripted transport)', () => {
  it('sends full batches to the v1 /write path with ms precision and counts acknowledged lines', async () => {
    const t = new ScriptedTransport();
    const { w, latencies } = writer(t);
    const lines = L(6);
    expect(w.write(lines, 6)).toBe(true);
    await waitFor(() => (w.stats.written === 6 ? true : undefined));
    expect(t.sent.map((s) => s.path)).toEqual([
      '/write?db=db%201&precision=ms',
      '/write?db=db%201&precision=ms',
    ]);
    expect(t.sent.flatMap((s) => s.lines)).toEqual(lines);
    expect(w.stats).toMatchObject({ accepted: 6, written: 6, failed: 0, requests: 2, requestsOk: 2 });
    expect(w.pending).toBe(0);
    expect(latencies).toEqual([true, true]);
  });

  it('with `spill`, hands a 5xx batch over at once (no in-memory retry) and a 400 batch counts as failed', async () => {
    const t = new ScriptedTransport([500, 400]);
    const spilled: string[][] = [];
    const { w } = writer(t, { spill: (lines) => spilled.push(lines) });
    const lines = L(6);
    w.write(lines, 6);
    await waitFor(() => (w.pending === 0 ? true : undefined));
    expect(t.sent.length).toBe(2); // nothing retried
    expect(spilled).toEqual([lines.slice(0, 3)]);
    expect(w.stats).toMatchObject({ accepted: 6, spilled: 3, failed: 3, written: 0 });
  });

  it('writes only the first `count` lines of a reused array', async () => {
    const t = new ScriptedTransport();
    const { w } = writer(t);
    const scratch = L(3);
    w.write(scratch, 1);
    expect(await w.drain(5000)).toBe(true);
    expect(t.sent.flatMap((s) => s.lines)).toEqual([scratch[0]]);
  });

  it('retries a 500 and counts the lines once as written', async () => {
    const t = new ScriptedTransport([500, 500]);
    const { w, latencies } = writer(t);
    w.write(L(3), 3);
    await waitFor(() => (w.stats.written === 3 ? true : undefined));
    expect(w.stats).toMatchObject({ written: 3, failed: 0, requests: 3, requestsFailed: 2, requestsOk: 1 });
    expect(latencies).toEqual([false, false, true]);
    expect(w.pending).toBe(0);
  });

  it('does not retry a 400 (bad lines): counted as failed, nothing pending', async () => {
    const t = new ScriptedTransport([400]);
    const { w } = writer(t);
    w.write(L(3), 3);
    await waitFor(() => (w.stats.failed === 3 ? true : undefined));
    expect(t.sent).toHaveLength(1);
    expect(w.stats.written).toBe(0);
    expect(w.pending).toBe(0);
  });

  it('gives up after maxRetries and counts the batch as failed', async () => {
    const t = new ScriptedTransport([500, 500, 500]);
    const { w } = writer(t, { maxRetries: 2 });
    w.write(L(3), 3);
    await waitFor(() => (w.stats.failed === 3 ? true : undefined));
    expect(t.sent).toHaveLength(3);
    expect(w.pending).toBe(0);
  });

  it('drops (all-or-nothing) and counts new lines when pending would exceed maxBufferedLines', async () => {
    const t = new ScriptedTransport(['hold', 'hold', 'hold']);
    const { w } = writer(t, { maxBufferedLines: 7 });
    expect(w.write(L(3), 3)).toBe(true);
    expect(w.write(L(3), 3)).toBe(true);
    expect(w.write(L(2), 2)).toBe(false);
    expect(w.write(L(1), 1)).toBe(true);
    expect(w.stats).toMatchObject({ accepted: 7, droppedBufferFull: 2 });
    expect(w.pending).toBe(7);
    await waitFor(() => (t.held.length === 2 ? true : undefined));
    for (const s of t.held.splice(0)) ScriptedTransport.ok(s);
    await waitFor(() => (w.stats.written === 6 ? true : undefined));
    expect(w.write(L(3), 3)).toBe(true);
  });

  it('drain() waits for batches already in flight (what flush()/close() of the client do not do)', async () => {
    const t = new ScriptedTransport(['hold', 'hold']);
    const { w } = writer(t);
    w.write(L(5), 5); // one full batch in flight, two lines batched
    let drained: boolean | undefined;
    const d = w.drain(20_000).then((v) => {
      drained = v;
    });
    await waitFor(() => (t.held.length === 2 ? true : undefined));
    expect(drained).toBeUndefined();
    ScriptedTransport.ok(t.held[1]!);
    await waitFor(() => (w.stats.written === 2 ? true : undefined));
    expect(drained).toBeUndefined();
    ScriptedTransport.ok(t.held[0]!);
    await d;
    expect(drained).toBe(true);
    expect(w.stats.written).toBe(5);
  });

  it('close() gives up after its bound, counts what is lost and refuses new lines', async () => {
    const t = new ScriptedTransport(['hold']);
    const { w } = writer(t);
    w.write(L(2), 2);
    const r = await w.close(50);
    expect(r).toEqual({ drained: false, lost: 2 });
    expect(w.stats.shutdownLost).toBe(2);
    expect(w.write(L(1), 1)).toBe(false);
    expect(w.stats.droppedClosed).toBe(1);
    expect(w.pending).toBe(0);
  });

  it('refuses a flush interval above 1 s', () => {
    expect(() => writer(new ScriptedTransport(), { flushIntervalMs: 60_000 })).toThrow(RangeError);
  });
});

describe('InfluxWriter (default HTTP transport)', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  async function capture(): Promise<{ url: string; requests: Array<{ url: string; auth?: string }> }> {
    const requests: Array<{ url: string; auth?: string }> = [];
    server = createServer((req: IncomingMessage, res) => {
      req.resume();
      req.on('end', () => {
        requests.push({ url: req.url ?? '', auth: req.headers.authorization });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
  }

  it('uses Basic auth for username/password (1.x) and never a Token header', async () => {
    const { url, requests } = await capture();
    const { w } = writer(undefined, {
      url,
      database: 'hub',
      auth: { type: 'basic', username: 'u', password: 'p:w' },
    });
    w.write(L(1), 1);
    expect(await w.drain(10_000)).toBe(true);
    expect(requests).toEqual([
      { url: '/write?db=hub&precision=ms', auth: 'Basic ' + Buffer.from('u:p:w').toString('base64') },
    ]);
  });

  it('uses a Token header when configured for 2.x/3.x', async () => {
    const { url, requests } = await capture();
    const { w } = writer(undefined, { url, database: 'hub', auth: { type: 'token', token: 'tok' } });
    w.write(L(1), 1);
    expect(await w.drain(10_000)).toBe(true);
    expect(requests[0]?.auth).toBe('Token tok');
  });
});
