#include "fedscope/base/time.hpp"

#include <cstdio>
#include <ctime>

namespace fedscope {

CivilTime civil_time(Timestamp t, bool local) {
  std::int64_t sec = t.ns / 1'000'000'000;
  std::int64_t rem = t.ns % 1'000'000'000;
  if (rem < 0) {
    rem += 1'000'000'000;
    --sec;
  }
  CivilTime c;
  const auto tt = static_cast<std::time_t>(sec);
  if (local) {
    localtime_r(&tt, &c.tm);
    c.offset = c.tm.tm_gmtoff;
    if (c.tm.tm_zone) c.zone = c.tm.tm_zone;
  } else {
    gmtime_r(&tt, &c.tm);
  }
  c.micros = static_cast<long>(rem / 1000);
  return c;
}

std::string format_iso8601(Timestamp t) {
  const CivilTime s = civil_time(t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", s.tm.tm_year + 1900,
                s.tm.tm_mon + 1, s.tm.tm_mday, s.tm.tm_hour, s.tm.tm_min, s.tm.tm_sec, s.micros);
  return buf;
}

std::string format_time_of_day(Timestamp t) {
  const CivilTime s = civil_time(t);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%06ld", s.tm.tm_hour, s.tm.tm_min, s.tm.tm_sec,
                s.micros);
  return buf;
}

}  // namespace fedscope
