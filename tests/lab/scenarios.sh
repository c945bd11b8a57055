# shellcheck shell=bash disable=SC2034  # sourced by tests/lab/lab.sh; variables are read there
# The lab's scenarios. scenario_defaults is the healthy site; each sc_* changes ONE thing.
#
# Variables a scenario sets (lab.sh reads them):
#   DESC, NOTES                 text for expected.json (NOTES: what really happened)
#   MUST, MUST_NOT              DNS/TCP/NAT finding codes (checked by tests/pcap/check_pcaps.py
#                               on every capture set of FILE_SETS)
#   EXTRA_CHECKS                JSON list of {files, must, must_not, why}: one file alone, where
#                               a single vantage point must conclude less or something else
#   XMPP_MUST, XMPP_MUST_NOT    XMPP/TLS finding codes (checked like MUST/MUST_NOT)
#   MAY                         codes that may appear besides MUST/XMPP_MUST (the report must
#                               give exactly MUST + XMPP_MUST, plus at most these)
#   NOT_DET                     what these captures cannot show
#   WANT_A2B, WANT_B2A          "delivered" / "not delivered": alice (inside) -> peer user,
#                               peer user -> alice; checked after every run
#   CHECKS                      "FILE;PCAP FILTER;OP;N": the packets must show it
#   firewall: DNAT_TO, INBOUND_VERDICT, FW_FIRST_RULE; DNS: ZONE (dnsmasq options, both
#   DNS hosts), DMZ_DNS (0 = the inside resolver is down); servers: SRV_*, GMAIL_*, ALT_*
#   (CERTS ca|self|none, REQENC/SECURE true|false, TLS12 0|1, PORTS), PEER gmail|ejabberd,
#   EJAB_CERTS, EJAB_STARTTLS, ALT (1 = a second server for cupdomain.example at 203.0.113.30);
#   ADMIN: a function run once the captures run (an admin's own check); DEADLINE,
#   REPLY_AFTER (client timing, s), SETTLE (s after the clients, before the captures stop).

scenario_defaults() {
  DESC="" NOTES="" MUST=() MUST_NOT=() XMPP_MUST=() XMPP_MUST_NOT=() MAY=() NOT_DET=()
  CHECKS=() FILE_SETS=$SETS_ALL EXTRA_CHECKS='[]'
  DNAT_TO="$SRV_IP:5269" INBOUND_VERDICT=accept FW_FIRST_RULE=""
  DMZ_DNS=1 ALT=0 PEER=gmail ADMIN=""
  SRV_CERTS=ca SRV_REQENC=true SRV_SECURE=false SRV_TLS12=0 SRV_PORTS=5269
  GMAIL_CERTS=ca GMAIL_REQENC=true GMAIL_SECURE=false GMAIL_TLS12=0 GMAIL_PORTS=5269
  ALT_CERTS=none ALT_REQENC=false ALT_SECURE=false ALT_TLS12=0 ALT_PORTS=5269
  EJAB_CERTS=ca EJAB_STARTTLS=required
  zone_defaults
  DEADLINE=8 REPLY_AFTER=3 SETTLE=1
  WANT_A2B=delivered WANT_B2A=delivered
}

# A RST that follows an XMPP stream error (the closing server's kernel answering the other
# side's late </stream:stream> or TLS close) is literally a reset of an established
# connection: tcp-reset may be reported there, it is neither required nor forbidden.
HEALTHY_NOT_BUT_RESET=()
for c in "${HEALTHY_NOT[@]}"; do [[ $c == tcp-reset ]] || HEALTHY_NOT_BUT_RESET+=("$c"); done
RESET_NOTE="A RST may follow the stream error (the closing server's kernel answering data that arrives after its close); whether it appears depends on timing, so tcp-reset is neither required nor forbidden."

# What no capture of this lab can show: the peers resolve through their own DNS host on the
# internet side, never through the firewall.
PEER_DNS="the peer's own DNS lookups of cupdomain.example (made on the internet side, they never cross the firewall)"
TLS13="the certificates: TLS 1.3 encrypts the Certificate message"
AFTER_TLS="everything after STARTTLS (authentication, stanzas, stream errors): encrypted"

