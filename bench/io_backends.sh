#!/usr/bin/env bash
# l4lb's event-loop backends side by side (docs/performance.md, "io_uring"): the same l4lb binary
# with `io = "epoll"`, `io = "io_uring"` and `io = "io_uring"` + `io_batch_us`, with HAProxy as the
# reference, in interleaved rounds of the request/response workloads of bench/run.sh.
#
#   bench/io_backends.sh [ROUNDS]     (default 3; BENCH_SECONDS per cell, default 5;
#                                      BENCH_BATCH_US for the batching variant, default 20)
#
# Same set-up as bench/run.sh: every proxy one worker on CPU 1, clients and backends on CPU 0,
# loopback only, every client bounded by `timeout`, everything stopped on exit. Prints, per cell,
# the throughput and the cross-CPU interrupts (rescheduling + function call) per request taken
# by CPU 0 and CPU 1, the proxy's own CPU time per request (user + system, µs), then the best
# round of each target and its ratio to HAProxy.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${1:-3}
SECONDS_PER_CELL=${BENCH_SECONDS:-5}
BATCH_US=${BENCH_BATCH_US:-20}
L4LB_BIN=${L4LB_BIN:-$REPO_DIR/build/l4lb}
BASE=${BENCH_BASE_PORT:-27300}
REDIS_PORT=$BASE HTTP_PORT=$((BASE + 1))
TARGETS=(haproxy epoll io_uring io_uring_batch)
declare -A PORT_REDIS=([direct]=$REDIS_PORT) PORT_HTTP=([direct]=$HTTP_PORT) BEST=() PROXY_PID=()
TMP=$(mktemp -d /tmp/l4lb-io-bench.XXXXXX)
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

log() { printf '[io-bench %s] %s\n' "$(date +%T)" "$*" >&2; }
wait_port() {
  for _ in $(seq 100); do [[ -n $(ss -Htln "sport = :$1") ]] && return 0; sleep 0.1; done
  log "nothing listens on :$1"; exit 1
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # comm has no spaces here
ipis() { awk '$1 == "RES:" || $1 == "CAL:" { x += $2; y += $3 } END { print x + 0, y + 0 }' /proc/interrupts; }

start() {  # start CPU COMMAND...
  local cpu=$1
  shift
  taskset -c "$cpu" "$@" >>"$TMP/out.log" 2>&1 &
  PIDS+=($!)
}

write_l4lb_config() {  # write_l4lb_config NAME INDEX IO BATCH
  cat >"$TMP/$1.toml" <<EOF
[global]
workers = 1
log_level = "warn"
io = "$3"
io_batch_us = $4
[admin]
listen = ["unix://$TMP/$1-admin.sock"]
[[listener]]
name = "redis"
bind = "tcp://127.0.0.1:$((BASE + 10 + 2 * $2))"
pool = "redis"
[[listener]]
name = "http"
bind = "tcp://127.0.0.1:$((BASE + 11 + 2 * $2))"
pool = "http"
[pool.redis]
backends = [ { address = "tcp://127.0.0.1:$REDIS_PORT" } ]
[pool.http]
backends = [ { address = "tcp://127.0.0.1:$HTTP_PORT" } ]
EOF
  PORT_REDIS[$1]=$((BASE + 10 + 2 * $2))
  PORT_HTTP[$1]=$((BASE + 11 + 2 * $2))
}

start_everything() {
  start 0 redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --maxclients 10000
  mkdir -p "$TMP/nginx"
  cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
error_log $TMP/nginx.error.log warn;
pid $TMP/nginx.pid;
events { worker_connections 10000; }
http {
  access_log off;
  keepalive_requests 10000000;
  server { listen 127.0.0.1:$HTTP_PORT backlog=4096; location / { return 200 "ok"; } }
}
EOF
  start 0 nginx -p "$TMP/nginx" -c "$TMP/nginx.conf" -e "$TMP/nginx.error.log" -g 'daemon off;'
  cat >"$TMP/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 8000
defaults
  mode tcp
  timeout connect 2s
  timeout client 10m
  timeout server 10m
listen redis
  bind 127.0.0.1:$((BASE + 2))
  server s1 127.0.0.1:$REDIS_PORT
listen http
  bind 127.0.0.1:$((BASE + 3))
  server s1 127.0.0.1:$HTTP_PORT
EOF
  PORT_REDIS[haproxy]=$((BASE + 2))
  PORT_HTTP[haproxy]=$((BASE + 3))
  start 1 haproxy -f "$TMP/haproxy.cfg" -db
  PROXY_PID[haproxy]=$!
  write_l4lb_config epoll 0 epoll 0
  write_l4lb_config io_uring 1 io_uring 0
  write_l4lb_config io_uring_batch 2 io_uring "$BATCH_US"
  local name
  for name in epoll io_uring io_uring_batch; do
    start 1 "$L4LB_BIN" run -c "$TMP/$name.toml"
    PROXY_PID[$name]=$!
  done
  for name in direct "${TARGETS[@]}"; do
    wait_port "${PORT_REDIS[$name]}"
    wait_port "${PORT_HTTP[$name]}"
  done
  taskset -c 0 timeout 20 redis-benchmark -p "$REDIS_PORT" -n 1 -c 1 -t set -q >/dev/null
}

measure() {  # measure WORKLOAD TARGET -> "throughput ipi0 ipi1 proxy_us"
  local workload=$1 target=$2 before after t0 t1 rate c0 c1
  before=$(ipis)
  c0=$(cpu_ticks "${PROXY_PID[$target]}")
  t0=$(date +%s.%N)
  case $workload in
    redis_get)
      rate=$(taskset -c 0 timeout $((SECONDS_PER_CELL * 4 + 30)) redis-benchmark \
        -p "${PORT_REDIS[$target]}" -c 50 -n $((SECONDS_PER_CELL * 35000)) -t get --csv |
        awk -F, '$1 == "\"GET\"" { gsub(/"/, ""); print $2 }') ;;
    http_keepalive | http_close)
      local extra=()
      [[ $workload == http_close ]] && extra=(-H 'Connection: close')
      rate=$(taskset -c 0 timeout $((SECONDS_PER_CELL + 30)) wrk -t1 -c50 -d"${SECONDS_PER_CELL}s" \
        "${extra[@]}" "http://127.0.0.1:${PORT_HTTP[$target]}/" | awk '/^Requests\/sec:/ { print $2 }') ;;
  esac
  t1=$(date +%s.%N)
  after=$(ipis)
  c1=$(cpu_ticks "${PROXY_PID[$target]}")
  awk -v a="$before" -v b="$after" -v r="${rate:-0}" -v t0="$t0" -v t1="$t1" -v c0="$c0" \
    -v c1="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(a, x, " "); split(b, y, " "); n = r * (t1 - t0); if (n <= 0) n = 1
    printf "%.0f %.2f %.2f %.1f\n", r, (y[1] - x[1]) / n, (y[2] - x[2]) / n, (c1 - c0) / hz * 1e6 / n }'
}

