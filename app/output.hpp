#pragma once
// The report's destination (-o): checked and created before the analysis starts, written to a
// temporary file in the same folder and renamed over the target only when complete, so a run
// that fails or is killed never leaves a half-written report where one is expected. Every
// error carries the OS's reason (strerror).

#include <sys/types.h>

#include <memory>
#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

namespace fedscope::app {

/// An input's identity on disk, to refuse `-o` onto a capture and to read a file given twice
/// once. Filled by identify().
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool known = false;
  bool operator==(const FileId& o) const {
    return known && o.known && dev == o.dev && ino == o.ino;
  }
};

/// stat() of @p path ("-": standard input); known=false when it cannot be stat'ed (the reader
/// reports that error itself).
FileId identify(const std::string& path);

/// A std::streambuf over a file descriptor with its own buffer; the first write error is kept
/// (errno) instead of being lost in the stream's badbit.
class FdStreambuf final : public std::streambuf {
 public:
  explicit FdStreambuf(int fd);
  ~FdStreambuf() override;
  FdStreambuf(const FdStreambuf&) = delete;
  FdStreambuf& operator=(const FdStreambuf&) = delete;
  /// errno of the first failed write, 0 if none.
  int error() const { return error_; }

 protected:
  int_type overflow(int_type ch) override;
  int sync() override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;

 private:
  bool drain();
  int fd_;
  int error_ = 0;
  std::vector<char> buf_;
};

/// Where the report goes. open() before the analysis; stream() to write; commit() at the end.
/// Destroyed without commit() (an error, an exception) it removes its temporary file; SIGINT,
/// SIGTERM, SIGHUP and SIGPIPE remove it too.
class Output {
 public:
  /// @p path: "" or "-" for standard output. @p inputs: the inputs' identities (an output that
  /// is one of them is refused). On failure returns nullptr and sets @p error (with strerror).
  static std::unique_ptr<Output> open(const std::string& path, const std::vector<FileId>& inputs,
                                      std::string& error);
  ~Output();
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  std::ostream& stream() { return os_; }
  /// Flushes, closes and (for a regular file) renames the temporary file over the target.
  /// False with @p error when any of it failed; the target is then left as it was.
  bool commit(std::string& error);
  /// The name to use in messages ("standard output" or the path).
  const std::string& name() const { return name_; }

 private:
  Output(int fd, std::string name, std::string target, std::string temp);
  int fd_;
  std::string name_;
  std::string target_;  ///< "" when writing in place (stdout, a device, a FIFO)
  std::string temp_;    ///< the temporary file renamed over target_ at commit()
  FdStreambuf buf_;
  std::ostream os_;
  bool committed_ = false;
};

}  // namespace fedscope::app
