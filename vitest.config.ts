import { defineConfig } from 'vitest/config';

// One vitest run over every workspace. Integration tests need the local Redis and
// InfluxDB that deploy/local/run-tests.sh starts; they read their addresses from
// HUB_TEST_REDIS_URL / HUB_TEST_INFLUX_URL (see test-support in registry/).
export default defineConfig({
  test: {
    include: ['*/test/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
