// fedscope's own pcapng reader (draft-ietf-opsawg-pcapng). libpcap 1.10 refuses files whose
// interfaces differ in link type or snaplen and never says which interface a packet came from;
// a firewall's `dumpcap -i outside -i inside` file needs both. No exceptions on the data path:
// everything wrong with the input is a counted anomaly or a "damaged" stop.
//
// Reading is a loop over whole blocks from the file's Input (buffered, maybe gzip-decoded): one
// block at a time goes into one reused buffer (frames borrow it until the next call), so memory
// is bounded by the largest block accepted (kPcapngMaxBlockLength) and never by the file.

#include <pcap/dlt.h>  // DLT_RAW, DLT_LOOP, ...: the values differ between platforms

#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "fedscope/capture/pcapng.hpp"
#include "source.hpp"

namespace fedscope::capture {

namespace {

// The LINKTYPE_* values that are not the platform's DLT_* value (libpcap's linktype_to_dlt
// table, reduced to what can matter here). Every other value is the same in both spaces.
struct LinktypeDlt {
  std::uint32_t linktype;
  int dlt;
};
constexpr LinktypeDlt kLinktypeDlt[] = {
    {100, DLT_ATM_RFC1483},  // LINKTYPE_ATM_RFC1483
    {101, DLT_RAW},          // LINKTYPE_RAW: 12 on Linux, 14 on BSD/OS
    {102, DLT_SLIP_BSDOS},   // LINKTYPE_SLIP_BSDOS
    {103, DLT_PPP_BSDOS},    // LINKTYPE_PPP_BSDOS
    {106, DLT_ATM_CLIP},     // LINKTYPE_ATM_CLIP
    {108, DLT_LOOP},         // LINKTYPE_LOOP: 108 on Linux, 12 on OpenBSD
};

}  // namespace

int dlt_from_linktype(std::uint32_t linktype) {
  for (const auto& m : kLinktypeDlt)
    if (m.linktype == linktype) return m.dlt;
  return static_cast<int>(linktype);
}

int linktype_from_dlt(int dlt) {
  // DLT_RAW of the other platforms (14 on BSD/OS) is raw IP as well; nothing else is 14.
  if (dlt == 12 || dlt == 14) return 101;
  for (const auto& m : kLinktypeDlt)
    if (m.dlt == dlt) return static_cast<int>(m.linktype);
  return dlt;
}

std::optional<Timestamp> pcapng_timestamp(std::uint64_t units, std::uint8_t tsresol,
                                          std::int64_t tsoffset_seconds) {
  __extension__ typedef unsigned __int128 U128;
  __extension__ typedef __int128 S128;
  constexpr std::uint64_t kNsPerSecond = 1'000'000'000;
  const unsigned n = tsresol & 0x7fu;
  U128 ns = 0;
  if ((tsresol & 0x80u) != 0) {
    // 2^-n s: units * 10^9 / 2^n; units * 10^9 < 2^94, and n <= 127.
    ns = (static_cast<U128>(units) * kNsPerSecond) >> n;
  } else {
    // 10^-n s: scale by 10^|9 - n|. Beyond 10^19 (n > 28) every 64-bit value is < 1 ns.
    const unsigned e = n <= 9 ? 9 - n : n - 9;
    std::uint64_t scale = 1;
    for (unsigned i = 0; i < e && i < 20; ++i)
      scale *= 10;
    if (n <= 9)
      ns = static_cast<U128>(units) * scale;
    else
      ns = e > 19 ? 0 : units / scale;
  }
  const S128 total =
      static_cast<S128>(ns) + static_cast<S128>(tsoffset_seconds) * static_cast<S128>(kNsPerSecond);
  if (total > std::numeric_limits<std::int64_t>::max() ||
      total < std::numeric_limits<std::int64_t>::min())
    return std::nullopt;
  return Timestamp{static_cast<std::int64_t>(total)};
}

namespace detail {
namespace {

constexpr std::uint32_t kBlockShb = 0x0A0D0D0A;  // Section Header Block (a palindrome)
constexpr std::uint32_t kBlockIdb = 1;           // Interface Description Block
constexpr std::uint32_t kBlockPb = 2;            // Packet Block (obsolete)
constexpr std::uint32_t kBlockSpb = 3;           // Simple Packet Block
constexpr std::uint32_t kBlockIsb = 5;           // Interface Statistics Block
constexpr std::uint32_t kBlockEpb = 6;           // Enhanced Packet Block
constexpr std::uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr std::uint32_t kMinBlockLength = 12;    // type, length, trailing length
constexpr std::uint32_t kMinShbLength = 28;      // + magic, version, section length
constexpr std::size_t kPacketHeaderLength = 20;  // EPB and PB: fields before the data
constexpr std::size_t kIdbHeaderLength = 8;      // link type, reserved, snaplen
constexpr std::size_t kIsbHeaderLength = 12;     // interface id, timestamp (high, low)

constexpr std::uint16_t kOptEnd = 0;
constexpr std::uint16_t kOptIfName = 2;
constexpr std::uint16_t kOptIfDescription = 3;
constexpr std::uint16_t kOptIfTsresol = 9;
constexpr std::uint16_t kOptIfTsoffset = 14;
constexpr std::uint16_t kOptIsbStarttime = 2;
constexpr std::uint16_t kOptIsbEndtime = 3;
constexpr std::uint16_t kOptIsbIfrecv = 4;
constexpr std::uint16_t kOptIsbIfdrop = 5;
constexpr std::uint16_t kOptIsbOsdrop = 7;

/// Interfaces per file (all sections); a file describing more is treated as damaged, which
/// bounds FileInfo::interfaces.
constexpr std::size_t kMaxInterfaces = 4096;
/// if_name / if_description are kept up to this many bytes.
constexpr std::size_t kMaxInterfaceText = 256;

constexpr std::string_view kAnomalyBadInterface = "capture.pcapng_bad_interface";
constexpr std::string_view kAnomalyBadOption = "capture.pcapng_bad_option";
constexpr std::string_view kAnomalyBadTimestamp = "capture.pcapng_bad_timestamp";
constexpr std::string_view kAnomalyBadOriginalLength = "capture.pcapng_bad_original_length";
constexpr std::string_view kAnomalyBadIsb = "capture.pcapng_bad_isb";
constexpr std::string_view kAnomalyIsbBadInterface = "capture.pcapng_isb_bad_interface";

std::string hex32(std::uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(v));
  return buf;
}

class PcapngSource final : public Source {
 public:
  explicit PcapngSource(Input& input) : input_(&input) {}
  ~PcapngSource() override = default;
  PcapngSource(const PcapngSource&) = delete;
  PcapngSource& operator=(const PcapngSource&) = delete;