# Packet checks shared by the scenarios (pcap filters).
OUT_SYN_OK="fw-outside.pcap;$SYN and src host $NAT_IP and dst port 5269;>=;1"
IN_SYN_OK="fw-outside.pcap;$SYN and dst host $NAT_IP and dst port 5269;>=;1"
NO_RST="fw-any.pcap;$RST;==;0"

sc_healthy_ca() {
  DESC="healthy federation, Prosody <-> Prosody, both certificates from the lab CA (trusted end to end): STARTTLS and SASL EXTERNAL both ways"
  MUST_NOT=("${HEALTHY_NOT[@]}")
  XMPP_MUST_NOT=("${XMPP_HEALTHY_NOT[@]}" tls-cert-self-signed)
  NOT_DET=("$PEER_DNS" "$TLS13" "$AFTER_TLS (SASL EXTERNAL only shows in the servers' logs)")
  CHECKS=("$OUT_SYN_OK" "$IN_SYN_OK" "$NO_RST")
  NOTES="alice's message makes cupdomain.example resolve gmail.example through the firewall (SRV _xmpps-server NXDOMAIN, SRV _xmpp-server -> xmpp.gmail.example:5269, A 203.0.113.10, AAAA NODATA) and connect out (SNAT to 203.0.113.100); bob's reply comes in on a second connection to 203.0.113.100:5269 (DNAT to 192.0.2.10). Both streams: STARTTLS, TLS 1.3, SASL EXTERNAL; they stay open (idle) when the capture ends."
}

sc_healthy_selfsigned() {
  DESC="healthy federation with self-signed certificates on both servers: STARTTLS, then dialback (the certificates are not trusted, so no SASL EXTERNAL)"
  SRV_CERTS=self GMAIL_CERTS=self
  MUST_NOT=("${HEALTHY_NOT[@]}")
  XMPP_MUST_NOT=("${XMPP_HEALTHY_NOT[@]}")
  NOT_DET=("$PEER_DNS" "$TLS13 (so tls-cert-self-signed cannot be shown; see healthy-selfsigned-tls12)" "$AFTER_TLS: the dialback exchange is inside TLS")
  CHECKS=("$OUT_SYN_OK" "$IN_SYN_OK" "$NO_RST")
  NOTES="Same packets as healthy-ca from the outside (DNS through the firewall, one stream out, one in), but each receiving server authenticates the other with dialback: gmail.example checks cupdomain.example's key over its own connection to cupdomain.example (the inbound stream) and vice versa, all inside TLS."
}

sc_healthy_plaintext() {
  DESC="healthy federation with TLS off on both servers (no certificates, s2s_require_encryption = false): dialback and the messages travel in clear"
  SRV_CERTS=none SRV_REQENC=false GMAIL_CERTS=none GMAIL_REQENC=false
  MUST_NOT=("${HEALTHY_NOT[@]}")
  XMPP_MUST=(xmpp-unencrypted)
  XMPP_MUST_NOT=("${XMPP_HEALTHY_NOT[@]}" tls-cert-self-signed)
  NOT_DET=("$PEER_DNS")
  CHECKS=("$OUT_SYN_OK" "$IN_SYN_OK" "$NO_RST" "fw-inside.pcap;tcp port 5269 and tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x3c64623a;>=;2")
  NOTES="No STARTTLS is offered; each stream shows the headers, <stream:features><dialback/></stream:features>, the originating server's <db:result/> with its key, and the messages, all readable with tcpdump -A. Each receiving server checks the key with <db:verify/> sent on its own outgoing stream to the other server (no third connection): cupdomain.example's outbound stream carries its <db:result/>, gmail.example's <db:verify/> answer and later gmail.example's <db:result type='valid'/>; the inbound stream the mirror image. alice's message waits until gmail.example's own connection back is up."
}

