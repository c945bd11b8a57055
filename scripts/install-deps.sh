#!/usr/bin/env bash
# Installs the Debian packages fedscope needs to build, test and run its lab.
# Idempotent: runs apt-get only for packages that are missing, and `apt-get update`
# only when something must be installed. Must run as root (or with sudo available).
set -euo pipefail

# Build and runtime libraries; python3 because tests/CMakeLists.txt needs /usr/bin/python3.
build_pkgs=(
  build-essential cmake pkg-config clang-format python3
  libpcap-dev libtins-dev libexpat1-dev libssl-dev libc-ares-dev libncurses-dev
  zlib1g-dev libidn2-dev
  libboost1.81-dev libboost-program-options1.81-dev
  libgtest-dev googletest nlohmann-json3-dev rapidjson-dev
)
# Test tools: packet capture, reference dissector, network namespaces, kernel firewall.
test_pkgs=(
  tcpdump tshark tcpreplay tmux iproute2 nftables socat dnsmasq-base bind9-dnsutils python3 time jq tzdata
  clang libclang-rt-14-dev python3-jsonschema
  prosody ejabberd python3-slixmpp openssl
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

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  sudo="sudo"
fi
need_root() {
  [[ -z "$sudo" ]] || command -v sudo >/dev/null ||
    { echo "install-deps: run as root ($1)" >&2; exit 1; }
}
updated=0
apt_update() {  # at most once per run
  if ((updated == 0)); then
    $sudo apt-get update -qq
    updated=1
  fi
}
export DEBIAN_FRONTEND=noninteractive

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#want[@]} packages present"
else
  need_root "missing: ${missing[*]}"
  echo "install-deps: installing ${missing[*]}"
  # tshark asks whether non-root users may capture; answer without a terminal.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
  apt_update
  # The lab runs its own Prosody/ejabberd/dnsmasq inside network namespaces: keep apt from
  # starting system instances (they would take ports 5222/5269 and can fail without an init
  # system). A policy-rc.d that the machine already has is left alone.
  policy=/usr/sbin/policy-rc.d
  added_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    added_policy=1
  fi
  rc=0
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null || rc=$?
  ((added_policy == 0)) || $sudo rm -f "$policy"
  ((rc == 0)) || exit "$rc"
fi

# expat: 2.5.0-1+deb12u5 backports the CVE-2023-52425 fix together with
# XML_SetReparseDeferralEnabled, which the XMPP parser uses to keep callbacks per chunk. Older
# builds still work (they have no deferral); upgrade when the archive has the fix.
expat_min="2.5.0-1+deb12u5"
expat_ver=$(dpkg-query -W -f='${Version}' libexpat1-dev 2>/dev/null || true)
if [[ -n "$expat_ver" ]] && dpkg --compare-versions "$expat_ver" lt "$expat_min"; then
  need_root "libexpat1-dev $expat_ver < $expat_min"
  echo "install-deps: upgrading libexpat1-dev $expat_ver (want >= $expat_min)"
  if ! { apt_update && $sudo apt-get install -y -qq --only-upgrade libexpat1-dev libexpat1 </dev/null; }; then
    echo "install-deps: could not upgrade libexpat1-dev; building without reparse-deferral control" >&2
  fi
  echo "install-deps: libexpat1-dev $(dpkg-query -W -f='${Version}' libexpat1-dev)"
fi
