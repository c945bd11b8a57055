#pragma once
/// @file
/// Offline capture reading: classic pcap through libpcap, pcapng through our own reader
/// (libpcap 1.10 refuses pcapng files whose interfaces differ in link type or snaplen and never
/// says which interface a packet came from). This is the only library that calls libpcap.
/// Several files (one per vantage point or interface) are merged by time.
///
/// An input is opened once and read once from front to back, never seeked or reopened, so
/// besides regular files it may be standard input ("-"), a pipe, a FIFO, /dev/stdin or a
/// /dev/fd/N of process substitution. gzip-compressed pcap and pcapng (also several gzip
/// members in a row) are decoded on the fly; the format is told by the first bytes, never by
/// the file name.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
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
  std::uint32_t section = 0;    ///< 0-based index of the section that described it
  std::string name;             ///< if_name option, "" when absent
  std::string description;      ///< if_description option, "" when absent
  int linktype = 0;             ///< DLT_* value (LINKTYPE_* mapped as libpcap does)
  std::string linktype_name;    ///< e.g. "EN10MB"
  std::uint32_t snaplen = 0;    ///< 0 means "no limit" in pcapng
  std::uint64_t packets = 0;    ///< frames read from this interface
  std::uint64_t truncated = 0;  ///< of them, cut by this interface's snaplen
  // From the interface's Interface Statistics Block (the last one in the file wins; a writer
  // such as dumpcap or fedscope writes them when it closes the file). Absent when no ISB
  // gave the option.
  std::optional<Timestamp> isb_start;           ///< isb_starttime: capture started
  std::optional<Timestamp> isb_end;             ///< isb_endtime: capture ended
  std::optional<std::uint64_t> isb_received;    ///< isb_ifrecv: packets the interface received
  std::optional<std::uint64_t> isb_if_dropped;  ///< isb_ifdrop: dropped by the interface
  std::optional<std::uint64_t> isb_os_dropped;  ///< isb_osdrop: dropped by the OS (no buffer)
};

/// What is known about one input file, updated as it is read.
struct FileInfo {
  std::string path;  ///< as given; "-" for standard input
  /// How messages name the input: "standard input" for "-", otherwise the path.
  std::string name;
  /// "pcap" or "pcapng": the format found inside (after gzip decoding).
  std::string format;
  /// "gzip" when the input is gzip-compressed, "" when it is not.
  std::string compression;
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
  /// When the capture ended as its writer says: the latest isb_end of the file's interfaces
  /// (pcapng only; after the last packet when the capture ran on quietly). Known once the
  /// ISBs, usually at the end of the file, have been read.
  std::optional<Timestamp> end_time;
  /// false when reading stopped early: at a damaged record, a read error, or gzip data cut
  /// short or corrupt (the frames before it are kept).
  bool complete = true;
  /// Why reading stopped early: libpcap's, the pcapng reader's or the input's words, e.g.
  /// "gzip data cut short after 1234 compressed bytes".
  std::string error;
  /// pcapng interfaces in the order their blocks appear (grows as the file is read); empty
  /// for classic pcap.
  std::vector<InterfaceInfo> interfaces;
};

/// Follow mode (`tail -f`) for a regular file that is still being written (tcpdump -w,
/// fedscope capture -w): its end is not the end of the data. A read that meets the end of the
/// file, also in the middle of a record the writer has only half written, sleeps one poll
/// interval and tries again, until data come or request_stop() is called. Then reading ends
/// cleanly: a record cut by the stop is not returned and not counted as damage
/// (FileInfo::complete stays true). Pipes, FIFOs and terminals wait at their end anyway;
/// follow changes nothing for them. gzip input is followed too (the decoder waits for more
/// compressed bytes in the same way). A file that shrinks while followed (truncated,
/// rewritten) ends with an error; one renamed away (tcpdump -C rotation) is read until stop.
///
/// Thread-safety: request_stop(), stop_requested() and waiting() may be called from any thread
/// (a UI); the reader calls wait_for_data() from its own. The control is borrowed by the
/// readers given it and must outlive them.
class FollowControl {
 public:
  static constexpr std::chrono::milliseconds kDefaultPollInterval{200};

  explicit FollowControl(std::chrono::milliseconds poll_interval = kDefaultPollInterval)
      : poll_interval_(poll_interval) {}
  FollowControl(const FollowControl&) = delete;
  FollowControl& operator=(const FollowControl&) = delete;

