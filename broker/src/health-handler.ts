import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

/**
 * Request handler of the broker's small HTTP side (node:http, no framework):
 * GET /metrics (Prometheus text), /livez (200 while the process runs), /readyz (200
 * when the MQTT listener is up and Redis answers PING, else 503). main.ts mounts it
 * on `http.createServer(handler)` and listens.
 */
export interface HealthHandlerOptions {
  metrics: Registry;
  ready: () => Promise<boolean>;
}

export function createHealthHandler(
  opts: HealthHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  function send(res: ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain', 'method not allowed\n');
      return;
    }
    const q = req.url?.indexOf('?') ?? -1;
    const path = q >= 0 ? req.url?.slice(0, q) : req.url;
    switch (path) {
      case '/livez':
        send(res, 200, 'text/plain', 'ok\n');
        return;
      case '/readyz': {
        const ok = await opts.ready();
        send(res, ok ? 200 : 503, 'text/plain', ok ? 'ready\n' : 'not ready\n');
        return;
      }
      case '/metrics':
        send(res, 200, opts.metrics.contentType, await opts.metrics.metrics());
        return;
      default:
        send(res, 404, 'text/plain', 'not found\n');
    }
  }

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain', `error: ${(err as Error).message}\n`);
      else res.destroy();
    });
  };
}
