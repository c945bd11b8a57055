#!/usr/bin/env bash
# shellcheck disable=SC2054  # dnsmasq options have commas inside array elements
# fedscope federation lab: real XMPP servers (Prosody, ejabberd), real DNS (dnsmasq) and an
# nftables "ASA" in network namespaces; slixmpp clients send messages across the
# federation both ways; tcpdump captures what an admin would capture. One scenario at a
# time, each on a fresh topology, written to $FSL_OUT/<scenario>/ (default pcaps/lab).
#
#   sudo tests/lab/lab.sh                      # every scenario
#   sudo tests/lab/lab.sh fw-drop-5269 ...     # some
#   tests/lab/lab.sh --list                    # scenario names
#   sudo tests/lab/lab.sh --readme             # only rebuild the pcaps/README.md block
#
# Environment: FSL_OUT (output folder), FSL_BUDGET (watchdog, seconds, default 900),
# FSL_KEEP=1 (keep the work directory with every server's config and debug log),
# FSL_DEBUG=1 (log the phases), FSL_LIVE=/path/to/fedscope (also run `fedscope capture`
# on the firewall's outside and inside devices, jsonl and text: <scenario>/live/;
# FSL_LIVE_SETTLE: seconds they run on after the tcpdumps stop, default 5),
# FSL_MARKER=WORD (appended to the clients' message bodies).
#
# Topology (tests/lab/README.md has the picture):
#   fsl-net   the "internet": a bridge joining fsl-fw's outside, fsl-gmail 203.0.113.10,
#             fsl-ejab 203.0.113.20, fsl-alt 203.0.113.30 and fsl-pdns 198.51.100.153
#             (the peers' DNS: their lookups never cross the firewall)
#   fsl-fw    the "ASA": outside 203.0.113.1 + 203.0.113.100 (static PAT 5269 -> 192.0.2.10),
#             inside 192.0.2.1, dmz 198.51.100.1; nftables; forwards
#   fsl-srv   192.0.2.10, Prosody for cupdomain.example; resolves through the firewall
#   fsl-dns   198.51.100.53 in the DMZ, the inside server's resolver (dnsmasq)
#
# Only documentation addresses, only inside the fsl-* namespaces this script makes.
# Every wait is bounded; a watchdog ends the run after FSL_BUDGET seconds; an EXIT trap
# stops what it started (by PID) and deletes the namespaces.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${FSL_OUT:-$REPO/pcaps/lab}
README=$REPO/pcaps/README.md
BUDGET=${FSL_BUDGET:-900}
LOCKFILE=/run/fsl-lab.lock
PY=/usr/bin/python3   # Debian's (python3-slixmpp); PATH may have another python first

NS_NET=fsl-net NS_FW=fsl-fw NS_SRV=fsl-srv NS_DNS=fsl-dns NS_PDNS=fsl-pdns
NS_GMAIL=fsl-gmail NS_EJAB=fsl-ejab NS_ALT=fsl-alt
ALL_NS=("$NS_NET" "$NS_FW" "$NS_SRV" "$NS_DNS" "$NS_PDNS" "$NS_GMAIL" "$NS_EJAB" "$NS_ALT")
FW_OUT_IP=203.0.113.1 NAT_IP=203.0.113.100 FW_IN_IP=192.0.2.1 SRV_IP=192.0.2.10
FW_DMZ_IP=198.51.100.1 DNS_IP=198.51.100.53 PDNS_IP=198.51.100.153
GMAIL_IP=203.0.113.10 EJAB_IP=203.0.113.20 ALT_IP=203.0.113.30
SRV_DOMAIN=cupdomain.example GMAIL_DOMAIN=gmail.example EJAB_DOMAIN=ejabberd.example
LIVE=${FSL_LIVE:-}
MARKER=${FSL_MARKER:-}
CAP_FILTER='tcp port 5269 or tcp port 5270 or tcp port 5369 or tcp port 522 or port 53 or icmp or icmp6 or (ip[6:2] & 0x1fff != 0)'
OPTIONS_JSON='["--inside-net","192.0.2.0/24","--domain","cupdomain.example"]'

