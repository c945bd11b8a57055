#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan), replays the seed corpus made from pcaps/,
# then fuzzes each target for a bounded time with a fixed seed. Any crash, leak or sanitizer
# report fails the run. usage: scripts/fuzz.sh [seconds-per-target (default 30)]
# Longer runs: scripts/fuzz.sh 3600 (the corpus grows in build-fuzz/corpus-*).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFEDSCOPE_SANITIZE=ON -DFEDSCOPE_FUZZ=ON -DFEDSCOPE_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"${JOBS:-2}" --target fuzz_dns fuzz_packet fuzz_xmpp fuzz_xmpp_fastpath fuzz_tls \
  fuzz_capture
seeds=$(mktemp -d /tmp/fedscope-seeds.XXXXXX)
trap 'rm -rf "$seeds"' EXIT
/usr/bin/python3 tests/fuzz/make_corpus.py "$seeds"
for t in dns packet xmpp xmpp_fastpath tls capture; do
  corpus=build-fuzz/corpus-$t
  mkdir -p "$corpus"
  echo "== fuzz_$t: replay $(ls "$seeds/$t" | wc -l) seeds, then ${seconds}s with -seed=1"
  ./build-fuzz/tests/fuzz/fuzz_$t -runs=0 "$seeds/$t"
  timeout $((seconds + 120)) ./build-fuzz/tests/fuzz/fuzz_$t -seed=1 -max_total_time="$seconds" \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 "$corpus" "$seeds/$t" 2>&1 | tail -12
done
echo "fuzzing: no crash, leak or sanitizer report"
