// fedscope: the one executable. It only wires subcommands to the libraries.

#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli.hpp"
#include "fedscope/base/domain.hpp"
#include "fedscope/packet/packet.hpp"
#include "fedscope/report/analysis.hpp"
#include "fedscope/report/events.hpp"
#include "fedscope/report/findings.hpp"
#include "fedscope/tls/decrypt.hpp"
#include "output.hpp"

namespace po = boost::program_options;
using namespace fedscope;

using app::kExitFindings;
using app::kExitNothing;
using app::kExitOk;
using app::kExitUsage;
using app::local_zone_name;
using app::usage_error;

namespace {

constexpr const char* kVersion = FEDSCOPE_VERSION;
constexpr const char* kCommands[] = {"report", "capture", "tui", "findings", "help", "version"};

void print_main_help(std::ostream& os) {
  os << "fedscope " << kVersion
     << " — find why XMPP federation (TCP 5269) fails\n\n"
        "usage: fedscope <command> [options]\n\n"
        "commands:\n"
        "  report FILE...     analyse captures (pcap/pcapng, gzip'd or not; - for standard\n"
        "                     input) and report findings\n"
        "  capture -i IFACE   watch federation live on devices: events as they happen, then\n"
        "                     the report (optionally writing pcapng with -w)\n"
        "  tui FILE... | -i IFACE  browse sessions, verdicts and findings in the terminal,\n"
        "                     of saved captures or live devices\n"
        "  findings [CODE]    the findings catalogue, or one finding's meaning and remedy\n"
        "  help [COMMAND]     this help, or a command's\n\n"
        "options:\n"
        "  -h, --help         this help; `fedscope help <command>` for a command\n"
        "  -V, --version      print the version\n\n"
        "exit status: 0 every direction seen works (ok or degraded, no error-level root\n"
        "cause), 1 a federation direction failed or an error-level root cause, 2 usage error\n"
        "or unreadable input, 3 nothing to judge (no federation traffic in the capture). Not\n"
        "the monitoring-plugin convention: 2 stays \"usage error\".\n";
}

// Levenshtein distance, for "did you mean" on short words (commands, finding codes).
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// --events: one JSON object per line, as the judge sends them.
class JsonLinesSink : public report::EventSink {
 public:
  explicit JsonLinesSink(std::ostream& os) : os_(os) {}
  void on_finding(const report::FindingEvent& e) override { os_ << report::event_json(e) << '\n'; }
  void on_attempt(const report::AttemptEvent& e) override { os_ << report::event_json(e) << '\n'; }
  void on_verdict(const report::VerdictEvent& e) override { os_ << report::event_json(e) << '\n'; }

