#!/usr/bin/env bash
# Starts the whole hub on this machine with the demo township and a simulated fleet:
# Redis + InfluxDB (Debian packages, private folder .local/dev), the broker, ingest,
# alerts and dashboard services, and the fleet simulator, which starts a fire after a
# while and reports the page latency. Ctrl-C stops everything.
#
# Environment (all optional): HUB_DEMO_DEVICES (default 10000), HUB_DEMO_FIRE_AT
# (seconds after the fleet is up, default 20), HUB_DEMO_DURATION (seconds; default:
# run until Ctrl-C), HUB_DEMO_KEEP_STATE (1: keep incidents of earlier demos), HUB_REDIS_PORT, HUB_INFLUX_PORT, HUB_MQTT_PORT, HUB_DASHBOARD_PORT.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

bash deploy/local/ensure-node-deps.sh

export HUB_LOCAL_DIR="${HUB_LOCAL_DIR:-$root/.local/dev}"
export HUB_REDIS_PORT="${HUB_REDIS_PORT:-16379}"
export HUB_INFLUX_PORT="${HUB_INFLUX_PORT:-18086}"
export HUB_MQTT_PORT="${HUB_MQTT_PORT:-18830}"
export HUB_BROKER_HTTP_PORT="${HUB_BROKER_HTTP_PORT:-18831}"
export HUB_DASHBOARD_PORT="${HUB_DASHBOARD_PORT:-18080}"
export HUB_INGEST_HTTP_PORT="${HUB_INGEST_HTTP_PORT:-18082}"
export HUB_ALERTS_HTTP_PORT="${HUB_ALERTS_HTTP_PORT:-18083}"
export HUB_REDIS_URL="redis://127.0.0.1:$HUB_REDIS_PORT"
export HUB_INFLUX_URL="http://127.0.0.1:$HUB_INFLUX_PORT"
export HUB_MQTT_URL="mqtt://127.0.0.1:$HUB_MQTT_PORT"
export HUB_KEY_PREFIX="${HUB_KEY_PREFIX:-hub}"
export HUB_SERVICES_OWNER_PID=$$
devices="${HUB_DEMO_DEVICES:-10000}"
fire_at="${HUB_DEMO_FIRE_AT:-20}"
logs="$HUB_LOCAL_DIR/logs"
mkdir -p "$logs"

# The hub services' broker accounts share one secret, generated once per machine.
secret_file="$HUB_LOCAL_DIR/service-secret"
[ -s "$secret_file" ] || head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$secret_file"
HUB_SERVICE_SECRET=$(cat "$secret_file")
export HUB_SERVICE_SECRET

