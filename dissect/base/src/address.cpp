#include "fedscope/base/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace fedscope {

IpAddress IpAddress::v4(std::span<const std::uint8_t, 4> b) {
  IpAddress a;
  std::copy(b.begin(), b.end(), a.bytes_.begin());
  a.family_ = 4;
  return a;
}

IpAddress IpAddress::v6(std::span<const std::uint8_t, 16> b) {
  IpAddress a;
  std::copy(b.begin(), b.end(), a.bytes_.begin());
  a.family_ = 6;
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::uint8_t raw[16];
  if (inet_pton(AF_INET, buf, raw) == 1) return v4(std::span<const std::uint8_t, 4>(raw, 4));
  if (inet_pton(AF_INET6, buf, raw) == 1) return v6(std::span<const std::uint8_t, 16>(raw, 16));
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (is_v4()) inet_ntop(AF_INET, bytes_.data(), buf, sizeof buf);
  if (is_v6()) inet_ntop(AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

namespace {

bool in_v4(const IpAddress& a, std::uint8_t b0, std::uint8_t b1, int prefix) {
  std::uint32_t addr = (std::uint32_t{a.bytes()[0]} << 24) | (std::uint32_t{a.bytes()[1]} << 16) |
                       (std::uint32_t{a.bytes()[2]} << 8) | a.bytes()[3];
  std::uint32_t net = (std::uint32_t{b0} << 24) | (std::uint32_t{b1} << 16);
  std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (addr & mask) == (net & mask);
}

}  // namespace

AddressScope classify(const IpAddress& a) {
  const auto& b = a.bytes();
  if (a.is_v4()) {
    if (in_v4(a, 0, 0, 8)) return AddressScope::kUnspecified;
    if (in_v4(a, 127, 0, 8)) return AddressScope::kLoopback;
    if (in_v4(a, 10, 0, 8) || in_v4(a, 172, 16, 12) || in_v4(a, 192, 168, 16))
      return AddressScope::kPrivate;
    if (in_v4(a, 169, 254, 16)) return AddressScope::kLinkLocal;
    if (in_v4(a, 100, 64, 10)) return AddressScope::kCgnat;
    if (b[0] >= 224) return AddressScope::kMulticast;  // multicast and class E
    return AddressScope::kPublic;
  }
  // IPv4-mapped addresses are judged as the IPv4 address they carry.
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped, kMapped + 12, b.begin())) {
    return classify(IpAddress::v4(std::span<const std::uint8_t, 4>(b.data() + 12, 4)));
  }
  bool zero15 = std::all_of(b.begin(), b.begin() + 15, [](std::uint8_t x) { return x == 0; });
  if (zero15 && b[15] == 0) return AddressScope::kUnspecified;
  if (zero15 && b[15] == 1) return AddressScope::kLoopback;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressScope::kLinkLocal;
  if ((b[0] & 0xfe) == 0xfc) return AddressScope::kUniqueLocal;
  if (b[0] == 0xff) return AddressScope::kMulticast;
  return AddressScope::kPublic;
}

std::string_view to_string(AddressScope s) {
  switch (s) {
    case AddressScope::kPublic:
      return "public";
    case AddressScope::kPrivate:
      return "private (RFC 1918)";
    case AddressScope::kLoopback:
      return "loopback";
    case AddressScope::kLinkLocal:
      return "link-local";
    case AddressScope::kCgnat:
      return "carrier-grade NAT (RFC 6598)";
    case AddressScope::kUniqueLocal:
      return "unique local (RFC 4193)";
    case AddressScope::kUnspecified:
      return "unspecified";
    case AddressScope::kMulticast:
      return "multicast";
  }
  return "?";
}

std::string Endpoint::to_string() const {
  // Appended piece by piece: `"[" + std::string&&` trips g++ 12's -Wrestrict false positive
  // (GCC bug 105651) at -O3, which stopped Release builds.
  std::string s;
  s.reserve(INET6_ADDRSTRLEN + 8);
  if (addr.is_v6()) s += '[';
  s += addr.to_string();
  if (addr.is_v6()) s += ']';
  s += ':';
  s += std::to_string(port);
  return s;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  int max = addr->is_v4() ? 32 : 128;
  int prefix = max;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc() || p != digits.data() + digits.size() || prefix < 0 || prefix > max)
      return std::nullopt;
  }
  return Cidr{*addr, prefix};
}

bool Cidr::contains(const IpAddress& a) const {
  if (a.is_v4() != network.is_v4()) return false;
  int full = prefix / 8;
  const auto& x = a.bytes();
  const auto& n = network.bytes();
  if (!std::equal(x.begin(), x.begin() + full, n.begin())) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (x[full] & mask) == (n[full] & mask);
}

std::string Cidr::to_string() const {
  return network.to_string() + "/" + std::to_string(prefix);
}

std::size_t IpAddressHash::operator()(const IpAddress& a) const noexcept {
  // FNV-1a over the bytes; cheap and good enough for flow tables.
  std::uint64_t h = 1469598103934665603ull;
  for (auto b : a.bytes())
    h = (h ^ b) * 1099511628211ull;
  return static_cast<std::size_t>(h ^ (a.is_v6() ? 0x9e37u : 0u));
}

std::size_t EndpointHash::operator()(const Endpoint& e) const noexcept {
  return IpAddressHash{}(e.addr) * 31u + e.port;
}

}  // namespace fedscope