# Order = default run order. Names are the output directory names.
SCENARIOS=(
  healthy-ca healthy-selfsigned healthy-plaintext healthy-ejabberd
  srv-missing-fallback srv-missing-nofallback srv-port-5369 srv-target-inside
  fw-drop-5269 fw-reject-rst nat-port-522 service-stopped
  tls-required-one-side cert-untrusted-secure-auth dialback-imposter dns-server-down
  healthy-selfsigned-tls12 cert-untrusted-tls12 dns-served-elsewhere
)

LOG_FD=2
TAG=fsl DEBUG=${FSL_DEBUG:-}
# shellcheck source=tests/netns/nslib.sh
source "$HERE/../netns/nslib.sh"


# ---------------------------------------------------------------- process control
PIDS=()          # every background process this run started (timeout wrappers)
WATCHDOG_PID=""
WORK=""
NS_CREATED=()
ETC_NETNS=()     # /etc/netns/<ns> directories this run created
ETC_NETNS_TOP=0  # 1 when this run created /etc/netns itself

# Run a command in a namespace, bounded in time.

cleanup() {
  local rc=$? pid d
  set +e
  trap - EXIT INT TERM HUP
  for pid in "${PIDS[@]}"; do stop_pid "$pid" TERM 20; done
  topo_down
  if [[ -n $WATCHDOG_PID ]]; then stop_pid "$WATCHDOG_PID"; fi
  for d in "${ETC_NETNS[@]}"; do rm -rf "/etc/netns/$d"; done
  if ((ETC_NETNS_TOP)); then rmdir /etc/netns 2>/dev/null; fi
  if [[ -n $WORK && -d $WORK ]]; then
    if [[ -n ${FSL_KEEP:-} ]]; then log "kept work directory $WORK"; else rm -rf "$WORK"; fi
  fi
  ((rc == 0)) || log "exit status $rc"
  exit "$rc"
}

# ---------------------------------------------------------------- topology
topo_up() {
  local ns
  for ns in "${ALL_NS[@]}"; do ns_new "$ns"; done
  # the internet: one L2 segment (bridge without an address, no STP)
  nsx "$NS_NET" ip link add br0 type bridge stp_state 0 forward_delay 0
  nsx "$NS_NET" sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
  nsx "$NS_NET" ip link set br0 up
  veth "$NS_NET" p-fw "$NS_FW" outside
  veth "$NS_NET" p-gmail "$NS_GMAIL" eth0
  veth "$NS_NET" p-ejab "$NS_EJAB" eth0
  veth "$NS_NET" p-alt "$NS_ALT" eth0
  veth "$NS_NET" p-pdns "$NS_PDNS" eth0
  for ns in p-fw p-gmail p-ejab p-alt p-pdns; do nsx "$NS_NET" ip link set "$ns" master br0; done
  veth "$NS_SRV" eth0 "$NS_FW" inside
  veth "$NS_DNS" eth0 "$NS_FW" dmz

  nsx "$NS_FW" ip addr add "$FW_OUT_IP/24" dev outside
  nsx "$NS_FW" ip addr add "$NAT_IP/24" dev outside
  nsx "$NS_FW" ip addr add "$FW_IN_IP/24" dev inside
  nsx "$NS_FW" ip addr add "$FW_DMZ_IP/25" dev dmz
  nsx "$NS_FW" sysctl -qw net.ipv4.ip_forward=1
  nsx "$NS_SRV" ip addr add "$SRV_IP/24" dev eth0
  nsx "$NS_SRV" ip route add default via "$FW_IN_IP"
  nsx "$NS_DNS" ip addr add "$DNS_IP/25" dev eth0
  nsx "$NS_DNS" ip route add default via "$FW_DMZ_IP"
  # Peers: 203.0.113.0/24 on the segment, the public DNS on-link; no default route and no
  # route to 192.0.2.0/24 (an inside address is not routed on the internet).
  local pair
  for pair in "$NS_GMAIL=$GMAIL_IP" "$NS_EJAB=$EJAB_IP" "$NS_ALT=$ALT_IP"; do
    nsx "${pair%=*}" ip addr add "${pair#*=}/24" dev eth0
    nsx "${pair%=*}" ip route add "$PDNS_IP/32" dev eth0
  done
  nsx "$NS_PDNS" ip addr add "$PDNS_IP/25" dev eth0
  nsx "$NS_PDNS" ip route add 203.0.113.0/24 dev eth0
}

