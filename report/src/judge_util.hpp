#pragma once
// Internal to fedscope_report (not installed): the free helpers that more than one layer's
// judge uses. Helpers of one layer stay in that layer's file.

#include <string>
#include <string_view>

#include "fedscope/engine/engine.hpp"
#include "fedscope/report/findings.hpp"

namespace fedscope::report::detail {

using engine::ConnectionRecord;
using engine::DnsTransaction;
using flow::PacketRef;

inline constexpr std::string_view kSrvPrefix = "_xmpp-server._tcp.";
inline constexpr std::string_view kSrvsPrefix = "_xmpps-server._tcp.";

inline bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

/// The domain of an _xmpp-server._tcp name, in its comparison form (domain.hpp); "" for
/// other names.
std::string srv_domain(std::string_view qname);

/// A name that looks like a mistyped XMPP service label (_jabber._tcp, _xmpp_server...).
bool suspicious_service(const std::string& qname);

/// The TCP handshake completed on this leg.
inline bool established(const flow::Leg& l) {
  return l.r.syns > 0 && (l.o.sent_ack || l.o.sent_data);
}

/// A federation connection: a leg to 5269/5270, or one an _xmpp SRV or A fallback led to;
/// never a DNS (port 53) connection.
bool federation(const ConnectionRecord& c);

/// The domain a connection was for: from its DNS link, else the stream's 'to'; "" unknown.
std::string domain_of(const ConnectionRecord& c);

/// "orig → resp" of one leg.
std::string leg_text(const flow::Leg& l);

/// An ICMP error and what it means, in an admin's words (RFC 792, RFC 1812, RFC 4443);
/// @p tcp when it answers a TCP segment (port unreachable then comes from a firewall).
std::string icmp_text(const flow::IcmpEvent& e, bool v6, bool tcp = true);

/// Packets as evidence of a finding.
inline void evidence(Finding& f, const PacketRef& p) {
  f.add_evidence(p);
}
inline void evidence(Finding& f, const DnsTransaction& t) {
  evidence(f, t.query);
  if (t.response) evidence(f, *t.response);
}

}  // namespace fedscope::report::detail
