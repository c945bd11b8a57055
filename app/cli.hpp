#pragma once
// What the subcommands share: exit statuses and the usage-error habit.

#include <iosfwd>
#include <string>
#include <vector>

namespace fedscope::app {

inline constexpr int kExitOk = 0, kExitFindings = 1, kExitUsage = 2, kExitNothing = 3;

/// One line saying what is wrong, one saying where to read more (tcpdump/git habit): the whole
/// option list after every typo hides the message. Returns kExitUsage.
int usage_error(const std::string& command, const std::string& message);

/// The zone name for `--time local` (TZ as given, else what /etc/localtime links to; ""
/// when unknown).
std::string local_zone_name();

/// `fedscope capture`: app/capture.cpp.
int cmd_capture(const std::vector<std::string>& args);
void print_capture_help(std::ostream& os);

/// `fedscope tui`: app/tui.cpp.
int cmd_tui(const std::vector<std::string>& args);
void print_tui_help(std::ostream& os);

}  // namespace fedscope::app
