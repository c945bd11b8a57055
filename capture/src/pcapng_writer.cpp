// pcapng writer for live capture (draft-ietf-opsawg-pcapng): SHB, one IDB per device, EPBs
// with nanosecond timestamps, ISBs when a file is closed. Blocks are built in host byte order
// (the SHB's byte-order magic says which) into one buffer that goes to the file with write(2)
// when it is full, so a failing disk is seen as an errno, never as an exception.

#include "fedscope/capture/pcapng_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "fedscope/capture/pcapng.hpp"

namespace fedscope::capture {

namespace {

constexpr std::uint32_t kBlockShb = 0x0A0D0D0A;
constexpr std::uint32_t kBlockIdb = 1;
constexpr std::uint32_t kBlockIsb = 5;
constexpr std::uint32_t kBlockEpb = 6;
constexpr std::uint32_t kByteOrderMagic = 0x1A2B3C4D;

constexpr std::uint16_t kOptEnd = 0;
constexpr std::uint16_t kOptShbUserappl = 4;
constexpr std::uint16_t kOptIfName = 2;
constexpr std::uint16_t kOptIfDescription = 3;
constexpr std::uint16_t kOptIfTsresol = 9;
constexpr std::uint16_t kOptIsbStarttime = 2;
constexpr std::uint16_t kOptIsbEndtime = 3;
constexpr std::uint16_t kOptIsbIfrecv = 4;
constexpr std::uint16_t kOptIsbIfdrop = 5;
constexpr std::uint16_t kOptIsbOsdrop = 7;
constexpr std::uint16_t kOptIsbUsrdeliv = 8;

/// if_tsresol 9: timestamps in nanoseconds, as Timestamp holds them.
constexpr std::uint8_t kTsresolNano = 9;
/// Bytes collected before a write(2): large enough that a busy capture makes few system calls.
constexpr std::size_t kBufferBytes = 256 * 1024;
/// Largest ISB this writer makes: header and trailer 12, interface id and timestamp 12, two
/// timestamps and four counters of 12 each, opt_endofopt 4. Rotation keeps room for one per
/// interface so that a closed file stays within the size limit.
constexpr std::uint64_t kMaxIsbBytes = 12 + 12 + 6 * 12 + 4;
/// An option's text is cut here (a pcapng option length is 16 bits).
constexpr std::size_t kMaxOptionText = 1024;

std::uint64_t pad4(std::uint64_t n) {
  return (n + 3) & ~std::uint64_t{3};
}

std::uint64_t ns_units(Timestamp t) {
  // Times before 1970 cannot be written with an unsigned 64-bit count; none is captured live.
  return t.ns < 0 ? 0 : static_cast<std::uint64_t>(t.ns);
}

/// Builds one block in @p scratch (reused, so a packet costs no allocation): append the
/// body, then finish() writes the lengths.
class Block {
 public:
  Block(std::uint32_t type, std::vector<std::uint8_t>& scratch) : bytes_(scratch) {
    bytes_.clear();
    u32(type);
    u32(0);  // total length, set by finish()
  }
  void u16(std::uint16_t v) { raw(&v, sizeof v); }
  void u32(std::uint32_t v) { raw(&v, sizeof v); }
  void u64(std::uint64_t v) { raw(&v, sizeof v); }
  /// A 64-bit timestamp as EPB and ISB store it: high 32 bits first.
  void ts(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  void data(const void* p, std::size_t n) {
    raw(p, n);
    pad();
  }
  void option(std::uint16_t code, const void* p, std::size_t n) {
    u16(code);
    u16(static_cast<std::uint16_t>(n));
    data(p, n);
    options_ = true;
  }
  void option_text(std::uint16_t code, std::string_view s) {
    if (!s.empty()) option(code, s.data(), s.size() < kMaxOptionText ? s.size() : kMaxOptionText);
  }
  void option_u64(std::uint16_t code, std::uint64_t v) { option(code, &v, sizeof v); }
  void option_ts(std::uint16_t code, std::uint64_t v) {
    const std::uint32_t parts[2] = {static_cast<std::uint32_t>(v >> 32),
                                    static_cast<std::uint32_t>(v)};
    option(code, parts, sizeof parts);
  }
  const std::vector<std::uint8_t>& finish() {
    if (options_) {
      u16(kOptEnd);
      u16(0);
    }
    const auto total = static_cast<std::uint32_t>(bytes_.size() + 4);
    u32(total);
    std::memcpy(bytes_.data() + 4, &total, sizeof total);
    return bytes_;
  }

 private:
  void raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  void pad() {
    while (bytes_.size() % 4 != 0)
      bytes_.push_back(0);
  }
  std::vector<std::uint8_t>& bytes_;
  bool options_ = false;
};

/// Digits of @p n in decimal, 0 for 0: tcpdump's width for -W names (getWflagChars(N) is the
/// digits of N - 1).
int decimal_digits(std::uint64_t n) {
  int d = 0;
  for (; n > 0; n /= 10)
    ++d;
  return d;
}

}  // namespace

struct PcapngWriter::Impl {
  PcapngWriterOptions options;
  std::vector<PcapngInterface> interfaces;
  std::string path;  ///< of the current file
  int fd = -1;       ///< of the current file; -1 when closed or failed
  std::vector<std::uint8_t> buffer;
  std::vector<std::uint8_t> block;  ///< the block being built
  std::uint64_t file_bytes = 0;     ///< the current file's size once the buffer is written
  std::uint64_t file_frames = 0;    ///< EPBs in the current file
  std::uint64_t files = 0;          ///< files started
  std::uint64_t frames = 0;         ///< EPBs in all files
  std::string error;                ///< set once a write failed; then everything is refused

