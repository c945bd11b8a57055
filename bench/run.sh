#!/usr/bin/env bash
# Throughput benchmark: fedscope vs tcpdump vs tshark on synthetic federation captures.
#
# usage: bench/run.sh [--size 150M --size 1G] [--sessions 2000] [--seed 1] [--repeat 3]
#                     [--tshark-max-bytes 0] [--timeout 1800] [--keep] [--no-scaling]
#   FEDSCOPE=path/to/fedscope  binary to measure (default: build/app/fedscope)
#
# For each --size (default: 150M and 1G, the [perf] goals) it generates the capture in a
# temporary directory (removed at the end unless --keep), warms the page cache, runs each
# tool --repeat times, interleaved (round r runs every tool once), under /usr/bin/time -v and
# `timeout` (fedscope with --threads 2 and 1), and prints the median wall time, throughput
# and the largest peak RSS per tool plus the speed ratios (a shared 2-core VM varies by
# +-25 % from one run to the next: one run proves little). tshark reads the
# whole file unless --tshark-max-bytes cuts it (then its time is scaled). Then the scaling
# table (bench/scaling.sh) unless --no-scaling.  See bench/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
sizes=() sessions=2000 seed=1 tshark_max=0 tmo=1800 keep=0 scaling=1 repeat=3
fedscope=${FEDSCOPE:-$root/build/app/fedscope}

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while (($#)); do
  case $1 in
    --size) sizes+=("$2"); shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --tshark-max-bytes) tshark_max=$2; shift 2 ;;
    --timeout) tmo=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --no-scaling) scaling=0; shift ;;
    -h | --help) usage 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

for tool in python3 tcpdump tshark /usr/bin/time timeout; do
  command -v "$tool" >/dev/null || { echo "run.sh: '$tool' not found (scripts/install-deps.sh --test)" >&2; exit 1; }
