#pragma once
// Internal: one capture input, opened once and read once from front to back, so that standard
// input, pipes, FIFOs and process substitution work like regular files. gzip is decoded on the
// fly. Format detection peeks at the first bytes; nothing is seeked or reopened, so the peeked
// bytes are simply served again by read(). Not installed, not part of the public API.

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace fedscope::capture {
class FollowControl;
}

namespace fedscope::capture::detail {

/// A byte stream over one file descriptor, optionally gzip-decoded. Memory is fixed: two
/// buffers of kInputBufferSize and zlib's state, whatever the input. No exceptions: errors
/// end the data and are kept in error().
class Input {
 public:
  /// Bytes of raw input read per system call, and of decoded data held at once.
  static constexpr std::size_t kInputBufferSize = 64 * 1024;

  /// Opens @p path: "-" is standard input (fd 0, left open at the end); anything else is
  /// open(2)ed once, which for a FIFO blocks until a writer comes (as tcpdump does). On failure
  /// returns nullptr and sets @p error (without the name): strerror, or "is a directory, not a
  /// capture file".
  static std::unique_ptr<Input> open(const std::string& path, std::string& error);
  ~Input();
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  /// The next up to @p n (at most kInputBufferSize) bytes without consuming them; fewer only at
  /// the end of the data or an error. The span is valid until the next call on this Input.
  std::span<const std::uint8_t> peek(std::size_t n);
  /// Copies the next @p n bytes into @p dst (caller-owned); fewer only at the end of the data
  /// or at an error (then error() says why).
  std::size_t read(std::uint8_t* dst, std::size_t n);
  /// Like read() but returns as soon as some bytes are there (at most one system call), for
  /// callers that must not wait for a full buffer.
  std::size_t read_some(std::uint8_t* dst, std::size_t n);

  /// From now on the data are the gzip-decoded raw bytes (several members in a row are one
  /// stream, as `cat a.gz b.gz` makes). Call at most once, before anything is consumed (peek
  /// is fine). False with @p error when zlib cannot start.
  bool start_gzip(std::string& error);
  bool gzip() const { return gzip_; }

  /// Follow mode (reader.hpp, FollowControl; borrowed): for a regular file, the end of the
  /// file waits for more instead of ending the data, until stop is requested; then the data
  /// end cleanly (no error, stopped() is true). Nothing changes for other inputs.
  void set_follow(const FollowControl* follow) { follow_ = is_regular_ ? follow : nullptr; }
  /// The data ended because stop was requested while following (what was cut then is no
  /// damage).
  bool stopped() const { return stopped_; }
  /// Whether reading now would find data without waiting for the writer: always true unless
  /// following (bytes buffered, or the file is longer than what was read).
  bool data_ready() const;

  /// Why the data ended early (read error, gzip cut short or corrupt), once reading has reached
  /// that point; "" before it and after a clean end.
  const std::string& error() const;
  /// The same reason as soon as it is known, even while bytes before it are still unread
  /// (e.g. when peek() got fewer bytes than asked for).
  const std::string& failure() const { return error_; }
  /// Raw bytes read from the input so far (compressed bytes for gzip).
  std::uint64_t position() const { return raw_position_; }
  /// Size of a regular file (from where reading started); 0 for pipes, FIFOs, devices.
  std::uint64_t size() const { return size_; }

 private:
  /// A window [begin, end) of valid bytes in a fixed block of kInputBufferSize.
  struct Buffer {
    std::unique_ptr<std::uint8_t[]> data;
    std::size_t begin = 0;
    std::size_t end = 0;
    std::size_t available() const { return end - begin; }
    void compact();
  };

  Input() = default;
  Buffer& view() { return gzip_ ? out_ : raw_; }
  const Buffer& view() const { return gzip_ ? out_ : raw_; }
  /// One read(2) into raw_; false at its end or an error (then raw_error_ is set).
  bool fill_raw();
  /// Adds decoded bytes to view(); false when the data have ended (cleanly or with error_).
  bool fill();
  bool fill_gzip();
  void fail(std::string why);
  std::uint64_t compressed_consumed() const { return raw_position_ - raw_.available(); }

  int fd_ = -1;
  bool own_fd_ = false;
  bool is_regular_ = false;
  std::uint64_t start_offset_ = 0;  ///< where reading started in a regular file
  const FollowControl* follow_ = nullptr;
  bool stopped_ = false;
  std::uint64_t size_ = 0;
  std::uint64_t raw_position_ = 0;
  Buffer raw_;
  bool raw_eof_ = false;
  std::string raw_error_;
  bool gzip_ = false;
  bool in_member_ = false;  ///< inside a gzip member (between members the data may end)
  z_stream zs_{};
  Buffer out_;        ///< decoded gzip data
  bool end_ = false;  ///< no more data will come into view()
  std::string error_;
};

/// What the first bytes of some data are, as far as FileReader cares.
enum class Format { kPcap, kPcapng, kGzip, kOther };

/// Sorts @p head (at least 4 bytes when there are that many) by its magic number.
Format sniff_format(std::span<const std::uint8_t> head);

/// Says what @p head (the first up to kDescribeBytes bytes of an input) is, for an input that is
/// no capture, e.g. "empty input", "text, not a capture (starts with 'hello')", "bzip2-compressed
/// data: ...". @p inside_gzip words it for the decoded content of a gzip file.
std::string describe_non_capture(std::span<const std::uint8_t> head, bool inside_gzip);

/// How many first bytes describe_non_capture() looks at (a tar header's magic is at 257).
inline constexpr std::size_t kDescribeBytes = 512;

}  // namespace fedscope::capture::detail
