#!/usr/bin/env bash
# shellcheck disable=SC2054  # dnsmasq options have commas inside array elements
# Builds a small firewall/NAT topology out of Linux network namespaces (real kernel
# TCP, nftables, dnsmasq), runs one XMPP s2s federation scenario at a time and
# writes the captures to pcaps/core/<scenario>/ (see pcaps/README.md).
#
#   sudo tests/netns/make-core-captures.sh              # all scenarios
#   sudo tests/netns/make-core-captures.sh fw-drop ...  # a subset
#   tests/netns/make-core-captures.sh --list
#   tests/netns/make-core-captures.sh --readme          # only rebuild the README block
#
# Topology (every scenario gets a fresh copy, torn down afterwards):
#
#   fsc-peer eth0 203.0.113.10 ---- outside 203.0.113.1 + .100 (NAT)  fsc-fw
#   ("gmail.example", no default route)      inside 192.0.2.1  ---- eth0 192.0.2.10  fsc-srv
#                                            dmz 198.51.100.1  ---- eth0 198.51.100.53 fsc-dns
#
# Only documentation addresses, only inside the fsc-* namespaces this script makes.
# Every wait is bounded; a watchdog ends the run after FSC_BUDGET seconds (230);
# an EXIT trap stops what it started (by PID) and deletes the namespaces.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# FSC_OUT: write elsewhere (the regeneration test does; then pcaps/README.md is left alone).
OUT=${FSC_OUT:-$REPO/pcaps/core}
README=$REPO/pcaps/README.md
BUDGET=${FSC_BUDGET:-230}
LOCKFILE=/run/fsc-netns.lock

NS_PEER=fsc-peer NS_FW=fsc-fw NS_SRV=fsc-srv NS_DNS=fsc-dns
ALL_NS=("$NS_PEER" "$NS_FW" "$NS_SRV" "$NS_DNS")
PEER_IP=203.0.113.10 FW_OUT_IP=203.0.113.1 NAT_IP=203.0.113.100
FW_IN_IP=192.0.2.1 SRV_IP=192.0.2.10 FW_DMZ_IP=198.51.100.1 DNS_IP=198.51.100.53
SRV_DOMAIN=cupdomain.example PEER_DOMAIN=gmail.example
CAP_FILTER='tcp port 5269 or tcp port 5270 or tcp port 5369 or tcp port 522 or port 53 or icmp or icmp6 or (ip[6:2] & 0x1fff != 0)'
OPTIONS_JSON='["--inside-net","192.0.2.0/24","--domain","cupdomain.example"]'

# Order = default run order. Names are the output directory names.
SCENARIOS=(
  inbound-healthy outbound-healthy
  dns-srv-missing-fallback dns-srv-missing-nofallback dns-srv-port-5369 dns-srv-disabled
  dns-srv-name-suspicious dns-target-unresolved dns-address-inside dns-refused
  dns-no-response dns-tcp dns-fragmented
  fw-drop fw-reject-rst fw-reject-icmp fw-reject-icmp-port nat-port-522
  server-not-listening nat-missing tcp-reset tcp-handshake-incomplete inbound-healthy-snap64
  host-unreachable
)

# Messages go to the script's own stderr (fd LOG_FD) even from inside a redirected
# command, e.g. when the EXIT trap runs while such a command was in the foreground.
LOG_FD=2
TAG=fsc DEBUG=${FSC_DEBUG:-}
# shellcheck source=tests/netns/nslib.sh
source "$HERE/nslib.sh"


# ---------------------------------------------------------------- process control
PIDS=()          # every background process this run started (timeout wrappers)
WATCHDOG_PID=""
WORK=""
NS_CREATED=()
ETC_NETNS_CREATED=0

# Run a command in a namespace, bounded in time.

cleanup() {
  local rc=$? pid
  set +e
  trap - EXIT INT TERM HUP
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  topo_down
  if [[ -n $WATCHDOG_PID ]]; then stop_pid "$WATCHDOG_PID"; fi
  if ((ETC_NETNS_CREATED)); then rm -rf /etc/netns/fsc-srv; fi
  if ((ETC_NETNS_CREATED == 2)); then rmdir /etc/netns 2>/dev/null; fi
  if [[ -n $WORK && -d $WORK ]]; then
    if [[ -n ${FSC_KEEP:-} ]]; then log "kept work directory $WORK"; else rm -rf "$WORK"; fi
  fi
  ((rc == 0)) || log "exit status $rc"
  exit "$rc"
}

# ---------------------------------------------------------------- topology
topo_up() {
  local ns
  for ns in "${ALL_NS[@]}"; do ns_new "$ns"; done
  veth "$NS_PEER" eth0 "$NS_FW" outside
  veth "$NS_SRV" eth0 "$NS_FW" inside
  veth "$NS_DNS" eth0 "$NS_FW" dmz

  nsx "$NS_PEER" ip addr add "$PEER_IP/24" dev eth0
  nsx "$NS_FW" ip addr add "$FW_OUT_IP/24" dev outside
  nsx "$NS_FW" ip addr add "$NAT_IP/24" dev outside
  nsx "$NS_FW" ip addr add "$FW_IN_IP/24" dev inside
  nsx "$NS_FW" ip addr add "$FW_DMZ_IP/24" dev dmz
  nsx "$NS_SRV" ip addr add "$SRV_IP/24" dev eth0
  nsx "$NS_DNS" ip addr add "$DNS_IP/24" dev eth0
  if [[ -n $SMALL_MTU ]]; then
    nsx "$NS_FW" ip link set dmz mtu "$SMALL_MTU"
    nsx "$NS_FW" ip link set inside mtu "$SMALL_MTU"
    nsx "$NS_SRV" ip link set eth0 mtu "$SMALL_MTU"
    nsx "$NS_DNS" ip link set eth0 mtu "$SMALL_MTU"
  fi
  nsx "$NS_PEER" ip link set eth0 up
  nsx "$NS_SRV" ip link set eth0 up
  nsx "$NS_DNS" ip link set eth0 up
  nsx "$NS_FW" ip link set outside up
  nsx "$NS_FW" ip link set inside up
  nsx "$NS_FW" ip link set dmz up
  # The peer knows the documentation DMZ net (via the firewall) but has no default
  # route and no route to 192.0.2.0/24: private space is not routed on the internet.
  nsx "$NS_PEER" ip route add 198.51.100.0/24 via "$FW_OUT_IP"
  nsx "$NS_SRV" ip route add default via "$FW_IN_IP"
  nsx "$NS_DNS" ip route add default via "$FW_DMZ_IP"
  nsx "$NS_FW" sysctl -qw net.ipv4.ip_forward=1
  for ns in "${ALL_NS[@]}"; do
    nsx "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  done
}