sc_healthy_ejabberd() {
  DESC="healthy federation between Prosody (cupdomain.example) and ejabberd (ejabberd.example), certificates from the lab CA: STARTTLS and SASL EXTERNAL both ways"
  PEER=ejabberd
  MUST_NOT=("${HEALTHY_NOT[@]}")
  XMPP_MUST_NOT=("${XMPP_HEALTHY_NOT[@]}" tls-cert-self-signed)
  NOT_DET=("$PEER_DNS" "$TLS13" "$AFTER_TLS")
  CHECKS=("$OUT_SYN_OK" "$IN_SYN_OK" "$NO_RST")
  NOTES="alice@cupdomain.example and carol@ejabberd.example (ejabberd 23.01, anonymous login on its loopback c2s) exchange a message each way. DNS: SRV _xmpp-server._tcp.ejabberd.example -> xmpp.ejabberd.example:5269, A 203.0.113.20."
}

sc_srv_missing_fallback() {
  DESC="gmail.example publishes no _xmpp-server._tcp SRV record; its A record (gmail.example -> 203.0.113.10) is the RFC 6120 fallback and federation works"
  ZONE=("${ZONE[@]/--srv-host=_xmpp-server._tcp.gmail.example*/}")
  MUST=(dns-srv-missing)
  MUST_NOT=(dns-no-response dns-error dns-target-unresolved dns-srv-disabled dns-address-not-public tcp-no-answer tcp-refused tcp-unreachable tcp-reset fw-blocked nat-missing nat-port-mismatch)
  XMPP_MUST_NOT=("${XMPP_HEALTHY_NOT[@]}")
  NOT_DET=("$PEER_DNS" "$TLS13" "$AFTER_TLS")
  CHECKS=("fw-inside.pcap;$SYN and src host $SRV_IP and dst host $GMAIL_IP and dst port 5269;>=;1" "$IN_SYN_OK" "$NO_RST")
  NOTES="dns-srv-missing is a warning here: SRV _xmpps-server and _xmpp-server gmail.example are both NXDOMAIN, then A gmail.example 203.0.113.10 (AAAA NODATA) and the connection to 203.0.113.10:5269 works."
}

sc_srv_missing_nofallback() {
  DESC="gmail.example publishes neither a _xmpp-server._tcp SRV record nor an A record for the domain itself: cupdomain.example cannot find gmail.example's server (the other direction works)"
  ZONE=("${ZONE[@]/--srv-host=_xmpp-server._tcp.gmail.example*/}")
  ZONE=("${ZONE[@]/--host-record=gmail.example,*/}")
  WANT_A2B="not delivered"
  MUST=(dns-srv-missing)
  MUST_NOT=(dns-no-response dns-error dns-srv-disabled dns-address-not-public tcp-no-answer tcp-refused tcp-unreachable tcp-reset fw-blocked nat-missing nat-port-mismatch)
  XMPP_MUST_NOT=("${XMPP_HEALTHY_NOT[@]}")
  NOT_DET=("$PEER_DNS" "$TLS13" "$AFTER_TLS")
  CHECKS=("fw-inside.pcap;$SYN and src host $SRV_IP;==;0" "$IN_SYN_OK" "$NO_RST")
  NOTES="dns-srv-missing is an error here: no SRV and no address for gmail.example, so cupdomain.example never connects out and bounces alice's message (remote-server-not-found). bob's message still arrives over the inbound connection (gmail.example finds cupdomain.example through its own DNS): federation is half broken, which is what users report."
}

