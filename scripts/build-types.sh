#!/usr/bin/env bash
# Builds every standard CMake build type (warnings are errors in each) that the other scripts
# do not: RelWithDebInfo is scripts/build.sh release, Debug+sanitizers is scripts/build.sh asan.
# g++ warns differently at -O0, -O2, -O3 and -Os (e.g. -Wrestrict false positives at -O3), so
# each type is compiled, tests included. usage: scripts/build-types.sh [TYPE...]
set -euo pipefail
cd "$(dirname "$0")/.."
types=("$@")
((${#types[@]})) || types=(Debug Release MinSizeRel)
for t in "${types[@]}"; do
  case "$t" in
    Debug | Release | MinSizeRel | RelWithDebInfo) ;;
    *) echo "usage: $0 [Debug|Release|MinSizeRel|RelWithDebInfo]..." >&2; exit 2 ;;
  esac
  echo "== build type $t (warnings are errors)"
  cmake -S . -B "build-types/$t" -DCMAKE_BUILD_TYPE="$t" -DFEDSCOPE_WERROR=ON >/dev/null
  log="build-types/$t/build.log"
  if ! cmake --build "build-types/$t" -j"${JOBS:-2}" >"$log" 2>&1; then
    grep -E "error|Error" -A5 "$log" | head -60 >&2
    echo "   FAILED (whole log: $log)" >&2
    exit 1
  fi
  # Release on g++ 12 keeps libstdc++'s -O3 false positives as warnings: count, don't dump.
  echo "   built ($(grep -c 'warning:' "$log" || true) compiler warnings; log: $log)"
done