done
to_bytes() { python3 -c "import sys; sys.path.insert(0, '$here'); from gen_federation import parse_size; print(parse_size('$1'))"; }
tshark_max_bytes=$(to_bytes "$tshark_max")
((${#sizes[@]})) || sizes=(150M 1G)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fedscope-bench.XXXXXX")
cleanup() { if ((keep)); then echo "kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM


bench_size() {
local size=$1
local cap=$tmp/federation-$size.pcap
echo
echo "== generating ~$size, $sessions sessions (seed $seed) in $tmp"
t0=$(now)
timeout "$tmo" python3 "$here/gen_federation.py" "$cap" --sessions "$sessions" --target-bytes "$size" \
  --seed "$seed" --summary "$tmp/gen.json" --quiet >/dev/null
t1=$(now)
bytes=$(stat -c %s "$cap")
gen_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
packets=$(python3 -c "import json; print(json.load(open('$tmp/gen.json'))['packets'])")
echo "   $bytes bytes, $packets packets in $(fmt "$gen_s") s ($(awk -v b="$bytes" -v s="$gen_s" 'BEGIN { printf "%.1f", b / 1e6 / s }') MB/s)"
cat "$cap" >/dev/null # page cache warm for every tool

# run NAME FILE CMD...: time CMD, append "NAME wall rc rss_mb file_bytes" to $tmp/results
run() {
  local name=$1 file=$2; shift 2
  if ((round == 1)); then echo "== $name: $*"; fi
  local s e rc=0
  s=$(now)
  /usr/bin/time -v -o "$tmp/$name.time" timeout "$tmo" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  e=$(now)
  # fedscope exits 1 when it reports error-level findings: the synthetic capture has failing
  # sessions on purpose, so that is a successful run.
  if [[ $name == fedscope* && $rc == 1 ]]; then rc=0; fi
  local rss
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$tmp/$name.time")
  if ((rc == 124)); then echo "   TIMEOUT after ${tmo}s"; elif ((rc != 0)); then
    echo "   exit status $rc; stderr tail:"; { grep -v 'Running as user "root"' "$tmp/$name.err" || true; } | tail -5 | sed 's/^/     /'
  fi
  echo "$name $(awk -v a="$s" -v b="$e" 'BEGIN { print b - a }') $rc ${rss:-0} $(stat -c %s "$file")" >>"$tmp/results"
}

: >"$tmp/results"
tshark_file=$cap
if ((tshark_max_bytes > 0 && bytes > tshark_max_bytes)); then
  # Cut at the last whole record that fits in the limit (pcap records are walked, not
  # parsed, so the cut is exact); tshark's time is then scaled by bytes / prefix bytes.
  off=$(python3 - "$cap" "$tshark_max_bytes" <<'EOF'
import struct, sys
path, limit = sys.argv[1], int(sys.argv[2])
with open(path, "rb") as f:
    off = 24
    while True:
        f.seek(off + 8)
        h = f.read(4)
        if len(h) < 4:
            break
        nxt = off + 16 + struct.unpack("<I", h)[0]
        if nxt > limit:
            break
        off = nxt
print(off)
EOF
)
  head -c "$off" "$cap" >"$tmp/prefix.pcap"
  tshark_file=$tmp/prefix.pcap
  echo "== tshark runs on the first $off bytes (--tshark-max-bytes $tshark_max); its time is scaled x$(awk -v a="$bytes" -v b="$off" 'BEGIN { printf "%.2f", a / b }') to the full file"
fi

for ((round = 1; round <= repeat; round++)); do
  echo "-- round $round of $repeat"
  if [[ -x $fedscope ]]; then
    run fedscope "$cap" "$fedscope" report "$cap" --format json -o /dev/null --threads 2
    run fedscope-1thread "$cap" "$fedscope" report "$cap" --format json -o /dev/null --threads 1
  elif ((round == 1)); then
    echo "== fedscope: SKIPPED, no executable at $fedscope (build it, or set FEDSCOPE=/path/to/fedscope)"
  fi
  run tcpdump "$cap" tcpdump -r "$cap" -w /dev/null
  run tshark "$tshark_file" tshark -r "$tshark_file" -d tcp.port==5269,xmpp -q -z io,phs
done

echo
# The median wall per tool (mawk has no sort, hence python), the largest RSS, the worst exit
# status; ratios of the medians.
python3 - "$tmp/results" "$bytes" <<'EOF'
import statistics, sys
rows, total = {}, int(sys.argv[2])
for line in open(sys.argv[1]):
    name, wall, rc, rss, fbytes = line.split()
    rows.setdefault(name, []).append((float(wall), int(rc), float(rss), int(fbytes)))
print("%-17s %12s %10s %12s  %s" % ("tool", "wall s", "MB/s", "peak RSS MB", "note"))
speed = {}
for name, runs in rows.items():
    walls = [r[0] for r in runs]
    rc = max(r[1] for r in runs)
    rss = max(r[2] for r in runs)
    fbytes = runs[0][3]
    wall = statistics.median(walls)
    mbps = fbytes / 1e6 / wall
    note = "median of %d (%.2f-%.2f s)" % (len(walls), min(walls), max(walls)) if len(walls) > 1 else ""
    if fbytes < total:
        note += "; on a %.0f MB prefix, scaled linearly (RSS not scaled)" % (fbytes / 1e6)
    if rc == 124:
        note = "TIMEOUT (" + note + ")"
    elif rc != 0:
        note = "exit status %d %s" % (rc, note)
    print("%-17s %12.2f %10.1f %12.1f  %s" % (name, wall * total / fbytes, mbps, rss, note))
    speed[name] = mbps if rc == 0 else 0
print("\nfile: %.1f MB (MB = 10^6 bytes)" % (total / 1e6))
f = speed.get("fedscope", 0)
if not f:
    print("fedscope not measured: no ratios")
else:
    if speed.get("tshark"):
        print("fedscope/tshark  speed ratio: %.2f (medians)" % (f / speed["tshark"]))
    if speed.get("tcpdump"):
        print("fedscope/tcpdump speed ratio: %.2f (medians)" % (f / speed["tcpdump"]))
    if speed.get("fedscope-1thread"):
        print("fedscope 2 threads / 1 thread: %.2f" % (f / speed["fedscope-1thread"]))
EOF
rm -f "$cap" "$tmp/prefix.pcap"
}

now() { date +%s.%N; }
fmt() { awk -v x="$1" 'BEGIN { printf "%.2f", x }'; }
for size in "${sizes[@]}"; do bench_size "$size"; done
if ((scaling)) && [[ -x $here/scaling.sh && -x $fedscope ]]; then
  echo
  echo "== scaling (bench/scaling.sh)"
  FEDSCOPE=$fedscope "$here/scaling.sh"
fi
