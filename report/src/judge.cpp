// The judges: turn the collected DNS transactions and connections into findings, and group
// them into federation attempts for the story.

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <unordered_set>
#include <utility>

#include "fedscope/base/domain.hpp"
#include "fedscope/report/analysis.hpp"
#include "fedscope/tls/names.hpp"

namespace fedscope::report {
namespace {

using engine::ConnectionRecord;
using engine::DnsTransaction;
using flow::PacketRef;

constexpr std::string_view kSrvPrefix = "_xmpp-server._tcp.";
constexpr std::string_view kSrvsPrefix = "_xmpps-server._tcp.";

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// The domain of an _xmpp-server._tcp name, in its comparison form (domain.hpp).
std::string srv_domain(std::string_view qname) {
  std::string k = domain_key(qname);
  if (starts_with(k, kSrvPrefix)) return k.substr(kSrvPrefix.size());
  return "";
}

// A name that looks like a mistyped XMPP service label.
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

bool has_address(const DnsTransaction& t) {
  return std::any_of(t.answers.begin(), t.answers.end(), [](const dns::ResourceRecord& rr) {
    return std::holds_alternative<IpAddress>(rr.data);
  });
}

bool is_error_rcode(std::uint8_t rc) {
  return rc == dns::kServFail || rc == dns::kRefused || rc == dns::kFormErr || rc == dns::kNotImp;
}

bool is_negative(const DnsTransaction& t) {
  // A damaged response proves nothing by what it lacks.
  return t.answered() && (t.rcode == dns::kNxDomain || (t.nodata() && !t.response_damaged));
}

std::string negative_text(const DnsTransaction& t) {
  return t.rcode == dns::kNxDomain ? "NXDOMAIN" : "NODATA (no records of that type)";
}

bool established(const flow::Leg& l) {
  return l.r.syns > 0 &&
         (l.history.find('A') != std::string::npos || l.history.find('D') != std::string::npos);
}

bool admin_prohibited(const flow::IcmpEvent& e, bool v6) {
  if (!e.unreachable) return false;
  if (v6) return e.code == 1 || e.code == 4;  // administratively prohibited; port unreachable
  // Port unreachable for TCP comes from firewalls (hosts answer with RST), and 9/10/13 are the
  // "administratively prohibited" codes.
  return e.code == 3 || e.code == 9 || e.code == 10 || e.code == 13;
}

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

std::string icmp_text(const flow::IcmpEvent& e, bool v6, bool tcp = true) {
  std::string kind = e.unreachable ? "destination unreachable" : "time exceeded";
  return "ICMP" + std::string(v6 ? "v6 " : " ") + kind + " (type " + std::to_string(e.type) +
         ", code " + std::to_string(e.code) + ") from " + e.reporter.to_string() + ": " +
         icmp_meaning(e, v6, tcp);
}

// What a stream error condition usually means for federation (RFC 6120 §4.9.3).
std::string stream_error_hint(const std::string& c) {
  if (c == "host-unknown")
    return "the receiving server does not serve that domain: it is not configured there, or the "
           "SRV/A records point at the wrong server";
  if (c == "not-authorized") return "authentication (dialback or SASL) failed";
  if (c == "policy-violation")
    return "a local policy refused the stream, often 'encryption required' or a blocked domain";
  if (c == "remote-connection-failed")
    return "the server could not connect to the other domain's server (e.g. for the dialback "
           "check): that domain's DNS or firewall";
  if (c == "improper-addressing") return "the stream header lacked a valid 'to' or 'from'";
  if (c == "invalid-from") return "the 'from' domain is not one this stream is authorised for";
  if (c == "unsupported-stanza-type") return "the peer sent an element it does not support";
  if (c == "see-other-host") return "the server redirects to another host";
  if (c == "connection-timeout") return "the stream was idle too long";
  if (c == "system-shutdown") return "the server is shutting down";
  if (c == "host-gone") return "the domain is no longer served there";
  if (c == "undefined-condition") return "no standard reason given: read the text";
  if (c == "unsupported-version") return "the stream version is not supported";
  if (c == "invalid-namespace" || c == "bad-format" || c == "not-well-formed" ||
      c == "restricted-xml")
    return "the peer sent XML the server refuses";
  if (c == "internal-server-error") return "the server failed internally: read its log";
  if (c == "reset") return "the server reset the stream (e.g. new credentials or configuration)";
  return "see RFC 6120 §4.9.3";
}

bool orderly_stream_error(const std::string& c) {
  return c == "see-other-host" || c == "connection-timeout" || c == "system-shutdown" ||
         c == "reset";
}

std::string alert_hint(std::uint8_t d) {
  switch (d) {
    case 48:
      return "it does not trust the CA that issued the other side's certificate";
    case 42:
    case 46:
      return "it rejected the other side's certificate";
    case 45:
      return "it considers the other side's certificate expired";
    case 40:
      return "no cipher suite or parameters both sides accept";
    case 70:
      return "no TLS version both sides accept";
    case 112:
      return "it does not serve the name asked for in SNI";
    case 116:
      return "it requires a client certificate that was not sent";
    case 120:
      return "no application protocol (ALPN) in common";
    case 80:
      return "an internal error on that side";
    default:
      return "";
  }
}

std::string date_text(std::int64_t unix_seconds) {
  return format_iso8601(Timestamp::from_parts(unix_seconds, 0)).substr(0, 10);
}

class Judge {
 public:
  // --domain in its comparison form, each once: "CUPDOMAIN.EXAMPLE." is cupdomain.example,
  // shown so in the report too.
  explicit Judge(Result& r) : r_(r) {
    std::vector<std::string> ours;
    for (const auto& d : r.our_domains)
      if (std::string k = domain_key(d); !k.empty() && ours_.insert(k).second)
        ours.push_back(std::move(k));
    r.our_domains = std::move(ours);
  }

  void run() {
    learn_vantages();
    if (ours_.empty()) infer_ours();
    judge_dns();
    for (std::size_t i = 0; i < r_.connections.size(); ++i)
      judge_connection(i);
    for (std::size_t i = 0; i < r_.connections.size(); ++i)
      judge_xmpp(i);
    build_attempts();
    for (auto& f : r_.findings)
      std::stable_sort(f.evidence.begin(), f.evidence.end(),
                       [](const Evidence& a, const Evidence& b) { return a.time < b.time; });
    // Errors first, then warnings; stable within a severity (time order).
    std::stable_sort(r_.findings.begin(), r_.findings.end(),
                     [](const Finding& a, const Finding& b) {
                       return static_cast<int>(a.severity) > static_cast<int>(b.severity);
                     });
  }

 private:
  Result& r_;
  std::set<std::string> ours_;                               // domain keys
  std::map<std::string, std::vector<std::size_t>> by_name_;  // qname key -> dns indexes
  // (code, certificate sha256) -> finding
  std::map<std::pair<FindingCode, std::string>, std::size_t> cert_findings_;
  bool sll_ = false;
  std::unordered_set<std::uint32_t> error_flows_;  // flow ids with an error-level finding

  bool is_ours(const std::string& d) const { return !d.empty() && ours_.count(domain_key(d)) > 0; }
  bool inside(const IpAddress& a) const {
    return std::any_of(r_.inside_nets.begin(), r_.inside_nets.end(),
                       [&](const Cidr& c) { return c.contains(a); });
  }
  bool not_public(const IpAddress& a) const {
    return classify(a) != AddressScope::kPublic || inside(a);
  }
  std::string whose(const std::string& domain) const {
    if (domain.empty()) return "the";
    return is_ours(domain) ? "your" : "the peer's";
  }

