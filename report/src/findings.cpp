#include "fedscope/report/findings.hpp"

#include <array>
#include <nlohmann/json.hpp>

namespace fedscope::report {

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
  }
  return "?";
}

namespace {

constexpr std::array kCatalogue = {
    CatalogueEntry{
        FindingCode::kDnsSrvMissing, "dns-srv-missing", "dns", Severity::kWarning,
        "No _xmpp-server._tcp SRV record for the domain",
        "The SRV lookup for _xmpp-server._tcp.DOMAIN answered NXDOMAIN or no SRV records "
        "(NODATA). RFC 6120 §3.2.2 then falls back to the domain's own A/AAAA records on port "
        "5269, so federation can still work if the domain name itself points at the XMPP server.",
        "Publish `_xmpp-server._tcp.DOMAIN. SRV 0 5 5269 xmpp-host.DOMAIN.` in the domain's DNS "
        "zone (and an A/AAAA record for the target). If the fallback is meant to be used, make "
        "sure "
        "DOMAIN's A/AAAA record points at the federation server and TCP 5269 is open there.",
        "error when the A/AAAA fallback fails too (no address, or the connection to it fails); "
        "warning otherwise. NXDOMAIN for _xmpps-server._tcp (direct TLS, XEP-0368) alone is "
        "normal and never reported."},
    CatalogueEntry{
        FindingCode::kDnsSrvDisabled, "dns-srv-disabled", "dns", Severity::kError,
        "SRV record says the service is not offered (target \".\")",
        "The _xmpp-server._tcp SRV record has the target \".\", which RFC 2782 defines as "
        "\"the service is decidedly not available at this domain\". Servers stop there and do "
        "not fall back to A/AAAA.",
        "If the domain should federate, replace the \".\" record with a real target host and "
        "port 5269. If it should not, this is working as intended and the peer's admin should "
        "stop trying.",
        ""},
    CatalogueEntry{
        FindingCode::kDnsSrvPortNonstandard, "dns-srv-port-nonstandard", "dns", Severity::kWarning,
        "SRV record points at a port other than 5269",
        "The _xmpp-server._tcp SRV record names a port other than the standard 5269 (a classic "
        "typo is 5369). Peers will connect to that port, so the firewall, NAT and server must "
        "all use it.",
        "Check the SRV record's port. Unless the server really listens on that port and the "
        "firewall forwards it, change the record to 5269.",
        ""},
    CatalogueEntry{
        FindingCode::kDnsSrvNameSuspicious, "dns-srv-name-suspicious", "dns", Severity::kWarning,
        "Malformed XMPP SRV service name",
        "A lookup used a service name that looks like a mistyped _xmpp-server._tcp (for "
        "example _xmpp-server_tcp.DOMAIN or _xmpp_server._tcp.DOMAIN), or the legacy "
        "_jabber._tcp. Servers only look up _xmpp-server._tcp.DOMAIN, so records under the "
        "wrong name are never found.",
        "Create the record under exactly `_xmpp-server._tcp.DOMAIN` (underscores, dash and the "
        "dot between the service and `_tcp`) and remove the misspelt one.",
        ""},
    CatalogueEntry{
        FindingCode::kDnsTargetUnresolved, "dns-target-unresolved", "dns", Severity::kError,
        "SRV target host has no address",
        "The SRV record names a target host, but the A/AAAA lookups for that host returned no "
        "address (NXDOMAIN or NODATA). Peers cannot connect.",
        "Add A (and/or AAAA) records for the SRV target host, or point the SRV record at a host "
        "that has them. The target must be a host name with addresses, not a CNAME.",
        ""},
    CatalogueEntry{
        FindingCode::kDnsNoResponse, "dns-no-response", "dns", Severity::kError,
        "DNS query never answered",
        "A federation-related DNS query got no response within the timeout (the query may have "
        "been retried). The resolver, the path to it, or a firewall in between is failing.",
        "Check that the resolver the XMPP server uses is up and reachable on UDP and TCP port "
        "53 through the firewall (and that replies are allowed back).",
        ""},
    CatalogueEntry{
        FindingCode::kDnsError, "dns-error", "dns", Severity::kError,
        "DNS server answered with an error (SERVFAIL, REFUSED, ...)",
        "A federation-related DNS query was answered with an error code: SERVFAIL (the resolver "
        "could not get an answer, e.g. broken delegation or DNSSEC failure), REFUSED (the "
        "server will not answer this client or zone), FORMERR or NOTIMP.",
        "For REFUSED, let the XMPP server's address use the resolver (recursion ACL). For "
        "SERVFAIL, check the zone's delegation and DNSSEC and the resolver's upstream access.",
        ""},
    CatalogueEntry{
        FindingCode::kDnsAddressNotPublic, "dns-address-not-public", "dns", Severity::kError,
        "Federation target resolves to an inside or non-public address",
        "An XMPP federation target (SRV target or fallback domain) resolves to a private, "
        "loopback, link-local or CGNAT address, or into an --inside-net range. Peers on the "
        "internet cannot reach it; typically the public zone publishes the inside address of "
        "a NAT'ed server.",
        "Publish the firewall's public (NAT) address in the public DNS zone. Keep inside "
        "addresses only in an internal zone (split DNS).",
        ""},
    CatalogueEntry{
        FindingCode::kDnsAddressElsewhere, "dns-address-elsewhere", "dns", Severity::kError,
        "Your domain's federation target is another server",
        "Your domain's SRV target (or, without SRV, the domain itself) resolves to a public "
        "address that is not your server's: the capture shows your server reached through its "
        "public NAT address, and the record names another. Peers connect there, and their "
        "dialback checks of your domain go there: the domain is also registered with another "
        "provider (an old hosting, a cloud service), which answers 'invalid' for keys it did "
        "not make — the classic \"unexpected dialback\" failure.",
        "Point the domain's `_xmpp-server._tcp` SRV record (and its target's A/AAAA) at your "
        "firewall's public NAT address, and remove the domain from the other provider.",
        ""},
    CatalogueEntry{
        FindingCode::kTcpNoAnswer, "tcp-no-answer", "tcp", Severity::kError,
        "Connection attempt never answered (SYNs retransmitted)",
        "The originator sent SYN and retransmitted it, and nothing came back: no SYN-ACK, no "
        "RST, no ICMP. Something on the path drops the packets silently, or the destination "
        "host is down.",
        "Check that the destination address is right (DNS), that the host is up, and that every "
        "firewall on the path permits TCP 5269 to it (and NAT forwards it).",
        ""},
    CatalogueEntry{
        FindingCode::kTcpRefused, "tcp-refused", "tcp", Severity::kError,
        "Connection refused (RST answering SYN)",
        "The destination answered the SYN with a RST: the host is reachable but nothing "
        "listens on that port (the federation service is stopped, or listens on another port "
        "or address).",
        "Start the XMPP server's federation (s2s) listener on TCP 5269 on that address, or fix "
        "DNS/NAT to point at the host and port where it listens.",
        ""},
    CatalogueEntry{
        FindingCode::kTcpUnreachable, "tcp-unreachable", "tcp", Severity::kError,
        "ICMP error answered the connection attempt",
        "An ICMP destination-unreachable or time-exceeded message answered a packet of this "
        "connection. The reporter (a router or the host) says the destination cannot be "
        "reached: no route, host down, port closed or a TTL loop.",
        "Look at the ICMP type/code and the reporting address: fix the route (or routing loop) "
        "toward the destination, or the service on the host.",
        ""},
    CatalogueEntry{
        FindingCode::kTcpReset, "tcp-reset", "tcp", Severity::kWarning,
        "Established connection reset",
        "A RST ended a connection that had been established. Servers reset when a stream "
        "ends badly; firewalls and IPS devices reset idle or inspected connections.",
        "Look at what came just before the RST. If a firewall sent it, raise its idle timeout "
        "above the XMPP servers' (Prosody 90 s keepalives) or disable XMPP inspection.",
        ""},
    CatalogueEntry{
        FindingCode::kTcpPortNonstandard, "tcp-port-nonstandard", "tcp", Severity::kWarning,
        "Federation traffic on a port other than 5269/5270",
        "A federation connection (found through the _xmpp-server SRV record) used a port other "
        "than 5269 (or 5270 for direct TLS). It works only where every firewall and NAT on the "
        "path knows that port.",
        "Prefer the standard port 5269 in the SRV record and on the server.", ""},
    CatalogueEntry{
        FindingCode::kTcpHandshakeIncomplete, "tcp-handshake-incomplete", "tcp", Severity::kError,
        "TCP handshake never completed",
        "The responder answered SYN with SYN-ACK, but the originator's ACK never arrived (the "
        "SYN-ACK was retransmitted or the connection stalled). Typical of asymmetric routing "
        "through a stateful firewall, or a firewall that drops the return path.",
        "Make sure both directions of the connection cross the same stateful firewall, and "
        "that the return traffic (SYN-ACK and ACK) is permitted.",
        ""},
    CatalogueEntry{
        FindingCode::kFwBlocked, "fw-blocked", "nat/firewall", Severity::kError,
        "The firewall blocked federation traffic",
        "The connection was stopped at the firewall: the SYN was seen arriving on one side but "
        "never leaving on the other, or a RST/ICMP came from the firewall itself rather than "
        "from the server behind it.",
        "Permit TCP 5269 from any (or the peers) to the XMPP server in the firewall's access "
        "rules (Cisco ASA: an access-list entry on the outside interface for the real inside "
        "address with the static NAT), and check the rule order.",
        ""},
    CatalogueEntry{
        FindingCode::kNatPortMismatch, "nat-port-mismatch", "nat/firewall", Severity::kError,
        "NAT forwards 5269 to the wrong inside port",
        "The same connection was seen on both sides of the NAT: the outside leg goes to port "
        "5269, the inside leg to another port (for example 522), and the inside host refused or "
        "ignored it.",
        "Correct the static NAT/port forward so that 5269 outside maps to the server's 5269 "
        "inside (Cisco ASA: `nat (inside,outside) static ... service tcp 5269 5269`).",
        ""},
    CatalogueEntry{
        FindingCode::kNatMissing, "nat-missing", "nat/firewall", Severity::kError,
        "Outbound federation leaves without source NAT",
        "An outbound federation connection from an inside address left the firewall with its "
        "inside source address unchanged. Replies to a private or inside address cannot come "
        "back over the internet.",
        "Add the source NAT (PAT to the public address) for the XMPP server's outbound "
        "connections, and make sure it matches TCP 5269 and DNS.",
        ""},
    CatalogueEntry{
        FindingCode::kXmppNotXmpp, "xmpp-not-xmpp", "xmpp", Severity::kError,
        "Something other than XMPP on the federation port",
        "The bytes on the federation connection are not an XMPP stream: an HTTP server, an SSH "
        "banner, TLS where a plain stream was expected, or binary data. Usually the port "
        "forward or the SRV record points at another service, or another program holds port "
        "5269.",
        "Find what listens on that address and port (`ss -ltnp 'sport = :5269'` on the "
        "server, the NAT/port-forward rule on the firewall) and point it at the XMPP server "
        "(Prosody, ejabberd). Check that the SRV record names the XMPP server, not a web host.",
        "warning when it is the connecting side that sent something else (a scanner); error "
        "when the answering side is not an XMPP server."},
    CatalogueEntry{
        FindingCode::kXmppNoStream, "xmpp-no-stream", "xmpp", Severity::kError,
        "TCP connected but no XMPP stream started",
        "The TCP connection was established, but the receiving side never sent its stream "
        "header back (or neither side sent a byte) before the connection closed. Typical "
        "causes: a proxy or load balancer that accepts TCP without a server behind it, a "
        "firewall with protocol inspection holding the data, or a server so busy or "
        "misconfigured that it never answers.",
        "Check that the XMPP server itself accepted the connection (its log shows incoming "
        "s2s connections), that nothing between (load balancer, IPS, 'XMPP inspection') holds "
        "or drops the data, and that the server's s2s module is enabled.",
        ""},
    CatalogueEntry{
        FindingCode::kXmppStreamError, "xmpp-stream-error", "xmpp", Severity::kError,
        "The XMPP stream was closed with an error",
        "One server closed the stream with an RFC 6120 §4.9 stream error; the condition (the "
        "finding's detail) says why: host-unknown (the receiving server does not serve that "
        "domain), not-authorized (authentication failed), policy-violation (a local policy, "
        "often 'encryption required'), remote-connection-failed (it could not connect to the "
        "other domain's server, e.g. for the dialback check), improper-addressing, "
        "unsupported-stanza-type, see-other-host (redirect), connection-timeout, ...",
        "Read the condition and text in the finding. host-unknown: make the domain a "
        "VirtualHost (Prosody) / host (ejabberd) on the server the SRV record points at. "
        "not-authorized: see the dialback or SASL finding next to it. policy-violation: "
        "compare both servers' encryption and certificate policies (Prosody "
        "`s2s_require_encryption`, `s2s_secure_auth`). remote-connection-failed: the server "
        "could not reach the other domain: check that domain's DNS and firewall.",
        "warning for see-other-host, connection-timeout, system-shutdown and reset (the "
        "stream was closed in an orderly way), error for every other condition."},
    CatalogueEntry{
        FindingCode::kXmppDialbackInvalid, "xmpp-dialback-invalid", "xmpp", Severity::kError,
        "Dialback check answered 'invalid' (or error)",
        "The receiving server asked the authoritative server of the originating domain whether "
        "the dialback key was really generated there (XEP-0220), and the answer was 'invalid' "
        "(or an error). The classic causes: the originating domain is also registered with "
        "another provider, or its SRV/A records point at another server, so the check reaches "
        "a server that never sent the key; or the servers of a cluster do not share the "
        "dialback secret.",
        "Make the domain's `_xmpp-server._tcp` SRV and A/AAAA records (as the peer's resolver "
        "sees them) point at the server that really sends its federation traffic, and remove "
        "the domain from any other provider. For clusters, configure the same dialback secret "
        "on every node (Prosody `dialback_secret`, ejabberd `s2s_dialback` / shared cookie).",
        "A type='error' answer carries a condition (remote-server-not-found, "
        "remote-server-timeout, ...): the receiving server could not reach the authoritative "
        "server at all."},
    CatalogueEntry{
        FindingCode::kXmppDialbackTimeout, "xmpp-dialback-timeout", "xmpp", Severity::kError,
        "Dialback request never answered",
        "The originating server sent `<db:result>` with its key, and no answer came back before "
        "the stream ended. That is what a receiving server does while its own check back to "
        "the originating domain (DNS lookup, connection to that domain's server, db:verify) "
        "hangs or fails.",
        "Check the reverse path: the receiving server must resolve the originating domain "
        "(`_xmpp-server._tcp` SRV and A records as seen from the internet) and reach it on TCP "
        "5269 through the originating side's firewall and NAT. A firewall that lets outbound "
        "5269 out but blocks inbound 5269 gives exactly this.",
        ""},
    CatalogueEntry{
        FindingCode::kXmppDialbackUnsolicited, "xmpp-dialback-unsolicited", "xmpp",
        Severity::kWarning, "Dialback answer without a request",
        "A `<db:result>` or `<db:verify>` answer (type valid/invalid/error) arrived that no "
        "request on this connection asked for. A buggy or hostile peer, or a capture that "
        "missed the request.",
        "If the capture holds the whole connection, report it to the peer's administrator "
        "(their server software may be misbehaving); receiving servers must ignore such "
        "answers.",
        ""},
    CatalogueEntry{
        FindingCode::kXmppStarttlsFailure, "xmpp-starttls-failure", "xmpp", Severity::kError,
        "STARTTLS failed or was tampered with",
        "The receiving server answered `<starttls/>` with `<failure/>` (or never answered), so "
        "TLS never started; or bytes that are not TLS followed the STARTTLS switch point — "
        "the STARTTLS command-injection class (CVE-2011-1431) or a middlebox rewriting the "
        "stream.",
        "On the server that refused: check its TLS certificate and key are loaded (Prosody "
        "`prosodyctl check certs`, ejabberd `certfiles`) and that its TLS library works. "
        "Plaintext after the switch point: find the device or software that injects it; "
        "a correct server discards everything buffered before TLS.",
        "A warning when plaintext followed the switch point but the TLS handshake then "
        "completed on that connection (the other side discarded it and the session went on "
        "encrypted); the direction is then degraded, not failed."},
    CatalogueEntry{
        FindingCode::kXmppTlsRequired, "xmpp-tls-required", "xmpp", Severity::kError,
        "One side requires TLS, the other does not use it",
        "The receiving server marked STARTTLS as required but the originating server carried "
        "on without it (or the receiving server did not offer STARTTLS and the originating "
        "server, which requires encryption, gave up). Prosody requires encryption for s2s by "
        "default.",
        "Enable TLS for federation on the server that does not use it (certificate and key for "
        "the domain; Prosody `s2s_require_encryption`, ejabberd `s2s_use_starttls: required`), "
        "or, if that cannot be done, relax the other server's requirement for this peer.",
        ""},
    CatalogueEntry{
        FindingCode::kXmppSaslFailure, "xmpp-sasl-failure", "xmpp", Severity::kError,
        "SASL authentication failed",
        "The originating server tried SASL (EXTERNAL: authentication by its TLS certificate, "
        "RFC 6120 §6, XEP-0178) and the receiving server answered `<failure/>` with a "
        "condition (not-authorized, invalid-authzid, ...).",
        "The originating server's certificate must name its domain (DNS-ID, SRV-ID or "
        "XmppAddr) and chain to a CA the receiving server trusts. Otherwise let the servers "
        "fall back to dialback (Prosody: `s2s_secure_auth = false` on the receiving side).",
        ""},
    CatalogueEntry{
        FindingCode::kXmppAuthIncomplete, "xmpp-auth-incomplete", "xmpp", Severity::kWarning,
        "Stream ended before authentication completed",
        "The streams were opened and features exchanged in clear, but neither dialback nor "
        "SASL completed before the connection ended, and no other finding explains why.",
        "Compare both servers' logs at that time: look for the authentication methods each "
        "side offers and accepts (dialback enabled? certificates for SASL EXTERNAL?) and for "
        "timeouts.",
        ""},
    CatalogueEntry{
        FindingCode::kXmppStanzaError, "xmpp-stanza-error", "xmpp", Severity::kWarning,
        "Stanzas bounced with an error",
        "A server returned stanzas of type 'error' (RFC 6120 §8.3): the federation link works, "
        "but messages, presence or queries were refused — service-unavailable, "
        "item-not-found (no such user), remote-server-not-found, not-allowed, ...",
        "Read the condition: remote-server-not-found / remote-server-timeout mean a further "
        "server could not be reached; service-unavailable or item-not-found usually mean the "
        "user does not exist or blocks the sender.",
        ""},
    CatalogueEntry{
        FindingCode::kXmppUnencrypted, "xmpp-unencrypted", "xmpp", Severity::kWarning,
        "Federation without TLS",
        "The servers federated (authenticated by dialback, or exchanged stanzas) over a stream "
        "on which TLS never started: messages, presence and the dialback keys cross the "
        "internet in clear, and any host on the path can read or change them. RFC 7590 "
        "requires TLS for XMPP; current servers refuse unencrypted federation by default.",
        "Give both servers a certificate for their domain and enable STARTTLS for "
        "federation (Prosody: `s2s_require_encryption = true`, the default; ejabberd: "
        "`s2s_use_starttls: required`).",
        ""},
    CatalogueEntry{
        FindingCode::kTlsAlert, "tls-alert", "tls", Severity::kError, "TLS alert",
        "A side sent a TLS alert in clear during the handshake (RFC 8446 §6): unknown_ca / "
        "bad_certificate / certificate_unknown (it does not trust the other's certificate), "
        "certificate_expired, handshake_failure (no common cipher or version), "
        "protocol_version, unrecognized_name (SNI), certificate_required, ...",
        "Act on the description: for trust alerts, install the full certificate chain from a "
        "CA the peer trusts (or let the peer fall back to dialback); for handshake_failure and "
        "protocol_version, enable TLS 1.2 and 1.3 with current cipher suites on both servers.",
        "error for fatal alerts; warning for warning-level alerts other than close_notify."},
    CatalogueEntry{
        FindingCode::kTlsCertNameMismatch, "tls-cert-name-mismatch", "tls", Severity::kError,
        "Certificate does not name the XMPP domain",
        "None of the certificate's identifiers covers the domain the stream was addressed to: "
        "no DNS-ID (SAN dNSName, wildcard only as the whole left-most label), no SRV-ID "
        "(_xmpp-server.DOMAIN) and no XmppAddr, as RFC 6120 §13.7 and RFC 7590 require, matched "
        "per RFC 9525. The subject CN is not used.",
        "Get a certificate whose subjectAltName includes the XMPP domain itself (not only the "
        "host name of the server), e.g. `DNS:example.com` for federation of example.com, and "
        "configure it for that domain (Prosody: `prosodyctl cert import`, ejabberd "
        "`certfiles`).",
        ""},
    CatalogueEntry{
        FindingCode::kTlsCertExpired, "tls-cert-expired", "tls", Severity::kError,
        "Certificate expired",
        "The server's certificate was past its notAfter date at the time of the capture.",
        "Renew the certificate (Let's Encrypt: check the renewal job and that the XMPP server "
        "reloads the new file; Prosody `prosodyctl cert import`).",
        ""},
    CatalogueEntry{FindingCode::kTlsCertExpiring, "tls-cert-expiring", "tls", Severity::kWarning,
                   "Certificate expires within 30 days",
                   "The server's certificate expires within 30 days of the capture time.",
                   "Renew it now and check that automatic renewal reaches the XMPP server.", ""},
    CatalogueEntry{
        FindingCode::kTlsCertNotYetValid, "tls-cert-not-yet-valid", "tls", Severity::kError,
        "Certificate not yet valid",
        "The server's certificate has a notBefore date after the capture time: a clock that is "
        "wrong on the issuing machine, or a certificate installed before its start date.",
        "Check the clocks (NTP) on the server and the machine that made the certificate; "
        "reissue it with a correct start date.",
        ""},
    CatalogueEntry{
        FindingCode::kTlsCertSelfSigned, "tls-cert-self-signed", "tls", Severity::kWarning,
        "Self-signed certificate",
        "The server presented a self-signed certificate. Peers that verify certificates will "
        "not trust it; federation can still work when the peer falls back to dialback.",
        "Use a certificate from a public CA (e.g. Let's Encrypt) that names the XMPP domain.", ""},
    CatalogueEntry{
        FindingCode::kTlsCertUntrusted, "tls-cert-untrusted", "tls", Severity::kError,
        "The peer does not trust the certificate",
        "Right after TLS, one server closed the stream with a trust error (<not-authorized/>, "
        "<policy-violation/> or <undefined-condition/>; Prosody adds \"Your server's "
        "certificate is not trusted\") after the other had presented its certificate: the "
        "refusing server requires certificate authentication (Prosody s2s_secure_auth, "
        "ejabberd s2s_use_starttls: required_trusted) and does not trust the issuer, or the "
        "names. Seen inside TLS 1.3 only with the session's key log (--tls-keylog).",
        "If the refused certificate is yours: use one from a CA the peer trusts (a public CA "
        "such as Let's Encrypt) that names your XMPP domain, and send the full chain. If the "
        "refusing server is yours: add the peer's CA to its trust store, or let that peer "
        "authenticate by dialback (Prosody: s2s_insecure_domains).",
        ""},
    CatalogueEntry{
        FindingCode::kTlsOldVersion, "tls-old-version", "tls", Severity::kWarning,
        "TLS older than 1.2 negotiated",
        "The servers negotiated SSL 3.0, TLS 1.0 or TLS 1.1, which RFC 8996 deprecates and "
        "current peers refuse.",
        "Update the TLS library and configuration of the server that cannot do TLS 1.2 or "
        "newer; set the minimum protocol to TLS 1.2 on both.",
        ""},
    CatalogueEntry{
        FindingCode::kTlsHandshakeIncomplete, "tls-handshake-incomplete", "tls", Severity::kError,
        "TLS handshake never completed",
        "TLS started (after STARTTLS or directly) but the handshake did not finish before the "
        "connection ended, and no alert said why: a side stopped answering, or something in "
        "between dropped or cut the handshake records (MTU problems with large certificate "
        "chains, TLS inspection on the firewall).",
        "Look at where the handshake stopped (the ladder): after the ClientHello, the server "
        "never answered (server TLS configuration, a middlebox); after the server's "
        "certificate, the client gave up (it did not trust it; check its log). Check path MTU "
        "and any TLS inspection on the firewall.",
        ""},
    CatalogueEntry{
        FindingCode::kTlsSniMismatch, "tls-sni-mismatch", "tls", Severity::kWarning,
        "TLS server name (SNI) differs from the stream's domain",
        "The ClientHello's server_name is not the domain in the stream header's 'to'. A server "
        "hosting several domains picks its certificate by SNI, so it may present the wrong "
        "one.",
        "Have the originating server send the XMPP domain as SNI (current Prosody and "
        "ejabberd do); check for proxies that rewrite it.",
        ""},
    CatalogueEntry{
        FindingCode::kTlsClosedAfterHandshake, "tls-closed-after-handshake", "tls",
        Severity::kError, "Session torn down right after the TLS handshake",
        "TLS completed, then the connection was torn down within 2 seconds of the ServerHello "
        "— reset by a side, or closed by one side while the other never closed — the shape of "
        "a server that "
        "refuses the other's certificate or policy once it can check them (Prosody "
        "`s2s_secure_auth`, an untrusted CA, a name mismatch). In TLS 1.3 the certificates "
        "and the stream error that says why are encrypted; the finding names the side that "
        "closed first, how soon, and the records each way.",
        "Read the log of the side that closed first at that time (Prosody: `certificate "
        "chain validation result`, ejabberd: `Failed to verify certificate`). Usually: give "
        "the other domain a certificate from a CA both sides trust that names its domain, or "
        "allow dialback for this peer (Prosody `s2s_insecure_domains`).",
        "Not raised for an orderly close (a FIN from each side, no reset): a short session or a "
        "probe that only tests TLS ends so."},
};

// entry() indexes the table by the enum, so the table must list every FindingCode once, in
// enum order; a code added in only one of the two places stops the build here.
constexpr bool in_enum_order() {
  if (kCatalogue.size() != static_cast<std::size_t>(FindingCode::kCount)) return false;
  for (std::size_t i = 0; i < kCatalogue.size(); ++i)
    if (static_cast<std::size_t>(kCatalogue[i].code) != i) return false;
  return true;
}
static_assert(in_enum_order(), "kCatalogue must have one entry per FindingCode, in enum order");

// The text is what reports, the JSON and find_entry() go by.
constexpr bool texts_unique() {
  for (std::size_t i = 0; i < kCatalogue.size(); ++i) {
    if (kCatalogue[i].text.empty()) return false;
    for (std::size_t j = i + 1; j < kCatalogue.size(); ++j)
      if (kCatalogue[i].text == kCatalogue[j].text) return false;
  }
  return true;
}
static_assert(texts_unique(), "every kCatalogue entry needs its own, non-empty code text");

}  // namespace

