#pragma once
/// @file
/// How a report writes packet times for a person, like tshark's `-t`: UTC (the default), the
/// local time of the machine that renders it, or seconds since the first packet. Every time a
/// text report shows carries its marker ("Z", the UTC offset, or "s" after a signed number), so
/// a reader never has to guess the zone. JSON always stays UTC (RFC 3339 "Z").

#include <string>

#include "fedscope/base/time.hpp"

namespace fedscope::report {

enum class TimeStyle { kUtc, kLocal, kRelative };

/// Parses "utc", "local" or "relative"; false for anything else.
bool parse_time_style(std::string_view text, TimeStyle& out);

/// Formats packet times in one style. Holds no buffers; cheap to copy.
class TimeFormat {
 public:
  /// UTC.
  TimeFormat() = default;
  /// @p origin is the first packet's time (used by kRelative). @p zone_name names the local
  /// zone in describe() (e.g. "Europe/Berlin", from TZ or /etc/localtime); "" when unknown.
  TimeFormat(TimeStyle style, Timestamp origin, std::string zone_name = "");

  TimeStyle style() const { return style_; }
  /// Compact, for ladders and evidence: "13:09:14.123456Z", "14:09:14.123456+01:00",
  /// "+12.345678s".
  std::string time_of_day(Timestamp t) const;
  /// With the date: "2026-11-25T13:09:14.123456Z", "2026-11-25T14:09:14.123456+01:00"; in
  /// kRelative the signed seconds as time_of_day().
  std::string date_time(Timestamp t) const;
  /// For the report header: "UTC", "local time, Europe/Berlin (CET)", "seconds since the first
  /// packet". In kLocal, @p at picks the zone abbreviation in force then.
  std::string describe(Timestamp at) const;

 private:
  TimeStyle style_ = TimeStyle::kUtc;
  Timestamp origin_;
  std::string zone_name_;
};

}  // namespace fedscope::report