  Finding& add(FindingCode code, Severity sev, std::string summary, std::string domain) {
    Finding f(code);
    f.severity = sev;
    f.summary = std::move(summary);
    f.domain = std::move(domain);
    f.remedy = std::string(entry(code).remedy);
    // Whose zone to fix matters only for findings about a domain's DNS records.
    static constexpr FindingCode kZoneCodes[] = {
        FindingCode::kDnsSrvMissing, FindingCode::kDnsSrvDisabled,
        FindingCode::kDnsSrvPortNonstandard, FindingCode::kDnsTargetUnresolved,
        FindingCode::kDnsAddressNotPublic};
    bool zone =
        std::find(std::begin(kZoneCodes), std::end(kZoneCodes), code) != std::end(kZoneCodes);
    if (!f.domain.empty() && zone) {
      std::string who = is_ours(f.domain) ? "This is your domain: " : "";
      if (!is_ours(f.domain) && !ours_.empty())
        who = "This is the peer's domain: tell its administrator. ";
      std::string remedy = f.remedy;
      for (auto pos = remedy.find("DOMAIN"); pos != std::string::npos; pos = remedy.find("DOMAIN"))
        remedy.replace(pos, 6, f.domain);
      f.remedy = who + remedy;
    }
    r_.findings.push_back(std::move(f));
    return r_.findings.back();
  }
  Finding& add(FindingCode code, std::string summary, std::string domain = "") {
    return add(code, entry(code).severity, std::move(summary), std::move(domain));
  }

  static void evidence(Finding& f, const PacketRef& p) { f.add_evidence(p.file, p.number, p.time); }
  static void evidence(Finding& f, const DnsTransaction& t) {
    evidence(f, t.query);
    if (t.response) evidence(f, *t.response);
  }

  void learn_vantages() {
    std::set<std::tuple<std::uint16_t, std::int32_t, std::int32_t>> v;
    bool paired = false;
    for (const auto& c : r_.connections) {
      for (const auto& l : c.conn.legs) {
        v.insert({l.vantage.file, l.vantage.interface, l.vantage.ifindex});
        if (l.first_direction != packet::Direction::kUnknown) sll_ = true;
      }
      if (c.conn.legs.size() > 1) paired = true;
    }
    for (const auto& t : r_.dns)
      if (t.copies > 0) paired = true;
    r_.vantage_count = v.size();
    // Several files, or several interfaces of one pcapng file, are taken to be vantage points
    // around one forwarding box (outside and inside of a firewall).
    std::size_t capture_points = 0;
    for (const auto& f : r_.files)
      capture_points += std::max<std::size_t>(1, f.interfaces.size());
    r_.forwarding_vantage = paired || capture_points > 1;
  }

  // Without --domain: a domain is ours when its federation address is one of our servers: an
  // --inside-net address, or the public address that a NAT translates to an inside server.
  void infer_ours() {
    std::set<IpAddress> our_addrs;
    for (const auto& c : r_.connections) {
      for (const auto& l : c.conn.legs) {
        if (!inside(l.resp.addr)) continue;
        our_addrs.insert(l.resp.addr);
        for (const auto& other : c.conn.legs)
          our_addrs.insert(other.resp.addr);
      }
    }
    for (const auto& t : r_.dns)
      for (const auto& rr : t.answers)
        if (const auto* a = std::get_if<IpAddress>(&rr.data); a && inside(*a)) our_addrs.insert(*a);
    if (our_addrs.empty()) return;
    // Names that resolve to those addresses, then the domains whose SRV (or fallback) names them.
    std::set<std::string> names;
    for (const auto& t : r_.dns)
      for (const auto& rr : t.answers)
        if (const auto* a = std::get_if<IpAddress>(&rr.data); a && our_addrs.count(*a)) {
          names.insert(domain_key(t.qname));
          names.insert(domain_key(rr.name));
        }
    std::set<std::string> domains;
    for (const auto& t : r_.dns) {
      std::string d = srv_domain(t.qname);
      if (d.empty()) continue;
      if (names.count(d)) domains.insert(d);
      for (const auto& rr : t.answers)
        if (const auto* srv = std::get_if<dns::SrvData>(&rr.data);
            srv && names.count(domain_key(srv->target)))
          domains.insert(d);
    }
    for (const auto& d : domains) {
      ours_.insert(d);
      r_.our_domains_inferred.push_back(d);
    }
  }

  // ---- DNS ----------------------------------------------------------------------------------

  std::vector<const DnsTransaction*> lookups(const std::string& name, bool addresses) {
    std::vector<const DnsTransaction*> v;
    auto it = by_name_.find(domain_key(name));
    if (it == by_name_.end()) return v;
    for (auto i : it->second) {
      const auto& t = r_.dns[i];
      bool addr = t.qtype == dns::kA || t.qtype == dns::kAaaa;
      if (addresses == addr) v.push_back(&t);
    }
    return v;
  }

  // Errors and silence for one federation-related name.
  void judge_failures(const std::string& name, const std::vector<const DnsTransaction*>& ts,
                      const std::string& domain) {
    const DnsTransaction* err = nullptr;
    std::uint64_t errs = 0, silent = 0;
    const DnsTransaction* first_silent = nullptr;
    bool answered = false;
    for (const auto* t : ts) {
      if (t->answered() && is_error_rcode(t->rcode)) {
        if (!err) err = t;
        ++errs;
      }
      if (t->answered() && !is_error_rcode(t->rcode)) answered = true;
      if (t->outcome == engine::DnsOutcome::kNoResponse) {
        if (!first_silent) first_silent = t;
        ++silent;
      }
    }
    if (err) {
      auto& f = add(FindingCode::kDnsError,
                    "DNS server " + err->server.addr.to_string() + " answered " +
                        std::string(dns::rcode_name(err->rcode)) + " for " + name + " " +
                        std::string(dns::type_name(err->qtype)) + ".",
                    domain);
      f.detail = std::string(dns::rcode_name(err->rcode));
      f.count = errs;
      for (const auto* t : ts)
        if (t->answered() && is_error_rcode(t->rcode)) evidence(f, *t);
    }
    if (first_silent && !answered) {
      std::uint32_t sent = 0;
      for (const auto* t : ts)
        if (t->outcome == engine::DnsOutcome::kNoResponse) sent += t->queries;
      std::string extra;
      if (first_silent->icmp)
        extra =
            " (" + icmp_text(*first_silent->icmp, first_silent->server.addr.is_v6(), false) + ")";
      auto& f =
          add(FindingCode::kDnsNoResponse,
              "No answer from " + first_silent->server.to_string() + " to " + std::to_string(sent) +
                  " " + std::string(dns::type_name(first_silent->qtype)) + " quer" +
                  (sent == 1 ? "y" : "ies") + " for " + name + extra + ".",
              domain);
      f.count = silent;
      for (const auto* t : ts)
        if (t->outcome == engine::DnsOutcome::kNoResponse) evidence(f, t->query);
    }
  }

  void judge_dns() {
    for (std::size_t i = 0; i < r_.dns.size(); ++i)
      by_name_[domain_key(r_.dns[i].qname)].push_back(i);

    std::set<std::string> reported_suspicious;
    for (const auto& [name, idx] : by_name_) {
      if (!suspicious_service(name)) continue;
      auto& f = add(FindingCode::kDnsSrvNameSuspicious,
                    "Lookup of a malformed XMPP service name: " + name +
                        (starts_with(name, "_jabber._tcp.") ? " (legacy _jabber._tcp)" : "") +
                        "; servers only look up _xmpp-server._tcp.<domain>.",
                    "");
      f.detail = name;
      f.count = idx.size();
      for (auto i : idx)
        evidence(f, r_.dns[i].query);
    }

    for (const auto& [name, idx] : by_name_) {
      std::string domain = srv_domain(name);
      if (domain.empty()) continue;
      std::vector<const DnsTransaction*> srv;
      for (auto i : idx)
        if (r_.dns[i].qtype == dns::kSrv) srv.push_back(&r_.dns[i]);
      if (srv.empty()) continue;
      judge_failures(name, srv, domain);

      bool positive = false;
      const DnsTransaction* negative = nullptr;
      std::set<std::string> targets;
      for (const auto* t : srv) {
        if (is_negative(*t) && !negative) negative = t;
        for (const auto& rr : t->answers) {
          const auto* s = std::get_if<dns::SrvData>(&rr.data);
          if (!s) continue;
          positive = true;
          const std::string target = domain_key(s->target);
          if (target == ".") {
            auto& f = add(FindingCode::kDnsSrvDisabled,
                          "The SRV record " + rr.name + " has target \".\": " + whose(domain) +
                              " domain " + domain + " declares that it offers no federation.",
                          domain);
            evidence(f, *t);
            continue;
          }
          if (s->port != 5269 && targets.insert(target + ":" + std::to_string(s->port)).second) {
            auto& f = add(FindingCode::kDnsSrvPortNonstandard,
                          "The SRV record " + rr.name + " points at " + s->target + " port " +
                              std::to_string(s->port) + ", not 5269.",
                          domain);
            f.detail = std::to_string(s->port);
            evidence(f, *t);
          }
          targets.insert(target);
        }
      }
      if (!positive && negative) judge_srv_missing(name, domain, *negative, srv);
      for (const auto& target : targets) {
        if (target.find(':') != std::string::npos) continue;
        judge_target(target, domain, true);
      }
    }
  }

