// One open, one pass: see input.hpp. Reading never seeks, so a pipe or a FIFO behaves exactly
// like a regular file; gzip is inflated through fixed buffers.

#include "input.hpp"

#include "fedscope/capture/reader.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace fedscope::capture::detail {
namespace {

using namespace std::string_view_literals;  // magic numbers with NUL bytes in them

constexpr std::uint8_t kGzipMagic0 = 0x1f;
constexpr std::uint8_t kGzipMagic1 = 0x8b;
/// gzip wrapper only (not zlib, not raw deflate), 32 KiB window.
constexpr int kGzipWindowBits = 15 + 16;
/// Characters of a text input quoted in an error.
constexpr std::size_t kPreviewBytes = 16;

}  // namespace

void Input::Buffer::compact() {
  if (begin == 0) return;
  std::memmove(data.get(), data.get() + begin, end - begin);
  end -= begin;
  begin = 0;
}

std::unique_ptr<Input> Input::open(const std::string& path, std::string& error) {
  std::unique_ptr<Input> in(new Input());
  if (path == "-") {
    // Reading a terminal would wait for typed bytes that never make a capture.
    if (::isatty(STDIN_FILENO)) {
      error = "is a terminal, not a capture (pipe one in: zcat x.pcap.gz | fedscope report -)";
      return nullptr;
    }
    in->fd_ = STDIN_FILENO;
  } else {
    int fd;
    do {
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      error = std::strerror(errno);
      return nullptr;
    }
    in->fd_ = fd;
    in->own_fd_ = true;
  }
  struct stat st {};
  if (::fstat(in->fd_, &st) != 0) {
    error = std::strerror(errno);
    return nullptr;
  }
  if (S_ISDIR(st.st_mode)) {
    error = "is a directory, not a capture file";
    return nullptr;
  }
  if (S_ISREG(st.st_mode)) {
    // Standard input may be a file someone already read part of: progress counts from here.
    const off_t at = std::max<off_t>(::lseek(in->fd_, 0, SEEK_CUR), 0);
    in->size_ = st.st_size > at ? static_cast<std::uint64_t>(st.st_size - at) : 0;
    in->is_regular_ = true;
    in->start_offset_ = static_cast<std::uint64_t>(at);
    ::posix_fadvise(in->fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  in->raw_.data.reset(new std::uint8_t[kInputBufferSize]);
  return in;
}

Input::~Input() {
  if (zs_.state != nullptr) inflateEnd(&zs_);
  if (own_fd_) ::close(fd_);
}

bool Input::start_gzip(std::string& error) {
  if (gzip_) return true;
  zs_ = z_stream{};
  if (inflateInit2(&zs_, kGzipWindowBits) != Z_OK) {
    error = std::string("zlib cannot start: ") + (zs_.msg ? zs_.msg : "out of memory");
    return false;
  }
  out_.data.reset(new std::uint8_t[kInputBufferSize]);
  gzip_ = true;
  in_member_ = false;
  // Peeking may have met the end of the raw bytes; for gzip that is fill_gzip's to judge.
  end_ = false;
  error_.clear();
  return true;
}

bool Input::fill_raw() {
  if (raw_eof_) return false;
  raw_.compact();
  if (raw_.end == kInputBufferSize) return true;  // full: the caller consumes first
  for (;;) {
    const ssize_t n = ::read(fd_, raw_.data.get() + raw_.end, kInputBufferSize - raw_.end);
    if (n > 0) {
      raw_.end += static_cast<std::size_t>(n);
      raw_position_ += static_cast<std::uint64_t>(n);
      if (follow_) follow_->data_arrived();
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && follow_) {
      // Following a file still being written: its end is only where the writer is now.
      struct stat st {};
      if (::fstat(fd_, &st) == 0 &&
          static_cast<std::uint64_t>(st.st_size) < start_offset_ + raw_position_) {
        raw_eof_ = true;
        raw_error_ = "the file shrank while it was followed (truncated or rewritten)";
        return false;
      }
      if (follow_->wait_for_data()) continue;
      follow_->data_arrived();  // not waiting any more: stopped
      stopped_ = true;
      raw_eof_ = true;
      return false;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Standard input inherited in non-blocking mode: wait for data instead of failing.
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, -1) >= 0 || errno == EINTR) continue;
    }
    raw_eof_ = true;
    if (n < 0) raw_error_ = std::string("read error: ") + std::strerror(errno);
    return false;
  }
}

