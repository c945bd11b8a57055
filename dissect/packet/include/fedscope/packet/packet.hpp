#pragma once
/// @file
/// Link, network and transport headers of one frame, decoded without exceptions. Malformed
/// or cut headers become named anomalies ("ip.bad_header_len", "tcp.bad_header_len", ...).
/// IPv4 fragments are reassembled (libtins' IPv4Reassembler behind a boundary that turns its
/// exceptions into counters); the hot path decodes headers itself so that a snaplen-cut
/// segment still yields its ports, flags and sequence numbers.

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "fedscope/base/address.hpp"
#include "fedscope/base/anomaly.hpp"
#include "fedscope/base/frame.hpp"

namespace fedscope::packet {

/// Which way a frame crossed the capturing interface, where the link layer says so
/// (Linux cooked captures): kIn = received, kOut = sent by the capturing host.
enum class Direction : std::uint8_t { kUnknown, kIn, kOut };

/// Where a frame was seen: the input file, the capture interface (pcapng) and, for Linux
/// cooked v2 captures, the kernel's interface index.
struct Vantage {
  std::uint16_t file = 0;
  std::int32_t interface = -1;  ///< pcapng interface within the file; -1 for classic pcap
  std::int32_t ifindex = -1;    ///< SLL2 interface index; -1 when the link layer doesn't say
  bool operator==(const Vantage&) const = default;
};

enum class Transport : std::uint8_t { kNone, kTcp, kUdp, kIcmp, kOther };

namespace tcp_flags {
inline constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10,
                              kUrg = 0x20;
}

struct TcpHeader {
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::uint8_t header_length = 0;  ///< bytes, from the data offset
};

/// The part of an ICMP error that names the packet it answers (RFC 792 / RFC 4443).
struct IcmpError {
  bool present = false;
  bool unreachable = false;  ///< destination unreachable (else time exceeded)
  std::uint8_t type = 0, code = 0;
  std::uint8_t inner_protocol = 0;
  Endpoint inner_src, inner_dst;
  std::uint32_t inner_tcp_seq = 0;
  bool inner_has_seq = false;
};

struct Packet {
  Timestamp time;
  std::uint64_t number = 0;  ///< frame number in its file, 1-based
  Vantage vantage;
  Direction direction = Direction::kUnknown;
  std::uint32_t wire_length = 0;

  std::uint8_t ip_version = 0;
  IpAddress src, dst;
  std::uint8_t ttl = 0;
  std::uint16_t ip_id = 0;
  std::uint8_t protocol = 0;
  bool reassembled = false;  ///< rebuilt from IPv4 fragments (time/number of the last one)

  Transport transport = Transport::kNone;
  std::uint16_t sport = 0, dport = 0;
  TcpHeader tcp;
  IcmpError icmp;

  /// Transport payload as captured (may be shorter than payload_length when cut by the
  /// snapshot length). Borrowed from the frame or the decoder's reassembly buffer.
  std::span<const std::uint8_t> payload;
  std::uint32_t payload_length = 0;  ///< payload bytes on the wire, from the IP lengths
  bool truncated = false;            ///< the frame was cut before the end of the IP packet
};

/// Decodes frames into packets. Holds the IPv4 fragment state, bounded in count and time.
class Decoder {
 public:
  enum class Result {
    kPacket,       ///< @c out holds an IP packet
    kHeld,         ///< an IPv4 fragment was stored, waiting for the rest
    kNotIp,        ///< a well-formed frame that carries no IP (ARP, LLDP, ...)
    kUndecodable,  ///< bad or unsupported headers; an anomaly was counted
  };

  static constexpr std::size_t kMaxFragmentTrains = 1024;
  static constexpr double kFragmentTimeoutSeconds = 30.0;

  explicit Decoder(AnomalyCounters& anomalies);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  Result decode(const Frame& frame, Packet& out);
  /// Drops fragment trains older than the timeout (counted "ip.fragments_incomplete").
  void expire(Timestamp now);
  /// At the end of input: whatever is still held is incomplete.
  void finish();

 private:
  Result decode_ip(std::span<const std::uint8_t> data, bool cut, Packet& out);
  Result decode_ipv4(std::span<const std::uint8_t> data, bool cut, Packet& out);
  Result decode_ipv6(std::span<const std::uint8_t> data, bool cut, Packet& out);
  Result decode_transport(std::span<const std::uint8_t> seg, std::uint32_t wire_len, bool cut,
                          Packet& out);
  void decode_icmp_inner(std::span<const std::uint8_t> inner, Packet& out);

  AnomalyCounters& anomalies_;
  struct Fragments;
  std::unique_ptr<Fragments> frags_;
};

/// A short name for a link type ("EN10MB", "LINUX_SLL2", ...), or "" when not decoded.
std::string_view linktype_supported(int dlt);

}  // namespace fedscope::packet
