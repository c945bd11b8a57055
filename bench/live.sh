#!/usr/bin/env bash
# Live capture benchmark (issue #14): how fast a replayed federation capture can arrive on a
# device with 0 kernel drops for `fedscope capture` (all analysis, JSON lines written), with
# tcpdump -w /dev/null at the same rates as the reference, and fedscope's memory over a long
# replay (it must stay flat: the live history is bounded).
#
# usage: sudo bench/live.sh [--rates "20000 50000 100000 200000 0"] [--size 20M]
#                           [--sessions 200] [--long-loops 20] [--long-rate 20000] [--keep]
#   --long-loops 0 skips the long run
#   FEDSCOPE=path/to/fedscope  binary to measure (default: build/app/fedscope)
#   rate 0 = tcpreplay --topspeed
#
# Needs root, tcpreplay and tcpdump. Everything happens inside a network namespace of its own
# (a veth pair; the generated capture uses 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24
# only), deleted at the end. Figures depend on the machine: compare the two tools of one run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
rates="20000 50000 100000 200000 0" size=20M sessions=200 loops=20 long_rate=20000 keep=0
fedscope=${FEDSCOPE:-$root/build/app/fedscope}
while (($#)); do
  case $1 in
    --rates) rates=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    --long-loops) loops=$2; shift 2 ;;
    --long-rate) long_rate=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "live.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "live.sh: needs root (network namespace, capture)" >&2; exit 1; }
for tool in python3 tcpreplay tcpdump ip timeout; do
  command -v "$tool" >/dev/null || { echo "live.sh: '$tool' not found (scripts/install-deps.sh --test)" >&2; exit 1; }
done
[[ -x $fedscope ]] || { echo "live.sh: $fedscope not built" >&2; exit 1; }

ns=fsbench$$
work=$(mktemp -d /tmp/fedscope-live.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  ((keep)) || rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link add rA type veth peer name rB
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
for d in rA rB; do ip -n "$ns" link set "$d" mtu 65535 up; done

pcap=$work/fed.pcap
python3 "$here/gen_federation.py" "$pcap" --sessions "$sessions" --target-bytes "$size" --seed 1 --quiet
npk=$(python3 - "$pcap" <<'EOF'
import struct, sys
n = 0
with open(sys.argv[1], "rb") as f:
    f.read(24)
    while True:
        h = f.read(16)
        if len(h) < 16:
            break
        f.seek(struct.unpack("<IIII", h)[2], 1)
        n += 1
print(n)
EOF
)
echo "capture: $(du -h "$pcap" | cut -f1), $npk packets, $sessions federation sessions (gen_federation.py --seed 1)"

wait_listening() {  # ERRFILE: until the tool says it listens (bounded: 5 s)
  for _ in $(seq 100); do grep -q "listening on" "$1" 2>/dev/null && return; sleep 0.05; done
}

replay() {  # rate [extra tcpreplay args...] -> prints the achieved rate (pps)
  local rate=$1
  shift
  local speed=(--pps="$rate")
  ((rate == 0)) && speed=(--topspeed)
  ip netns exec "$ns" timeout 600 tcpreplay -i rA "${speed[@]}" "$@" "$pcap" 2>&1 |
    awk '/Rated:/ { for (i = 1; i <= NF; i++) if ($i == "pps") print $(i - 1) }' | tail -1
}

# fedscope: the final stats event says what the kernel and the interface dropped.
run_fedscope() {  # rate
  local out=$work/ev.jsonl err=$work/ev.err
  ip netns exec "$ns" "$fedscope" capture -i rB -f jsonl --stats-interval 0 >"$out" 2>"$err" &
  local pid=$!
  pids+=("$pid")
  wait_listening "$err"
  local achieved
  achieved=$(replay "$1")
  sleep 1.5
  kill -INT "$pid"
  wait "$pid" || true
  python3 - "$out" "$achieved" "$npk" <<'EOF'
import json, sys
final = [json.loads(l) for l in open(sys.argv[1]) if '"type":"stats"' in l][-1]
i = final["interfaces"][0]
print(f"{sys.argv[2] or '?':>9} pps  got {i['packets']}/{sys.argv[3]}  kernel drops {i['dropped']}  if drops {i['if_dropped']}")
EOF
}

run_tcpdump() {  # rate
  local err=$work/td.err
  ip netns exec "$ns" tcpdump -i rB -B 32768 -w /dev/null 2>"$err" &
  local pid=$!
  pids+=("$pid")
  wait_listening "$err"
  local achieved
  achieved=$(replay "$1")
  sleep 0.5
  kill -INT "$pid"
  wait "$pid" || true
  local got drop
  got=$(awk '/packets captured/ {print $1}' "$err")
  drop=$(awk '/dropped by kernel/ {print $1}' "$err")
  echo "$(printf '%9s' "${achieved:-?}") pps  got $got/$npk  kernel drops $drop"
}

echo
echo "== rate: fedscope capture (all analysis, JSON lines to a file) vs tcpdump -w /dev/null"
for r in $rates; do
  label=$r
  ((r == 0)) && label=topspeed
  echo "-- asked $label"
  echo "   fedscope: $(run_fedscope "$r")"
  echo "   tcpdump:  $(run_tcpdump "$r")"
done

((loops > 0)) || exit 0  # --long-loops 0: no long run (tcpreplay --loop=0 would never end)
echo
echo "== memory over a long replay: $loops loops at $long_rate pps, unique addresses per loop"
out=$work/long.jsonl
ip netns exec "$ns" "$fedscope" capture -i rB -f jsonl --stats-interval 5 ${BUFFER_KIB:+-B "$BUFFER_KIB"} >"$out" 2>"$work/long.err" &
pid=$!
pids+=("$pid")
wait_listening "$work/long.err"
replay "$long_rate" --loop="$loops" --unique-ip >/dev/null &
rp=$!
pids+=("$rp")
samples=()
while kill -0 "$rp" 2>/dev/null; do
  samples+=("$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")")
  sleep 2
done
sleep 1.5
kill -INT "$pid"
wait "$pid" || true
python3 - "$out" "${samples[@]}" <<'EOF'
import json, sys
final = [json.loads(l) for l in open(sys.argv[1]) if '"type":"stats"' in l][-1]
rss = [int(x) // 1024 for x in sys.argv[2:] if x]
i = final["interfaces"][0]
print(f"packets {i['packets']}, kernel drops {i['dropped']}; RSS MB every 2 s: {rss}")
if len(rss) >= 4:
    q = len(rss) // 4
    print(f"RSS second quarter max {max(rss[q:2*q])} MB, last quarter max {max(rss[-q:])} MB")
EOF