# Firewall ruleset from the scenario variables (defaults in scenario_defaults).
fw_ruleset() {
  local dnat_ip=${DNAT_TO%:*} dnat_port=${DNAT_TO#*:}
  cat <<EOF
table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "outside" ip daddr $NAT_IP tcp dport 5269 counter dnat to $DNAT_TO comment "inbound federation"
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
EOF
  if ((SNAT)); then
    echo "    oifname \"outside\" ip saddr 192.0.2.0/24 counter snat to $NAT_IP comment \"outbound source NAT\""
  fi
  cat <<EOF
  }
}
table inet fedscope {
  chain forward {
    type filter hook forward priority filter; policy drop;
EOF
  [[ -z $FW_FIRST_RULE ]] || echo "    $FW_FIRST_RULE"
  cat <<EOF
    ct state established,related counter accept
    iifname "outside" oifname "inside" ip daddr $dnat_ip tcp dport $dnat_port ct state new counter $INBOUND_VERDICT comment "inbound federation (after DNAT)"
    iifname "inside" oifname "outside" tcp dport { 5269, 5270, 5369 } ct state new counter accept comment "outbound federation"
    iifname "inside" oifname "dmz" ip daddr $DNS_IP meta l4proto { tcp, udp } th dport 53 counter accept comment "DNS to the DMZ resolver"
  }
}
EOF
}

dns_host_ruleset() {
  cat <<EOF
table inet fedscope {
  chain input {
    type filter hook input priority filter; policy accept;
    meta l4proto { tcp, udp } th dport 53 counter drop comment "DNS host silently drops all DNS"
  }
}
EOF
}

# ---------------------------------------------------------------- daemons

dns_start() {
  local args=(--keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts
    --listen-address="$DNS_IP" --bind-interfaces --port=53 --user=root --local-ttl=300
    --log-queries=extra --log-facility="$WORK/dnsmasq.log" --pid-file="$WORK/dnsmasq.pid"
    )
  local a
  for a in "${DNS_ARGS[@]}"; do [[ -z $a ]] || args+=("$a"); done  # pattern edits leave empty slots
  echo "dnsmasq ${args[*]}" >>"$WORK/setup.txt"
  : >"$WORK/dnsmasq.log"
  bg_start "$NS_DNS" 60 "$WORK/dnsmasq.stderr" dnsmasq "${args[@]}"
  DNS_PID=$BG_PID
  wait_listen "$NS_DNS" u 53
}

# listen NS IP PORT ROLE OWN_DOMAIN: socat listener with the XMPP responder.
listen() {
  local ns=$1 ip=$2 port=$3 role=$4 own=$5
  bg_start "$ns" 60 "$WORK/listen-$ns-$port.log" socat "TCP-LISTEN:$port,bind=$ip,reuseaddr,fork" \
    "EXEC:python3 $WORK/xmpp-stream.py $role $own peer.invalid 3,nofork"
  LISTEN_PIDS+=("$BG_PID")
  wait_listen "$ns" t "$port"
}

# xmpp_connect NS DST PORT ROLE OWN PEER [DEADLINE]: one outgoing stream via socat.
xmpp_connect() {
  local ns=$1 dst=$2 port=$3 role=$4 own=$5 peer=$6 deadline=${7:-3} rc=0
  log "$ns: connect $dst:$port ($role)"
  NSX_T=12 nsx "$ns" socat "TCP:$dst:$port,connect-timeout=5" \
    "EXEC:python3 $WORK/xmpp-stream.py $role $own $peer $deadline,nofork" \
    >>"$WORK/connect.log" 2>&1 || rc=$?
  log "$ns: socat to $dst:$port exited $rc"
}

# ---------------------------------------------------------------- captures
declare -A CAP_PID=()

caps_start() {
  local c i pending
  for c in "${CAPS[@]}"; do
    case $c in
      fw-any) cap_start fw-any "$NS_FW" any 262144 ;;
      fw-any-snap64) cap_start fw-any-snap64 "$NS_FW" any 64 ;;
      fw-outside) cap_start fw-outside "$NS_FW" outside 262144 ;;
      fw-inside) cap_start fw-inside "$NS_FW" inside 262144 ;;
      srv) cap_start srv "$NS_SRV" eth0 262144 ;;
      *) die "unknown capture $c" ;;
    esac
  done
  # Wait (bounded) until every tcpdump really captures.
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

# ---------------------------------------------------------------- checks

# ---------------------------------------------------------------- XMPP-ish actions
inbound() { xmpp_connect "$NS_PEER" "$NAT_IP" 5269 "${INBOUND_ROLE:-initiator}" "$PEER_DOMAIN" "$SRV_DOMAIN" "${INBOUND_DEADLINE:-3}"; }

