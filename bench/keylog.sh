#!/usr/bin/env bash
# Decryption benchmark: `fedscope report --tls-keylog` vs `tshark -o tls.keylog_file` on a
# synthetic encrypted federation capture (bench/gen_tls_federation.py: real OpenSSL TLS
# sessions over memory BIOs, STARTTLS, dialback and stanzas inside TLS).
#
# usage: bench/keylog.sh [--size 100M] [--sessions 400] [--tls 1.3|1.2] [--repeat 3]
#                        [--timeout 1200] [--keep]
#   FEDSCOPE=path/to/fedscope  binary to measure (default: build/app/fedscope)
#
# Runs, interleaved --repeat times under /usr/bin/time -v: fedscope with the key log (2 and
# 1 threads), fedscope without it, and tshark decrypting with the same key log and dissecting
# XMPP on 5269 (-q -z io,phs). Prints median wall time, MB/s, peak RSS and the ratios.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
size=100M sessions=400 tls=1.3 repeat=3 tmo=1200 keep=0
fedscope=${FEDSCOPE:-$root/build/app/fedscope}
while (($#)); do
  case $1 in
    --size) size=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    --tls) tls=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --timeout) tmo=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "keylog.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for tool in python3 tshark /usr/bin/time timeout; do
  command -v "$tool" >/dev/null || { echo "keylog.sh: '$tool' not found (scripts/install-deps.sh --test)" >&2; exit 1; }
done
[[ -x $fedscope ]] || { echo "keylog.sh: $fedscope not built" >&2; exit 1; }

work=$(mktemp -d /tmp/fedscope-keylog.XXXXXX)
((keep)) || trap 'rm -rf "$work"' EXIT
pcap=$work/tls.pcap keys=$work/sslkeylog.txt
python3 "$here/gen_tls_federation.py" "$pcap" "$keys" --sessions "$sessions" \
  --target-bytes "$size" --tls "$tls" --seed 1
chmod 600 "$keys"
bytes=$(stat -c %s "$pcap")
cat "$pcap" >/dev/null  # page cache

declare -A cmd
cmd[fedscope-keylog-2t]="$fedscope report $pcap --tls-keylog $keys --threads 2 -f json -o /dev/null"
cmd[fedscope-keylog-1t]="$fedscope report $pcap --tls-keylog $keys --threads 1 -f json -o /dev/null"
cmd[fedscope-keyless]="$fedscope report $pcap --threads 2 -f json -o /dev/null"
cmd[tshark-keylog]="tshark -r $pcap -o tls.keylog_file:$keys -d tcp.port==5269,xmpp -q -z io,phs"
order=(fedscope-keylog-2t fedscope-keylog-1t fedscope-keyless tshark-keylog)

for ((r = 1; r <= repeat; r++)); do
  for t in "${order[@]}"; do
    # fedscope exits 1 when a direction failed or an error-level finding exists: not an error.
    timeout "$tmo" /usr/bin/time -v ${cmd[$t]} >/dev/null 2>"$work/$t.$r.time" || true
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0;
            for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$work/$t.$r.time")
    rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$work/$t.$r.time")
    echo "$t $wall $rss" >>"$work/results"
  done
done

python3 - "$work/results" "$bytes" "$tls" "$sessions" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
size = int(sys.argv[2])
by = {}
for t, wall, rss in rows:
    by.setdefault(t, []).append((float(wall), int(rss)))
med = {t: statistics.median(w for w, _ in v) for t, v in by.items()}
print(f"\nTLS {sys.argv[3]} federation capture, {size / 1e6:.0f} MB, {sys.argv[4]} sessions; "
      f"medians of {len(next(iter(by.values())))} interleaved runs")
print(f"{'tool':22} {'wall s':>8} {'MB/s':>8} {'peak RSS MB':>12}")
for t, v in by.items():
    print(f"{t:22} {med[t]:8.2f} {size / 1e6 / med[t]:8.1f} {max(r for _, r in v) / 1024:12.0f}")
print(f"\nfedscope --tls-keylog (2 threads) vs tshark -o tls.keylog_file: "
      f"{med['tshark-keylog'] / med['fedscope-keylog-2t']:.1f}x faster")
print(f"cost of decryption in fedscope: {med['fedscope-keylog-2t'] / med['fedscope-keyless']:.2f}x "
      f"the keyless run")
EOF
