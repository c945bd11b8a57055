# Shared helpers for the scripts that build network-namespace test topologies
# (tests/netns/make-core-captures.sh, tests/lab/lab.sh). Sourced, not run.
#
# The caller sets before sourcing: TAG (short name: log prefix, namespace and veth prefix),
# DEBUG (non-empty: log the phases), LOG_FD, BUDGET (watchdog seconds); and keeps the arrays
# PIDS (background processes it started) and NS_CREATED (namespaces it created).
# shellcheck shell=bash

log() { printf '%s %s: %s\n' "$(date +%T.%3N)" "$TAG" "$*" >&"$LOG_FD"; }
die() { log "ERROR: $*"; exit 1; }
dbg() { [[ -z ${DEBUG:-} ]] || log "debug: $*"; }

# Run a command in a namespace, bounded in time.
nsx() { local ns=$1; shift; timeout -k 1 "${NSX_T:-10}" ip netns exec "$ns" "$@"; }

# bg_start NS LIMIT_S LOGFILE CMD... : start CMD in NS in the background under `timeout`
# (its own process group: a TERM to the wrapper reaches every process of the group),
# record the PID (BG_PID, PIDS).
bg_start() {
  local ns=$1 limit=$2 logf=$3
  shift 3
  timeout -k 3 "$limit" ip netns exec "$ns" "$@" </dev/null >"$logf" 2>&1 &
  BG_PID=$!
  PIDS+=("$BG_PID")
}

alive() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [[ ${st%% *} != Z ]]
}

# stop_pid PID [SIGNAL] [WAIT_TENTHS]: signal, wait (default 3 s), then SIGKILL; reap.
stop_pid() {
  local pid=$1 sig=${2:-TERM} tenths=${3:-30} i
  if alive "$pid"; then
    kill -s "$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < tenths; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      log "pid $pid ignored SIG$sig, sending SIGKILL"
      kill -s KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 20; i++)); do alive "$pid" || break; sleep 0.1; done
    fi
  fi
  wait "$pid" 2>/dev/null || true
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# Delete the namespaces this run created. Processes still inside them were started by this
# run (children of what it started); they are ended by PID before the delete.
topo_down() {
  local ns pid i
  for ns in "${NS_CREATED[@]}"; do
    for pid in $(timeout 5 ip netns pids "$ns" 2>/dev/null); do
      kill -s KILL "$pid" 2>/dev/null || true
    done
    timeout 10 ip netns del "$ns" 2>/dev/null || log "could not delete namespace $ns"
  done
  NS_CREATED=()
  # Namespace teardown is asynchronous; wait (bounded) until they are gone.
  for ((i = 0; i < 50; i++)); do
    ip netns list 2>/dev/null | grep -q "^$TAG-" || break
    sleep 0.1
  done
}

# proc_start PID: the process's start time (clock ticks since boot), to recognise it again.
proc_start() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  # shellcheck disable=SC2086  # split the fields on purpose
  set -- $st
  echo "${20}"  # field 22 of stat; the remainder starts at field 3
}

# Ends the run (SIGTERM to it, so its EXIT trap cleans up) after BUDGET seconds.
start_watchdog() {
  local main=$$ start
  start=$(proc_start $$)
  (
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$BUDGET" &
    sp=$!
    wait "$sp"
    # Only if the run is still the same process (never signal a reused PID). Its parent is
    # not necessarily $$: bash may fork twice for a background subshell.
    if [[ $(proc_start "$main") == "$start" ]]; then
      echo "$TAG: watchdog: run exceeded ${BUDGET}s, stopping it" >&2
      kill -s TERM "$main"
    fi
  ) &
  WATCHDOG_PID=$!
}

ns_new() {
  local ns=$1
  timeout 5 ip netns add "$ns" ||
    die "cannot create namespace $ns (left over from a killed run? ip netns del $ns)"
  NS_CREATED+=("$ns")
  nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  nsx "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  nsx "$ns" ip link set lo up
}

