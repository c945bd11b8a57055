// Saved captures read for the view (source.hpp).

#include "fedscope/tui/source.hpp"

#include <chrono>
#include <optional>

#include "fedscope/report/analysis.hpp"

namespace fedscope::tui {

bool read_saved(const std::vector<std::string>& inputs, capture::MergedReader& reader,
                report::LiveConfig lc, EventQueue& queue, const std::atomic<bool>& stop,
                capture::FollowControl* follow, const std::function<void(const Frame&)>& on_frame) {
  using Clock = std::chrono::steady_clock;
  lc.max_records = 0;  // a saved capture is judged whole, as `fedscope report` judges it
  lc.max_full_records = 0;
  report::LiveAnalysis la(lc, reader.files(), &queue);
  std::string name;
  for (const auto& f : report::distinct_file_names(inputs))
    name += (name.empty() ? "" : ", ") + f;
  auto status = [&](SourceState state) {
    queue.update_status([&](SourceStatus& s) {
      s.name = name;
      s.live = false;
      s.state = state;
      s.progress = reader.progress();
      s.files = inputs.size();
      s.packets = 0;
      s.bytes = 0;
      bool any = false;
      for (const auto& f : reader.files()) {
        s.packets += f.packets;
        s.bytes += f.bytes;
        if (!f.packets) continue;
        if (!any || f.first < s.first) s.first = f.first;
        if (!any || f.last > s.last) s.last = f.last;
        any = true;
      }
    });
  };
  status(SourceState::kReading);
  std::uint64_t judged_at = 0;  // frames read at the last flush while following
  std::uint64_t n = 0;
  if (follow)
    follow->set_on_wait([&] {
      if (n != judged_at) {
        la.set_sources(reader.files());
        la.flush();
        judged_at = n;
      }
      status(SourceState::kFollowing);
    });
  Frame frame;
  auto next_status = Clock::now();
  auto next_flush = Clock::now() + std::chrono::milliseconds(300);
  while (!stop && reader.next(frame)) {
    if (on_frame) on_frame(frame);
    la.on_frame(frame);
    ++n;
    // While following, a frame after a wait is news: show reading again at once.
    if ((n & 1023) != 0 && !(follow && follow->waiting())) continue;
    const auto now = Clock::now();
    if (now >= next_status || (follow && follow->waiting())) {
      status(SourceState::kReading);
      next_status = now + std::chrono::milliseconds(100);
    }
    if (now >= next_flush) {
      la.set_sources(reader.files());
      const auto t0 = Clock::now();
      la.flush();
      const auto took = Clock::now() - t0;
      next_flush =
          Clock::now() + std::max<Clock::duration>(std::chrono::milliseconds(500), 10 * took);
    }
  }
  if (follow) follow->set_on_wait(nullptr);
  if (stop) return false;
  la.set_sources(reader.files());
  std::optional<Timestamp> end;
  Timestamp last;
  for (const auto& f : reader.files()) {
    if (f.end_time && (!end || *f.end_time > *end)) end = f.end_time;
    if (f.last > last) last = f.last;
  }
  report::Result result;
  la.finish(end ? *end : last, result);
  for (const auto& f : reader.files())
    if (!f.complete) queue.message(f.name + ": reading stopped early: " + f.error);
  status(SourceState::kDone);
  return true;
}

}  // namespace fedscope::tui