 private:
  std::ostream& os_;
};

// The analysis has two stages (issue #12): a second core runs the per-connection analyzers.
unsigned default_threads() {
  return std::thread::hardware_concurrency() >= 2 ? 2 : 1;
}

po::options_description report_options(std::string& format, std::string& output,
                                       std::vector<std::string>& inside,
                                       std::vector<std::string>& domains,
                                       std::vector<std::string>& files, double& dns_timeout,
                                       std::string& time, std::string& events, bool& summary,
                                       bool& compact, unsigned& threads,
                                       std::vector<std::string>& keylogs) {
  po::options_description opts("usage: fedscope report [options] FILE...\n\noptions");
  // clang-format off
  opts.add_options()
    ("help,h", "this help")
    ("read,r", po::value(&files)->composing(),
     "a capture to read (like tcpdump -r; the same as giving FILE)")
    ("format,f", po::value(&format)->default_value("text"), "text or json")
    ("compact", po::bool_switch(&compact),
     "json: the whole report on one line without spaces (for machines); the default is "
     "indented by 2")
    ("output,o", po::value(&output),
     "write the report to FILE (written in full, then renamed into place) instead of standard "
     "output")
    ("time", po::value(&time)->default_value("utc"),
     "how the text report shows times: utc, local (this machine's zone, from TZ) or relative "
     "(seconds since the first packet); JSON is always UTC")
    ("inside-net", po::value(&inside)->composing(),
     "CIDR of your inside network (repeatable), e.g. 192.0.2.0/24")
    ("domain", po::value(&domains)->composing(),
     "an XMPP domain that is yours (repeatable); remedies then say \"your\" or \"the peer's\"")
    ("tls-keylog", po::value(&keylogs)->composing(),
     "an NSS key-log file (SSLKEYLOGFILE, Wireshark's tls.keylog_file; repeatable): TLS 1.2 "
     "and 1.3 sessions whose client random it names are decrypted, and what was said inside "
     "TLS is judged as observed. The secrets are never printed")
    ("dns-timeout", po::value(&dns_timeout)->default_value(5.0),
     "seconds after which an unanswered DNS query counts as unanswered")
    ("summary", po::bool_switch(&summary),
     "text: only the verdicts and the root causes (no folded consequences, no stories, no "
     "counts)")
    ("events", po::value(&events),
     "also write the judging events to FILE as JSON lines (docs/events.schema.json): the "
     "capture replayed as a live run sees it, findings raised, updated and withdrawn as "
     "records arrive, open connections every 10 s of packet time")
    ("threads", po::value(&threads)->default_value(0),
     "1 or 2: with 2 the XMPP/TLS analysis of each connection runs on a second thread (the "
     "output is the same); 0: the number of cores, at most 2. --events uses 1");
  // clang-format on
  return opts;
}

void print_report_help(std::ostream& os) {
  std::string a, b, c, h;
  std::vector<std::string> d, e, f, l;
  double g = 0;
  bool s = false, k = false;
  unsigned t = 1;
  os << report_options(a, b, d, e, f, g, c, h, s, k, t, l)
     << "\nFILE: one or more captures (one per vantage point or interface), merged by time:\n"
        "pcap or pcapng, gzip-compressed or not; `-` (or /dev/stdin, a FIFO, <(zcat x.gz)) reads\n"
        "standard input in one pass, e.g. `ssh fw tcpdump -w - ... | fedscope report -`.\n"
        "Exit status: 0 every direction seen works (ok or degraded, no error-level root cause),\n"
        "1 a federation direction failed or an error-level root cause, 2 usage error or\n"
        "unreadable input, 3 nothing to judge (no federation traffic in the capture). Not the\n"
        "monitoring-plugin convention: 2 stays \"usage error\".\n";
}

void print_findings_help(std::ostream& os) {
  os << "usage: fedscope findings [--format text|json|markdown] [CODE...]\n\n"
        "Without CODE: every finding code with its severity and title. With CODE: what it means\n"
        "and the remedy (a word that is no code lists the codes containing it, e.g. `tls`).\n\n"
        "options:\n"
        "  -f, --format FMT   text (default), json ({\"findings\": [...]}) or markdown\n"
        "                     (docs/findings.md)\n"
        "  --markdown         the same as --format markdown\n"
        "  -h, --help         this help\n";
}

int cmd_report(const std::vector<std::string>& args) {
  std::string format = "text", output, time = "utc";
  std::vector<std::string> inside, domains, files, keylogs;
  std::string events_path;
  double dns_timeout = 5.0;
  bool summary = false, compact = false;
  unsigned threads = 1;
  po::options_description opts =
      report_options(format, output, inside, domains, files, dns_timeout, time, events_path,
                     summary, compact, threads, keylogs);
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
    return usage_error("report", e.what());
  }
  if (vm.count("help")) {
    print_report_help(std::cout);
    return kExitOk;
  }
  if (files.empty()) return usage_error("report", "no capture file given");
  if (format != "text" && format != "json")
    return usage_error("report", "--format must be text or json, not '" + format + "'");
  report::TimeStyle time_style = report::TimeStyle::kUtc;
  if (!report::parse_time_style(time, time_style))
    return usage_error("report", "--time must be utc, local or relative, not '" + time + "'");
  if (!(dns_timeout > 0))
    return usage_error("report", "--dns-timeout must be a positive number of seconds");
  if (threads > 2)
    return usage_error("report", "--threads must be 1 or 2 (0: the cores, at most 2)");
  if (threads == 0) threads = default_threads();
  report::Options o;
  for (const auto& d : domains) {
    // Compared in one form (case, trailing dot, IDN) by the judges; say so when a name cannot
    // be a domain at all, since it will then match nothing.
    const DomainKey k = make_domain_key(d);
    if (k.key.empty() || k.key == ".")
      return usage_error("report", "--domain: '" + d + "' is not a domain name");
    if (k.status != DomainStatus::kOk)
      std::cerr << "fedscope report: warning: --domain '" << d << "' is not a valid "
                << (k.status == DomainStatus::kTooLong ? "domain name (too long)"
                                                       : "internationalised domain name")
                << "; it is compared as written, in lower case\n";
    o.domains.push_back(d);
  }
  o.engine.dns_timeout_seconds = dns_timeout;
  o.engine.threads = threads;
  // The key logs are read before the captures: a wrong path should not cost a long run.
  tls::KeyLog keylog;
  for (const auto& k : keylogs) {
    std::string why;
    if (!keylog.load_file(k, why)) {
      std::cerr << "fedscope report: --tls-keylog: " << why << "\n";
      return kExitUsage;
    }
    if (tls::keylog_file_exposed(k))
      std::cerr << "fedscope report: warning: --tls-keylog " << k
                << " can be read by other users; it decrypts every session it names (chmod 600 "
                << k << ")\n";
  }
  if (!keylogs.empty()) {
    if (keylog.size() == 0)
      std::cerr << "fedscope report: warning: --tls-keylog: no usable secret in "
                << (keylogs.size() == 1 ? keylogs.front() : "the key logs")
                << " (expected lines like CLIENT_RANDOM <64 hex> <96 hex>)\n";
    o.engine.keylog = &keylog;
    o.keylog_files = keylogs.size();
  }
  for (const auto& c : inside) {
    auto cidr = Cidr::parse(c);
    if (!cidr)
      return usage_error("report",
                         "--inside-net: '" + c + "' is not an address range like 192.0.2.0/24");
    o.inside_nets.push_back(*cidr);
  }
  // The same input twice (a path and a link to it, `-` and /dev/stdin) is read once: its packets
  // would otherwise look like a second vantage point seeing every packet again.
  std::vector<app::FileId> ids;
  for (const auto& f : files) {
    const app::FileId id = app::identify(f);
    auto same = std::find(ids.begin(), ids.end(), id);
    if (same != ids.end()) {
      std::cerr << "fedscope report: warning: " << f << " is the same input as "
                << o.files[static_cast<std::size_t>(same - ids.begin())] << "; reading it once\n";
      continue;
    }
    ids.push_back(id);
    o.files.push_back(f);
  }
  // The destination is checked and created before the analysis: a typo in -o should not cost
  // a long run, and a capture must never be overwritten by its own report.
  std::string error;
  auto out = app::Output::open(output, ids, error);
  if (!out) {
    std::cerr << "fedscope report: " << error << "\n";
    return kExitUsage;
  }
  // The event log is checked and created before the analysis too, and is no input either.
  std::unique_ptr<app::Output> events_out;
  std::unique_ptr<JsonLinesSink> events_sink;
  if (vm.count("events")) {
    if (events_path == "-" && (output.empty() || output == "-"))
      return usage_error("report", "--events - and the report would both go to standard output");
    events_out = app::Output::open(events_path, ids, error);
    if (!events_out) {
      std::cerr << "fedscope report: --events: " << error << "\n";
      return kExitUsage;
    }
    events_sink = std::make_unique<JsonLinesSink>(events_out->stream());
    o.events = events_sink.get();
  }
  if (isatty(STDERR_FILENO)) {
    o.progress = [](double f) {
      std::fprintf(stderr, "\rreading: %3d%%", static_cast<int>(f * 100));
      if (f >= 1.0) std::fprintf(stderr, "\r             \r");
      std::fflush(stderr);
    };
  }
  report::Result result;
  if (!report::analyze(o, result, error)) {
    std::cerr << "fedscope report: " << error << "\n";
    return kExitUsage;
  }
  result.anomalies.merge(keylog.anomalies());
  for (const auto& f : result.files) {
    const std::string& name = f.name;
    if (f.interfaces.empty() && f.packets > 0 && packet::linktype_supported(f.linktype).empty())
      std::cerr << "fedscope report: warning: " << name << ": link type " << f.linktype_name << " ("
                << f.linktype << ") is not decoded; its " << f.packets
                << " packets are counted as link.unsupported_linktype\n";
    for (const auto& i : f.interfaces)
      if (i.packets > 0 && packet::linktype_supported(i.linktype).empty())
        std::cerr << "fedscope report: warning: " << name << ": interface " << i.id
                  << (i.name.empty() ? "" : " (" + i.name + ")") << ": link type "
                  << i.linktype_name << " (" << i.linktype << ") is not decoded; its " << i.packets
                  << " packets are counted as link.unsupported_linktype\n";
    if (!f.complete)
      std::cerr << "fedscope report: warning: " << name << ": reading stopped early, after "
                << f.packets << " packets (" << f.error << "); the report covers what was read\n";
  }
  const auto render_start = std::chrono::steady_clock::now();
  if (format == "json") {
    report::JsonOptions json;
    json.compact = compact;
    report::render_json(result, out->stream(), json);
  } else {
    report::TextOptions text;
    text.summary = summary;
    text.time =
        report::TimeFormat(time_style, result.stats.first,
                           time_style == report::TimeStyle::kLocal ? local_zone_name() : "");
    out->stream() << report::render_text(result, text);
  }
  if (!out->commit(error) || (events_out && !events_out->commit(error))) {
    std::cerr << "fedscope report: " << error << "\n";
    return kExitUsage;
  }
  const auto rendered = std::chrono::steady_clock::now();
  // Where the time went, for benchmarks (bench/README.md); wall clock, so noisy machines show.
  if (std::getenv("FEDSCOPE_TIMING"))
    std::fprintf(stderr, "timing: read+dissect %.3f s, judge %.3f s, render %.3f s\n",
                 result.read_seconds, result.judge_seconds,
                 std::chrono::duration<double>(rendered - render_start).count());
  static_assert(kExitFindings == 1 && kExitNothing == 3, "Result::exit_status() values");
  return result.exit_status();
}

