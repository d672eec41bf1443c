import { pageMessageSchema } from '@hub/protocol';
import { type Clock, systemClock } from './clock.js';
import type { PageHandler, ReceivedPage } from './station-listener.js';

/**
 * Receives pages as the dashboard's consoles do: the server-sent event stream
 * (`GET /api/live`, events `page` with data `{type:'page', page}`; see
 * dashboard/src/live-routes.ts). Optional: the stream needs a logged-in session, so
 * the caller passes the session's headers (cookie or authorization); a 401/403 is
 * reported as `unauthorized` instead of failing the run: paging over MQTT is still
 * measured.
 */
export type DashboardSourceState = 'off' | 'connecting' | 'connected' | 'unauthorized' | 'failed' | 'closed';

export interface DashboardSourceStats {
  url: string;
  state: DashboardSourceState;
  /** HTTP status or error of the last attempt. */
  detail: string | null;
  pagesSeen: number;
  invalidEvents: number;
}

export interface DashboardSourceOptions {
  /** Full URL of the stream, e.g. http://127.0.0.1:18080/api/live */
  url: string;
  headers?: Record<string, string>;
  clock?: Clock;
  /** Deadline for the response headers (default 5 s). */
  connectTimeoutMs?: number;
}

/** Parses an SSE byte stream into (event, data) pairs; keeps a partial frame between chunks (bounded). */
export class SseParser {
  private buf = '';
  constructor(
    private readonly onEvent: (event: string, data: string) => void,
    private readonly maxBuffer = 1 << 20,
  ) {}

  push(text: string): boolean {
    this.buf += text;
    for (;;) {
      const end = this.buf.indexOf('\n\n');
      if (end < 0) {
        // Only an unfinished frame is left: bound it (a stream that never ends a frame).
        if (this.buf.length > this.maxBuffer) {
          this.buf = '';
          return false;
        }
        return true;
      }
      const frame = this.buf.slice(0, end);
      this.buf = this.buf.slice(end + 2);
      let event = 'message';
      let data = '';
      for (const line of frame.split('\n')) {
        if (line.startsWith(':')) continue;
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:'))
          data += (data === '' ? '' : '\n') + line.slice(5).replace(/^ /, '');
      }
      if (data !== '') this.onEvent(event, data);
    }
  }
}

export class DashboardLiveSource {
  private readonly handlers: PageHandler[] = [];
  private readonly clock: Clock;
  private readonly abort = new AbortController();
  private readonly s: DashboardSourceStats;
  private readonly seen = new Set<string>();

  constructor(private readonly opts: DashboardSourceOptions) {
    this.clock = opts.clock ?? systemClock;
    this.s = { url: opts.url, state: 'off', detail: null, pagesSeen: 0, invalidEvents: 0 };
  }

  onPage(h: PageHandler): void {
    this.handlers.push(h);
  }

  stats(): DashboardSourceStats {
    return { ...this.s };
  }

  /** Opens the stream; resolves once it is open or refused (never rejects). */
  async start(): Promise<void> {
    this.s.state = 'connecting';
    const timer = setTimeout(() => this.abort.abort(), this.opts.connectTimeoutMs ?? 5_000);
    let res: Response;
    try {
      res = await fetch(this.opts.url, {
        headers: { accept: 'text/event-stream', ...this.opts.headers },
        signal: this.abort.signal,
      });
    } catch (err) {
      clearTimeout(timer);
      this.s.state = 'failed';
      this.s.detail = (err as Error).message;
      return;
    }
    clearTimeout(timer);
    if (res.status === 401 || res.status === 403) {
      this.s.state = 'unauthorized';
      this.s.detail = `HTTP ${res.status}: the live stream needs a logged-in session (pass --dashboard-cookie)`;
      await res.body?.cancel();
      return;
    }
    if (!res.ok || res.body === null) {
      this.s.state = 'failed';
      this.s.detail = `HTTP ${res.status}`;
      await res.body?.cancel();
      return;
    }
    this.s.state = 'connected';
    this.s.detail = `HTTP ${res.status}`;
    void this.read(res.body);
  }

  stop(): void {
    this.abort.abort();
    if (this.s.state === 'connected') this.s.state = 'closed';
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    const parser = new SseParser((event, data) => this.onEvent(event, data));
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        if (!parser.push(decoder.decode(chunk, { stream: true }))) this.s.invalidEvents++;
      }
    } catch {
      // Aborted on stop, or the server went away: the state says so.
    }
    if (this.s.state === 'connected') this.s.state = 'closed';
  }

  private onEvent(event: string, data: string): void {
    if (event !== 'page') return;
    const receivedAt = this.clock();
    let json: { page?: unknown };
    try {
      json = JSON.parse(data) as { page?: unknown };
    } catch {
      this.s.invalidEvents++;
      return;
    }
    const parsed = pageMessageSchema.safeParse(json.page);
    if (!parsed.success) {
      this.s.invalidEvents++;
      return;
    }
    this.s.pagesSeen++;
    const page = parsed.data;
    const duplicate = this.seen.has(page.pageId);
    this.seen.add(page.pageId);
    const rec: ReceivedPage = { topicStationId: page.stationId, page, receivedAt, duplicate };
    for (const h of this.handlers) {
      try {
        h(rec);
      } catch {
        // One failing consumer must not stop the others.
      }
    }
  }
}
