#pragma once
/// @file
/// IPv4/IPv6 addresses as small value types (no heap), endpoints and CIDR ranges.

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace fedscope {

/// An IPv4 or IPv6 address. IPv4 is stored in the first four bytes.
class IpAddress {
 public:
  IpAddress() = default;
  /// Copies 4 bytes (network order) from @p b.
  static IpAddress v4(std::span<const std::uint8_t, 4> b);
  /// Copies 16 bytes (network order) from @p b.
  static IpAddress v6(std::span<const std::uint8_t, 16> b);
  /// Parses dotted-quad or RFC 4291 text; nullopt when it is neither.
  static std::optional<IpAddress> parse(std::string_view text);

  bool is_v4() const { return family_ == 4; }
  bool is_v6() const { return family_ == 6; }
  bool valid() const { return family_ != 0; }
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  std::string to_string() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  std::array<std::uint8_t, 16> bytes_{};
  std::uint8_t family_ = 0;
};

/// What kind of address a peer on the internet would see. Documentation ranges
/// (TEST-NET-1/2/3, 2001:db8::/32) count as public: fedscope's own lab uses them.
enum class AddressScope {
  kPublic,
  kPrivate,
  kLoopback,
  kLinkLocal,
  kCgnat,
  kUniqueLocal,
  kUnspecified,
  kMulticast
};
AddressScope classify(const IpAddress& a);
std::string_view to_string(AddressScope s);

/// An address and a transport port.
struct Endpoint {
  IpAddress addr;
  std::uint16_t port = 0;
  /// "192.0.2.10:5269" or "[2001:db8::1]:5269".
  std::string to_string() const;
  auto operator<=>(const Endpoint&) const = default;
};

/// An address range such as 192.0.2.0/24.
struct Cidr {
  IpAddress network;
  int prefix = 0;
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const IpAddress& a) const;
  std::string to_string() const;
};

struct IpAddressHash {
  std::size_t operator()(const IpAddress& a) const noexcept;
};
struct EndpointHash {
  std::size_t operator()(const Endpoint& e) const noexcept;
};

}  // namespace fedscope
