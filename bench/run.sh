#!/usr/bin/env bash
# Side-by-side TCP proxy benchmark on one small box (see docs/benchmarks.md and
# /work/shared/research/perf.md section 3): direct (no proxy, the ceiling), HAProxy (mode tcp),
# nginx (stream) and l4lb, in front of the same backends, driven by the same clients, in one run.
#
#   bench/run.sh [--out FILE] [--tsv-dir DIR] [--seconds N] [--rounds N]
#
# Environment: BENCH_SECONDS (per cell, default 6), BENCH_ROUNDS (default 2),
# BENCH_BASE_PORT (default 27100), BENCH_IDLE_CONNS (default 4000, as issue 3 asks), BENCH_PING_N (default 20000),
# BENCH_WORKLOADS (default all), L4LB_BIN (default build/l4lb), BENCH_KEEP_TMP=1 keeps the temp dir (configs, logs, raw output),
# BENCH_NICE (default 0): nice value for every process of the benchmark (clients, backends and all
# proxies alike), e.g. -10 on a box shared with other work; it favours no proxy over another.
#
# Set-up: every proxy runs ONE worker pinned to CPU 1 (taskset -c 1); clients and backends are
# pinned to CPU 0 (taskset -c 0). All traffic stays on 127.0.0.1. Everything started here is
# stopped on exit, and every client run is bounded by `timeout`.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)

# The command as typed, with the environment overrides that were set (before any defaults).
COMMAND_LINE="$0 $*"
for var in BENCH_SECONDS BENCH_ROUNDS BENCH_BASE_PORT BENCH_IDLE_CONNS BENCH_PING_N BENCH_NICE L4LB_BIN; do
  if [[ -n ${!var:-} ]]; then COMMAND_LINE="$var=${!var} $COMMAND_LINE"; fi
done

CELL_SECONDS=${BENCH_SECONDS:-6}
ROUNDS=${BENCH_ROUNDS:-2}
BASE_PORT=${BENCH_BASE_PORT:-27100}
IDLE_CONNS=${BENCH_IDLE_CONNS:-4000}
PING_N=${BENCH_PING_N:-20000}
L4LB_BIN=${L4LB_BIN:-$REPO_DIR/build/l4lb}
NICE=${BENCH_NICE:-0}
OUT_FILE=""
TSV_DIR="$BENCH_DIR/results/latest"

CLIENT_CPU=0        # clients and backends
PROXY_CPU=1         # the proxy under test
TARGETS=(direct haproxy nginx l4lb)
PROXIES=(haproxy nginx l4lb)
WORKLOADS=(redis_get http_keepalive http_close iperf3 ping_latency dns_udp)
# BENCH_WORKLOADS="dns_udp iperf3" runs only those (to look closer at one row; the table is partial).
if [[ -n ${BENCH_WORKLOADS:-} ]]; then read -r -a WORKLOADS <<<"$BENCH_WORKLOADS"; fi


declare -A PID=()          # name -> pid of every background process we started
declare -A UP=()           # target -> 1 when it is running and usable
declare -A REDIS_N=()      # target -> request count for the redis GET cell (sized by warm-up)
NOTES=()
TMP=""
TW_REUSE_RESTORE=""

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

parse_args() {
  while (($#)); do
    case $1 in
      --out) OUT_FILE=${2:?--out needs a file}; shift 2 ;;
      --tsv-dir) TSV_DIR=${2:?--tsv-dir needs a directory}; shift 2 ;;
      --seconds) CELL_SECONDS=${2:?}; shift 2 ;;
      --rounds) ROUNDS=${2:?}; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
  done
  [[ $CELL_SECONDS =~ ^[0-9]+$ && $CELL_SECONDS -ge 1 && $CELL_SECONDS -le 120 ]] \
    || die "BENCH_SECONDS must be 1..120"
  [[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 && $ROUNDS -le 10 ]] || die "BENCH_ROUNDS must be 1..10"
  [[ $NICE =~ ^-?[0-9]+$ && $NICE -ge -20 && $NICE -le 19 ]] || die "BENCH_NICE must be -20..19"
  [[ $IDLE_CONNS =~ ^[0-9]+$ && $IDLE_CONNS -ge 1 && $IDLE_CONNS -le 5000 ]] \
    || die "BENCH_IDLE_CONNS must be 1..5000 (the proxy needs 2 descriptors per connection)"
}

# ---------------------------------------------------------------------------------------------
# Tools, processes, cleanup

