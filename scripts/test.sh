#!/usr/bin/env bash
# Installs what the tests need, builds l4lb twice (release, and ASan+UBSan) and runs every test
# on both: unit tests (GoogleTest), integration tests (the real binary against real servers and
# clients on loopback), then each libFuzzer target for a bounded time.
# FUZZ_SECONDS (default 20) sets the time per fuzz target; TEST_JOBS (default 4) how many
# integration test files run at once (pytest-xdist, a file per worker: the tests mostly wait on
# servers and timers, so more workers than cores still shortens the run).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-packages.sh build test
# The browser test's playwright-core, exactly as tests/browser/package-lock.json pins it (it
# drives Debian's /usr/bin/chromium: no browser is downloaded).
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error

fuzz_seconds=${FUZZ_SECONDS:-10}
test_jobs=${TEST_JOBS:-4}
status=0
# Each step prints the minutes and seconds since the start, so a slow CI log shows where.
step() { printf '\n=== [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

step "format (clang-format, .clang-format)"
if ! git ls-files -- '*.cc' '*.h' | xargs clang-format --dry-run -Werror; then
  echo "run: git ls-files -- '*.cc' '*.h' | xargs clang-format -i"
  status=1
fi

# The GoogleTest binary in one shard per CPU at once (GTEST_SHARD_INDEX), rather than one
# process per test as ctest starts them: 433 ASan process starts were a minute of the run. Then
# the other ctest tests (the layering check). A failing shard's whole output is printed.
run_unit_tests() {
  local dir=$1 shards rc=0 i
  shards=$(nproc)
  local pids=()
  for ((i = 0; i < shards; i++)); do
    GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i "$dir/l4lb_unit_tests" --gtest_brief=1 \
      >"$dir/unit-shard-$i.log" 2>&1 &
    pids+=($!)
  done
  for ((i = 0; i < shards; i++)); do
    if wait "${pids[$i]}"; then
      tail -1 "$dir/unit-shard-$i.log"
    else
      cat "$dir/unit-shard-$i.log"
      rc=1
    fi
  done
  ctest --test-dir "$dir" --output-on-failure -R '^layers$' || rc=1
  return "$rc"
}

for preset in release sanitize; do
  step "build ($preset)"
  ./scripts/build.sh "$preset"
  dir=build
  [ "$preset" = release ] || dir=build/$preset
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

  step "unit tests ($preset)"
  run_unit_tests "$dir" || status=1

  step "integration tests ($preset)"
  L4LB_BIN="$PWD/$dir/l4lb" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    -n "$test_jobs" --dist loadfile tests/integration || status=1

  # The fault suite's quick tier (docs/reliability.md) once, on the release build: its scenarios
  # load the machine on purpose, so they run alone, after the integration tests.
  if [ "$preset" = release ]; then
    step "fault suite, quick tier (scripts/faults.sh)"
    L4LB_BIN="$PWD/$dir/l4lb" ./scripts/faults.sh --quick || status=1
  fi
done

step "fuzz targets (clang, ASan+UBSan, ${fuzz_seconds}s each, $(nproc) at a time)"
./scripts/build.sh fuzz
fuzz_dir=$(mktemp -d)
run_fuzz() {  # run_fuzz TARGET: its log and exit status land in $fuzz_dir/NAME.{log,rc}
  local target=$1 name corpus seeds rc=0
  name=$(basename "$target" _fuzz)
  corpus=$fuzz_dir/$name.corpus
  mkdir -p "$corpus"
  seeds=fuzz/corpus/$name
  [ -d "$seeds" ] || seeds=""
  "$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=0 "$corpus" $seeds >"$fuzz_dir/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$fuzz_dir/$name.rc"
}
for target in build/fuzz/*_fuzz; do
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || true; done
  run_fuzz "$target" &
done
wait
for target in build/fuzz/*_fuzz; do
  name=$(basename "$target" _fuzz)
  echo "--- $name"
  if [ "$(cat "$fuzz_dir/$name.rc")" != 0 ]; then
    tail -50 "$fuzz_dir/$name.log"
    status=1
  else
    grep -E '^(#[0-9]+\s+DONE|Done)' "$fuzz_dir/$name.log" | tail -1 || true
  fi
done
rm -rf "$fuzz_dir"

if [ "$status" -eq 0 ]; then step "all tests passed"; else step "SOME TESTS FAILED"; fi
exit "$status"