sc_srv_port_5369() {
  DESC="gmail.example's SRV record says port 5369 (the typo of a vendor guide) but its server listens on 5269: cupdomain.example connects to 203.0.113.10:5369 and is refused"
  ZONE=("${ZONE[@]/_xmpp-server._tcp.gmail.example,xmpp.gmail.example,5269/_xmpp-server._tcp.gmail.example,xmpp.gmail.example,5369}")
  WANT_A2B="not delivered"
  MUST=(dns-srv-port-nonstandard tcp-refused tcp-port-nonstandard)
  MUST_NOT=(dns-srv-missing dns-no-response dns-error dns-target-unresolved tcp-no-answer tcp-unreachable fw-blocked nat-missing nat-port-mismatch)
  XMPP_MUST_NOT=("${XMPP_HEALTHY_NOT[@]}")
  NOT_DET=("$PEER_DNS" "$TLS13" "$AFTER_TLS")
  CHECKS=("fw-outside.pcap;$SYN and dst port 5369;>=;1" "fw-outside.pcap;$RST and src port 5369;>=;1" "$IN_SYN_OK")
  NOTES="SRV answer 0 5 5369 xmpp.gmail.example, A 203.0.113.10; the SYN to 203.0.113.10:5369 (SNAT'ed to 203.0.113.100 on outside) is answered by gmail.example's kernel with RST; cupdomain.example bounces alice's message. bob's message arrives over the inbound connection on 5269."
}

admin_check_own_records() {
  # The admin's own check from the server: what do peers find for cupdomain.example?
  NSX_T=15 nsx "$NS_SRV" dig "@$DNS_IP" +time=1 +tries=1 +noall +answer SRV "_xmpp-server._tcp.$SRV_DOMAIN" >>"$WORK/admin.log" 2>&1 || true
  NSX_T=15 nsx "$NS_SRV" dig "@$DNS_IP" +time=1 +tries=1 +noall +answer A "xmpp.$SRV_DOMAIN" >>"$WORK/admin.log" 2>&1 || true
}

sc_srv_target_inside() {
  DESC="cupdomain.example's SRV target xmpp.cupdomain.example has the INSIDE address 192.0.2.10 as its A record in the public zone: peers cannot reach it; the capture includes the admin's own dig of the record from the server"
  ZONE=("${ZONE[@]/--host-record=xmpp.cupdomain.example*/--host-record=xmpp.cupdomain.example,$SRV_IP}")
  ADMIN=admin_check_own_records
  WANT_B2A="not delivered"
  MUST=(dns-address-not-public)
  MUST_NOT=(dns-srv-missing dns-no-response dns-error dns-target-unresolved dns-srv-disabled tcp-no-answer tcp-refused tcp-unreachable fw-blocked nat-missing nat-port-mismatch)
  XMPP_MUST_NOT=("${XMPP_HEALTHY_NOT[@]}")
  NOT_DET=("$PEER_DNS: gmail.example finds 192.0.2.10 and fails locally (no route), so no packet of that attempt reaches the firewall" "$TLS13" "$AFTER_TLS")
  CHECKS=("fw-outside.pcap;$SYN and dst host $NAT_IP;==;0" "$OUT_SYN_OK")
  NOTES="dig from 192.0.2.10 (through the firewall to the DMZ resolver): SRV _xmpp-server._tcp.cupdomain.example -> xmpp.cupdomain.example:5269, A xmpp.cupdomain.example 192.0.2.10. alice's message goes out normally (outbound does not depend on our own records). gmail.example resolves the same records through its own DNS, tries 192.0.2.10, has no route to it and gives up: nothing inbound reaches the firewall, bob's message is not delivered."
}