ensure_tools() {
  local tools=(haproxy nginx redis-server redis-benchmark wrk iperf3 python3 taskset timeout ss ps
               unbound dnsperf)
  local missing=() tool
  for tool in "${tools[@]}"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if [[ -z $(nginx_stream_module) ]]; then missing+=("nginx-stream-module"); fi
  /usr/bin/python3 -c 'import matplotlib' 2>/dev/null || missing+=("python3-matplotlib")
  if ((${#missing[@]})); then
    log "missing: ${missing[*]}; installing bench/packages.txt packages that are not installed"
    [[ $(id -u) -eq 0 ]] || die "not root: install the packages in bench/packages.txt"
    local pkgs=() pkg
    while read -r pkg; do
      [[ -z $pkg || $pkg == \#* ]] && continue
      dpkg -s "$pkg" >/dev/null 2>&1 || pkgs+=("$pkg")
    done <"$BENCH_DIR/packages.txt"
    if ((${#pkgs[@]})); then
      DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >&2
    fi
    for tool in "${tools[@]}"; do command -v "$tool" >/dev/null || die "still missing: $tool"; done
    [[ -n $(nginx_stream_module) ]] || die "still missing: nginx stream module"
  fi
  # The stock Debian redis-server service would only get in the way if it used our ports; we
  # start our own instance on a free port and never touch the service.
}

nginx_stream_module() {
  local f
  for f in /usr/lib/nginx/modules/ngx_stream_module.so /usr/share/nginx/modules/ngx_stream_module.so; do
    if [[ -f $f ]]; then echo "$f"; return 0; fi
  done
}

cleanup() {
  local rc=$? name pid
  trap - EXIT INT TERM
  for name in "${!PID[@]}"; do kill -TERM "${PID[$name]}" 2>/dev/null || true; done
  for _ in $(seq 30); do
    local alive=0
    for pid in "${PID[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${PID[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n $TW_REUSE_RESTORE ]]; then
    sysctl -qw net.ipv4.tcp_tw_reuse="$TW_REUSE_RESTORE" 2>/dev/null || true
  fi
  if [[ -n $TMP && -d $TMP ]]; then
    if [[ ${BENCH_KEEP_TMP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  fi
  exit "$rc"
}

# start_bg NAME CPU COMMAND...: start COMMAND pinned to CPU, output to $TMP/NAME.{out,err}.
start_bg() {
  local name=$1 cpu=$2
  shift 2
  nice -n "$NICE" taskset -c "$cpu" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PID[$name]=$!
}

stop_bg() {
  local name=$1 pid=${PID[$1]:-}
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "PID[$name]"
}

port_listening() { [[ -n $(ss -Htln "sport = :$1" 2>/dev/null) ]]; }
udp_port_bound() { [[ -n $(ss -Huln "sport = :$1" 2>/dev/null) ]]; }

wait_udp_port() {
  local port=$1 name=$2 deadline=$((SECONDS + 10))
  until udp_port_bound "$port"; do
    if ! kill -0 "${PID[$name]}" 2>/dev/null; then return 1; fi
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

wait_port() {
  local port=$1 name=$2 deadline=$((SECONDS + 10))
  until port_listening "$port"; do
    if ! kill -0 "${PID[$name]}" 2>/dev/null; then return 1; fi
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# Backends on BASE..BASE+2; target i (haproxy=1, nginx=2, l4lb=3) on BASE+3i..BASE+3i+2.
# UDP (DNS): unbound on BASE+12, target i on BASE+12+i (HAProxy has no generic UDP: unused).
pick_ports() {
  local base=$BASE_PORT p ok
  for _ in $(seq 50); do
    ok=1
    for ((p = base; p < base + 16; p++)); do
      if port_listening "$p" || udp_port_bound "$p"; then ok=0; break; fi
    done
    ((ok)) && break
    base=$((base + 20))
  done
  ((ok)) || die "no 12 free consecutive ports found from $BASE_PORT"
  local lo hi
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
  if ((base + 11 >= lo && base <= hi)); then
    NOTES+=("ports $base-$((base + 11)) overlap the ephemeral range $lo-$hi; set BENCH_BASE_PORT")
  fi
  BASE=$base
  REDIS_PORT=$base; HTTP_PORT=$((base + 1)); IPERF_PORT=$((base + 2)); DNS_PORT=$((base + 12))
}

# port_of TARGET KIND (KIND: redis|http|iperf)
port_of() {
  local index offset
  case $1 in direct) index=0 ;; haproxy) index=1 ;; nginx) index=2 ;; l4lb) index=3 ;; esac
  case $2 in redis) offset=0 ;; http) offset=1 ;; iperf) offset=2 ;;
    dns) echo $((BASE + 12 + index)); return ;; esac
  echo $((BASE + 3 * index + offset))
}

render() {  # render TEMPLATE OUTPUT TARGET
  local target=$3
  sed -e "s|@TMP@|$TMP|g" \
      -e "s|@REDIS_PORT@|$REDIS_PORT|g" -e "s|@HTTP_PORT@|$HTTP_PORT|g" \
      -e "s|@IPERF_PORT@|$IPERF_PORT|g" -e "s|@DNS_PORT@|$DNS_PORT|g" \
      -e "s|@PROXY_DNS_PORT@|$(port_of "$target" dns)|g" \
      -e "s|@PROXY_REDIS_PORT@|$(port_of "$target" redis)|g" \
      -e "s|@PROXY_HTTP_PORT@|$(port_of "$target" http)|g" \
      -e "s|@PROXY_IPERF_PORT@|$(port_of "$target" iperf)|g" \
      -e "s|@NGINX_STREAM_MODULE@|$(nginx_stream_module)|g" \
      "$BENCH_DIR/templates/$1" >"$2"
}

# ---------------------------------------------------------------------------------------------
# Backends and proxies

start_backends() {
  log "backends on CPU $CLIENT_CPU: redis :$REDIS_PORT, nginx http :$HTTP_PORT, iperf3 :$IPERF_PORT"
  start_bg redis "$CLIENT_CPU" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' \
    --appendonly no --dir "$TMP" --logfile "$TMP/redis.log" --maxclients 10000
  render nginx-http-backend.conf.in "$TMP/nginx-backend.conf" direct
  mkdir -p "$TMP/nginx-backend"
  start_bg nginx_backend "$CLIENT_CPU" nginx -p "$TMP/nginx-backend" -c "$TMP/nginx-backend.conf" \
    -e "$TMP/nginx-backend.error.log" -g 'daemon off;'
  start_bg iperf3_server "$CLIENT_CPU" iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT"
  start_unbound
  wait_port "$REDIS_PORT" redis || die "redis-server did not start: $(tail -3 "$TMP/redis.log")"
  wait_port "$HTTP_PORT" nginx_backend || die "nginx backend did not start: $(cat "$TMP/nginx_backend.err")"
  wait_port "$IPERF_PORT" iperf3_server || die "iperf3 -s did not start: $(cat "$TMP/iperf3_server.err")"
  wait_udp_port "$DNS_PORT" unbound || die "unbound did not start: $(cat "$TMP/unbound.err")"
  # A real value for GET to return (redis-benchmark's GET reads key:__rand_int__).
  taskset -c "$CLIENT_CPU" timeout 20 redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -n 1 -c 1 \
    -t set -q >/dev/null
  UP[direct]=1
}

# unbound answering from local-data only (no recursion, so nothing leaves the box), one thread,
# UDP only, on the client CPU; dnsperf asks it for a.test A.
start_unbound() {
  log "unbound on CPU $CLIENT_CPU: udp :$DNS_PORT"
  cat >"$TMP/unbound.conf" <<EOF
server:
  interface: 127.0.0.1@$DNS_PORT
  port: $DNS_PORT
  do-daemonize: no
  chroot: ""
  username: ""
  pidfile: ""
  directory: "$TMP"
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  do-tcp: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: yes
  local-zone: "test." static
  local-data: "a.test. IN A 192.0.2.1"
remote-control:
  control-enable: no
EOF
  printf 'a.test A\n' >"$TMP/dns-queries.txt"
  start_bg unbound "$CLIENT_CPU" unbound -d -c "$TMP/unbound.conf"
}

start_haproxy() {
  render haproxy.cfg.in "$TMP/haproxy.cfg" haproxy
  haproxy -c -q -f "$TMP/haproxy.cfg" >"$TMP/haproxy.check" 2>&1 \
    || { log "haproxy config check failed: $(cat "$TMP/haproxy.check")"; return 1; }
  start_bg haproxy "$PROXY_CPU" haproxy -f "$TMP/haproxy.cfg" -db
}

start_nginx() {
  render nginx-stream.conf.in "$TMP/nginx-stream.conf" nginx
  mkdir -p "$TMP/nginx-stream"
  start_bg nginx "$PROXY_CPU" nginx -p "$TMP/nginx-stream" -c "$TMP/nginx-stream.conf" \
    -e "$TMP/nginx-stream.error.log" -g 'daemon off;'
}

start_l4lb() {
  if [[ ! -x $L4LB_BIN ]]; then
    log "l4lb binary $L4LB_BIN not found: l4lb rows will show n/a"
    NOTES+=("l4lb: binary $L4LB_BIN was missing, so its cells are n/a")
    return 1
  fi
  render l4lb.toml.in "$TMP/l4lb.toml" l4lb
  "$L4LB_BIN" check -c "$TMP/l4lb.toml" >"$TMP/l4lb.check" 2>&1 || {
    log "l4lb config check failed: $(cat "$TMP/l4lb.check")"
    NOTES+=("l4lb rejected the generated config: $(head -3 "$TMP/l4lb.check" | tr '\n' ' ')")
    return 1
  }
  start_bg l4lb "$PROXY_CPU" "$L4LB_BIN" run -c "$TMP/l4lb.toml"
}

start_proxies() {
  local proxy kind
  for proxy in "${PROXIES[@]}"; do
    "start_$proxy" || continue
    UP[$proxy]=1
    for kind in redis http iperf dns; do
      [[ $kind == dns && $proxy == haproxy ]] && continue   # HAProxy has no generic UDP
      local waiter=wait_port
      [[ $kind == dns ]] && waiter=wait_udp_port
      if ! "$waiter" "$(port_of "$proxy" "$kind")" "$proxy"; then
        log "$proxy did not start listening on $(port_of "$proxy" "$kind"): $(tail -5 "$TMP/$proxy.err")"
        NOTES+=("$proxy failed to start (see its stderr): cells are n/a")
        stop_bg "$proxy"
        unset "UP[$proxy]"
        break
      fi
    done
    if [[ -n ${UP[$proxy]:-} ]]; then
      log "$proxy up on CPU $PROXY_CPU (pid ${PID[$proxy]}, serving pid $(serving_pid "$proxy"))"
    fi
  done
}

# The process that does the proxying: nginx's single worker, else the process itself.
serving_pid() {
  local pid=${PID[$1]:-}
  [[ -n $pid ]] || return 1
  if [[ $1 == nginx ]]; then
    local child
    for _ in $(seq 50); do
      child=$(ps -o pid= --ppid "$pid" | head -1 | tr -d ' ')
      if [[ -n $child ]]; then echo "$child"; return 0; fi
      sleep 0.1
    done
    return 1
  fi
  echo "$pid"
}

target_alive() {
  [[ $1 == direct ]] && return 0
  [[ -n ${UP[$1]:-} ]] && kill -0 "${PID[$1]}" 2>/dev/null
}

cpu_busy_snapshot() {  # "busy0 total0 busy1 total1" in ticks for CPU 0 and CPU 1, from /proc/stat
  awk '$1 == "cpu'"$CLIENT_CPU"'" || $1 == "cpu'"$PROXY_CPU"'" {
         total = 0; for (i = 2; i <= NF; i++) total += $i
         printf "%d %d ", total - $5 - $6, total }
       END { print "" }' /proc/stat
}

busy_pct() {  # busy_pct "SNAP_BEFORE" "SNAP_AFTER" INDEX(0|1) -> percent busy of that CPU
  awk -v a="$1" -v b="$2" -v i="$3" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    dt = y[2 * i + 2] - x[2 * i + 2]
    printf "%.0f", (dt > 0 ? (y[2 * i + 1] - x[2 * i + 1]) / dt * 100 : 0) }'
}

ipi_snapshot() {  # "cpu0 cpu1": rescheduling + function-call interrupts so far (cross-CPU wake-ups)
  awk -v a=$((CLIENT_CPU + 2)) -v b=$((PROXY_CPU + 2)) \
    '$1 == "RES:" || $1 == "CAL:" { x += $a; y += $b } END { print x + 0, y + 0 }' /proc/interrupts
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo ""; }

cpu_ticks() {  # utime + stime of a process, in clock ticks
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  stat=${stat##*) }   # drop "pid (comm) ": comm may contain spaces
  awk '{print $12 + $13}' <<<"$stat"
}

# ---------------------------------------------------------------------------------------------
# Workloads. Each prints "throughput unit p50_ms p99_ms errors" ("-" when not reported).

client() {  # client TIMEOUT_SECONDS COMMAND...: a bounded client run pinned to the client CPU
  local limit=$1
  shift
  timeout --foreground -k 5 "$limit" nice -n "$NICE" taskset -c "$CLIENT_CPU" "$@"
}

redis_csv_line() {  # redis_csv_line TEST < csv: "rps p50 p99" for that test
  awk -F, -v test="\"$1\"" '$1 == test { gsub(/"/, ""); print $2, $5, $7 }'
}

wl_redis_get() {
  local port=$1 target=$2 out
  out=$(client $((CELL_SECONDS * 4 + 30)) redis-benchmark -h 127.0.0.1 -p "$port" -c 50 \
    -n "${REDIS_N[$target]}" -t get --csv) || return 1
  local fields
  fields=$(redis_csv_line GET <<<"$out")
  [[ -n $fields ]] || return 1
  read -r rps p50 p99 <<<"$fields"
  echo "$rps req/s $p50 $p99 0"
}

wl_ping_latency() {
  local port=$1 out fields
  out=$(client 120 redis-benchmark -h 127.0.0.1 -p "$port" -c 1 -n "$PING_N" -t ping_mbulk --csv) \
    || return 1
  fields=$(redis_csv_line PING_MBULK <<<"$out")
  [[ -n $fields ]] || return 1
  read -r rps p50 p99 <<<"$fields"
  echo "$rps req/s $p50 $p99 0"
}

parse_wrk() {  # wrk --latency output -> "req/s req/s p50_ms p99_ms errors"
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Socket errors:/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { errors += $5 }
    END {
      if (rps == "") exit 1
      printf "%s req/s %.3f %.3f %d\n", rps, p50, p99, errors
    }'
}

wl_http() {  # wl_http PORT [extra wrk args...]
  local port=$1 out
  shift
  out=$(client $((CELL_SECONDS + 30)) wrk -t1 -c50 -d"${CELL_SECONDS}s" --latency "$@" \
    "http://127.0.0.1:$port/") || return 1
  parse_wrk <<<"$out"
}

wl_http_keepalive() { wl_http "$1"; }
wl_http_close() { wl_http "$1" -H 'Connection: close'; }

wl_iperf3() {
  local port=$1 out attempt
  for attempt in 1 2 3; do
    # The server takes one test at a time; a previous test may still be closing.
    if out=$(client $((CELL_SECONDS + 30)) iperf3 -c 127.0.0.1 -p "$port" -t "$CELL_SECONDS" \
        --connect-timeout 3000 -J); then
      python3 -c '
import json, sys
r = json.load(sys.stdin)
if "error" in r: sys.exit(1)
print("%.3f Gbit/s - - 0" % (r["end"]["sum_received"]["bits_per_second"] / 1e9))' <<<"$out" && return 0
    fi
    log "iperf3 attempt $attempt on :$port failed; retrying"
    sleep 1
  done
  return 1
}

# dnsperf: 8 client sockets, up to 100 queries outstanding, for CELL_SECONDS. Prints queries per
# second; the errors column is the number of lost queries (no answer within dnsperf's 5 s).
wl_dns_udp() {
  local port=$1 out
  out=$(client $((CELL_SECONDS + 30)) dnsperf -s 127.0.0.1 -p "$port" -d "$TMP/dns-queries.txt" \
    -c 8 -q 100 -l "$CELL_SECONDS") || return 1
  awk '/Queries per second:/ { qps = $4 }
       /Queries lost:/ { lost = $3 }
       END { if (qps == "") exit 1; printf "%s q/s - - %d\n", qps, lost }' <<<"$out"
}

port_kind() {
  case $1 in
    dns_udp) echo dns ;;
    redis_get|ping_latency) echo redis ;;
    http_keepalive|http_close) echo http ;;
    iperf3) echo iperf ;;
  esac
}