  bool start(FileInfo& info, std::string& error);
  bool next(Frame& out, FileInfo& info, AnomalyCounters& anomalies) override;

 private:
  enum class Got { kBlock, kEnd, kDamaged };
  enum class Step { kFrame, kSkip, kDamaged };
  struct Interface {
    int dlt = 0;
    std::uint32_t snaplen = 0;
    std::uint8_t tsresol = kPcapngDefaultTsresol;
    std::int64_t tsoffset = 0;
    std::int32_t id = 0;  // index in FileInfo::interfaces
  };

  Got read_block(FileInfo& info);
  std::size_t read_some(std::uint8_t* dst, std::size_t n);
  bool damaged(FileInfo& info, const std::string& what);
  bool cut(FileInfo& info);
  bool start_section(FileInfo& info);
  bool add_interface(FileInfo& info, AnomalyCounters& anomalies);
  Step packet(Frame& out, FileInfo& info, AnomalyCounters& anomalies);
  void statistics(FileInfo& info, AnomalyCounters& anomalies);
  void close() { input_ = nullptr; }

  std::uint16_t u16(std::size_t off) const {
    std::uint16_t v;
    std::memcpy(&v, body_.data() + off, sizeof v);
    return swap_ ? __builtin_bswap16(v) : v;
  }
  std::uint32_t u32(std::size_t off) const {
    std::uint32_t v;
    std::memcpy(&v, body_.data() + off, sizeof v);
    return swap_ ? __builtin_bswap32(v) : v;
  }
  std::uint64_t u64(std::size_t off) const {
    std::uint64_t v;
    std::memcpy(&v, body_.data() + off, sizeof v);
    return swap_ ? __builtin_bswap64(v) : v;
  }