sc_fw_drop_5269() {
  DESC="the firewall drops new inbound 5269 (forward rule for the static PAT target is 'drop'): gmail.example's SYNs to 203.0.113.100:5269 are never answered"
  INBOUND_VERDICT=drop
  WANT_B2A="not delivered"
  MUST=(fw-blocked)
  MUST_NOT=(tcp-refused nat-port-mismatch nat-missing dns-no-response dns-error dns-srv-missing)
  XMPP_MUST_NOT=("${XMPP_HEALTHY_NOT[@]}")
  FILE_SETS=$SETS_FW
  NOT_DET=("the failed inbound attempts in srv.pcap: they never reach the server, so a capture beside the server alone shows no trace of them (srv.pcap is not in file_sets)" "$PEER_DNS" "$TLS13" "$AFTER_TLS" "how long gmail.example keeps trying (Prosody: 20 s connect timeout; the capture stops before)")
  CHECKS=("fw-outside.pcap;$SYN and dst host $NAT_IP and dst port 5269;>=;3" "fw-inside.pcap;$SYN and dst host $SRV_IP;==;0" "$OUT_SYN_OK")
  NOTES="alice's message goes out and is delivered (outbound is allowed). bob's reply makes gmail.example connect to 203.0.113.100:5269: the SYN and its retransmissions arrive on outside and are dropped in the forward chain (after DNAT); nothing reaches inside. The capture ends while gmail.example still retries; bob's message is still queued there."
  EXTRA_CHECKS='[{"files": ["fw-outside.pcap"], "must": ["tcp-no-answer"], "must_not": ["fw-blocked", "tcp-refused"],
    "why": "the outside interface alone shows SYNs that are never answered; it cannot tell a firewall drop from a host that is down"},
   {"files": ["srv.pcap"], "must": [], "must_not": ["fw-blocked", "tcp-no-answer", "tcp-refused"],
    "why": "the dropped SYNs never reach the server: beside it, only the healthy outbound connection shows"}]'
}

sc_fw_reject_rst() {
  DESC="the firewall rejects new inbound 5269 with a TCP reset ('reject with tcp reset' after DNAT): gmail.example is refused at once"
  INBOUND_VERDICT="reject with tcp reset"
  WANT_B2A="not delivered"
  MUST=(fw-blocked)
  MUST_NOT=(tcp-no-answer tcp-unreachable nat-port-mismatch nat-missing dns-no-response dns-error)
  XMPP_MUST_NOT=("${XMPP_HEALTHY_NOT[@]}")
  FILE_SETS=$SETS_FW
  NOT_DET=("the failed inbound attempts in srv.pcap: they never reach the server (srv.pcap is not in file_sets)" "$PEER_DNS" "$TLS13" "$AFTER_TLS")
  CHECKS=("fw-outside.pcap;$RST and src host $NAT_IP and src port 5269;>=;1" "fw-inside.pcap;$SYN and dst host $SRV_IP;==;0" "$OUT_SYN_OK")
  NOTES="The RST comes from the firewall with source 203.0.113.100:5269 (conntrack un-NATs it), so on the outside it looks exactly like the server refusing; only the absence of the SYN on inside shows it was the firewall. gmail.example gives up on the first RST and bounces bob's message."
  EXTRA_CHECKS='[{"files": ["fw-outside.pcap"], "must": ["tcp-refused"], "must_not": ["fw-blocked"],
    "why": "from the outside interface alone the firewall RST looks exactly like the server refusing"},
   {"files": ["srv.pcap"], "must": [], "must_not": ["fw-blocked", "tcp-refused", "tcp-no-answer"],
    "why": "the rejected SYN never reaches the server: beside it, only the healthy outbound connection shows"}]'
}

sc_nat_port_522() {
  DESC="static PAT typo: 203.0.113.100:5269 is forwarded to 192.0.2.10:522, where nothing listens: the server's kernel answers RST"
  DNAT_TO="$SRV_IP:522"
  WANT_B2A="not delivered"
  MUST=(nat-port-mismatch)
  MUST_NOT=(tcp-no-answer tcp-unreachable nat-missing fw-blocked dns-no-response dns-error)
  XMPP_MUST_NOT=("${XMPP_HEALTHY_NOT[@]}")
  FILE_SETS=$SETS_FW
  NOT_DET=("the NAT fault in srv.pcap alone: beside the server only a refused connection to port 522 shows, nothing says it was meant for 5269 (srv.pcap is not in file_sets)" "$PEER_DNS" "$TLS13" "$AFTER_TLS")
  CHECKS=("fw-inside.pcap;$SYN and dst host $SRV_IP and dst port 522;>=;1" "fw-inside.pcap;$RST and src port 522;>=;1" "$OUT_SYN_OK")
  NOTES="SYN to 203.0.113.100:5269 on outside = SYN to 192.0.2.10:522 on inside; RST/ACK from 192.0.2.10:522 goes back un-NATed as 203.0.113.100:5269. From outside alone it is a plain refusal; the port 522 only shows on the inside leg (fw-inside, srv, fw-any)."
  EXTRA_CHECKS='[{"files": ["fw-outside.pcap"], "must": ["tcp-refused"], "must_not": ["nat-port-mismatch", "fw-blocked"],
    "why": "from the outside interface alone the RST from 203.0.113.100:5269 is a plain refusal; the port 522 is only on the inside leg"},
   {"files": ["srv.pcap"], "must": [], "must_not": ["nat-port-mismatch", "fw-blocked"],
    "why": "beside the server only a connection to port 522 that it refused shows; nothing says it was meant for 5269"}]'
}

