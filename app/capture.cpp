// `fedscope capture`: federation as it happens. libpcap devices -> LiveAnalysis (the report's
// engine and judges, on a wall-clock tick) -> the event stream (JSON lines or text), with the
// frames written to pcapng when asked; at the end, the same report `fedscope report` gives.

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "fedscope/base/domain.hpp"
#include "fedscope/capture/live.hpp"
#include "fedscope/capture/pcapng_writer.hpp"
#include "fedscope/report/live.hpp"
#include "fedscope/report/time_format.hpp"
#include "fedscope/tls/decrypt.hpp"
#include "live_source.hpp"
#include "output.hpp"

namespace po = boost::program_options;

namespace fedscope::app {

namespace {

volatile sig_atomic_t g_stop = 0;
std::atomic<std::int64_t> g_stop_ms{0};  // CLOCK_MONOTONIC of the first signal
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

std::int64_t monotonic_ms() {  // async-signal-safe (clock_gettime)
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// The first SIGINT/SIGTERM ends the capture cleanly (final judging, statistics blocks, the
// report); a second one while that runs ends the process at once, as tcpdump's does. A
// second one within a second of the first is the same request delivered twice, not an
// impatient user: timeout(1) forwards a signal to its command and then to its whole process
// group, so `kill -INT <timeout's pid>` reaches us twice within microseconds.
void on_signal(int sig) {
  if (g_stop) {
    if (monotonic_ms() - g_stop_ms.load() < 1000) return;
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  g_stop_ms.store(monotonic_ms());
  g_stop = sig;
}

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a closed pipe (| head) is a write error we see, not a death
}

struct CaptureArgs {
  std::vector<std::string> interfaces, filter_words, inside, domains, keylogs;
  std::string filter, write, format = "text", user, report, time = "utc";
  double rotate_mb = 0, dns_timeout = 5.0, duration = 0, stats_interval = 10;
  unsigned max_files = 0;
  std::uint64_t count = 0;
  std::size_t history = 10000;
  int snaplen = 262144, buffer_kib = 32768;
  bool no_promisc = false, quiet_sessions = false, immediate = false;
};

po::options_description capture_options(CaptureArgs& a) {
  po::options_description opts(
      "usage: fedscope capture -i IFACE [-i IFACE...] [options] [BPF FILTER WORDS...]\n\noptions");
  // clang-format off
  opts.add_options()
    ("help,h", "this help")
    ("interface,i", po::value(&a.interfaces)->composing(),
     "a device to capture on (repeatable; each is a vantage point, e.g. the outside and the "
     "inside of the firewall)")
    ("filter", po::value(&a.filter),
     "BPF filter (or give it as trailing words, as to tcpdump); default: tcp port 5269 or tcp "
     "port 5270 or port 53 or icmp or icmp6")
    ("write,w", po::value(&a.write),
     "also write the frames to FILE as pcapng (one interface block per device, statistics "
     "blocks at the end); `fedscope report FILE` then gives the same answer")
    ("rotate,C", po::value(&a.rotate_mb),
     "with -w: start a new file when the current one would exceed this many million bytes "
     "(tcpdump -C): FILE, FILE1, FILE2, ...")
    ("files,W", po::value(&a.max_files),
     "with -C: keep at most N files, FILE0..FILE{N-1}, overwritten in a ring (tcpdump -W)")
    ("format,f", po::value(&a.format)->default_value("text"),
     "text (verdicts, root causes and sessions as they change, then the report) or jsonl "
     "(every event as one JSON object per line, docs/events.schema.json)")
    ("report", po::value(&a.report),
     "at the end also write the JSON report (as `fedscope report --format json`) to FILE")
    ("relinquish-privileges,Z", po::value(&a.user),
     "after opening the devices, change to USER's uid and groups (as tcpdump -Z); -w files are "
     "created as USER")
    ("snaplen,s", po::value(&a.snaplen)->default_value(262144), "bytes kept per packet")
    ("buffer-size,B", po::value(&a.buffer_kib)->default_value(32768),
     "kernel capture buffer per device, in KiB (as tcpdump -B): it absorbs the pauses while "
     "the history is judged (up to about 0.1 s with a full history)")
    ("immediate-mode", po::bool_switch(&a.immediate),
     "hand each packet over at once (libpcap immediate mode) instead of at most 100 ms late; "
     "on Linux the kernel buffer then holds only buffer-size / snaplen packets (use -s 2048 "
     "-B 65536 at high rates)")
    ("no-promiscuous-mode,p", po::bool_switch(&a.no_promisc),
     "do not put the devices into promiscuous mode")
    ("count,c", po::value(&a.count), "stop after N packets")
    ("history", po::value(&a.history)->default_value(10000),
     "keep the latest N closed connections and N DNS transactions in the analysis (older ones "
     "leave it, their findings are withdrawn as expired; the -w file keeps everything): memory "
     "stays bounded on a long run (0: keep all)")
    ("duration", po::value(&a.duration), "stop after S seconds")
    ("stats-interval", po::value(&a.stats_interval)->default_value(10),
     "jsonl: capture statistics every S seconds (0: only at the end)")
    ("quiet-sessions", po::bool_switch(&a.quiet_sessions),
     "text: do not print sessions opening and closing, only verdicts and findings")
    ("time", po::value(&a.time)->default_value("utc"), "text: utc or local times")
    ("inside-net", po::value(&a.inside)->composing(),
     "CIDR of your inside network (repeatable), e.g. 192.0.2.0/24")
    ("domain", po::value(&a.domains)->composing(), "an XMPP domain that is yours (repeatable)")
    ("tls-keylog", po::value(&a.keylogs)->composing(),
     "an NSS key-log file (repeatable), read at the start: sessions it names are decrypted")
    ("dns-timeout", po::value(&a.dns_timeout)->default_value(5.0),
     "seconds after which an unanswered DNS query counts as unanswered");
  // clang-format on
  return opts;
}

// ---- the event stream ---------------------------------------------------------------------------

// Writes each event as it happens and flushes it: the reader is a person or a pipe to jq.
class StreamSink : public report::LiveSink {
 public:
  StreamSink(bool jsonl, bool sessions, report::TimeFormat time)
      : jsonl_(jsonl), sessions_(sessions), time_(time) {}

  // Text lines say what a person acts on, when it changes: a finding when it is raised (or
  // its severity changes, or it comes out from under a cause), folded or withdrawn — not each
  // time a count in its summary grows; a verdict when its status, stage or root cause
  // changes. Judging lines carry the time they were said; JSON lines carry everything.
  void on_finding(const report::FindingEvent& e) override {
    if (jsonl_) return put(report::event_json(e));
    if (shown_.size() > kMaxRemembered) shown_.clear();  // only the wording of later lines
    auto it = shown_.find(e.key);
    if (e.kind == report::EventKind::kWithdrawn) {
      if (it == shown_.end()) return;
      line(Timestamp{}, "finding",
           it->second.code + " withdrawn (" + std::string(report::to_string(e.reason)) + ")");
      shown_.erase(it);
      return;
    }
    if (!e.finding) return;
    const auto& f = *e.finding;
    const std::string code(report::to_string(f.code));
    if (e.kind == report::EventKind::kFolded) {
      if (it != shown_.end() || f.severity != report::Severity::kInfo)
        line(Timestamp{}, "finding",
             code + " is a consequence of " + e.cause.substr(0, e.cause.find('@')));
      shown_[e.key] = Shown{code, f.severity, true};
      return;
    }
    if (it != shown_.end() && it->second.severity == f.severity && !it->second.folded) return;
    if (it == shown_.end() && f.severity == report::Severity::kInfo) return;
    line(Timestamp{}, "finding",
         std::string(it == shown_.end() ? "" : "now ") +
             std::string(report::to_string(f.severity)) + " " + code +
             (f.flow ? " (flow " + std::to_string(*f.flow) + ")" : "") + ": " + f.summary);
    shown_[e.key] = Shown{code, f.severity, false};
  }
  void on_attempt(const report::AttemptEvent& e) override {
    if (jsonl_) put(report::event_json(e));
  }
  void on_verdict(const report::VerdictEvent& e) override {
    if (jsonl_) return put(report::event_json(e));
    if (!e.verdict) {
      if (verdicts_.erase(e.key)) line(Timestamp{}, "verdict", e.key + ": no longer judged");
      return;
    }
    const auto& v = *e.verdict;
    std::string said = v.status + "/" + v.basis + "/" + v.stage + "/" + v.root_cause_key;
    auto& last = verdicts_[e.key];
    if (last == said) return;
    last = std::move(said);
    std::string s = v.from + " -> " + v.to + ": " + v.status;
    if (!v.basis.empty()) s += " (" + v.basis + ")";
    if (v.status == "failed" && !v.stage.empty()) s += " at " + v.stage;
    if (!v.root_cause_key.empty())
      s += ", root cause " + v.root_cause_key.substr(0, v.root_cause_key.find('@'));
    s += " — " + v.why;
    line(Timestamp{}, "verdict", s);
  }
  void on_session(const report::SessionEvent& e) override {
    if (jsonl_) return put(report::event_json(e));
    if (!sessions_) return;
    std::string s = "#" + std::to_string(e.flow) + " ";
    switch (e.phase) {
      case report::SessionPhase::kOpened:
        s += "opened " + e.client + " -> " + e.server;
        if (!e.vantages.empty()) s += " on " + e.vantages.front();
        break;
      case report::SessionPhase::kProgress:
        if (e.steps.empty()) return;  // nothing new to say
        s += e.client + " -> " + e.server;
        break;
      case report::SessionPhase::kClosed:
        s += "closed " + e.state + (e.expired_idle ? " (idle)" : "") + ", " +
             std::to_string(e.packets) + " packets, " + std::to_string(e.client_bytes) + "/" +
             std::to_string(e.server_bytes) + " bytes";
        if (!e.stream.empty() && e.stream != "no-data") s += ", " + e.stream;
        if (!e.from_domain.empty() || !e.to_domain.empty())
          s += " " + (e.from_domain.empty() ? "?" : e.from_domain) + " -> " +
               (e.to_domain.empty() ? "?" : e.to_domain);
        if (!e.tls.empty()) s += ", TLS " + e.tls;
        break;
    }
    line(e.time, "session", s);
    for (const auto& st : e.steps)
      line(st.time, "  step",
           "#" + std::to_string(e.flow) + (st.from_client ? " client> " : " <server ") + st.text +
               (st.repeat > 1 ? " (x" + std::to_string(st.repeat) + ")" : ""));
  }
  void on_dns(const report::DnsEvent& e) override {
    if (jsonl_) return put(report::event_json(e));
    if (!sessions_) return;
    std::string s = e.query + " " + e.type + " " + e.outcome;
    if (!e.rcode.empty()) s += " " + e.rcode;
    for (std::size_t i = 0; i < e.answers.size() && i < 4; ++i)
      s += (i ? ", " : ": ") + e.answers[i];
    if (e.answers.size() > 4) s += ", ...";
    line(e.time, "dns", s);
  }
  void on_stats(const report::CaptureStatsEvent& e) override {
    if (jsonl_) return put(report::event_json(e));
    // Text: only what needs attention now — drops and failed devices.
    for (const auto& i : e.interfaces) {
      auto& last = dropped_[i.name];
      const std::uint64_t d = i.dropped + i.if_dropped;
      if (d > last) {
        line(e.time, "capture",
             i.name + ": " + std::to_string(d - last) +
                 " packets dropped (kernel buffer or interface); the analysis misses them");
        last = d;
      }
      if (i.down != down_[i.name]) {
        down_[i.name] = i.down;
        line(e.time, "capture",
             i.name + (i.down ? " is down: nothing is captured on it until it is up again"
                              : " is up again"));
      }
      if (i.failed && !failed_[i.name]) {
        failed_[i.name] = true;
        line(e.time, "capture", i.name + ": capture stopped: " + i.error);
      }
    }
  }

  bool ok() const { return !std::ferror(stdout); }

 private:
  void put(const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  void line(Timestamp t, const char* what, const std::string& text) {
    if (t.ns == 0) t = wall_now();
    std::string s = time_.time_of_day(t);
    s.resize(std::max<std::size_t>(s.size(), 16), ' ');
    char tag[16];
    std::snprintf(tag, sizeof tag, "%-8s", what);
    s += " ";
    s += tag;
    s += " ";
    s += text;
    put(s);
  }

  bool jsonl_, sessions_;
  report::TimeFormat time_;
  struct Shown {
    std::string code;
    report::Severity severity = report::Severity::kInfo;
    bool folded = false;
  };
  static constexpr std::size_t kMaxRemembered = 100000;
  std::map<std::string, Shown> shown_;           // text: findings said, by key
  std::map<std::string, std::string> verdicts_;  // text: the verdict last said, by FROM>TO
  std::map<std::string, std::uint64_t> dropped_;
  std::map<std::string, bool> failed_, down_;
};

std::vector<capture::PcapngInterfaceStats> isb_stats(const capture::LiveCapture& cap,
                                                     Timestamp end) {
  std::vector<capture::PcapngInterfaceStats> v;
  for (const auto& i : cap.interfaces()) {
    capture::PcapngInterfaceStats s;
    s.start = i.opened;
    s.end = end;
    s.received = i.stats.received;
    s.if_dropped = i.stats.if_dropped;
    s.os_dropped = i.stats.dropped;
    s.delivered = i.packets;
    v.push_back(s);
  }
  return v;
}

}  // namespace

void print_capture_help(std::ostream& os) {
  CaptureArgs a;
  os << capture_options(a)
     << "\nWatches federation as it happens on one or more devices and says what `fedscope "
        "report`\nwould say, while it happens: sessions opening and closing with their ladder, "
        "DNS answers,\nfindings raised, updated, folded and withdrawn, and the verdict of each "
        "federation\ndirection as it changes. Ctrl-C (or SIGTERM, -c, --duration) ends the "
        "capture with the\nfinal report. Capturing needs root or CAP_NET_RAW; with -Z the rest "
        "runs as USER.\nMessage bodies are never read into events or reports (the -w file holds "
        "the packets).\nExit status as `fedscope report`: 0 ok, 1 a direction failed or an "
        "error-level root\ncause, 2 usage error or a device that cannot be opened, 3 nothing to "
        "judge.\n";
}

int cmd_capture(const std::vector<std::string>& args) {
  CaptureArgs a;
  po::options_description opts = capture_options(a);
  po::variables_map vm;
  if (auto rc = parse_command_line("capture", args, opts, a.filter_words, vm, print_capture_help))
    return *rc;
  if (a.interfaces.empty())
    return usage_error("capture", "no device given (-i IFACE; `ip link` lists them)");
  if (a.format == "json") a.format = "jsonl";
  if (a.format != "text" && a.format != "jsonl")
    return usage_error("capture", "--format must be text or jsonl, not '" + a.format + "'");
  if (!a.filter.empty() && !a.filter_words.empty())
    return usage_error("capture", "give the filter either with --filter or as trailing words");
  std::string filter = a.filter;
  for (const auto& w : a.filter_words)
    filter += (filter.empty() ? "" : " ") + w;
  if (filter.empty() && !vm.count("filter")) filter = capture::kDefaultLiveFilter;
  if ((vm.count("rotate") || vm.count("files")) && a.write.empty())
    return usage_error("capture", "-C and -W need -w FILE");
  if (vm.count("files") && !vm.count("rotate"))
    return usage_error("capture", "-W needs -C (the size at which a new file starts)");
  if (vm.count("rotate") && !(a.rotate_mb > 0))
    return usage_error("capture", "-C must be a positive number of million bytes");
  if (!(a.dns_timeout > 0))
    return usage_error("capture", "--dns-timeout must be a positive number of seconds");
  if (a.duration < 0 || a.stats_interval < 0)
    return usage_error("capture", "--duration and --stats-interval must not be negative");
  if (a.snaplen <= 0 || a.buffer_kib <= 0)
    return usage_error("capture", "-s and -B must be positive");
  report::TimeStyle time_style = report::TimeStyle::kUtc;
  if (!report::parse_time_style(a.time, time_style) || time_style == report::TimeStyle::kRelative)
    return usage_error("capture", "--time must be utc or local, not '" + a.time + "'");
  std::vector<Cidr> inside;
  tls::KeyLog keylog;
  if (auto rc = judging_options("capture", a.inside, a.domains, a.keylogs, inside, keylog))
    return *rc;

  // Devices first (they need the privileges), then give them up, then create files as the user.
  capture::LiveOptions lo;
  lo.interfaces = a.interfaces;
  lo.filter = filter;
  lo.snaplen = a.snaplen;
  lo.buffer_bytes = a.buffer_kib * 1024;
  lo.promiscuous = !a.no_promisc;
  lo.immediate = a.immediate;
  std::string error;
  auto cap = capture::LiveCapture::open(lo, error);
  if (!cap) {
    std::cerr << "fedscope capture: " << error << "\n";
    return kExitUsage;
  }
  if (!a.user.empty() && !capture::drop_privileges(a.user, error)) {
    std::cerr << "fedscope capture: " << error << "\n";
    return kExitUsage;
  }
  std::unique_ptr<capture::PcapngWriter> writer;
  if (!a.write.empty()) {
    capture::PcapngWriterOptions wo;
    wo.path = a.write;
    wo.rotate_bytes = static_cast<std::uint64_t>(std::llround(a.rotate_mb * 1e6));
    wo.max_files = a.max_files;
    wo.application = std::string("fedscope ") + FEDSCOPE_VERSION;
    std::vector<capture::PcapngInterface> ifs;
    for (const auto& i : cap->interfaces())
      ifs.push_back(capture::PcapngInterface{i.name, i.description, i.linktype, i.snaplen});
    writer = capture::PcapngWriter::open(wo, std::move(ifs), error);
    if (!writer) {
      std::cerr << "fedscope capture: -w: " << error << "\n";
      return kExitUsage;
    }
  }
  std::unique_ptr<Output> report_out;
  if (!a.report.empty()) {
    report_out = Output::open(a.report, {}, error);
    if (!report_out) {
      std::cerr << "fedscope capture: --report: " << error << "\n";
      return kExitUsage;
    }
  }

  // The capture as the report will name it: the -w file (so evidence reads the same), else
  // the devices.
  std::string names;
  for (const auto& i : cap->interfaces())
    names += (names.empty() ? "" : ",") + i.name;
  capture::FileInfo source = live_source_info(*cap, a.write.empty() ? "live" : a.write,
                                              a.write.empty() ? "live capture" : a.write);

  report::LiveConfig lc;
  lc.inside_nets = inside;
  lc.domains = a.domains;
  lc.engine.dns_timeout_seconds = a.dns_timeout;
  lc.max_records = a.history;
  lc.max_full_records = std::min<std::size_t>(lc.max_full_records, a.history ? a.history : 2000);
  if (!a.keylogs.empty()) {
    lc.engine.keylog = &keylog;
    lc.keylog_files = a.keylogs.size();
  }
  const Timestamp start = wall_now();
  StreamSink sink(
      a.format == "jsonl", !a.quiet_sessions,
      report::TimeFormat(time_style, start,
                         time_style == report::TimeStyle::kLocal ? local_zone_name() : ""));
  report::LiveAnalysis live(lc, source, &sink);

  std::cerr << "fedscope capture: listening on " << names << " (";
  for (std::size_t k = 0; k < cap->interfaces().size(); ++k)
    std::cerr << (k ? ", " : "") << cap->interfaces()[k].linktype_name;
  std::cerr << "), filter '" << filter << "'" << (a.write.empty() ? "" : ", writing " + a.write)
            << "; Ctrl-C ends it\n";
  for (const auto& i : cap->interfaces())
    if (!i.warning.empty())
      std::cerr << "fedscope capture: warning: " << i.name << ": " << i.warning << "\n";

  install_signals();
  std::string write_error;
  bool write_failed = false;
  Timestamp next_stats = start + Duration::seconds(a.stats_interval);
  const auto on_frame = [&](const Frame& f) {
    if (writer && !write_failed && !writer->write(f, write_error)) {
      write_failed = true;
      std::cerr << "fedscope capture: -w: " << write_error
                << "; the file stops here, the analysis goes on\n";
    }
    live.on_frame(f);
  };
  // The default filter follows the ports SRV answers name (live_source.hpp).
  FilterWidener widener(a.filter.empty() && a.filter_words.empty() && !vm.count("filter"));
  bool all_failed = false;
  constexpr Duration kHousekeeping = Duration::millis(50);
  Timestamp next_housekeeping = start;
  while (!g_stop) {
    const int n = cap->poll(200, on_frame);
    const Timestamp now = wall_now();
    if (n < 0) {
      all_failed = true;
      break;
    }
    if (n > 0) {
      std::string note;
      if (widener.update(*cap, live, filter, note))
        std::cerr << "fedscope capture: " << note << "\n";
    }
    if (a.count && live.frames() >= a.count) break;
    // In immediate mode poll() returns for every packet; the clock, the judges, statistics
    // and the file's flush run at most every kHousekeeping, not per packet (a per-packet
    // syscall and timer walk cost more than the analysis at tens of thousands of packets/s).
    if (n > 0 && now < next_housekeeping) continue;
    next_housekeeping = now + kHousekeeping;
    live.tick(now);
    if (a.stats_interval > 0 && now >= next_stats) {
      cap->update_stats();
      live.send_stats(stats_event(*cap, now, false));
      next_stats = now + Duration::seconds(a.stats_interval);
    }
    if (writer && !write_failed && !writer->flush(write_error)) {
      write_failed = true;
      std::cerr << "fedscope capture: -w: " << write_error << "\n";
    }
    if (a.duration > 0 && (now - start).seconds() >= a.duration) break;
    if (!sink.ok()) break;  // the reader went away (a closed pipe)
  }
  // What the kernel still holds (a block not yet handed over waits up to the delivery
  // timeout): read it before the end, bounded.
  if (!all_failed)
    for (int i = 0; i < 8 && cap->poll(lo.timeout_ms + 50, on_frame) > 0; ++i) {
    }
  const Timestamp end = wall_now();
  cap->update_stats();
  for (const auto& i : cap->interfaces())
    if (i.failed)
      std::cerr << "fedscope capture: " << i.name << ": capture stopped: " << i.error << "\n";
  if (all_failed) std::cerr << "fedscope capture: no device left to capture on\n";
  if (writer && !write_failed && !writer->close(isb_stats(*cap, end), write_error))
    std::cerr << "fedscope capture: -w: " << write_error << "\n";
  report::Result result;
  live.finish(end, result);
  // What the devices counted, as the -w file's statistics blocks say it (the report of that
  // file shows the same).
  if (!result.files.empty())
    for (std::size_t k = 0; k < cap->interfaces().size(); ++k)
      if (k < result.files.front().interfaces.size()) {
        auto& i = result.files.front().interfaces[k];
        const auto& d = cap->interfaces()[k];
        i.isb_start = d.opened;
        i.isb_end = end;
        i.isb_received = d.stats.received;
        i.isb_os_dropped = d.stats.dropped;
        i.isb_if_dropped = d.stats.if_dropped;
      }
  result.anomalies.merge(cap->anomalies());
  result.anomalies.merge(keylog.anomalies());
  live.send_stats(stats_event(*cap, end, true));
  std::uint64_t dropped = 0;
  for (const auto& i : cap->interfaces())
    dropped += i.stats.dropped + i.stats.if_dropped;
  std::cerr << "fedscope capture: " << live.frames() << " packets captured, " << dropped
            << " dropped, " << live.events() << " events\n";
  if (a.format == "text") {
    report::TextOptions text;
    text.time =
        report::TimeFormat(time_style, result.stats.first,
                           time_style == report::TimeStyle::kLocal ? local_zone_name() : "");
    std::cout << "\n" << report::render_text(result, text) << std::flush;
  }
  if (report_out) {
    report::render_json(result, report_out->stream());
    if (!report_out->commit(error)) {
      std::cerr << "fedscope capture: --report: " << error << "\n";
      return kExitUsage;
    }
  }
  return result.exit_status();
}

}  // namespace fedscope::app
