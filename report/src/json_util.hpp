#pragma once
// Internal to fedscope_report (not installed): JSON pieces that the report (render_json.cpp)
// and the event log (events.cpp) write alike.

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "fedscope/report/findings.hpp"

namespace fedscope::report::detail {

/// A finding's fields in the order both contracts write them, with @p evidence (each contract
/// names evidence its own way) as "evidence".
inline nlohmann::ordered_json finding_json(const Finding& f, nlohmann::ordered_json evidence) {
  using nlohmann::ordered_json;
  return ordered_json{{"code", to_string(f.code)},
                      {"severity", std::string(to_string(f.severity))},
                      {"summary", f.summary},
                      {"remedy", f.remedy},
                      {"flow", f.flow ? ordered_json(*f.flow) : ordered_json(nullptr)},
                      {"domain", f.domain.empty() ? ordered_json(nullptr) : ordered_json(f.domain)},
                      {"detail", f.detail.empty() ? ordered_json(nullptr) : ordered_json(f.detail)},
                      {"count", f.count},
                      {"key", f.key},
                      {"cause", f.cause.empty() ? ordered_json(nullptr) : ordered_json(f.cause)},
                      {"evidence", std::move(evidence)}};
}

}  // namespace fedscope::report::detail
