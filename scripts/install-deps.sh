#!/usr/bin/env bash
# Installs the Debian packages fedscope needs to build, test and run its lab.
# Idempotent: runs apt-get only for packages that are missing, and `apt-get update`
# only when something must be installed. Must run as root (or with sudo available).
set -euo pipefail

# Build and runtime libraries.
build_pkgs=(
  build-essential cmake pkg-config clang-format
  libpcap-dev libtins-dev libexpat1-dev libssl-dev libc-ares-dev libncurses-dev
  libboost1.81-dev libboost-program-options1.81-dev
  libgtest-dev googletest nlohmann-json3-dev
)
# Test tools: packet capture, reference dissector, network namespaces, kernel firewall.
test_pkgs=(
  tcpdump tshark iproute2 nftables socat dnsmasq-base bind9-dnsutils python3 time jq
  clang libclang-rt-14-dev python3-jsonschema
)

want=("${build_pkgs[@]}")
case "${1:-}" in
  --test) want+=("${test_pkgs[@]}") ;;
  "" | --build) ;;
  *) echo "usage: $0 [--build|--test]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (missing: ${missing[*]})" >&2; exit 1; }
  sudo="sudo"
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer without a terminal.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