# The "ASA": static PAT 203.0.113.100:5269 -> DNAT_TO, outbound PAT, forward policy drop.
fw_ruleset() {
  local dnat_ip=${DNAT_TO%:*} dnat_port=${DNAT_TO#*:}
  cat <<EOF
table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "outside" ip daddr $NAT_IP tcp dport 5269 counter dnat to $DNAT_TO comment "static PAT: inbound federation"
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "outside" ip saddr 192.0.2.0/24 counter snat to $NAT_IP comment "outbound PAT"
  }
}
table inet fsl_asa {
  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state established,related accept
    counter comment "to the firewall itself: dropped"
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
EOF
  [[ -z $FW_FIRST_RULE ]] || echo "    $FW_FIRST_RULE"
  cat <<EOF
    ct state established,related counter accept
    iifname "outside" oifname "inside" ip daddr $dnat_ip tcp dport $dnat_port ct state new counter $INBOUND_VERDICT comment "inbound federation (after DNAT)"
    iifname "inside" oifname "outside" ct state new counter accept comment "inside -> outside: everything (ASA security levels)"
    iifname "inside" oifname "dmz" ip daddr $DNS_IP meta l4proto { tcp, udp } th dport 53 counter accept comment "DNS to the DMZ resolver"
    counter comment "dropped by the forward policy"
  }
}
EOF
}

# ---------------------------------------------------------------- daemons

dnsmasq_start() { # NS IP NAME
  local ns=$1 ip=$2 name=$3 a
  local args=(--keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts
    --listen-address="$ip" --bind-interfaces --port=53 --user=root --local-ttl=300
    --log-queries --log-facility="$WORK/$name.log" --pid-file="$WORK/$name.pid")
  for a in "${ZONE[@]}"; do [[ -z $a ]] || args+=("$a"); done  # pattern edits leave empty slots
  echo "# $name ($ns $ip): dnsmasq ${args[*]}" >>"$WORK/setup.txt"
  : >"$WORK/$name.log"
  bg_start "$ns" 300 "$WORK/$name.stderr" dnsmasq "${args[@]}"
  SERVER_PIDS+=("$BG_PID")
  wait_listen "$ns" u 53
}

# The public zone, the same on both DNS hosts (the internet's DNS as everyone sees it).
zone_defaults() {
  ZONE=(
    "--local=/$GMAIL_DOMAIN/$SRV_DOMAIN/$EJAB_DOMAIN/"
    "--srv-host=_xmpp-server._tcp.$SRV_DOMAIN,xmpp.$SRV_DOMAIN,5269,0,5"
    "--host-record=xmpp.$SRV_DOMAIN,$NAT_IP"
    "--host-record=$SRV_DOMAIN,$NAT_IP"
    "--srv-host=_xmpp-server._tcp.$GMAIL_DOMAIN,xmpp.$GMAIL_DOMAIN,5269,0,5"
    "--host-record=xmpp.$GMAIL_DOMAIN,$GMAIL_IP"
    "--host-record=$GMAIL_DOMAIN,$GMAIL_IP"
    "--srv-host=_xmpp-server._tcp.$EJAB_DOMAIN,xmpp.$EJAB_DOMAIN,5269,0,5"
    "--host-record=xmpp.$EJAB_DOMAIN,$EJAB_IP"
    "--host-record=$EJAB_DOMAIN,$EJAB_IP"
  )
}

