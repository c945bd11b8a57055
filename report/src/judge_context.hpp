#pragma once
// Internal to fedscope_report (not installed): what the judges of every layer share. The
// layers (judge_dns.cpp, judge_tcp.cpp, judge_xmpp.cpp, judge_tls.cpp, attempts.cpp) read and
// write only this, so the decisions made once for the whole capture are named state here
// rather than members of one big class; incremental judging re-evaluates exactly these.

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fedscope/base/address.hpp"
#include "fedscope/report/analysis.hpp"
#include "fedscope/report/findings.hpp"

namespace fedscope::report::detail {

struct JudgeContext {
  /// Takes --domain (Result::our_domains) in its comparison form, each once: "CUPDOMAIN.EXAMPLE."
  /// becomes cupdomain.example, shown so in the report too. Indexes the DNS names.
  explicit JudgeContext(Result& r);
  JudgeContext(const JudgeContext&) = delete;
  JudgeContext& operator=(const JudgeContext&) = delete;

  /// The records being judged; findings and attempts are added to it.
  Result& result;

  // ---- decided for the whole capture --------------------------------------------------------

  /// Our domains, as keys (domain_key()): --domain, or else inferred by infer_ours(). Decides
  /// "your" / "the peer's" in zone findings' remedies.
  std::set<std::string> ours;
  /// Certificate findings already raised, (code, certificate sha256) -> index into
  /// Result::findings: the same certificate on further connections adds to their count.
  std::map<std::pair<FindingCode, std::string>, std::size_t> cert_findings;

  // ---- indexes of the records -----------------------------------------------------------------

  /// DNS transactions by query name (domain_key()), indexes into Result::dns, in key order.
  std::map<std::string, std::vector<std::size_t>> dns_by_name;

  // ---- helpers --------------------------------------------------------------------------------

  bool is_ours(const std::string& domain) const;
  /// Inside one of the --inside-net ranges.
  bool inside(const IpAddress& a) const;
  /// Not reachable from the internet: not a public address, or inside an --inside-net.
  bool not_public(const IpAddress& a) const;
  /// "your", "the peer's", or "the" when @p domain is empty.
  std::string whose(const std::string& domain) const;

  /// Appends a finding of @p code with the catalogue's remedy (for zone findings, DOMAIN
  /// replaced and whose zone it is said) and returns it for evidence and details.
  Finding& add(FindingCode code, Severity severity, std::string summary, std::string domain);
  /// The same with the catalogue's default severity.
  Finding& add(FindingCode code, std::string summary, std::string domain = "");
};

}  // namespace fedscope::report::detail
