// `fedscope tui`: the ncurses view of saved captures and live interfaces. The analysis runs in
// its own thread (saved files through capture::MergedReader, devices through LiveCapture),
// both into report::LiveAnalysis, whose events reach the view through a tui::EventQueue; the
// UI thread folds them into the tui::Model, lays out a Screen with tui::View and paints it.

#include <signal.h>
#include <clocale>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli.hpp"
#include "fedscope/base/domain.hpp"
#include "fedscope/capture/live.hpp"
#include "fedscope/capture/reader.hpp"
#include "fedscope/report/live.hpp"
#include "fedscope/tls/decrypt.hpp"
#include "fedscope/tui/extract.hpp"
#include "fedscope/tui/model.hpp"
#include "fedscope/tui/source.hpp"
#include "fedscope/tui/terminal.hpp"
#include "live_source.hpp"

namespace po = boost::program_options;

namespace fedscope::app {
namespace {

volatile sig_atomic_t g_quit = 0;
void on_quit_signal(int) {
  g_quit = 1;
}

struct TuiArgs {
  std::vector<std::string> inputs, interfaces, inside, domains, keylogs;
  std::string filter, user, dump;
  double dns_timeout = 5.0;
  std::size_t history = 10000;
  double ring_mb = 64;
  int snaplen = 262144, buffer_kib = 32768;
  bool follow = false, ascii = false, no_promisc = false, immediate = false;
};

po::options_description tui_options(TuiArgs& a) {
  po::options_description o(
      "usage: fedscope tui [options] CAPTURE...\n"
      "       fedscope tui [options] -i IFACE [-i IFACE...] [BPF filter words]\n\noptions");
  o.add_options()("help,h", "this help")(
      "interface,i", po::value(&a.interfaces)->composing(),
      "watch a device live (repeat for several capture points, e.g. both sides of a firewall)")(
      "filter", po::value(&a.filter),
      "live: BPF filter (default: federation ports, DNS and ICMP, as `fedscope capture`)")(
      "follow,f", po::bool_switch(&a.follow),
      "read a capture file that is still being written on, like tail -f; also selects the "
      "newest session as sessions arrive (the f key turns it off and on)")(
      "inside-net", po::value(&a.inside)->composing(), "CIDR behind the firewall (repeatable)")(
      "domain", po::value(&a.domains)->composing(), "a domain that is ours (repeatable)")(
      "tls-keylog", po::value(&a.keylogs)->composing(),
      "SSLKEYLOGFILE to read inside TLS (repeatable)")(
      "dns-timeout", po::value(&a.dns_timeout)->default_value(5.0),
      "seconds before a DNS query counts as unanswered")(
      "history", po::value(&a.history)->default_value(10000),
      "live: closed connections judged at most (older ones leave the history)")(
      "ring", po::value(&a.ring_mb)->default_value(64),
      "live: MB of recent packets kept so a session's packets can be saved (s)")(
      "snaplen,s", po::value(&a.snaplen)->default_value(262144), "live: bytes kept per packet")(
      "buffer-size,B", po::value(&a.buffer_kib)->default_value(32768),
      "live: kernel buffer per device, KiB")(
      "no-promiscuous-mode,p", po::bool_switch(&a.no_promisc), "live: not promiscuous")(
      "immediate-mode", po::bool_switch(&a.immediate), "live: deliver every packet at once")(
      "relinquish-privileges,Z", po::value(&a.user), "live: run as USER once devices are open")(
      "ascii", po::bool_switch(&a.ascii), "ASCII only, even in a UTF-8 terminal")(
      "dump", po::value(&a.dump),
      "no terminal: read the capture, then print the main screen laid out for COLSxLINES "
      "(e.g. 100x30) as plain text, and exit");
  return o;
}

// ---- the analysis thread ----------------------------------------------------------------------

struct Shared {
  tui::EventQueue queue;
  std::atomic<bool> stop{false};
  std::atomic<bool> done{false};
  std::unique_ptr<tui::FrameRing> ring;  // live: recent frames for saving a session
};

report::LiveConfig live_config(const TuiArgs& a, const std::vector<Cidr>& inside,
                               const tls::KeyLog* keylog) {
  report::LiveConfig lc;
  lc.inside_nets = inside;
  lc.domains = a.domains;
  lc.engine.dns_timeout_seconds = a.dns_timeout;
  if (keylog) {
    lc.engine.keylog = keylog;
    lc.keylog_files = a.keylogs.size();
  }
  return lc;
}

void run_live(const TuiArgs& a, report::LiveConfig lc, capture::LiveCapture& cap,
              std::string filter, bool default_filter, Shared& sh) {
  lc.max_records = a.history;
  lc.max_full_records = std::min<std::size_t>(lc.max_full_records, a.history ? a.history : 2000);
  std::string names;
  for (const auto& i : cap.interfaces())
    names += (names.empty() ? "" : ", ") + i.name;
  report::LiveAnalysis la(lc, live_source_info(cap, "live", "live capture"), &sh.queue);
  sh.queue.update_status([&](tui::SourceStatus& s) {
    s.name = "live: " + names;
    s.live = true;
    s.state = tui::SourceState::kLive;
  });
  FilterWidener widener(default_filter);
  const Timestamp start = wall_now();
  Timestamp next_stats = start, next_housekeeping = start;
  const auto on_frame = [&](const Frame& f) {
    if (sh.ring) sh.ring->push(f);
    la.on_frame(f);
  };
  bool all_failed = false;
  while (!sh.stop) {
    const int n = cap.poll(200, on_frame);
    const Timestamp now = wall_now();
    if (n < 0) {
      all_failed = true;
      break;
    }
    if (n > 0) {
      std::string note;
      if (widener.update(cap, la, filter, note)) sh.queue.message(note);
    }
    if (n > 0 && now < next_housekeeping) continue;
    next_housekeeping = now + Duration::millis(50);
    la.tick(now);
    if (now >= next_stats) {
      cap.update_stats();
      la.send_stats(stats_event(cap, now, false));
      sh.queue.update_status([&](tui::SourceStatus& s) {
        if (s.first.ns == 0) s.first = start;
        s.last = now;
        for (const auto& i : cap.interfaces())
          if (i.failed) s.message = i.name + ": capture stopped: " + i.error;
      });
      next_stats = now + Duration::seconds(1);
    }
  }
  if (all_failed) {
    sh.queue.message("no device left to capture on");
    sh.queue.update_status([](tui::SourceStatus& s) { s.state = tui::SourceState::kFailed; });
  }
  if (sh.stop) return;
  report::Result result;
  la.finish(wall_now(), result);
  sh.done = true;
}

// A session's packets saved (the s key): its legs at their capture points and the DNS
// exchanges of its attempt, re-read from the files, or from the live ring.
tui::SessionSelector selector_of(const tui::Session& s, const std::vector<report::DnsEvent>& dns) {
  tui::SessionSelector sel;
  for (const auto& l : s.legs) {
    tui::LegSelector leg;
    leg.client = l.client;
    leg.server = l.server;
    leg.vantage.file = l.file;
    leg.vantage.interface = l.interface;
    leg.vantage.ifindex = l.ifindex;
    leg.start = l.start;
    leg.last = l.last;
    sel.legs.push_back(leg);
  }
  for (const auto& d : dns) {
    tui::DnsSelector x;
    x.client = d.client_endpoint;
    x.server = d.server_endpoint;
    x.txid = d.txid;
    x.tcp = d.tcp;
    x.start = d.time;
    x.last = d.answered ? std::max(*d.answered, d.time) : d.time + tui::kDnsNoAnswerWindow;
    sel.dns.push_back(x);
  }
  return sel;
}

void save_session(const tui::SessionSelector& sel, std::uint32_t flow, const std::string& path,
                  const TuiArgs& a, Shared& sh) {
  tui::SaveResult r;
  std::string error;
  const bool ok = sh.ring ? tui::save_from_ring(*sh.ring, sel, path, r, error)
                          : tui::save_from_files(a.inputs, sel, path, r, error);
  if (!ok) {
    sh.queue.message("flow " + std::to_string(flow) + ": not saved: " + error);
    return;
  }
  sh.queue.message("flow " + std::to_string(flow) + ": " +
                   (r.message.empty()
                        ? "saved " + std::to_string(r.frames_written) + " packets to " + path
                        : r.message));
}

// --dump COLSxLINES; "" when valid, else what is wrong.
std::string parse_dump(const std::string& text, int& w, int& h) {
  if (std::sscanf(text.c_str(), "%dx%d", &w, &h) != 2 || w <= 0 || h <= 0 || w > 1000 || h > 1000)
    return "--dump wants COLSxLINES, e.g. 100x30, not '" + text + "'";
  if (w < tui::View::kMinWidth || h < tui::View::kMinHeight)
    return "--dump " + text + " is smaller than the screen needs (" +
           std::to_string(tui::View::kMinWidth) + "x" + std::to_string(tui::View::kMinHeight) + ")";
  return "";
}

int dump_screen(const TuiArgs& a, int w, int h, Shared& sh) {
  tui::Model model;
  tui::View view(model, {!a.ascii, false});
  tui::Batch b;
  while (!sh.done && !sh.stop) {
    if (sh.queue.take(b)) model.apply(b);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  while (sh.queue.take(b))
    model.apply(b);
  std::cout << view.render(w, h).text();
  return kExitOk;
}

}  // namespace

void print_tui_help(std::ostream& os) {
  TuiArgs a;
  os << tui_options(a)
     << "\nBrowses federation sessions without a display-filter language: the verdict of each "
        "federation\ndirection at the top, the sessions (peer domains, state, TLS, "
        "authentication, findings),\nand for the selected one its ladder (DNS, TCP, XMPP) and "
        "findings with remedies. Saved\ncaptures open at once and fill in while they are "
        "read. Keys: arrows or j/k, PgUp/PgDn,\nHome/End, Enter opens a session, Tab changes "
        "pane (sessions, findings, DNS), / filters,\nf follows, s saves the session's packets, "
        "? help, q quits. NO_COLOR turns colour off.\nMessage bodies are never kept or shown.\n";
}

int cmd_tui(const std::vector<std::string>& args) {
  TuiArgs a;
  po::options_description opts = tui_options(a);
  po::variables_map vm;
  if (auto rc = parse_command_line("tui", args, opts, a.inputs, vm, print_tui_help)) return *rc;
  const bool live = !a.interfaces.empty();
  std::string filter = a.filter;
  if (live) {
    // Trailing words are the BPF filter, as with tcpdump and `fedscope capture`.
    if (!a.filter.empty() && !a.inputs.empty())
      return usage_error("tui", "give the filter either with --filter or as trailing words");
    for (const auto& w : a.inputs)
      filter += (filter.empty() ? "" : " ") + w;
    if (filter.empty() && !vm.count("filter")) filter = capture::kDefaultLiveFilter;
    if (!a.dump.empty()) return usage_error("tui", "--dump reads saved captures, not devices");
  } else if (a.inputs.empty()) {
    return usage_error("tui",
                       "no capture given (fedscope tui FILE..., or -i IFACE to watch "
                       "a device)");
  }
  int dump_w = 0, dump_h = 0;
  if (!a.dump.empty())
    if (auto why = parse_dump(a.dump, dump_w, dump_h); !why.empty()) return usage_error("tui", why);
  if (!(a.dns_timeout > 0))
    return usage_error("tui", "--dns-timeout must be a positive number of seconds");
  if (a.ring_mb < 0) return usage_error("tui", "--ring must not be negative");
  std::vector<Cidr> inside;
  tls::KeyLog keylog;
  if (auto rc = judging_options("tui", a.inside, a.domains, a.keylogs, inside, keylog)) return *rc;
  const auto lc = live_config(a, inside, a.keylogs.empty() ? nullptr : &keylog);

  // Inputs are opened before the terminal is taken, so their errors are plain lines.
  Shared sh;
  std::string error;
  capture::MergedReader reader;
  capture::FollowControl follow;  // --follow: a growing file is read on
  const bool following = a.follow && !live;
  std::unique_ptr<capture::LiveCapture> cap;
  if (live) {
    capture::LiveOptions lo;
    lo.interfaces = a.interfaces;
    lo.filter = filter;
    lo.snaplen = a.snaplen;
    lo.buffer_bytes = a.buffer_kib * 1024;
    lo.promiscuous = !a.no_promisc;
    lo.immediate = a.immediate;
    cap = capture::LiveCapture::open(lo, error);
    if (!cap) {
      std::cerr << "fedscope tui: " << error << "\n";
      return kExitUsage;
    }
    if (!a.user.empty() && !capture::drop_privileges(a.user, error)) {
      std::cerr << "fedscope tui: " << error << "\n";
      return kExitUsage;
    }
    if (a.ring_mb > 0) {
      tui::RingLimits limits;
      limits.max_bytes = static_cast<std::size_t>(a.ring_mb * 1e6);
      sh.ring = std::make_unique<tui::FrameRing>(limits);
      for (std::size_t k = 0; k < cap->interfaces().size(); ++k) {
        const auto& i = cap->interfaces()[k];
        sh.ring->describe_interface(
            0, static_cast<std::int32_t>(k),
            capture::PcapngInterface{i.name, i.description, i.linktype, i.snaplen});
      }
    }
  } else {
    if (following && a.inputs.size() != 1)
      return usage_error("tui",
                         "--follow reads one growing file (merging several by time "
                         "would wait on the quietest)");
    if (following && !a.dump.empty())
      return usage_error("tui", "--dump reads a capture to its end; it cannot --follow");
    if (!reader.open(a.inputs, error, following ? &follow : nullptr)) {
      std::cerr << "fedscope tui: " << error << "\n";
      return kExitUsage;
    }
    // Inputs that cannot be read again (standard input, pipes, process substitution): their
    // frames go into the ring as live frames do, so a session can still be saved.
    bool once = false;
    for (const auto& f : reader.files())
      if (f.path == "-" || !std::filesystem::is_regular_file(f.path)) once = true;
    if (once && a.ring_mb > 0) {
      tui::RingLimits limits;
      limits.max_bytes = static_cast<std::size_t>(a.ring_mb * 1e6);
      sh.ring = std::make_unique<tui::FrameRing>(limits);
      const auto files = reader.files();
      for (std::size_t k = 0; k < files.size(); ++k) {
        const auto& f = files[k];
        if (f.interfaces.empty())
          sh.ring->describe_interface(static_cast<std::uint16_t>(k), -1,
                                      capture::PcapngInterface{f.name, "", f.linktype, f.snaplen});
        for (const auto& i : f.interfaces)
          sh.ring->describe_interface(
              static_cast<std::uint16_t>(k), i.id,
              capture::PcapngInterface{i.name, i.description, i.linktype, i.snaplen});
      }
    }
  }

  std::unique_ptr<tui::Terminal> term;
  std::setlocale(LC_ALL, "");  // ncursesw draws UTF-8 only in a UTF-8 locale
  if (a.dump.empty()) {
    term = tui::Terminal::open(
        error, !live && std::find(a.inputs.begin(), a.inputs.end(), "-") != a.inputs.end());
    if (!term) {
      std::cerr << error << "\n";
      return kExitUsage;
    }
  }
  struct sigaction sa {};
  sa.sa_handler = on_quit_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);

