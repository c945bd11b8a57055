#include "cli.hpp"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

namespace fedscope::app {

int usage_error(const std::string& command, const std::string& message) {
  const std::string prefix = command.empty() ? "fedscope" : "fedscope " + command;
  std::cerr << prefix << ": " << message << "\n"
            << "see `" << prefix << " --help`\n";
  return kExitUsage;
}

std::optional<int> parse_command_line(const std::string& command,
                                      const std::vector<std::string>& args,
                                      const boost::program_options::options_description& options,
                                      std::vector<std::string>& words,
                                      boost::program_options::variables_map& vm,
                                      void (*print_help)(std::ostream&)) {
  namespace po = boost::program_options;
  po::options_description hidden;
  hidden.add_options()("fedscope-words", po::value(&words)->composing());
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description pos;
  pos.add("fedscope-words", -1);
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(command, e.what());
  }
  if (vm.count("help")) {
    print_help(std::cout);
    return kExitOk;
  }
  return std::nullopt;
}

// The zone name for `--time local`'s header: TZ as given, else what /etc/localtime links to.
std::string local_zone_name() {
  if (const char* tz = std::getenv("TZ")) {
    std::string s = tz;
    if (!s.empty() && s.front() == ':') s.erase(0, 1);
    return s.empty() ? "UTC" : s;
  }
  char buf[512];
  const ssize_t n = ::readlink("/etc/localtime", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string link(buf, static_cast<std::size_t>(n));
  auto at = link.find("zoneinfo/");
  return at == std::string::npos ? "" : link.substr(at + 9);
}

}  // namespace fedscope::app
