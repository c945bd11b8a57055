#pragma once
/// @file
/// Sans-IO DNS message decoder (RFC 1035, RFC 2782 SRV, RFC 3596 AAAA). Plain bytes in,
/// a typed Message out; no I/O, no exceptions, no libtins. Every defect in the input bumps a
/// named counter in the caller's AnomalyCounters (see the kAnomaly* names below).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fedscope/base/address.hpp"
#include "fedscope/base/anomaly.hpp"

namespace fedscope::dns {

/// Record types fedscope decodes the data of; others keep their raw length only.
enum RrType : std::uint16_t {
  kA = 1,
  kNs = 2,
  kCname = 5,
  kSoa = 6,
  kPtr = 12,
  kMx = 15,
  kTxt = 16,
  kAaaa = 28,
  kSrv = 33,
  kOpt = 41,
  kAny = 255,
};

/// Response codes (RFC 1035 §4.1.1, RFC 6895).
enum Rcode : std::uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
};

std::string type_name(std::uint16_t type);   ///< "SRV", "A", ... or "TYPE65"
std::string rcode_name(std::uint8_t rcode);  ///< "NOERROR", "NXDOMAIN", ... or "RCODE11"

struct Question {
  std::string name;  ///< lower-case, no trailing dot; the root is "."
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
};

struct SrvData {
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
  std::uint16_t port = 0;
  std::string target;  ///< "." means "service not available here" (RFC 2782)
};

struct SoaData {
  std::string mname;
  std::string rname;
  std::uint32_t serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0;
};

/// Decoded RDATA: address (A/AAAA), a name (CNAME/NS/PTR), SRV, SOA, or not decoded.
using RData = std::variant<std::monostate, IpAddress, std::string, SrvData, SoaData>;

struct ResourceRecord {
  std::string name;  ///< owner name, lower-case, no trailing dot
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
  std::uint32_t ttl = 0;
  std::uint16_t rdlength = 0;
  RData data;
};

struct Message {
  std::uint16_t id = 0;
  bool qr = false;  ///< true for a response
  std::uint8_t opcode = 0;
  bool aa = false, tc = false, rd = false, ra = false;
  std::uint8_t rcode = 0;  ///< header RCODE (the 4 low bits; EDNS extension not applied)
  std::vector<Question> questions;
  std::vector<ResourceRecord> answers;
  std::vector<ResourceRecord> authority;
  std::vector<ResourceRecord> additional;
};

enum class DecodeStatus {
  kOk,         ///< the whole message decoded
  kPartial,    ///< header and questions decoded, a later section was cut or bad
  kMalformed,  ///< not even the header and questions could be decoded
};

/// Limits on untrusted dimensions.
inline constexpr std::size_t kMaxNameLength = 255;  ///< RFC 1035 §2.3.4, wire form
inline constexpr int kMaxCompressionJumps = 64;     ///< pointer hops within one name
inline constexpr std::size_t kMaxRecordsPerSection = 256;

/// Anomaly counter names.
inline constexpr std::string_view kAnomalyTruncated = "dns.truncated";
inline constexpr std::string_view kAnomalyCompressionLoop = "dns.compression_loop";
inline constexpr std::string_view kAnomalyBadPointer = "dns.bad_pointer";
inline constexpr std::string_view kAnomalyBadLabel = "dns.bad_label";
inline constexpr std::string_view kAnomalyNameTooLong = "dns.name_too_long";
inline constexpr std::string_view kAnomalyBadRdata = "dns.bad_rdata";
inline constexpr std::string_view kAnomalyTooManyRecords = "dns.too_many_records";
inline constexpr std::string_view kAnomalyTrailingBytes = "dns.trailing_bytes";

/// Decodes one DNS message from @p wire (borrowed for the call only; @p out owns copies).
/// Counts every defect in @p anomalies. Never throws.
DecodeStatus decode_message(std::span<const std::uint8_t> wire, Message& out,
                            AnomalyCounters& anomalies);

/// DNS over TCP (RFC 7766): splits a reassembled byte stream into messages framed by a
/// two-byte length. Sans-IO: feed any split of the stream; complete messages come out of the
/// callback in order, each span valid only during the call.
class TcpFramer {
 public:
  /// Consumes all of @p bytes (buffering at most one message, <= 65535 + 2 bytes).
  /// Returns the number of complete messages delivered.
  template <typename OnMessage>
  std::size_t feed(std::span<const std::uint8_t> bytes, OnMessage&& on_message);

  /// Bytes were lost in the stream: the partial message in hand is dropped and framing
  /// stops (a length prefix cannot be found again); counted as "dns.tcp_gap".
  void gap(AnomalyCounters& anomalies);
  /// End of stream; a partial message in hand is counted as "dns.tcp_truncated".
  void end(AnomalyCounters& anomalies);

  bool lost_sync() const { return lost_sync_; }

 private:
  std::vector<std::uint8_t> buf_;
  bool lost_sync_ = false;
};

template <typename OnMessage>
std::size_t TcpFramer::feed(std::span<const std::uint8_t> bytes, OnMessage&& on_message) {
  std::size_t delivered = 0;
  if (lost_sync_) return 0;
  while (true) {
    if (buf_.size() < 2) {
      if (bytes.empty()) break;
      std::size_t take = std::min<std::size_t>(2 - buf_.size(), bytes.size());
      buf_.insert(buf_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
      bytes = bytes.subspan(take);
      continue;
    }
    std::size_t want = 2 + ((std::size_t{buf_[0]} << 8) | buf_[1]);
    std::size_t take = std::min(want - buf_.size(), bytes.size());
    buf_.insert(buf_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
    bytes = bytes.subspan(take);
    // Checked even when the input is used up: a zero-length message completes with its prefix.
    if (buf_.size() < want) break;
    on_message(std::span<const std::uint8_t>(buf_.data() + 2, want - 2));
    ++delivered;
    buf_.clear();
  }
  return delivered;
}

}  // namespace fedscope::dns