# dnsq TYPE NAME: one dig from the server to the DMZ resolver (through the firewall).
# Sets Q_STATUS (NOERROR/NXDOMAIN/REFUSED/... or TIMEOUT) and Q_ANSWER.
dnsq() {
  local type=$1 name=$2 out
  out=$(NSX_T=15 nsx "$NS_SRV" dig "@$DNS_IP" +time=1 +tries="${DIG_TRIES:-2}" "${DIG_OPTS[@]}" \
    +noall +comments +answer -t "$type" "$name" 2>&1) || true
  Q_STATUS=$(sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out" | head -n1)
  [[ -n $Q_STATUS ]] || Q_STATUS=TIMEOUT
  Q_ANSWER=$(grep -v '^;' <<<"$out" | awk -v t="$type" '$4 == t' || true)
  printf 'dig %s %s %s -> %s\n%s\n' "${DIG_OPTS[*]}" "$type" "$name" "$Q_STATUS" "$Q_ANSWER" >>"$WORK/dig.log"
  log "dig $type $name -> $Q_STATUS${Q_ANSWER:+ ($(wc -l <<<"$Q_ANSWER") answers)}"
}

# outbound DOMAIN [resolve-only]: what a server (Prosody-like) does for s2s to DOMAIN:
# _xmpps-server SRV (direct TLS; result ignored here), _xmpp-server SRV, then A/AAAA
# of the SRV target (or of DOMAIN itself when there is no SRV), then connect.
outbound() {
  local domain=$1 mode=${2:-connect} target="" port=5269 addr
  dnsq SRV "_xmpps-server._tcp.$domain"
  dnsq SRV "_xmpp-server._tcp.$domain"
  if [[ $Q_STATUS == NOERROR && -n $Q_ANSWER ]]; then
    # lowest priority first: fields are name ttl class SRV prio weight port target
    read -r target port < <(sort -k5,5n -k6,6nr <<<"$Q_ANSWER" | awk 'NR == 1 {print $8, $7}')
    if [[ $target == "." ]]; then
      log "SRV target is '.': s2s service decidedly not available at $domain"
      return 0
    fi
    target=${target%.}
  elif [[ $Q_STATUS == NXDOMAIN || $Q_STATUS == NOERROR ]]; then
    target=$domain port=5269
  else
    log "SRV lookup for $domain failed ($Q_STATUS); giving up"
    return 0
  fi
  dnsq A "$target"
  addr=$(awk 'NR == 1 {print $5}' <<<"$Q_ANSWER")
  dnsq AAAA "$target"
  if [[ -z $addr ]]; then
    log "no address for $target"
    return 0
  fi
  [[ $mode == connect ]] || { log "resolve-only: $domain -> $addr:$port (not connecting)"; return 0; }
  xmpp_connect "$NS_SRV" "$addr" "$port" initiator "$SRV_DOMAIN" "$domain"
}

# ---------------------------------------------------------------- scenarios
# Defaults = the healthy site. Each scenario changes ONE thing.
scenario_defaults() {
  DESC="" NOTES="" MUST=() MUST_NOT=() FILE_SETS="" EMPTY_OK=()
  # Checks on one file alone, where a single vantage point must conclude something else.
  EXTRA_CHECKS='[]'
  CAPS=(fw-any fw-outside fw-inside srv)
  DNAT_TO="$SRV_IP:5269" SNAT=1 INBOUND_VERDICT=accept FW_FIRST_RULE=""
  SMALL_MTU="" DNS_RUN=1 DNS_DROP=0
  DNS_ARGS=(
    --local=/gmail.example/cupdomain.example/nowhere.example/
    --srv-host=_xmpp-server._tcp.gmail.example,xmpp.gmail.example,5269,0,5
    --host-record=xmpp.gmail.example,"$PEER_IP"
    --host-record=gmail.example,"$PEER_IP"
    --srv-host=_xmpp-server._tcp.cupdomain.example,xmpp.cupdomain.example,5269,0,5
    --host-record=xmpp.cupdomain.example,"$NAT_IP"
    --host-record=cupdomain.example,"$NAT_IP"
  )
  SRV_LISTEN=(5269) SRV_ROLE=responder PEER_LISTEN=(5269)
  DIG_OPTS=() DIG_TRIES=2 INBOUND_ROLE=initiator INBOUND_DEADLINE=3
  ACTION=""
  CHECKS=()
}

# Error codes a healthy capture must not produce.
HEALTHY_NOT=(tcp-no-answer tcp-refused tcp-unreachable tcp-reset tcp-handshake-incomplete
  fw-blocked nat-port-mismatch nat-missing dns-no-response dns-error dns-srv-missing
  dns-target-unresolved dns-address-not-public dns-srv-disabled dns-srv-port-nonstandard
  dns-srv-name-suspicious)
SETS_ALL='[["fw-any.pcap"],["fw-outside.pcap","fw-inside.pcap"],["srv.pcap"]]'
SETS_FW='[["fw-any.pcap"],["fw-outside.pcap","fw-inside.pcap"]]'
SETS_DNS='[["fw-any.pcap"],["srv.pcap"]]'
SYN='tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn'
SYNACK='tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)'
RST='tcp[tcpflags] & tcp-rst != 0'
FIN='tcp[tcpflags] & tcp-fin != 0'
DATA='tcp[tcpflags] & tcp-push != 0'

sc_inbound_healthy() {
  DESC="healthy inbound s2s: peer connects to the NAT address 203.0.113.100:5269, DNAT to 192.0.2.10:5269, stream headers both ways, clean close"
  FILE_SETS=$SETS_ALL MUST_NOT=("${HEALTHY_NOT[@]}" tcp-port-nonstandard)
  ACTION=inbound
  CHECKS=("fw-outside.pcap;$SYN and dst host $NAT_IP;==;1" "fw-inside.pcap;$SYN and dst host $SRV_IP;==;1"
    "fw-outside.pcap;$FIN;==;2" "fw-inside.pcap;$FIN;==;2" "fw-any.pcap;$RST;==;0")
  NOTES="one connection, no retransmission: 3-way handshake, peer header (198 B), server header + <stream:features/> (234 B), </stream:stream> (16 B) each way, a FIN from each side (an extra pure ACK appears when the responder takes longer than the delayed-ACK timer). fw-any holds every packet twice: outside 203.0.113.10<->203.0.113.100 and inside 203.0.113.10<->192.0.2.10 (DNAT; the peer address is not translated)."
}

sc_outbound_healthy() {
  DESC="healthy outbound s2s: server resolves _xmpps-server (NXDOMAIN, ignored), _xmpp-server SRV -> xmpp.gmail.example:5269, A 203.0.113.10, AAAA NODATA, connects; SNAT to 203.0.113.100"
  FILE_SETS=$SETS_ALL MUST_NOT=("${HEALTHY_NOT[@]}" tcp-port-nonstandard)
  ACTION="outbound gmail.example"
  CHECKS=("fw-outside.pcap;$SYN and src host $NAT_IP and dst port 5269;==;1"
    "fw-inside.pcap;$SYN and src host $SRV_IP and dst port 5269;==;1"
    "fw-outside.pcap;src host $SRV_IP;==;0" "fw-outside.pcap;$FIN;==;2")
  NOTES="4 DNS queries over UDP, each answered once: SRV _xmpps-server._tcp.gmail.example NXDOMAIN (what Prosody asks first; not a finding), SRV _xmpp-server._tcp.gmail.example NOERROR (0 5 5269 xmpp.gmail.example, A in the additional section), A xmpp.gmail.example 203.0.113.10, AAAA NOERROR/NODATA. Then one clean stream 192.0.2.10 -> 203.0.113.10:5269, seen SNAT'ed as 203.0.113.100 on outside. DNS packets are on inside and dmz only (not in fw-outside.pcap)."
}

sc_dns_srv_missing_fallback() {
  DESC="no SRV record for gmail.example (NXDOMAIN); A gmail.example -> 203.0.113.10 works and the server connects to 203.0.113.10:5269"
  DNS_ARGS=("${DNS_ARGS[@]/--srv-host=_xmpp-server._tcp.gmail.example*/}")
  FILE_SETS=$SETS_DNS MUST=(dns-srv-missing)
  MUST_NOT=(dns-no-response dns-error dns-target-unresolved dns-srv-disabled tcp-no-answer tcp-refused tcp-reset fw-blocked nat-missing)
  CAPS=(fw-any srv)
  ACTION="outbound gmail.example"
  CHECKS=("srv.pcap;$SYN and dst host $PEER_IP and dst port 5269;==;1" "srv.pcap;$FIN;==;2")
  NOTES="dns-srv-missing is a warning here (the RFC 6120 fallback to A/AAAA of the domain and port 5269 works). dnsmasq (--local=/gmail.example/) answers NXDOMAIN for both _xmpps-server and _xmpp-server SRV, A gmail.example 203.0.113.10, AAAA NODATA; then one clean stream to 203.0.113.10:5269."
}

sc_dns_srv_missing_nofallback() {
  DESC="remote domain nowhere.example has no SRV and no A/AAAA (NXDOMAIN for everything); no connection is attempted"
  FILE_SETS=$SETS_DNS MUST=(dns-srv-missing)
  MUST_NOT=(dns-no-response dns-error dns-srv-disabled tcp-no-answer tcp-refused fw-blocked nat-missing)
  CAPS=(fw-any srv)
  ACTION="outbound nowhere.example"
  CHECKS=("fw-any.pcap;tcp;==;0" "srv.pcap;udp port 53;==;8")
  NOTES="dns-srv-missing is an error here (no A/AAAA fallback either). 4 UDP queries (SRV _xmpps-server, SRV _xmpp-server, A, AAAA nowhere.example), each answered NXDOMAIN once by dnsmasq (--local=/nowhere.example/); no TCP at all."
}

sc_dns_srv_port_5369() {
  DESC="SRV _xmpp-server._tcp.gmail.example -> xmpp.gmail.example port 5369 (non-standard); the peer listens there, the firewall allows it, the stream works on 5369"
  DNS_ARGS=("${DNS_ARGS[@]/_xmpp-server._tcp.gmail.example,xmpp.gmail.example,5269/_xmpp-server._tcp.gmail.example,xmpp.gmail.example,5369}")
  PEER_LISTEN=(5269 5369)
  FILE_SETS=$SETS_ALL MUST=(dns-srv-port-nonstandard tcp-port-nonstandard)
  MUST_NOT=(dns-srv-missing dns-no-response dns-error dns-target-unresolved tcp-no-answer tcp-refused tcp-reset fw-blocked nat-missing)
  ACTION="outbound gmail.example"
  CHECKS=("fw-outside.pcap;$SYN and dst port 5369;==;1" "fw-outside.pcap;$FIN and port 5369;==;2" "fw-any.pcap;tcp port 5269;==;0")
  NOTES="SRV answer 0 5 5369 xmpp.gmail.example; A 203.0.113.10; one clean stream 192.0.2.10 -> 203.0.113.10:5369 (SNAT'ed to 203.0.113.100 on outside). fw-outside.pcap has no DNS: dns-srv-port-nonstandard can only come from fw-any/srv; tcp-port-nonstandard from every set."
}

sc_dns_srv_disabled() {
  DESC="SRV _xmpp-server._tcp.gmail.example has target '.' (service decidedly not available, RFC 2782/6120); the server stops there"
  DNS_ARGS=("${DNS_ARGS[@]/--srv-host=_xmpp-server._tcp.gmail.example*/--srv-host=_xmpp-server._tcp.gmail.example}")
  FILE_SETS=$SETS_DNS MUST=(dns-srv-disabled)
  MUST_NOT=(dns-srv-missing dns-no-response dns-error dns-target-unresolved tcp-no-answer tcp-refused fw-blocked)
  CAPS=(fw-any srv)
  ACTION="outbound gmail.example"
  CHECKS=("fw-any.pcap;tcp;==;0" "srv.pcap;udp port 53;==;4")
  NOTES="dnsmasq --srv-host=NAME without a target answers NOERROR (AA) with one SRV RR '0 0 1 .' (priority 0, weight 0, port 1, target the root; checked with dig). 2 queries: SRV _xmpps-server NXDOMAIN, SRV _xmpp-server NOERROR '.'; no A/AAAA lookup, no TCP."
}

sc_dns_srv_name_suspicious() {
  DESC="the SRV name is mistyped: lookups of _xmpp-server_tcp.gmail.example (missing dot) and _xmpp_server._tcp.gmail.example get NXDOMAIN"
  FILE_SETS=$SETS_DNS MUST=(dns-srv-name-suspicious)
  MUST_NOT=(dns-srv-missing dns-no-response dns-error dns-srv-disabled tcp-no-answer fw-blocked)
  CAPS=(fw-any srv)
  ACTION=act_srv_name_suspicious
  CHECKS=("fw-any.pcap;tcp;==;0" "srv.pcap;udp port 53;==;4")
  NOTES="2 UDP queries, both NXDOMAIN from dnsmasq (--local=/gmail.example/). No query for the correct _xmpp-server._tcp.gmail.example, so dns-srv-missing must not fire. No TCP."
}
act_srv_name_suspicious() {
  dnsq SRV _xmpp-server_tcp.gmail.example
  dnsq SRV _xmpp_server._tcp.gmail.example
}

sc_dns_target_unresolved() {
  DESC="SRV _xmpp-server._tcp.gmail.example -> xmpp.gmail.example:5269, but xmpp.gmail.example has no A/AAAA record"
  DNS_ARGS=("${DNS_ARGS[@]/--host-record=xmpp.gmail.example*/}")
  FILE_SETS=$SETS_DNS MUST=(dns-target-unresolved)
  MUST_NOT=(dns-srv-missing dns-no-response dns-error dns-srv-disabled tcp-no-answer fw-blocked)
  CAPS=(fw-any srv)
  ACTION="outbound gmail.example"
  CHECKS=("fw-any.pcap;tcp;==;0" "srv.pcap;udp port 53;==;8")
  NOTES="SRV answer 0 5 5269 xmpp.gmail.example (no additional A); A and AAAA xmpp.gmail.example both NXDOMAIN (dnsmasq --local=/gmail.example/ has no record of that name at all, so NXDOMAIN, not NODATA). No TCP."
}

sc_dns_address_inside() {
  DESC="SRV _xmpp-server._tcp.cupdomain.example -> xmpp.cupdomain.example:5269 whose A record is the INSIDE address 192.0.2.10 (looked up from the server, resolve only)"
  DNS_ARGS=("${DNS_ARGS[@]/--host-record=xmpp.cupdomain.example*/--host-record=xmpp.cupdomain.example,$SRV_IP}")
  FILE_SETS=$SETS_DNS MUST=(dns-address-not-public)
  MUST_NOT=(dns-srv-missing dns-no-response dns-error dns-target-unresolved dns-srv-disabled tcp-no-answer fw-blocked)
  CAPS=(fw-any srv)
  ACTION="outbound cupdomain.example resolve-only"
  CHECKS=("fw-any.pcap;tcp;==;0" "srv.pcap;udp port 53;==;8")
  NOTES="The lookup is made by the inside server 192.0.2.10 (through the firewall to 198.51.100.53), as an admin's check would be; the peer has no DNS path in this topology. SRV answer 0 5 5269 xmpp.cupdomain.example (A 192.0.2.10 also in the additional section), A xmpp.cupdomain.example 192.0.2.10, AAAA NODATA. Nothing connects."
}

sc_dns_refused() {
  DESC="the resolver does not serve gmail.example at all (not a local domain, no upstream): dnsmasq answers REFUSED"
  DNS_ARGS=(--local=/cupdomain.example/nowhere.example/
    --srv-host=_xmpp-server._tcp.cupdomain.example,xmpp.cupdomain.example,5269,0,5
    --host-record=xmpp.cupdomain.example,"$NAT_IP")
  FILE_SETS=$SETS_DNS MUST=(dns-error)
  MUST_NOT=(dns-srv-missing dns-no-response dns-target-unresolved dns-srv-disabled tcp-no-answer fw-blocked)
  CAPS=(fw-any srv)
  ACTION="outbound gmail.example"
  CHECKS=("fw-any.pcap;tcp;==;0" "srv.pcap;udp port 53;==;4")
  NOTES="dnsmasq 2.90 with --no-resolv and no --server answers REFUSED (rcode 5; RA set, AA clear; the OPT RR carries an Extended DNS Error option, info code 14 'Not Ready') for a name outside its --local domains and records (its log: 'config error is REFUSED (EDE: not ready)'). No SERVFAIL appears. 2 queries (SRV _xmpps-server and _xmpp-server gmail.example), each REFUSED once; the server gives up (no A fallback after an error rcode), no TCP."
}

sc_dns_no_response() {
  DESC="the DNS host silently drops all DNS (dnsmasq not running + nft drop on udp/tcp 53 in fsc-dns, so no ICMP either); dig +time=1 +tries=3"
  DNS_RUN=0 DNS_DROP=1 DIG_TRIES=3
  FILE_SETS=$SETS_DNS MUST=(dns-no-response)
  MUST_NOT=(dns-srv-missing dns-error tcp-no-answer fw-blocked)
  CAPS=(fw-any srv)
  ACTION=act_dns_no_response
  CHECKS=("srv.pcap;udp dst port 53;==;3" "srv.pcap;udp src port 53;==;0" "fw-any.pcap;icmp;==;0")
  NOTES="one dig SRV _xmpp-server._tcp.gmail.example +time=1 +tries=3: 3 UDP queries 1 s apart (t=@TIMES{srv.pcap;udp dst port 53}@ s), same DNS id, a new source port each time; no answer and no ICMP. fw-any holds each query twice (inside and dmz: the firewall forwards them, the DNS host drops them in its input hook)."
}
act_dns_no_response() { dnsq SRV _xmpp-server._tcp.gmail.example; }

sc_dns_tcp() {
  DESC="the server resolves over DNS/TCP (dig +tcp): SRV, A and AAAA answered over TCP port 53, then a healthy outbound stream"
  DIG_OPTS=(+tcp)
  FILE_SETS=$SETS_DNS MUST_NOT=("${HEALTHY_NOT[@]}" tcp-port-nonstandard)
  CAPS=(fw-any srv)
  ACTION="outbound gmail.example"
  CHECKS=("srv.pcap;udp port 53;==;0" "srv.pcap;$SYN and dst port 53;==;4" "srv.pcap;$SYN and dst port 5269;==;1")
  NOTES="4 DNS-over-TCP connections to 198.51.100.53:53 (one per dig: SRV _xmpps-server NXDOMAIN, SRV _xmpp-server NOERROR, A, AAAA NODATA), each SYN/SYN-ACK/query/answer/FIN; then one clean stream to 203.0.113.10:5269. TCP port 53 is DNS, not a federation failure."
}

sc_dns_fragmented() {
  DESC="MTU 576 on the dmz and inside links: the 12-record SRV answer (EDNS bufsize 4096) crosses the firewall as IPv4 fragments; resolution and the stream still work"
  SMALL_MTU=576
  local i
  DNS_ARGS=("${DNS_ARGS[@]/--srv-host=_xmpp-server._tcp.gmail.example*/}" --edns-packet-max=4096)
  DNS_ARGS+=(--srv-host=_xmpp-server._tcp.gmail.example,xmpp.gmail.example,5269,0,5)
  for i in $(seq -w 1 11); do
    DNS_ARGS+=("--srv-host=_xmpp-server._tcp.gmail.example,xmpp-$i.federation-cluster.gmail.example,5269,10,5")
    DNS_ARGS+=("--host-record=xmpp-$i.federation-cluster.gmail.example,203.0.113.$((20 + 10#$i))")
  done
  DIG_OPTS=(+bufsize=4096)
  FILE_SETS=$SETS_DNS MUST_NOT=("${HEALTHY_NOT[@]}" tcp-port-nonstandard)
  CAPS=(fw-any srv)
  ACTION="outbound gmail.example"
  CHECKS=("srv.pcap;ip[6:2] & 0x1fff != 0;>=;1" "fw-any.pcap;ip[6:2] & 0x1fff != 0;>=;2"
    "srv.pcap;$SYN and dst port 5269;==;1" "srv.pcap;$FIN and port 5269;==;2")
  NOTES="The only change to the healthy site is the MTU; to get an answer bigger than 576 B the SRV RRset has 12 records (xmpp.gmail.example prio 0 + 11 prio-10 targets, with A records in the additional section), served with --edns-packet-max=4096 and asked with dig +bufsize=4096. The SRV answer is fragmented by the DNS host itself (MTU 576 on its eth0) and forwarded as fragments (conntrack reassembles and the firewall refragments on inside), so fw-any holds the fragments on dmz and on inside. The server then connects normally (MSS 536)."
}

sc_fw_drop() {
  DESC="firewall drops new inbound 5269 (the forward rule for the DNAT target is 'drop' instead of 'accept'): the peer's SYNs retransmit, nothing reaches the inside"
  INBOUND_VERDICT=drop
  CAPS=(fw-any fw-outside fw-inside) EMPTY_OK=(fw-inside)
  FILE_SETS=$SETS_FW MUST=(fw-blocked)
  MUST_NOT=(tcp-refused tcp-unreachable nat-port-mismatch nat-missing dns-no-response)
  ACTION=inbound
  CHECKS=("fw-outside.pcap;$SYN;>=;3" "fw-inside.pcap;;==;0" "fw-any.pcap;$SYNACK or $RST or icmp;==;0")
  EXTRA_CHECKS='[{"files": ["fw-outside.pcap"], "must": ["tcp-no-answer"], "must_not": ["fw-blocked", "tcp-refused"],
    "why": "one Ethernet capture of the outside interface alone cannot tell a firewall drop from a host that is down"}]'
  NOTES="socat connect-timeout=5 s: the peer kernel (Linux @KERNEL@, syn_retries and tcp_syn_linear_timeouts at their defaults, not tuned) sent @COUNT{fw-outside.pcap;$SYN}@ identical SYNs at t=@TIMES{fw-outside.pcap;$SYN}@ s, no SYN-ACK, then gave up at 5 s (older kernels without linear SYN timeouts send them at 0, 1, 3 s). fw-any shows them on outside only. fw-inside.pcap is EMPTY on purpose (pcap header, 0 packets): that absence is the evidence. tcp-no-answer is literally true as well (fedscope may report it or fold it into fw-blocked)."
}

