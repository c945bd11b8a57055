// fedscope: the one executable. It only wires subcommands to the libraries.

#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "fedscope/packet/packet.hpp"
#include "fedscope/report/analysis.hpp"
#include "fedscope/report/findings.hpp"

namespace po = boost::program_options;
using namespace fedscope;

namespace {

constexpr const char* kVersion = FEDSCOPE_VERSION;
constexpr int kExitOk = 0, kExitFindings = 1, kExitUsage = 2;

void print_main_help(std::ostream& os) {
  os << "fedscope " << kVersion
     << " — find why XMPP federation (TCP 5269) fails\n\n"
        "usage: fedscope <command> [options]\n\n"
        "commands:\n"
        "  report FILE...   analyse captures (pcap/pcapng) and report findings\n"
        "  findings         list the findings catalogue\n\n"
        "options:\n"
        "  -h, --help       this help; `fedscope <command> --help` for a command\n"
        "  --version        print the version\n\n"
        "exit status: 0 no error-level findings, 1 error-level findings, 2 usage error or\n"
        "unreadable input.\n";
}

int cmd_report(const std::vector<std::string>& args) {
  po::options_description opts("fedscope report [options] FILE...");
  std::string format = "text", output;
  std::vector<std::string> inside, domains, files;
  double dns_timeout = 5.0;
  // clang-format off
  opts.add_options()
    ("help,h", "this help")
    ("format,f", po::value(&format)->default_value("text"), "text or json")
    ("output,o", po::value(&output), "write the report to FILE instead of standard output")
    ("inside-net", po::value(&inside)->composing(),
     "CIDR of your inside network (repeatable), e.g. 192.0.2.0/24")
    ("domain", po::value(&domains)->composing(),
     "an XMPP domain that is yours (repeatable); remedies then say \"your\" or \"the peer's\"")
    ("dns-timeout", po::value(&dns_timeout)->default_value(5.0),
     "seconds after which an unanswered DNS query counts as unanswered");
  // clang-format on
  po::options_description hidden;
  hidden.add_options()("file", po::value(&files)->composing());
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("file", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "fedscope report: " << e.what() << "\n" << opts;
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << opts
              << "\nFILE: one or more captures (one per vantage point or interface), merged by "
                 "time.\nExit status: 0 no error-level findings, 1 error-level findings, 2 usage "
                 "error or unreadable input.\n";
    return kExitOk;
  }
  if (files.empty()) {
    std::cerr << "fedscope report: no capture file given\n" << opts;
    return kExitUsage;
  }
  if (format != "text" && format != "json") {
    std::cerr << "fedscope report: --format must be text or json, not '" << format << "'\n";
    return kExitUsage;
  }
  if (!(dns_timeout > 0)) {
    std::cerr << "fedscope report: --dns-timeout must be a positive number of seconds\n";
    return kExitUsage;
  }
  report::Options o;
  o.files = files;
  o.domains = domains;
  o.engine.dns_timeout_seconds = dns_timeout;
  for (const auto& c : inside) {
    auto cidr = Cidr::parse(c);
    if (!cidr) {
      std::cerr << "fedscope report: --inside-net: '" << c
                << "' is not an address range like 192.0.2.0/24\n";
      return kExitUsage;
    }
    o.inside_nets.push_back(*cidr);
  }
  if (isatty(STDERR_FILENO)) {
    o.progress = [](double f) {
      std::fprintf(stderr, "\rreading: %3d%%", static_cast<int>(f * 100));
      if (f >= 1.0) std::fprintf(stderr, "\r             \r");
      std::fflush(stderr);
    };
  }
  report::Result result;
  std::string error;
  if (!report::analyze(o, result, error)) {
    std::cerr << "fedscope report: " << error << "\n";
    return kExitUsage;
  }
  for (const auto& f : result.files) {
    if (f.interfaces.empty() && f.packets > 0 && packet::linktype_supported(f.linktype).empty())
      std::cerr << "fedscope report: warning: " << f.path << ": link type " << f.linktype_name
                << " (" << f.linktype << ") is not decoded; its " << f.packets
                << " packets are counted as link.unsupported_linktype\n";
    for (const auto& i : f.interfaces)
      if (i.packets > 0 && packet::linktype_supported(i.linktype).empty())
        std::cerr << "fedscope report: warning: " << f.path << ": interface " << i.id
                  << (i.name.empty() ? "" : " (" + i.name + ")") << ": link type "
                  << i.linktype_name << " (" << i.linktype << ") is not decoded; its " << i.packets
                  << " packets are counted as link.unsupported_linktype\n";
    if (!f.complete)
      std::cerr << "fedscope report: warning: " << f.path
                << ": read stopped at a damaged record after " << f.packets << " packets ("
                << f.error << ")\n";
  }
  std::ofstream file;
  if (!output.empty() && output != "-") {
    file.open(output, std::ios::binary);
    if (!file) {
      std::cerr << "fedscope report: cannot write " << output << "\n";
      return kExitUsage;
    }
  }
  std::ostream& out = file.is_open() ? static_cast<std::ostream&>(file) : std::cout;
  if (format == "json")
    report::render_json(result, out);
  else
    out << report::render_text(result);
  out.flush();
  if (!out) {
    std::cerr << "fedscope report: cannot write " << (output.empty() ? "standard output" : output)
              << "\n";
    return kExitUsage;
  }
  return result.errors() > 0 ? kExitFindings : kExitOk;
}

int cmd_findings(const std::vector<std::string>& args) {
  bool markdown = false;
  for (const auto& a : args) {
    if (a == "--markdown")
      markdown = true;
    else if (a == "-h" || a == "--help") {
      std::cout << "usage: fedscope findings [--markdown]\n  lists every finding code with its "
                   "severity and title; --markdown prints docs/findings.md\n";
      return kExitOk;
    } else {
      std::cerr << "fedscope findings: unknown option " << a << "\n";
      return kExitUsage;
    }
  }
  if (markdown) {
    std::cout << report::catalogue_markdown();
    return kExitOk;
  }
  for (const auto& e : report::catalogue()) {
    std::printf("%-26s %-8s %s\n", std::string(e.code).c_str(),
                std::string(report::to_string(e.severity)).c_str(), std::string(e.title).c_str());
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_main_help(std::cerr);
    return kExitUsage;
  }
  const std::string cmd = args.front();
  std::vector<std::string> rest(args.begin() + 1, args.end());
  try {
    if (cmd == "-h" || cmd == "--help" || cmd == "help") {
      print_main_help(std::cout);
      return kExitOk;
    }
    if (cmd == "--version" || cmd == "version") {
      std::cout << "fedscope " << kVersion << "\n";
      return kExitOk;
    }
    if (cmd == "report") return cmd_report(rest);
    if (cmd == "findings") return cmd_findings(rest);
  } catch (const std::exception& e) {
    // Only setup can throw here (allocation, option parsing); the data path does not.
    std::cerr << "fedscope: " << e.what() << "\n";
    return kExitUsage;
  }
  std::cerr << "fedscope: unknown command '" << cmd << "'\n\n";
  print_main_help(std::cerr);
  return kExitUsage;
}
