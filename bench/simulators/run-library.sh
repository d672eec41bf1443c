#!/usr/bin/env bash
# Runs every scenario of the simulator library against the real hub, one after the
# other, each with its own fresh services (bench/run-scenario.ts), under the shared
# heavy-run lock. Reports land in bench/results/<scenario>-<scale>-<time>/.
#   bash bench/simulators/run-library.sh [scale]   (default 5000; power-cut uses 10000)
set -uo pipefail
cd "$(dirname "$0")/../.."
scale="${1:-5000}"
run() { timeout 900 npx tsx bench/run-scenario.ts "$@" --broker-head || echo "bench: $1 failed (exit $?)"; }
run power-cut --scale $((scale * 2))
run station-never-accepts --scale "$scale"
run spring-festival --scale "$scale"
run kitchen-false-alarm --scale "$scale"
run flapping-detector --scale "$scale"
run electrical-ramp --scale "$scale"
run ebike-runaway --scale "$scale"
run fire-spreading --scale "$scale"
run ordinary-day --scale "$scale"
