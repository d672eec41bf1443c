import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

/**
 * The service's HTTP surface: liveness, readiness, Prometheus metrics. A plain
 * request handler (main.ts listens); three fixed routes need no framework.
 */
export interface AlertsHttpOptions {
  metrics: Registry;
  /** Null when ready, else a short reason (shown in the 503 body). */
  notReadyReason: () => string | null;
}

export function createAlertsHttpHandler(opts: AlertsHttpOptions) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    switch (req.url) {
      case '/livez':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const reason = opts.notReadyReason();
        if (reason === null) res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
        else res.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: ${reason}\n`);
        return;
      }
      case '/metrics':
        opts.metrics.metrics().then(
          (body) => res.writeHead(200, { 'content-type': opts.metrics.contentType }).end(body),
          (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message),
        );
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };
}
