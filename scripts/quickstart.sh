#!/usr/bin/env bash
# Quick start (a): install what is missing, build, and report on a bundled capture.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh release
capture=pcaps/core/nat-port-522/fw-any.pcap
echo
echo "\$ fedscope report $capture --inside-net 192.0.2.0/24 --domain cupdomain.example"
rc=0
./build/app/fedscope report "$capture" --inside-net 192.0.2.0/24 --domain cupdomain.example || rc=$?
# Exit status 1 means "error-level findings": the bundled capture has some, by design.
[[ $rc -le 1 ]]
