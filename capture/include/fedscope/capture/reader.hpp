#pragma once
/// @file
/// Offline capture reading through libpcap (pcap and pcapng). This is the only library that
/// calls libpcap. Several files (one per vantage point or interface) are merged by time.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fedscope/base/anomaly.hpp"
#include "fedscope/base/frame.hpp"

namespace fedscope::capture {

/// What is known about one input file, updated as it is read.
struct FileInfo {
  std::string path;
  int linktype = 0;           ///< DLT_* as libpcap reports it
  std::string linktype_name;  ///< e.g. "LINUX_SLL2"
  std::uint32_t snaplen = 0;
  std::uint64_t packets = 0;    ///< frames read
  std::uint64_t bytes = 0;      ///< captured bytes read
  std::uint64_t truncated = 0;  ///< frames cut by the snapshot length
  Timestamp first;
  Timestamp last;
  bool complete = true;  ///< false when reading stopped at a damaged record
  std::string error;     ///< libpcap's words when reading stopped early
};

/// One capture file. Frames borrow libpcap's buffer: valid until the next call to next().
class FileReader {
 public:
  /// Opens @p path; on failure returns nullptr and sets @p error to a message fit for a user.
  static std::unique_ptr<FileReader> open(const std::string& path, std::uint16_t file_index,
                                          std::string& error);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  /// Reads the next frame. Returns false at the end of the file or at a damaged record
  /// (then info().complete is false and the anomaly "capture.damaged_record" is counted).
  bool next(Frame& out, AnomalyCounters& anomalies);
  const FileInfo& info() const { return info_; }
  /// Bytes of the file read so far (for progress); 0 when unknown.
  std::uint64_t position() const;
  std::uint64_t size() const { return size_; }

 private:
  FileReader() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  FileInfo info_;
  std::uint16_t index_ = 0;
  std::uint64_t size_ = 0;
};

/// Several files merged by packet time (ties keep file order). Reading is lazy and holds one
/// frame per file, so memory does not grow with capture length.
class MergedReader {
 public:
  /// Opens every file; on the first failure returns false with @p error naming the file.
  bool open(const std::vector<std::string>& paths, std::string& error);
  /// The next frame in time order across files; false when all are exhausted.
  bool next(Frame& out);
  std::vector<FileInfo> files() const;
  AnomalyCounters& anomalies() { return anomalies_; }
  /// Fraction of all input bytes read so far, 0..1 (for a progress display).
  double progress() const;

 private:
  struct Slot {
    std::unique_ptr<FileReader> reader;
    Frame frame;
    bool has = false;
  };
  std::vector<Slot> slots_;
  AnomalyCounters anomalies_;
  int last_ = -1;  ///< slot whose frame was handed out last (advanced on the next call)
};

}  // namespace fedscope::capture
