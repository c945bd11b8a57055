#pragma once
// Internal: what both saves share: decode a frame, match it against the selector, write the
// matching ones to a temporary pcapng file with one IDB per (file, interface) as they come,
// and at the end rename it over the output (or remove it when nothing matched or it failed).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "fedscope/base/anomaly.hpp"
#include "fedscope/capture/pcapng_writer.hpp"
#include "fedscope/packet/packet.hpp"
#include "fedscope/tui/extract.hpp"

namespace fedscope::tui::detail {

/// How a (file, interface) of the source is described in the output.
using DescribeInterface =
    std::function<capture::PcapngInterface(std::uint16_t file, std::int32_t interface, int dlt)>;

class SessionWriter {
 public:
  SessionWriter(const SessionSelector& selector, std::string out_path);
  ~SessionWriter();  ///< removes the temporary file unless finish() renamed it
  SessionWriter(const SessionWriter&) = delete;
  SessionWriter& operator=(const SessionWriter&) = delete;

  /// Creates the temporary file; false with @p error in words naming @p out_path.
  bool open(std::string& error);
  /// Decodes @p frame and writes it when it matches; false only when the output failed.
  bool offer(const Frame& frame, const DescribeInterface& describe, std::string& error);
  std::uint64_t written() const { return written_; }
  std::uint64_t examined() const { return examined_; }
  /// Closes and renames into place; false with @p error when that failed.
  bool commit(std::string& error);

 private:
  std::string in_words(const std::string& writer_error) const;

  const SessionSelector& selector_;
  std::string out_path_, temp_path_;
  AnomalyCounters anomalies_;  ///< the decoder's; a save reports none of them
  packet::Decoder decoder_;
  std::unique_ptr<capture::PcapngWriter> writer_;
  std::map<std::pair<std::uint16_t, std::int32_t>, std::int32_t> ids_;  ///< source -> output
  std::uint64_t written_ = 0, examined_ = 0;
  bool committed_ = false;
};

/// "12:03:04 UTC"
std::string clock_time(Timestamp t);

}  // namespace fedscope::tui::detail
