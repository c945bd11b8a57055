#pragma once
// Internal to fedscope_report (not installed): JSON pieces that the report (render_json.cpp)
// and the event log (events.cpp) write alike.

#include "fedscope/report/findings.hpp"
#include "json_writer.hpp"

namespace fedscope::report::detail {

/// A finding's fields in the order both contracts write them; @p evidence() writes the value
/// of "evidence" (each contract names evidence its own way).
template <class WriteEvidence>
void write_finding(JsonWriter& w, const Finding& f, WriteEvidence&& evidence) {
  w.begin_object();
  w.member("code", to_string(f.code));
  w.member("severity", to_string(f.severity));
  w.member("summary", f.summary);
  w.member("remedy", f.remedy);
  w.key("flow");
  f.flow ? w.value(*f.flow) : w.null();
  w.member_or_null("domain", f.domain);
  w.member_or_null("detail", f.detail);
  w.member("count", f.count);
  w.member("key", f.key);
  w.member_or_null("cause", f.cause);
  w.key("evidence");
  evidence();
  w.end_object();
}

}  // namespace fedscope::report::detail
