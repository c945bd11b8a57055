#pragma once
/// @file
/// Writes what `fedscope capture -w` saw as pcapng (draft-ietf-opsawg-pcapng): a Section
/// Header Block, one Interface Description Block per device (in the order given, so
/// Frame::interface is the pcapng interface id), an Enhanced Packet Block per frame with
/// nanosecond timestamps (if_tsresol 9), and at close an Interface Statistics Block per
/// device with isb_starttime, isb_endtime, isb_ifrecv, isb_ifdrop and isb_osdrop. The reader
/// (reader.hpp) takes isb_endtime as the end of the capture.
///
/// Rotation follows tcpdump's habits: with @c rotate_bytes (tcpdump -C, in units of
/// 1,000,000 bytes on the command line) a new file starts when the current one would grow
/// past the size; the files are named PATH, PATH1, PATH2, ... or, with @c max_files (-W N),
/// PATH0 .. PATH{N-1} (digits padded to the width of N-1) written over in a ring. Every file
/// is complete on its own: SHB, IDBs, and ISBs when it is closed. A file stays within
/// @c rotate_bytes including room for its closing ISBs, except that every file takes at least
/// one frame. @c max_files without @c rotate_bytes is ignored (one file, PATH).
///
/// Errors are values (a full disk, a removed directory): write() and close() return false
/// with a message, and the writer stops writing (the caller keeps analysing).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fedscope/base/frame.hpp"

namespace fedscope::capture {

struct PcapngInterface {
  std::string name;         ///< if_name
  std::string description;  ///< if_description ("" writes none)
  int linktype = 0;         ///< DLT_* (written as its LINKTYPE_* value)
  std::uint32_t snaplen = 0;
};

/// One device's counters for its Interface Statistics Block. Absent values are not written.
struct PcapngInterfaceStats {
  /// isb_starttime, isb_endtime; a zero Timestamp is "unknown" and not written. @c end is
  /// also the ISB's own timestamp.
  Timestamp start, end;
  std::optional<std::uint64_t> received;    ///< isb_ifrecv
  std::optional<std::uint64_t> if_dropped;  ///< isb_ifdrop (the interface's drops)
  std::optional<std::uint64_t> os_dropped;  ///< isb_osdrop (the kernel's drops)
  std::optional<std::uint64_t> delivered;   ///< isb_usrdeliv (frames written)
};

struct PcapngWriterOptions {
  std::string path;
  std::uint64_t rotate_bytes = 0;  ///< 0: one file
  std::uint32_t max_files = 0;     ///< 0: no ring (with rotate_bytes: PATH, PATH1, ...)
  std::string application;         ///< shb_userappl, e.g. "fedscope 0.9"
};

class PcapngWriter {
 public:
  /// Creates the first file and writes its SHB and IDBs through to the file, so a bad path
  /// or a full disk is known now. nullptr with @p error on failure (e.g. "out.pcapng:
  /// Permission denied", "/dev/full: No space left on device").
  static std::unique_ptr<PcapngWriter> open(const PcapngWriterOptions& options,
                                            std::vector<PcapngInterface> interfaces,
                                            std::string& error);
  ~PcapngWriter();  ///< closes without statistics if close() was not called
  PcapngWriter(const PcapngWriter&) = delete;
  PcapngWriter& operator=(const PcapngWriter&) = delete;

  /// Appends @p frame (its bytes are copied before returning) to the interface
  /// Frame::interface. Rotates first when the size limit says so; @p stats (one per interface,
  /// may be empty) are written as the closed file's ISBs. False with @p error when the write
  /// failed ("PATH: No space left on device"); later calls then do nothing and return false
  /// with the same error. A frame whose interface the file does not describe is refused
  /// (false with @p error) and the writer goes on. Writes are buffered (256 KiB).
  bool write(const Frame& frame, const std::vector<PcapngInterfaceStats>& stats,
             std::string& error);
  bool write(const Frame& frame, std::string& error) { return write(frame, {}, error); }
  /// Describes one more interface (an IDB in the current file, where pcapng allows one
  /// anywhere before its first packet; a rotated file repeats every IDB at its start). Returns
  /// its id for Frame::interface (the count of interfaces before it), or -1 with @p error when
  /// the writer failed or is closed. For writers that learn their interfaces as frames come
  /// (a session saved from several files).
  std::int32_t add_interface(const PcapngInterface& interface, std::string& error);
  /// Flushes to the kernel (for a reader that follows the file).
  bool flush(std::string& error);
  /// Writes one ISB per interface from @p stats (parallel to the interfaces; may be empty)
  /// and closes. False with @p error when a write failed now or earlier, or when already
  /// closed.
  bool close(const std::vector<PcapngInterfaceStats>& stats, std::string& error);

  const std::string& current_path() const;
  std::uint64_t files_started() const;
  std::uint64_t frames_written() const;

 private:
  PcapngWriter() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedscope::capture
