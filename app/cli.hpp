#pragma once
// What the subcommands share: exit statuses and the usage-error habit.

#include <boost/program_options.hpp>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace fedscope::app {

inline constexpr int kExitOk = 0, kExitFindings = 1, kExitUsage = 2, kExitNothing = 3;

/// One line saying what is wrong, one saying where to read more (tcpdump/git habit): the whole
/// option list after every typo hides the message. Returns kExitUsage.
int usage_error(const std::string& command, const std::string& message);

/// Parses a subcommand's @p args: @p options, and the remaining words into @p words.
/// Returns the exit status when the command is done already (a usage error said, or --help
/// printed with @p print_help), nullopt to go on.
std::optional<int> parse_command_line(const std::string& command,
                                      const std::vector<std::string>& args,
                                      const boost::program_options::options_description& options,
                                      std::vector<std::string>& words,
                                      boost::program_options::variables_map& vm,
                                      void (*print_help)(std::ostream&));

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