  void judge_srv_missing(const std::string& name, const std::string& domain,
                         const DnsTransaction& negative,
                         const std::vector<const DnsTransaction*>& srv) {
    // RFC 6120 §3.2.2: without SRV, servers connect to the domain's own A/AAAA on 5269.
    auto addr = lookups(domain, true);
    judge_failures(domain, addr, domain);
    bool any_address = false, all_failed = !addr.empty();
    for (const auto* t : addr) {
      if (has_address(*t)) any_address = true;
      bool failed = is_negative(*t) || t->outcome == engine::DnsOutcome::kNoResponse ||
                    (t->answered() && is_error_rcode(t->rcode));
      if (!failed) all_failed = false;
    }
    int conns = 0, ok = 0;
    for (const auto& c : r_.connections) {
      for (const auto& l : c.dns) {
        if (l.via == "a-fallback" && domains_equal(l.domain, domain)) {
          ++conns;
          if (established(c.conn.primary())) ++ok;
          break;
        }
      }
    }
    Severity sev = Severity::kWarning;
    std::string fallback;
    if (conns > 0) {
      sev = ok > 0 ? Severity::kWarning : Severity::kError;
      fallback = ok > 0 ? "the fallback connection to " + domain + " on 5269 worked"
                        : "the fallback connection to " + domain + " on 5269 failed too";
    } else if (any_address) {
      fallback = domain + " has an address record, so servers fall back to it on port 5269";
    } else if (all_failed) {
      sev = Severity::kError;
      fallback = "the A/AAAA fallback lookups for " + domain + " found no address either";
    } else if (!addr.empty()) {
      fallback =
          "the A/AAAA fallback lookup for " + domain + " had no result before the capture ended";
    } else {
      fallback = "the A/AAAA fallback lookup for " + domain + " is not in this capture";
    }
    auto& f = add(FindingCode::kDnsSrvMissing, sev,
                  "No SRV record " + name + " (" + negative_text(negative) + "); " + fallback + ".",
                  domain);
    f.detail = negative_text(negative);
    for (const auto* t : srv)
      if (is_negative(*t)) evidence(f, *t);
    for (const auto* t : addr)
      evidence(f, *t);
  }

  void judge_target(const std::string& target, const std::string& domain, bool from_srv) {
    auto addr = lookups(target, true);
    if (addr.empty()) return;
    judge_failures(target, addr, domain);
    bool any_address = false, negative = false;
    for (const auto* t : addr) {
      if (has_address(*t)) any_address = true;
      if (is_negative(*t)) negative = true;
    }
    if (from_srv && !any_address && negative) {
      auto& f = add(FindingCode::kDnsTargetUnresolved,
                    "The SRV target " + target + " of " + domain + " has no A/AAAA record (" +
                        negative_text(**addr.begin()) + ").",
                    domain);
      for (const auto* t : addr)
        evidence(f, *t);
    }
    std::set<IpAddress> seen;
    for (const auto* t : addr) {
      for (const auto& rr : t->answers) {
        const auto* a = std::get_if<IpAddress>(&rr.data);
        if (!a || !not_public(*a) || !seen.insert(*a).second) continue;
        std::string why =
            inside(*a) ? "inside your --inside-net range" : std::string(to_string(classify(*a)));
        auto& f = add(FindingCode::kDnsAddressNotPublic,
                      "The federation target " + target + " (for " + domain + ") resolves to " +
                          a->to_string() + ", " + why + ": peers on the internet cannot reach it.",
                      domain);
        f.detail = a->to_string();
        evidence(f, *t);
      }
    }
  }

  // ---- TCP, NAT and firewall ------------------------------------------------------------------

  bool federation(const ConnectionRecord& c) const {
    for (const auto& l : c.conn.legs) {
      if (l.resp.port == 53 || l.orig.port == 53) return false;
      if (l.resp.port == 5269 || l.resp.port == 5270) return true;
    }
    return std::any_of(c.dns.begin(), c.dns.end(), [](const engine::DnsLink& l) {
      return l.via == "srv" ? starts_with(l.service, "_xmpp") : l.via == "a-fallback";
    });
  }

  std::string domain_of(const ConnectionRecord& c) const {
    if (!c.dns.empty()) return c.dns.front().domain;
    // No DNS seen: the domain the originating server's stream asks for.
    if (c.xmpp) return s2s::stream_domains(*c.xmpp).second;
    return "";
  }

  static std::string leg_text(const flow::Leg& l) {
    return l.orig.to_string() + " → " + l.resp.to_string();
  }