# run_cell WORKLOAD TARGET ROUND: run one cell and append a row to results.tsv.
run_cell() {
  local workload=$1 target=$2 round=$3 port spid="" t0 t1 c0=0 c1=0 result status=ok
  port=$(port_of "$target" "$(port_kind "$workload")")
  local row_na
  row_na=$(printf '%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\tn/a' "$workload" "$target" "$round")
  if ! target_alive "$target" || [[ $workload == dns_udp && $target == haproxy ]]; then
    echo "$row_na" >>"$RESULTS"
    return 0
  fi
  if [[ $target != direct ]]; then
    spid=$(serving_pid "$target") || spid=""
    [[ -n $spid ]] && c0=$(cpu_ticks "$spid")
  fi
  local snap0 snap1 ipi0 ipi1
  ipi0=$(ipi_snapshot)
  snap0=$(cpu_busy_snapshot)
  t0=$(date +%s.%N)
  if ! result=$("wl_$workload" "$port" "$target" 2>>"$TMP/clients.err"); then
    status=failed
  fi
  t1=$(date +%s.%N)
  snap1=$(cpu_busy_snapshot)
  ipi1=$(ipi_snapshot)
  if [[ $status != ok ]]; then
    log "$workload / $target / round $round: FAILED"
    NOTES+=("$workload / $target / round $round failed")
    echo "${row_na%n/a}failed" >>"$RESULTS"
    return 0
  fi
  local rss="-" cpu="-"
  if [[ -n $spid ]]; then
    c1=$(cpu_ticks "$spid")
    rss=$(rss_kib "$spid")
    cpu=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
      'BEGIN { printf "%.1f", (b - a) / hz / (t1 - t0) * 100 }')
  fi
  local busy0 busy1
  busy0=$(busy_pct "$snap0" "$snap1" 0)
  busy1=$(busy_pct "$snap0" "$snap1" 1)
  read -r thr unit p50 p99 errors <<<"$result"
  # Cross-CPU interrupts per unit of work (per request, per query, per Mbit): what a proxy costs
  # the busy client/backend CPU beyond its own work (docs/performance.md).
  local ipi
  ipi=$(awk -v a="$ipi0" -v b="$ipi1" -v thr="$thr" -v unit="$unit" -v t0="$t0" -v t1="$t1" 'BEGIN {
    split(a, x, " "); split(b, y, " "); work = thr * (t1 - t0)
    if (unit == "Gbit/s") work *= 1000
    if (work <= 0) { print "-/-"; exit }
    printf "%.2f/%.2f", (y[1] - x[1]) / work, (y[2] - x[2]) / work }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$workload" "$target" "$round" \
    "$thr" "$unit" "$p50" "$p99" "$rss" "$cpu" "$busy0" "$busy1" "$errors" "$status" >>"$RESULTS"
  log "$(printf '%-15s %-8s round %s: %s %s p50=%s p99=%s rss=%sKiB proxy=%s%% cpu0=%s%% cpu1=%s%% ipi0/ipi1=%s errors=%s' \
    "$workload" "$target" "$round" "$thr" "$unit" "$p50" "$p99" "$rss" "$cpu" "$busy0" "$busy1" "$ipi" "$errors")"
}