sc_fw_reject_rst() {
  DESC="firewall rejects new inbound 5269 with 'reject with tcp reset' (in the forward chain, after DNAT)"
  INBOUND_VERDICT="reject with tcp reset"
  CAPS=(fw-any fw-outside fw-inside) EMPTY_OK=(fw-inside)
  FILE_SETS=$SETS_FW MUST=(fw-blocked)
  MUST_NOT=(tcp-no-answer tcp-unreachable nat-port-mismatch nat-missing)
  ACTION=inbound
  CHECKS=("fw-outside.pcap;$SYN;==;1" "fw-outside.pcap;$RST and src host $NAT_IP and src port 5269;==;1" "fw-inside.pcap;;==;0")
  EXTRA_CHECKS='[{"files": ["fw-outside.pcap"], "must": ["tcp-refused"], "must_not": ["fw-blocked"],
    "why": "from the outside interface alone the firewall RST looks exactly like the server refusing"}]'
  NOTES="1 SYN, answered at once by a RST/ACK with source 203.0.113.100:5269 (the firewall generated it for the DNAT'ed packet; conntrack un-NATs it), so on the wire it looks exactly like the server refusing; only the pairing (nothing on inside) shows it came from the firewall. fw-inside.pcap is EMPTY on purpose. tcp-refused is literally true too (may be reported or folded into fw-blocked)."
}

