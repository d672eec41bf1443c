import type { ServerResponse } from 'node:http';

export type StreamScope = 'station' | 'township';
export type DropReason = 'slow' | 'write_error';

export interface SseStreamOptions {
  scope: StreamScope;
  /** Station the stream is for; null for the township stream. */
  stationId: string | null;
  /** Township a township-scope stream is limited to; null = every township (admin). */
  township: string | null;
  /** Session that opened the stream: revoking the session ends the stream. */
  sessionId: string;
  /**
   * Bound of this client's queue: bytes Node may hold for the socket before we give up
   * on the client. A console that cannot keep up is dropped (its EventSource
   * reconnects and reloads state over REST) instead of growing memory without limit.
   */
  maxBufferedBytes: number;
  /** Called once when the stream ends for any reason (client gone, dropped, shutdown). */
  onEnd: (stream: SseStream, reason: DropReason | 'client_closed' | 'server_closed') => void;
}

/**
 * One server-sent-events response, written by hand on the raw Node response (the
 * route hijacks the reply, so fastify's serializers and inject() are not involved).
 * Frames are built once per message by the caller and written as they are.
 */
export class SseStream {
  readonly scope: StreamScope;
  readonly stationId: string | null;
  readonly township: string | null;
  readonly sessionId: string;
  private ended = false;
  private readonly maxBufferedBytes: number;
  private readonly onEnd: SseStreamOptions['onEnd'];

  constructor(
    private readonly res: ServerResponse,
    opts: SseStreamOptions,
  ) {
    this.scope = opts.scope;
    this.stationId = opts.stationId;
    this.township = opts.township;
    this.sessionId = opts.sessionId;
    this.maxBufferedBytes = opts.maxBufferedBytes;
    this.onEnd = opts.onEnd;
    res.on('close', this.handleClose);
    res.on('error', this.handleError);
  }

  /** Sends the status line, headers and the first frames (retry hint, hello). */
  open(firstFrames: string): void {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Reverse proxies (nginx) must not buffer a live stream.
      'x-accel-buffering': 'no',
    });
    this.res.socket?.setNoDelay(true);
    this.res.write(firstFrames);
  }

  get isOpen(): boolean {
    return !this.ended;
  }

  /** Writes one frame; returns false when the stream is closed or was just dropped. */
  send(frame: string): boolean {
    if (this.ended) return false;
    // writableLength counts bytes Node still holds for the socket: the client's queue.
    // The bound is checked before the write, so it may be exceeded by one frame.
    if (this.res.writableLength > this.maxBufferedBytes) {
      this.finish('slow');
      return false;
    }
    this.res.write(frame);
    return true;
  }

  /** Ends the stream from the server side (shutdown). */
  close(): void {
    this.finish('server_closed');
  }

  private finish(reason: DropReason | 'client_closed' | 'server_closed'): void {
    if (this.ended) return;
    this.ended = true;
    if (reason === 'slow' || reason === 'write_error') {
      // A slow client's socket is full: end() would queue behind the backlog.
      this.res.destroy();
    } else if (!this.res.writableEnded) {
      this.res.end();
    }
    this.onEnd(this, reason);
  }

  private readonly handleClose = (): void => {
    this.finish('client_closed');
  };

  private readonly handleError = (): void => {
    this.finish('write_error');
  };
}