main() {
  for tool in redis-server redis-benchmark nginx wrk haproxy taskset ss; do
    command -v "$tool" >/dev/null || { log "missing $tool (bench/run.sh installs the bench packages)"; exit 1; }
  done
  start_everything
  log "warm-up"
  for target in "${TARGETS[@]}"; do
    taskset -c 0 timeout 30 redis-benchmark -p "${PORT_REDIS[$target]}" -c 50 -n 20000 -t get -q >/dev/null
    taskset -c 0 timeout 30 wrk -t1 -c50 -d1s "http://127.0.0.1:${PORT_HTTP[$target]}/" >/dev/null
  done
  printf '%-15s %-15s %5s %10s %6s %6s %9s\n' workload target round req/s ipi0 ipi1 proxy_us
  for workload in redis_get http_keepalive http_close; do
    for ((round = 1; round <= ROUNDS; round++)); do
      for target in "${TARGETS[@]}"; do
        read -r rate ipi0 ipi1 proxy_us <<<"$(measure "$workload" "$target")"
        printf '%-15s %-15s %5d %10s %6s %6s %9s\n' "$workload" "$target" "$round" "$rate" "$ipi0" \
          "$ipi1" "$proxy_us"
        local key="$workload/$target"
        if [[ -z ${BEST[$key]:-} ]] || ((rate > BEST[$key])); then BEST[$key]=$rate; fi
      done
    done
  done
  printf '\nbest of %d rounds (req/s), and ÷ HAProxy\n' "$ROUNDS"
  printf '%-15s' workload
  for target in "${TARGETS[@]}"; do printf ' %22s' "$target"; done
  printf '\n'
  for workload in redis_get http_keepalive http_close; do
    printf '%-15s' "$workload"
    for target in "${TARGETS[@]}"; do
      printf ' %22s' "$(awk -v v="${BEST[$workload/$target]}" -v h="${BEST[$workload/haproxy]}" \
        'BEGIN { printf "%d (%.2f)", v, (h > 0 ? v / h : 0) }')"
    done
    printf '\n'
  done
}

main "$@"
