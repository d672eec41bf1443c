import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private InfluxDB 1.x (Debian's influxd) for tests that stop and start it: its
 * own folder, config and loopback ports, never the shared test server. HTTP on
 * `port`, RPC on `port + 1`. Data survives stop()/start() (same folder).
 *
 * The config repeats part of deploy/local/services.sh's influx_conf on purpose: these
 * tests stop and restart InfluxDB alone mid-run, and services.sh only has up/down for
 * Redis and InfluxDB together (plus its watchdog), so each outage would also restart
 * a private redis-server on yet another port nobody here uses.
 */
export class PrivateInflux {
  readonly dir: string;
  readonly url: string;
  private proc: ChildProcess | null = null;
  private exited: Promise<void> | null = null;

  constructor(readonly port: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'ingest-influx-'));
    this.url = `http://127.0.0.1:${port}`;
    for (const d of ['meta', 'data', 'wal']) mkdirSync(join(this.dir, d));
    writeFileSync(
      join(this.dir, 'influxdb.conf'),
      `reporting-disabled = true
bind-address = "127.0.0.1:${port + 1}"
[meta]
  dir = "${this.dir}/meta"
[data]
  dir = "${this.dir}/data"
  wal-dir = "${this.dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  auth-enabled = false
  log-enabled = false
[logging]
  suppress-logo = true
  level = "error"
[continuous_queries]
  run-interval = "1s"
`,
    );
  }

  /** Pid of the running influxd (for CPU sampling in bench/). */
  get pid(): number {
    const pid = this.proc?.pid;
    if (pid === undefined) throw new Error('influxd is not running');
    return pid;
  }

  get running(): boolean {
    return this.proc !== null;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    if (this.proc !== null) return;
    const proc = spawn('influxd', ['-config', join(this.dir, 'influxdb.conf')], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    this.proc = proc;
    this.exited = new Promise((r) => proc.once('exit', () => r()));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const res = await fetch(this.url + '/ping', { signal: AbortSignal.timeout(1000) });
        if (res.status === 204) return;
      } catch {
        // not up yet
      }
      if (this.proc === null || proc.exitCode !== null) throw new Error('influxd exited during start-up');
      if (Date.now() > deadline) throw new Error(`influxd on ${this.port} did not answer /ping`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc === null) return;
    this.proc = null;
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(killer);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async count(db: string, measurement: string): Promise<number> {
    const body = new URLSearchParams({ q: `SELECT count(*) FROM "${measurement}"`, db });
    const res = await fetch(this.url + '/query', { method: 'POST', body });
    const json = (await res.json()) as {
      results?: Array<{ series?: Array<{ values: unknown[][] }> }>;
    };
    const row = json.results?.[0]?.series?.[0]?.values[0];
    if (row === undefined) return 0;
    // count(*) returns one column per field; they are equal for our points. Take the largest.
    let max = 0;
    for (let i = 1; i < row.length; i++) max = Math.max(max, Number(row[i]));
    return max;
  }
}