sc_fw_reject_icmp() {
  DESC="firewall rejects new inbound 5269 with 'reject with icmp type admin-prohibited'"
  INBOUND_VERDICT="reject with icmp type admin-prohibited"
  CAPS=(fw-any fw-outside fw-inside) EMPTY_OK=(fw-inside)
  FILE_SETS=$SETS_FW MUST=(fw-blocked)
  MUST_NOT=(tcp-refused nat-port-mismatch nat-missing)
  ACTION=inbound
  CHECKS=("fw-outside.pcap;icmp[icmptype] == 3 and icmp[icmpcode] == 13;>=;1" "fw-inside.pcap;;==;0")
  NOTES="1 SYN; the firewall answered @COUNT{fw-outside.pcap;icmp}@ ICMP admin-prohibited (type 3 code 13) from @SRC{fw-outside.pcap;icmp}@, quoting the peer's SYN un-NATed (to 203.0.113.100:5269); the peer's connect failed at once (EHOSTUNREACH), no SYN retransmission. fw-inside.pcap is EMPTY on purpose. tcp-unreachable is literally true too (fedscope may report it or fold it into fw-blocked)."
}

sc_fw_reject_icmp_port() {
  DESC="firewall rejects new inbound 5269 with 'reject with icmp type port-unreachable'"
  INBOUND_VERDICT="reject with icmp type port-unreachable"
  CAPS=(fw-any fw-outside fw-inside) EMPTY_OK=(fw-inside)
  FILE_SETS=$SETS_FW MUST=(fw-blocked)
  MUST_NOT=(tcp-refused nat-port-mismatch nat-missing)
  ACTION=inbound
  CHECKS=("fw-outside.pcap;icmp[icmptype] == 3 and icmp[icmpcode] == 3;>=;1" "fw-inside.pcap;;==;0")
  NOTES="1 SYN; the firewall answered @COUNT{fw-outside.pcap;icmp}@ ICMP port-unreachable (type 3 code 3) from @SRC{fw-outside.pcap;icmp}@, quoting the peer's SYN un-NATed (to 203.0.113.100:5269); the peer's connect failed at once (ECONNREFUSED), no SYN retransmission. fw-inside.pcap is EMPTY on purpose. tcp-unreachable is literally true too (fedscope may report it or fold it into fw-blocked)."
}

