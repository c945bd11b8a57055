// The judging event vocabulary (events.hpp): names, the fold, and the JSON-lines form
// (docs/events.schema.json).

#include "fedscope/report/events.hpp"

#include <nlohmann/json.hpp>

#include "fedscope/base/time.hpp"
#include "json_util.hpp"

namespace fedscope::report {

using nlohmann::ordered_json;

std::string_view to_string(EventKind kind) {
  switch (kind) {
    case EventKind::kRaised:
      return "raised";
    case EventKind::kUpdated:
      return "updated";
    case EventKind::kFolded:
      return "folded";
    case EventKind::kWithdrawn:
      return "withdrawn";
  }
  return "";
}

std::string_view to_string(WithdrawReason reason) {
  switch (reason) {
    case WithdrawReason::kNone:
      return "";
    case WithdrawReason::kContextChanged:
      return "context-changed";
    case WithdrawReason::kRejudged:
      return "rejudged";
  }
  return "";
}

void EventFold::on_finding(const FindingEvent& e) {
  if (e.seq <= last_seq_) ++inconsistent_;
  last_seq_ = e.seq;
  auto it = findings_.find(e.key);
  switch (e.kind) {
    case EventKind::kRaised:
      if (it != findings_.end() || !e.finding) {
        ++inconsistent_;
        return;
      }
      findings_.emplace(e.key, Entry{*e.finding, "", e.seq});
      return;
    case EventKind::kUpdated:
    case EventKind::kFolded:
      if (it == findings_.end() || !e.finding) {
        ++inconsistent_;
        return;
      }
      it->second.finding = *e.finding;
      if (e.kind == EventKind::kFolded) it->second.folded_under = e.cause;
      return;
    case EventKind::kWithdrawn:
      if (it == findings_.end()) {
        ++inconsistent_;
        return;
      }
      findings_.erase(it);
      return;
  }
}

void EventFold::on_attempt(const AttemptEvent& e) {
  if (e.seq <= last_seq_) ++inconsistent_;
  last_seq_ = e.seq;
  auto it = attempts_.find(e.key);
  switch (e.kind) {
    case EventKind::kRaised:
      if (it != attempts_.end() || !e.attempt) {
        ++inconsistent_;
        return;
      }
      attempts_.emplace(e.key, *e.attempt);
      return;
    case EventKind::kUpdated:
    case EventKind::kFolded:
      if (it == attempts_.end() || !e.attempt) {
        ++inconsistent_;
        return;
      }
      it->second = *e.attempt;
      return;
    case EventKind::kWithdrawn:
      if (it == attempts_.end()) {
        ++inconsistent_;
        return;
      }
      attempts_.erase(it);
      return;
  }
}

namespace {

ordered_json evidence_json(const EvidenceRef& r) {
  if (!r.is_packet())
    return ordered_json{{"connection", r.connection},
                        {"direction", r.from_orig ? "orig" : "resp"},
                        {"offset", r.offset()},
                        {"time", format_iso8601(r.time)}};
  return ordered_json{{"file", r.file}, {"packet", r.number}, {"time", format_iso8601(r.time)}};
}

ordered_json finding_json(const Finding& f) {
  ordered_json ev = ordered_json::array();
  for (const auto& e : f.evidence)
    ev.push_back(evidence_json(e));
  return detail::finding_json(f, ordered_json{{"refs", ev}, {"total", f.evidence_total}});
}

ordered_json attempt_json(const AttemptState& a) {
  auto opt = [](const std::string& s) {
    return s.empty() ? ordered_json(nullptr) : ordered_json(s);
  };
  return ordered_json{{"domain", opt(a.domain)},
                      {"target", a.target},
                      {"originator", opt(a.originator)},
                      {"outcome", a.outcome},
                      {"from", opt(a.from_domain)},
                      {"to", opt(a.to_domain)},
                      {"auth_method", opt(a.auth_method)},
                      {"auth_result", opt(a.auth_result)},
                      {"dns", a.dns},
                      {"flows", a.flows},
                      {"roles", a.roles},
                      {"reverse", opt(a.reverse)}};
}

std::string dump(const ordered_json& j) {
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace

std::string event_json(const FindingEvent& e) {
  ordered_json j{{"seq", e.seq},
                 {"type", "finding"},
                 {"event", std::string(to_string(e.kind))},
                 {"key", e.key}};
  if (e.kind == EventKind::kFolded) j["cause"] = e.cause;
  if (e.kind == EventKind::kWithdrawn) j["reason"] = std::string(to_string(e.reason));
  if (e.finding) j["finding"] = finding_json(*e.finding);
  return dump(j);
}

std::string event_json(const AttemptEvent& e) {
  ordered_json j{{"seq", e.seq},
                 {"type", "attempt"},
                 {"event", std::string(to_string(e.kind))},
                 {"key", e.key}};
  if (e.kind == EventKind::kWithdrawn) j["reason"] = std::string(to_string(e.reason));
  if (e.attempt) j["attempt"] = attempt_json(*e.attempt);
  return dump(j);
}

}  // namespace fedscope::report