# A false start per target (connections, pools, caches), and sizing of the redis GET cell so
# that it lasts about CELL_SECONDS for each target.
warm_up() {
  local target out rps
  for target in "${TARGETS[@]}"; do
    target_alive "$target" || continue
    out=$(client 60 redis-benchmark -h 127.0.0.1 -p "$(port_of "$target" redis)" -c 50 -n 20000 \
      -t get --csv 2>/dev/null) || out=""
    rps=$(redis_csv_line GET <<<"$out" | awk '{print int($1)}')
    if [[ -z $rps || $rps -le 0 ]]; then
      log "warm-up: $target does not answer redis GET"
      rps=20000
    fi
    REDIS_N[$target]=$((rps * CELL_SECONDS > 20000 ? rps * CELL_SECONDS : 20000))
    client 30 wrk -t1 -c50 -d1s "http://127.0.0.1:$(port_of "$target" http)/" >/dev/null 2>&1 || true
    client 30 iperf3 -c 127.0.0.1 -p "$(port_of "$target" iperf)" -t 1 --connect-timeout 3000 \
      >/dev/null 2>&1 || true
    if [[ $target != haproxy ]]; then
      client 30 dnsperf -s 127.0.0.1 -p "$(port_of "$target" dns)" -d "$TMP/dns-queries.txt" \
        -c 8 -q 100 -l 1 >/dev/null 2>&1 || true
    fi
    log "warm-up $target: ~$rps GET/s, redis GET cell uses -n ${REDIS_N[$target]}"
  done
}