sc_nat_port_522() {
  DESC="DNAT typo: 203.0.113.100:5269 is forwarded to 192.0.2.10:522 (forward rule follows the DNAT target); nothing listens on 522, the server's kernel answers RST"
  DNAT_TO="$SRV_IP:522"
  FILE_SETS=$SETS_FW MUST=(nat-port-mismatch)
  MUST_NOT=(tcp-no-answer tcp-unreachable nat-missing fw-blocked)
  CAPS=(fw-any fw-outside fw-inside)
  ACTION=inbound
  CHECKS=("fw-inside.pcap;$SYN and dst port 522;==;1" "fw-inside.pcap;$RST and src port 522;==;1"
    "fw-outside.pcap;$RST and src host $NAT_IP and src port 5269;==;1")
  NOTES="1 SYN to 203.0.113.100:5269 on outside = 1 SYN to 192.0.2.10:522 on inside; the server (which does listen on 5269) answers RST/ACK from 522, forwarded and un-NATed to 203.0.113.100:5269 on outside. Seen from outside alone it is a plain tcp-refused; the inside port 522 only shows on the inside leg."
}

sc_server_not_listening() {
  DESC="DNAT and firewall correct, but nothing listens on 5269 in fsc-srv: the server's kernel answers RST"
  SRV_LISTEN=()
  FILE_SETS=$SETS_ALL MUST=(tcp-refused)
  MUST_NOT=(tcp-no-answer tcp-unreachable nat-port-mismatch nat-missing fw-blocked)
  ACTION=inbound
  CHECKS=("fw-inside.pcap;$SYN and dst port 5269;==;1" "fw-inside.pcap;$RST and src host $SRV_IP;==;1" "fw-outside.pcap;$RST and src host $NAT_IP;==;1")
  NOTES="1 SYN, 1 RST/ACK from 192.0.2.10:5269 (un-NATed to 203.0.113.100:5269 on outside); the peer's connect fails at once with ECONNREFUSED, no SYN retransmission."
}

sc_nat_missing() {
  DESC="the outbound source-NAT rule is missing: the server's SYN to 203.0.113.10:5269 leaves 'outside' with source 192.0.2.10; the peer has no route back"
  SNAT=0
  FILE_SETS=$SETS_FW MUST=(nat-missing)
  MUST_NOT=(tcp-refused tcp-unreachable nat-port-mismatch dns-no-response dns-error dns-srv-missing)
  CAPS=(fw-any fw-outside fw-inside)
  ACTION="outbound gmail.example"
  CHECKS=("fw-outside.pcap;$SYN and src host $SRV_IP;>=;3" "fw-inside.pcap;$SYN and src host $SRV_IP;>=;3" "fw-outside.pcap;src host $NAT_IP;==;0" "fw-any.pcap;$SYNACK;==;0")
  EXTRA_CHECKS='[{"files": ["fw-inside.pcap"], "must": ["tcp-no-answer"], "must_not": ["nat-missing", "fw-blocked"],
    "why": "the inside interface alone shows unanswered SYNs; only the outside leg shows the missing translation"}]'
  NOTES="DNS as in outbound-healthy (inside/dmz only, never NATed), then @COUNT{fw-outside.pcap;$SYN}@ SYNs from 192.0.2.10 at t=@TIMES{fw-outside.pcap;$SYN}@ s (Linux @KERNEL@ defaults), identical on inside and outside (no translation); the peer receives them but has no route to 192.0.2.0/24 for a SYN-ACK, so it sends nothing; socat connect-timeout 5 s. tcp-no-answer is literally true as well."
}

sc_tcp_reset() {
  DESC="established inbound stream reset mid-stream: after the peer's <db:result/> the server closes its socket with SO_LINGER 0 (kernel sends RST)"
  SRV_ROLE=responder-reset INBOUND_ROLE=initiator-reset
  FILE_SETS=$SETS_ALL MUST=(tcp-reset)
  MUST_NOT=(tcp-refused tcp-no-answer tcp-unreachable tcp-handshake-incomplete fw-blocked nat-port-mismatch nat-missing)
  ACTION=inbound
  CHECKS=("fw-inside.pcap;$RST and src host $SRV_IP;==;1" "fw-outside.pcap;$RST and src host $NAT_IP;==;1"
    "fw-any.pcap;$FIN;==;0" "srv.pcap;$DATA;>=;3")
  NOTES="handshake, peer header (198 B), server header + <stream:features/> (234 B), peer <db:result/> (131 B) ACKed by the RST itself: one RST/ACK from 192.0.2.10:5269 (203.0.113.100:5269 on outside) ~0.15 s after the SYN. No FIN anywhere."
}

sc_tcp_handshake_incomplete() {
  DESC="firewall forwards the peer's SYN and the server's SYN-ACK but drops every later packet from the peer (tcp flags != syn), so the inside leg never sees the final ACK"
  FW_FIRST_RULE="iifname \"outside\" ip saddr $PEER_IP tcp dport 5269 tcp flags != syn counter drop comment \"drops the handshake's final ACK and all after it\""
  INBOUND_DEADLINE=3
  FILE_SETS=$SETS_ALL MUST=(tcp-handshake-incomplete)
  MUST_NOT=(tcp-refused tcp-no-answer tcp-reset nat-port-mismatch nat-missing)
  ACTION=inbound
  CHECKS=("fw-inside.pcap;$SYN;==;1" "fw-inside.pcap;$SYNACK;>=;3" "fw-inside.pcap;tcp[tcpflags] == tcp-ack;==;0"
    "fw-outside.pcap;tcp[tcpflags] & tcp-ack != 0 and src host $PEER_IP;>=;2")
  NOTES="inside leg (fw-inside, srv): 1 SYN, then @COUNT{fw-inside.pcap;$SYNACK}@ SYN-ACKs from 192.0.2.10 at t=@TIMES{fw-inside.pcap;$SYNACK}@ s (the server stays in SYN-RECV; synack_retries default), never an ACK. outside leg: the peer's handshake completes from its point of view; its final ACK, its stream header (198 B, sent @COUNT{fw-outside.pcap;$DATA and src host $PEER_IP}@ times in all, RTO 0.2 s doubling) and a dup ACK for each repeated SYN-ACK are all dropped by the firewall. After 3 s the peer gives up and closes its socket, but no FIN appears (it waits behind the unacknowledged data). fw-outside alone looks like an established stream that never gets an answer; the missing final ACK is visible on inside/srv and in fw-any."
}

