// Helpers that more than one layer's judge uses (judge_util.hpp).

#include "judge_util.hpp"

#include <algorithm>

#include "fedscope/base/domain.hpp"

namespace fedscope::report::detail {
namespace {

// What an ICMP error says, in an admin's words (RFC 792, RFC 1812, RFC 4443).
std::string icmp_meaning(const flow::IcmpEvent& e, bool v6, bool tcp) {
  if (!e.unreachable) return "a TTL ran out on the way: a routing loop or a path that is too long";
  if (v6) {
    switch (e.code) {
      case 0:
        return "no route to the destination";
      case 1:
        return "communication administratively prohibited (a firewall rule)";
      case 3:
        return "address unreachable: no host answered neighbour discovery";
      case 4:
        return tcp ? "port unreachable" : "port unreachable: nothing listens on that port";
      default:
        return "destination unreachable";
    }
  }
  switch (e.code) {
    case 0:
      return "network unreachable: no route to the destination";
    case 1:
      return "host unreachable: the last router got no ARP answer (host down or wrong address)";
    case 3:
      return tcp ? "port unreachable (for TCP this comes from a firewall reject rule)"
                 : "port unreachable: nothing listens on that port";
    case 9:
    case 10:
    case 13:
      return "communication administratively prohibited (a firewall rule)";
    default:
      return "destination unreachable";
  }
}

}  // namespace

std::string srv_domain(std::string_view qname) {
  std::string k = domain_key(qname);
  if (starts_with(k, kSrvPrefix)) return k.substr(kSrvPrefix.size());
  return "";
}

bool suspicious_service(const std::string& qname) {
  for (std::string_view ok : {kSrvPrefix, kSrvsPrefix, std::string_view("_xmpp-client._tcp."),
                              std::string_view("_xmpps-client._tcp.")})
    if (starts_with(qname, ok)) return false;
  if (starts_with(qname, "_jabber._tcp.")) return true;
  auto dot1 = qname.find('.');
  auto dot2 = dot1 == std::string::npos ? std::string::npos : qname.find('.', dot1 + 1);
  std::string head = qname.substr(0, dot2);
  bool xmppish = head.find("xmpp") != std::string::npos || head.find("jabber") != std::string::npos;
  return xmppish && head.find('_') != std::string::npos;
}

bool federation(const ConnectionRecord& c) {
  for (const auto& l : c.conn.legs) {
    if (l.resp.port == 53 || l.orig.port == 53) return false;
    if (l.resp.port == 5269 || l.resp.port == 5270) return true;
  }
  return std::any_of(c.dns.begin(), c.dns.end(), [](const engine::DnsLink& l) {
    return l.via == engine::LinkVia::kSrv ? starts_with(l.service, "_xmpp")
                                          : l.via == engine::LinkVia::kAFallback;
  });
}

std::string domain_of(const ConnectionRecord& c) {
  if (!c.dns.empty()) return c.dns.front().domain;
  // No DNS seen: the domain the originating server's stream asks for.
  if (c.xmpp) return s2s::stream_domains(*c.xmpp).second;
  return "";
}

std::string leg_text(const flow::Leg& l) {
  return l.orig.to_string() + " → " + l.resp.to_string();
}

std::string icmp_text(const flow::IcmpEvent& e, bool v6, bool tcp) {
  std::string kind = e.unreachable ? "destination unreachable" : "time exceeded";
  return "ICMP" + std::string(v6 ? "v6 " : " ") + kind + " (type " + std::to_string(e.type) +
         ", code " + std::to_string(e.code) + ") from " + e.reporter.to_string() + ": " +
         icmp_meaning(e, v6, tcp);
}

}  // namespace fedscope::report::detail
