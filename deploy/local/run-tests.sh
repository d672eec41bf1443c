#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (npm packages,
# Debian's redis-server and influxdb), starts a private Redis and InfluxDB on test
# ports bound to 127.0.0.1, runs type checks, lint and every test, and stops the
# services again (a watchdog stops them even if this script is killed).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

bash deploy/local/ensure-node-deps.sh
bash deploy/local/ensure-browser.sh

export HUB_LOCAL_DIR="$root/.local/test"
export HUB_REDIS_PORT="${HUB_TEST_REDIS_PORT:-26479}"
export HUB_INFLUX_PORT="${HUB_TEST_INFLUX_PORT:-28186}"
export HUB_SERVICES_OWNER_PID=$$
cleanup() { bash deploy/local/services.sh down >/dev/null 2>&1 || true; }
trap cleanup EXIT
bash deploy/local/services.sh up

export HUB_TEST_REDIS_URL="redis://127.0.0.1:$HUB_REDIS_PORT"
export HUB_TEST_INFLUX_URL="http://127.0.0.1:$HUB_INFLUX_PORT"

echo "== type check"
npx turbo run typecheck --output-logs=errors-only
echo "== lint"
npx biome check .
echo "== tests"
report="$HUB_LOCAL_DIR/vitest-report.json"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" || status=$?
# A plain closing line that any CI reader understands.
if [ -f "$report" ]; then
  node -e '
    const r = require(process.argv[1]);
    console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  ' "$report"
fi
exit "$status"
