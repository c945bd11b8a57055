// judge(): the layers' judges over the collected records, in a fixed order, then the findings
// in report order. Each layer lives in its own file (judge_layers.hpp); what they share is the
// JudgeContext (judge_context.hpp).

#include <algorithm>

#include "fedscope/report/analysis.hpp"
#include "judge_context.hpp"
#include "judge_layers.hpp"

namespace fedscope::report {

void judge(Result& result) {
  detail::JudgeContext ctx(result);
  // Whole-capture decisions first: the layers read them.
  detail::learn_vantages(ctx);
  if (ctx.ours.empty()) detail::infer_ours(ctx);
  // Findings come out in this order within a severity: DNS, then per connection (in start
  // order) TCP, then per connection XMPP with its TLS.
  detail::judge_dns(ctx);
  for (std::size_t i = 0; i < result.connections.size(); ++i)
    detail::judge_connection(ctx, i);
  for (std::size_t i = 0; i < result.connections.size(); ++i)
    detail::judge_xmpp(ctx, i);
  // Attempts read the findings (an error on a flow fails a connected attempt).
  detail::build_attempts(ctx);
  for (auto& f : result.findings)
    std::stable_sort(f.evidence.begin(), f.evidence.end(),
                     [](const Evidence& a, const Evidence& b) { return a.time < b.time; });
  // Errors first, then warnings; stable within a severity (time order).
  std::stable_sort(result.findings.begin(), result.findings.end(),
                   [](const Finding& a, const Finding& b) {
                     return static_cast<int>(a.severity) > static_cast<int>(b.severity);
                   });
}

}  // namespace fedscope::report