  void judge_connection(std::size_t index) {
    auto& rec = r_.connections[index];
    if (!federation(rec)) return;
    const auto& conn = rec.conn;
    const auto& P = conn.primary();
    const std::string cs = conn.conn_state;
    const std::string domain = domain_of(rec);
    const bool v6 = P.orig.addr.is_v6();
    bool specific = false;
    auto at = [&](Finding& f) -> Finding& {
      f.flow = conn.id;
      return f;
    };

    bool ports_differ = std::any_of(conn.legs.begin(), conn.legs.end(),
                                    [&](const flow::Leg& l) { return l.resp.port != P.resp.port; });
    bool any_established = std::any_of(conn.legs.begin(), conn.legs.end(), established);

    // NAT sends the public port to another inside port.
    if (conn.legs.size() > 1 && ports_differ && !any_established) {
      const flow::Leg* out = &P;
      const flow::Leg* in = &conn.legs.back();
      for (const auto& l : conn.legs)
        if (l.resp.port != P.resp.port) in = &l;
      std::string answer = in->r.first_rst ? "refused it (RST)" : "did not answer";
      auto& f = at(add(FindingCode::kNatPortMismatch,
                       "NAT translated " + out->resp.to_string() + " to " + in->resp.to_string() +
                           " and the inside host " + answer + ".",
                       domain));
      f.detail = std::to_string(out->resp.port) + "->" + std::to_string(in->resp.port);
      for (const auto& l : conn.legs) {
        if (l.o.first_syn) evidence(f, *l.o.first_syn);
        if (l.r.first_rst) evidence(f, *l.r.first_rst);
      }
      specific = true;
    }

    // Outbound federation that crossed the firewall with its inside source address.
    if (conn.legs.size() > 1 && !specific) {
      bool same_src = std::all_of(conn.legs.begin(), conn.legs.end(),
                                  [&](const flow::Leg& l) { return l.orig.addr == P.orig.addr; });
      if (same_src && not_public(P.orig.addr) && !not_public(P.resp.addr)) {
        auto& f = at(add(FindingCode::kNatMissing,
                         "Outbound connection " + leg_text(P) + " left the firewall with source " +
                             P.orig.addr.to_string() + " untranslated (" +
                             (inside(P.orig.addr) ? "an --inside-net address"
                                                  : std::string(to_string(classify(P.orig.addr)))) +
                             "); replies cannot come back.",
                         domain));
        for (const auto& l : conn.legs)
          if (l.o.first_syn) evidence(f, *l.o.first_syn);
        specific = true;
      }
    }

    // ICMP errors: firewall rejects vs. routers/hosts reporting unreachability.
    for (const auto& l : conn.legs) {
      for (const auto& e : l.icmp) {
        bool fw = admin_prohibited(e, v6);
        auto& f = at(add(fw ? FindingCode::kFwBlocked : FindingCode::kTcpUnreachable,
                         (fw ? "A firewall rejected " : "The connection ") + leg_text(l) +
                             (fw ? " with " : " was answered by ") + icmp_text(e, v6) + ".",
                         domain));
        f.detail = "icmp " + std::to_string(e.type) + "/" + std::to_string(e.code);
        if (l.o.first_syn) evidence(f, *l.o.first_syn);
        evidence(f, e.ref);
        specific = true;
        break;
      }
      if (specific) break;
    }

    // One leg only, on a box that forwards: the firewall stopped it.
    if (!specific && conn.legs.size() == 1) {
      bool syn_in = P.first_direction == packet::Direction::kIn;
      bool s0 = cs == "S0" && (conn.syn_retries() > 0 || !conn.capture_ended);
      if (s0 && (r_.forwarding_vantage || syn_in)) {
        auto& f = at(add(FindingCode::kFwBlocked,
                         std::to_string(P.o.syns) + " SYN" + (P.o.syns == 1 ? "" : "s") + " " +
                             leg_text(P) +
                             (syn_in ? " reached the capturing box" : " were seen on one side") +
                             " but never left it: the firewall dropped them.",
                         domain));
        f.count = P.o.syns;
        add_syn_evidence(f, P);
        specific = true;
      } else if (cs == "REJ" && P.r.first_rst) {
        bool rst_local = syn_in && !r_.inside_nets.empty() && !inside(P.resp.addr);
        if (r_.forwarding_vantage || rst_local) {
          auto& f = at(add(FindingCode::kFwBlocked,
                           "The firewall answered " + leg_text(P) +
                               " with a RST itself; the SYN never reached the inside server.",
                           domain));
          if (P.o.first_syn) evidence(f, *P.o.first_syn);
          evidence(f, *P.r.first_rst);
          specific = true;
        }
      }
    }

    if (!specific) {
      if (cs == "S0" && (conn.syn_retries() > 0 || !conn.capture_ended)) {
        auto& f = at(add(FindingCode::kTcpNoAnswer,
                         leg_text(P) + ": " + std::to_string(P.o.syns) + " SYN" +
                             (P.o.syns == 1 ? "" : "s") + syn_timing(P) + ", no answer.",
                         domain));
        f.count = P.o.syns;
        add_syn_evidence(f, P);
      } else if (cs == "REJ") {
        // Name the host that sent the RST: on a NAT'ed connection, the leg where it was seen
        // first is nearest to its sender (the outside copy carries the public address).
        const flow::Leg* from = &P;
        for (const auto& l : conn.legs)
          if (l.r.first_rst && from->r.first_rst && l.r.first_rst->time < from->r.first_rst->time)
            from = &l;
        auto& f = at(add(FindingCode::kTcpRefused,
                         leg_text(P) + " was refused: " + from->resp.to_string() +
                             " answered the SYN with RST (nothing listens there).",
                         domain));
        if (P.o.first_syn) evidence(f, *P.o.first_syn);
        if (from->r.first_rst) evidence(f, *from->r.first_rst);
      }
    }

    auto orig_acked = [](const flow::Leg& l) {
      return l.history.find('A') != std::string::npos || l.history.find('D') != std::string::npos ||
             l.history.find('F') != std::string::npos;
    };
    for (const auto& l : conn.legs) {
      bool reset =
          l.history.find('R') != std::string::npos || l.history.find('r') != std::string::npos;
      if (l.o.syns > 0 && l.r.syns > 0 && !orig_acked(l) && !reset) {
        // On a NAT'ed connection the other leg tells where the ACK was lost.
        const flow::Leg* acked = nullptr;
        for (const auto& other : conn.legs)
          if (&other != &l && orig_acked(other)) acked = &other;
        std::string where = acked ? ", although it was sent on the other side of the firewall (" +
                                        leg_text(*acked) + "): the firewall dropped it"
                                  : "";
        auto& f = at(add(FindingCode::kTcpHandshakeIncomplete,
                         leg_text(l) + ": SYN-ACK sent " + std::to_string(l.r.syns) + " time" +
                             (l.r.syns == 1 ? "" : "s") +
                             ", the originator's ACK never arrived here" + where + ".",
                         domain));
        if (l.o.first_syn) evidence(f, *l.o.first_syn);
        if (l.r.first_syn) evidence(f, *l.r.first_syn);
        break;
      }
    }

    if ((cs == "RSTO" || cs == "RSTR") && established(P)) {
      bool by_orig = cs == "RSTO";
      const auto& side = by_orig ? P.o : P.r;
      // A side that had already closed (sent its FIN) and then resets is tearing down: its
      // kernel answers data that arrived after close(). Not a fault of the path.
      bool teardown =
          side.first_fin && side.first_rst && side.first_fin->time <= side.first_rst->time;
      if (!teardown) {
        auto& f =
            at(add(FindingCode::kTcpReset,
                   leg_text(P) + " was reset by the " + (by_orig ? "originator " : "responder ") +
                       (by_orig ? P.orig : P.resp).addr.to_string() + " after " +
                       std::to_string(P.o.payload_bytes + P.r.payload_bytes) + " bytes.",
                   domain));
        if (side.first_rst) evidence(f, *side.first_rst);
      }
    }

    for (const auto& link : rec.dns) {
      if (link.via == "srv" && link.port != 5269 && link.port != 5270) {
        auto& f =
            at(add(FindingCode::kTcpPortNonstandard,
                   "Federation with " + link.domain + " used port " + std::to_string(link.port) +
                       " (from its SRV record): " + leg_text(P) + ".",
                   link.domain));
        f.detail = std::to_string(link.port);
        if (P.o.first_syn) evidence(f, *P.o.first_syn);
        break;
      }
    }
  }

  static std::string syn_timing(const flow::Leg& l) {
    if (l.o.syn_times.size() < 2) return "";
    std::string s = " at +";
    for (std::size_t i = 0; i < l.o.syn_times.size() && i < 10; ++i) {
      if (i) s += ", +";
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f", (l.o.syn_times[i] - l.o.syn_times[0]).seconds());
      s += buf;
    }
    return s + " s";
  }

  static void add_syn_evidence(Finding& f, const flow::Leg& l) {
    if (l.o.first_syn) evidence(f, *l.o.first_syn);
    f.evidence_total = l.o.syns;  // every SYN is evidence; the first is named
  }

  // ---- XMPP and TLS ---------------------------------------------------------------------------

