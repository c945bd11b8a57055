#pragma once
/// @file
/// Saved captures read for the view: capture::MergedReader -> report::LiveAnalysis ->
/// EventQueue, on the caller's (analysis) thread. Judged on a wall-clock schedule that keeps
/// judging under about a tenth of the time, so a large file is browsable while it is read;
/// at the end the queue holds exactly what `fedscope report` says of the same files.

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "fedscope/capture/reader.hpp"
#include "fedscope/report/live.hpp"
#include "fedscope/tui/model.hpp"

namespace fedscope::tui {

/// Reads @p reader (already opened on @p inputs) to its end, or until @p stop. @p config's
/// history bounds are ignored: a saved capture is judged whole, as the report judges it. The
/// status (SourceStatus) is kept current in @p queue; it ends as kDone, with a message per
/// file that could not be read to its end. Returns false when stopped early.
///
/// With @p follow (the control @p reader was opened with), the file is followed as it grows:
/// whenever the reader waits for data, what was read is judged and the status says
/// kFollowing; packet time moves with the packets only (a replayed old file is not expired
/// by the wall clock). follow->request_stop() makes the data end there; the rest is as above.
/// @p on_frame, when set, sees every frame first (the TUI keeps frames of inputs it cannot
/// read again, such as standard input, in a ring for saving).
bool read_saved(const std::vector<std::string>& inputs, capture::MergedReader& reader,
                report::LiveConfig config, EventQueue& queue, const std::atomic<bool>& stop,
                capture::FollowControl* follow = nullptr,
                const std::function<void(const Frame&)>& on_frame = {});

}  // namespace fedscope::tui
