#!/usr/bin/env bash
# Quick start (b): install what is missing, build (release and ASan+UBSan), run every test.
# The release build also regenerates the core captures from real kernels and the federation
# lab with real XMPP servers (ctest labels "netns" and "lab", need root); the sanitizer build
# runs everything else but the CPU/RSS shape test (label "perf": sanitizers change both).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --test
./scripts/build.sh release
echo "== release build: every test"
ctest --test-dir build --output-on-failure -j2
echo "== every standard build type builds with warnings as errors"
./scripts/build-types.sh
echo "== fuzzing: replay the seed corpus, then each target for a bounded time (clang, ASan+UBSan)"
./scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
./scripts/build.sh asan
echo "== ASan+UBSan build: every test"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j2 -LE "netns|lab|perf"
./scripts/build.sh tsan
echo "== ThreadSanitizer build: --threads 2 equals --threads 1 on every capture, no race"
TSAN_OPTIONS=halt_on_error=1:exitcode=66 \
  /usr/bin/python3 tests/pcap/check_pcaps.py --fedscope build-tsan/app/fedscope threads
echo "== ThreadSanitizer build: the TUI's analysis thread and view (tui --dump reads on its own thread)"
for set in "pcaps/lab/fw-drop-5269/fw-outside.pcap pcaps/lab/fw-drop-5269/fw-inside.pcap" \
           pcaps/lab/healthy-ca/fw-any.pcap pcaps/xmpp/tls13-healthy/s2s.pcap; do
  # shellcheck disable=SC2086
  TSAN_OPTIONS=halt_on_error=1:exitcode=66 build-tsan/app/fedscope tui --dump 100x30 $set >/dev/null
done
# The interactive TUI with its saver threads, the ring and follow mode, driven in tmux.
TSAN_OPTIONS=halt_on_error=1:exitcode=66 \
  /usr/bin/python3 tests/tui/check_tui.py build-tsan/app/fedscope --no-live
echo "tsan tui: ok"