run_workloads() {
  local workload round target
  for workload in "${WORKLOADS[@]}"; do
    for ((round = 1; round <= ROUNDS; round++)); do
      for target in "${TARGETS[@]}"; do
        run_cell "$workload" "$target" "$round"
      done
    done
  done
}

# Memory per idle proxied connection: RSS of the serving process before and while holding
# IDLE_CONNS connections (each answered one PING) through the proxy to redis.
memory_test() {
  local proxy spid before after held ok line name
  printf 'target\tconns_ok\trss_after_runs_kib\trss_before_kib\trss_held_kib\tkib_per_conn\tstatus\n' \
    >"$MEMORY"
  for proxy in "${PROXIES[@]}"; do
    if ! target_alive "$proxy" || ! spid=$(serving_pid "$proxy"); then
      printf '%s\t-\t-\t-\t-\t-\tn/a\n' "$proxy" >>"$MEMORY"
      continue
    fi
    after=${RSS_AFTER_RUNS[$proxy]:-$(rss_kib "$spid")}
    sleep 1
    before=$(rss_kib "$spid")
    name="idle_$proxy"
    start_bg "$name" "$CLIENT_CPU" timeout -k 5 120 python3 "$BENCH_DIR/idle_conns.py" \
      --port "$(port_of "$proxy" redis)" --count "$IDLE_CONNS" --hold 60
    line=""
    for _ in $(seq 600); do
      line=$(grep -m1 '^READY' "$TMP/$name.out" 2>/dev/null || true)
      [[ -n $line ]] && break
      kill -0 "${PID[$name]}" 2>/dev/null || break
      sleep 0.1
    done
    sleep 1
    held=$(rss_kib "$spid")
    stop_bg "$name"
    ok=$(sed -n 's/^READY ok=\([0-9]*\).*/\1/p' <<<"$line")
    if [[ -z $ok || $ok -eq 0 || -z $held ]]; then
      log "memory test $proxy: no connections held ($line $(tail -2 "$TMP/$name.err"))"
      printf '%s\t%s\t%s\t%s\t-\t-\tfailed\n' "$proxy" "${ok:-0}" "$after" "$before" >>"$MEMORY"
      NOTES+=("memory test failed for $proxy")
      continue
    fi
    [[ $ok -eq $IDLE_CONNS ]] || NOTES+=("memory test $proxy: only $ok of $IDLE_CONNS connections answered")
    printf '%s\t%s\t%s\t%s\t%s\t%s\tok\n' "$proxy" "$ok" "$after" "$before" "$held" \
      "$(awk -v a="$before" -v b="$held" -v n="$ok" 'BEGIN { printf "%.2f", (b - a) / n }')" \
      >>"$MEMORY"
    log "memory $proxy: $ok conns, RSS $before -> $held KiB"
    sleep 2   # let the proxy and redis release the connections before the next proxy
  done
}