  void judge_xmpp(std::size_t index) {
    auto& rec = r_.connections[index];
    if (!rec.xmpp || !federation(rec)) return;
    const auto& x = *rec.xmpp;
    const auto& conn = rec.conn;
    const auto& P = conn.primary();
    auto [from_dom, to_dom] = s2s::stream_domains(x);
    std::string domain = !to_dom.empty() ? to_dom : domain_of(rec);
    const std::string who_o = P.orig.addr.to_string(), who_r = P.resp.addr.to_string();
    auto name_o = from_dom.empty() ? who_o : from_dom + " (" + who_o + ")";
    auto name_r = to_dom.empty() ? who_r : to_dom + " (" + who_r + ")";
    auto at = [&](Finding& f) -> Finding& {
      f.flow = conn.id;
      return f;
    };
    // How long the capture went on after a point, on this connection.
    auto waited = [&](const PacketRef& since) { return (P.last - since.time).seconds(); };
    const bool ended_by_capture = conn.capture_ended;
    std::size_t before = r_.findings.size();

    // -- not XMPP
    for (bool orig : {false, true}) {
      const auto& s = orig ? x.orig : x.resp;
      if (s.not_xmpp_kind.empty()) continue;
      auto& f = at(add(FindingCode::kXmppNotXmpp, orig ? Severity::kWarning : Severity::kError,
                       (orig ? "The connecting side " + who_o + " sent "
                             : "The server at " + P.resp.to_string() + " answered with ") +
                           s.not_xmpp_kind + " ('" + s.not_xmpp_bytes + "'), not XMPP.",
                       domain));
      f.detail = s.not_xmpp_kind;
      if (s.not_xmpp_ref) evidence(f, *s.not_xmpp_ref);
    }
    if (x.kind == "not-xmpp") return;

    // -- no stream
    bool est = established(P);
    if (est && !x.resp.header && x.resp.not_xmpp_kind.empty() && !x.tls.started &&
        !ended_by_capture && !x.midstream && x.resp.gap_bytes == 0) {
      std::string s;
      if (x.orig.header)
        s = name_o + " opened an XMPP stream to " + name_r +
            ", which never sent a stream header back (" + std::to_string(x.resp.bytes) +
            " bytes in " + std::to_string(static_cast<int>(waited(x.orig.header->ref) + 0.5)) +
            " s) before the connection closed.";
      else if (x.orig.bytes == 0 && x.resp.bytes == 0)
        s = "The TCP connection " + leg_text(P) +
            " opened and closed without either side "
            "sending a byte: no XMPP stream.";
      if (!s.empty()) {
        auto& f = at(add(FindingCode::kXmppNoStream, s, domain));
        if (x.orig.header) evidence(f, x.orig.header->ref);
        if (P.o.first_fin) evidence(f, *P.o.first_fin);
        if (P.r.first_fin) evidence(f, *P.r.first_fin);
      }
    }

    // -- stream errors
    for (bool orig : {false, true}) {
      const auto& s = orig ? x.orig : x.resp;
      if (!s.stream_error) continue;
      const auto& e = *s.stream_error;
      auto& f = at(add(FindingCode::kXmppStreamError,
                       orderly_stream_error(e.condition) ? Severity::kWarning : Severity::kError,
                       (orig ? name_o : name_r) + " closed the stream with <" + e.condition + "/>" +
                           (e.text.empty() ? "" : " ('" + e.text.substr(0, 200) + "')") + ": " +
                           stream_error_hint(e.condition) + ".",
                       domain));
      f.detail = e.condition;
      evidence(f, e.ref);
    }

    // -- dialback
    const std::string who_db = "receiving";
    for (std::size_t i = 0; i < x.dialback.size(); ++i) {
      const auto& d = x.dialback[i];
      std::string el = d.verify ? "db:verify" : "db:result";
      if (d.type == xmpp::DialbackType::kInvalid || d.type == xmpp::DialbackType::kError) {
        bool invalid = d.type == xmpp::DialbackType::kInvalid;
        std::string s;
        if (!d.verify)
          s = d.from + " (" + (d.from_orig ? who_o : who_r) + ") refused " + d.to +
              "'s dialback key: <db:result type='" + (invalid ? "invalid" : "error") + "'/>" +
              (invalid ? ". The authoritative server for " + d.to + " that " + d.from +
                             " asked (by " + d.to + "'s DNS) said the key is not its own"
                       : " (" + (d.condition.empty() ? std::string("no condition") : d.condition) +
                             "): " + d.from + " could not verify the key with " + d.to +
                             "'s authoritative server") +
              ".";
        else
          s = "The authoritative server " + d.from + " (" + (d.from_orig ? who_o : who_r) +
              ") answered <db:verify type='" + (invalid ? "invalid" : "error") + "'/> to " + d.to +
              (invalid ? ": it did not generate that key (a server claiming " + d.from +
                             " that is not its own server sent it)"
                       : " (" + d.condition + ")") +
              ".";
        auto& f = at(add(FindingCode::kXmppDialbackInvalid, s, d.verify ? d.from : d.to));
        f.detail = std::string(invalid ? "invalid" : "error") + (d.verify ? " (verify)" : "") +
                   (d.condition.empty() ? "" : ": " + d.condition);
        for (const auto& q : x.dialback)
          if (q.answer && *q.answer == i) evidence(f, q.ref);
        evidence(f, d.ref);
      } else if (d.type != xmpp::DialbackType::kRequest && !d.solicited && !x.midstream &&
                 x.orig.gap_bytes == 0 && x.resp.gap_bytes == 0) {
        auto& f = at(add(FindingCode::kXmppDialbackUnsolicited,
                         (d.from_orig ? name_o : name_r) + " sent <" + el + " type='" +
                             std::string(xmpp::to_string(d.type)) + "'/> for " + d.from + " -> " +
                             d.to + " that no request on this connection asked for.",
                         domain));
        f.detail = el;
        evidence(f, d.ref);
      }
    }
    for (const auto& d : x.dialback) {
      if (d.type != xmpp::DialbackType::kRequest || d.answered) continue;
      // The answer's absence is evidence only when the stream went on long enough without it
      // and no stream error answered instead.
      const auto& answerer = d.from_orig ? x.resp : x.orig;
      bool closed = !ended_by_capture || waited(d.ref) >= 30.0;
      // A reset from the answering side ended it (tcp-reset says so), not a silent wait.
      bool answerer_reset = d.from_orig ? P.r.first_rst.has_value() : P.o.first_rst.has_value();
      if (!closed || answerer.stream_error || answerer_reset || x.tls.started) continue;
      std::string el = d.verify ? "db:verify" : "db:result";
      auto& f = at(add(FindingCode::kXmppDialbackTimeout,
                       (d.from_orig ? name_o : name_r) + " sent <" + el + "> (" + d.from + " -> " +
                           d.to + ") and got no answer in " +
                           std::to_string(static_cast<int>(waited(d.ref) + 0.5)) +
                           " s before the stream ended: " +
                           (d.verify ? d.to + "'s server never confirmed its key"
                                     : d.to + " could not complete its check back to " + d.from +
                                           "'s authoritative server") +
                           ".",
                       d.verify ? d.from : d.to));
      f.detail = el;
      evidence(f, d.ref);
    }

    // -- STARTTLS
    if (x.resp.tls_failure) {
      auto& f = at(add(FindingCode::kXmppStarttlsFailure,
                       name_r + " answered <starttls/> with <failure/>: TLS was refused.", domain));
      f.detail = "failure";
      if (x.resp.tls_ref) evidence(f, *x.resp.tls_ref);
    } else if (x.orig.starttls && !x.resp.proceed && !ended_by_capture && x.resp.gap_bytes == 0 &&
               !x.resp.stream_error) {
      auto& f = at(add(FindingCode::kXmppStarttlsFailure,
                       name_o + " sent <starttls/> and " + name_r +
                           " never answered it before the connection closed.",
                       domain));
      f.detail = "no answer";
      if (x.orig.tls_ref) evidence(f, *x.orig.tls_ref);
    }
    for (bool orig : {true, false}) {
      const auto& s = orig ? x.orig : x.resp;
      // The initiator's switch point counts only once the receiver said <proceed/>.
      if (!s.plaintext_after_tls || (orig && !x.resp.proceed)) continue;
      auto& f = at(add(FindingCode::kXmppStarttlsFailure,
                       (orig ? name_o : name_r) +
                           " sent plaintext right after its STARTTLS switch point where TLS "
                           "must start: STARTTLS command injection (CVE-2011-1431 class) or a "
                           "middlebox rewriting the stream.",
                       domain));
      f.detail = "plaintext after STARTTLS";
      if (s.plaintext_after_ref) evidence(f, *s.plaintext_after_ref);
    }

    // -- TLS required
    const auto& rf = x.resp.features;
    bool orig_went_on =
        !x.orig.starttls && (x.orig.stanzas.total() > 0 || !x.orig.sasl_mechanism.empty() ||
                             std::any_of(x.dialback.begin(), x.dialback.end(),
                                         [](const s2s::DialbackFact& d) { return d.from_orig; }));
    if (rf && rf->starttls.required && !x.orig.starttls &&
        (orig_went_on || x.orig.closed || x.resp.stream_error)) {
      auto& f =
          at(add(FindingCode::kXmppTlsRequired,
                 name_r + " requires TLS (<starttls><required/></starttls>) but " + name_o +
                     " did not start it" + (orig_went_on ? " and went on in clear" : "") + ".",
                 domain));
      f.detail = "receiver requires TLS";
      if (x.resp.features_ref) evidence(f, *x.resp.features_ref);
    } else if (rf && !rf->starttls.offered && x.orig.starttls && !x.resp.proceed) {
      // A server that requires encryption tries STARTTLS even when it is not offered
      // (Prosody does); closing without a word would look the same as a scripted peer.
      std::string what = " sent <starttls/> anyway" +
                         std::string(x.resp.stream_error ? " and was refused with <" +
                                                               x.resp.stream_error->condition + "/>"
                                                         : "");
      auto& f = at(add(FindingCode::kXmppTlsRequired,
                       name_r + " does not offer STARTTLS and " + name_o + what + ": " + name_o +
                           " requires encryption, " + name_r + " has TLS off.",
                       domain));
      f.detail = "originator requires TLS";
      if (x.resp.features_ref) evidence(f, *x.resp.features_ref);
      if (x.orig.tls_ref) evidence(f, *x.orig.tls_ref);
      if (x.orig.close_ref) evidence(f, *x.orig.close_ref);
    }

    // -- SASL
    for (bool orig : {false, true}) {
      const auto& s = orig ? x.orig : x.resp;
      if (!s.sasl_failure) continue;
      const auto& asker = orig ? x.resp : x.orig;
      auto& f =
          at(add(FindingCode::kXmppSaslFailure,
                 (orig ? name_o : name_r) + " refused SASL " +
                     (asker.sasl_mechanism.empty() ? std::string("authentication")
                                                   : asker.sasl_mechanism) +
                     " with <" + (s.sasl_condition.empty() ? "failure" : s.sasl_condition) + "/>.",
                 domain));
      f.detail = s.sasl_condition;
      if (s.sasl_ref) evidence(f, *s.sasl_ref);
    }

    // -- stanza errors
    for (bool orig : {false, true}) {
      const auto& s = orig ? x.orig : x.resp;
      if (s.stanza_errors == 0) continue;
      const auto& e = s.stanza_error_samples.front();
      auto& f = at(add(
          FindingCode::kXmppStanzaError,
          (orig ? name_o : name_r) + " returned " + std::to_string(s.stanza_errors) +
              " stanza error" + (s.stanza_errors == 1 ? "" : "s") + "; first: " + e.kind +
              (e.condition.empty() ? "" : " <" + e.condition + "/>") +
              (e.from.empty() ? "" : " from " + e.from) + (e.to.empty() ? "" : " to " + e.to) + ".",
          domain));
      f.detail = e.condition;
      f.count = s.stanza_errors;
      for (const auto& sample : s.stanza_error_samples)
        evidence(f, sample.ref);
      f.evidence_total = s.stanza_errors;
    }

    // -- authentication incomplete (only when the authentication phase was observable)
    bool explained = r_.findings.size() > before;
    bool verify_only = std::any_of(x.dialback.begin(), x.dialback.end(),
                                   [](const s2s::DialbackFact& d) { return d.verify; });
    bool authed = x.orig.sasl_success || x.resp.sasl_success ||
                  std::any_of(x.dialback.begin(), x.dialback.end(), [](const s2s::DialbackFact& d) {
                    return !d.verify && d.type == xmpp::DialbackType::kValid;
                  });
    // Empty features are what a server sends after authentication (the restart after SASL),
    // so only features that offer a way to authenticate make its absence a fault.
    bool auth_offered = x.resp.features &&
                        (x.resp.features->dialback || !x.resp.features->sasl_mechanisms.empty() ||
                         x.resp.features->starttls.offered);
    if (!explained && !authed && !verify_only && !x.tls.started && x.orig.header && x.resp.header &&
        auth_offered && !ended_by_capture && !x.midstream) {
      auto& f = at(add(FindingCode::kXmppAuthIncomplete,
                       "The stream " + from_dom + " -> " + to_dom + " (" + leg_text(P) +
                           ") ended without authentication: neither dialback nor SASL "
                           "completed" +
                           (x.orig.stanzas.total() ? "" : " and no stanza was sent") + ".",
                       domain));
      if (x.resp.features_ref) evidence(f, *x.resp.features_ref);
      if (x.orig.close_ref) evidence(f, *x.orig.close_ref);
    }

    judge_tls(rec, domain, name_o, name_r);
  }

