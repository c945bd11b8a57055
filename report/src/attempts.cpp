// Federation attempts: the DNS lookups and connections of one target grouped for the story,
// with each connection's role, the outcome, the stream domains, the authentication, and the
// attempt of the other direction.

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fedscope/base/domain.hpp"
#include "judge_layers.hpp"

namespace fedscope::report::detail {
namespace {

// What a dialback request (db:result from the originator) came to, and how conclusive that is:
// valid 4 > invalid or error 3 > no answer (pending when the capture ended first) 2.
std::pair<AuthResult, int> dialback_result(const s2s::ConnectionFacts& x,
                                           const s2s::DialbackFact& request, bool capture_ended) {
  if (!request.answer) return {capture_ended ? AuthResult::kPending : AuthResult::kNoAnswer, 2};
  switch (x.dialback[*request.answer].type) {
    case xmpp::DialbackType::kValid:
      return {AuthResult::kValid, 4};
    case xmpp::DialbackType::kInvalid:
      return {AuthResult::kInvalid, 3};
    default:
      return {AuthResult::kError, 3};
  }
}

// Domains, authentication and the XMPP-level outcome of an attempt, from its own streams.
void xmpp_outcome(const Result& r, const std::unordered_set<std::uint32_t>& error_flows,
                  Attempt& a) {
  bool any_stream = false, encrypted = false, error = false;
  AuthMethod method = AuthMethod::kNoStream;
  AuthResult result = AuthResult::kNoStream;
  int best = -1;
  // The most conclusive result wins: valid/success > invalid/failure > no answer > unseen.
  auto set = [&](AuthMethod m, AuthResult res, int rank) {
    if (rank >= best) {
      method = m;
      result = res;
      best = rank;
    }
  };
  for (std::size_t k = 0; k < a.connections.size(); ++k) {
    const auto& rec = r.connections[a.connections[k]];
    if (error_flows.count(rec.conn.id)) error = true;
    if (!rec.xmpp) continue;
    if (a.roles[k] == AttemptRole::kMultiplexed) {
      // Only this attempt's pair on the shared stream.
      for (const auto& d : rec.xmpp->dialback) {
        if (d.verify || !d.from_orig || d.type != xmpp::DialbackType::kRequest ||
            !domains_equal(d.to, a.domain))
          continue;
        any_stream = true;
        if (a.from_domain.empty()) a.from_domain = d.from;
        if (a.to_domain.empty()) a.to_domain = d.to;
        auto [res, rank] = dialback_result(*rec.xmpp, d, rec.conn.capture_ended);
        set(AuthMethod::kDialback, res, rank);
      }
      continue;
    }
    if (a.roles[k] != AttemptRole::kStream) continue;
    const auto& x = *rec.xmpp;
    if (!x.orig.header && !x.resp.header && !x.tls->started && x.dialback.empty() &&
        x.orig.stanzas.total() == 0)
      continue;
    any_stream = true;
    auto [from, to] = s2s::stream_domains(x);
    if (a.from_domain.empty()) a.from_domain = from;
    if (a.to_domain.empty()) a.to_domain = to;
    for (const auto& d : x.dialback) {
      if (d.verify || !d.from_orig || d.type != xmpp::DialbackType::kRequest) continue;
      auto [res, rank] = dialback_result(x, d, rec.conn.capture_ended);
      set(AuthMethod::kDialback, res, rank);
    }
    if (!x.orig.extra->sasl_mechanism.empty()) {
      AuthMethod m = x.orig.extra->sasl_mechanism == "EXTERNAL" ? AuthMethod::kSaslExternal
                                                                : AuthMethod::kSasl;
      set(m,
          x.resp.extra->sasl_success   ? AuthResult::kSuccess
          : x.resp.extra->sasl_failure ? AuthResult::kFailure
          : rec.conn.capture_ended     ? AuthResult::kPending
                                       : AuthResult::kNoAnswer,
          x.resp.extra->sasl_success   ? 4
          : x.resp.extra->sasl_failure ? 3
                                       : 2);
    }
    if (x.tls->started && !x.tls->decrypted) {
      encrypted = x.tls->complete;
      set(AuthMethod::kUnknown, AuthResult::kNotObservable, 1);
    } else {
      set(AuthMethod::kNone, AuthResult::kNone, 0);
    }
  }
  if (!any_stream) return;
  a.auth_method = method;
  a.auth_result = result;
  if (result == AuthResult::kValid || result == AuthResult::kSuccess)
    a.outcome = AttemptOutcome::kAuthenticated;
  else if (a.outcome == AttemptOutcome::kConnected && error)
    a.outcome = AttemptOutcome::kFailed;
  else if (a.outcome == AttemptOutcome::kConnected && encrypted)
    a.outcome = AttemptOutcome::kEncrypted;
}

}  // namespace

void build_attempts(JudgeContext& ctx) {
  Result& r = ctx.result;
  // Keyed "d:" + domain key, or "e:" + endpoint; the attempt shows the domain as first seen.
  std::map<std::string, std::size_t> index;
  auto attempt_for = [&](const std::string& key, const std::string& domain) -> Attempt& {
    auto it = index.find(key);
    if (it != index.end()) return r.attempts[it->second];
    index[key] = r.attempts.size();
    r.attempts.push_back(Attempt{});
    auto& a = r.attempts.back();
    a.key = key;
    a.domain = domain;
    a.target = domain;
    return a;
  };
  // Names that belong to a domain: its SRV names and SRV targets (all as keys).
  std::map<std::string, std::string> domain_of_name;
  for (const auto& t : r.dns) {
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
  for (std::size_t i = 0; i < r.dns.size(); ++i) {
    const std::string qname = domain_key(r.dns[i].qname);
    auto it = domain_of_name.find(qname);
    std::string d = it != domain_of_name.end() ? it->second : "";
    if (d.empty() && !suspicious_service(qname)) continue;
    if (d.empty()) d = qname;
    attempt_for("d:" + d, d).dns.push_back(i);
  }
  // Dialback verify connections (the receiving server asking the authoritative server):
  // linked to the stream whose id their db:verify carries.
  std::map<std::string, std::vector<std::size_t>> by_stream_id;
  for (std::size_t i = 0; i < r.connections.size(); ++i) {
    const auto& x = r.connections[i].xmpp;
    if (x && x->resp.header && !x->resp.header->id.empty())
      by_stream_id[x->resp.header->id].push_back(i);
  }
  std::map<std::size_t, std::vector<std::size_t>> verifies_for;  // main -> verify conns
  std::set<std::size_t> verify_only;
  for (std::size_t i = 0; i < r.connections.size(); ++i) {
    const auto& x = r.connections[i].xmpp;
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
        const auto& m = r.connections[main].xmpp;
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
  std::vector<std::size_t> attempt_of(r.connections.size(), SIZE_MAX);
  for (std::size_t i = 0; i < r.connections.size(); ++i) {
    const auto& c = r.connections[i];
    if (!federation(c) || verify_only.count(i)) continue;
    std::string d = domain_of(c);
    Attempt& a = d.empty() ? attempt_for("e:" + c.conn.primary().resp.to_string(), "")
                           : attempt_for("d:" + domain_key(d), d);
    if (d.empty()) a.target = c.conn.primary().resp.to_string();
    if (a.originator.empty()) a.originator = c.conn.primary().orig.addr.to_string();
    a.connections.push_back(i);
    a.roles.push_back(AttemptRole::kStream);
    attempt_of[i] = static_cast<std::size_t>(&a - r.attempts.data());
  }
  // Multiplexing (RFC 6120 §8.1.1.1, XEP-0220 §2.5): one stream can carry the dialback of
  // further domain pairs; the connection then belongs to those domains' attempts too.
  for (std::size_t i = 0; i < r.connections.size(); ++i) {
    const auto& x = r.connections[i].xmpp;
    if (!x || attempt_of[i] == SIZE_MAX) continue;
    const std::string own = s2s::stream_domains(*x).second;
    std::map<std::string, std::string> extra;  // key -> domain as first named
    for (const auto& d : x->dialback)
      if (d.from_orig && !d.verify && d.type == xmpp::DialbackType::kRequest && !d.to.empty() &&
          !domains_equal(d.to, own))
        extra.emplace(domain_key(d.to), d.to);
    for (const auto& [key, t] : extra) {
      Attempt& a = attempt_for("d:" + key, t);
      if (std::find(a.connections.begin(), a.connections.end(), i) != a.connections.end()) continue;
      if (a.originator.empty())
        a.originator = r.connections[i].conn.primary().orig.addr.to_string();
      a.connections.push_back(i);
      a.roles.push_back(AttemptRole::kMultiplexed);
    }
  }
  for (const auto& [main, vs] : verifies_for) {
    if (attempt_of[main] == SIZE_MAX) continue;
    auto& a = r.attempts[attempt_of[main]];
    for (auto v : vs) {
      if (std::find(a.connections.begin(), a.connections.end(), v) != a.connections.end()) continue;
      a.connections.push_back(v);
      a.roles.push_back(AttemptRole::kDialbackVerify);
    }
  }
  // Flows with an error-level finding: kept by the driver as findings are raised and withdrawn
  // (a scan of all findings per connection was quadratic).
  const auto& error_flows = ctx.error_flows;
  for (auto& a : r.attempts) {
    if (a.originator.empty() && !a.dns.empty())
      a.originator = r.dns[a.dns.front()].client.addr.to_string();
    if (a.connections.empty()) {
      a.outcome = AttemptOutcome::kDnsOnly;
      continue;
    }
    bool ok = false, ended = false;
    for (auto i : a.connections) {
      const auto& c = r.connections[i].conn;
      // Connected means connected end to end: every leg (each side of a NAT) established.
      if (std::all_of(c.legs.begin(), c.legs.end(), established)) ok = true;
      // Joined mid-way: data both ways shows it was connected.
      if (c.midstream && c.primary().o.payload_bytes > 0 && c.primary().r.payload_bytes > 0)
        ok = true;
      if (c.capture_ended && c.conn_state == flow::ConnState::kS0 && c.syn_retries() == 0)
        ended = true;
    }
    a.outcome = ok      ? AttemptOutcome::kConnected
                : ended ? AttemptOutcome::kCaptureEnded
                        : AttemptOutcome::kFailed;
    xmpp_outcome(r, error_flows, a);
  }
  // Stories in time order: each attempt where its first lookup or connection began (stable:
  // the order above among equals).
  auto first_time = [&](const Attempt& a) {
    Timestamp t{INT64_MAX};
    for (auto i : a.dns)
      t = std::min(t, r.dns[i].query.time);
    for (auto i : a.connections)
      t = std::min(t, r.connections[i].conn.primary().start);
    return t;
  };
  std::vector<std::pair<Timestamp, std::size_t>> by_time;
  by_time.reserve(r.attempts.size());
  for (std::size_t i = 0; i < r.attempts.size(); ++i)
    by_time.emplace_back(first_time(r.attempts[i]), i);
  std::stable_sort(by_time.begin(), by_time.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<Attempt> sorted;
  sorted.reserve(r.attempts.size());
  for (const auto& [t, i] : by_time)
    sorted.push_back(std::move(r.attempts[i]));
  r.attempts = std::move(sorted);
  // Both directions of one domain pair: the first other attempt whose (from, to) is this
  // one's (to, from). Indexed by the pair's keys (a scan of all attempts per attempt was
  // quadratic); each list is in attempt order, so the first entry that is not this attempt
  // is the one a scan would have found.
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> by_pair;
  for (std::size_t j = 0; j < r.attempts.size(); ++j) {
    const auto& b = r.attempts[j];
    by_pair[{domain_key(b.from_domain), domain_key(b.to_domain)}].push_back(j);
  }
  for (std::size_t i = 0; i < r.attempts.size(); ++i) {
    auto& a = r.attempts[i];
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

}  // namespace fedscope::report::detail
