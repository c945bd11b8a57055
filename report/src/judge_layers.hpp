#pragma once
// Internal to fedscope_report (not installed): each layer's judge, in the order judge() runs
// them (judge.cpp). Each reads the records in the context's Result and adds findings there.

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "judge_context.hpp"
#include "judge_util.hpp"

namespace fedscope::report::detail {

// ---- TCP, NAT and firewall (judge_tcp.cpp) ----------------------------------------------------

/// nat-*, fw-blocked and tcp-* findings of connection @p rec (federation connections only).
void judge_connection(JudgeContext& ctx, const ConnectionRecord& rec);

// ---- DNS (judge_dns.cpp) ------------------------------------------------------------------------

/// Without --domain: the domains whose federation address is one of our servers (an
/// --inside-net address, or the public address NAT'ed to one) become ours, and
/// Result::our_domains_inferred.
void infer_ours(JudgeContext& ctx);
/// dns-* findings: suspicious service names, then per _xmpp-server._tcp name its SRV
/// lookups, the A/AAAA fallback and the SRV targets.
void judge_dns(JudgeContext& ctx);

// ---- XMPP (judge_xmpp.cpp) ----------------------------------------------------------------------

/// xmpp-* findings of connection @p index, then its TLS (judge_tls()).
void judge_xmpp(JudgeContext& ctx, const ConnectionRecord& rec);

// ---- TLS and certificates (judge_tls.cpp) -------------------------------------------------------

/// tls-* findings of a connection whose TLS started: alerts, version, incomplete handshake,
/// SNI, and the server's and client's certificates (one finding per certificate and code).
/// @p name_o / @p name_r name the originator and responder as judge_xmpp() does.
void judge_tls(JudgeContext& ctx, const ConnectionRecord& rec, const std::string& domain,
               const std::string& name_o, const std::string& name_r);

// ---- Attempts (attempts.cpp) --------------------------------------------------------------------

/// Groups DNS lookups and connections into Result::attempts with roles, outcome, domains,
/// authentication and the reverse direction; reads the findings for the outcome, so it runs
/// after every layer.
void build_attempts(JudgeContext& ctx);

// ---- Verdicts (verdicts.cpp) ----------------------------------------------------------------

/// A finding as the verdicts read it: as its judges said it (their severity), with the
/// connections that said it (several for a merged finding; none for DNS findings).
struct VerdictInput {
  const std::string* key;
  const Finding* finding;
  Severity base;
  std::vector<std::uint32_t> flows;
  OrderKey order;
};

/// What the verdicts make of a finding: folded under @c cause (a key), and the severity it
/// has in the report (a root cause that made a direction fail is an error).
struct FoldNote {
  std::string cause;
  Severity severity = Severity::kError;
  /// Folded: the remedy it carries instead of its own (which would point away from the
  /// cause), naming the root cause to act on.
  std::string remedy;
  friend bool operator==(const FoldNote&, const FoldNote&) = default;
};

/// Result::verdicts, one per federation direction, from the attempts and @p in (in report
/// order); @p notes gets the findings whose cause or severity the verdicts change. Runs after
/// build_attempts().
void judge_verdicts(JudgeContext& ctx, const std::vector<VerdictInput>& in,
                    std::unordered_map<std::string, FoldNote>& notes);

}  // namespace fedscope::report::detail
