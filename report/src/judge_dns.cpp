// The DNS layer's judge: the _xmpp-server._tcp SRV lookups, the RFC 6120 A/AAAA fallback and
// the SRV targets of every domain, and which domains are ours when --domain is absent.

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "fedscope/base/domain.hpp"
#include "judge_layers.hpp"

namespace fedscope::report::detail {
namespace {

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

std::vector<const DnsTransaction*> lookups(const JudgeContext& ctx, const std::string& name,
                                           bool addresses) {
  std::vector<const DnsTransaction*> v;
  auto it = ctx.dns_by_name.find(domain_key(name));
  if (it == ctx.dns_by_name.end()) return v;
  for (auto i : it->second) {
    const auto& t = ctx.result.dns[i];
    bool addr = t.qtype == dns::kA || t.qtype == dns::kAaaa;
    if (addresses == addr) v.push_back(&t);
  }
  return v;
}

// Errors and silence for one federation-related name.
void judge_failures(JudgeContext& ctx, const std::string& name,
                    const std::vector<const DnsTransaction*>& ts, const std::string& domain) {
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
    auto& f = ctx.add(FindingCode::kDnsError,
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
      extra = " (" + icmp_text(*first_silent->icmp, first_silent->server.addr.is_v6(), false) + ")";
    auto& f =
        ctx.add(FindingCode::kDnsNoResponse,
                "No answer from " + first_silent->server.to_string() + " to " +
                    std::to_string(sent) + " " + std::string(dns::type_name(first_silent->qtype)) +
                    " quer" + (sent == 1 ? "y" : "ies") + " for " + name + extra + ".",
                domain);
    f.count = silent;
    for (const auto* t : ts)
      if (t->outcome == engine::DnsOutcome::kNoResponse) evidence(f, t->query);
    // The server's silence as a whole (one finding per name would otherwise hide it).
    std::uint64_t to_server = 0;
    for (const auto& t : ctx.result.dns)
      if (t.outcome == engine::DnsOutcome::kNoResponse && t.server == first_silent->server)
        to_server += t.queries;
    if (to_server > sent)
      f.summary += " " + std::to_string(to_server) + " queries to " +
                   first_silent->server.addr.to_string() + " went unanswered in all.";
    // The remedy follows what the capture shows of the silence.
    const std::string server = first_silent->server.addr.to_string();
    const bool left = std::any_of(ts.begin(), ts.end(), [](const DnsTransaction* t) {
      return t->outcome == engine::DnsOutcome::kNoResponse && t->copies > 0;
    });
    const bool v6 = first_silent->server.addr.is_v6();
    const auto* icmp = first_silent->icmp ? &*first_silent->icmp : nullptr;
    if (icmp && ((!v6 && icmp->type == 3 && icmp->code == 3) ||
                 (v6 && icmp->type == 1 && icmp->code == 4))) {
      f.detail = "icmp port unreachable";
      f.remedy = "Nothing listens on port 53 at " + server +
                 ": the host answered with ICMP port unreachable, so it is up but its resolver "
                 "(dnsmasq, BIND, Unbound, ...) is not running or not bound to that address. "
                 "Start it, or point the XMPP server at a resolver that runs.";
    } else if (first_silent->icmp) {
      f.detail = "icmp";
      f.remedy =
          "An ICMP error answered the query (see the summary): fix what it names — the "
          "route to " +
          server + ", the host, or the firewall rule that rejects UDP/TCP 53 to it.";
    } else if (left) {
      f.detail = "left the firewall, no answer";
      f.remedy = "The query left the firewall toward " + server +
                 " and no answer came back: the resolver is down or ignores the query, or its "
                 "replies are dropped on the way back. Check the resolver's log, and that the "
                 "firewall lets the replies (UDP and TCP 53 return traffic) back in.";
    } else {
      f.detail = "silent";
      f.remedy = "No answer and no error came back from " + server +
                 ": a firewall drops DNS to it silently, or the host is down. Check that the "
                 "resolver the XMPP server uses is up and reachable on UDP and TCP port 53 "
                 "through the firewall (and that replies are allowed back).";
    }
  }
}

void judge_srv_missing(JudgeContext& ctx, const std::string& name, const std::string& domain,
                       const DnsTransaction& negative,
                       const std::vector<const DnsTransaction*>& srv) {
  const Result& r = ctx.result;
  // RFC 6120 §3.2.2: without SRV, servers connect to the domain's own A/AAAA on 5269.
  auto addr = lookups(ctx, domain, true);
  judge_failures(ctx, domain, addr, domain);
  bool any_address = false, all_failed = !addr.empty();
  for (const auto* t : addr) {
    if (has_address(*t)) any_address = true;
    bool failed = is_negative(*t) || t->outcome == engine::DnsOutcome::kNoResponse ||
                  (t->answered() && is_error_rcode(t->rcode));
    if (!failed) all_failed = false;
  }
  int conns = 0, ok = 0;
  for (const auto& c : r.connections) {
    for (const auto& l : c.dns) {
      if (l.via == engine::LinkVia::kAFallback && domains_equal(l.domain, domain)) {
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
  auto& f = ctx.add(
      FindingCode::kDnsSrvMissing, sev,
      "No SRV record " + name + " (" + negative_text(negative) + "); " + fallback + ".", domain);
  f.detail = negative_text(negative);
  for (const auto* t : srv)
    if (is_negative(*t)) evidence(f, *t);
  for (const auto* t : addr)
    evidence(f, *t);
}

void judge_target(JudgeContext& ctx, const std::string& target, const std::string& domain,
                  bool from_srv) {
  auto addr = lookups(ctx, target, true);
  if (addr.empty()) return;
  judge_failures(ctx, target, addr, domain);
  bool any_address = false, negative = false;
  for (const auto* t : addr) {
    if (has_address(*t)) any_address = true;
    if (is_negative(*t)) negative = true;
  }
  if (from_srv && !any_address && negative) {
    auto& f = ctx.add(FindingCode::kDnsTargetUnresolved,
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
      if (!a || !ctx.not_public(*a) || !seen.insert(*a).second) continue;
      std::string why = ctx.inside_by_option(*a) ? "inside your --inside-net range"
                        : ctx.inside(*a)
                            ? "an inside address (NAT pairing in this capture shows it "
                              "behind the firewall)"
                            : std::string(to_string(classify(*a)));
      auto& f =
          ctx.add(FindingCode::kDnsAddressNotPublic,
                  "The federation target " + target + " (for " + domain + ") resolves to " +
                      a->to_string() + ", " + why + ": peers on the internet cannot reach it.",
                  domain);
      f.detail = a->to_string();
      evidence(f, *t);
    }
  }
  // Our domain pointing at someone else's public address, while the capture shows ours.
  ctx.read_inside = true;  // our public addresses grow with the records, like inside ones
  if (!ctx.is_ours(domain) || ctx.our_public.empty()) return;
  std::set<IpAddress> other;
  for (const auto* t : addr)
    for (const auto& rr : t->answers) {
      const auto* a = std::get_if<IpAddress>(&rr.data);
      if (!a || ctx.not_public(*a) || ctx.our_public.count(*a) || !other.insert(*a).second)
        continue;
      std::string ours;
      for (const auto& p : ctx.our_public)
        ours += (ours.empty() ? "" : ", ") + p.to_string();
      auto& f = ctx.add(
          FindingCode::kDnsAddressElsewhere,
          "The federation target " + target + " of your domain " + domain + " resolves to " +
              a->to_string() + ", but this capture shows your server reached at " + ours +
              " (NAT): peers, and their dialback checks of " + domain + ", go to another server.",
          domain);
      f.detail = a->to_string();
      evidence(f, *t);
    }
}

}  // namespace

// Without --domain: a domain is ours when its federation address is one of our servers: an
// --inside-net address, or the public address that a NAT translates to an inside server.
void infer_ours(JudgeContext& ctx) {
  Result& r = ctx.result;
  std::set<IpAddress> our_addrs;
  for (const auto& c : r.connections) {
    for (const auto& l : c.conn.legs) {
      if (!ctx.inside(l.resp.addr)) continue;
      our_addrs.insert(l.resp.addr);
      for (const auto& other : c.conn.legs)
        our_addrs.insert(other.resp.addr);
    }
  }
  for (const auto& t : r.dns)
    for (const auto& rr : t.answers)
      if (const auto* a = std::get_if<IpAddress>(&rr.data); a && ctx.inside(*a))
        our_addrs.insert(*a);
  if (our_addrs.empty()) return;
  // Names that resolve to those addresses, then the domains whose SRV (or fallback) names them.
  std::set<std::string> names;
  for (const auto& t : r.dns)
    for (const auto& rr : t.answers)
      if (const auto* a = std::get_if<IpAddress>(&rr.data); a && our_addrs.count(*a)) {
        names.insert(domain_key(t.qname));
        names.insert(domain_key(rr.name));
      }
  std::set<std::string> domains;
  for (const auto& t : r.dns) {
    std::string d = srv_domain(t.qname);
    if (d.empty()) continue;
    if (names.count(d)) domains.insert(d);
    for (const auto& rr : t.answers)
      if (const auto* srv = std::get_if<dns::SrvData>(&rr.data);
          srv && names.count(domain_key(srv->target)))
        domains.insert(d);
  }
  for (const auto& d : domains) {
    ctx.ours.insert(d);
    r.our_domains_inferred.push_back(d);
  }
}

void judge_dns(JudgeContext& ctx) {
  const Result& r = ctx.result;
  for (const auto& [name, idx] : ctx.dns_by_name) {
    if (!suspicious_service(name)) continue;
    auto& f = ctx.add(FindingCode::kDnsSrvNameSuspicious,
                      "Lookup of a malformed XMPP service name: " + name +
                          (starts_with(name, "_jabber._tcp.") ? " (legacy _jabber._tcp)" : "") +
                          "; servers only look up _xmpp-server._tcp.<domain>.",
                      "");
    f.detail = name;
    f.count = idx.size();
    for (auto i : idx)
      evidence(f, r.dns[i].query);
  }

  for (const auto& [name, idx] : ctx.dns_by_name) {
    std::string domain = srv_domain(name);
    if (domain.empty()) continue;
    std::vector<const DnsTransaction*> srv;
    for (auto i : idx)
      if (r.dns[i].qtype == dns::kSrv) srv.push_back(&r.dns[i]);
    if (srv.empty()) continue;
    judge_failures(ctx, name, srv, domain);

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
          auto& f =
              ctx.add(FindingCode::kDnsSrvDisabled,
                      "The SRV record " + rr.name + " has target \".\": " + ctx.whose(domain) +
                          " domain " + domain + " declares that it offers no federation.",
                      domain);
          evidence(f, *t);
          continue;
        }
        if (s->port != 5269 && targets.insert(target + ":" + std::to_string(s->port)).second) {
          auto& f = ctx.add(FindingCode::kDnsSrvPortNonstandard,
                            "The SRV record " + rr.name + " points at " + s->target + " port " +
                                std::to_string(s->port) + ", not 5269.",
                            domain);
          f.detail = std::to_string(s->port);
          evidence(f, *t);
        }
        targets.insert(target);
      }
    }
    if (!positive && negative) judge_srv_missing(ctx, name, domain, *negative, srv);
    for (const auto& target : targets) {
      if (target.find(':') != std::string::npos) continue;
      judge_target(ctx, target, domain, true);
    }
  }
}

}  // namespace fedscope::report::detail