std::string_view to_string(Stage stage) {
  switch (stage) {
    case Stage::kNone:
      return "";
    case Stage::kDns:
      return "dns";
    case Stage::kTcp:
      return "tcp";
    case Stage::kNat:
      return "nat";
    case Stage::kFirewall:
      return "firewall";
    case Stage::kXmpp:
      return "xmpp";
    case Stage::kTls:
      return "tls";
    case Stage::kAuth:
      return "auth";
  }
  return "";
}

Stage stage_of(FindingCode code) {
  switch (code) {
    case FindingCode::kDnsSrvMissing:
    case FindingCode::kDnsSrvDisabled:
    case FindingCode::kDnsSrvPortNonstandard:
    case FindingCode::kDnsSrvNameSuspicious:
    case FindingCode::kDnsTargetUnresolved:
    case FindingCode::kDnsNoResponse:
    case FindingCode::kDnsError:
    case FindingCode::kDnsAddressNotPublic:
    case FindingCode::kDnsAddressElsewhere:
      return Stage::kDns;
    case FindingCode::kTcpNoAnswer:
    case FindingCode::kTcpRefused:
    case FindingCode::kTcpUnreachable:
    case FindingCode::kTcpReset:
    case FindingCode::kTcpPortNonstandard:
    case FindingCode::kTcpHandshakeIncomplete:
      return Stage::kTcp;
    case FindingCode::kFwBlocked:
      return Stage::kFirewall;
    case FindingCode::kNatPortMismatch:
    case FindingCode::kNatMissing:
      return Stage::kNat;
    case FindingCode::kXmppNotXmpp:
    case FindingCode::kXmppNoStream:
    case FindingCode::kXmppStreamError:
    case FindingCode::kXmppStarttlsFailure:
    case FindingCode::kXmppTlsRequired:
    case FindingCode::kXmppStanzaError:
    case FindingCode::kXmppUnencrypted:
      return Stage::kXmpp;
    case FindingCode::kXmppDialbackInvalid:
    case FindingCode::kXmppDialbackTimeout:
    case FindingCode::kXmppDialbackUnsolicited:
    case FindingCode::kXmppSaslFailure:
    case FindingCode::kXmppAuthIncomplete:
      return Stage::kAuth;
    case FindingCode::kTlsAlert:
    case FindingCode::kTlsCertNameMismatch:
    case FindingCode::kTlsCertExpired:
    case FindingCode::kTlsCertExpiring:
    case FindingCode::kTlsCertNotYetValid:
    case FindingCode::kTlsCertSelfSigned:
    case FindingCode::kTlsCertUntrusted:
    case FindingCode::kTlsOldVersion:
    case FindingCode::kTlsHandshakeIncomplete:
    case FindingCode::kTlsSniMismatch:
    case FindingCode::kTlsClosedAfterHandshake:
      return Stage::kTls;
    case FindingCode::kCount:
      break;
  }
  return Stage::kNone;
}