void Input::fail(std::string why) {
  end_ = true;
  error_ = std::move(why);
}

bool Input::fill() {
  if (end_) return false;
  if (gzip_) return fill_gzip();
  if (fill_raw()) return true;
  end_ = true;
  error_ = raw_error_;
  return false;
}

bool Input::fill_gzip() {
  out_.compact();
  if (out_.end == kInputBufferSize) return true;  // full: the caller consumes first
  const std::size_t before = out_.end;
  while (out_.end == before) {
    if (!in_member_) {
      // Between members the data may end; otherwise the next member must start here.
      while (raw_.available() < 2 && fill_raw()) {
      }
      if (!raw_error_.empty() && raw_.available() < 2) {
        fail(raw_error_);
        return false;
      }
      if (raw_.available() == 0 || (stopped_ && raw_.available() < 2)) {
        end_ = true;  // the clean end: right after a member (or stopped while following)
        return false;
      }
      if (raw_.available() < 2 || raw_.data[raw_.begin] != kGzipMagic0 ||
          raw_.data[raw_.begin + 1] != kGzipMagic1) {
        fail("gzip data followed by bytes that are not gzip, at compressed byte " +
             std::to_string(compressed_consumed()));
        return false;
      }
      inflateReset(&zs_);
      in_member_ = true;
    }
    if (raw_.available() == 0 && !fill_raw()) {
      if (stopped_) {
        end_ = true;  // stopped while following: the member is cut by the stop, no damage
        return false;
      }
      fail(raw_error_.empty() ? "gzip data cut short after " +
                                    std::to_string(compressed_consumed()) + " compressed bytes"
                              : raw_error_);
      return false;
    }
    zs_.next_in = raw_.data.get() + raw_.begin;
    zs_.avail_in = static_cast<uInt>(raw_.available());
    zs_.next_out = out_.data.get() + out_.end;
    zs_.avail_out = static_cast<uInt>(kInputBufferSize - out_.end);
    const int rc = inflate(&zs_, Z_NO_FLUSH);
    raw_.begin = raw_.end - zs_.avail_in;
    out_.end = kInputBufferSize - zs_.avail_out;
    if (rc == Z_STREAM_END) {
      in_member_ = false;
    } else if (rc == Z_OK || (rc == Z_BUF_ERROR && zs_.avail_in == 0)) {
      // Progress, or all input used and more needed.
    } else {
      fail("gzip data corrupt at compressed byte " + std::to_string(compressed_consumed()) + ": " +
           (zs_.msg ? zs_.msg : "zlib error " + std::to_string(rc)));
      return false;
    }
  }
  return out_.end > before;
}

std::span<const std::uint8_t> Input::peek(std::size_t n) {
  n = std::min(n, kInputBufferSize);
  Buffer& b = view();
  if (b.available() < n) b.compact();  // room for n at the end
  while (b.available() < n && fill()) {
  }
  return {b.data.get() + b.begin, std::min(n, b.available())};
}

std::size_t Input::read(std::uint8_t* dst, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    Buffer& b = view();
    if (b.available() == 0 && !fill()) break;
    const std::size_t k = std::min(n - done, b.available());
    std::memcpy(dst + done, b.data.get() + b.begin, k);
    b.begin += k;
    done += k;
  }
  return done;
}

std::size_t Input::read_some(std::uint8_t* dst, std::size_t n) {
  Buffer& b = view();
  if (n == 0 || (b.available() == 0 && !fill())) return 0;
  const std::size_t k = std::min(n, b.available());
  std::memcpy(dst, b.data.get() + b.begin, k);
  b.begin += k;
  return k;
}