# ---------------------------------------------------------------------------------------------
# Report

tw_reuse_setup() {
  local value
  value=$(sysctl -n net.ipv4.tcp_tw_reuse 2>/dev/null || echo "?")
  if [[ $value == 0 ]]; then
    if sysctl -qw net.ipv4.tcp_tw_reuse=1 2>/dev/null; then
      TW_REUSE_RESTORE=0
      value="1 (set by run.sh, restored to 0 on exit)"
    else
      NOTES+=("net.ipv4.tcp_tw_reuse is 0 and could not be changed: the Connection: close cell may run out of ephemeral ports")
    fi
  fi
  TW_REUSE=$value
}

write_meta() {
  local cpu virt="" versions l4lb_version="missing"
  cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  if command -v systemd-detect-virt >/dev/null; then
    virt=$(systemd-detect-virt 2>/dev/null || true)
    [[ -n $virt && $virt != none ]] && virt=", virtualized: $virt" || virt=""
  elif grep -qw hypervisor /proc/cpuinfo; then
    virt=", virtualized"
  fi
  if [[ -x $L4LB_BIN ]]; then
    l4lb_version=$("$L4LB_BIN" --version 2>/dev/null | head -1 || true)
    l4lb_version=${l4lb_version:-"$(basename "$L4LB_BIN") (no --version)"}
  fi
  versions="$(haproxy -v | head -1 | awk '{print "HAProxy", $3}'), $(nginx -v 2>&1 | sed 's/.*: //'),"
  versions+=" $(redis-server --version | awk '{print $1, $2, $3}' | sed 's/ v=/ /'),"
  versions+=" $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), $(iperf3 --version | head -1 | awk '{print $1, $2}'),"
  versions+=" l4lb: $l4lb_version"
  {
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'command\t%s\n' "$COMMAND_LINE"
    printf 'elapsed\t%s\n' "$((SECONDS / 60)) min $((SECONDS % 60)) s"
    printf 'kernel\t%s\n' "$(uname -r)"
    printf 'cpu\t%s\n' "$cpu"
    printf 'ncpu\t%s\n' "$(nproc)"
    printf 'virt\t%s\n' "$virt"
    printf 'versions\t%s\n' "$versions"
    printf 'pinning\t%s\n' "each proxy runs one worker (HAProxy \`nbthread 1\`, nginx \`worker_processes 1\` (master+worker), l4lb \`workers = 1\`) started under \`taskset -c $PROXY_CPU\`; every client (redis-benchmark, wrk -t1, iperf3 -c, python) and backend (redis-server, nginx HTTP backend with 1 worker, iperf3 -s) under \`taskset -c $CLIENT_CPU\`. Direct rows use the same client/backend pinning with no proxy. Every process of the benchmark runs at nice $NICE. CPU $CLIENT_CPU is shared by client and backend and is usually the busier CPU, so the direct row is the ceiling of this box rather than of the network stack."
    printf 'settings\t%s\n' "16 KiB buffers (HAProxy \`tune.bufsize 16384\`, nginx \`proxy_buffer_size 16k\`, l4lb's fixed 16 KiB); logging off in all (no HAProxy \`log\`, nginx \`access_log off\`, l4lb \`access_log = \"off\"\`, \`log_level = \"warn\"\`); splice for bulk transfers where the proxy has it (HAProxy \`option splice-auto\`, l4lb's default \`splice = \"auto\"\`; nginx stream has none); all on 127.0.0.1; 3 listeners per proxy (redis, http, iperf3), one backend each."
    printf 'cells\t%s\n' "best of $ROUNDS rounds, interleaved (for each workload: round 1 direct haproxy nginx l4lb, then round 2 ...), ~${CELL_SECONDS} s per cell; a short warm-up per target first. redis GET: \`redis-benchmark -c 50 -n N -t get --csv\` with N sized from the warm-up so the cell lasts ~${CELL_SECONDS} s; wrk: \`wrk -t1 -c50 -d${CELL_SECONDS}s --latency\` (+ \`-H 'Connection: close'\`) against an nginx \`return 200 \"ok\"\` backend; iperf3: \`iperf3 -c 127.0.0.1 -t ${CELL_SECONDS} -J\` (1 stream, received rate); PING: \`redis-benchmark -c 1 -n $PING_N -t ping_mbulk --csv\`. Latencies are the client's (redis-benchmark ms at µs resolution; wrk). RSS is VmRSS of the serving process (nginx: the worker; the nginx master adds ${NGINX_MASTER_RSS:-?} KiB) read right after the cell; proxy CPU is utime+stime of that process over the cell's wall time."
    printf 'sysctl\t%s\n' "net.ipv4.tcp_tw_reuse=$TW_REUSE (2 = reuse for loopback only, which covers this benchmark); ip_local_port_range $(tr '\t' ' ' </proc/sys/net/ipv4/ip_local_port_range); net.core.somaxconn=$(sysctl -n net.core.somaxconn). The Connection: close cell opens tens of thousands of connections; on a non-loopback path without tw_reuse, TIME_WAIT would exhaust ephemeral ports."
    printf 'idle_conns\t%s\n' "$IDLE_CONNS"
    printf 'load\t%s\n' "1/5/15-min load average $LOADAVG_START at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end (0 would mean an otherwise idle box; anything else running adds noise, which interleaving spreads across all targets)"
    printf 'notes\t%s\n' "$(printf '%s || ' "${NOTES[@]}")"
  } >"$META"
}