sc_inbound_healthy_snap64() {
  DESC="inbound-healthy again, captured with tcpdump -s 64 (snaplen truncation: 64 B of each packet incl. the 20-byte SLL2 header)"
  CAPS=(fw-any-snap64)
  FILE_SETS='[["fw-any-snap64.pcap"]]' MUST_NOT=("${HEALTHY_NOT[@]}" tcp-port-nonstandard)
  ACTION=inbound
  CHECKS=("fw-any-snap64.pcap;$SYN;==;2" "fw-any-snap64.pcap;$FIN;==;4" "fw-any-snap64.pcap;$RST;==;0")
  NOTES="Same packets as inbound-healthy (every forwarded packet twice). Every frame is cut to 64 B: 20 B SLL2 + 20 B IPv4 + the first 24 B of the TCP header (ports, seq, ack, flags, window, checksum and the first 4 B of the options are there; the rest of the options, e.g. the timestamps, and all payload are missing)."
}

sc_host_unreachable() {
  DESC="the peer's SRV target resolves to 203.0.113.50, where no host answers ARP: the firewall returns ICMP host unreachable to the server"
  DNS_ARGS+=(--local=/downhost.example/
    --srv-host=_xmpp-server._tcp.downhost.example,xmpp.downhost.example,5269,0,5
    --host-record=xmpp.downhost.example,203.0.113.50)
  FILE_SETS=$SETS_ALL MUST=(tcp-unreachable)
  MUST_NOT=(fw-blocked nat-missing nat-port-mismatch tcp-refused tcp-no-answer dns-no-response dns-error dns-srv-missing dns-target-unresolved)
  ACTION="outbound downhost.example"
  EMPTY_OK=(fw-outside)
  CHECKS=("fw-inside.pcap;icmp[icmptype] == 3 and icmp[icmpcode] == 1;>=;1" "fw-outside.pcap;;==;0" "fw-any.pcap;$SYNACK or $RST;==;0")
  NOTES="DNS as in outbound-healthy but for downhost.example (SRV -> xmpp.downhost.example:5269, A 203.0.113.50). The server sent @COUNT{fw-inside.pcap;$SYN}@ SYNs; the firewall's ARP for 203.0.113.50 went unanswered, so the SYNs never left the outside interface (fw-outside.pcap is EMPTY: the packets waited for ARP), and it returned @COUNT{fw-inside.pcap;icmp}@ ICMP host unreachable (type 3 code 1) from @SRC{fw-inside.pcap;icmp}@, quoting the SYN."
}

