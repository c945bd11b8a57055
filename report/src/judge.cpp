// The judges: turn the collected DNS transactions and connections into findings, and group
// them into federation attempts for the story.

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "fedscope/report/analysis.hpp"

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

std::string srv_domain(const std::string& qname) {
  if (starts_with(qname, kSrvPrefix)) return qname.substr(kSrvPrefix.size());
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

class Judge {
 public:
  explicit Judge(Result& r) : r_(r) { ours_.insert(r.our_domains.begin(), r.our_domains.end()); }

  void run() {
    learn_vantages();
    if (ours_.empty()) infer_ours();
    judge_dns();
    for (std::size_t i = 0; i < r_.connections.size(); ++i)
      judge_connection(i);
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
  std::set<std::string> ours_;
  std::map<std::string, std::vector<std::size_t>> by_name_;  // qname -> dns indexes
  bool sll_ = false;

  bool is_ours(const std::string& d) const { return ours_.count(d) > 0; }
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

  Finding& add(std::string_view code, Severity sev, std::string summary, std::string domain) {
    const CatalogueEntry* e = find_entry(code);
    Finding f;
    f.code = std::string(code);
    f.severity = sev;
    f.summary = std::move(summary);
    f.domain = std::move(domain);
    f.remedy = e ? std::string(e->remedy) : "";
    // Whose zone to fix matters only for findings about a domain's DNS records.
    static constexpr std::string_view kZoneCodes[] = {
        "dns-srv-missing", "dns-srv-disabled", "dns-srv-port-nonstandard", "dns-target-unresolved",
        "dns-address-not-public"};
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
  Finding& add(std::string_view code, std::string summary, std::string domain = "") {
    const CatalogueEntry* e = find_entry(code);
    return add(code, e ? e->severity : Severity::kWarning, std::move(summary), std::move(domain));
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
          names.insert(t.qname);
          names.insert(rr.name);
        }
    std::set<std::string> domains;
    for (const auto& t : r_.dns) {
      std::string d = srv_domain(t.qname);
      if (d.empty()) continue;
      if (names.count(d)) domains.insert(d);
      for (const auto& rr : t.answers)
        if (const auto* srv = std::get_if<dns::SrvData>(&rr.data); srv && names.count(srv->target))
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
    auto it = by_name_.find(name);
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
      auto& f = add("dns-error",
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
          add("dns-no-response",
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
      by_name_[r_.dns[i].qname].push_back(i);

    std::set<std::string> reported_suspicious;
    for (const auto& [name, idx] : by_name_) {
      if (!suspicious_service(name)) continue;
      auto& f = add("dns-srv-name-suspicious",
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
          if (s->target == ".") {
            auto& f = add("dns-srv-disabled",
                          "The SRV record " + rr.name + " has target \".\": " + whose(domain) +
                              " domain " + domain + " declares that it offers no federation.",
                          domain);
            evidence(f, *t);
            continue;
          }
          if (s->port != 5269 && targets.insert(s->target + ":" + std::to_string(s->port)).second) {
            auto& f = add("dns-srv-port-nonstandard",
                          "The SRV record " + rr.name + " points at " + s->target + " port " +
                              std::to_string(s->port) + ", not 5269.",
                          domain);
            f.detail = std::to_string(s->port);
            evidence(f, *t);
          }
          targets.insert(s->target);
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
        if (l.domain == domain && l.via == "a-fallback") {
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
    auto& f = add("dns-srv-missing", sev,
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
      auto& f = add("dns-target-unresolved",
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
        auto& f = add("dns-address-not-public",
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
    return c.dns.empty() ? "" : c.dns.front().domain;
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
      auto& f = at(add("nat-port-mismatch",
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
        auto& f = at(add("nat-missing",
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
        auto& f = at(add(fw ? "fw-blocked" : "tcp-unreachable",
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
        auto& f = at(add("fw-blocked",
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
          auto& f = at(add("fw-blocked",
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
        auto& f = at(add("tcp-no-answer",
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
        auto& f = at(add("tcp-refused",
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
        auto& f = at(add("tcp-handshake-incomplete",
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
            at(add("tcp-reset",
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
            at(add("tcp-port-nonstandard",
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

  // ---- Attempts -------------------------------------------------------------------------------

  void build_attempts() {
    std::map<std::string, std::size_t> index;  // key -> attempt
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
    // Names that belong to a domain: its SRV names and SRV targets.
    std::map<std::string, std::string> domain_of_name;
    for (const auto& t : r_.dns) {
      std::string d = srv_domain(t.qname);
      if (d.empty() && starts_with(t.qname, kSrvsPrefix)) d = t.qname.substr(kSrvsPrefix.size());
      if (d.empty()) continue;
      domain_of_name[t.qname] = d;
      for (const auto& rr : t.answers)
        if (const auto* s = std::get_if<dns::SrvData>(&rr.data)) domain_of_name[s->target] = d;
    }
    for (const auto& [name, d] : std::map<std::string, std::string>(domain_of_name))
      domain_of_name.emplace(d, d);
    for (std::size_t i = 0; i < r_.dns.size(); ++i) {
      auto it = domain_of_name.find(r_.dns[i].qname);
      std::string d = it != domain_of_name.end() ? it->second : "";
      if (d.empty() && !suspicious_service(r_.dns[i].qname)) continue;
      if (d.empty()) d = r_.dns[i].qname;
      attempt_for("d:" + d, d).dns.push_back(i);
    }
    for (std::size_t i = 0; i < r_.connections.size(); ++i) {
      const auto& c = r_.connections[i];
      if (!federation(c)) continue;
      std::string d = domain_of(c);
      Attempt& a = d.empty() ? attempt_for("e:" + c.conn.primary().resp.to_string(), "")
                             : attempt_for("d:" + d, d);
      if (d.empty()) a.target = c.conn.primary().resp.to_string();
      if (a.originator.empty()) a.originator = c.conn.primary().orig.addr.to_string();
      a.connections.push_back(i);
    }
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
        if (c.capture_ended && c.conn_state == "S0" && c.syn_retries() == 0) ended = true;
      }
      a.outcome = ok ? "connected" : ended ? "capture-ended" : "failed";
    }
  }
};

}  // namespace

void judge(Result& result) {
  Judge(result).run();
}

}  // namespace fedscope::report
