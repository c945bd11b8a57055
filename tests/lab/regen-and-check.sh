#!/usr/bin/env bash
# Regenerate every lab scenario (real Prosody, ejabberd, dnsmasq, nftables in network
# namespaces) into a temporary folder and check fedscope's DNS/TCP/NAT findings against each
# scenario's expected.json (no golden comparison: times, ports, keys change every run).
#   tests/lab/regen-and-check.sh FEDSCOPE          (root; exit 77 = skipped)
set -euo pipefail
fedscope=$1
here=$(cd "$(dirname "$0")" && pwd)
if [[ $(id -u) -ne 0 ]] || ! ip netns list >/dev/null 2>&1; then
  echo "lab regeneration needs root and network namespaces: skipped"
  exit 77
fi
out=$(mktemp -d /tmp/fedscope-lab.XXXXXX)
trap 'rm -rf "$out"' EXIT
FSL_OUT=$out timeout 900 "$here/lab.sh"
/usr/bin/python3 "$here/../pcap/check_pcaps.py" --fedscope "$fedscope" --pcaps "$out" expectations