  /// Ends following: from now on the end of the file is the end of the data. What is already
  /// written is still read; a reader waiting now wakes at once and sees the end.
  void request_stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
  }
  bool stop_requested() const { return stop_.load(std::memory_order_acquire); }
  /// True while a reader is at the end of its file waiting for the writer ("waiting for
  /// data" in a UI); false while data flow.
  bool waiting() const { return waiting_.load(std::memory_order_relaxed); }
  std::chrono::milliseconds poll_interval() const { return poll_interval_; }

  /// For the reader: sleeps one poll interval, or less when stop is requested. Returns false
  /// when stop has been requested (the data end), true to try reading again.
  bool wait_for_data() const {
    // The reader's own thread has nothing to read: its user may do other work now (the TUI
    // judges what it has read so far). Called before each sleep, outside the lock.
    if (on_wait_ && !stop_requested()) on_wait_();
    std::unique_lock lock(mutex_);
    if (stop_) return false;
    waiting_.store(true, std::memory_order_relaxed);
    wake_.wait_for(lock, poll_interval_, [this] { return stop_.load(); });
    return !stop_;
  }
  /// For the reader: data came, it is no longer waiting.
  void data_arrived() const { waiting_.store(false, std::memory_order_relaxed); }
  /// Called on the reading thread each time the reader is about to wait for data (set it
  /// before reading starts; the reading thread's own objects may be used there).
  void set_on_wait(std::function<void()> f) { on_wait_ = std::move(f); }

 private:
  const std::chrono::milliseconds poll_interval_;
  std::function<void()> on_wait_;
  mutable std::mutex mutex_;
  mutable std::condition_variable wake_;
  std::atomic<bool> stop_{false};
  mutable std::atomic<bool> waiting_{false};
};

/// One capture input. The reader is picked by the first bytes (after gzip decoding when they
/// are 1f 8b): 0x0A0D0D0A (a pcapng Section Header Block) selects fedscope's own pcapng reader,
/// a pcap magic number libpcap; anything else is refused with a message that says what it is
/// (text, bzip2, zip, ...). Frames borrow a buffer owned by the reader (libpcap's, or the
/// pcapng reader's block buffer): Frame::data is valid until the next call to next() or until
/// the reader is destroyed; copy what you keep.
class FileReader {
 public:
  /// Opens @p path ("-" is standard input, which is read but not closed). A FIFO's open blocks
  /// until a writer comes. On failure returns nullptr and sets @p error to a message fit for a
  /// user that starts with the input's name, e.g. "x.pcap: No such file or directory",
  /// "standard input: not a readable pcap or pcapng capture (empty input)".
  /// With @p follow (borrowed, must outlive the reader) a regular file is followed as it
  /// grows (see FollowControl); open() then waits, too, until the file's header is there
  /// (tcpdump -w writes it with its first buffer) or stop is requested.
  static std::unique_ptr<FileReader> open(const std::string& path, std::uint16_t file_index,
                                          std::string& error,
                                          const FollowControl* follow = nullptr);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  /// Reads the next frame into @p out (its data borrowed, see the class comment). Returns
  /// false at the end of the file or at a damaged record (then info().complete is false,
  /// info().error says why and the anomaly "capture.damaged_record" is counted once).
  /// Records that can be skipped are counted in @p anomalies instead ("capture.*").
  bool next(Frame& out, AnomalyCounters& anomalies);
  const FileInfo& info() const { return info_; }
  /// Raw bytes of the input read so far (compressed bytes for gzip), for progress; at most
  /// size() when that is known.
  std::uint64_t position() const;
  /// Size of a regular file; 0 when unknown (pipes, FIFOs, devices).
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
  /// Opens every file in order; on the first failure returns false with @p error naming the
  /// file. Standard input ("-") may be given once.
  ///
  /// With @p follow (borrowed, must outlive the reader) exactly one path is accepted and
  /// followed (FollowControl); several are refused with an error. Merging by time needs every
  /// file's next frame, so one quiet file would hold back all the others for as long as it
  /// stays quiet: a merged view of growing files would be late or out of order.
  bool open(const std::vector<std::string>& paths, std::string& error,
            const FollowControl* follow = nullptr);
  /// The next frame in time order across files; false when all are exhausted.
  bool next(Frame& out);
  std::vector<FileInfo> files() const;
  AnomalyCounters& anomalies() { return anomalies_; }
  /// Fraction of all input bytes read so far, 0..1 (for a progress display), over the inputs
  /// whose size is known; 1 once every input is finished.
  double progress() const;

 private:
  struct Slot {
    std::unique_ptr<FileReader> reader;
    Frame frame;
    bool has = false;
  };
  void prime();  ///< reads every file's first frame

  std::vector<Slot> slots_;
  AnomalyCounters anomalies_;
  bool primed_ = false;
  int last_ = -1;  ///< slot whose frame was handed out last (advanced on the next call)
};

}  // namespace fedscope::capture