pids=()
stop_all() {
  trap - EXIT INT TERM
  echo
  echo "hub: stopping..."
  # Each service runs in its own process group (setsid in start()): npx → sh → tsx → node
  # does not pass a signal down, so the whole group is signalled, then killed after a grace.
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  local deadline=$((SECONDS + 15))
  for pid in "${pids[@]}"; do
    while kill -0 -- "-$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  bash deploy/local/services.sh down || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# A port already answering means another hub (an earlier demo still running, a test)
# holds it: the readiness checks below would then talk to that one instead of ours.
for port in "$HUB_MQTT_PORT" "$HUB_BROKER_HTTP_PORT" "$HUB_INGEST_HTTP_PORT" "$HUB_ALERTS_HTTP_PORT" \
  "$HUB_DASHBOARD_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "hub: port $port on 127.0.0.1 is already in use (an earlier demo still running?)." >&2
    echo "hub: stop it, or choose other ports (HUB_MQTT_PORT, HUB_DASHBOARD_PORT, ...)." >&2
    command -v ss >/dev/null && ss -ltnpH "sport = :$port" >&2 || true
    exit 1
  fi
done

bash deploy/local/services.sh up

# Every demo starts from a clean hub state: an incident left open by the last demo would
# otherwise absorb this demo's fire (same seed, same building). HUB_DEMO_KEEP_STATE=1 keeps it.
if [ -z "${HUB_DEMO_KEEP_STATE:-}" ]; then
  echo "hub: clearing the previous demo's state in the demo Redis (HUB_DEMO_KEEP_STATE=1 keeps it)..."
  redis-cli -p "$HUB_REDIS_PORT" FLUSHDB >/dev/null
fi

echo "hub: loading the demo township into Redis..."
npx tsx registry/src/cli.ts load-demo --redis "$HUB_REDIS_URL" --prefix "$HUB_KEY_PREFIX" \
  --service-secret "$HUB_SERVICE_SECRET"

echo "hub: writing the demo accounts of the dashboard (demo passwords)..."
accounts_file="$HUB_LOCAL_DIR/demo-accounts.txt"
npx tsx dashboard/src/accounts-cli.ts seed-demo --redis "$HUB_REDIS_URL" --prefix "$HUB_KEY_PREFIX" > "$accounts_file"

start() {
  local name=$1; shift
  setsid "$@" >"$logs/$name.log" 2>&1 &
  pids+=($!)
  echo "hub: started $name (pid $!, log $logs/$name.log)"
}

wait_ready() {
  local name=$1 url=$2 deadline=$((SECONDS + 60))
  until curl -sf -o /dev/null "$url"; do
    if [ $SECONDS -ge $deadline ]; then
      echo "hub: $name did not become ready at $url; last lines of its log:" >&2
      tail -n 30 "$logs/$name.log" >&2
      exit 1
    fi
    sleep 0.3
  done
}

start broker npx tsx broker/src/main.ts
wait_ready broker "http://127.0.0.1:$HUB_BROKER_HTTP_PORT/readyz"
start ingest npx tsx ingest/src/main.ts
start alerts npx tsx alerts/src/main.ts
start dashboard npx tsx dashboard/src/main.ts
wait_ready ingest "http://127.0.0.1:$HUB_INGEST_HTTP_PORT/readyz"
wait_ready alerts "http://127.0.0.1:$HUB_ALERTS_HTTP_PORT/readyz"
wait_ready dashboard "http://127.0.0.1:$HUB_DASHBOARD_PORT/readyz"

cat <<TXT

  The hub is up.
    Township console      http://127.0.0.1:$HUB_DASHBOARD_PORT/township
    Station console       http://127.0.0.1:$HUB_DASHBOARD_PORT/station/s01   (stations s01 … s12)
    API docs              http://127.0.0.1:$HUB_DASHBOARD_PORT/docs
    MQTT broker           $HUB_MQTT_URL
    InfluxDB              $HUB_INFLUX_URL  (database hub)
    Metrics               http://127.0.0.1:$HUB_BROKER_HTTP_PORT/metrics (broker), :$HUB_INGEST_HTTP_PORT (ingest), :$HUB_ALERTS_HTTP_PORT (alerts), :$HUB_DASHBOARD_PORT (dashboard)
    Logs                  $logs

  Demo logins (demo passwords, never use them elsewhere):
    township fire office  office-demo-town / office-demo     administrator  admin / admin-demo
    duty officers         duty-s01 / duty-s01-demo  …  duty-s12 / duty-s12-demo
    (all of them: $accounts_file)

  Simulating $devices devices; a fire starts in a random building ${fire_at}s after the fleet is connected.
  Press Ctrl-C to stop everything.

TXT

sim_args=(fleet --mqtt "$HUB_MQTT_URL" --redis "$HUB_REDIS_URL" --prefix "$HUB_KEY_PREFIX" --seed demo
  --devices "$devices" --fire random --fire-at "$fire_at")
if [ -n "${HUB_DEMO_DURATION:-}" ]; then sim_args+=(--duration "$HUB_DEMO_DURATION"); fi
# The simulator runs in the foreground: its progress and latency report are the demo's output.
setsid npx tsx simulators/src/cli.ts "${sim_args[@]}" &
sim=$!
pids+=("$sim")
wait "$sim"
