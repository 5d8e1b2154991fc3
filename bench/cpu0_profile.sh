#!/usr/bin/env bash
# Where the client/backend CPU's time goes per proxied request (docs/performance.md, "What limits
# the request/response rows"): redis-benchmark GET (50 clients) and wrk keep-alive (50
# connections, nginx backend), direct, through HAProxy and through l4lb, in bench/run.sh's set-up
# (proxies one worker on CPU 1; clients and backends on CPU 0), sampled on CPU 0 with
# `perf record -e cpu-clock` (a software clock: no PMU needed).
#
#   bench/cpu0_profile.sh [REQUESTS]   (redis GET requests, default 150000; wrk runs 5 s)
#
# Prints CPU 0's busy microseconds per request for each workload and target, split into server,
# client and the rest, and the kernel functions that grew most against the direct run.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUESTS=${1:-150000}
L4LB_BIN=${L4LB_BIN:-$REPO_DIR/build/l4lb}
BASE=${BENCH_BASE_PORT:-27350}
TMP=$(mktemp -d /tmp/l4lb-cpu0.XXXXXX)
PIDS=()
declare -A REDIS=([direct]=$BASE [haproxy]=$((BASE + 1)) [l4lb]=$((BASE + 2)))
declare -A HTTP=([direct]=$((BASE + 3)) [haproxy]=$((BASE + 4)) [l4lb]=$((BASE + 5)))

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
log() { printf '[cpu0 %s] %s\n' "$(date +%T)" "$*" >&2; }
start() {  # start CPU COMMAND...
  local cpu=$1
  shift
  taskset -c "$cpu" "$@" >>"$TMP/out.log" 2>&1 &
  PIDS+=($!)
}
wait_port() {
  for _ in $(seq 100); do [[ -n $(ss -Htln "sport = :$1") ]] && return 0; sleep 0.1; done
  log "nothing listens on :$1: $(tail -3 "$TMP/out.log")"
  exit 1
}

write_configs() {
  mkdir -p "$TMP/nginx"
  cat >"$TMP/nginx.conf" <<NGINX
worker_processes 1;
error_log $TMP/nginx.error.log warn;
pid $TMP/nginx.pid;
events { worker_connections 10000; }
http {
  access_log off;
  keepalive_requests 10000000;
  server { listen 127.0.0.1:${HTTP[direct]} backlog=4096; location / { return 200 "ok"; } }
}
NGINX
  cat >"$TMP/haproxy.cfg" <<HAPROXY
global
  nbthread 1
  maxconn 8000
defaults
  mode tcp
  timeout connect 2s
  timeout client 10m
  timeout server 10m
listen redis
  bind 127.0.0.1:${REDIS[haproxy]}
  server s1 127.0.0.1:${REDIS[direct]}
listen http
  bind 127.0.0.1:${HTTP[haproxy]}
  server s1 127.0.0.1:${HTTP[direct]}
HAPROXY
  cat >"$TMP/l4lb.toml" <<L4LB
[global]
workers = 1
log_level = "warn"
[admin]
listen = ["unix://$TMP/admin.sock"]
[[listener]]
name = "redis"
bind = "tcp://127.0.0.1:${REDIS[l4lb]}"
pool = "redis"
[[listener]]
name = "http"
bind = "tcp://127.0.0.1:${HTTP[l4lb]}"
pool = "http"
[pool.redis]
backends = [ { address = "tcp://127.0.0.1:${REDIS[direct]}" } ]
[pool.http]
backends = [ { address = "tcp://127.0.0.1:${HTTP[direct]}" } ]
L4LB
}

# profile WORKLOAD TARGET: one sampled client run; appends "workload target requests rate samples"
profile() {
  local workload=$1 target=$2 requests rate
  case $workload in
    redis_get)
      taskset -c 0 timeout 60 redis-benchmark -p "${REDIS[$target]}" -c 50 -n 20000 -t get -q \
        >/dev/null
      perf record -q -e cpu-clock -F 10000 -C 0 -o "$TMP/perf.data" -- \
        taskset -c 0 timeout 120 redis-benchmark -p "${REDIS[$target]}" -c 50 -n "$REQUESTS" \
        -t get --csv >"$TMP/client.out" 2>/dev/null
      requests=$REQUESTS
      rate=$(awk -F, '$1 == "\"GET\"" { gsub(/"/, ""); print $2 }' "$TMP/client.out") ;;
    http_keepalive)
      taskset -c 0 timeout 30 wrk -t1 -c50 -d1s "http://127.0.0.1:${HTTP[$target]}/" >/dev/null
      perf record -q -e cpu-clock -F 10000 -C 0 -o "$TMP/perf.data" -- \
        taskset -c 0 timeout 60 wrk -t1 -c50 -d5s "http://127.0.0.1:${HTTP[$target]}/" \
        >"$TMP/client.out" 2>/dev/null
      requests=$(awk '/requests in/ { print $1 }' "$TMP/client.out")
      rate=$(awk '/^Requests\/sec:/ { print $2 }' "$TMP/client.out") ;;
  esac
  perf report -i "$TMP/perf.data" --stdio --sort comm,sym 2>/dev/null |
    awk '/^ *[0-9.]+%/ { sub(/%/, "", $1); print }' >"$TMP/$workload-$target.report"
  local samples
  samples=$(perf report -i "$TMP/perf.data" --stdio 2>/dev/null | awk '/^# Samples:/ { print $3 }')
  echo "$workload $target $requests $rate $samples" >>"$TMP/summary"
}

main() {
  local tool workload target
  for tool in perf redis-server redis-benchmark nginx wrk haproxy taskset ss; do
    command -v "$tool" >/dev/null || { log "missing $tool (bench/packages.txt)"; exit 1; }
  done
  write_configs
  start 0 redis-server --bind 127.0.0.1 --port "${REDIS[direct]}" --save '' --appendonly no \
    --maxclients 10000
  start 0 nginx -p "$TMP/nginx" -c "$TMP/nginx.conf" -e "$TMP/nginx.error.log" -g 'daemon off;'
  start 1 haproxy -f "$TMP/haproxy.cfg" -db
  start 1 "$L4LB_BIN" run -c "$TMP/l4lb.toml"
  for target in direct haproxy l4lb; do
    wait_port "${REDIS[$target]}"
    wait_port "${HTTP[$target]}"
  done
  taskset -c 0 timeout 20 redis-benchmark -p "${REDIS[direct]}" -n 1 -c 1 -t set -q >/dev/null
  for workload in redis_get http_keepalive; do
    for target in direct haproxy l4lb; do
      log "$workload / $target"
      profile "$workload" "$target"
    done
  done
  python3 "$(dirname "${BASH_SOURCE[0]}")/cpu0_report.py" "$TMP"
}

main "$@"
