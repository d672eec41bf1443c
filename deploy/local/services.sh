#!/usr/bin/env bash
# Local Redis and InfluxDB for development, tests and the demo.
#
#   services.sh up       start both (idempotent), wait until they answer, print their URLs
#   services.sh down     stop both and the watchdog (idempotent)
#   services.sh status   running/stopped per service; exit 0 if both run, else 3
#   services.sh wait     wait until both answer (does not start them)
#   services.sh env      print `export HUB_REDIS_URL=... HUB_INFLUX_URL=...` lines
#
# We never use the system services that Debian's packages install: every daemon
# here runs from its own generated config, bound to 127.0.0.1, with all state in
# one folder, so several checkouts (or a demo and a test run) can run side by side
# on different folders and ports. See README.md beside this file.
set -euo pipefail

SCRIPT_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SCRIPT_PATH")/../.." && pwd -P)"
readonly SCRIPT_PATH REPO_ROOT

LOCAL_DIR="${HUB_LOCAL_DIR:-$REPO_ROOT/.local/dev}"
# Daemons chdir and we compare paths in /proc, so the folder must be absolute.
[[ "$LOCAL_DIR" == /* ]] || LOCAL_DIR="$PWD/$LOCAL_DIR"
REDIS_PORT="${HUB_REDIS_PORT:-16379}"
INFLUX_PORT="${HUB_INFLUX_PORT:-18086}"
TIMEOUT="${HUB_SERVICES_TIMEOUT:-60}"
# TERM first so Redis flushes its AOF and InfluxDB closes its shards cleanly.
readonly STOP_GRACE_SECONDS=10
# Redis writes its pidfile only after it has bound its port; if none appears
# within this many seconds the daemonized child has died during start-up.
readonly PIDFILE_GRACE_SECONDS=10

REDIS_DIR="$LOCAL_DIR/redis"
REDIS_CONF="$REDIS_DIR/redis.conf"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
INFLUX_DIR="$LOCAL_DIR/influxdb"
INFLUX_CONF="$INFLUX_DIR/influxdb.conf"
INFLUX_PID="$INFLUX_DIR/influxd.pid"
INFLUX_LOG="$INFLUX_DIR/influxd.log"
WATCHDOG_PID="$LOCAL_DIR/watchdog.pid"
WATCHDOG_LOG="$LOCAL_DIR/watchdog.log"
LOCK_FILE="$LOCAL_DIR/.services.lock"

log() { printf 'services: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  sed -n '2,8s/^# \{0,1\}//p' "$SCRIPT_PATH" >&2
  exit 2
}

is_port() { [[ "$1" =~ ^[0-9]+$ ]] && ((10#$1 >= 1 && 10#$1 <= 65535)); }

validate_config() {
  is_port "$REDIS_PORT" || die "HUB_REDIS_PORT='$REDIS_PORT' is not a TCP port"
  is_port "$INFLUX_PORT" || die "HUB_INFLUX_PORT='$INFLUX_PORT' is not a TCP port"
  REDIS_PORT=$((10#$REDIS_PORT))
  INFLUX_PORT=$((10#$INFLUX_PORT))
  INFLUX_RPC_PORT=$((INFLUX_PORT + 2))
  is_port "$INFLUX_RPC_PORT" || die "HUB_INFLUX_PORT=$INFLUX_PORT leaves no room for the RPC port (+2)"
  if ((REDIS_PORT == INFLUX_PORT || REDIS_PORT == INFLUX_RPC_PORT)); then
    die "HUB_REDIS_PORT=$REDIS_PORT collides with InfluxDB's ports $INFLUX_PORT/$INFLUX_RPC_PORT"
  fi
  [[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "HUB_SERVICES_TIMEOUT='$TIMEOUT' is not a number of seconds"
  # The folder is written into quoted strings of both config formats; rather
  # than escape for two dialects, refuse the characters that would need it.
  if [[ "$LOCAL_DIR" == *[\"\\]* || "$LOCAL_DIR" == *[[:cntrl:]]* ]]; then
    die "HUB_LOCAL_DIR must not contain quotes, backslashes or control characters: $LOCAL_DIR"
  fi
}

# --- processes ------------------------------------------------------------

# Fields of /proc/PID/stat after the command name, which may itself contain
# spaces and parentheses; so cut at the last ")".
proc_stat_fields() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  printf '%s\n' "${stat##*) }"
}

# Alive = exists and is not a zombie. In containers whose PID 1 does not reap,
# a dead daemon stays a zombie for ever and `kill -0` would still succeed.
pid_alive() {
  local fields
  [[ "$1" =~ ^[0-9]+$ ]] || return 1
  fields="$(proc_stat_fields "$1")" || return 1
  [[ "${fields%% *}" != Z ]]
}

# Start time in clock ticks since boot: with the pid it identifies a process,
# so a pid reused by an unrelated process is not mistaken for the original.
pid_start_time() {
  local fields
  local -a f
  fields="$(proc_stat_fields "$1")" || return 1
  read -r -a f <<<"$fields"
  printf '%s\n' "${f[19]}"
}

# Print the pid in PIDFILE if that process is alive and its command name is
# COMM; a pidfile left behind by a crash may name a pid reused by anything.
live_pid() {
  local pidfile="$1" comm="$2" pid name
  [[ -f "$pidfile" ]] || return 1
  pid="$(tr -dc '0-9' 2>/dev/null <"$pidfile")" || return 1
  pid_alive "$pid" || return 1
  name="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
  [[ "$name" == "$comm" ]] || return 1
  printf '%s\n' "$pid"
}

# TERM every live pid given, wait up to STOP_GRACE_SECONDS for all, KILL the rest.
stop_pids() {
  local pid deadline
  local -a left=()
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + STOP_GRACE_SECONDS))
  while :; do
    left=()
    for pid in "$@"; do pid_alive "$pid" && left+=("$pid"); done
    ((${#left[@]} == 0)) && return 0
    ((SECONDS >= deadline)) && break
    sleep 0.1
  done
  log "still running after ${STOP_GRACE_SECONDS}s, sending SIGKILL to: ${left[*]}"
  for pid in "${left[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  # SIGKILL cannot be ignored, but the kernel still needs a moment to reap.
  local -a dying=("${left[@]}")
  for _ in {1..50}; do
    left=()
    for pid in "${dying[@]}"; do pid_alive "$pid" && left+=("$pid"); done
    ((${#left[@]} == 0)) && return 0
    sleep 0.1
  done
  log "warning: still alive after SIGKILL: ${left[*]}"
}

# --- tools ----------------------------------------------------------------

# A fresh Debian machine has none of these; install them the Debian way.
ensure_tools() {
  local -a pkgs=()
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null ||
    ! command -v influxd >/dev/null; then
    pkgs+=(redis-server influxdb)
  fi
  # curl is not in Debian's minimal images; the InfluxDB readiness probe needs it.
  command -v curl >/dev/null || pkgs+=(curl)
  ((${#pkgs[@]} == 0)) && return 0

  local cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${pkgs[*]}"
  if ((EUID != 0)); then
    log "missing: ${pkgs[*]}. Install them as root with:"
    printf '%s\n' "$cmd" >&2
    exit 1
  fi
  command -v apt-get >/dev/null || die "missing ${pkgs[*]} and no apt-get to install them with"
  log "installing ${pkgs[*]}: $cmd"
  # Installer chatter goes to stderr: our stdout is reserved for the URL lines.
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" >&2
  local tool
  for tool in redis-server redis-cli influxd curl; do
    command -v "$tool" >/dev/null || die "$tool still missing after installing ${pkgs[*]}"
  done
  if [[ -d /run/systemd/system ]]; then
    # Debian's packages enable and start their own daemons (Redis on :6379,
    # InfluxDB on :8086 on all interfaces with auth off). We do not use them.
    log "note: Debian may have started its own redis-server/influxdb services; this project"
    log "      does not use them. To stop them: systemctl disable --now redis-server influxdb"
  fi
}

# --- ports ----------------------------------------------------------------

# Succeeds (and prints who holds it, when known) if something listens on PORT.
port_holder() {
  local port="$1" out
  if command -v ss >/dev/null; then
    # Any address counts: a listener on 0.0.0.0 would make our bind to 127.0.0.1 fail.
    out="$(ss -Hltnp "sport = :$port" 2>/dev/null)" || out=""
    [[ -n "$out" ]] || return 1
    printf '%s\n' "$out"
    return 0
  fi
  # Without iproute2 (minimal images) fall back to a loopback connect probe.
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    printf 'something accepts connections on 127.0.0.1:%s\n' "$port"
    return 0
  fi
  return 1
}

require_port_free() {
  local port="$1" what="$2" holder
  if holder="$(port_holder "$port")"; then
    log "error: port $port ($what) is already in use by another process:"
    printf '  %s\n' "$holder" >&2
    log "choose another port (HUB_REDIS_PORT / HUB_INFLUX_PORT) or stop that process"
    exit 1
  fi
}

# --- configs --------------------------------------------------------------

redis_conf() {
  cat <<EOF
# Generated by deploy/local/services.sh on every 'up'; edits are overwritten.
# Loopback only: protected-mode stays on as a second guard, there is no password.
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize yes
supervised no
pidfile "$REDIS_PID"
logfile "$REDIS_LOG"
loglevel notice
dir "$REDIS_DIR/data"
# BullMQ timers and queues must survive a restart: append-only file, fsync each second.
appendonly yes
appendfsync everysec
# No RDB snapshots: the AOF is the only persistence, no fork every few minutes.
save ""
# BullMQ requires noeviction: an evicted job key corrupts a queue silently.
maxmemory-policy noeviction
EOF
}

influx_conf() {
  cat <<EOF
# Generated by deploy/local/services.sh on every 'up'; edits are overwritten.
# Upstream 1.x key. Debian's build renamed it to reporting-enabled (below); each
# build silently ignores the key it does not know, so both are written.
reporting-disabled = true
reporting-enabled = false
# RPC service used by backup/restore; bound to loopback like everything else.
bind-address = "127.0.0.1:$INFLUX_RPC_PORT"

[meta]
  dir = "$INFLUX_DIR/meta"

[data]
  dir = "$INFLUX_DIR/data"
  wal-dir = "$INFLUX_DIR/wal"
  # One log line per query would drown the log under a dashboard's polling.
  query-log-enabled = false

[monitor]
  # Otherwise influxd writes its own metrics into an _internal database every 10 s.
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:$INFLUX_PORT"
  auth-enabled = false
  # One access-log line per write request: megabytes per minute under simulator load.
  log-enabled = false

[logging]
  suppress-logo = true
EOF
}

# Write CONTENT to FILE. If the service is already running (RUNNING=1) from a
# different config, starting "idempotently" would leave the old ports in use
# while we advertise the new ones, so refuse instead.
install_conf() {
  local file="$1" content="$2" running="$3" what="$4"
  if ((running)); then
    if [[ -f "$file" && "$(cat "$file")" == "$content" ]]; then return 0; fi
    die "$what is already running from $LOCAL_DIR with a different configuration (ports changed?); run 'services.sh down' first"
  fi
  printf '%s\n' "$content" >"$file"
}

# --- readiness ------------------------------------------------------------

redis_ready() {
  local reply
  # timeout: redis-cli waits for ever on a port that accepts but never answers.
  reply="$(timeout 2 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" || return 1
  [[ "$reply" == PONG ]]
}

influx_ready() {
  local code
  # --noproxy: an http_proxy in the environment must not intercept loopback.
  code="$(curl -s --noproxy '*' --max-time 2 -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$INFLUX_PORT/ping" 2>/dev/null)" || return 1
  [[ "$code" == 204 ]]
}

fail_with_log() {
  local what="$1" logfile="$2" msg="$3"
  log "error: $what $msg"
  if [[ -s "$logfile" ]]; then
    log "last lines of $logfile:"
    tail -n 30 "$logfile" | sed 's/^/  | /' >&2
  else
    log "(no log at $logfile)"
  fi
  exit 1
}

# Poll until WHAT answers. Fails at once if its process is known to be dead,
# so a bad config is reported in a second rather than after the full timeout.
# LAUNCHER is a pid we started that lives exactly as long as the daemon (or "");
# GRACE is how long the pidfile may be missing (0 when nothing is starting).
wait_ready() {
  local what="$1" ready_fn="$2" pidfile="$3" comm="$4" logfile="$5" launcher="$6" grace="$7"
  local start=$SECONDS pid
  while :; do
    # Our own live process must be the one answering: with the same ports, a
    # server started from another folder would answer too.
    if live_pid "$pidfile" "$comm" >/dev/null; then
      "$ready_fn" && return 0
    else
      if [[ -n "$launcher" ]] && ! pid_alive "$launcher"; then
        fail_with_log "$what" "$logfile" "exited during start-up"
      fi
      # A pidfile naming a dead pid means it died; an empty one is being written.
      pid="$(tr -dc '0-9' 2>/dev/null <"$pidfile")" || pid=""
      if [[ -n "$pid" ]] && ! pid_alive "$pid"; then
        fail_with_log "$what" "$logfile" "exited (pid $pid in $pidfile is gone)"
      fi
      if ((SECONDS - start >= grace)); then
        fail_with_log "$what" "$logfile" "is not running (no live process in $pidfile)"
      fi
    fi
    if ((SECONDS - start >= TIMEOUT)); then
      fail_with_log "$what" "$logfile" "did not answer within ${TIMEOUT}s"
    fi
    sleep 0.2
  done
}

# --- lock -----------------------------------------------------------------

# up, down and wait serialise per folder: two test runs starting at once must
# not both see "not running" and both try to bind the same ports.
# The lock lives on fd 9: every process we leave running is started with 9>&-,
# or it would inherit the lock and hold it for its whole life.
take_lock() {
  mkdir -p "$LOCAL_DIR"
  exec 9>>"$LOCK_FILE"
  flock -w 120 9 || die "could not lock $LOCK_FILE within 120 s (another services.sh stuck?)"
}

# --- watchdog -------------------------------------------------------------

# The watchdog runs as: bash SCRIPT __watchdog FOLDER OWNER_PID OWNER_START.
# Print "OWNER_PID OWNER_START" of watchdog PID, if PID is one for this folder.
watchdog_owner() {
  local -a argv=()
  mapfile -d '' -t argv 2>/dev/null <"/proc/$1/cmdline" || return 1
  ((${#argv[@]} >= 6)) && [[ "${argv[2]}" == __watchdog && "${argv[3]}" == "$LOCAL_DIR" ]] || return 1
  printf '%s %s\n' "${argv[4]}" "${argv[5]}"
}

# Print the watchdog's pid if the pidfile names a live watchdog for this folder.
watchdog_pid() {
  local pid
  [[ -f "$WATCHDOG_PID" ]] || return 1
  pid="$(tr -dc '0-9' 2>/dev/null <"$WATCHDOG_PID")" || return 1
  pid_alive "$pid" && watchdog_owner "$pid" >/dev/null || return 1
  printf '%s\n' "$pid"
}

stop_watchdog() {
  local pid
  pid="$(watchdog_pid)" || {
    rm -f "$WATCHDOG_PID"
    return 0
  }
  # The watchdog runs `down` itself when its owner dies; it must not kill itself
  # half-way through.
  [[ "$pid" == "$$" ]] && return 0
  # setsid made it a process-group leader: take its `sleep` child down with it.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  rm -f "$WATCHDOG_PID"
}

# Started at the beginning of `up` so that even a start-up that hangs or fails
# half-way is cleaned up once the owner (a test run) goes away.
start_watchdog() {
  local owner="$1" owner_start existing
  [[ "$owner" =~ ^[0-9]+$ ]] || die "HUB_SERVICES_OWNER_PID='$owner' is not a pid"
  pid_alive "$owner" || die "HUB_SERVICES_OWNER_PID=$owner is not a running process"
  owner_start="$(pid_start_time "$owner")" || die "cannot read start time of pid $owner"

  if existing="$(watchdog_pid)"; then
    [[ "$(watchdog_owner "$existing")" == "$owner $owner_start" ]] && return 0
    # Last owner wins: the services now belong to the newer caller.
    stop_watchdog
  fi

  rm -f "$WATCHDOG_PID"
  # setsid: survive the caller's process group being killed (Ctrl-C, CI timeout),
  # which is precisely when the watchdog is needed. All three standard streams
  # and the lock fd are redirected away, or `$(services.sh up)` and CI pipes
  # would wait for the watchdog to close them, i.e. for ever.
  HUB_LOCAL_DIR="$LOCAL_DIR" HUB_REDIS_PORT="$REDIS_PORT" HUB_INFLUX_PORT="$INFLUX_PORT" \
    nohup setsid bash "$SCRIPT_PATH" __watchdog "$LOCAL_DIR" "$owner" "$owner_start" \
    </dev/null >>"$WATCHDOG_LOG" 2>&1 9>&- &
  # The watchdog writes its own pid (setsid may fork, so $! is not reliable);
  # wait for it so that a `down` issued right after `up` finds it.
  local _
  for _ in {1..50}; do
    watchdog_pid >/dev/null && return 0
    sleep 0.1
  done
  die "watchdog did not start; see $WATCHDOG_LOG"
}

# Body of the detached watchdog process.
run_watchdog() {
  local owner="$1" owner_start="$2"
  printf '%s\n' "$$" >"$WATCHDOG_PID.tmp.$$"
  mv -f "$WATCHDOG_PID.tmp.$$" "$WATCHDOG_PID"
  log "$(date -Is) watchdog $$: watching owner pid $owner for $LOCAL_DIR"
  while pid_alive "$owner" && [[ "$(pid_start_time "$owner" 2>/dev/null)" == "$owner_start" ]]; do
    # Replaced by a newer watchdog (another `up` with another owner): step aside.
    [[ "$(watchdog_pid 2>/dev/null)" == "$$" ]] || exit 0
    sleep 2
  done
  log "$(date -Is) watchdog $$: owner $owner is gone, stopping services"
  cmd_down
  rm -f "$WATCHDOG_PID"
}

# --- services -------------------------------------------------------------

# Set by cmd_up for the summary lines, wait_ready and the rollback.
REDIS_STATE="" INFLUX_STATE="" INFLUX_LAUNCHER=""
REDIS_STARTED=0 INFLUX_STARTED=0

launch_redis() {
  rm -f "$REDIS_PID"
  printf '\n=== services.sh up %s ===\n' "$(date -Is)" >>"$REDIS_LOG"
  REDIS_STARTED=1
  # The foreground redis-server checks the config and forks; a config error
  # shows up here as a non-zero exit with the reason on stderr (sent to the log).
  if ! redis-server "$REDIS_CONF" </dev/null >>"$REDIS_LOG" 2>&1 9>&-; then
    fail_with_log redis "$REDIS_LOG" "failed to start"
  fi
  REDIS_STATE="started"
}

launch_influx() {
  rm -f "$INFLUX_PID"
  printf '\n=== services.sh up %s ===\n' "$(date -Is)" >>"$INFLUX_LOG"
  INFLUX_STARTED=1
  # influxd does not daemonize itself. setsid puts it in its own session, as
  # Redis's daemonize does, so a Ctrl-C aimed at the caller does not kill one
  # service and leave the other. setsid -w: should setsid have to fork, $!
  # (the launcher) still lives exactly as long as influxd.
  nohup setsid -w influxd run -config "$INFLUX_CONF" -pidfile "$INFLUX_PID" \
    </dev/null >>"$INFLUX_LOG" 2>&1 9>&- &
  INFLUX_LAUNCHER=$!
  INFLUX_STATE="started"
}

# On a failed `up`, stop what this invocation started: a half-started pair is
# worse than none (the next `up` would find one service already running from a
# start-up that was never verified). Services found already running are kept.
rollback_up() {
  local -a pids=()
  local pid
  if ((REDIS_STARTED)) && pid="$(live_pid "$REDIS_PID" redis-server)"; then pids+=("$pid"); fi
  if ((INFLUX_STARTED)); then
    if pid="$(live_pid "$INFLUX_PID" influxd)"; then
      pids+=("$pid")
    elif [[ -n "$INFLUX_LAUNCHER" ]] && pid_alive "$INFLUX_LAUNCHER"; then
      pids+=("$INFLUX_LAUNCHER")
    fi
  fi
  ((${#pids[@]} == 0)) && return 0
  log "start-up failed: stopping what this 'up' started (pids ${pids[*]})"
  stop_pids "${pids[@]}"
  ((REDIS_STARTED)) && rm -f "$REDIS_PID"
  ((INFLUX_STARTED)) && rm -f "$INFLUX_PID"
  return 0
}

print_summary() {
  local rpid ipid
  rpid="$(live_pid "$REDIS_PID" redis-server)" || rpid="?"
  ipid="$(live_pid "$INFLUX_PID" influxd)" || ipid="?"
  printf 'redis     redis://127.0.0.1:%s  %s\n' "$REDIS_PORT" "${REDIS_STATE:-running (pid $rpid)}"
  printf 'influxdb  http://127.0.0.1:%s  %s\n' "$INFLUX_PORT" "${INFLUX_STATE:-running (pid $ipid)}"
}

cmd_up() {
  ensure_tools
  take_lock
  if [[ -n "${HUB_SERVICES_OWNER_PID:-}" ]]; then start_watchdog "$HUB_SERVICES_OWNER_PID"; fi

  local rpid="" ipid=""
  rpid="$(live_pid "$REDIS_PID" redis-server)" || rpid=""
  ipid="$(live_pid "$INFLUX_PID" influxd)" || ipid=""
  mkdir -p "$REDIS_DIR/data" "$INFLUX_DIR/meta" "$INFLUX_DIR/data" "$INFLUX_DIR/wal"
  # Every check before anything starts, so a refusal leaves nothing half-started.
  install_conf "$REDIS_CONF" "$(redis_conf)" "$((${#rpid} > 0))" redis
  install_conf "$INFLUX_CONF" "$(influx_conf)" "$((${#ipid} > 0))" influxdb
  if [[ -z "$rpid" ]]; then require_port_free "$REDIS_PORT" redis; fi
  if [[ -z "$ipid" ]]; then
    require_port_free "$INFLUX_PORT" "influxdb http"
    require_port_free "$INFLUX_RPC_PORT" "influxdb rpc"
  fi

  trap rollback_up EXIT
  # Launch both before waiting for either: InfluxDB's start-up (opening shards)
  # then overlaps Redis's (replaying the AOF).
  if [[ -n "$rpid" ]]; then REDIS_STATE="already running (pid $rpid)"; else launch_redis; fi
  if [[ -n "$ipid" ]]; then INFLUX_STATE="already running (pid $ipid)"; else launch_influx; fi
  wait_ready redis redis_ready "$REDIS_PID" redis-server "$REDIS_LOG" "" "$PIDFILE_GRACE_SECONDS"
  wait_ready influxdb influx_ready "$INFLUX_PID" influxd "$INFLUX_LOG" "$INFLUX_LAUNCHER" "$PIDFILE_GRACE_SECONDS"
  trap - EXIT

  if [[ "$REDIS_STATE" == started ]]; then
    REDIS_STATE="started (pid $(live_pid "$REDIS_PID" redis-server || echo '?'))"
  fi
  if [[ "$INFLUX_STATE" == started ]]; then
    INFLUX_STATE="started (pid $(live_pid "$INFLUX_PID" influxd || echo '?'))"
  fi
  print_summary
}

stopped_or_not() {
  if [[ -n "$1" ]]; then printf 'stopped (was pid %s)\n' "$1"; else printf 'was not running\n'; fi
}

cmd_down() {
  if [[ ! -d "$LOCAL_DIR" ]]; then
    printf 'redis     was not running\ninfluxdb  was not running\n'
    return 0
  fi
  # The watchdog calls this after its `up`-time lock fd was closed, so it can lock too.
  take_lock
  stop_watchdog
  local rpid="" ipid=""
  local -a pids=()
  if rpid="$(live_pid "$REDIS_PID" redis-server)"; then pids+=("$rpid"); fi
  if ipid="$(live_pid "$INFLUX_PID" influxd)"; then pids+=("$ipid"); fi
  ((${#pids[@]} == 0)) || stop_pids "${pids[@]}"
  rm -f "$REDIS_PID" "$INFLUX_PID"
  printf 'redis     %s\n' "$(stopped_or_not "$rpid")"
  printf 'influxdb  %s\n' "$(stopped_or_not "$ipid")"
}

# One status line; returns 0 only if the process is alive and answering.
status_line() {
  local what="$1" url="$2" ready_fn="$3" pidfile="$4" comm="$5" pid
  if pid="$(live_pid "$pidfile" "$comm")"; then
    if "$ready_fn"; then
      printf '%-9s running      %s  (pid %s)\n' "$what" "$url" "$pid"
      return 0
    fi
    printf '%-9s not ready    %s  (pid %s alive, not answering)\n' "$what" "$url" "$pid"
    return 1
  fi
  printf '%-9s stopped\n' "$what"
  return 1
}

cmd_status() {
  local rc=0 wpid
  status_line redis "redis://127.0.0.1:$REDIS_PORT" redis_ready "$REDIS_PID" redis-server || rc=3
  status_line influxdb "http://127.0.0.1:$INFLUX_PORT" influx_ready "$INFLUX_PID" influxd || rc=3
  if wpid="$(watchdog_pid)"; then
    printf '%-9s running      (pid %s, stops the services when pid %s exits)\n' \
      watchdog "$wpid" "$(watchdog_owner "$wpid" | cut -d' ' -f1)"
  fi
  return "$rc"
}

cmd_wait() {
  # Waiting for the lock first lets a concurrent `up` finish its start.
  take_lock
  wait_ready redis redis_ready "$REDIS_PID" redis-server "$REDIS_LOG" "" 0
  wait_ready influxdb influx_ready "$INFLUX_PID" influxd "$INFLUX_LOG" "" 0
  print_summary
}

cmd_env() {
  printf 'export HUB_REDIS_URL=redis://127.0.0.1:%s\n' "$REDIS_PORT"
  printf 'export HUB_INFLUX_URL=http://127.0.0.1:%s\n' "$INFLUX_PORT"
}

main() {
  (($# >= 1)) || usage
  local cmd="$1"
  shift
  validate_config
  case "$cmd" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    wait) cmd_wait ;;
    env) cmd_env ;;
    __watchdog) run_watchdog "$2" "$3" ;; # internal: $1 is the folder, for ps/verification
    -h | --help | help) usage ;;
    *)
      log "unknown command: $cmd"
      usage
      ;;
  esac
}

main "$@"
