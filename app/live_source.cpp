// What the live commands share (live_source.hpp).

#include "live_source.hpp"

#include <algorithm>
#include <chrono>

namespace fedscope::app {

Timestamp wall_now() {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return Timestamp{static_cast<std::int64_t>(ns)};
}

report::CaptureStatsEvent stats_event(const capture::LiveCapture& cap, Timestamp now, bool final) {
  report::CaptureStatsEvent e;
  e.time = now;
  e.final = final;
  for (const auto& i : cap.interfaces()) {
    report::CaptureStatsEvent::Interface x;
    x.name = i.name;
    x.packets = i.packets;
    x.received = i.stats.received;
    x.dropped = i.stats.dropped;
    x.if_dropped = i.stats.if_dropped;
    x.down = i.down;
    x.failed = i.failed;
    x.error = i.error;
    e.interfaces.push_back(std::move(x));
  }
  return e;
}

capture::FileInfo live_source_info(const capture::LiveCapture& cap, const std::string& path,
                                   const std::string& name) {
  capture::FileInfo source;
  source.path = path;
  source.name = name;
  source.format = path == "live" ? "live" : "pcapng";
  for (std::size_t k = 0; k < cap.interfaces().size(); ++k) {
    const auto& i = cap.interfaces()[k];
    capture::InterfaceInfo info;
    info.id = static_cast<std::int32_t>(k);
    info.name = i.name;
    info.description = i.description;
    info.linktype = i.linktype;
    info.linktype_name = i.linktype_name;
    info.snaplen = i.snaplen;
    source.interfaces.push_back(std::move(info));
  }
  source.linktype = source.interfaces.empty() ? 0 : source.interfaces.front().linktype;
  // Named as the pcapng reader names the -w file: each link type once, in interface order.
  for (const auto& i : source.interfaces)
    if (("," + source.linktype_name + ",").find("," + i.linktype_name + ",") == std::string::npos)
      source.linktype_name += (source.linktype_name.empty() ? "" : ",") + i.linktype_name;
  source.snaplen = source.interfaces.empty() ? 0 : source.interfaces.front().snaplen;
  return source;
}

bool FilterWidener::update(capture::LiveCapture& cap, const report::LiveAnalysis& live,
                           std::string& filter, std::string& note) {
  if (!enabled_ || widened_.size() >= kMaxWidened) return false;
  bool more = false;
  for (auto p : live.federation_ports())
    if (p != 5269 && p != 5270 && widened_.size() < kMaxWidened &&
        std::find(widened_.begin(), widened_.end(), p) == widened_.end()) {
      widened_.push_back(p);
      more = true;
    }
  if (!more) return false;
  filter = capture::kDefaultLiveFilter;
  for (auto p : widened_)
    filter += " or tcp port " + std::to_string(p);
  std::string error;
  if (cap.set_filter(filter, error))
    note = "an SRV answer names another federation port; filter now '" + filter + "'";
  else
    note = "could not widen the filter: " + error;
  return true;
}

}  // namespace fedscope::app
