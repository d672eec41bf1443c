/**
 * The argv of the private redis-server both broker benches start (run.ts, event-ack.ts):
 * loopback only, AOF with `appendfsync everysec` and no RDB snapshots, as the hub runs
 * it (deploy/local), `noeviction` so a full Redis refuses writes instead of dropping keys.
 */
export function privateRedisArgs(port: number, dir: string): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
  ];
}
