#pragma once
/// @file
/// A captured frame as the capture layer hands it to the engine.

#include <cstdint>
#include <span>

#include "fedscope/base/time.hpp"

namespace fedscope {

/// One link-layer frame. @c data is borrowed: it stays valid only until the next frame is
/// read from the same source; consumers copy what they keep.
struct Frame {
  Timestamp time;
  std::uint64_t number = 0;  ///< 1-based per file, as Wireshark counts.
  std::uint16_t file = 0;    ///< index of the input file (0-based).
  int linktype = 0;          ///< DLT_* value as libpcap reports it (per interface in pcapng).
  /// pcapng interface id within the file (index into capture::FileInfo::interfaces, counted
  /// across sections); -1 for classic pcap.
  std::int32_t interface = -1;
  std::uint32_t wire_length = 0;
  std::span<const std::uint8_t> data;  ///< captured bytes (caplen = data.size()).

  bool truncated() const { return data.size() < wire_length; }
};

/// Where a fact was seen, whatever the source: a captured packet (file index, 1-based frame
/// number as Wireshark counts) or a position in a relayed connection (connection id, direction,
/// byte offset in that direction's stream). Both carry the time. Evidence of findings and the
/// steps of a ladder point at facts this way; the session model and the judges never assume
/// which source it is. Plain value, no ownership.
struct EvidenceRef {
  enum class Source : std::uint8_t {
    kPacket,  ///< file, number
    kStream,  ///< connection, from_orig, offset()
  };
  // 24 bytes, as small as a packet reference alone: facts keep many of these.
  std::uint16_t file = 0;  ///< kPacket: index of the input file
  Source source = Source::kPacket;
  bool from_orig = true;         ///< kStream: the connection's originator sent it
  std::uint32_t connection = 0;  ///< kStream: the relay's connection id
  std::uint64_t number = 0;      ///< kPacket: 1-based frame number; kStream: the byte offset
  Timestamp time;

  constexpr EvidenceRef() = default;
  /// A captured packet.
  constexpr EvidenceRef(std::uint16_t f, std::uint64_t n, Timestamp t)
      : file(f), number(n), time(t) {}
  static constexpr EvidenceRef packet(std::uint16_t file, std::uint64_t number, Timestamp time) {
    return EvidenceRef{file, number, time};
  }
  /// Byte @p offset of one direction of relayed connection @p connection.
  static constexpr EvidenceRef stream(std::uint32_t connection, bool from_orig,
                                      std::uint64_t offset, Timestamp time) {
    EvidenceRef r;
    r.source = Source::kStream;
    r.connection = connection;
    r.from_orig = from_orig;
    r.number = offset;
    r.time = time;
    return r;
  }
  constexpr bool is_packet() const { return source == Source::kPacket; }
  /// kStream: the byte offset in that direction's stream.
  constexpr std::uint64_t offset() const { return number; }
  friend bool operator==(const EvidenceRef&, const EvidenceRef&) = default;
};
static_assert(sizeof(EvidenceRef) == 24);

/// The capture's name for an EvidenceRef (always Source::kPacket there).
using PacketRef = EvidenceRef;

}  // namespace fedscope