  std::thread worker([&] {
    if (live)
      run_live(a, lc, *cap, filter, a.filter.empty() && a.inputs.empty() && !vm.count("filter"),
               sh);
    else
      sh.done = tui::read_saved(a.inputs, reader, lc, sh.queue, sh.stop,
                                following ? &follow : nullptr, [&](const Frame& f) {
                                  if (sh.ring) sh.ring->push(f);
                                });
  });
  int rc = kExitOk;
  if (!term) {
    rc = dump_screen(a, dump_w, dump_h, sh);
  } else {
    tui::Model model;
    tui::View view(model, {term->utf8() && !a.ascii, a.follow});
    tui::Batch b;
    std::vector<std::thread> savers;
    using Clock = std::chrono::steady_clock;
    auto last_draw = Clock::now() - std::chrono::seconds(1);
    bool dirty = true;
    while (!g_quit) {
      if (!view.paused() && sh.queue.take(b)) {
        model.apply(b);
        dirty = true;
      }
      const auto now = Clock::now();
      if (dirty && now - last_draw >= std::chrono::milliseconds(80)) {
        const auto [w, h] = term->size();
        term->draw(view.render(w, h));
        last_draw = now;
        dirty = false;
      }
      bool resized = false;
      const auto k = term->read_key(dirty ? 40 : 100, resized);
      if (resized) {
        dirty = true;
        last_draw = Clock::now() - std::chrono::seconds(1);
      }
      if (k.key == tui::Key::kNone) continue;
      const auto act = view.handle(k);
      dirty = true;
      last_draw = Clock::now() - std::chrono::seconds(1);  // a key is answered at once
      if (act.kind == tui::Action::Kind::kQuit) break;
      if (act.kind == tui::Action::Kind::kFollow && following && !act.follow &&
          !follow.stop_requested()) {
        follow.request_stop();
        sh.queue.message("stopped following: the file is judged as it is now");
      } else if (act.kind == tui::Action::Kind::kFollow && following && act.follow &&
                 follow.stop_requested()) {
        sh.queue.message("the file was read to its end; open it again with --follow to follow it");
      }
      if (act.kind == tui::Action::Kind::kSave) {
        if (const auto* s = model.session(act.flow)) {
          std::vector<report::DnsEvent> dns;
          if (auto key = model.attempt_of(act.flow); !key.empty())
            if (auto it = model.fold().attempts().find(key); it != model.fold().attempts().end())
              for (auto id : it->second.dns)
                if (const auto* d = model.dns_by_id(id)) dns.push_back(*d);
          sh.queue.message("flow " + std::to_string(act.flow) + ": saving to " + act.path);
          savers.emplace_back([sel = selector_of(*s, dns), flow = act.flow, path = act.path, &a,
                               &sh] { save_session(sel, flow, path, a, sh); });
        }
      }
    }
    sh.stop = true;
    follow.request_stop();
    for (auto& t : savers)
      t.join();
  }
  sh.stop = true;
  follow.request_stop();
  worker.join();
  term.reset();
  return rc;
}

}  // namespace fedscope::app