std::span<const CatalogueEntry> catalogue() {
  return kCatalogue;
}

const CatalogueEntry& entry(FindingCode code) {
  return kCatalogue[static_cast<std::size_t>(code)];
}

std::string_view to_string(FindingCode code) {
  return entry(code).text;
}

const CatalogueEntry* find_entry(std::string_view text) {
  for (const auto& e : kCatalogue)
    if (e.text == text) return &e;
  return nullptr;
}

namespace {

// RFC 6120 §4.9.3: what each stream error condition asks an admin to do.
struct StreamErrorRemedy {
  std::string_view condition, remedy;
};
constexpr StreamErrorRemedy kStreamErrorRemedies[] = {
    {"bad-format", "The sender's XML is malformed for XMPP: update or report the sending server."},
    {"bad-namespace-prefix",
     "The sender used an unsupported namespace prefix: update or report the sending server."},
    {"conflict",
     "A newer stream for the same domain pair replaced this one: usually harmless; repeated, "
     "look for two servers claiming the same domain."},
    {"connection-timeout",
     "The stream was idle too long and closed: normal housekeeping; if it happens mid-"
     "exchange, align idle timeouts (firewall, Prosody `s2s_timeout`)."},
    {"host-gone",
     "The domain is no longer served there: update the SRV/A records to its new server."},
    {"host-unknown",
     "The receiving server does not serve the domain in the stream's 'to': add it as a "
     "VirtualHost (Prosody) / host (ejabberd) there, or make the domain's SRV/A records point "
     "at the server that does serve it."},
    {"improper-addressing",
     "The stream header lacked a valid 'to' or 'from': check the originating server's "
     "configuration (its own domain name) and software."},
    {"internal-server-error", "The server failed internally: read that server's log at that time."},
    {"invalid-from",
     "The 'from' domain is not one this stream authenticated: the originating server sends for "
     "a domain it did not authenticate (multiplexing without dialback, a misconfigured alias)."},
    {"invalid-namespace",
     "The stream namespace is wrong (not jabber:server for s2s): a client or another protocol "
     "connected to the federation port, or the server is misconfigured."},
    {"invalid-xml", "The sender's XML is invalid: update or report the sending server."},
    {"not-authorized",
     "Authentication failed: act on the dialback or SASL finding of the same stream (its root "
     "cause); without one, compare both servers' certificates and dialback settings."},
    {"not-well-formed",
     "The sender's XML is not well-formed: a middlebox rewriting the stream, or a broken "
     "server; compare what both ends sent."},
    {"policy-violation",
     "A local policy refused the stream, often 'encryption required' or a blocked domain: "
     "compare both servers' encryption and certificate policies (Prosody "
     "`s2s_require_encryption`, `s2s_secure_auth`) and any block lists."},
    {"remote-connection-failed",
     "The server could not connect to the other domain's server (e.g. for the dialback check "
     "back): check that domain's DNS, firewall and NAT for TCP 5269."},
    {"reset",
     "The server reset the stream (new credentials or configuration): reconnecting is normal."},
    {"resource-constraint",
     "The server lacks resources (memory, connections): check its load and limits."},
    {"restricted-xml",
     "The sender used XML features XMPP forbids (comments, DTDs): update or report the sending "
     "server."},
    {"see-other-host",
     "The server redirects to another host: fine once; if the other host fails, fix the "
     "redirect target or the SRV records."},
    {"system-shutdown", "The server is shutting down: expected during maintenance."},
    {"undefined-condition", "No standard reason: read the text of the error and the sender's log."},
    {"unsupported-encoding", "The sender did not use UTF-8: update or report the sending server."},
    {"unsupported-feature",
     "A required feature is not supported by the other side: compare both servers' versions "
     "and enabled features."},
    {"unsupported-stanza-type",
     "The receiver does not support an element the sender used (e.g. <starttls/> on a server "
     "with TLS off): see the finding of the same stream; usually a TLS or feature mismatch "
     "between the two servers."},
    {"unsupported-version", "The stream version is not supported: update the older server."},
};

}  // namespace

