#pragma once
// Internal: the two ways FileReader reads a file (libpcap for classic pcap, our own reader for
// pcapng) behind one small interface. Both read from an Input that FileReader opened once and
// owns; a source borrows it and must not outlive it. Not installed, not part of the public API.

#include <cstdint>
#include <memory>
#include <string>

#include "fedscope/base/anomaly.hpp"
#include "fedscope/base/frame.hpp"
#include "fedscope/capture/reader.hpp"
#include "input.hpp"

namespace fedscope::capture::detail {

/// One open capture file. A source fills the per-record fields of a Frame (time, linktype,
/// interface, wire_length, data; data borrowed from the source's buffer until its next call)
/// and keeps FileInfo's description of the file (link type, snaplen, interfaces) current;
/// FileReader does the numbering and the per-file counters.
class Source {
 public:
  virtual ~Source() = default;
  /// The next record. Returns false at the end or at a damaged record; for the latter it
  /// sets info.complete = false and info.error (FileReader counts "capture.damaged_record").
  /// Records it skips are counted in @p anomalies.
  virtual bool next(Frame& out, FileInfo& info, AnomalyCounters& anomalies) = 0;
};

/// libpcap's name of a DLT_* value ("EN10MB", "RAW", ...), "DLT_<n>" when it has none.
std::string dlt_name(int dlt);

/// Classic pcap, read by libpcap through a stdio stream over @p input (glibc fopencookie), so
/// libpcap never opens the path itself. @p input is borrowed and must outlive the source. On
/// failure returns nullptr and sets @p error to libpcap's words.
std::unique_ptr<Source> open_libpcap_source(Input& input, FileInfo& info, std::string& error);

/// pcapng; @p input must start with a Section Header Block. @p input is borrowed and must
/// outlive the source. On failure returns nullptr and sets @p error to what is wrong with the
/// start of the file.
std::unique_ptr<Source> open_pcapng_source(Input& input, FileInfo& info, std::string& error);

}  // namespace fedscope::capture::detail