  void judge_tls(const ConnectionRecord& rec, const std::string& domain, const std::string& name_o,
                 const std::string& name_r) {
    const auto& x = *rec.xmpp;
    const auto& t = x.tls;
    if (!t.started) return;
    const auto& conn = rec.conn;
    const auto& P = conn.primary();
    auto at = [&](Finding& f) -> Finding& {
      f.flow = conn.id;
      return f;
    };
    bool fatal_alert = false;
    for (const auto& a : t.alerts) {
      if (a.encrypted || a.description == 0) continue;  // close_notify is an orderly close
      bool fatal = a.level == 2;
      fatal_alert = fatal_alert || fatal;
      std::string hint = alert_hint(a.description);
      auto& f = at(add(FindingCode::kTlsAlert, fatal ? Severity::kError : Severity::kWarning,
                       "The TLS " + std::string(a.from_client ? "client " : "server ") +
                           (a.from_client ? name_o : name_r) + " sent a " +
                           (fatal ? "fatal" : "warning") + " alert " +
                           tls::alert_description_name(a.description) +
                           (hint.empty() ? "" : ": " + hint) + ".",
                       domain));
      f.detail = tls::alert_description_name(a.description);
      evidence(f, a.ref);
    }
    if (t.server_hello && t.server_hello->version < 0x0303) {
      auto& f =
          at(add(FindingCode::kTlsOldVersion,
                 name_o + " and " + name_r + " negotiated " +
                     tls::version_name(t.server_hello->version) + " (deprecated by RFC 8996).",
                 domain));
      f.detail = tls::version_name(t.server_hello->version);
      if (t.server_hello_ref) evidence(f, *t.server_hello_ref);
    }
    // A side that did not speak TLS at all (plaintext after STARTTLS) is its own finding.
    bool not_tls = !t.client_not_tls.empty() || !t.server_not_tls.empty() ||
                   x.orig.plaintext_after_tls || x.resp.plaintext_after_tls;
    if (!t.complete && !fatal_alert && !not_tls && t.client_hello &&
        (!conn.capture_ended || (P.last - t.client_hello_ref->time).seconds() >= 30.0)) {
      std::string where = !t.server_hello ? "the server never answered the ClientHello"
                          : t.certificate == s2s::Seen::kYes
                              ? "it stopped after the server's certificate"
                              : "it stopped after the ServerHello";
      auto& f = at(add(FindingCode::kTlsHandshakeIncomplete,
                       "The TLS handshake between " + name_o + " and " + name_r +
                           " never completed: " + where + ".",
                       domain));
      if (t.client_hello_ref) evidence(f, *t.client_hello_ref);
      if (t.server_hello_ref) evidence(f, *t.server_hello_ref);
    }
    // SNI against the stream's 'to' (the domain the initiating server wants).
    std::string to = x.orig.header ? x.orig.header->to : "";
    if (t.client_hello && !t.client_hello->sni.empty() && !to.empty() &&
        !domains_equal(t.client_hello->sni, to)) {
      auto& f = at(add(FindingCode::kTlsSniMismatch,
                       name_o + " asked for TLS server name '" + t.client_hello->sni +
                           "' on a stream to " + to + ".",
                       domain));
      f.detail = t.client_hello->sni;
      if (t.client_hello_ref) evidence(f, *t.client_hello_ref);
    }
    // The domain the server certificate must name: the stream's 'to', else SNI, else DNS.
    std::string want = !to.empty()                                      ? to
                       : t.client_hello && !t.client_hello->sni.empty() ? t.client_hello->sni
                                                                        : domain;
    if (t.certificate == s2s::Seen::kYes && !t.chain.empty())
      judge_certificate(rec, t.chain.front(), t.certificate_ref, name_r, "", want, domain);
    // The originating server's client certificate (asked for SASL EXTERNAL) names its own
    // domain, the stream's 'from'.
    if (!t.client_chain.empty())
      judge_certificate(rec, t.client_chain.front(), t.client_certificate_ref, name_o, "client ",
                        x.orig.header ? x.orig.header->from : "", domain);
  }