sc_service_stopped() {
  DESC="the federation service is stopped on the inside server (Prosody runs for its users but has no s2s listener): the kernel of 192.0.2.10 refuses 5269"
  SRV_PORTS=""
  WANT_B2A="not delivered"
  MUST=(tcp-refused)
  MUST_NOT=(tcp-no-answer tcp-unreachable nat-port-mismatch nat-missing fw-blocked dns-no-response dns-error)
  XMPP_MUST_NOT=("${XMPP_HEALTHY_NOT[@]}")
  NOT_DET=("$PEER_DNS" "$TLS13" "$AFTER_TLS")
  CHECKS=("fw-inside.pcap;$RST and src host $SRV_IP and src port 5269;>=;1" "$OUT_SYN_OK")
  NOTES="s2s_ports = { }: Prosody still connects out (alice's message is delivered) but listens on no s2s port. The inbound SYN is DNAT'ed and forwarded, 192.0.2.10 answers RST/ACK; gmail.example bounces bob's message."
}

sc_tls_required_one_side() {
  DESC="TLS required on one side only: cupdomain.example requires encryption (the Prosody default), gmail.example has TLS off (no certificate, s2s_require_encryption = false); both directions fail, in clear"
  GMAIL_CERTS=none GMAIL_REQENC=false
  WANT_A2B="not delivered" WANT_B2A="not delivered"
  MUST_NOT=("${HEALTHY_NOT_BUT_RESET[@]}")
  MAY=(tcp-reset)
  XMPP_MUST=(xmpp-tls-required xmpp-stream-error)
  XMPP_MUST_NOT=(xmpp-dialback-invalid tls-cert-self-signed)
  NOT_DET=("$PEER_DNS" "what cupdomain.example thinks of the unanswered <db:result/> on the inbound stream: it logs nothing above debug level and never answers it")
  CHECKS=("$OUT_SYN_OK" "$IN_SYN_OK" "fw-outside.pcap;tcp port 5269 and tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x3c737461;>=;1")
  NOTES="DNS and TCP are healthy both ways; the failure is inside the XMPP streams, all in clear because no TLS is ever negotiated. Outbound (cupdomain.example -> gmail.example): gmail.example offers no STARTTLS, cupdomain.example sends <starttls/> anyway, gmail.example answers <stream:error><unsupported-stanza-type/> and closes; cupdomain.example bounces alice's message. Inbound (gmail.example -> cupdomain.example): cupdomain.example offers <starttls><required/></starttls> and dialback, gmail.example ignores STARTTLS and sends <db:result/>; cupdomain.example tries to check the key over a new outbound connection to gmail.example, which fails like the first (<starttls/>, unsupported-stanza-type), so it never answers the <db:result/>: from gmail.example's side a dialback timeout (the capture ends before gmail.example gives up). $RESET_NOTE"
}

