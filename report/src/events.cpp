// The judging event vocabulary (events.hpp): names, the fold, and the JSON-lines form
// (docs/events.schema.json).

#include "fedscope/report/events.hpp"

#include "fedscope/base/time.hpp"
#include "json_util.hpp"
#include "json_writer.hpp"

namespace fedscope::report {

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
    case WithdrawReason::kExpired:
      return "expired";
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

void EventFold::on_verdict(const VerdictEvent& e) {
  if (e.seq <= last_seq_) ++inconsistent_;
  last_seq_ = e.seq;
  auto it = verdicts_.find(e.key);
  switch (e.kind) {
    case EventKind::kRaised:
      if (it != verdicts_.end() || !e.verdict) {
        ++inconsistent_;
        return;
      }
      verdicts_.emplace(e.key, *e.verdict);
      return;
    case EventKind::kUpdated:
    case EventKind::kFolded:
      if (it == verdicts_.end() || !e.verdict) {
        ++inconsistent_;
        return;
      }
      it->second = *e.verdict;
      return;
    case EventKind::kWithdrawn:
      if (it == verdicts_.end()) {
        ++inconsistent_;
        return;
      }
      verdicts_.erase(it);
      return;
  }
}

namespace {

using detail::JsonWriter;

void write_evidence(JsonWriter& w, const EvidenceRef& r) {
  w.begin_object();
  if (!r.is_packet()) {
    w.member("connection", r.connection);
    w.member("direction", r.from_orig ? "orig" : "resp");
    w.member("offset", r.offset());
    w.member("time", format_iso8601(r.time));
  } else {
    w.member("file", r.file);
    w.member("packet", r.number);
    w.member("time", format_iso8601(r.time));
  }
  w.end_object();
}

void write_finding(JsonWriter& w, const Finding& f) {
  detail::write_finding(w, f, [&] {
    w.begin_object();
    w.key("refs");
    w.begin_array();
    for (const auto& e : f.evidence)
      write_evidence(w, e);
    w.end_array();
    w.member("total", f.evidence_total);
    w.end_object();
  });
}

void write_attempt(JsonWriter& w, const AttemptState& a) {
  w.begin_object();
  w.member_or_null("domain", a.domain);
  w.member("target", a.target);
  w.member_or_null("originator", a.originator);
  w.member("outcome", a.outcome);
  w.member_or_null("from", a.from_domain);
  w.member_or_null("to", a.to_domain);
  w.member_or_null("auth_method", a.auth_method);
  w.member_or_null("auth_result", a.auth_result);
  w.member("dns", a.dns);
  w.member("flows", a.flows);
  w.member("roles", a.roles);
  w.member_or_null("reverse", a.reverse);
  w.end_object();
}

// One event, compact, into a string: the fields every event has, then @p rest.
template <class Rest>
std::string event_line(std::uint64_t seq, const char* type, EventKind kind, const std::string& key,
                       Rest&& rest) {
  std::string out;
  {
    detail::JsonSink sink(out);
    JsonWriter w(sink, false);
    w.begin_object();
    w.member("seq", seq);
    w.member("type", type);
    w.member("event", to_string(kind));
    w.member("key", key);
    rest(w);
    w.end_object();
  }
  return out;
}

}  // namespace

std::string event_json(const FindingEvent& e) {
  return event_line(e.seq, "finding", e.kind, e.key, [&](JsonWriter& w) {
    if (e.kind == EventKind::kFolded) w.member("cause", e.cause);
    if (e.kind == EventKind::kWithdrawn) w.member("reason", to_string(e.reason));
    if (e.finding) {
      w.key("finding");
      write_finding(w, *e.finding);
    }
  });
}

std::string event_json(const AttemptEvent& e) {
  return event_line(e.seq, "attempt", e.kind, e.key, [&](JsonWriter& w) {
    if (e.kind == EventKind::kWithdrawn) w.member("reason", to_string(e.reason));
    if (e.attempt) {
      w.key("attempt");
      write_attempt(w, *e.attempt);
    }
  });
}

std::string event_json(const VerdictEvent& e) {
  return event_line(e.seq, "verdict", e.kind, e.key, [&](JsonWriter& w) {
    if (e.kind == EventKind::kWithdrawn) w.member("reason", to_string(e.reason));
    if (!e.verdict) return;
    const auto& v = *e.verdict;
    w.key("verdict");
    w.begin_object();
    w.member("from", v.from);
    w.member("to", v.to);
    w.member("status", v.status);
    w.member_or_null("basis", v.basis);
    w.member_or_null("stage", v.stage);
    // The code, as the report's "root_cause" says it: the key's part before the '@'.
    w.member_or_null("root_cause",
                     std::string_view(v.root_cause_key).substr(0, v.root_cause_key.find('@')));
    w.member_or_null("root_cause_key", v.root_cause_key);
    w.member("why", v.why);
    w.member("attempts", v.attempts);
    w.end_object();
  });
}

}  // namespace fedscope::report