  ~Impl() {
    if (fd >= 0) ::close(fd);
  }

  /// tcpdump's names: PATH when not rotating; PATH, PATH1, PATH2, ... with -C; PATH0 ..
  /// PATH{N-1} (zero-padded to the digits of N-1) with -C and -W N.
  std::string name_for(std::uint64_t index) const {
    if (options.rotate_bytes == 0) return options.path;
    if (options.max_files == 0)
      return index == 0 ? options.path : options.path + std::to_string(index);
    const std::string n = std::to_string(index % options.max_files);
    const int width = decimal_digits(options.max_files - 1);
    const std::size_t zeros = n.size() < static_cast<std::size_t>(width) ? width - n.size() : 0;
    return options.path + std::string(zeros, '0') + n;
  }

  bool fail(std::string what) {
    error = std::move(what);
    if (fd >= 0) ::close(fd);
    fd = -1;
    buffer.clear();
    return false;
  }

  bool drain() {
    std::size_t done = 0;
    while (done < buffer.size()) {
      const ssize_t n = ::write(fd, buffer.data() + done, buffer.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail(path + ": " + std::strerror(errno));
      }
      done += static_cast<std::size_t>(n);
    }
    buffer.clear();
    return true;
  }

  bool append(const std::vector<std::uint8_t>& b) {
    if (buffer.size() + b.size() > kBufferBytes && !drain()) return false;
    buffer.insert(buffer.end(), b.begin(), b.end());
    file_bytes += b.size();
    // A block larger than the buffer goes out at once rather than growing the buffer.
    return buffer.size() < kBufferBytes || drain();
  }

  /// Creates file number files (overwriting a ring's old file) with its SHB and IDBs, written
  /// through at once so that a full disk or a bad path is known now.
  bool start_file() {
    path = name_for(files);
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail(path + ": " + std::strerror(errno));
    ++files;
    file_bytes = 0;
    file_frames = 0;

    Block shb(kBlockShb, block);
    shb.u32(kByteOrderMagic);
    shb.u16(1);  // version 1.0
    shb.u16(0);
    shb.u64(~std::uint64_t{0});  // section length: not known while writing
    shb.option_text(kOptShbUserappl, options.application);
    if (!append(shb.finish())) return false;
    for (const PcapngInterface& i : interfaces)
      if (!append_idb(i)) return false;
    return drain();
  }

  bool append_idb(const PcapngInterface& i) {
    Block idb(kBlockIdb, block);
    idb.u16(static_cast<std::uint16_t>(linktype_from_dlt(i.linktype)));
    idb.u16(0);
    idb.u32(i.snaplen);
    idb.option_text(kOptIfName, i.name);
    idb.option_text(kOptIfDescription, i.description);
    const std::uint8_t tsresol = kTsresolNano;
    idb.option(kOptIfTsresol, &tsresol, 1);
    return append(idb.finish());
  }

  bool write_isbs(const std::vector<PcapngInterfaceStats>& stats) {
    for (std::size_t i = 0; i < stats.size() && i < interfaces.size(); ++i) {
      const PcapngInterfaceStats& s = stats[i];
      Block isb(kBlockIsb, block);
      isb.u32(static_cast<std::uint32_t>(i));
      isb.ts(ns_units(s.end));
      // A zero Timestamp is "not known" (see PcapngInterfaceStats).
      if (s.start.ns != 0) isb.option_ts(kOptIsbStarttime, ns_units(s.start));
      if (s.end.ns != 0) isb.option_ts(kOptIsbEndtime, ns_units(s.end));
      if (s.received) isb.option_u64(kOptIsbIfrecv, *s.received);
      if (s.if_dropped) isb.option_u64(kOptIsbIfdrop, *s.if_dropped);
      if (s.os_dropped) isb.option_u64(kOptIsbOsdrop, *s.os_dropped);
      if (s.delivered) isb.option_u64(kOptIsbUsrdeliv, *s.delivered);
      if (!append(isb.finish())) return false;
    }
    return true;
  }

