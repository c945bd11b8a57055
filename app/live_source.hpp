#pragma once
// What the live commands (`capture`, `tui -i`) share: the clock, the capture described as a
// source, its statistics as an event, and the default filter's widening.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fedscope/base/time.hpp"
#include "fedscope/capture/live.hpp"
#include "fedscope/report/live.hpp"
#include "fedscope/tls/decrypt.hpp"

namespace fedscope::app {

Timestamp wall_now();

/// The judging options `capture` and `tui` share, checked: --inside-net ranges into @p inside,
/// --domain names, --tls-keylog files loaded into @p keylog (a file others can read is warned
/// about). Returns the exit status when one is wrong (said on standard error), else nullopt.
std::optional<int> judging_options(const std::string& command,
                                   const std::vector<std::string>& inside_nets,
                                   const std::vector<std::string>& domains,
                                   const std::vector<std::string>& keylogs,
                                   std::vector<Cidr>& inside, tls::KeyLog& keylog);

/// The capture as the report names it: @p path ("live", or the -w file so evidence reads the
/// same) with one interface per device.
capture::FileInfo live_source_info(const capture::LiveCapture& cap, const std::string& path,
                                   const std::string& name);

report::CaptureStatsEvent stats_event(const capture::LiveCapture& cap, Timestamp now, bool final);

/// The default filter follows the ports SRV answers name for federation (a typo like 5369 is
/// exactly what must be seen), at most kMaxWidened of them. A user's own filter is left alone.
/// Best effort: packets already queued under the old filter are not seen again, so a
/// connection that starts within microseconds of the answer shows from its retransmissions.
class FilterWidener {
 public:
  static constexpr std::size_t kMaxWidened = 16;
  explicit FilterWidener(bool default_filter) : enabled_(default_filter) {}
  /// Widens @p filter when the analysis learnt new ports; true with @p note (what was done, or
  /// why it could not be) when it tried.
  bool update(capture::LiveCapture& cap, const report::LiveAnalysis& live, std::string& filter,
              std::string& note);

 private:
  bool enabled_;
  std::vector<std::uint16_t> widened_;
};

}  // namespace fedscope::app