  void judge_certificate(const ConnectionRecord& rec, const tls::CertificateInfo& leaf,
                         const std::optional<PacketRef>& ref, const std::string& who,
                         const std::string& kind, const std::string& want,
                         const std::string& domain) {
    if (leaf.parse_error) return;
    const auto& P = rec.conn.primary();
    auto at = [&](Finding& f) -> Finding& {
      f.flow = rec.conn.id;
      return f;
    };
    PacketRef cref = ref ? *ref : P.o.first_syn.value_or(PacketRef{});
    std::int64_t now = cref.time.ns / 1'000'000'000;
    std::string subject = leaf.subject.empty() ? "(empty subject)" : leaf.subject;
    std::string what = who + " presented a " + kind + "certificate (" + subject + ")";
    // One finding per certificate and code: the same certificate shown on several
    // connections (as server and as client certificate) adds evidence, not findings.
    auto add_cert = [&](FindingCode code, std::string summary, const std::string& dom) -> Finding& {
      auto key = std::make_pair(code, leaf.sha256);
      if (auto it = cert_findings_.find(key); it != cert_findings_.end()) {
        auto& f = r_.findings[it->second];
        ++f.count;
        return f;
      }
      cert_findings_[key] = r_.findings.size();
      return at(add(code, std::move(summary), dom));
    };
    if (!want.empty()) {
      auto m = tls::certificate_covers(leaf, want);
      if (!m.covered) {
        std::string names;
        for (const auto& n : leaf.dns_names)
          names += (names.empty() ? "" : ", ") + ("DNS:" + n);
        for (const auto& n : leaf.srv_names)
          names += (names.empty() ? "" : ", ") + ("SRV:" + n);
        for (const auto& n : leaf.xmpp_addrs)
          names += (names.empty() ? "" : ", ") + ("XmppAddr:" + n);
        auto& f = add_cert(FindingCode::kTlsCertNameMismatch,
                           what + " that does not name " + want + ": it names " +
                               (names.empty() ? "nothing in its SAN" : names) +
                               (m.how.empty() ? "" : "; " + m.how) + ".",
                           want);
        f.detail = want;
        evidence(f, cref);
      }
    }
    if (leaf.not_after < now) {
      auto& f = add_cert(FindingCode::kTlsCertExpired,
                         what + " that expired on " + date_text(leaf.not_after) + ".", domain);
      f.detail = date_text(leaf.not_after);
      evidence(f, cref);
    } else if (leaf.not_after - now < 30 * 86400) {
      auto& f =
          add_cert(FindingCode::kTlsCertExpiring,
                   what + " that expires on " + date_text(leaf.not_after) + ", " +
                       std::to_string((leaf.not_after - now) / 86400) + " days after this capture.",
                   domain);
      f.detail = date_text(leaf.not_after);
      evidence(f, cref);
    }
    if (leaf.not_before > now) {
      auto& f =
          add_cert(FindingCode::kTlsCertNotYetValid,
                   what + " that is valid only from " + date_text(leaf.not_before) + ".", domain);
      f.detail = date_text(leaf.not_before);
      evidence(f, cref);
    }
    if (leaf.self_signed) {
      auto& f = add_cert(FindingCode::kTlsCertSelfSigned, what + " that is self-signed.", domain);
      evidence(f, cref);
    }
  }

  // ---- Attempts -------------------------------------------------------------------------------

