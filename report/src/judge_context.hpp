#pragma once
// Internal to fedscope_report (not installed): what the judges of every layer share. The
// layers (judge_dns.cpp, judge_tcp.cpp, judge_xmpp.cpp, judge_tls.cpp, attempts.cpp) read and
// write only this, so the decisions made once for the whole capture are named state here
// rather than members of one big class; incremental judging re-evaluates exactly these.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fedscope/base/address.hpp"
#include "fedscope/report/analysis.hpp"
#include "fedscope/report/findings.hpp"

namespace fedscope::report::detail {

/// Where a finding comes in the report within its severity: DNS (phase 0), then each
/// connection's TCP findings (phase 1) in start order, then each connection's XMPP and TLS
/// findings (phase 2); @c seq is the order within the unit's judge.
struct OrderKey {
  std::uint8_t phase = 0;
  Timestamp start;            ///< the connection's start
  std::uint64_t arrival = 0;  ///< ties: the order connections closed in
  std::uint32_t seq = 0;
  auto operator<=>(const OrderKey&) const = default;
};

/// One finding as one unit's judge said it. Findings with the same @c merge_key from several
/// units (one certificate on many connections) fold into one (judge.cpp).
struct Contribution {
  explicit Contribution(Finding f) : finding(std::move(f)) {}
  Finding finding;
  std::string merge_key;  ///< "" unless several units may say the same finding
  OrderKey order;
};

struct JudgeContext {
  /// Takes --domain (Result::our_domains) in its comparison form, each once: "CUPDOMAIN.EXAMPLE."
  /// becomes cupdomain.example, shown so in the report too.
  explicit JudgeContext(Result& r);
  JudgeContext(const JudgeContext&) = delete;
  JudgeContext& operator=(const JudgeContext&) = delete;

  /// The records being judged (the judges read them; attempts are written there).
  Result& result;

  // ---- context: decided from all records so far, explicit so a change re-judges ----------

  /// Our domains, as keys (domain_key()): --domain, or else inferred by infer_ours(). Decides
  /// "your" / "the peer's" in zone findings' remedies.
  std::set<std::string> ours;
  /// Addresses NAT pairing shows behind the firewall, outside every --inside-net range: the
  /// source of an outbound connection before its source NAT, the destination of an inbound one
  /// after its destination NAT (judge.cpp learns them as records arrive).
  std::set<IpAddress> learned_inside;
  /// Our public addresses NAT pairing shows: the source NAT'ed outbound connections leave
  /// with, the destination of inbound ones before their destination NAT.
  std::set<IpAddress> our_public;
  /// Flows with an error-level finding (the attempts read it).
  std::unordered_set<std::uint32_t> error_flows;

  // ---- indexes of the records ---------------------------------------------------------------

  /// DNS transactions by query name (domain_key()), indexes into Result::dns, in key order.
  std::map<std::string, std::vector<std::size_t>> dns_by_name;
  void index_dns();

  // ---- the unit being judged ------------------------------------------------------------------

  /// Where add() puts findings (set by the driver per unit).
  std::deque<Contribution>* out = nullptr;
  OrderKey order;  ///< phase, start and arrival set by the driver; add() counts seq
  /// What the unit read of the context (so a change re-judges exactly those units).
  bool read_vantage = false, read_ours = false;
  mutable bool read_inside = false;

  /// The capture was taken on a forwarding box (read by the TCP judge; noted).
  bool forwarding_vantage();
  bool is_ours(const std::string& domain);
  /// Inside one of the --inside-net ranges, or an address NAT pairing showed on the inside
  /// of the firewall (learned_inside; noted, so a unit that asked is judged again when it grows).
  bool inside(const IpAddress& a) const;
  /// Inside an --inside-net range (what the option said, for the wording).
  bool inside_by_option(const IpAddress& a) const;
  /// Not reachable from the internet: not a public address, or inside an --inside-net.
  bool not_public(const IpAddress& a) const;
  /// "your", "the peer's", or "the" when @p domain is empty.
  std::string whose(const std::string& domain);
  /// Findings the current unit has said so far.
  std::size_t added() const { return out->size(); }

  /// Adds a finding of @p code to the current unit with the catalogue's remedy (for zone
  /// findings, DOMAIN replaced and whose zone it is said) and returns it for evidence and
  /// details (valid until the unit's next add()... and after: a deque keeps it in place).
  Finding& add(FindingCode code, Severity severity, std::string summary, std::string domain);
  /// The same with the catalogue's default severity.
  Finding& add(FindingCode code, std::string summary, std::string domain = "");
  /// A finding that other units may say too (@p merge_key names it, e.g. the certificate):
  /// the first in report order gives it its text; each further one adds a count, its detail
  /// and its evidence.
  Finding& add_merged(std::string merge_key, FindingCode code, std::string summary,
                      std::string domain);
};

}  // namespace fedscope::report::detail
