#pragma once
// Internal to fedscope_report (not installed): each layer's judge, in the order judge() runs
// them (judge.cpp). Each reads the records in the context's Result and adds findings there.

#include <cstddef>
#include <string>

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

}  // namespace fedscope::report::detail
