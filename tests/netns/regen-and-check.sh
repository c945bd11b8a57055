#!/usr/bin/env bash
# ctest "netns": regenerate every core scenario from real kernels into a temporary folder and
# check fedscope's findings against each scenario's expected.json (no golden comparison:
# times, ports and sequence numbers change from run to run). Needs root and `ip netns`.
set -euo pipefail
fedscope=$1
here=$(cd "$(dirname "$0")" && pwd)
if [[ $(id -u) -ne 0 ]] || ! ip netns list >/dev/null 2>&1; then
  echo "netns regeneration needs root and network namespaces: skipped"
  exit 77
fi
out=$(mktemp -d /tmp/fedscope-netns.XXXXXX)
trap 'rm -rf "$out"' EXIT
FSC_OUT=$out timeout 600 "$here/make-core-captures.sh"
/usr/bin/python3 "$here/../pcap/check_pcaps.py" --fedscope "$fedscope" --pcaps "$out" expectations
