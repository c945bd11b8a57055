#pragma once
/// @file
/// Offline capture reading: classic pcap through libpcap, pcapng through our own reader
/// (libpcap 1.10 refuses pcapng files whose interfaces differ in link type or snaplen and never
/// says which interface a packet came from). This is the only library that calls libpcap.
/// Several files (one per vantage point or interface) are merged by time.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fedscope/base/anomaly.hpp"
#include "fedscope/base/frame.hpp"

namespace fedscope::capture {

/// One pcapng interface (Interface Description Block) of a file.
struct InterfaceInfo {
  /// Index in FileInfo::interfaces, the value of Frame::interface. In a single-section file
  /// it is the pcapng interface id; later sections continue the count (each Section Header
  /// Block starts a new set of interfaces).
  std::int32_t id = 0;
  std::uint32_t section = 0;  ///< 0-based index of the section that described it
  std::string name;           ///< if_name option, "" when absent
  std::string description;    ///< if_description option, "" when absent
  int linktype = 0;           ///< DLT_* value (LINKTYPE_* mapped as libpcap does)
  std::string linktype_name;  ///< e.g. "EN10MB"
  std::uint32_t snaplen = 0;  ///< 0 means "no limit" in pcapng
  std::uint64_t packets = 0;  ///< frames read from this interface
};

/// What is known about one input file, updated as it is read.
struct FileInfo {
  std::string path;
  /// DLT_* as libpcap reports it; for a pcapng file with several interfaces, the first
  /// interface's (every Frame carries its own interface's link type).
  int linktype = 0;
  /// e.g. "LINUX_SLL2"; for several pcapng interfaces the distinct names joined by ",",
  /// e.g. "EN10MB,LINUX_SLL2"; "" for a pcapng file without any interface.
  std::string linktype_name;
  std::uint32_t snaplen = 0;    ///< for pcapng, the first interface's
  std::uint64_t packets = 0;    ///< frames read
  std::uint64_t bytes = 0;      ///< captured bytes read
  std::uint64_t truncated = 0;  ///< frames cut by the snapshot length
  Timestamp first;
  Timestamp last;
  bool complete = true;  ///< false when reading stopped at a damaged record
  std::string error;     ///< libpcap's or the pcapng reader's words when reading stopped early
  /// pcapng interfaces in the order their blocks appear (grows as the file is read); empty
  /// for classic pcap.
  std::vector<InterfaceInfo> interfaces;
};

/// One capture file. The reader is picked by the file's first four bytes: 0x0A0D0D0A (a
/// pcapng Section Header Block) selects fedscope's own pcapng reader, anything else goes to
/// libpcap. Frames borrow a buffer owned by the reader (libpcap's, or the pcapng reader's
/// block buffer): Frame::data is valid until the next call to next() or until the reader is
/// destroyed; copy what you keep.
class FileReader {
 public:
  /// Opens @p path; on failure returns nullptr and sets @p error to a message fit for a user.
  static std::unique_ptr<FileReader> open(const std::string& path, std::uint16_t file_index,
                                          std::string& error);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  /// Reads the next frame into @p out (its data borrowed, see the class comment). Returns
  /// false at the end of the file or at a damaged record (then info().complete is false,
  /// info().error says why and the anomaly "capture.damaged_record" is counted once).
  /// Records that can be skipped are counted in @p anomalies instead ("capture.*").
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
/// frame per file, so memory does not grow with capture length. A frame returned by next()
/// borrows its file reader's buffer until the following call to next().
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
