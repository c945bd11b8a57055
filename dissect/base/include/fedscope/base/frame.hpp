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

/// A packet named as a person finds it in Wireshark: file, frame number, time. Evidence for
/// findings and the steps of a ladder point at packets this way.
struct PacketRef {
  std::uint16_t file = 0;
  std::uint64_t number = 0;
  Timestamp time;
};

}  // namespace fedscope
