#!/usr/bin/env bash
# The fault suite (tests/faults/, docs/reliability.md): real l4lb, real traffic from l4load,
# faults injected with kill, ss -K, nftables, prlimit, a full tmpfs. Needs root and a build
# (build/l4lb and build/l4load, or L4LB_BIN; l4load is looked for beside it).
#   scripts/faults.sh            the quick tier (a few minutes; CI runs it from scripts/test.sh)
#   scripts/faults.sh --full     the issue's figures, with HAProxy and nginx side by side
# Extra arguments go to pytest (e.g. -k half_close). Prints the table of scenarios with their
# figures; the rows are in build/faults/results-TIER.{jsonl,json} and table-TIER.md.
set -euo pipefail
cd "$(dirname "$0")/.."
tier=quick
args=()
for a in "$@"; do
  case "$a" in
    --full) tier=full ;;
    --quick) tier=quick ;;
    *) args+=("$a") ;;
  esac
done
out=${FAULTS_OUT:-$PWD/build/faults}
mkdir -p "$out"
results=$out/results-$tier.jsonl
rm -f "$results"
export L4LB_FAULTS_TIER=$tier L4LB_FAULTS_RESULTS=$results
export L4LB_BIN=${L4LB_BIN:-$PWD/build/l4lb}
status=0
/usr/bin/python3 -m pytest -q -p no:cacheprovider -c tests/faults/pytest.ini tests/faults \
  ${args[@]+"${args[@]}"} || status=$?
if [ -s "$results" ]; then
  /usr/bin/python3 tests/faults/report.py "$results" --json "$out/results-$tier.json" \
    | tee "$out/table-$tier.md"
fi
exit "$status"