int cmd_findings(const std::vector<std::string>& args) {
  std::string format = "text";
  std::vector<std::string> codes;
  po::options_description opts;
  // clang-format off
  opts.add_options()
    ("help,h", "")
    ("format,f", po::value(&format)->default_value("text"), "")
    ("markdown", "")
    ("code", po::value(&codes)->composing(), "");
  // clang-format on
  po::positional_options_description pos;
  pos.add("code", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error("findings", e.what());
  }
  if (vm.count("help")) {
    print_findings_help(std::cout);
    return kExitOk;
  }
  if (vm.count("markdown")) format = "markdown";
  if (format != "text" && format != "json" && format != "markdown")
    return usage_error("findings", "--format must be text, json or markdown, not '" + format + "'");
  if (format == "markdown") {
    if (!codes.empty()) return usage_error("findings", "--markdown prints the whole catalogue");
    std::cout << report::catalogue_markdown();
    return kExitOk;
  }
  // Which entries: all, or each CODE (exact), or the codes that contain a word.
  std::vector<const report::CatalogueEntry*> picked;
  bool exact = true;
  for (const auto& want : codes) {
    if (const auto* e = report::find_entry(want)) {
      picked.push_back(e);
      continue;
    }
    std::size_t before = picked.size();
    for (const auto& e : report::catalogue())
      if (e.text.find(want) != std::string_view::npos) picked.push_back(&e);
    if (picked.size() > before) {
      exact = false;
      continue;
    }
    std::string best;
    std::size_t best_d = 4;  // more edits than this is another word, not a typo
    for (const auto& e : report::catalogue()) {
      const std::size_t d = edit_distance(want, std::string(e.text));
      if (d < best_d) {
        best_d = d;
        best = e.text;
      }
    }
    std::cerr << "fedscope findings: unknown finding code '" << want << "'"
              << (best.empty() ? "" : "; did you mean " + best + "?") << "\n"
              << "see `fedscope findings` for the list\n";
    return kExitUsage;
  }
  const bool all = codes.empty();
  if (all)
    for (const auto& e : report::catalogue())
      picked.push_back(&e);
  if (format == "json") {
    std::cout << report::catalogue_json(picked);
    return kExitOk;
  }
  if (!all && exact) {
    for (std::size_t i = 0; i < picked.size(); ++i)
      std::cout << (i ? "\n" : "") << report::catalogue_entry_text(*picked[i]);
    return kExitOk;
  }
  for (const auto* e : picked)
    std::printf("%-26s %-8s %s\n", std::string(e->text).c_str(),
                std::string(report::to_string(e->severity)).c_str(), std::string(e->title).c_str());
  return kExitOk;
}

