#include "fedscope/report/findings.hpp"

#include <array>

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
        "dns-srv-missing", "dns", Severity::kWarning,
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
        "dns-srv-disabled", "dns", Severity::kError,
        "SRV record says the service is not offered (target \".\")",
        "The _xmpp-server._tcp SRV record has the target \".\", which RFC 2782 defines as "
        "\"the service is decidedly not available at this domain\". Servers stop there and do "
        "not fall back to A/AAAA.",
        "If the domain should federate, replace the \".\" record with a real target host and "
        "port 5269. If it should not, this is working as intended and the peer's admin should "
        "stop trying.",
        ""},
    CatalogueEntry{
        "dns-srv-port-nonstandard", "dns", Severity::kWarning,
        "SRV record points at a port other than 5269",
        "The _xmpp-server._tcp SRV record names a port other than the standard 5269 (a classic "
        "typo is 5369). Peers will connect to that port, so the firewall, NAT and server must "
        "all use it.",
        "Check the SRV record's port. Unless the server really listens on that port and the "
        "firewall forwards it, change the record to 5269.",
        ""},
    CatalogueEntry{
        "dns-srv-name-suspicious", "dns", Severity::kWarning, "Malformed XMPP SRV service name",
        "A lookup used a service name that looks like a mistyped _xmpp-server._tcp (for "
        "example _xmpp-server_tcp.DOMAIN or _xmpp_server._tcp.DOMAIN), or the legacy "
        "_jabber._tcp. Servers only look up _xmpp-server._tcp.DOMAIN, so records under the "
        "wrong name are never found.",
        "Create the record under exactly `_xmpp-server._tcp.DOMAIN` (underscores, dash and the "
        "dot between the service and `_tcp`) and remove the misspelt one.",
        ""},
    CatalogueEntry{
        "dns-target-unresolved", "dns", Severity::kError, "SRV target host has no address",
        "The SRV record names a target host, but the A/AAAA lookups for that host returned no "
        "address (NXDOMAIN or NODATA). Peers cannot connect.",
        "Add A (and/or AAAA) records for the SRV target host, or point the SRV record at a host "
        "that has them. The target must be a host name with addresses, not a CNAME.",
        ""},
    CatalogueEntry{
        "dns-no-response", "dns", Severity::kError, "DNS query never answered",
        "A federation-related DNS query got no response within the timeout (the query may have "
        "been retried). The resolver, the path to it, or a firewall in between is failing.",
        "Check that the resolver the XMPP server uses is up and reachable on UDP and TCP port "
        "53 through the firewall (and that replies are allowed back).",
        ""},
    CatalogueEntry{
        "dns-error", "dns", Severity::kError,
        "DNS server answered with an error (SERVFAIL, REFUSED, ...)",
        "A federation-related DNS query was answered with an error code: SERVFAIL (the resolver "
        "could not get an answer, e.g. broken delegation or DNSSEC failure), REFUSED (the "
        "server will not answer this client or zone), FORMERR or NOTIMP.",
        "For REFUSED, let the XMPP server's address use the resolver (recursion ACL). For "
        "SERVFAIL, check the zone's delegation and DNSSEC and the resolver's upstream access.",
        ""},
    CatalogueEntry{
        "dns-address-not-public", "dns", Severity::kError,
        "Federation target resolves to an inside or non-public address",
        "An XMPP federation target (SRV target or fallback domain) resolves to a private, "
        "loopback, link-local or CGNAT address, or into an --inside-net range. Peers on the "
        "internet cannot reach it; typically the public zone publishes the inside address of "
        "a NAT'ed server.",
        "Publish the firewall's public (NAT) address in the public DNS zone. Keep inside "
        "addresses only in an internal zone (split DNS).",
        ""},
    CatalogueEntry{
        "tcp-no-answer", "tcp", Severity::kError,
        "Connection attempt never answered (SYNs retransmitted)",
        "The originator sent SYN and retransmitted it, and nothing came back: no SYN-ACK, no "
        "RST, no ICMP. Something on the path drops the packets silently, or the destination "
        "host is down.",
        "Check that the destination address is right (DNS), that the host is up, and that every "
        "firewall on the path permits TCP 5269 to it (and NAT forwards it).",
        ""},
    CatalogueEntry{
        "tcp-refused", "tcp", Severity::kError, "Connection refused (RST answering SYN)",
        "The destination answered the SYN with a RST: the host is reachable but nothing "
        "listens on that port (the federation service is stopped, or listens on another port "
        "or address).",
        "Start the XMPP server's federation (s2s) listener on TCP 5269 on that address, or fix "
        "DNS/NAT to point at the host and port where it listens.",
        ""},
    CatalogueEntry{
        "tcp-unreachable", "tcp", Severity::kError, "ICMP error answered the connection attempt",
        "An ICMP destination-unreachable or time-exceeded message answered a packet of this "
        "connection. The reporter (a router or the host) says the destination cannot be "
        "reached: no route, host down, port closed or a TTL loop.",
        "Look at the ICMP type/code and the reporting address: fix the route (or routing loop) "
        "toward the destination, or the service on the host.",
        ""},
    CatalogueEntry{
        "tcp-reset", "tcp", Severity::kWarning, "Established connection reset",
        "A RST ended a connection that had been established. Servers reset when a stream "
        "ends badly; firewalls and IPS devices reset idle or inspected connections.",
        "Look at what came just before the RST. If a firewall sent it, raise its idle timeout "
        "above the XMPP servers' (Prosody 90 s keepalives) or disable XMPP inspection.",
        ""},
    CatalogueEntry{
        "tcp-port-nonstandard", "tcp", Severity::kWarning,
        "Federation traffic on a port other than 5269/5270",
        "A federation connection (found through the _xmpp-server SRV record) used a port other "
        "than 5269 (or 5270 for direct TLS). It works only where every firewall and NAT on the "
        "path knows that port.",
        "Prefer the standard port 5269 in the SRV record and on the server.", ""},
    CatalogueEntry{
        "tcp-handshake-incomplete", "tcp", Severity::kError, "TCP handshake never completed",
        "The responder answered SYN with SYN-ACK, but the originator's ACK never arrived (the "
        "SYN-ACK was retransmitted or the connection stalled). Typical of asymmetric routing "
        "through a stateful firewall, or a firewall that drops the return path.",
        "Make sure both directions of the connection cross the same stateful firewall, and "
        "that the return traffic (SYN-ACK and ACK) is permitted.",
        ""},
    CatalogueEntry{
        "fw-blocked", "nat/firewall", Severity::kError, "The firewall blocked federation traffic",
        "The connection was stopped at the firewall: the SYN was seen arriving on one side but "
        "never leaving on the other, or a RST/ICMP came from the firewall itself rather than "
        "from the server behind it.",
        "Permit TCP 5269 from any (or the peers) to the XMPP server in the firewall's access "
        "rules (Cisco ASA: an access-list entry on the outside interface for the real inside "
        "address with the static NAT), and check the rule order.",
        ""},
    CatalogueEntry{
        "nat-port-mismatch", "nat/firewall", Severity::kError,
        "NAT forwards 5269 to the wrong inside port",
        "The same connection was seen on both sides of the NAT: the outside leg goes to port "
        "5269, the inside leg to another port (for example 522), and the inside host refused or "
        "ignored it.",
        "Correct the static NAT/port forward so that 5269 outside maps to the server's 5269 "
        "inside (Cisco ASA: `nat (inside,outside) static ... service tcp 5269 5269`).",
        ""},
    CatalogueEntry{
        "nat-missing", "nat/firewall", Severity::kError,
        "Outbound federation leaves without source NAT",
        "An outbound federation connection from an inside address left the firewall with its "
        "inside source address unchanged. Replies to a private or inside address cannot come "
        "back over the internet.",
        "Add the source NAT (PAT to the public address) for the XMPP server's outbound "
        "connections, and make sure it matches TCP 5269 and DNS.",
        ""},
};

}  // namespace

std::span<const CatalogueEntry> catalogue() {
  return kCatalogue;
}

const CatalogueEntry* find_entry(std::string_view code) {
  for (const auto& e : kCatalogue)
    if (e.code == code) return &e;
  return nullptr;
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
    s += "| [`" + std::string(e.code) + "`](#" + std::string(e.code) + ") | " +
         std::string(e.layer) + " | " + std::string(to_string(e.severity)) + " | " +
         std::string(e.title) + " |\n";
  }
  for (const auto& e : kCatalogue) {
    s += "\n## " + std::string(e.code) + "\n\n";
    s += "**" + std::string(e.title) + "** — layer " + std::string(e.layer) + ", severity " +
         std::string(to_string(e.severity)) + ".\n\n";
    s += std::string(e.meaning) + "\n\n";
    if (!e.severity_note.empty()) s += "Severity: " + std::string(e.severity_note) + "\n\n";
    s += "Remedy: " + std::string(e.remedy) + "\n";
  }
  return s;
}

void Finding::add_evidence(std::uint16_t file, std::uint64_t packet, Timestamp time) {
  ++evidence_total;
  if (evidence.size() < kMaxEvidence) evidence.push_back(Evidence{file, packet, time});
}

}  // namespace fedscope::report