bool Input::data_ready() const {
  if (!follow_ || view().available() > 0 || raw_.available() > 0) return true;
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return true;  // reading will say what is wrong
  return static_cast<std::uint64_t>(st.st_size) > start_offset_ + raw_position_;
}

const std::string& Input::error() const {
  static const std::string kNone;
  return end_ && view().available() == 0 ? error_ : kNone;
}

// ---------------------------------------------------------------------------------------------
// Format detection

namespace {

std::uint32_t be32(std::span<const std::uint8_t> h) {
  return static_cast<std::uint32_t>(h[0]) << 24 | static_cast<std::uint32_t>(h[1]) << 16 |
         static_cast<std::uint32_t>(h[2]) << 8 | h[3];
}

bool starts_with(std::span<const std::uint8_t> h, std::string_view magic, std::size_t at = 0) {
  return h.size() >= at + magic.size() &&
         std::memcmp(h.data() + at, magic.data(), magic.size()) == 0;
}

/// Printable ASCII, common whitespace and well-formed UTF-8 (a sequence cut by the end of the
/// sample is fine).
bool looks_like_text(std::span<const std::uint8_t> h) {
  for (std::size_t i = 0; i < h.size(); ++i) {
    const std::uint8_t c = h[i];
    if (c == '\t' || c == '\n' || c == '\r' || c == '\f' || (c >= 0x20 && c < 0x7f)) continue;
    std::size_t more = 0;
    if (c >= 0xc2 && c <= 0xdf)
      more = 1;
    else if (c >= 0xe0 && c <= 0xef)
      more = 2;
    else if (c >= 0xf0 && c <= 0xf4)
      more = 3;
    else
      return false;
    for (std::size_t k = 1; k <= more && i + k < h.size(); ++k)
      if ((h[i + k] & 0xc0) != 0x80) return false;
    i += more;
  }
  return true;
}

/// The first line of a text, at most kPreviewBytes bytes, never cutting a UTF-8 character.
std::string preview(std::span<const std::uint8_t> h) {
  std::size_t n = 0;
  while (n < h.size() && n < kPreviewBytes && h[n] != '\n' && h[n] != '\r')
    ++n;
  if (n < h.size() && n == kPreviewBytes)
    while (n > 0 && (h[n] & 0xc0) == 0x80)
      --n;
  std::string s(reinterpret_cast<const char*>(h.data()), n);
  std::replace_if(
      s.begin(), s.end(), [](char c) { return c == '\t' || c == '\f'; }, ' ');
  return s;
}

std::string hex_bytes(std::span<const std::uint8_t> h) {
  std::string s;
  for (std::size_t i = 0; i < h.size(); ++i) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%s0x%02x", i ? " " : "", static_cast<unsigned>(h[i]));
    s += buf;
  }
  return s;
}

struct Known {
  std::string_view magic;
  std::size_t at;
  std::string_view what;
  std::string_view remedy;  ///< for a top-level input; "" when there is nothing to suggest
};

