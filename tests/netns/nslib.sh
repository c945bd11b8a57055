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