// `fedscope x.pcap`, `fedscope -r x.pcap`, `fedscope reprot x.pcap`: say what was probably
// meant instead of only "unknown command".
int unknown_command(const std::vector<std::string>& args) {
  const std::string& cmd = args.front();
  std::string rest;
  for (const auto& a : args)
    rest += " " + a;
  if (cmd == "-r" || cmd == "--read" || (cmd.size() > 2 && cmd.rfind("-r", 0) == 0))
    return usage_error(
        "", "'" + cmd + "' belongs to a command; did you mean `fedscope report" + rest + "`?");
  if (!cmd.empty() && cmd.front() == '-') return usage_error("", "unknown option '" + cmd + "'");
  const bool looks_like_file =
      cmd.find('/') != std::string::npos || cmd.find(".pcap") != std::string::npos ||
      cmd.find(".cap") != std::string::npos || cmd.find(".gz") != std::string::npos ||
      ::access(cmd.c_str(), F_OK) == 0;
  if (looks_like_file)
    return usage_error(
        "", "'" + cmd + "' is not a command; did you mean `fedscope report" + rest + "`?");
  for (const char* known : kCommands)
    if (edit_distance(cmd, known) <= 2)
      return usage_error("", "unknown command '" + cmd + "'; did you mean `" + known + "`?");
  return usage_error("",
                     "unknown command '" + cmd + "' (commands: report, capture, findings, help)");
}