  /// ISBs, the rest of the buffer, close(2) (whose error matters on NFS).
  bool finish_file(const std::vector<PcapngInterfaceStats>& stats) {
    if (!write_isbs(stats) || !drain()) return false;
    const int f = fd;
    fd = -1;
    if (::close(f) != 0) return fail(path + ": " + std::strerror(errno));
    return true;
  }
};

PcapngWriter::~PcapngWriter() {
  if (impl_ && impl_->fd >= 0) impl_->finish_file({});
}

std::unique_ptr<PcapngWriter> PcapngWriter::open(const PcapngWriterOptions& options,
                                                 std::vector<PcapngInterface> interfaces,
                                                 std::string& error) {
  if (options.path.empty()) {
    error = "no output file name";
    return nullptr;
  }
  std::unique_ptr<PcapngWriter> w(new PcapngWriter());
  w->impl_ = std::make_unique<Impl>();
  w->impl_->options = options;
  w->impl_->interfaces = std::move(interfaces);
  w->impl_->buffer.reserve(kBufferBytes);
  if (!w->impl_->start_file()) {
    error = w->impl_->error;
    return nullptr;
  }
  return w;
}

bool PcapngWriter::write(const Frame& frame, const std::vector<PcapngInterfaceStats>& stats,
                         std::string& error) {
  Impl& m = *impl_;
  if (!m.error.empty() || m.fd < 0) {
    error = m.error.empty() ? m.path + ": already closed" : m.error;
    return false;
  }
  if (frame.interface < 0 || static_cast<std::size_t>(frame.interface) >= m.interfaces.size()) {
    // The caller's mistake, not the disk's: refused, the file stays usable.
    error = "frame " + std::to_string(frame.number) + " names interface " +
            std::to_string(frame.interface) + ", the file describes " +
            std::to_string(m.interfaces.size());
    return false;
  }
  const std::uint32_t caplen = static_cast<std::uint32_t>(frame.data.size());
  const std::uint64_t epb_bytes = 12 + 20 + pad4(caplen);
  // Rotate when this block and the closing ISBs would take the file past the limit; a file
  // always takes at least one frame, so a frame larger than the limit still gets written.
  if (m.options.rotate_bytes != 0 && m.file_frames > 0 &&
      m.file_bytes + epb_bytes + kMaxIsbBytes * m.interfaces.size() > m.options.rotate_bytes) {
    if (!m.finish_file(stats) || !m.start_file()) {
      error = m.error;
      return false;
    }
  }
  Block epb(kBlockEpb, m.block);
  epb.u32(static_cast<std::uint32_t>(frame.interface));
  epb.ts(ns_units(frame.time));
  epb.u32(caplen);
  epb.u32(frame.wire_length < caplen ? caplen : frame.wire_length);
  epb.data(frame.data.data(), frame.data.size());
  if (!m.append(epb.finish())) {
    error = m.error;
    return false;
  }
  ++m.file_frames;
  ++m.frames;
  return true;
}

std::int32_t PcapngWriter::add_interface(const PcapngInterface& interface, std::string& error) {
  Impl& m = *impl_;
  if (!m.error.empty() || m.fd < 0) {
    error = m.error.empty() ? m.path + ": already closed" : m.error;
    return -1;
  }
  if (!m.append_idb(interface)) {
    error = m.error;
    return -1;
  }
  m.interfaces.push_back(interface);
  return static_cast<std::int32_t>(m.interfaces.size() - 1);
}

bool PcapngWriter::flush(std::string& error) {
  Impl& m = *impl_;
  if (!m.error.empty() || m.fd < 0) {
    error = m.error.empty() ? m.path + ": already closed" : m.error;
    return false;
  }
  if (!m.drain()) {
    error = m.error;
    return false;
  }
  return true;
}

bool PcapngWriter::close(const std::vector<PcapngInterfaceStats>& stats, std::string& error) {
  Impl& m = *impl_;
  if (!m.error.empty() || m.fd < 0) {
    error = m.error.empty() ? m.path + ": already closed" : m.error;
    return false;
  }
  if (!m.finish_file(stats)) {
    error = m.error;
    return false;
  }
  return true;
}

const std::string& PcapngWriter::current_path() const {
  return impl_->path;
}
std::uint64_t PcapngWriter::files_started() const {
  return impl_->files;
}
std::uint64_t PcapngWriter::frames_written() const {
  return impl_->frames;
}

}  // namespace fedscope::capture