# veth NS_A IF_A NS_B IF_B: created with temporary names directly inside NS_A (peer end
# inside NS_B: nothing ever appears in the root namespace), then renamed and brought up.
VETH_SEQ=0
veth() {
  local a=$1 ia=$2 b=$3 ib=$4 ta tb
  VETH_SEQ=$((VETH_SEQ + 1))
  ta="${TAG}t$$a$VETH_SEQ" tb="${TAG}t$$b$VETH_SEQ"
  nsx "$a" ip link add "$ta" type veth peer name "$tb" netns "$b"
  nsx "$a" ip link set "$ta" name "$ia"
  nsx "$b" ip link set "$tb" name "$ib"
  nsx "$a" sysctl -qw "net.ipv6.conf.$ia.disable_ipv6=1"
  nsx "$b" sysctl -qw "net.ipv6.conf.$ib.disable_ipv6=1"
  nsx "$a" ip link set "$ia" up
  nsx "$b" ip link set "$ib" up
}

# wait_listen NS PROTO(t|u) PORT [TENTHS]: until something listens there (default 5 s).
wait_listen() {
  local ns=$1 proto=$2 port=$3 tenths=${4:-50} i
  for ((i = 0; i < tenths; i++)); do
    if nsx "$ns" ss -Hn"$proto"l "sport = :$port" 2>/dev/null | grep -q .; then return 0; fi
    sleep 0.1
  done
  die "$CUR: nothing listening on $proto/$port in $ns after $((tenths / 10)) s"
}

# Captures: the caller keeps CAPS (names), the associative array CAP_PID, WORK and CAP_FILTER.
# cap_start NAME NS IFACE [SNAPLEN]: start tcpdump writing $WORK/cap/NAME.pcap (no wait).
cap_start() {
  local name=$1 ns=$2 ifc=$3 snap=${4:-262144}
  # --immediate-mode: without it, packets still in the TPACKET_V3 block at SIGINT are lost.
  # Immediate mode uses snaplen-sized ring slots (256 KiB each), so the default 2 MiB buffer
  # holds only 8 packets: -B 16384 (KiB) gives 64.
  bg_start "$ns" 300 "$WORK/$name.tcpdump.log" tcpdump -i "$ifc" -n -U --immediate-mode -B 16384 \
    -s "$snap" -Z root -w "$WORK/cap/$name.pcap" "$CAP_FILTER"
  CAP_PID[$name]=$BG_PID
}

# Stop every capture (SIGINT), reap, and fail the run if tcpdump lost any packet.
caps_stop() {
  local c i got recv drop running
  for c in "${CAPS[@]}"; do kill -s INT "${CAP_PID[$c]}" 2>/dev/null || true; done
  for ((i = 0; i < 60; i++)); do
    running=0
    for c in "${CAPS[@]}"; do alive "${CAP_PID[$c]}" && running=1; done
    ((running)) || break
    sleep 0.05
  done
  for c in "${CAPS[@]}"; do
    stop_pid "${CAP_PID[$c]}" INT  # reaps; escalates if it did not stop
    got=$(sed -n 's/^\([0-9]*\) packets\{0,1\} captured.*/\1/p' "$WORK/$c.tcpdump.log")
    recv=$(sed -n 's/^\([0-9]*\) packets\{0,1\} received by filter.*/\1/p' "$WORK/$c.tcpdump.log")
    drop=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$WORK/$c.tcpdump.log")
    if [[ ${drop:-0} != 0 || ${got:-x} != "${recv:-y}" ]]; then
      die "tcpdump $c lost packets: $(tr '\n' ' ' <"$WORK/$c.tcpdump.log")"
    fi
  done
}

# count FILE [FILTER]: packets in $WORK/cap/FILE matching a pcap filter.
count() {
  local f=$WORK/cap/$1
  shift
  timeout 20 tcpdump -nr "$f" "$@" 2>/dev/null | wc -l
}

