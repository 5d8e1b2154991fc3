#!/usr/bin/env bash
# Installs the Debian packages named by purpose (build, quickstart, test, bench), skipping the
# apt-get round trip when they are all present already.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/packages.sh
source "$here/packages.sh"

wanted=()
for purpose in "$@"; do
  case "$purpose" in
    build) wanted+=("${L4LB_BUILD_PACKAGES[@]}") ;;
    quickstart) wanted+=("${L4LB_QUICKSTART_PACKAGES[@]}") ;;
    test)
      wanted+=("${L4LB_TEST_PACKAGES[@]}")
      command -v npm >/dev/null || wanted+=("${L4LB_TEST_PACKAGES_IF_NO_NPM[@]}")
      ;;
    bench) mapfile -t -O "${#wanted[@]}" wanted < <(grep -v '^#' "$here/../bench/packages.txt" | tr ' ' '\n' | grep .) ;;
    *) echo "install-packages.sh: unknown purpose '$purpose'" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