# ---------------------------------------------------------------- scenario driver
json_arr() {
  if (($#)); then printf '%s\n' "$@" | jq -R . | jq -cs .; else echo '[]'; fi
}

write_expected() {
  local f=$1 sets_key=file_sets sets=$FILE_SETS
  if [[ $(jq 'length == 1 and (.[0] | length) == 1' <<<"$FILE_SETS") == true ]]; then
    sets_key=files sets=$(jq -c '.[0]' <<<"$FILE_SETS")
  fi
  jq -n --arg description "$DESC" --argjson options "$OPTIONS_JSON" --arg key "$sets_key" \
    --argjson sets "$sets" --argjson must "$(json_arr "${MUST[@]}")" \
    --argjson must_not "$(json_arr "${MUST_NOT[@]}")" --arg notes "$NOTES" \
    --argjson extra "$EXTRA_CHECKS" \
    '{description: $description, options: $options} + {($key): $sets}
     + {must: $must, must_not: $must_not, notes: $notes}
     + (if $extra == [] then {} else {extra_checks: $extra} end)' >"$f"
  keep_verdicts "$f" "$REPO/pcaps/core/$CUR/expected.json"
}

fw_ifmap() {
  nsx "$NS_FW" ip -o link show | awk -F': ' '{split($2, a, "@"); printf "%s%s=%s", (NR > 1 ? "," : ""), $1, a[1]}'
}

run_scenario() {
  local name=$1 fn=sc_${1//-/_} c p dir t0=$SECONDS
  CUR=$name
  declare -F "$fn" >/dev/null || die "unknown scenario '$name' (see --list)"
  log "=== $name"
  scenario_defaults
  "$fn"
  rm -rf "$WORK/cap" && mkdir -p "$WORK/cap"
  : >"$WORK/setup.txt" && : >"$WORK/dig.log" && : >"$WORK/connect.log"
  LISTEN_PIDS=() DNS_PID=""

  dbg "topology"
  topo_up
  fw_ruleset | nsx "$NS_FW" nft -f -
  if ((DNS_DROP)); then dns_host_ruleset | nsx "$NS_DNS" nft -f -; fi
  if ((DNS_RUN)); then dns_start; fi
  for p in "${SRV_LISTEN[@]}"; do listen "$NS_SRV" "$SRV_IP" "$p" "$SRV_ROLE" "$SRV_DOMAIN"; done
  for p in "${PEER_LISTEN[@]}"; do listen "$NS_PEER" "$PEER_IP" "$p" responder "$PEER_DOMAIN"; done

  dbg "daemons up"
  caps_start
  dbg "captures running"
  $ACTION
  dbg "action done"
  sleep 0.5  # let the last packets (FIN/ACK) reach every capture
  caps_stop
  IFMAP=$(fw_ifmap)

  {
    echo "# $name — $DESC"
    echo "# fsc-fw interface indexes (LINUX_SLL2 ifindex in fw-any*.pcap): $IFMAP"
    echo "# fsc-fw nftables ruleset (with counters at the end of the scenario):"
    nsx "$NS_FW" nft list ruleset
    if ((DNS_DROP)); then echo "# fsc-dns nftables ruleset:"; nsx "$NS_DNS" nft list ruleset; fi
    if ((DNS_RUN)); then echo "# fsc-dns command line:"; cat "$WORK/setup.txt"; else echo "# dnsmasq not running"; fi
    echo "# server-side lookups (dig from fsc-srv):"
    cat "$WORK/dig.log"
  } >"$WORK/setup.new"
  grep -h 'dnsmasq\[' "$WORK/dnsmasq.log" 2>/dev/null \
    | sed -e 's/^[A-Z][a-z][a-z] [ 0-9]*[0-9] [0-9:]* //' -e 's/^dnsmasq\[[0-9]*\]/dnsmasq/' \
    | sed 's/^/# dnsmasq log: /' >>"$WORK/setup.new" || true
  sed -i "s|$WORK|\$WORK|g" "$WORK/setup.new"  # no run-specific temp paths in the repo

  dbg "captures stopped, setup saved"
  for p in "${LISTEN_PIDS[@]}"; do stop_pid "$p"; done
  [[ -z $DNS_PID ]] || stop_pid "$DNS_PID"
  topo_down

  dbg "topology down"
  # Checks: the kernel did what the scenario claims.
  for c in "${CAPS[@]}"; do
    [[ -f $WORK/cap/$c.pcap ]] || die "$c.pcap was not written"
    # 24 bytes = pcap file header only, no packet
    if (($(stat -c %s "$WORK/cap/$c.pcap") <= 24)) && [[ " ${EMPTY_OK[*]} " != *" $c "* ]]; then
      die "$name: $c.pcap has no packets"
    fi
  done
  CHECK_FAILED=0
  for c in "${CHECKS[@]}"; do
    IFS=';' read -r f flt op want <<<"$c"
    check "$f" "$flt" "$op" "$want"
  done
  if ((CHECK_FAILED)); then
    [[ -z ${FSC_KEEP:-} ]] || cp -r "$WORK/cap" "$WORK/failed-$name-$(date +%s)"
    return 0  # not published; the caller looks at CHECK_FAILED
  fi

  dbg "checks done"
  # Publish.
  dir=$OUT/$name
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  for c in "${CAPS[@]}"; do cp "$WORK/cap/$c.pcap" "$dir.tmp/"; done
  mv "$WORK/setup.new" "$dir.tmp/setup.txt"
  NOTES=$(notes_fill "$NOTES")
  write_expected "$dir.tmp/expected.json"
  (cd "$dir.tmp" && python3 "$HERE/pcap-summary.py" --ifmap "$IFMAP" "${CAPS[@]/%/.pcap}") >"$dir.tmp/summary.txt"
  dbg "summary done"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  local files=("$dir"/*)
  log "=== $name done in $((SECONDS - t0)) s: ${files[*]##*/}"
}

# Notes state what the kernel did; figures that depend on the kernel (retransmission
# timing, ICMP source) are measured from the capture: @TIMES{FILE;FILTER}@ becomes
# the packet times relative to the first match (0.1 s), @COUNT{FILE;FILTER}@ the
# number of matching packets, @SRC{FILE;FILTER}@ the source of the first match,
# @KERNEL@ the running kernel release.
notes_fill() {
  local notes=$1 re='@(TIMES|COUNT|SRC)\{([^;]*);([^}]*)\}@' val
  notes=${notes//@KERNEL@/$(uname -r)}
  while [[ $notes =~ $re ]]; do
    case ${BASH_REMATCH[1]} in
      TIMES) val=$(timeout 20 tcpdump -ttnr "$WORK/cap/${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}" 2>/dev/null \
        | awk 'NR == 1 {t0 = $1} {printf "%s%.1f", (NR > 1 ? ", " : ""), $1 - t0}') ;;
      COUNT) val=$(count "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}") ;;
      SRC) val=$(timeout 20 tcpdump -nr "$WORK/cap/${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}" 2>/dev/null \
        | awk 'NR == 1 {print $3}') ;;
    esac
    notes=${notes/"${BASH_REMATCH[0]}"/${val:-none}}
  done
  printf '%s' "$notes"
}

update_readme() {
  [[ -z ${FSC_OUT:-} ]] || return 0
  [[ -f $README ]] || { log "no $README; skipping summary block"; return 0; }
  grep -q '^<!-- BEGIN core-scenarios' "$README" || { log "no marker block in $README; skipping"; return 0; }
  timeout 60 python3 - "$README" "$OUT" "$HERE/pcap-summary.py" "${SCENARIOS[@]}" <<'EOF'
import importlib.util, json, os, re, sys
sys.dont_write_bytecode = True  # no __pycache__ in tests/netns
readme, out, helper, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
spec = importlib.util.spec_from_file_location("pcap_summary", helper)
ps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ps)
lines = ["<!-- BEGIN core-scenarios (generated by tests/netns/make-core-captures.sh; edit the script, not this block) -->"]
for name in names:
    d = os.path.join(out, name)
    try:
        exp = json.load(open(os.path.join(d, "expected.json")))
    except FileNotFoundError:
        continue
    files = ", ".join("`%s` %d pkts" % (f, ps.pcap_header(os.path.join(d, f))[0])
                      for f in sorted(os.listdir(d)) if f.endswith(".pcap"))
    # XML in the text (<stream:features/>) would vanish as HTML in rendered markdown
    tag = re.compile(r"(</?[A-Za-z][^<>]*>)")
    exp["description"] = tag.sub(r"`\1`", exp["description"])
    exp["notes"] = tag.sub(r"`\1`", exp["notes"])
    must = ", ".join("`%s`" % c for c in exp["must"]) or "nothing"
    must_not = ", ".join("`%s`" % c for c in exp["must_not"]) or "nothing"
    lines.append("* **%s** — %s. %s.  \n  %s  \n  must: %s; must_not: %s.\n"
                 % (name, exp["description"], files, exp["notes"], must, must_not))
lines.append("<!-- END core-scenarios -->")
block = "\n".join(lines)
text = open(readme).read()
new = re.sub(r"<!-- BEGIN core-scenarios.*?<!-- END core-scenarios -->", lambda m: block, text, flags=re.S)
open(readme, "w").write(new)
EOF
  log "updated the scenario block in ${README#"$REPO"/}"
}

usage() {
  sed -n '3,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo "scenarios (default: all):"
  printf '  %s\n' "${SCENARIOS[@]}"
}

main() {
  local s
  ns_parse_args "$@"
  if ((NS_README_ONLY)); then
    WORK=$(mktemp -d /tmp/fsc-netns.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    update_readme
    exit 0
  fi
  local todo=("${NS_TODO[@]}")
  ns_require ip nft tcpdump socat dnsmasq dig python3 jq tshark timeout ss

  exec 9>"$LOCKFILE"
  timeout 10 flock 9 || die "another make-core-captures.sh run holds $LOCKFILE"
  for s in "${ALL_NS[@]}"; do
    ! ip netns list | grep -q "^$s\b" || die "namespace $s already exists (left over from a killed run?): ip netns del $s"
  done
  exec {LOG_FD}>&2
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  start_watchdog
  WORK=$(mktemp -d /tmp/fsc-netns.XXXXXX)
  cp "$HERE/xmpp-stream.py" "$WORK/"
  # `ip netns exec fsc-srv` bind-mounts /etc/netns/fsc-srv/resolv.conf over
  # /etc/resolv.conf; remove what we create here again at exit.
  [[ -e /etc/netns ]] || ETC_NETNS_CREATED=2
  if [[ ! -e /etc/netns/fsc-srv ]]; then
    mkdir -p /etc/netns/fsc-srv
    ((ETC_NETNS_CREATED)) || ETC_NETNS_CREATED=1
  fi
  printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$DNS_IP" >/etc/netns/fsc-srv/resolv.conf
  mkdir -p "$OUT"
  local t0=$SECONDS
  # A scenario whose packets differ from what it claims (e.g. a spurious retransmission
  # when the machine is overloaded) is run once more; twice is a failure.
  # (run_scenario is never called in an || list, so that set -e stays in force in it.)
  for s in "${todo[@]}"; do
    run_scenario "$s"
    if ((CHECK_FAILED)); then
      log "$s: checks failed, running it once more"
      run_scenario "$s"
      ((!CHECK_FAILED)) || die "$s: checks failed twice; its previous captures are left as they were"
    fi
  done
  update_readme
  log "all done: ${#todo[@]} scenario(s) in $((SECONDS - t0)) s"
}

main "$@"
