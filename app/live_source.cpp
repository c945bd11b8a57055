// What the live commands share (live_source.hpp).

#include "live_source.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>

#include "cli.hpp"
#include "fedscope/base/domain.hpp"

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

std::optional<int> judging_options(const std::string& command,
                                   const std::vector<std::string>& inside_nets,
                                   const std::vector<std::string>& domains,
                                   const std::vector<std::string>& keylogs,
                                   std::vector<Cidr>& inside, tls::KeyLog& keylog) {
  for (const auto& c : inside_nets) {
    auto cidr = Cidr::parse(c);
    if (!cidr)
      return usage_error(command,
                         "--inside-net: '" + c + "' is not an address range like 192.0.2.0/24");
    inside.push_back(*cidr);
  }
  for (const auto& d : domains) {
    const DomainKey k = make_domain_key(d);
    if (k.key.empty() || k.key == ".")
      return usage_error(command, "--domain: '" + d + "' is not a domain name");
  }
  for (const auto& k : keylogs) {
    std::string why;
    if (!keylog.load_file(k, why)) {
      std::cerr << "fedscope " << command << ": --tls-keylog: " << why << "\n";
      return kExitUsage;
    }
    if (tls::keylog_file_exposed(k))
      std::cerr << "fedscope " << command << ": warning: --tls-keylog " << k
                << " can be read by other users (chmod 600 " << k << ")\n";
  }
  return std::nullopt;
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