int cmd_help(const std::vector<std::string>& args) {
  if (args.empty()) {
    print_main_help(std::cout);
    return kExitOk;
  }
  if (args.size() > 1) return usage_error("help", "give one command, e.g. `fedscope help report`");
  if (args.front() == "report") {
    print_report_help(std::cout);
    return kExitOk;
  }
  if (args.front() == "capture") {
    app::print_capture_help(std::cout);
    return kExitOk;
  }
  if (args.front() == "tui") {
    app::print_tui_help(std::cout);
    return kExitOk;
  }
  if (args.front() == "findings") {
    print_findings_help(std::cout);
    return kExitOk;
  }
  if (args.front() == "help" || args.front() == "version") {
    print_main_help(std::cout);
    return kExitOk;
  }
  return usage_error(
      "help", "no command '" + args.front() + "' (commands: report, capture, tui, findings)");
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
    if (cmd == "-h" || cmd == "--help") {
      print_main_help(std::cout);
      return kExitOk;
    }
    if (cmd == "help") return cmd_help(rest);
    if (cmd == "--version" || cmd == "-V" || cmd == "version") {
      std::cout << "fedscope " << kVersion << "\n";
      return kExitOk;
    }
    if (cmd == "report") return cmd_report(rest);
    if (cmd == "capture") return app::cmd_capture(rest);
    if (cmd == "tui") return app::cmd_tui(rest);
    if (cmd == "findings") return cmd_findings(rest);
  } catch (const std::exception& e) {
    // Only setup can throw here (allocation, option parsing); the data path does not.
    std::cerr << "fedscope: " << e.what() << "\n";
    return kExitUsage;
  }
  return unknown_command(args);
}
