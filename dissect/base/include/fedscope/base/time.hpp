#pragma once
/// @file
/// Packet time. Captures carry seconds + nanoseconds since the Unix epoch (UTC); the whole
/// engine runs on this clock (never the wall clock), so offline and live runs behave alike.

#include <compare>
#include <cstdint>
#include <ctime>
#include <string>

namespace fedscope {

/// A point in packet time: nanoseconds since 1970-01-01T00:00:00Z.
struct Timestamp {
  std::int64_t ns = 0;

  static constexpr Timestamp from_parts(std::int64_t sec, std::int64_t nsec) {
    return Timestamp{sec * 1'000'000'000 + nsec};
  }
  static constexpr Timestamp from_seconds(double s) {
    return Timestamp{static_cast<std::int64_t>(s * 1e9)};
  }
  constexpr double seconds() const { return static_cast<double>(ns) / 1e9; }
  constexpr auto operator<=>(const Timestamp&) const = default;
};

/// A span of packet time in nanoseconds.
struct Duration {
  std::int64_t ns = 0;
  static constexpr Duration seconds(double s) {
    return Duration{static_cast<std::int64_t>(s * 1e9)};
  }
  static constexpr Duration millis(std::int64_t ms) { return Duration{ms * 1'000'000}; }
  constexpr double seconds() const { return static_cast<double>(ns) / 1e9; }
  constexpr auto operator<=>(const Duration&) const = default;
};

constexpr Duration operator-(Timestamp a, Timestamp b) {
  return Duration{a.ns - b.ns};
}
constexpr Timestamp operator+(Timestamp a, Duration d) {
  return Timestamp{a.ns + d.ns};
}

/// The calendar fields of a Timestamp, for formatting.
struct CivilTime {
  std::tm tm{};
  long micros = 0;   ///< 0..999999 (the nanoseconds below are dropped)
  long offset = 0;   ///< seconds east of UTC: 0 for UTC, the zone's offset then for local
  std::string zone;  ///< local only: the zone's abbreviation then, e.g. "CET"
};

/// @p t in UTC, or (@p local) in the local zone (TZ, else the system's) at that moment.
CivilTime civil_time(Timestamp t, bool local = false);

/// ISO 8601 UTC with microseconds, e.g. "2026-11-25T13:09:14.123456Z".
std::string format_iso8601(Timestamp t);

/// Time of day with microseconds, "13:09:14.123456", for compact ladders.
std::string format_time_of_day(Timestamp t);

}  // namespace fedscope
