// The state and helpers the layers' judges share (judge_context.hpp).

#include "judge_context.hpp"

#include <algorithm>
#include <iterator>

#include "fedscope/base/domain.hpp"

namespace fedscope::report::detail {

JudgeContext::JudgeContext(Result& r) : result(r) {
  std::vector<std::string> keys;
  for (const auto& d : r.our_domains)
    if (std::string k = domain_key(d); !k.empty() && ours.insert(k).second)
      keys.push_back(std::move(k));
  r.our_domains = std::move(keys);
  for (std::size_t i = 0; i < r.dns.size(); ++i)
    dns_by_name[domain_key(r.dns[i].qname)].push_back(i);
}

bool JudgeContext::is_ours(const std::string& domain) const {
  return !domain.empty() && ours.count(domain_key(domain)) > 0;
}

bool JudgeContext::inside(const IpAddress& a) const {
  return std::any_of(result.inside_nets.begin(), result.inside_nets.end(),
                     [&](const Cidr& c) { return c.contains(a); });
}

bool JudgeContext::not_public(const IpAddress& a) const {
  return classify(a) != AddressScope::kPublic || inside(a);
}

std::string JudgeContext::whose(const std::string& domain) const {
  if (domain.empty()) return "the";
  return is_ours(domain) ? "your" : "the peer's";
}

Finding& JudgeContext::add(FindingCode code, Severity severity, std::string summary,
                           std::string domain) {
  Finding f(code);
  f.severity = severity;
  f.summary = std::move(summary);
  f.domain = std::move(domain);
  f.remedy = std::string(entry(code).remedy);
  // Whose zone to fix matters only for findings about a domain's DNS records.
  static constexpr FindingCode kZoneCodes[] = {
      FindingCode::kDnsSrvMissing, FindingCode::kDnsSrvDisabled,
      FindingCode::kDnsSrvPortNonstandard, FindingCode::kDnsTargetUnresolved,
      FindingCode::kDnsAddressNotPublic};
  bool zone = std::find(std::begin(kZoneCodes), std::end(kZoneCodes), code) != std::end(kZoneCodes);
  if (!f.domain.empty() && zone) {
    std::string who = is_ours(f.domain) ? "This is your domain: " : "";
    if (!is_ours(f.domain) && !ours.empty())
      who = "This is the peer's domain: tell its administrator. ";
    std::string remedy = f.remedy;
    for (auto pos = remedy.find("DOMAIN"); pos != std::string::npos; pos = remedy.find("DOMAIN"))
      remedy.replace(pos, 6, f.domain);
    f.remedy = who + remedy;
  }
  result.findings.push_back(std::move(f));
  return result.findings.back();
}

Finding& JudgeContext::add(FindingCode code, std::string summary, std::string domain) {
  return add(code, entry(code).severity, std::move(summary), std::move(domain));
}

}  // namespace fedscope::report::detail