std::string_view stream_error_remedy(std::string_view condition) {
  for (const auto& r : kStreamErrorRemedies)
    if (r.condition == condition) return r.remedy;
  return entry(FindingCode::kXmppStreamError).remedy;
}

std::string catalogue_markdown() {
  std::string s =
      "# Findings catalogue\n\n"
      "<!-- Generated by `fedscope findings --markdown`; a test keeps this file identical. -->\n\n"
      "Every finding fedscope reports has a stable code, a severity (`error`, `warning`, "
      "`info`), evidence (packet numbers and times in the input files) and a remedy. Codes "
      "never change meaning; new codes are added at the end of their layer.\n\n"
      "| code | layer | severity | title |\n|---|---|---|---|\n";
  for (const auto& e : kCatalogue) {
    s += "| [`" + std::string(e.text) + "`](#" + std::string(e.text) + ") | " +
         std::string(e.layer) + " | " + std::string(to_string(e.severity)) + " | " +
         std::string(e.title) + " |\n";
  }
  for (const auto& e : kCatalogue) {
    s += "\n## " + std::string(e.text) + "\n\n";
    s += "**" + std::string(e.title) + "** — layer " + std::string(e.layer) + ", severity " +
         std::string(to_string(e.severity)) + ".\n\n";
    s += std::string(e.meaning) + "\n\n";
    if (!e.severity_note.empty()) s += "Severity: " + std::string(e.severity_note) + "\n\n";
    s += "Remedy: " + std::string(e.remedy) + "\n";
    if (e.code == FindingCode::kXmppStreamError) {
      s += "\nThe remedy a report gives is the one of the condition seen (RFC 6120 §4.9.3):\n\n"
           "| condition | remedy |\n|---|---|\n";
      for (const auto& r : kStreamErrorRemedies)
        s += "| `" + std::string(r.condition) + "` | " + std::string(r.remedy) + " |\n";
    }
  }
  s += R"(
## Verdicts and the keyless shape rules

A report starts with one verdict per federation direction (from -> to): `failed` (with the
stage and the root-cause finding), `degraded` (it works, with a warning that matters:
`xmpp-unencrypted`, certificate problems the peer tolerated, `tls-old-version`,
`tls-sni-mismatch`, `dns-srv-port-nonstandard`, STARTTLS tampering), `ok`, `not-observed`
or `not-determinable`. Findings that follow from a root cause are folded under it: they
keep their evidence but carry no remedy of their own and do not count for the exit status.

What a capture without the TLS keys can still tell, and the thresholds used:

| rule | threshold |
|---|---|
| `ok`, basis `observed` | dialback `valid` or SASL `<success/>` seen in clear, or inside TLS decrypted with `--tls-keylog` |
| `ok`, basis `inferred` | a stream whose TLS handshake completed and that carried at least 2 encrypted records each way, with no teardown and no blocking finding; or stream headers both ways in clear; or, payload not captured (snaplen), data both ways and a FIN from each side without a reset |
| `tls-closed-after-handshake` | a reset, or one side's FIN left unanswered, within 2 s of the ServerHello; an orderly close (a FIN each way, no reset) is not a teardown |
| the likely cause of a teardown | named (as the root cause, the teardown folded under it) only when the certificate was seen (in clear in TLS 1.2 or older, or inside TLS 1.3 with `--tls-keylog`) and has a finding; a stream error `<not-authorized/>`, `<policy-violation/>` or `<undefined-condition/>` after it (read inside TLS with the key log) is folded under it too |
| a failed connection back to us while our encrypted stream is open (the peer's possible dialback check) | the peer closing our stream within 60 s of it: our direction `failed` with the same root cause; our stream open 60 s longer: unchanged; the capture ending before: `not-determinable`, naming that connection |
| a clean close before authentication | not a failure by itself (a probe does it) |

Exit status: 1 when a direction failed or a root cause is an error, 3 when the capture holds
no federation traffic at all (nothing to judge), else 0.
)";
  return s;
}

