// Verdicts: one per federation direction (from -> to), with its root cause, and the causal
// folding of the findings under it (docs/architecture.md, "Verdicts and causal folding").
//
// A direction is the attempts that share an originating and a receiving domain (or address,
// where the capture names no domain). Its findings are those of its connections and of the
// DNS lookups of its target. The root cause is the most upstream finding that explains the
// failure (kRank); the direction's other failures, and the warnings the root explains, are
// folded under it: they keep their evidence, carry no remedy of their own in the text report
// and do not count as errors. Runs after the attempts, over the findings as said (their own
// severity), so the result does not depend on how often the judge flushed.

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fedscope/base/domain.hpp"
#include "judge_layers.hpp"

namespace fedscope::report::detail {
namespace {

using C = FindingCode;

// Causal order: a finding explains failures of a higher rank on the same direction. DNS sends
// the SYN somewhere; NAT and the firewall decide whether it arrives; TCP whether something
// listens; then the XMPP stream, TLS, authentication, and what follows from them.
int rank(FindingCode code) {
  switch (code) {
    case C::kDnsSrvDisabled:
    case C::kDnsSrvMissing:
    case C::kDnsSrvNameSuspicious:
      return 10;
    case C::kDnsNoResponse:
    case C::kDnsError:
      return 11;
    case C::kDnsTargetUnresolved:
      return 12;
    case C::kDnsAddressNotPublic:
    case C::kDnsAddressElsewhere:
      return 13;
    case C::kDnsSrvPortNonstandard:
      return 14;
    case C::kNatMissing:
    case C::kNatPortMismatch:
      return 20;
    case C::kFwBlocked:
      return 30;
    case C::kTcpUnreachable:
    case C::kTcpRefused:
    case C::kTcpNoAnswer:
    case C::kTcpHandshakeIncomplete:
      return 40;
    case C::kTcpPortNonstandard:
      return 41;
    case C::kXmppNotXmpp:
    case C::kXmppNoStream:
      return 50;
    case C::kXmppTlsRequired:
    case C::kXmppStarttlsFailure:
      return 60;
    case C::kTlsAlert:
    case C::kTlsHandshakeIncomplete:
    case C::kTlsOldVersion:
      return 70;
    case C::kTlsCertNameMismatch:
    case C::kTlsCertExpired:
    case C::kTlsCertNotYetValid:
    case C::kTlsCertSelfSigned:
    case C::kTlsCertUntrusted:
    case C::kTlsCertExpiring:
    case C::kTlsSniMismatch:
      return 71;
    case C::kXmppDialbackInvalid:
    case C::kXmppSaslFailure:
      return 80;
    case C::kTlsClosedAfterHandshake:
    case C::kXmppDialbackTimeout:
    case C::kXmppAuthIncomplete:
      return 90;
    case C::kXmppStreamError:
    case C::kTcpReset:
      return 91;
    case C::kXmppUnencrypted:
    case C::kXmppDialbackUnsolicited:
    case C::kXmppStanzaError:
      return 100;
    case C::kCount:
      break;
  }
  return 100;
}

// Warnings that, on a direction that failed, explain an error of a higher rank: the cause of
// the failure although it is a warning on its own (a wrong SRV port, a certificate the peer
// refused).
bool explains(FindingCode cause, FindingCode effect) {
  switch (cause) {
    case C::kDnsSrvPortNonstandard:
      return effect == C::kTcpRefused || effect == C::kTcpNoAnswer ||
             effect == C::kTcpUnreachable || effect == C::kFwBlocked ||
             effect == C::kTcpPortNonstandard || effect == C::kXmppNotXmpp ||
             effect == C::kXmppNoStream || effect == C::kTcpHandshakeIncomplete;
    case C::kTlsCertSelfSigned:
    case C::kTlsCertExpiring:
    case C::kTlsSniMismatch:
      return effect == C::kTlsClosedAfterHandshake || effect == C::kTlsAlert ||
             effect == C::kXmppSaslFailure;
    case C::kDnsSrvNameSuspicious:
    case C::kDnsSrvMissing:
      return stage_of(effect) != Stage::kDns || effect == C::kDnsTargetUnresolved;
    case C::kDnsAddressElsewhere:
      // Our records send the peer's dialback check to another server, which refuses our key.
      return effect == C::kXmppDialbackInvalid || effect == C::kXmppStreamError ||
             effect == C::kXmppDialbackTimeout;
    default:
      return false;
  }
}

// A certificate finding explains a stream error whose condition is about trust: what a server
// says after TLS when it does not trust the peer's certificate (Prosody: <not-authorized/>
// "Your server's certificate is not trusted"; others <policy-violation/> or
// <undefined-condition/>). Seen when the stream inside TLS was decrypted (--tls-keylog).
bool certificate_finding(FindingCode code) {
  switch (code) {
    case C::kTlsCertSelfSigned:
    case C::kTlsCertUntrusted:
    case C::kTlsCertExpired:
    case C::kTlsCertNotYetValid:
    case C::kTlsCertNameMismatch:
    case C::kTlsCertExpiring:
    case C::kTlsSniMismatch:
      return true;
    default:
      return false;
  }
}
bool trust_stream_error(const Finding& f) {
  return f.code == C::kXmppStreamError &&
         (f.detail == "not-authorized" || f.detail == "policy-violation" ||
          f.detail == "undefined-condition");
}

// Findings that make a working direction degraded (a warning that matters).
bool degrades(FindingCode code) {
  switch (code) {
    case C::kXmppUnencrypted:
    case C::kTlsCertSelfSigned:
    case C::kTlsCertExpired:
    case C::kTlsCertExpiring:
    case C::kTlsCertNotYetValid:
    case C::kTlsCertNameMismatch:
    case C::kTlsOldVersion:
    case C::kTlsSniMismatch:
    case C::kDnsSrvPortNonstandard:
    case C::kXmppStarttlsFailure:
      return true;
    default:
      return false;
  }
}

// Errors that a direction shown to work has survived: the peer fell back to dialback past a
// certificate it did not accept, or discarded what was injected before TLS.
// Warnings that stop a direction: the stream ended before authentication, or (when no
// authentication was seen to succeed) an established connection was reset.
bool blocks_as_warning(FindingCode code, bool authenticated) {
  return code == C::kXmppAuthIncomplete || (code == C::kTcpReset && !authenticated);
}

bool survivable(FindingCode code) {
  return code == C::kTlsCertExpired || code == C::kTlsCertNameMismatch ||
         code == C::kTlsCertNotYetValid || code == C::kXmppStarttlsFailure;
}

// "_xmpp-server_tcp.gmail.example" -> "gmail.example": the domain a malformed service name
// was meant for.
std::string strip_service_labels(std::string name) {
  while (!name.empty() && name.front() == '_') {
    auto dot = name.find('.');
    if (dot == std::string::npos) return "";
    name.erase(0, dot + 1);
  }
  return name;
}

// What a folded consequence says to do: act on its cause (its own remedy would send an admin
// to the wrong box, e.g. "permit 5269" for SYNs a wrong SRV record sent to 5369).
std::string folded_remedy(const Finding& cause) {
  return "Follows from " + std::string(to_string(cause.code)) +
         (cause.domain.empty() ? "" : " [" + cause.domain + "]") +
         ": act on that finding's remedy; this one needs no action of its own.";
}

struct Direction {
  std::string from, to;
  std::vector<std::size_t> attempts;
  std::vector<std::size_t> findings;  // indexes into the input
  // Findings of another direction that may explain this one's failure but never fail it on
  // their own (our records pointing elsewhere, for our outgoing dialback).
  std::set<std::size_t> borrowed;
};

// How long a receiving server may take to verify the originating server by dialback: it
// connects back to the originating domain (XEP-0220) and closes the stream when that fails.
// Prosody and ejabberd give an s2s connection attempt up to a minute.
constexpr double kCheckBackSeconds = 60.0;

// An encrypted outgoing stream whose authentication is not observable, while the peer's
// connection back to us failed below TLS (TCP, NAT, firewall): if the peer authenticates us by
// dialback, that connection was its check and our direction is dead too; SASL EXTERNAL would
// not need it. The peer closing our stream within kCheckBackSeconds of the failed connection
// makes the direction failed (the other direction's root cause); our stream staying open
// longer shows it did not wait on it; a capture that ends before says neither.
void check_backs(const Result& r, const std::vector<Direction>& dirs,
                 std::vector<Verdict>& verdicts) {
  std::map<std::pair<std::string, std::string>, std::size_t> at;
  for (std::size_t i = 0; i < verdicts.size(); ++i)
    at[{verdicts[i].from, verdicts[i].to}] = i;
  std::vector<Verdict> fixed = verdicts;
  // The last packet time seen (a stream open at the end of the capture lasted until then).
  Timestamp capture_end{};
  for (const auto& c : r.connections)
    for (const auto& l : c.conn.legs)
      capture_end = std::max(capture_end, l.last);
  for (std::size_t i = 0; i < dirs.size() && i < verdicts.size(); ++i) {
    const Verdict& v = verdicts[i];
    if (v.basis != VerdictBasis::kInferred) continue;
    auto back = at.find({v.to, v.from});
    if (back == at.end()) continue;
    const Verdict& b = verdicts[back->second];
    if (b.status != VerdictStatus::kFailed ||
        (b.stage != Stage::kTcp && b.stage != Stage::kNat && b.stage != Stage::kFirewall))
      continue;
    // Our stream: the first one whose TLS completed without the authentication in clear.
    const engine::ConnectionRecord* ours = nullptr;
    for (auto ai : dirs[i].attempts)
      for (auto ci : r.attempts[ai].connections) {
        const auto& rec = r.connections[ci];
        if (!ours && rec.xmpp && rec.xmpp->tls->complete && !rec.xmpp->tls->decrypted) ours = &rec;
      }
    if (!ours) continue;
    const auto& P = ours->conn.primary();
    const Timestamp open_until = ours->conn.capture_ended ? capture_end : P.last;
    // The peer's first failed connection while our stream was open.
    const engine::ConnectionRecord* cb = nullptr;
    for (auto ai : dirs[back->second].attempts)
      for (auto ci : r.attempts[ai].connections) {
        const auto& c = r.connections[ci];
        const auto start = c.conn.primary().start;
        if (std::all_of(c.conn.legs.begin(), c.conn.legs.end(), established)) continue;
        if (start < P.start || start > open_until) continue;
        if (!cb || start < cb->conn.primary().start) cb = &c;
      }
    if (!cb) continue;
    const Timestamp t = cb->conn.primary().start;
    std::optional<Timestamp> closed;
    for (const auto& ref : {P.r.first_fin, P.r.first_rst})
      if (ref && (!closed || ref->time < *closed)) closed = ref->time;
    const std::string flow = "flow " + std::to_string(cb->conn.id);
    Verdict& out = fixed[i];
    if (closed && (*closed - t).seconds() <= kCheckBackSeconds) {
      out.status = VerdictStatus::kFailed;
      out.basis = VerdictBasis::kNone;
      out.stage = b.stage;
      out.root_cause = b.root_cause;
      out.why = v.to + " closed this stream " +
                std::to_string(static_cast<long long>((*closed - t).seconds() + 0.5)) +
                " s after its connection back to " + v.from + " (" + flow +
                ") failed: the dialback check could not reach you.";
    } else if ((open_until - t).seconds() < kCheckBackSeconds) {
      out.status = VerdictStatus::kNotDeterminable;
      out.basis = VerdictBasis::kNone;
      out.root_cause.clear();
      out.why = v.to + "'s connection back to " + v.from + " (" + flow +
                ") failed while this encrypted stream was open: if " + v.to +
                " authenticates by dialback, that was its check and this direction fails too "
                "(SASL EXTERNAL does not need it); the capture ends before that shows.";
    }
  }
  verdicts = std::move(fixed);
}

}  // namespace

void judge_verdicts(JudgeContext& ctx, const std::vector<VerdictInput>& in,
                    std::unordered_map<std::string, FoldNote>& notes) {
  Result& r = ctx.result;
  r.verdicts.clear();
  notes.clear();

  // Our addresses: --inside-net, and every address NAT pairing shows on our side of a
  // connection (the public address of an inside server, on either leg).
  std::set<IpAddress> ours_addr;
  for (const auto& c : r.connections) {
    bool orig_in = false, resp_in = false;
    for (const auto& l : c.conn.legs) {
      orig_in = orig_in || ctx.inside(l.orig.addr);
      resp_in = resp_in || ctx.inside(l.resp.addr);
    }
    for (const auto& l : c.conn.legs) {
      if (orig_in) ours_addr.insert(l.orig.addr);
      if (resp_in) ours_addr.insert(l.resp.addr);
    }
  }
  // And the addresses the streams name: the receiver of a stream to one of our domains, the
  // originator of a stream from one (a.example's own address, with no --inside-net).
  std::map<IpAddress, std::set<std::string>> peer_domains;
  for (const auto& c : r.connections) {
    if (!c.xmpp) continue;
    auto [from, to] = s2s::stream_domains(*c.xmpp);
    const auto& P = c.conn.primary();
    const std::string fk = domain_key(from), tk = domain_key(to);
    if (!fk.empty() && ctx.ours.count(fk)) ours_addr.insert(P.orig.addr);
    if (!tk.empty() && ctx.ours.count(tk)) ours_addr.insert(P.resp.addr);
    if (!fk.empty() && !ctx.ours.count(fk)) peer_domains[P.orig.addr].insert(fk);
    if (!tk.empty() && !ctx.ours.count(tk)) peer_domains[P.resp.addr].insert(tk);
  }
  auto is_our_addr = [&](const IpAddress& a) { return ctx.inside(a) || ours_addr.count(a) > 0; };
  std::string our_domain;
  if (ctx.ours.size() == 1) our_domain = *ctx.ours.begin();

  // A peer's address -> its domain, from the streams above and the connections our side made
  // to that domain.
  for (const auto& a : r.attempts) {
    if (a.domain.empty() || ctx.ours.count(domain_key(a.domain))) continue;
    for (std::size_t k = 0; k < a.connections.size(); ++k) {
      if (a.roles[k] != AttemptRole::kStream) continue;
      for (const auto& l : r.connections[a.connections[k]].conn.legs)
        if (!is_our_addr(l.resp.addr)) peer_domains[l.resp.addr].insert(domain_key(a.domain));
    }
  }
  auto peer_name = [&](const IpAddress& a) {
    auto it = peer_domains.find(a);
    if (it != peer_domains.end() && it->second.size() == 1) return *it->second.begin();
    return a.to_string();
  };

  // Each attempt's direction.
  std::map<std::pair<std::string, std::string>, std::size_t> dir_index;
  std::vector<Direction> dirs;
  std::vector<std::size_t> dir_of_attempt(r.attempts.size(), SIZE_MAX);
  std::vector<std::size_t> self_lookups;  // DNS-only attempts for our own domain
  for (std::size_t i = 0; i < r.attempts.size(); ++i) {
    const Attempt& a = r.attempts[i];
    std::string target = domain_key(strip_service_labels(a.domain));
    std::string from = domain_key(a.from_domain), to = domain_key(a.to_domain);
    if (from.empty() || to.empty()) {
      IpAddress orig_addr, target_addr;
      bool have_orig = false, have_target = false;
      if (!a.connections.empty()) {
        const auto& P = r.connections[a.connections.front()].conn.primary();
        orig_addr = P.orig.addr;
        target_addr = P.resp.addr;
        have_orig = have_target = true;
      } else if (!a.dns.empty()) {
        orig_addr = r.dns[a.dns.front()].client.addr;
        have_orig = true;
      }
      if (a.connections.empty() && ctx.ours.count(target)) {
        // Our own domain looked up (an admin's check of what peers get): it stands for every
        // peer's direction to us.
        self_lookups.push_back(i);
        continue;
      }
      const bool orig_ours = have_orig && is_our_addr(orig_addr);
      if (orig_ours) {
        if (from.empty()) from = !our_domain.empty() ? our_domain : orig_addr.to_string();
        if (to.empty())
          to = !target.empty() ? target : have_target ? peer_name(target_addr) : a.target;
      } else {
        if (from.empty()) from = have_orig ? peer_name(orig_addr) : "";
        if (to.empty())
          to = !target.empty()       ? target
               : !our_domain.empty() ? our_domain
               : have_target         ? target_addr.to_string()
                                     : a.target;
      }
    }
    auto [it, fresh] = dir_index.emplace(std::make_pair(from, to), dirs.size());
    if (fresh) dirs.push_back(Direction{from, to, {}, {}, {}});
    dirs[it->second].attempts.push_back(i);
    dir_of_attempt[i] = it->second;
  }
  // Our own domain looked up: the directions from every peer seen to us, or one from the
  // peers at large when the capture names none.
  if (!self_lookups.empty()) {
    std::set<std::string> peers;
    for (const auto& d : dirs)
      if (ctx.ours.count(d.from) && !ctx.ours.count(d.to)) peers.insert(d.to);
    for (const auto& d : dirs)
      if (ctx.ours.count(d.to) && !ctx.ours.count(d.from)) peers.insert(d.from);
    if (peers.empty()) peers.insert("*");
    for (auto i : self_lookups) {
      const std::string to = domain_key(r.attempts[i].domain);
      for (const auto& p : peers) {
        auto [it, fresh] = dir_index.emplace(std::make_pair(p, to), dirs.size());
        if (fresh) dirs.push_back(Direction{p, to, {}, {}, {}});
        dirs[it->second].attempts.push_back(i);
      }
    }
  }

  // Findings -> directions: by their connections, DNS findings by the domain looked up.
  std::unordered_map<std::uint32_t, std::vector<std::size_t>> dirs_of_conn;
  std::map<std::string, std::set<std::size_t>> dirs_of_domain;
  for (std::size_t d = 0; d < dirs.size(); ++d)
    for (auto ai : dirs[d].attempts) {
      const Attempt& a = r.attempts[ai];
      for (auto ci : a.connections) {
        auto& v = dirs_of_conn[r.connections[ci].conn.id];
        if (std::find(v.begin(), v.end(), d) == v.end()) v.push_back(d);
      }
      if (!a.domain.empty()) {
        dirs_of_domain[domain_key(a.domain)].insert(d);
        dirs_of_domain[domain_key(strip_service_labels(a.domain))].insert(d);
      }
    }
  for (std::size_t k = 0; k < in.size(); ++k) {
    const Finding& f = *in[k].finding;
    std::set<std::size_t> ds;
    for (auto flow : in[k].flows)
      if (auto it = dirs_of_conn.find(flow); it != dirs_of_conn.end())
        ds.insert(it->second.begin(), it->second.end());
    if (in[k].flows.empty()) {
      std::string dom =
          f.code == C::kDnsSrvNameSuspicious ? strip_service_labels(f.detail) : f.domain;
      if (auto it = dirs_of_domain.find(domain_key(dom)); it != dirs_of_domain.end())
        ds.insert(it->second.begin(), it->second.end());
    }
    for (auto d : ds)
      dirs[d].findings.push_back(k);
    // Our domain's records pointing at another server explain our outgoing dialback
    // failing (the peer checks our key there).
    if (f.code == C::kDnsAddressElsewhere)
      for (std::size_t d = 0; d < dirs.size(); ++d)
        if (dirs[d].from == domain_key(f.domain) && !ds.count(d)) {
          dirs[d].findings.push_back(k);
          dirs[d].borrowed.insert(k);
        }
  }

  // The verdict of each direction.
  auto causal_less = [&](std::size_t a, std::size_t b) {
    int ra = rank(in[a].finding->code), rb = rank(in[b].finding->code);
    if (ra != rb) return ra < rb;
    return in[a].order < in[b].order;
  };
  std::vector<Verdict> verdicts;
  for (auto& d : dirs) {
    std::sort(d.findings.begin(), d.findings.end(), causal_less);
    Verdict v;
    v.from = d.from;
    v.to = d.to;
    v.attempts = d.attempts;
    // What shows it worked: an authentication result in clear, or a session of working
    // shape (TLS completed and carried records both ways, or stream headers both ways in
    // clear, or data both ways and a clean close), with no early close.
    bool observed = false, inferred = false, dns_only = true, capture_ended = false,
         connected = false;
    bool inside_tls = false;  // the result was read inside TLS (--tls-keylog)
    std::set<std::uint32_t> error_conns;
    for (auto ai : d.attempts) {
      const Attempt& a = r.attempts[ai];
      if (a.auth_result == AuthResult::kValid || a.auth_result == AuthResult::kSuccess) {
        observed = true;
        for (auto ci : a.connections)
          if (const auto* x = r.connections[ci].xmpp.get(); x && x->tls->decrypted)
            inside_tls = true;
      }
    }
    auto blocking_kind = [&](std::size_t k) {
      const auto code = in[k].finding->code;
      if (d.borrowed.count(k)) return false;
      return (in[k].base == Severity::kError && !survivable(code)) ||
             blocks_as_warning(code, observed);
    };
    for (auto k : d.findings)
      if (blocking_kind(k))
        for (auto flow : in[k].flows)
          error_conns.insert(flow);
    for (auto ai : d.attempts) {
      const Attempt& a = r.attempts[ai];
      if (a.outcome == AttemptOutcome::kCaptureEnded) capture_ended = true;
      for (std::size_t k = 0; k < a.connections.size(); ++k) {
        dns_only = false;
        if (a.roles[k] != AttemptRole::kStream) continue;
        const auto& rec = r.connections[a.connections[k]];
        const auto& c = rec.conn;
        const auto& P = c.primary();
        if (!std::all_of(c.legs.begin(), c.legs.end(), established)) continue;
        connected = true;
        if (error_conns.count(c.id)) continue;
        const auto* x = rec.xmpp.get();
        if (x && x->tls->complete && x->tls->client_encrypted_records >= 2 &&
            x->tls->server_encrypted_records >= 2)
          inferred = true;
        else if (x && !x->tls->started && x->orig.header && x->resp.header)
          inferred = true;
        else if (P.o.payload_bytes > 0 && P.r.payload_bytes > 0 && P.o.sent_fin && P.r.sent_fin &&
                 !P.o.sent_rst && !P.r.sent_rst && (!x || x->kind == s2s::StreamKind::kNoData))
          inferred = true;  // payload not captured (snaplen): the shape of a clean exchange
      }
    }
    const bool works = observed || inferred;
    std::vector<std::size_t> blocking;
    for (auto k : d.findings) {
      const auto code = in[k].finding->code;
      if (d.borrowed.count(k)) continue;
      if ((in[k].base == Severity::kError && !(works && survivable(code))) ||
          blocks_as_warning(code, observed))
        blocking.push_back(k);
      // A DNS-only direction: a misspelt service name or a missing record is why no
      // connection followed (a non-standard port alone is not: it may work there).
      else if (dns_only && (code == C::kDnsSrvNameSuspicious || code == C::kDnsSrvMissing))
        blocking.push_back(k);
    }
    if (!blocking.empty()) {
      // Looked up per finding below: a set of inputs and of codes, never a scan of blocking
      // (a scan of 100k refused connections to one address is one direction).
      const std::unordered_set<std::size_t> is_blocking(blocking.begin(), blocking.end());
      std::array<bool, static_cast<std::size_t>(C::kCount)> blocking_code{};
      for (auto b : blocking)
        blocking_code[static_cast<std::size_t>(in[b].finding->code)] = true;
      bool blocking_trust_error = false;
      for (auto b : blocking)
        blocking_trust_error = blocking_trust_error || trust_stream_error(*in[b].finding);
      const auto explains_a_blocking = [&](FindingCode cause) {
        if (blocking_trust_error && certificate_finding(cause)) return true;
        for (std::size_t c = 0; c < blocking_code.size(); ++c)
          if (blocking_code[c] && explains(cause, static_cast<FindingCode>(c))) return true;
        return false;
      };
      // The root: the most upstream blocking finding, or a warning that explains one.
      std::size_t root = blocking.front();
      for (auto k : d.findings) {
        if (!causal_less(k, root)) break;
        if (explains_a_blocking(in[k].finding->code)) {
          root = k;
          break;
        }
      }
      const Finding& rf = *in[root].finding;
      v.status = VerdictStatus::kFailed;
      v.stage = stage_of(rf.code);
      v.root_cause = *in[root].key;
      v.why = rf.summary;
      auto& note = notes[*in[root].key];
      note.severity = Severity::kError;
      // Consequences: the other blocking findings, and what the root explains.
      for (auto k : d.findings) {
        if (k == root || notes.count(*in[k].key)) continue;
        const auto code = in[k].finding->code;
        const bool blocks = is_blocking.count(k) > 0;
        if (blocks || explains(rf.code, code) ||
            (certificate_finding(rf.code) && trust_stream_error(*in[k].finding)) ||
            (code == C::kTcpPortNonstandard && rf.code == C::kDnsSrvPortNonstandard)) {
          auto& n = notes[*in[k].key];
          n.cause = *in[root].key;
          n.severity = in[k].base;
          n.remedy = folded_remedy(rf);
        }
      }
    } else if (works) {
      v.basis = observed ? VerdictBasis::kObserved : VerdictBasis::kInferred;
      auto deg = std::find_if(d.findings.begin(), d.findings.end(),
                              [&](std::size_t k) { return degrades(in[k].finding->code); });
      if (deg != d.findings.end()) {
        v.status = VerdictStatus::kDegraded;
        v.root_cause = *in[*deg].key;
        v.why = in[*deg].finding->summary;
        // What the same cause shows again (a non-standard port on the TCP side) is folded.
        for (auto k : d.findings)
          if (in[*deg].finding->code == C::kDnsSrvPortNonstandard &&
              in[k].finding->code == C::kTcpPortNonstandard && !notes.count(*in[k].key)) {
            auto& n = notes[*in[k].key];
            n.cause = *in[*deg].key;
            n.severity = in[k].base;
            n.remedy = folded_remedy(*in[*deg].finding);
          }
      } else {
        v.status = VerdictStatus::kOk;
        v.why = observed && inside_tls
                    ? "the authentication result was seen inside TLS (decrypted with the key log)"
                : observed ? "the authentication result was seen in clear"
                           : "the session's shape: it was set up and carried data both ways, "
                             "with no error and no early close";
      }
    } else {
      v.status = VerdictStatus::kNotDeterminable;
      v.why = dns_only        ? "DNS lookups only: no connection of this direction was captured"
              : capture_ended ? "a connection was still being set up when the capture ended"
              : connected     ? "connected, but nothing captured shows whether the servers "
                                "authenticated (encrypted, or the payload was not captured)"
                              : "no connection was set up and no finding says why";
    }
    verdicts.push_back(std::move(v));
  }
  check_backs(r, dirs, verdicts);
  // The other direction of each domain pair, when the capture shows none of it.
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& v : verdicts)
    seen.insert({v.from, v.to});
  std::vector<Verdict> unseen;
  for (const auto& v : verdicts) {
    if (v.from == "*" || v.from == v.to || seen.count({v.to, v.from})) continue;
    if (IpAddress::parse(v.from) || IpAddress::parse(v.to)) continue;
    Verdict u;
    u.from = v.to;
    u.to = v.from;
    u.status = VerdictStatus::kNotObserved;
    u.why = "no attempt of this direction in the capture";
    seen.insert({u.from, u.to});
    unseen.push_back(std::move(u));
  }
  verdicts.insert(verdicts.end(), unseen.begin(), unseen.end());
  // Failed first (what a reader acts on), then what cannot be told, degraded, ok, unseen.
  auto weight = [](VerdictStatus s) {
    switch (s) {
      case VerdictStatus::kFailed:
        return 0;
      case VerdictStatus::kNotDeterminable:
        return 1;
      case VerdictStatus::kDegraded:
        return 2;
      case VerdictStatus::kOk:
        return 3;
      case VerdictStatus::kNotObserved:
        return 4;
    }
    return 5;
  };
  std::stable_sort(verdicts.begin(), verdicts.end(), [&](const Verdict& a, const Verdict& b) {
    return weight(a.status) < weight(b.status);
  });
  r.verdicts = std::move(verdicts);
}

}  // namespace fedscope::report::detail
