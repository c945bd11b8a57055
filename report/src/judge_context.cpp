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
}

void JudgeContext::index_dns() {
  dns_by_name.clear();
  for (std::size_t i = 0; i < result.dns.size(); ++i)
    dns_by_name[domain_key(result.dns[i].qname)].push_back(i);
}

bool JudgeContext::forwarding_vantage() {
  read_vantage = true;
  return result.forwarding_vantage;
}

bool JudgeContext::is_ours(const std::string& domain) {
  read_ours = true;
  return !domain.empty() && ours.count(domain_key(domain)) > 0;
}

bool JudgeContext::inside(const IpAddress& a) const {
  read_inside = true;
  return std::any_of(result.inside_nets.begin(), result.inside_nets.end(),
                     [&](const Cidr& c) { return c.contains(a); }) ||
         learned_inside.count(a) > 0;
}

bool JudgeContext::inside_by_option(const IpAddress& a) const {
  return std::any_of(result.inside_nets.begin(), result.inside_nets.end(),
                     [&](const Cidr& c) { return c.contains(a); });
}

bool JudgeContext::not_public(const IpAddress& a) const {
  return classify(a) != AddressScope::kPublic || inside(a);
}

std::string JudgeContext::whose(const std::string& domain) {
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
  f.severity = severity;
  out->emplace_back(std::move(f));
  out->back().order = order;
  out->back().order.seq = static_cast<std::uint32_t>(out->size());
  return out->back().finding;
}

Finding& JudgeContext::add(FindingCode code, std::string summary, std::string domain) {
  return add(code, entry(code).severity, std::move(summary), std::move(domain));
}

Finding& JudgeContext::add_merged(std::string merge_key, FindingCode code, std::string summary,
                                  std::string domain) {
  Finding& f = add(code, std::move(summary), std::move(domain));
  out->back().merge_key = std::string(to_string(code)) + "@" + std::move(merge_key);
  return f;
}

}  // namespace fedscope::report::detail
