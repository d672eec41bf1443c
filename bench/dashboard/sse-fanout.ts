/**
 * bench/dashboard: live fan-out latency, Redis PUBLISH on the live channel → the
 * incident frame read by every open SSE stream, against the floor of a raw Redis
 * subscriber in the same run.
 *
 *   npx tsx bench/dashboard/sse-fanout.ts [--streams 200,1000] [--messages 100] [--rate 20]
 *
 * What runs (127.0.0.1 only, bounded in time, stops by itself): a private
 * redis-server on port 43479 (no persistence), the dashboard app (buildApp) listening
 * on a free port, N SSE clients (node:http, township scope, one admin session), one
 * raw ioredis subscriber on the same channel, and a publisher. Everything but
 * redis-server shares this process (and its clock), so the numbers include the
 * clients' own parsing: an upper bound of the dashboard's share.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { hubKeys, type Incident } from '@hub/protocol';
import { RegistrySnapshot } from '@hub/registry';
import { Redis } from 'ioredis';
import { AccountStore } from '../../dashboard/src/account-store.js';
import { buildApp } from '../../dashboard/src/build-app.js';
import { dashboardKeys } from '../../dashboard/src/dashboard-keys.js';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '200,1000' },
    messages: { type: 'string', default: '100' },
    rate: { type: 'string', default: '20' },
    port: { type: 'string', default: '43479' },
  },
});
const STREAMS = (values.streams as string).split(',').map(Number);
const MESSAGES = Number(values.messages);
const RATE = Number(values.rate);
const REDIS_PORT = Number(values.port);

function pct(v: number[], q: number): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}

function incident(i: number): Incident {
  const now = Date.now();
  return {
    id: `bench-${i}`,
    lane: 'fire',
    state: 'paging',
    verification: 'unverified',
    buildingId: 'b1',
    township: 'tw1',
    grid: 'g01',
    openedAt: now,
    updatedAt: now,
    deviceIds: ['d000001', 'd000002'],
    firstFloor: 3,
    firstRoom: '301',
    alarmTs: now,
    receivedAt: now,
    step: 1,
    pagedStations: ['s1'],
    stationId: null,
    acceptBy: now + 60_000,
    acceptedAt: null,
    onSceneBy: null,
    onSceneAt: null,
    closedAt: null,
    disposition: null,
    forwarded119At: null,
  };
}

async function main(): Promise<void> {
  const redisProc = spawn(
    'redis-server',
    ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const url = `redis://127.0.0.1:${REDIS_PORT}`;
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: (n) => (n > 50 ? null : 100) });
  redis.on('error', () => undefined); // refused until redis-server is up: retried
  await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  const subscriber = new Redis(url, { maxRetriesPerRequest: null });
  const keys = hubKeys('bench');
  const snapshot = new RegistrySnapshot(
    {
      townships: [{ id: 'tw1', name: '测试镇', lat: 25.83, lon: 114.93, fireOfficePhone: '0797-1190000' }],
      buildings: [
        {
          id: 'b1',
          name: '东坑村1号',
          address: '测试镇东坑村解放路12号',
          lat: 25.83,
          lon: 114.93,
          occupancy: 'rental',
          floors: 4,
          township: 'tw1',
          grid: 'g01',
          contacts: [],
        },
      ],
      devices: [],
      stations: [],
      accounts: [],
    },
    1,
  );
  await new AccountStore(redis, dashboardKeys(keys)).put(
    { username: 'bench-admin', displayName: 'bench', role: 'admin', password: 'bench-password' },
    Date.now(),
  );
  const app = buildApp({
    redis,
    subscriber,
    keys,
    registry: { current: snapshot },
    live: { maxStreams: 5_000 },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const login = await app.inject({
    method: 'POST',
    url: '/api/auth/login',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ username: 'bench-admin', password: 'bench-password' }),
  });
  const cookie = `hub_session=${login.cookies.find((c) => c.name === 'hub_session')?.value}`;
  const publisher = new Redis(url);
  const raw = new Redis(url);

  console.log(
    `bench/dashboard sse-fanout: ${MESSAGES} incident messages at ${RATE}/s per run; machine shared with other engineers`,
  );
  console.log(
    'streams | dashboard publish→last-stream p50 / p99 / max ms | raw Redis subscriber p50 / p99 ms | frames/s | dashboard-process CPU µs per frame',
  );
  for (const n of STREAMS) {
    const sent = new Map<number, number>();
    const lastSeen = new Map<number, number>();
    const seenCount = new Map<number, number>();
    const rawLat: number[] = [];
    const reqs: http.ClientRequest[] = [];
    let frames = 0;
    await new Promise<void>((resolve) => {
      let open = 0;
      for (let k = 0; k < n; k++) {
        const req = http.get(
          {
            host: '127.0.0.1',
            port,
            path: '/api/live',
            headers: { cookie, accept: 'text/event-stream' },
            agent: false,
          },
          (res) => {
            res.setEncoding('utf8');
            let buf = '';
            res.on('data', (chunk: string) => {
              buf += chunk;
              let cut = buf.indexOf('\n\n');
              while (cut >= 0) {
                const frame = buf.slice(0, cut);
                buf = buf.slice(cut + 2);
                if (frame.startsWith('event: hello')) {
                  open++;
                  if (open === n) resolve();
                } else if (frame.startsWith('event: incident')) {
                  const m = /"id":"bench-(\d+)"/.exec(frame);
                  if (m !== null) {
                    const i = Number(m[1]);
                    frames++;
                    lastSeen.set(i, performance.now());
                    seenCount.set(i, (seenCount.get(i) ?? 0) + 1);
                  }
                }
                cut = buf.indexOf('\n\n');
              }
            });
          },
        );
        reqs.push(req);
      }
    });
    raw.removeAllListeners('message');
    raw.on('message', (_c, msg) => {
      const m = /"id":"bench-(\d+)"/.exec(msg);
      if (m !== null) rawLat.push(performance.now() - (sent.get(Number(m[1])) ?? Number.NaN));
    });
    await raw.subscribe(keys.live);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < MESSAGES; i++) {
      const due = t0 + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const msg = JSON.stringify({ type: 'incident', incident: incident(i) });
      sent.set(i, performance.now());
      await publisher.publish(keys.live, msg);
    }
    const deadline = performance.now() + 20_000;
    while (performance.now() < deadline && [...seenCount.values()].filter((c) => c === n).length < MESSAGES) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const lat = [...lastSeen.entries()].map(([i, at]) => at - (sent.get(i) ?? at));
    const complete = [...seenCount.values()].filter((c) => c === n).length;
    console.log(
      `${String(n).padStart(7)} | ${pct(lat, 0.5).toFixed(1)} / ${pct(lat, 0.99).toFixed(1)} / ${Math.max(...lat).toFixed(1)} (complete ${complete}/${MESSAGES}) | ` +
        `${pct(rawLat, 0.5).toFixed(2)} / ${pct(rawLat, 0.99).toFixed(2)} | ${(frames / elapsed).toFixed(0)} | ` +
        `${((cpu.user + cpu.system) / Math.max(frames, 1)).toFixed(1)} (includes the clients' parsing)`,
    );
    await raw.unsubscribe(keys.live);
    for (const r of reqs) r.destroy();
    await new Promise((r) => setTimeout(r, 300));
  }
  await app.close();
  await Promise.allSettled([publisher.quit(), raw.quit(), subscriber.quit(), redis.quit()]);
  redisProc.kill('SIGTERM');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
