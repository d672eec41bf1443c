import http from 'node:http';

export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Reads a server-sent event stream over a real socket (node:http), parsing frames as a
 * browser would; comment lines (heartbeats) are kept apart.
 */
export class SseReader {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  retry: number | null = null;
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  ended = false;
  private buffer = '';
  private req: http.ClientRequest | null = null;
  private res: http.IncomingMessage | null = null;

  static open(url: string, cookie?: string): Promise<SseReader> {
    const r = new SseReader();
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (cookie !== undefined) headers.cookie = cookie;
    return new Promise((resolve, reject) => {
      r.req = http.get(url, { headers }, (res) => {
        r.res = res;
        r.status = res.statusCode ?? 0;
        r.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => r.feed(chunk));
        res.on('end', () => {
          r.ended = true;
        });
        res.on('close', () => {
          r.ended = true;
        });
        resolve(r);
      });
      r.req.on('error', (err) => {
        r.ended = true;
        reject(err);
      });
    });
  }

  of(event: string): unknown[] {
    return this.events.filter((e) => e.event === event).map((e) => JSON.parse(e.data) as unknown);
  }

  /** Stops reading: the server's writes pile up in the socket (a slow client). */
  pause(): void {
    this.res?.pause();
  }

  close(): void {
    this.req?.destroy();
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let end = this.buffer.indexOf('\n\n');
    while (end !== -1) {
      const frame = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
        else if (line.startsWith('retry: ')) this.retry = Number(line.slice(7));
      }
      if (data.length > 0) this.events.push({ event, data: data.join('\n') });
      end = this.buffer.indexOf('\n\n');
    }
  }
}
