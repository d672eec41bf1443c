import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

/**
 * GET /livez, /readyz and /metrics. Built here, listened on in main.ts.
 * /livez: the process answers. /readyz: InfluxDB answered /ping recently and the MQTT
 * subscription is up (a load balancer or supervisor can act on it); the body says which
 * part is missing.
 */
export interface ReadinessCheck {
  influx: boolean;
  mqtt: boolean;
}

export function createHttpHandler(deps: { readiness: () => ReadinessCheck; metrics: Registry }) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const r = deps.readiness();
      const ok = r.influx && r.mqtt;
      res
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ready: ok, ...r }));
      return;
    }
    if (path === '/metrics') {
      deps.metrics.metrics().then(
        (body) => res.writeHead(200, { 'content-type': deps.metrics.contentType }).end(body),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  };
}
