#include "fedscope/base/domain.hpp"

#include <idn2.h>

#include <algorithm>
#include <utility>

namespace fedscope {
namespace {

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

/// Without its one trailing dot; the root "." stays itself.
std::string_view without_root(std::string_view s) {
  if (s.size() > 1 && s.back() == '.') s.remove_suffix(1);
  return s;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

/// An "xn--" label anywhere in @p s (any case): only such names have a U-label form to show.
bool has_a_label(std::string_view s) {
  for (std::size_t start = 0; start + 4 <= s.size();) {
    if (ascii_lower(s[start]) == 'x' && ascii_lower(s[start + 1]) == 'n' && s[start + 2] == '-' &&
        s[start + 3] == '-')
      return true;
    const std::size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return false;
}

/// Owns a string libidn2 allocated.
struct Idn2String {
  char* p = nullptr;
  ~Idn2String() { idn2_free(p); }
};

}  // namespace

DomainKey make_domain_key(std::string_view name) {
  if (name.size() > kMaxDomainInput)
    return {lowered(without_root(name.substr(0, kMaxDomainInput))), DomainStatus::kTooLong};
  DomainKey k{lowered(without_root(name)), DomainStatus::kOk};
  if (is_ascii(k.key)) {
    if (k.key.size() > kMaxDomainLength) k.status = DomainStatus::kTooLong;
    return k;
  }
  // libidn2 reads up to a NUL: "bücher.example\0.evil" must not become bücher.example.
  if (k.key.find('\0') != std::string::npos) {
    k.status = DomainStatus::kIdnRejected;
    return k;
  }
  // Comparing needs one direction only, U-label -> A-label: A-labels are ASCII already.
  Idn2String out;
  const int rc = idn2_lookup_u8(reinterpret_cast<const std::uint8_t*>(k.key.c_str()),
                                reinterpret_cast<std::uint8_t**>(&out.p),
                                IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc == IDN2_OK && out.p) {
    k.key = out.p;
    if (k.key.size() > kMaxDomainLength) k.status = DomainStatus::kTooLong;
  } else {
    k.status = rc == IDN2_TOO_BIG_DOMAIN ? DomainStatus::kTooLong : DomainStatus::kIdnRejected;
  }
  return k;
}

std::string domain_key(std::string_view name) {
  return make_domain_key(name).key;
}

bool domains_equal(std::string_view a, std::string_view b) {
  if (is_ascii(a) && is_ascii(b)) {
    a = without_root(a);
    b = without_root(b);
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return ascii_lower(x) == ascii_lower(y);
           });
  }
  return make_domain_key(a).key == make_domain_key(b).key;
}

std::string domain_to_unicode(std::string_view name) {
  DomainKey k = make_domain_key(name);
  if (k.status != DomainStatus::kOk || !has_a_label(k.key)) return std::move(k.key);
  Idn2String out;
  if (idn2_to_unicode_8z8z(k.key.c_str(), &out.p, 0) != IDN2_OK || !out.p) return k.key;
  return out.p;
}

}  // namespace fedscope