sc_cert_untrusted_secure_auth() {
  DESC="cupdomain.example requires authenticated certificates (s2s_secure_auth = true) and gmail.example's certificate is self-signed: TLS is set up, then cupdomain.example refuses gmail.example both ways"
  SRV_SECURE=true GMAIL_CERTS=self
  WANT_A2B="not delivered" WANT_B2A="not delivered"
  MUST_NOT=("${HEALTHY_NOT_BUT_RESET[@]}")
  MAY=(tcp-reset)
  XMPP_MUST=(tls-closed-after-handshake)
  XMPP_MUST_NOT=(xmpp-tls-required xmpp-dialback-invalid)
  NOT_DET=("$PEER_DNS" "$TLS13 (so tls-cert-self-signed cannot be shown; see cert-untrusted-tls12)" "$AFTER_TLS: the stream errors that end both streams (cupdomain.example: 'Your server's certificate is not trusted') are encrypted")
  CHECKS=("$OUT_SYN_OK" "$IN_SYN_OK")
  NOTES="DNS and TCP are healthy both ways; STARTTLS and a TLS 1.3 handshake succeed on both streams, then cupdomain.example closes each one inside TLS because it cannot authenticate gmail.example's self-signed certificate and will not fall back to dialback (its log: 'Forbidding insecure connection to/from gmail.example because its certificate is not trusted'). Both messages are bounced. $RESET_NOTE"
}

sc_dialback_imposter() {
  DESC="cupdomain.example is also registered with another provider, and the public DNS points at that provider (203.0.113.30): gmail.example's dialback check for cupdomain.example reaches the wrong server, which answers 'invalid'; TLS off on every server so the dialback is visible"
  SRV_CERTS=none SRV_REQENC=false GMAIL_CERTS=none GMAIL_REQENC=false
  ALT=1
  ZONE=("${ZONE[@]/--host-record=xmpp.cupdomain.example*/--host-record=xmpp.cupdomain.example,$ALT_IP}")
  ZONE=("${ZONE[@]/--host-record=cupdomain.example,*/--host-record=cupdomain.example,$ALT_IP}")
  WANT_A2B="not delivered" WANT_B2A="not delivered"
  MUST_NOT=("${HEALTHY_NOT_BUT_RESET[@]}")
  MAY=(tcp-reset)
  XMPP_MUST=(xmpp-dialback-invalid xmpp-stream-error)
  XMPP_MUST_NOT=(xmpp-tls-required tls-cert-self-signed)
  NOT_DET=("$PEER_DNS" "the dialback verify connection from gmail.example to the other provider (203.0.113.30), where the key is refused, and bob's message to the other provider: on the internet side, never through the firewall")
  CHECKS=("$OUT_SYN_OK" "fw-outside.pcap;$SYN and dst host $NAT_IP;==;0" "fw-outside.pcap;src host $GMAIL_IP and tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x3c64623a;>=;1")
  NOTES="Only the on-premises server's outbound stream crosses the firewall, in clear: stream headers, <db:result/> with cupdomain.example's key, and a few seconds later (the time gmail.example needs to resolve cupdomain.example and ask the other provider) <db:result type='invalid'/> from gmail.example; cupdomain.example answers <stream:error><not-authorized/> and bounces alice's message. The other provider's server logs 'Asked to verify a dialback key that was incorrect. An imposter is claiming to be cupdomain.example?'. bob's reply goes to the other provider too (that is where DNS points), never through the firewall. $RESET_NOTE"
}

sc_dns_served_elsewhere() {
  sc_dialback_imposter
  DESC="dialback-imposter, with the admin's own dig of cupdomain.example's records in the capture: the public DNS names the other provider (203.0.113.30), while the capture shows cupdomain.example's server reached at its NAT address 203.0.113.100"
  ADMIN=admin_check_own_records
  MUST_NOT+=(dns-address-not-public)
  MAY+=(dns-address-elsewhere)
  EXTRA_CHECKS='[{"files": ["fw-any.pcap"], "must": ["dns-address-elsewhere"], "why": "the outbound stream NAT pairing shows the public address 203.0.113.100; the dig says 203.0.113.30"},
    {"files": ["fw-outside.pcap", "fw-inside.pcap"], "must": ["dns-address-elsewhere"], "why": "the same, from the two interfaces"},
    {"files": ["srv.pcap"], "must_not": ["dns-address-elsewhere"], "why": "beside the server no NAT shows its public address, so 203.0.113.30 cannot be told from it"}]'
  CHECKS+=("fw-inside.pcap;udp dst port 53;>=;3")
  NOTES="As dialback-imposter; in addition the admin's dig from 192.0.2.10 (through the firewall to the DMZ resolver, which serves the same zone as the public one): SRV _xmpp-server._tcp.cupdomain.example -> xmpp.cupdomain.example:5269, A xmpp.cupdomain.example 203.0.113.30 — not 203.0.113.100, the address the outbound stream leaves with (source NAT). gmail.example's dialback check of cupdomain.example goes to 203.0.113.30, which refuses the key; bob's message goes there too. $RESET_NOTE"
}

