#!/usr/bin/env bash
# ctest "xmpp_regenerate_and_check": regenerate every XMPP/TLS scenario (scripted s2s peer,
# real kernels and OpenSSL, network namespaces) into a temporary folder and check fedscope's
# findings against each scenario's expected.json (no golden comparison: ports, keys, stream
# ids and times change every run). Needs root and `ip netns`; exit 77 = skipped.
#   tests/netns/xmpp-regen-and-check.sh FEDSCOPE
set -euo pipefail
fedscope=$1
here=$(cd "$(dirname "$0")" && pwd)
if [[ $(id -u) -ne 0 ]] || ! ip netns list >/dev/null 2>&1; then
  echo "XMPP netns regeneration needs root and network namespaces: skipped"
  exit 77
fi
out=$(mktemp -d /tmp/fedscope-xmpp.XXXXXX)
trap 'rm -rf "$out"' EXIT
FSX_OUT=$out timeout 600 "$here/make-xmpp-captures.sh"
/usr/bin/python3 "$here/../pcap/check_pcaps.py" --fedscope "$fedscope" --pcaps "$out" expectations
