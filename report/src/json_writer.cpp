#include "json_writer.hpp"

#include <cstdint>
#include <cstring>

namespace fedscope::report::detail {
namespace {

// The length (1..4) of the well-formed UTF-8 sequence at the start of @p p (Unicode Table 3-7,
// no overlongs, no surrogates, nothing above U+10FFFF), or 0 when there is none; then
// @p subpart is the length of the maximal ill-formed subpart there (at least 1 byte): the
// bytes that one U+FFFD replaces.
std::size_t well_formed(const unsigned char* p, std::size_t n, std::size_t& subpart) {
  const unsigned char b = p[0];
  if (b < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
  } else if (b == 0xE0) {
    len = 3;
    lo = 0xA0;
  } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
    len = 3;
  } else if (b == 0xED) {
    len = 3;
    hi = 0x9F;
  } else if (b == 0xF0) {
    len = 4;
    lo = 0x90;
  } else if (b >= 0xF1 && b <= 0xF3) {
    len = 4;
  } else if (b == 0xF4) {
    len = 4;
    hi = 0x8F;
  } else {
    subpart = 1;  // 80..C1, F5..FF can start nothing
    return 0;
  }
  for (std::size_t i = 1; i < len; ++i) {
    if (i >= n || p[i] < lo || p[i] > hi) {
      subpart = i;
      return 0;
    }
    lo = 0x80;
    hi = 0xBF;
  }
  return len;
}

}  // namespace

std::string_view utf8_sanitize(std::string_view s, std::string& scratch) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0, subpart = 0;
  // The usual case: well-formed, returned as it is. ASCII is skipped 8 bytes at a time.
  while (i < n) {
    if (n - i >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = well_formed(p + i, n - i, subpart);
    if (len == 0) break;
    i += len;
  }
  if (i == n) return s;
  scratch.assign(s.data(), i);
  while (i < n) {
    const std::size_t len = well_formed(p + i, n - i, subpart);
    if (len == 0) {
      scratch += "\xEF\xBF\xBD";
      i += subpart;
    } else {
      scratch.append(s.data() + i, len);
      i += len;
    }
  }
  return scratch;
}

}  // namespace fedscope::report::detail