# render TEMPLATE OUT KEY=VALUE...: replace @KEY@ (values may hold any character but newline).
render() {
  local tpl=$1 out=$2 kv
  shift 2
  cp "$tpl" "$out"
  for kv in "$@"; do
    KEY=${kv%%=*} VAL=${kv#*=} $PY -c '
import os, sys
p = sys.argv[1]; s = open(p).read()
open(p, "w").write(s.replace("@" + os.environ["KEY"] + "@", os.environ["VAL"]))' "$out"
  done
  ! grep -q '@[A-Z_]*@' "$out" || die "unrendered placeholder in $out: $(grep -o '@[A-Z_]*@' "$out" | head -1)"
}

# prosody_start NAME NS IP DOMAIN P LABEL USERS...: the server's policy comes from the variables
# ${P}_CERTS (ca|self|none), ${P}_REQENC, ${P}_SECURE (true|false), ${P}_TLS12 (0|1),
# ${P}_PORTS (s2s listening ports, "" = no s2s listener).
prosody_start() {
  local name=$1 ns=$2 ip=$3 domain=$4 p=$5 label=$6
  shift 6
  local certs=${p}_CERTS reqenc=${p}_REQENC secure=${p}_SECURE tls12=${p}_TLS12 ports=${p}_PORTS
  certs=${!certs} reqenc=${!reqenc} secure=${!secure} tls12=${!tls12} ports=${!ports}
  local dir=$WORK/$name u ssl="" tlsmod='"tls";'
  mkdir -p "$dir/certs" "$dir/data/${domain//./%2e}/accounts"
  case $certs in
    ca | self)
      cp "$WORK/pki/$certs/$domain.crt" "$WORK/pki/$certs/$domain.key" "$dir/certs/"
      ssl="ssl = { certificate = \"$dir/certs/$domain.crt\"; key = \"$dir/certs/$domain.key\"; cafile = \"$WORK/pki/ca.crt\";"
      ((tls12)) && ssl+=' protocol = "tlsv1_2";'
      ssl+=" }"
      ;;
    none) tlsmod="" ssl="-- no certificate, no mod_tls: TLS off" ;;
    *) die "bad certs $certs" ;;
  esac
  render "$HERE/prosody.cfg.lua.in" "$dir/prosody.cfg.lua" NS="$ns" DOMAIN="$domain" DIR="$dir" IP="$ip" \
    S2S_PORTS="$ports" TLS_MODULE="$tlsmod" REQUIRE_ENCRYPTION="$reqenc" SECURE_AUTH="$secure" \
    DIALBACK_SECRET="lab-$name-$RANDOM$RANDOM" SSL="$ssl"
  for u in "$@"; do
    printf 'return {\n\t["password"] = "lab-%s";\n};\n' "$u" >"$dir/data/${domain//./%2e}/accounts/$u.dat"
  done
  bg_start "$ns" 300 "$dir/stdout.log" prosody --config "$dir/prosody.cfg.lua" -F
  SERVER_PIDS+=("$BG_PID")
  SERVER_NAMES+=("$name=prosody=$domain=$label")
  READY+=("$ns:5222")
  for u in ${ports//,/ }; do READY+=("$ns:$u"); done
}

# ejabberd_start NAME NS IP DOMAIN CERTS STARTTLS(false|optional|required)
ejabberd_start() {
  local name=$1 ns=$2 ip=$3 domain=$4 certs=$5 starttls=$6
  local dir=$WORK/$name certfiles="certfiles: []"
  mkdir -p "$dir/spool" "$dir/logs"
  if [[ $certs != none ]]; then
    cp "$WORK/pki/$certs/$domain.pem" "$dir/$domain.pem"
    certfiles="certfiles: [\"$dir/$domain.pem\"]"
  fi
  render "$HERE/ejabberd.yml.in" "$dir/ejabberd.yml" NS="$ns" DOMAIN="$domain" IP="$ip" DIR="$dir" \
    CERTFILES="$certfiles" CAFILE="$WORK/pki/ca.crt" STARTTLS="$starttls"
  # ejabberdctl's own config, without EJABBERD_CONFIG_PATH (it would override --config);
  # the Erlang distribution on a fixed loopback port, no epmd daemon.
  cat >"$dir/ejabberdctl.cfg" <<EOF
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 -kernel inet_dist_use_interface {127,0,0,1}"
ERL_DIST_PORT=5210
EJABBERD_PID_PATH=$dir/ejabberd.pid
EJABBERD_BYPASS_WARNINGS=true
EOF
  chown -R ejabberd:ejabberd "$dir"
  bg_start "$ns" 300 "$dir/stdout.log" setpriv --reuid=ejabberd --regid=ejabberd --init-groups \
    env HOME="$dir" ejabberdctl --config "$dir/ejabberd.yml" --ctl-config "$dir/ejabberdctl.cfg" \
    --node "ejabberd@localhost" --spool "$dir/spool" --logs "$dir/logs" foreground
  SERVER_PIDS+=("$BG_PID")
  SERVER_NAMES+=("$name=ejabberd=$domain=$domain (ejabberd, $ip)")
  READY+=("$ns:5222" "$ns:5269")
}