std::string catalogue_json(const std::vector<const CatalogueEntry*>& entries) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto* e : entries)
    list.push_back(nlohmann::ordered_json{
        {"code", e->text},
        {"layer", e->layer},
        {"severity", to_string(e->severity)},
        {"title", e->title},
        {"meaning", e->meaning},
        {"severity_note", e->severity_note.empty() ? nlohmann::ordered_json(nullptr)
                                                   : nlohmann::ordered_json(e->severity_note)},
        {"remedy", e->remedy},
        {"doc", "docs/findings.md#" + std::string(e->text)}});
  return nlohmann::ordered_json{{"findings", list}}.dump(2) + "\n";
}

namespace {

// Words of @p text on lines of at most @p width columns (a longer word stands alone), each
// line starting with @p indent. Counts bytes: the catalogue's few non-ASCII characters (§, →)
// make a line at most a column or two short.
std::string wrap(std::string_view text, std::size_t width, const std::string& indent) {
  std::string out, line;
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && text[pos] == ' ')
      ++pos;
    std::size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    if (end == pos) break;
    std::string_view word = text.substr(pos, end - pos);
    if (!line.empty() && indent.size() + line.size() + 1 + word.size() > width) {
      out += indent + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + std::string(word);
    pos = end;
  }
  if (!line.empty()) out += indent + line + "\n";
  return out;
}

}  // namespace

std::string catalogue_entry_text(const CatalogueEntry& e, std::size_t width) {
  std::string s = std::string(e.text) + "  (" + std::string(to_string(e.severity)) + ", layer " +
                  std::string(e.layer) + ")\n";
  s += wrap(e.title, width, "  ");
  s += "\nWhat it means:\n" + wrap(e.meaning, width, "  ");
  if (!e.severity_note.empty()) s += "\nSeverity:\n" + wrap(e.severity_note, width, "  ");
  s += "\nRemedy:\n" + wrap(e.remedy, width, "  ");
  s += "\nDocumented in docs/findings.md#" + std::string(e.text) + "\n";
  return s;
}

void Finding::add_evidence(const EvidenceRef& ref) {
  ++evidence_total;
  if (evidence.size() < kMaxEvidence) evidence.push_back(ref);
}

}  // namespace fedscope::report