  void build_attempts() {
    // Keyed "d:" + domain key, or "e:" + endpoint; the attempt shows the domain as first seen.
    std::map<std::string, std::size_t> index;
    auto attempt_for = [&](const std::string& key, const std::string& domain) -> Attempt& {
      auto it = index.find(key);
      if (it != index.end()) return r_.attempts[it->second];
      index[key] = r_.attempts.size();
      r_.attempts.push_back(Attempt{});
      auto& a = r_.attempts.back();
      a.domain = domain;
      a.target = domain;
      return a;
    };
    // Names that belong to a domain: its SRV names and SRV targets (all as keys).
    std::map<std::string, std::string> domain_of_name;
    for (const auto& t : r_.dns) {
      const std::string qname = domain_key(t.qname);
      std::string d = srv_domain(qname);
      if (d.empty() && starts_with(qname, kSrvsPrefix)) d = qname.substr(kSrvsPrefix.size());
      if (d.empty()) continue;
      domain_of_name[qname] = d;
      for (const auto& rr : t.answers)
        if (const auto* s = std::get_if<dns::SrvData>(&rr.data))
          domain_of_name[domain_key(s->target)] = d;
    }
    for (const auto& [name, d] : std::map<std::string, std::string>(domain_of_name))
      domain_of_name.emplace(d, d);
    for (std::size_t i = 0; i < r_.dns.size(); ++i) {
      const std::string qname = domain_key(r_.dns[i].qname);
      auto it = domain_of_name.find(qname);
      std::string d = it != domain_of_name.end() ? it->second : "";
      if (d.empty() && !suspicious_service(qname)) continue;
      if (d.empty()) d = qname;
      attempt_for("d:" + d, d).dns.push_back(i);
    }
    // Dialback verify connections (the receiving server asking the authoritative server):
    // linked to the stream whose id their db:verify carries.
    std::map<std::string, std::vector<std::size_t>> by_stream_id;
    for (std::size_t i = 0; i < r_.connections.size(); ++i) {
      const auto& x = r_.connections[i].xmpp;
      if (x && x->resp.header && !x->resp.header->id.empty())
        by_stream_id[x->resp.header->id].push_back(i);
    }
    std::map<std::size_t, std::vector<std::size_t>> verifies_for;  // main -> verify conns
    std::set<std::size_t> verify_only;
    for (std::size_t i = 0; i < r_.connections.size(); ++i) {
      const auto& x = r_.connections[i].xmpp;
      if (!x) continue;
      bool own_result = false, linked = false;
      for (const auto& d : x->dialback) {
        if (d.type != xmpp::DialbackType::kRequest || !d.from_orig) continue;
        if (!d.verify) {
          own_result = true;
          continue;
        }
        auto it = by_stream_id.find(d.id);
        if (it == by_stream_id.end()) continue;
        for (auto main : it->second) {
          const auto& m = r_.connections[main].xmpp;
          if (main == i || !m->orig.header) continue;
          // The verify goes from the receiving domain to the originating one.
          if (!d.to.empty() && !m->orig.header->from.empty() &&
              !domains_equal(d.to, m->orig.header->from))
            continue;
          auto& v = verifies_for[main];
          if (std::find(v.begin(), v.end(), i) == v.end()) v.push_back(i);
          linked = true;
        }
      }
      if (linked && !own_result && x->orig.stanzas.total() == 0) verify_only.insert(i);
    }
    std::vector<std::size_t> attempt_of(r_.connections.size(), SIZE_MAX);
    for (std::size_t i = 0; i < r_.connections.size(); ++i) {
      const auto& c = r_.connections[i];
      if (!federation(c) || verify_only.count(i)) continue;
      std::string d = domain_of(c);
      Attempt& a = d.empty() ? attempt_for("e:" + c.conn.primary().resp.to_string(), "")
                             : attempt_for("d:" + domain_key(d), d);
      if (d.empty()) a.target = c.conn.primary().resp.to_string();
      if (a.originator.empty()) a.originator = c.conn.primary().orig.addr.to_string();
      a.connections.push_back(i);
      a.roles.push_back("stream");
      attempt_of[i] = static_cast<std::size_t>(&a - r_.attempts.data());
    }
    // Multiplexing (RFC 6120 §8.1.1.1, XEP-0220 §2.5): one stream can carry the dialback of
    // further domain pairs; the connection then belongs to those domains' attempts too.
    for (std::size_t i = 0; i < r_.connections.size(); ++i) {
      const auto& x = r_.connections[i].xmpp;
      if (!x || attempt_of[i] == SIZE_MAX) continue;
      const std::string own = s2s::stream_domains(*x).second;
      std::map<std::string, std::string> extra;  // key -> domain as first named
      for (const auto& d : x->dialback)
        if (d.from_orig && !d.verify && d.type == xmpp::DialbackType::kRequest && !d.to.empty() &&
            !domains_equal(d.to, own))
          extra.emplace(domain_key(d.to), d.to);
      for (const auto& [key, t] : extra) {
        Attempt& a = attempt_for("d:" + key, t);
        if (std::find(a.connections.begin(), a.connections.end(), i) != a.connections.end())
          continue;
        if (a.originator.empty())
          a.originator = r_.connections[i].conn.primary().orig.addr.to_string();
        a.connections.push_back(i);
        a.roles.push_back("multiplexed");
      }
    }
    for (const auto& [main, vs] : verifies_for) {
      if (attempt_of[main] == SIZE_MAX) continue;
      auto& a = r_.attempts[attempt_of[main]];
      for (auto v : vs) {
        if (std::find(a.connections.begin(), a.connections.end(), v) != a.connections.end())
          continue;
        a.connections.push_back(v);
        a.roles.push_back("dialback-verify");
      }
    }
    // Flows with an error-level finding, once: xmpp_outcome() asks per connection, and a scan
    // of all findings per connection was quadratic.
    error_flows_.clear();
    for (const auto& f : r_.findings)
      if (f.flow && f.severity == Severity::kError) error_flows_.insert(*f.flow);
    for (auto& a : r_.attempts) {
      if (a.originator.empty() && !a.dns.empty())
        a.originator = r_.dns[a.dns.front()].client.addr.to_string();
      if (a.connections.empty()) {
        a.outcome = "dns-only";
        continue;
      }
      bool ok = false, ended = false;
      for (auto i : a.connections) {
        const auto& c = r_.connections[i].conn;
        // Connected means connected end to end: every leg (each side of a NAT) established.
        if (std::all_of(c.legs.begin(), c.legs.end(), established)) ok = true;
        // Joined mid-way: data both ways shows it was connected.
        if (c.midstream && c.primary().o.payload_bytes > 0 && c.primary().r.payload_bytes > 0)
          ok = true;
        if (c.capture_ended && c.conn_state == "S0" && c.syn_retries() == 0) ended = true;
      }
      a.outcome = ok ? "connected" : ended ? "capture-ended" : "failed";
      xmpp_outcome(a);
    }
    // Both directions of one domain pair: the first other attempt whose (from, to) is this
    // one's (to, from). Indexed by the pair's keys (a scan of all attempts per attempt was
    // quadratic); each list is in attempt order, so the first entry that is not this attempt
    // is the one a scan would have found.
    std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> by_pair;
    for (std::size_t j = 0; j < r_.attempts.size(); ++j) {
      const auto& b = r_.attempts[j];
      by_pair[{domain_key(b.from_domain), domain_key(b.to_domain)}].push_back(j);
    }
    for (std::size_t i = 0; i < r_.attempts.size(); ++i) {
      auto& a = r_.attempts[i];
      if (a.from_domain.empty() || a.to_domain.empty()) continue;
      auto it = by_pair.find({domain_key(a.to_domain), domain_key(a.from_domain)});
      if (it == by_pair.end()) continue;
      for (auto j : it->second)
        if (j != i) {
          a.reverse = j;
          break;
        }
    }
  }

  // Domains, authentication and the XMPP-level outcome of an attempt, from its own streams.
  void xmpp_outcome(Attempt& a) {
    bool any_stream = false, encrypted = false, error = false;
    std::string method, result;
    int best = -1;
    // The most conclusive result wins: valid/success > invalid/failure > no answer > unseen.
    auto set = [&](const std::string& m, const std::string& res, int rank) {
      if (rank >= best) {
        method = m;
        result = res;
        best = rank;
      }
    };
    for (std::size_t k = 0; k < a.connections.size(); ++k) {
      const auto& rec = r_.connections[a.connections[k]];
      if (error_flows_.count(rec.conn.id)) error = true;
      if (!rec.xmpp) continue;
      if (a.roles[k] == "multiplexed") {
        // Only this attempt's pair on the shared stream.
        for (const auto& d : rec.xmpp->dialback) {
          if (d.verify || !d.from_orig || d.type != xmpp::DialbackType::kRequest ||
              !domains_equal(d.to, a.domain))
            continue;
          any_stream = true;
          if (a.from_domain.empty()) a.from_domain = d.from;
          if (a.to_domain.empty()) a.to_domain = d.to;
          auto t = d.answer ? rec.xmpp->dialback[*d.answer].type : xmpp::DialbackType::kRequest;
          set("dialback",
              !d.answer                         ? (rec.conn.capture_ended ? "pending" : "no-answer")
              : t == xmpp::DialbackType::kValid ? "valid"
              : t == xmpp::DialbackType::kInvalid ? "invalid"
                                                  : "error",
              !d.answer                         ? 2
              : t == xmpp::DialbackType::kValid ? 4
                                                : 3);
        }
        continue;
      }
      if (a.roles[k] != "stream") continue;
      const auto& x = *rec.xmpp;
      if (!x.orig.header && !x.resp.header && !x.tls.started && x.dialback.empty() &&
          x.orig.stanzas.total() == 0)
        continue;
      any_stream = true;
      auto [from, to] = s2s::stream_domains(x);
      if (a.from_domain.empty()) a.from_domain = from;
      if (a.to_domain.empty()) a.to_domain = to;
      for (const auto& d : x.dialback) {
        if (d.verify || !d.from_orig || d.type != xmpp::DialbackType::kRequest) continue;
        if (d.answer) {
          auto t = x.dialback[*d.answer].type;
          set("dialback",
              t == xmpp::DialbackType::kValid     ? "valid"
              : t == xmpp::DialbackType::kInvalid ? "invalid"
                                                  : "error",
              t == xmpp::DialbackType::kValid ? 4 : 3);
        } else {
          set("dialback", rec.conn.capture_ended ? "pending" : "no-answer", 2);
        }
      }
      if (!x.orig.sasl_mechanism.empty()) {
        std::string m = x.orig.sasl_mechanism == "EXTERNAL" ? "sasl-external" : "sasl";
        set(m,
            x.resp.sasl_success   ? "success"
            : x.resp.sasl_failure ? "failure"
                                  : (rec.conn.capture_ended ? "pending" : "no-answer"),
            x.resp.sasl_success   ? 4
            : x.resp.sasl_failure ? 3
                                  : 2);
      }
      if (x.tls.started && !x.tls.decrypted) {
        encrypted = x.tls.complete;
        set("unknown", "not-observable", 1);
      } else {
        set("none", "none", 0);
      }
    }
    if (!any_stream) return;
    a.auth_method = method;
    a.auth_result = result;
    if (result == "valid" || result == "success")
      a.outcome = "authenticated";
    else if (a.outcome == "connected" && error)
      a.outcome = "failed";
    else if (a.outcome == "connected" && encrypted)
      a.outcome = "encrypted";
  }
};

}  // namespace

void judge(Result& result) {
  Judge(result).run();
}

}  // namespace fedscope::report
