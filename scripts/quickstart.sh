#!/usr/bin/env bash
# Installs what l4lb needs, builds it, and shows it working: two demo HTTP backends on
# 127.0.0.1:9001 and :9002, l4lb on 127.0.0.1:8080 in front of them (examples/quickstart.toml),
# and a few requests answered by alternating backends. Everything it starts, it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-packages.sh build quickstart
./scripts/build.sh release

demo=$(mktemp -d /tmp/l4lb-quickstart.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$demo"
}
trap cleanup EXIT

wait_for_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing is listening on 127.0.0.1:$1" >&2
  return 1
}

for n in 1 2; do
  mkdir -p "$demo/backend-$n"
  echo "hello from backend-$n" >"$demo/backend-$n/index.html"
  python3 -m http.server "900$n" --bind 127.0.0.1 --directory "$demo/backend-$n" \
    >"$demo/backend-$n.log" 2>&1 &
  pids+=($!)
done
wait_for_port 9001
wait_for_port 9002

build/l4lb check -c examples/quickstart.toml
build/l4lb run -c examples/quickstart.toml 2>"$demo/l4lb.log" &
l4lb_pid=$!
pids+=("$l4lb_pid")
wait_for_port 8080
echo "l4lb is listening on 127.0.0.1:8080 in front of 127.0.0.1:9001 and 127.0.0.1:9002:"
for i in 1 2 3 4 5 6; do
  printf 'request %d -> %s\n' "$i" "$(curl -sS --max-time 5 http://127.0.0.1:8080/)"
done

kill -TERM "$l4lb_pid"
wait "$l4lb_pid"
echo "l4lb stopped cleanly on SIGTERM. Its log:"
sed 's/^/  /' "$demo/l4lb.log"