// clang-format off
constexpr Known kKnown[] = {
    {"BZh"sv, 0, "bzip2-compressed data",
     "fedscope reads gzip; decompress it first: bzcat FILE | fedscope report -"},
    {"\xfd" "7zXZ\x00"sv, 0, "xz-compressed data",
     "fedscope reads gzip; decompress it first: xzcat FILE | fedscope report -"},
    {"\x28\xb5\x2f\xfd"sv, 0, "zstd-compressed data",
     "fedscope reads gzip; decompress it first: zstdcat FILE | fedscope report -"},
    {"\x04\x22\x4d\x18"sv, 0, "lz4-compressed data",
     "fedscope reads gzip; decompress it first: lz4cat FILE | fedscope report -"},
    {"PK\x03\x04"sv, 0, "zip archive",
     "fedscope reads gzip; extract the capture first: unzip -p FILE | fedscope report -"},
    {"PK\x05\x06"sv, 0, "zip archive (empty)", ""},
    {"\x1f\x8b"sv, 0, "gzip data (compressed twice?)", ""},
    {"ustar"sv, 257, "tar archive",
     "extract the capture first: tar -xOf FILE | fedscope report -"},
    {"snoop\0\0\0"sv, 0, "Sun snoop capture",
     "fedscope reads pcap and pcapng; convert it first: editcap -F pcap FILE out.pcap"},
    {"GMBU"sv, 0, "Microsoft Network Monitor 2.x capture",
     "fedscope reads pcap and pcapng; convert it first: editcap -F pcap FILE out.pcap"},
    {"RTSS"sv, 0, "Microsoft Network Monitor 1.x capture",
     "fedscope reads pcap and pcapng; convert it first: editcap -F pcap FILE out.pcap"},
    {"\x7f" "ELF"sv, 0, "an ELF executable", ""},
    {"%PDF-"sv, 0, "a PDF document", ""},
    {"\x89PNG\r\n\x1a\n"sv, 0, "a PNG image", ""},
    {"\xff\xd8\xff"sv, 0, "a JPEG image", ""},
};
// clang-format on

std::string describe(std::span<const std::uint8_t> h, bool inside_gzip) {
  if (h.empty()) return inside_gzip ? "empty" : "empty input";
  for (const auto& k : kKnown) {
    if (!starts_with(h, k.magic, k.at)) continue;
    if (inside_gzip || k.remedy.empty()) return std::string(k.what);
    return std::string(k.what) + ": " + std::string(k.remedy);
  }
  if (looks_like_text(h)) {
    std::span<const std::uint8_t> t = h;
    if (starts_with(t, "\xef\xbb\xbf"sv)) t = t.subspan(3);  // UTF-8 byte order mark
    while (!t.empty() && (t[0] == ' ' || t[0] == '\t' || t[0] == '\r' || t[0] == '\n'))
      t = t.subspan(1);
    std::string low(reinterpret_cast<const char*>(t.data()), std::min<std::size_t>(t.size(), 16));
    std::transform(low.begin(), low.end(), low.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
    std::string_view l = low;
    const char* kind = "text";
    if (l.starts_with("<!doctype html") || l.starts_with("<html"))
      kind = "HTML";
    else if (l.starts_with("<?xml"))
      kind = "XML";
    else if (l.starts_with("{") || l.starts_with("["))
      kind = "JSON";
    if (t.empty()) return "text, only white space";
    return std::string(kind) + ", starts with '" + preview(t) + "'";
  }
  if (h.size() < 4)
    return "too short for a capture: " + std::to_string(h.size()) +
           (h.size() == 1 ? " byte, " : " bytes, ") + hex_bytes(h);
  return "unknown format, starts with " + hex_bytes(h.first(4));
}

}  // namespace

Format sniff_format(std::span<const std::uint8_t> head) {
  if (head.size() >= 2 && head[0] == kGzipMagic0 && head[1] == kGzipMagic1) return Format::kGzip;
  if (head.size() < 4) return Format::kOther;
  switch (be32(head)) {
    case 0x0A0D0D0A:  // pcapng Section Header Block (the same in both byte orders)
      return Format::kPcapng;
    case 0xA1B2C3D4:  // pcap, microseconds
    case 0xD4C3B2A1:
    case 0xA1B23C4D:  // pcap, nanoseconds
    case 0x4D3CB2A1:
    case 0xA1B2CD34:  // Alexey Kuznetzov's modified pcap, which libpcap also reads
    case 0x34CDB2A1:
      return Format::kPcap;
    default:
      return Format::kOther;
  }
}

std::string describe_non_capture(std::span<const std::uint8_t> head, bool inside_gzip) {
  const std::string what = describe(head, inside_gzip);
  return inside_gzip ? "gzip data, but not a capture inside: " + what : what;
}

}  // namespace fedscope::capture::detail
