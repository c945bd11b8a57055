#!/usr/bin/env bash
# Scaling benchmark: time and peak RSS of `fedscope report --format json -o /dev/null` on N
# bare SYN/SYN-ACK/RST connections and N short plaintext XMPP S2S connections (10k new
# connections per second), generated at benchmark time by bench/hostile.py.
#
# usage: bench/scaling.sh [--sizes 1000,10000,100000] [--big]   (--big adds 500000)
#   FEDSCOPE=path/to/fedscope  binary to measure (default: build/app/fedscope)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec python3 "$here/hostile.py" --scaling "$@"
