#!/usr/bin/env bash
# Configures and builds one tree. usage: scripts/build.sh [release|asan|tsan]
# (tsan builds the fedscope executable only: it is for the two-thread analysis)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
target=()
case "$kind" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DFEDSCOPE_SANITIZE=ON) ;;
  tsan) dir=build-tsan; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DFEDSCOPE_TSAN=ON -DFEDSCOPE_TESTS=OFF)
    target=(--target fedscope) ;;
  *) echo "usage: $0 [release|asan|tsan]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"${JOBS:-2}" "${target[@]}"