main() {
  parse_args "$@"
  ensure_tools
  TMP=$(mktemp -d /tmp/l4lb-bench.XXXXXX)
  chmod 755 "$TMP"   # nginx workers run unprivileged
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mkdir -p "$TSV_DIR"
  RESULTS="$TSV_DIR/results.tsv"
  MEMORY="$TSV_DIR/memory.tsv"
  META="$TSV_DIR/meta.tsv"
  CLK_TCK=$(getconf CLK_TCK)
  printf 'workload\ttarget\tround\tthroughput\tunit\tp50_ms\tp99_ms\trss_kib\tcpu_pct\tcpu0_busy_pct\tcpu1_busy_pct\terrors\tstatus\n' \
    >"$RESULTS"
  [[ $(nproc) -ge 2 ]] || die "needs at least 2 CPUs (proxy on CPU $PROXY_CPU, clients on CPU $CLIENT_CPU)"
  local fd_limit
  fd_limit=$(ulimit -n)
  if [[ $fd_limit != unlimited && $fd_limit -lt $((IDLE_CONNS * 2 + 200)) ]]; then
    die "ulimit -n is $fd_limit; the idle-connection test needs $((IDLE_CONNS * 2 + 200))"
  fi

  LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
  if awk -v l="${LOADAVG_START%% *}" 'BEGIN { exit !(l > 0.5) }'; then
    log "warning: load average is $LOADAVG_START; other work on this box will add noise"
  fi
  tw_reuse_setup
  pick_ports
  log "ports $BASE-$((BASE + 15)); ${CELL_SECONDS}s per cell, $ROUNDS rounds; temp dir $TMP"
  start_backends
  start_proxies
  if [[ -n ${UP[nginx]:-} ]]; then NGINX_MASTER_RSS=$(rss_kib "${PID[nginx]}"); fi
  warm_up
  run_workloads
  declare -gA RSS_AFTER_RUNS=()
  local proxy spid
  for proxy in "${PROXIES[@]}"; do
    if target_alive "$proxy" && spid=$(serving_pid "$proxy"); then
      RSS_AFTER_RUNS[$proxy]=$(rss_kib "$spid")
    fi
  done
  memory_test
  for proxy in "${PROXIES[@]}"; do
    if [[ -n ${UP[$proxy]:-} ]] && ! target_alive "$proxy"; then
      NOTES+=("$proxy exited during the run (stderr tail: $(tail -3 "$TMP/$proxy.err" | tr '\n' ' '))")
    fi
  done
  write_meta
  local report
  report=$(python3 "$BENCH_DIR/report.py" --results "$RESULTS" --memory "$MEMORY" --meta "$META")
  printf '%s\n' "$report"
  if [[ -n $OUT_FILE ]]; then
    mkdir -p "$(dirname "$OUT_FILE")"
    local chart=${OUT_FILE%.md}.png
    # Debian's matplotlib is for Debian's python, whatever python3 is first on PATH.
    if /usr/bin/python3 "$BENCH_DIR/chart.py" --results "$RESULTS" --out "$chart"; then
      report+=$'\n\n'"![throughput as a share of direct, per workload]($(basename "$chart"))"
      log "wrote $chart"
    else
      log "warning: no chart (is python3-matplotlib installed?)"
    fi
    printf '%s\n' "$report" >"$OUT_FILE"
    log "wrote $OUT_FILE"
  fi
  log "TSV: $RESULTS, $MEMORY, $META; total $((SECONDS / 60)) min $((SECONDS % 60)) s"
}

main "$@"