servers_wait() {
  local r
  for r in "${READY[@]}"; do
    [[ -n $r ]] || continue
    wait_listen "${r%%:*}" t "${r##*:}" 200
  done
}

# ---------------------------------------------------------------- captures
declare -A CAP_PID=()
CAPS=(fw-any fw-outside fw-inside srv)

caps_start() {
  local c i pending
  cap_start fw-any "$NS_FW" any
  cap_start fw-outside "$NS_FW" outside
  cap_start fw-inside "$NS_FW" inside
  cap_start srv "$NS_SRV" eth0
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

# ---------------------------------------------------------------- fedscope capture (FSL_LIVE)
# Two `fedscope capture` runs watch the firewall's outside and inside devices (the devices of
# fw-outside.pcap and fw-inside.pcap, with their filter) while the scenario happens: one writes
# JSON lines, -w live.pcapng and --report live.json, the other text and --report
# live-text.json. They are started before the clients and stopped (SIGINT, by PID)
# FSL_LIVE_SETTLE seconds (default 5) after the tcpdumps: a live capture judges on the wall
# clock (1 s behind it, open streams every 2 s, the judge once a second), so what happened at
# the end of the scenario is said within about 4 s. live/stop.txt records how many lines each
# had written when it was told to stop and how each ended (tests/lab/live-check.py reads it).
declare -A LIVE_PID=()
LIVE_MODES=(jsonl text)

live_start() {
  [[ -n $LIVE ]] || return 0
  local m i pending args
  rm -rf "$WORK/live" && mkdir -p "$WORK/live"
  for m in "${LIVE_MODES[@]}"; do
    args=(capture -i outside -i inside -f "$m" --inside-net 192.0.2.0/24 --domain "$SRV_DOMAIN"
      --stats-interval 2 --filter "$CAP_FILTER")
    case $m in
      jsonl) args+=(-w "$WORK/live/live.pcapng" --report "$WORK/live/live.json") ;;
      text) args+=(--report "$WORK/live/live-text.json") ;;
    esac
    echo "# live ($m): ip netns exec $NS_FW fedscope ${args[*]}" >>"$WORK/live/commands.txt"
    timeout -k 3 300 ip netns exec "$NS_FW" "$LIVE" "${args[@]}" </dev/null \
      >"$WORK/live/live.$m" 2>"$WORK/live/live.$m.err" &
    LIVE_PID[$m]=$!
    PIDS+=("$!")
  done
  for ((i = 0; i < 200; i++)); do
    pending=0
    for m in "${LIVE_MODES[@]}"; do
      grep -q 'listening on' "$WORK/live/live.$m.err" 2>/dev/null && continue
      alive "${LIVE_PID[$m]}" || { cat "$WORK/live/live.$m.err" >&2; die "fedscope capture ($m) exited"; }
      pending=1
    done
    ((pending)) || break
    sleep 0.05
  done
  ((!pending)) || die "fedscope capture did not start within 10 s"
}