# check FILE 'FILTER' OP N: the capture must hold OP N matching packets; a miss sets
# CHECK_FAILED (the scenario is run once more, then the run fails).
check() {
  local file=$1 filter=$2 op=$3 want=$4 got ok=0
  if [[ -n $filter ]]; then got=$(count "$file" "$filter"); else got=$(count "$file"); fi
  case $op in
    '==') ((got == want)) && ok=1 ;;
    '>=') ((got >= want)) && ok=1 ;;
    *) die "check: unknown operator $op" ;;
  esac
  if ((!ok)); then
    log "CHECK FAILED in $CUR: $file [$filter]: $got packets, expected $op $want"
    CHECK_FAILED=1
  else
    dbg "check ok: $file [${filter:-all}] $got $op $want"
  fi
}

# wait_pid PID [TENTHS]: let a process started with bg_start end by itself (default 10 s);
# WAIT_RC is its exit status (124 = its `timeout` limit hit). One that is still running then
# is stopped with stop_pid and WAIT_RC is 143.
wait_pid() {
  local pid=$1 tenths=${2:-100} i
  for ((i = 0; i < tenths; i++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    stop_pid "$pid"
    WAIT_RC=143
    return 0
  fi
  WAIT_RC=0
  wait "$pid" 2>/dev/null || WAIT_RC=$?
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# caps_wait: until every capture in CAPS has said "listening on" (bounded, 5 s).
caps_wait() {
  local c i pending=1
  for ((i = 0; i < 100; i++)); do
    pending=0
    for c in "${CAPS[@]}"; do
      grep -q 'listening on' "$WORK/$c.tcpdump.log" 2>/dev/null && continue
      alive "${CAP_PID[$c]}" || { cat "$WORK/$c.tcpdump.log" >&2; die "tcpdump $c exited"; }
      pending=1
    done
    ((pending)) || break
    sleep 0.05
  done
  ((!pending)) || die "tcpdump did not start within 5 s"
  sleep 0.1
}

# The command line the three capture scripts share: SCENARIO... | --list | --readme | --help.
# Sets NS_TODO (the scenarios to run, all of SCENARIOS by default, each checked to have its
# sc_NAME function) and NS_README_ONLY (1 for --readme); --list and --help exit here.
ns_parse_args() {
  local a s
  NS_TODO=() NS_README_ONLY=0
  for a in "$@"; do
    case $a in
      --list) printf '%s\n' "${SCENARIOS[@]}"; exit 0 ;;
      --readme) NS_README_ONLY=1 ;;
      -h | --help) usage; exit 0 ;;
      -*) usage >&2; exit 2 ;;
      *) NS_TODO+=("$a") ;;
    esac
  done
  ((NS_README_ONLY)) && return 0
  ((${#NS_TODO[@]})) || NS_TODO=("${SCENARIOS[@]}")
  for s in "${NS_TODO[@]}"; do
    declare -F "sc_${s//-/_}" >/dev/null || die "unknown scenario '$s' (see --list)"
  done
}

# Root and the commands a script needs (names given), or a clear error.
ns_require() {
  local t
  [[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces)"
  for t in "$@"; do
    command -v "$t" >/dev/null || die "missing $t (scripts/install-deps.sh --test)"
  done
}

# keep_verdicts NEW COMMITTED: a scenario's verdict expectations are written by hand from how
# it was built (issue #11); a regeneration keeps those of the committed expected.json, and its
# "keylog" expectations (the report with --tls-keylog sslkeylog.txt, tests/pcap/check_pcaps.py).
keep_verdicts() {
  local new=$1 committed=$2
  [[ -f $committed ]] || return 0
  jq -s '.[0] + (.[1] | with_entries(select(.key == "verdicts" or .key == "verdicts_why"
                                                or .key == "verdicts_for" or .key == "keylog")))' \
    "$new" "$committed" >"$new.v" && mv "$new.v" "$new"
}