sc_dns_server_down() {
  DESC="the inside server's DNS resolver (198.51.100.53 in the DMZ) is down: the host is up but dnsmasq is not running, so every query gets ICMP port unreachable"
  DMZ_DNS=0
  WANT_A2B="not delivered"
  MUST=(dns-no-response)
  MUST_NOT=(dns-srv-missing dns-error dns-target-unresolved tcp-no-answer tcp-refused fw-blocked nat-missing nat-port-mismatch)
  XMPP_MUST_NOT=("${XMPP_HEALTHY_NOT[@]}")
  NOT_DET=("$PEER_DNS" "$TLS13" "$AFTER_TLS")
  CHECKS=("fw-inside.pcap;udp dst port 53;>=;1" "fw-inside.pcap;udp src port 53;==;0" "fw-inside.pcap;$SYN and src host $SRV_IP;==;0" "$IN_SYN_OK")
  NOTES="cupdomain.example's queries for gmail.example are answered by ICMP port unreachable from 198.51.100.53 (no DNS answer at all); it never connects out and alice's message is not delivered. bob's message arrives: gmail.example resolves through its own DNS, and with SASL EXTERNAL cupdomain.example needs no DNS to accept it."
}

sc_healthy_selfsigned_tls12() {
  DESC="healthy-selfsigned with gmail.example limited to TLS 1.2 (protocol = \"tlsv1_2\", like an older server): the self-signed certificates cross in clear; dialback authenticates"
  SRV_CERTS=self GMAIL_CERTS=self GMAIL_TLS12=1
  MUST_NOT=("${HEALTHY_NOT[@]}")
  XMPP_MUST=(tls-cert-self-signed)
  XMPP_MUST_NOT=("${XMPP_HEALTHY_NOT[@]}" tls-old-version)
  NOT_DET=("$PEER_DNS" "$AFTER_TLS: the dialback exchange is inside TLS")
  CHECKS=("$OUT_SYN_OK" "$IN_SYN_OK" "$NO_RST")
  NOTES="tls-cert-self-signed is a warning here: dialback authenticates both servers and both messages arrive. In TLS 1.2 the Certificate message is in clear: gmail.example's self-signed certificate on the outbound stream (server certificate), and on the inbound stream cupdomain.example's (server) and, when requested, gmail.example's (client)."
}

sc_cert_untrusted_tls12() {
  DESC="cert-untrusted-secure-auth with gmail.example limited to TLS 1.2: the self-signed certificate that cupdomain.example rejects is visible in the handshakes"
  SRV_SECURE=true GMAIL_CERTS=self GMAIL_TLS12=1
  WANT_A2B="not delivered" WANT_B2A="not delivered"
  MUST_NOT=("${HEALTHY_NOT_BUT_RESET[@]}")
  MAY=(tcp-reset)
  XMPP_MUST=(tls-cert-self-signed tls-closed-after-handshake)
  XMPP_MUST_NOT=(xmpp-tls-required xmpp-dialback-invalid tls-old-version)
  NOT_DET=("$PEER_DNS" "$AFTER_TLS: the stream errors that end both streams are encrypted")
  CHECKS=("$OUT_SYN_OK" "$IN_SYN_OK")
  NOTES="Both TLS 1.2 handshakes complete (Prosody checks the certificate after the handshake, so no TLS alert): gmail.example's self-signed certificate is in clear as the server certificate of the outbound stream and as the client certificate of the inbound one. Then cupdomain.example closes each stream inside TLS. tls-cert-self-signed is an error here, because secure authentication is required. $RESET_NOTE"
}