live_stop() {
  [[ -n $LIVE ]] || return 0
  local m
  sleep "${FSL_LIVE_SETTLE:-5}"
  {
    for m in "${LIVE_MODES[@]}"; do echo "lines_$m=$(wc -l <"$WORK/live/live.$m")"; done
    echo "stop_time=$(date +%s.%N)"
  } >"$WORK/live/stop.txt"
  for m in "${LIVE_MODES[@]}"; do kill -s INT "${LIVE_PID[$m]}" 2>/dev/null || true; done
  for m in "${LIVE_MODES[@]}"; do
    wait_pid "${LIVE_PID[$m]}" 300  # the final judging and report: seconds at most
    echo "rc_$m=$WAIT_RC" >>"$WORK/live/stop.txt"
    ((WAIT_RC != 143 && WAIT_RC != 124)) || log "$CUR: fedscope capture ($m) did not stop on SIGINT within 30 s"
  done
  cp "$WORK"/clients/*.json "$WORK/live/" 2>/dev/null || true  # what the clients sent
}

# ---------------------------------------------------------------- clients
# clients_run NS_A JID_A NS_B JID_B: A (the initiator, inside) sends first, B replies.
clients_run() {
  local nsa=$1 jida=$2 nsb=$3 jidb=$4 pa pb i
  local na=${jida%@*} nb=${jidb%@*} st=$WORK/clients dbgopt=()
  [[ -z ${FSL_DEBUG:-} ]] || dbgopt=(--debug)
  [[ -z $MARKER ]] || dbgopt+=(--marker "$MARKER")
  rm -rf "$st" && mkdir -p "$st"
  bg_start "$nsa" $((DEADLINE + 15)) "$st/$na.log" $PY "$HERE/client.py" --jid "$jida" \
    --password "lab-$na" --to "$jidb" --name "$na" --peer "$nb" --status "$st" --deadline "$DEADLINE" "${dbgopt[@]}"
  pa=$BG_PID
  bg_start "$nsb" $((DEADLINE + 15)) "$st/$nb.log" $PY "$HERE/client.py" --jid "$jidb" \
    --password "lab-$nb" --to "$jida" --name "$nb" --peer "$na" --status "$st" --reply \
    --reply-after "$REPLY_AFTER" --deadline "$DEADLINE" "${dbgopt[@]}"
  pb=$BG_PID
  for ((i = 0; i < (DEADLINE + 12) * 10; i++)); do
    alive "$pa" || alive "$pb" || break
    sleep 0.1
  done
  stop_pid "$pa"
  stop_pid "$pb"
  A2B=$(jq -r 'if .received then "delivered" else "not delivered" end' "$st/$nb.json" 2>/dev/null || echo "client failed")
  B2A=$(jq -r 'if .received then "delivered" else "not delivered" end' "$st/$na.json" 2>/dev/null || echo "client failed")
  log "$CUR: $jida -> $jidb: $A2B; $jidb -> $jida: $B2A"
}

# ---------------------------------------------------------------- checks

# Used by scenarios.sh (sourced below).
# shellcheck disable=SC2034
SYN='tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn'
# shellcheck disable=SC2034
SYNACK='tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)'
RST='tcp[tcpflags] & tcp-rst != 0'
# shellcheck disable=SC2034
HEALTHY_NOT=(tcp-no-answer tcp-refused tcp-unreachable tcp-reset tcp-handshake-incomplete
  fw-blocked nat-port-mismatch nat-missing dns-no-response dns-error dns-srv-missing
  dns-target-unresolved dns-address-not-public dns-srv-disabled dns-srv-port-nonstandard
  dns-srv-name-suspicious tcp-port-nonstandard)
# shellcheck disable=SC2034
XMPP_HEALTHY_NOT=(xmpp-dialback-invalid xmpp-dialback-timeout xmpp-tls-required xmpp-stream-error)
SETS_ALL='[["fw-any.pcap"],["fw-outside.pcap","fw-inside.pcap"],["srv.pcap"]]'
SETS_FW='[["fw-any.pcap"],["fw-outside.pcap","fw-inside.pcap"]]'

# shellcheck source=tests/lab/scenarios.sh
source "$HERE/scenarios.sh"

# ---------------------------------------------------------------- scenario driver
run_scenario() {
  local name=$1 fn=sc_${1//-/_} dir t0=$SECONDS c f flt op want
  CUR=$name
  declare -F "$fn" >/dev/null || die "unknown scenario '$name' (see --list)"
  log "=== $name"
  scenario_defaults
  "$fn"
  rm -rf "$WORK/cap" "$WORK/srv" "$WORK/gmail" "$WORK/ejab" "$WORK/alt" && mkdir -p "$WORK/cap"
  : >"$WORK/setup.txt"
  SERVER_PIDS=() SERVER_NAMES=() READY=()

  topo_up
  fw_ruleset | nsx "$NS_FW" nft -f -
  dbg "topology up"
  dnsmasq_start "$NS_PDNS" "$PDNS_IP" public-dns
  if ((DMZ_DNS)); then dnsmasq_start "$NS_DNS" "$DNS_IP" dmz-dns; fi
  prosody_start srv "$NS_SRV" "$SRV_IP" "$SRV_DOMAIN" SRV "$SRV_DOMAIN (Prosody, inside $SRV_IP)" alice
  case $PEER in
    gmail) prosody_start gmail "$NS_GMAIL" "$GMAIL_IP" "$GMAIL_DOMAIN" GMAIL "$GMAIL_DOMAIN (Prosody, $GMAIL_IP)" bob ;;
    ejabberd) ejabberd_start ejab "$NS_EJAB" "$EJAB_IP" "$EJAB_DOMAIN" "$EJAB_CERTS" "$EJAB_STARTTLS" ;;
  esac
  if ((ALT)); then prosody_start alt "$NS_ALT" "$ALT_IP" "$SRV_DOMAIN" ALT "$SRV_DOMAIN at the other provider (Prosody, $ALT_IP)"; fi
  servers_wait
  dbg "servers up"
  caps_start
  live_start
  dbg "captures running"
  [[ -z $ADMIN ]] || $ADMIN
  case $PEER in
    gmail) clients_run "$NS_SRV" "alice@$SRV_DOMAIN" "$NS_GMAIL" "bob@$GMAIL_DOMAIN" ;;
    ejabberd) clients_run "$NS_SRV" "alice@$SRV_DOMAIN" "$NS_EJAB" "carol@$EJAB_DOMAIN" ;;
  esac
  sleep "$SETTLE"
  caps_stop
  live_stop
  dbg "captures stopped"
  IFMAP=$(nsx "$NS_FW" ip -o link show | awk -F': ' '{split($2, a, "@"); printf "%s%s=%s", (NR > 1 ? "," : ""), $1, a[1]}')
  {
    echo "# $name — $DESC"
    echo "# fsl-fw interface indexes (LINUX_SLL2 ifindex in fw-any.pcap): $IFMAP"
    echo "# fsl-fw nftables ruleset (counters at the end of the capture):"
    nsx "$NS_FW" nft list ruleset
    cat "$WORK/setup.txt"
    for f in public-dns dmz-dns; do
      [[ -f $WORK/$f.log ]] || continue
      sed -e 's/^[A-Z][a-z][a-z] [ 0-9]*[0-9] [0-9:]* //' -e 's/^dnsmasq\[[0-9]*\]/dnsmasq/' "$WORK/$f.log" |
        grep -v 'started, version\|compile time options\|using only locally\|cleared cache\|read /dev/null\|^dnsmasq: using' |
        sed "s/^/# $f log: /"
    done
    [[ ! -f $WORK/admin.log ]] || sed 's/^/# admin check: /' "$WORK/admin.log"
  } >"$WORK/setup.new"
  for c in "${SERVER_PIDS[@]}"; do stop_pid "$c" TERM 100; done
  topo_down
  dbg "topology down"

  CHECK_FAILED=0
  for c in "${CAPS[@]}"; do
    [[ -f $WORK/cap/$c.pcap ]] || die "$c.pcap was not written"
  done
  if [[ "$A2B" != "$WANT_A2B" || "$B2A" != "$WANT_B2A" ]]; then
    log "CHECK FAILED in $CUR: messages inside->peer '$A2B' (want '$WANT_A2B'), peer->inside '$B2A' (want '$WANT_B2A')"
    CHECK_FAILED=1
  fi
  for c in "${CHECKS[@]}"; do
    IFS=';' read -r f flt op want <<<"$c"
    check "$f" "$flt" "$op" "$want"
  done
  if ((CHECK_FAILED)); then
    [[ -z ${FSL_KEEP:-} ]] || cp -r "$WORK/cap" "$WORK/failed-$name-$(date +%s)"
    return 0
  fi

  dir=$OUT/$name
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  for c in "${CAPS[@]}"; do cp "$WORK/cap/$c.pcap" "$dir.tmp/"; done
  [[ -z $LIVE ]] || cp -r "$WORK/live" "$dir.tmp/live"
  sed "s|$WORK|\$WORK|g" "$WORK/setup.new" >"$dir.tmp/setup.txt"
  write_expected "$dir.tmp"
  (cd "$dir.tmp" && timeout 120 $PY "$REPO/tests/netns/pcap-summary.py" --ifmap "$IFMAP" "${CAPS[@]/%/.pcap}") >"$dir.tmp/summary.txt"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  log "=== $name done in $((SECONDS - t0)) s ($(du -sk "$dir" | cut -f1) KiB)"
}

# expected.json, servers.txt: from the scenario's variables, the servers' logs and the
# clients' results (tests/lab/expect.py does the log normalising).
write_expected() {
  local d=$1 s
  local args=(--out "$d" --work "$WORK" --name "$CUR" --desc "$DESC" --notes "$NOTES"
    --options "$OPTIONS_JSON" --file-sets "$FILE_SETS" --extra-checks "$EXTRA_CHECKS" --a2b "$A2B" --b2a "$B2A")
  for s in "${SERVER_NAMES[@]}"; do args+=(--server "$s"); done
  for s in "${MUST[@]}"; do args+=(--must "$s"); done
  for s in "${MUST_NOT[@]}"; do args+=(--must-not "$s"); done
  for s in "${XMPP_MUST[@]}"; do args+=(--xmpp-must "$s"); done
  for s in "${XMPP_MUST_NOT[@]}"; do args+=(--xmpp-must-not "$s"); done
  for s in "${MAY[@]}"; do args+=(--may "$s"); done
  for s in "${NOT_DET[@]}"; do args+=(--not-determinable "$s"); done
  timeout 60 $PY "$HERE/expect.py" "${args[@]}"
}

update_readme() {
  [[ -z ${FSL_OUT:-} ]] || return 0
  timeout 60 $PY "$HERE/expect.py" --readme "$README" --lab "$OUT" "${SCENARIOS[@]}"
  log "updated the lab block in ${README#"$REPO"/}"
}

usage() {
  sed -n '7,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo "scenarios (default: all):"
  printf '  %s\n' "${SCENARIOS[@]}"
}

main() {
  local s
  ns_parse_args "$@"
  if ((NS_README_ONLY)); then update_readme; exit 0; fi
  local todo=("${NS_TODO[@]}")
  ns_require ip nft tcpdump dnsmasq prosody ejabberdctl setpriv openssl jq tshark timeout ss flock
  [[ -z $LIVE || -x $LIVE ]] || die "FSL_LIVE=$LIVE is not an executable (the fedscope binary)"
  $PY -c 'import slixmpp' 2>/dev/null || die "$PY lacks slixmpp (python3-slixmpp; scripts/install-deps.sh --test)"

  exec 9>"$LOCKFILE"
  timeout 10 flock 9 || die "another lab.sh run holds $LOCKFILE"
  for s in "${ALL_NS[@]}"; do
    ! ip netns list | grep -q "^$s\b" || die "namespace $s already exists (left over from a killed run?): ip netns del $s"
  done
  exec {LOG_FD}>&2
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  start_watchdog
  WORK=$(mktemp -d /tmp/fsl-lab.XXXXXX)
  chmod 0755 "$WORK"  # the ejabberd user must reach its own folder in it
  # `ip netns exec NS` bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf.
  [[ -e /etc/netns ]] || ETC_NETNS_TOP=1
  mkdir -p /etc/netns
  local pair
  for pair in "$NS_SRV=$DNS_IP" "$NS_GMAIL=$PDNS_IP" "$NS_EJAB=$PDNS_IP" "$NS_ALT=$PDNS_IP"; do
    [[ ! -e /etc/netns/${pair%=*} ]] || die "/etc/netns/${pair%=*} already exists (left over?)"
    mkdir "/etc/netns/${pair%=*}"
    ETC_NETNS+=("${pair%=*}")
    printf 'nameserver %s\n' "${pair#*=}" >"/etc/netns/${pair%=*}/resolv.conf"
    # no /etc/hosts entries for the lab names: everything goes through DNS
  done
  timeout 60 "$HERE/mkcerts.sh" "$WORK/pki" "$SRV_DOMAIN" "$GMAIL_DOMAIN" "$EJAB_DOMAIN" || die "mkcerts failed"
  mkdir -p "$OUT"
  local t0=$SECONDS
  # A scenario whose run differs from what it claims (messages, packets) is run once more
  # (servers retry on their own timers; a loaded machine can shift them); a second failure
  # leaves that scenario's previous files in place and fails the run at the end.
  # (run_scenario is never called in an || list, so that set -e stays in force in it.)
  local failed=()
  for s in "${todo[@]}"; do
    run_scenario "$s"
    if ((CHECK_FAILED)); then
      log "$s: checks failed, running it once more"
      run_scenario "$s"
      if ((CHECK_FAILED)); then
        log "$s: checks failed twice; its previous captures are left as they were"
        failed+=("$s")
      fi
    fi
  done
  update_readme
  ((${#failed[@]} == 0)) || die "failed: ${failed[*]} ($((SECONDS - t0)) s)"
  log "all done: ${#todo[@]} scenario(s) in $((SECONDS - t0)) s"
}

main "$@"