  Input* input_ = nullptr;          ///< borrowed from FileReader; null once reading has stopped
  std::vector<std::uint8_t> body_;  ///< the current block between its lengths; frames borrow it
  std::uint32_t type_ = 0;          ///< the current block's type
  std::uint64_t block_offset_ = 0;  ///< where the current block starts in the file
  std::uint64_t offset_ = 0;        ///< bytes consumed (decoded bytes for gzip)
  bool swap_ = false;               ///< the section's byte order is not the host's
  bool done_ = false;
  bool pending_ = false;  ///< start() read a block that next() has to handle first
  bool in_section_ = false;
  std::uint32_t section_ = 0;
  std::vector<Interface> interfaces_;  ///< of the current section, by pcapng interface id
  Timestamp last_time_;                ///< of the previous packet (for Simple Packet Blocks)
  AnomalyCounters deferred_;           ///< met in start(), handed over by the first next()
};

std::size_t PcapngSource::read_some(std::uint8_t* dst, std::size_t n) {
  if (!input_) return 0;
  const std::size_t got = input_->read(dst, n);
  offset_ += got;
  return got;
}

bool PcapngSource::damaged(FileInfo& info, const std::string& what) {
  info.complete = false;
  info.error = "pcapng block at offset " + std::to_string(block_offset_) + ": " + what;
  done_ = true;
  close();
  return false;
}

bool PcapngSource::cut(FileInfo& info) {
  // The input's own failure (read error, gzip cut short or corrupt) is the better reason.
  if (input_ && !input_->error().empty()) return damaged(info, input_->error());
  return damaged(info, "the file ends inside the block (cut short)");
}

PcapngSource::Got PcapngSource::read_block(FileInfo& info) {
  block_offset_ = offset_;
  std::uint8_t head[12];
  std::size_t got = read_some(head, 8);
  if (got == 0 && input_ && input_->error().empty()) return Got::kEnd;
  if (got < 8) {
    cut(info);
    return Got::kDamaged;
  }
  std::uint32_t raw_type, raw_length;
  std::memcpy(&raw_type, head, 4);
  std::memcpy(&raw_length, head + 4, 4);
  const bool shb = raw_type == kBlockShb;  // the same in either byte order
  if (shb) {
    // A new section: its byte-order magic decides how everything in it is read, this
    // block's own length included.
    if (read_some(head + 8, 4) < 4) {
      cut(info);
      return Got::kDamaged;
    }
    std::uint32_t magic;
    std::memcpy(&magic, head + 8, 4);
    if (magic == kByteOrderMagic) {
      swap_ = false;
    } else if (__builtin_bswap32(magic) == kByteOrderMagic) {
      swap_ = true;
    } else {
      damaged(info, "Section Header Block with a bad byte-order magic");
      return Got::kDamaged;
    }
  }
  type_ = swap_ ? __builtin_bswap32(raw_type) : raw_type;
  const std::uint32_t length = swap_ ? __builtin_bswap32(raw_length) : raw_length;
  const std::uint32_t min = shb ? kMinShbLength : kMinBlockLength;
  if (length < min || length % 4 != 0 || length > kPcapngMaxBlockLength) {
    damaged(info, "block type " + hex32(type_) + " has a bad total length " +
                      std::to_string(length) + " (must be a multiple of 4, at least " +
                      std::to_string(min) + ", at most " + std::to_string(kPcapngMaxBlockLength) +
                      ")");
    return Got::kDamaged;
  }
  body_.resize(length - kMinBlockLength);
  std::size_t have = 0;
  if (shb) {
    std::memcpy(body_.data(), head + 8, 4);
    have = 4;
  }
  const std::size_t want = body_.size() - have;
  if ((want > 0 && read_some(body_.data() + have, want) < want) || read_some(head, 4) < 4) {
    cut(info);
    return Got::kDamaged;
  }
  std::uint32_t trailer;
  std::memcpy(&trailer, head, 4);
  if (swap_) trailer = __builtin_bswap32(trailer);
  if (trailer != length) {
    damaged(info, "trailing block length " + std::to_string(trailer) + " differs from " +
                      std::to_string(length));
    return Got::kDamaged;
  }
  return Got::kBlock;
}

bool PcapngSource::start_section(FileInfo& info) {
  // body_: byte-order magic (4), major (2), minor (2), section length (8), options.
  const std::uint16_t major = u16(4);
  if (major != 1)
    return damaged(
        info, "unsupported pcapng version " + std::to_string(major) + "." + std::to_string(u16(6)));
  if (in_section_) ++section_;
  in_section_ = true;
  interfaces_.clear();  // interface ids start again at 0 in every section
  return true;
}

bool PcapngSource::add_interface(FileInfo& info, AnomalyCounters& anomalies) {
  if (body_.size() < kIdbHeaderLength)
    return damaged(
        info, "Interface Description Block too short (" + std::to_string(body_.size()) + " bytes)");
  if (info.interfaces.size() >= kMaxInterfaces)
    return damaged(info, "more than " + std::to_string(kMaxInterfaces) + " interfaces");
  Interface iface;
  iface.dlt = dlt_from_linktype(u16(0));
  iface.snaplen = u32(4);
  iface.id = static_cast<std::int32_t>(info.interfaces.size());
  InterfaceInfo ii;
  ii.id = iface.id;
  ii.section = section_;
  ii.linktype = iface.dlt;
  ii.linktype_name = dlt_name(iface.dlt);
  ii.snaplen = iface.snaplen;

  // Options: code (2), length (2), value padded to 4 bytes; opt_endofopt or the end stops.
  auto text = [](const std::uint8_t* p, std::size_t n) {
    std::string s(reinterpret_cast<const char*>(p), n < kMaxInterfaceText ? n : kMaxInterfaceText);
    while (!s.empty() && s.back() == '\0')  // some writers count a terminating NUL
      s.pop_back();
    return s;
  };
  std::size_t off = kIdbHeaderLength;
  while (body_.size() - off >= 4) {
    const std::uint16_t code = u16(off);
    const std::uint16_t len = u16(off + 2);
    if (code == kOptEnd) break;
    if (len > body_.size() - off - 4) {
      anomalies.add(kAnomalyBadOption);
      break;
    }
    const std::uint8_t* value = body_.data() + off + 4;
    switch (code) {
      case kOptIfName:
        ii.name = text(value, len);
        break;
      case kOptIfDescription:
        ii.description = text(value, len);
        break;
      case kOptIfTsresol:
        if (len == 1)
          iface.tsresol = value[0];
        else
          anomalies.add(kAnomalyBadOption);
        break;
      case kOptIfTsoffset:
        if (len == 8)
          iface.tsoffset = static_cast<std::int64_t>(u64(off + 4));
        else
          anomalies.add(kAnomalyBadOption);
        break;
      default:
        break;
    }
    const std::size_t step = 4 + ((static_cast<std::size_t>(len) + 3) & ~std::size_t{3});
    if (step >= body_.size() - off) break;  // the last option may omit its padding
    off += step;
  }

  interfaces_.push_back(iface);
  info.interfaces.push_back(std::move(ii));
  if (info.interfaces.size() == 1) {
    info.linktype = iface.dlt;
    info.snaplen = iface.snaplen;
    info.linktype_name = info.interfaces.front().linktype_name;
  } else {
    const std::string& name = info.interfaces.back().linktype_name;
    bool seen = false;
    for (std::size_t i = 0; i + 1 < info.interfaces.size() && !seen; ++i)
      seen = info.interfaces[i].linktype_name == name;
    if (!seen) info.linktype_name += "," + name;
  }
  return true;
}

PcapngSource::Step PcapngSource::packet(Frame& out, FileInfo& info, AnomalyCounters& anomalies) {
  std::uint32_t if_id = 0;
  std::uint64_t units = 0;
  std::uint32_t caplen = 0, origlen = 0;
  std::size_t data_off = 0;
  const bool simple = type_ == kBlockSpb;
  if (simple) {
    // Simple Packet Block: interface 0, original length, the data; the captured length is
    // the original length cut to the interface's snaplen; no timestamp.
    if (body_.size() < 4) {
      damaged(info, "Simple Packet Block too short");
      return Step::kDamaged;
    }
    origlen = u32(0);
    data_off = 4;
    if (interfaces_.empty()) {
      anomalies.add(kAnomalyBadInterface);
      return Step::kSkip;
    }
    const std::uint32_t snaplen = interfaces_.front().snaplen;
    caplen = snaplen != 0 && snaplen < origlen ? snaplen : origlen;
  } else {
    if (body_.size() < kPacketHeaderLength) {
      damaged(info, std::string(type_ == kBlockEpb ? "Enhanced " : "") + "Packet Block too short");
      return Step::kDamaged;
    }
    // EPB: interface id (4); obsolete PB: interface id (2) + drops count (2).
    if_id = type_ == kBlockEpb ? u32(0) : u16(0);
    units = (static_cast<std::uint64_t>(u32(4)) << 32) | u32(8);
    caplen = u32(12);
    origlen = u32(16);
    data_off = kPacketHeaderLength;
  }
  if (caplen > body_.size() - data_off) {
    damaged(info, "captured length " + std::to_string(caplen) + " exceeds the block's " +
                      std::to_string(body_.size() - data_off) + " data bytes");
    return Step::kDamaged;
  }
  if (if_id >= interfaces_.size()) {
    anomalies.add(kAnomalyBadInterface);
    return Step::kSkip;
  }
  const Interface& iface = interfaces_[if_id];
  if (simple) {
    out.time = last_time_;
  } else if (auto t = pcapng_timestamp(units, iface.tsresol, iface.tsoffset)) {
    out.time = *t;
  } else {
    anomalies.add(kAnomalyBadTimestamp);
    out.time = last_time_;
  }
  if (origlen < caplen) {
    anomalies.add(kAnomalyBadOriginalLength);
    origlen = caplen;
  }
  last_time_ = out.time;
  out.linktype = iface.dlt;
  out.interface = iface.id;
  out.wire_length = origlen;
  out.data = std::span<const std::uint8_t>(body_.data() + data_off, caplen);
  ++info.interfaces[static_cast<std::size_t>(iface.id)].packets;
  return Step::kFrame;
}

void PcapngSource::statistics(FileInfo& info, AnomalyCounters& anomalies) {
  // Interface Statistics Block: interface id (4), timestamp (8), options. Never damage: a bad
  // ISB only loses its statistics.
  if (body_.size() < kIsbHeaderLength) {
    anomalies.add(kAnomalyBadIsb);
    return;
  }
  const std::uint32_t if_id = u32(0);
  if (if_id >= interfaces_.size()) {
    anomalies.add(kAnomalyIsbBadInterface);
    return;
  }
  const Interface& iface = interfaces_[if_id];
  InterfaceInfo& ii = info.interfaces[static_cast<std::size_t>(iface.id)];
  // The last ISB of an interface describes it: earlier values are replaced, not merged.
  ii.isb_start.reset();
  ii.isb_end.reset();
  ii.isb_received.reset();
  ii.isb_if_dropped.reset();
  ii.isb_os_dropped.reset();
  std::size_t off = kIsbHeaderLength;
  while (body_.size() - off >= 4) {
    const std::uint16_t code = u16(off);
    const std::uint16_t len = u16(off + 2);
    if (code == kOptEnd) break;
    if (len > body_.size() - off - 4) {
      anomalies.add(kAnomalyBadOption);
      break;
    }
    const std::size_t value = off + 4;
    switch (code) {
      case kOptIsbStarttime:
      case kOptIsbEndtime: {
        if (len != 8) {
          anomalies.add(kAnomalyBadOption);
          break;
        }
        // Like the EPB's: high 32 bits first, in the interface's resolution.
        const std::uint64_t units = (static_cast<std::uint64_t>(u32(value)) << 32) | u32(value + 4);
        auto t = pcapng_timestamp(units, iface.tsresol, iface.tsoffset);
        if (!t)
          anomalies.add(kAnomalyBadTimestamp);
        else
          (code == kOptIsbStarttime ? ii.isb_start : ii.isb_end) = *t;
        break;
      }
      case kOptIsbIfrecv:
      case kOptIsbIfdrop:
      case kOptIsbOsdrop:
        if (len != 8) {
          anomalies.add(kAnomalyBadOption);
          break;
        }
        (code == kOptIsbIfrecv   ? ii.isb_received
         : code == kOptIsbIfdrop ? ii.isb_if_dropped
                                 : ii.isb_os_dropped) = u64(value);
        break;
      default:
        break;
    }
    const std::size_t step = 4 + ((static_cast<std::size_t>(len) + 3) & ~std::size_t{3});
    if (step >= body_.size() - off) break;  // the last option may omit its padding
    off += step;
  }
  info.end_time.reset();
  for (const InterfaceInfo& i : info.interfaces)
    if (i.isb_end && (!info.end_time || *i.isb_end > *info.end_time)) info.end_time = i.isb_end;
}

bool PcapngSource::start(FileInfo& info, std::string& error) {
  Got got = read_block(info);
  if (got != Got::kBlock || type_ != kBlockShb || !start_section(info)) {
    error = got == Got::kEnd ? std::string("empty file") : info.error;
    if (error.empty()) error = "the file does not start with a Section Header Block";
    info.complete = true;
    info.error.clear();
    return false;
  }
  // Take the Interface Description Blocks that follow, so that info() describes the file
  // before the first frame (as libpcap's open does); stop at the first other block. A file
  // being followed may have no more yet: next() takes the IDBs still to come.
  while (!done_ && input_->data_ready()) {
    got = read_block(info);
    if (got == Got::kEnd) {
      done_ = true;
      close();
    } else if (got == Got::kBlock) {
      if (type_ != kBlockIdb) {
        pending_ = true;
        break;
      }
      add_interface(info, deferred_);
    }
  }
  return true;
}

bool PcapngSource::next(Frame& out, FileInfo& info, AnomalyCounters& anomalies) {
  if (deferred_.total() != 0) {
    anomalies.merge(deferred_);
    deferred_ = AnomalyCounters{};
  }
  while (!done_) {
    if (pending_) {
      pending_ = false;
    } else {
      Got got = read_block(info);
      if (got != Got::kBlock) {
        done_ = true;
        close();
        return false;
      }
    }
    switch (type_) {
      case kBlockShb:
        if (!start_section(info)) return false;
        break;
      case kBlockIdb:
        if (!add_interface(info, anomalies)) return false;
        break;
      case kBlockEpb:
      case kBlockPb:
      case kBlockSpb: {
        Step step = packet(out, info, anomalies);
        if (step == Step::kFrame) return true;
        if (step == Step::kDamaged) return false;
        break;
      }
      case kBlockIsb:
        statistics(info, anomalies);
        break;
      default:
        // Name Resolution, Decryption Secrets, custom and unknown
        // blocks: their length was checked, their content is not needed.
        break;
    }
  }
  return false;
}

}  // namespace

std::unique_ptr<Source> open_pcapng_source(Input& input, FileInfo& info, std::string& error) {
  auto source = std::make_unique<PcapngSource>(input);
  if (!source->start(info, error)) return nullptr;
  return source;
}

}  // namespace detail
}  // namespace fedscope::capture
