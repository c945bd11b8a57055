#include "fedscope/report/time_format.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string_view>

namespace fedscope::report {
namespace {

// "Z" for UTC, "+01:00" / "-03:30" for a local offset.
std::string zone_suffix(const CivilTime& p, bool local) {
  if (!local) return "Z";
  const char sign = p.offset < 0 ? '-' : '+';
  // Real zones are within ±26 h; the clamp keeps the text (and the compiler) bounded.
  const int off = static_cast<int>(std::min(p.offset < 0 ? -p.offset : p.offset, 99L * 3600));
  char buf[16];
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", sign, off / 3600, (off % 3600) / 60);
  return buf;
}

std::string relative(Timestamp t, Timestamp origin) {
  const std::int64_t d = t.ns - origin.ns;
  const std::uint64_t mag =
      d < 0 ? static_cast<std::uint64_t>(-(d + 1)) + 1u : static_cast<std::uint64_t>(d);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%c%llu.%06llus", d < 0 ? '-' : '+',
                static_cast<unsigned long long>(mag / 1'000'000'000),
                static_cast<unsigned long long>((mag % 1'000'000'000) / 1000));
  return buf;
}

}  // namespace

bool parse_time_style(std::string_view text, TimeStyle& out) {
  if (text == "utc") {
    out = TimeStyle::kUtc;
  } else if (text == "local") {
    out = TimeStyle::kLocal;
  } else if (text == "relative") {
    out = TimeStyle::kRelative;
  } else {
    return false;
  }
  return true;
}

TimeFormat::TimeFormat(TimeStyle style, Timestamp origin, std::string zone_name)
    : style_(style), origin_(origin), zone_name_(std::move(zone_name)) {}

std::string TimeFormat::time_of_day(Timestamp t) const {
  if (style_ == TimeStyle::kRelative) return relative(t, origin_);
  const bool local = style_ == TimeStyle::kLocal;
  const CivilTime p = civil_time(t, local);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%06ld", p.tm.tm_hour, p.tm.tm_min, p.tm.tm_sec,
                p.micros);
  return buf + zone_suffix(p, local);
}

std::string TimeFormat::date_time(Timestamp t) const {
  if (style_ == TimeStyle::kRelative) return relative(t, origin_);
  const bool local = style_ == TimeStyle::kLocal;
  const CivilTime p = civil_time(t, local);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld", p.tm.tm_year + 1900,
                p.tm.tm_mon + 1, p.tm.tm_mday, p.tm.tm_hour, p.tm.tm_min, p.tm.tm_sec, p.micros);
  return buf + zone_suffix(p, local);
}

std::string TimeFormat::describe(Timestamp at) const {
  switch (style_) {
    case TimeStyle::kUtc:
      return "UTC";
    case TimeStyle::kLocal: {
      const CivilTime p = civil_time(at, true);
      std::string s = "local time";
      if (!zone_name_.empty()) s += ", " + zone_name_;
      if (!p.zone.empty() && p.zone != zone_name_)
        s += zone_name_.empty() ? ", " + p.zone : " (" + p.zone + ")";
      return s;
    }
    case TimeStyle::kRelative:
      return "seconds since the first packet";
  }
  return "?";
}

}  // namespace fedscope::report
