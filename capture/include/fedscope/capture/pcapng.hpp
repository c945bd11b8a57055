#pragma once
/// @file
/// Small pure helpers of the pcapng reader (draft-ietf-opsawg-pcapng), public so that they can
/// be tested on their own. They take values, not buffers, and own nothing.

#include <cstdint>
#include <optional>

#include "fedscope/base/time.hpp"

namespace fedscope::capture {

/// Largest pcapng block the reader accepts (16 MiB). A block claiming more is treated as
/// damaged: no capture fedscope reads has packets that big, and it bounds the reader's memory.
inline constexpr std::uint32_t kPcapngMaxBlockLength = 16u * 1024u * 1024u;

/// if_tsresol when an interface does not give one: 10^-6 s (microseconds).
inline constexpr std::uint8_t kPcapngDefaultTsresol = 6;

/// The DLT_* value libpcap's pcap_datalink() reports for a LINKTYPE_* value found in a file.
/// They are equal except for a few historical ones, e.g. LINKTYPE_RAW (101) is DLT_RAW (12 on
/// Linux, 14 on BSD/OS) and LINKTYPE_LOOP (108) is DLT_LOOP (108, but 12 on OpenBSD).
int dlt_from_linktype(std::uint32_t linktype);

/// The LINKTYPE_* value a file stores for a DLT_* value libpcap reports (what PcapngWriter
/// writes): the reverse of dlt_from_linktype(), e.g. DLT_RAW (12, or 14 on BSD/OS) is
/// LINKTYPE_RAW (101); every other value is the same in both spaces.
int linktype_from_dlt(int dlt);

/// Converts a pcapng timestamp of @p units (the 64-bit EPB value) at resolution @p tsresol
/// (if_tsresol: high bit clear = 10^-n s, set = 2^-n s, n = low 7 bits) plus
/// @p tsoffset_seconds (if_tsoffset) to a Timestamp. Exact (no floating point, no 64-bit
/// overflow; sub-nanosecond parts are truncated). Returns nullopt when the result does not fit
/// the Timestamp range (about 1677..2262).
std::optional<Timestamp> pcapng_timestamp(std::uint64_t units, std::uint8_t tsresol,
                                          std::int64_t tsoffset_seconds);

}  // namespace fedscope::capture
