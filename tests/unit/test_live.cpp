// report::LiveAnalysis, the live pipeline of `fedscope capture`: committed captures fed frame
// by frame with wall-clock ticks between them (a quiet link), against `report` of the same
// frames written to pcapng with an isb_endtime — the same findings, attempts and verdicts —
// and the event stream it sends (sessions, DNS, one sequence, folds to the result).

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fedscope/capture/pcapng_writer.hpp"
#include "fedscope/capture/reader.hpp"
#include "fedscope/report/analysis.hpp"
#include "fedscope/report/judge.hpp"
#include "fedscope/report/live.hpp"

namespace fedscope::report {
namespace {

std::string pcap(const std::string& rel) {
  return std::string(FEDSCOPE_SOURCE_DIR) + "/pcaps/" + rel;
}

struct Recorder : LiveSink {
  void on_finding(const FindingEvent& e) override {
    seqs.push_back(e.seq);
    fold.on_finding(e);
    if (e.finding) raised_codes.insert(std::string(to_string(e.finding->code)));
  }
  void on_attempt(const AttemptEvent& e) override {
    seqs.push_back(e.seq);
    fold.on_attempt(e);
  }
  void on_verdict(const VerdictEvent& e) override {
    seqs.push_back(e.seq);
    fold.on_verdict(e);
  }
  void on_session(const SessionEvent& e) override {
    seqs.push_back(e.seq);
    sessions.push_back(e);
  }
  void on_dns(const DnsEvent& e) override {
    seqs.push_back(e.seq);
    dns.push_back(e);
  }
  void on_stats(const CaptureStatsEvent& e) override { seqs.push_back(e.seq); }
  EventFold fold;
  std::vector<std::uint64_t> seqs;
  std::vector<SessionEvent> sessions;
  std::vector<DnsEvent> dns;
  std::set<std::string> raised_codes;
};

struct Frames {
  std::vector<Frame> frames;
  std::vector<std::vector<std::uint8_t>> data;
  capture::FileInfo info;
};

Frames read_all(const std::string& path) {
  Frames f;
  std::string error;
  auto r = capture::FileReader::open(path, 0, error);
  EXPECT_TRUE(r) << error;
  if (!r) return f;
  AnomalyCounters a;
  Frame fr;
  while (r->next(fr, a)) {
    f.data.emplace_back(fr.data.begin(), fr.data.end());
    fr.interface = 0;  // one device
    f.frames.push_back(fr);
  }
  for (std::size_t i = 0; i < f.frames.size(); ++i)
    f.frames[i].data = f.data[i];
  f.info = r->info();
  return f;
}

// The frames as `capture -w` writes them: one interface, an ISB with @p end.
std::string write_pcapng(const Frames& f, Timestamp end, const std::string& name) {
  const std::string path = ::testing::TempDir() + name + std::to_string(::getpid()) + ".pcapng";
  std::string error;
  capture::PcapngWriterOptions o;
  o.path = path;
  auto w = capture::PcapngWriter::open(
      o, {capture::PcapngInterface{"eth0", "", f.info.linktype, 262144}}, error);
  EXPECT_TRUE(w) << error;
  if (!w) return path;
  for (const auto& fr : f.frames)
    EXPECT_TRUE(w->write(fr, error)) << error;
  capture::PcapngInterfaceStats s;
  s.start = f.frames.empty() ? end : f.frames.front().time;
  s.end = end;
  s.received = f.frames.size();
  s.if_dropped = 0;
  EXPECT_TRUE(w->close({s}, error)) << error;
  return path;
}

capture::FileInfo live_source(const Frames& f, const std::string& path) {
  capture::FileInfo s;
  s.path = s.name = path;
  s.format = "pcapng";
  capture::InterfaceInfo i;
  i.name = "eth0";
  i.linktype = f.info.linktype;
  i.linktype_name = f.info.linktype_name;
  i.snaplen = 262144;
  s.interfaces.push_back(i);
  return s;
}

// Feeds @p f with a tick every 0.25 s of time between frames and after the last one until
// @p end, as `capture` does on a quiet link (wall time = packet time + the tick lag).
void run_live(LiveAnalysis& live, const Frames& f, Timestamp end, double lag) {
  Timestamp clock = f.frames.empty() ? end : f.frames.front().time;
  const Duration step = Duration::seconds(0.25), behind = Duration::seconds(lag);
  for (const auto& fr : f.frames) {
    while (clock + step < fr.time) {
      clock = clock + step;
      live.tick(clock + behind);
    }
    live.on_frame(fr);
  }
  while (clock + step < end) {
    clock = clock + step;
    live.tick(clock + behind);
  }
}

struct Case {
  const char* file;
  std::vector<std::string> domains;
  std::vector<std::string> inside;
  double tail;  ///< seconds the capture went on after its last packet
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.file << " +" << c.tail << "s";
}

class LiveSameAnswer : public ::testing::TestWithParam<Case> {};

TEST_P(LiveSameAnswer, AsTheReportOfItsFile) {
  const Case& c = GetParam();
  Frames f = read_all(pcap(c.file));
  ASSERT_FALSE(f.frames.empty());
  const Timestamp end = f.frames.back().time + Duration::seconds(c.tail);
  const std::string path = write_pcapng(f, end, "live_same_");

  LiveConfig lc;
  lc.domains = c.domains;
  for (const auto& s : c.inside)
    lc.inside_nets.push_back(*Cidr::parse(s));
  Recorder rec;
  LiveAnalysis live(lc, live_source(f, path), &rec);
  run_live(live, f, end, lc.tick_lag_seconds);
  Result got;
  live.finish(end, got);

  Options o;
  o.files = {path};
  o.domains = c.domains;
  o.inside_nets = lc.inside_nets;
  Result want;
  std::string error;
  ASSERT_TRUE(analyze(o, want, error)) << error;
  std::remove(path.c_str());
  ASSERT_TRUE(want.files.front().end_time);
  EXPECT_EQ(*want.files.front().end_time, end);

  EXPECT_EQ(got.findings, want.findings);
  EXPECT_EQ(got.verdicts, want.verdicts);
  ASSERT_EQ(got.attempts.size(), want.attempts.size());
  for (std::size_t i = 0; i < got.attempts.size(); ++i)
    EXPECT_EQ(attempt_state(got, got.attempts[i]), attempt_state(want, want.attempts[i]));
  ASSERT_EQ(got.dns.size(), want.dns.size());
  for (std::size_t i = 0; i < got.dns.size(); ++i)
    EXPECT_EQ(got.dns[i].outcome, want.dns[i].outcome) << got.dns[i].qname;
  EXPECT_EQ(got.connections.size(), want.connections.size());
  EXPECT_EQ(got.exit_status(), want.exit_status());

  // One sequence for every event, increasing.
  EXPECT_TRUE(std::is_sorted(rec.seqs.begin(), rec.seqs.end()));
  EXPECT_EQ(std::set<std::uint64_t>(rec.seqs.begin(), rec.seqs.end()).size(), rec.seqs.size());
  // The verdict events fold to the final verdicts.
  EXPECT_EQ(rec.fold.inconsistent(), 0u);
  std::map<std::string, std::string> folded, final_v;
  for (const auto& [k, v] : rec.fold.verdicts())
    folded[k] = v.status + "/" + v.root_cause_key;
  for (const auto& v : got.verdicts)
    final_v[v.from + ">" + v.to] = std::string(to_string(v.status)) + "/" + v.root_cause;
  EXPECT_EQ(folded, final_v);
  // Each connection opens once and closes once, in that order; the ladder steps sent over its
  // progress and close events are its whole ladder, none twice.
  std::map<std::uint32_t, std::vector<SessionPhase>> phases;
  std::map<std::uint32_t, std::size_t> steps;
  for (const auto& s : rec.sessions) {
    phases[s.flow].push_back(s.phase);
    steps[s.flow] += s.steps.size();
  }
  for (const auto& conn : got.connections) {
    const auto& p = phases[conn.conn.id];
    ASSERT_GE(p.size(), 2u) << "flow " << conn.conn.id;
    EXPECT_EQ(p.front(), SessionPhase::kOpened);
    EXPECT_EQ(p.back(), SessionPhase::kClosed);
    EXPECT_EQ(std::count(p.begin(), p.end(), SessionPhase::kOpened), 1);
    if (conn.xmpp) {
      EXPECT_EQ(steps[conn.conn.id], conn.xmpp->ladder.size());
    }
  }
  EXPECT_EQ(rec.dns.size(), got.dns.size());
}

INSTANTIATE_TEST_SUITE_P(
    Captures, LiveSameAnswer,
    ::testing::Values(
        Case{"core/dns-no-response/srv.pcap", {}, {}, 8.0},
        Case{"core/dns-no-response/srv.pcap", {}, {}, 1.0},
        Case{"core/fw-drop/fw-outside.pcap", {"cupdomain.example"}, {"192.0.2.0/24"}, 70.0},
        Case{"core/fw-reject-rst/fw-any.pcap", {}, {"192.0.2.0/24"}, 2.0},
        Case{"core/dns-srv-port-5369/fw-any.pcap", {}, {}, 3.0},
        Case{"xmpp/dialback-timeout/s2s.pcap", {}, {}, 5.0},
        Case{"xmpp/tls13-healthy/s2s.pcap", {}, {}, 2.0},
        Case{"lab/healthy-ca/fw-any.pcap", {"cupdomain.example"}, {"192.0.2.0/24"}, 2.0}));

// On a quiet link the timers still fire: a DNS query nobody answers is "no response" and
// judged while the capture runs, not when it ends.
TEST(LiveAnalysis, TimersFireWithoutPackets) {
  Frames f = read_all(pcap("core/dns-no-response/srv.pcap"));
  ASSERT_FALSE(f.frames.empty());
  LiveConfig lc;
  Recorder rec;
  LiveAnalysis live(lc, live_source(f, "live:eth0"), &rec);
  const Timestamp last = f.frames.back().time;
  run_live(live, f, last + Duration::seconds(12), lc.tick_lag_seconds);
  ASSERT_FALSE(rec.dns.empty());
  EXPECT_TRUE(std::all_of(rec.dns.begin(), rec.dns.end(),
                          [](const DnsEvent& e) { return e.outcome == "no-response"; }));
  EXPECT_TRUE(rec.raised_codes.count("dns-no-response")) << "raised: " << rec.raised_codes.size();
  Result r;
  live.finish(last + Duration::seconds(12), r);
}

// Nothing is judged before the clock says so: without ticks, a query younger than the DNS
// timeout stays open (the judges do not guess).
TEST(LiveAnalysis, NoTickNoTimeout) {
  Frames f = read_all(pcap("core/dns-no-response/srv.pcap"));
  ASSERT_FALSE(f.frames.empty());
  LiveConfig lc;
  Recorder rec;
  LiveAnalysis live(lc, live_source(f, "live:eth0"), &rec);
  live.on_frame(f.frames.front());
  live.tick(f.frames.front().time);  // the tick lag keeps the clock behind the packet
  EXPECT_TRUE(rec.dns.empty());
}

TEST(LiveAnalysis, StatsEventCountsAndRate) {
  Frames f = read_all(pcap("xmpp/tls13-healthy/s2s.pcap"));
  LiveConfig lc;
  Recorder rec;
  LiveAnalysis live(lc, live_source(f, "live:eth0"), &rec);
  const Timestamp t0 = f.frames.front().time;
  live.tick(t0);
  for (const auto& fr : f.frames)
    live.on_frame(fr);
  CaptureStatsEvent e;
  e.time = t0 + Duration::seconds(2);
  live.send_stats(e);
  EXPECT_EQ(live.frames(), f.frames.size());
  const std::string j = event_json(SessionEvent{});
  EXPECT_NE(j.find("\"type\":\"session\""), std::string::npos);
  CaptureStatsEvent s;
  s.seq = 3;
  s.packets = 10;
  s.rate = 5;
  s.final = true;
  s.interfaces.push_back({"eth0", 10, 12, 1, 0, false, true, "The interface disappeared"});
  const std::string js = event_json(s);
  EXPECT_NE(js.find("\"event\":\"final\""), std::string::npos) << js;
  EXPECT_NE(js.find("\"error\":\"The interface disappeared\""), std::string::npos) << js;
  EXPECT_NE(js.find("\"dropped\":1"), std::string::npos) << js;
}

}  // namespace
}  // namespace fedscope::report

namespace fedscope::report {
namespace {

// A live run keeps a bounded history: beyond max_records closed connections (and as many DNS
// transactions) the oldest leave it, what only they said is withdrawn as "expired", and the
// events still fold to exactly the final result.
TEST(LiveAnalysis, HistoryIsBounded) {
  struct Withdrawals : Recorder {
    void on_finding(const FindingEvent& e) override {
      Recorder::on_finding(e);
      if (e.kind == EventKind::kWithdrawn && e.reason == WithdrawReason::kExpired) ++expired;
    }
    int expired = 0;
  };
  // Four captures one after the other, a minute apart.
  std::vector<Frames> parts;
  for (const char* f : {"core/fw-reject-rst/fw-any.pcap", "core/server-not-listening/fw-any.pcap",
                        "core/tcp-reset/fw-any.pcap", "core/fw-reject-icmp/fw-any.pcap"})
    parts.push_back(read_all(pcap(f)));
  Frames all;
  Timestamp t = parts.front().frames.front().time;
  for (auto& p : parts) {
    ASSERT_FALSE(p.frames.empty());
    const Duration shift = t - p.frames.front().time;
    for (std::size_t i = 0; i < p.frames.size(); ++i) {
      all.data.push_back(p.data[i]);
      Frame f = p.frames[i];
      f.time = f.time + shift;
      f.number = all.data.size();
      all.frames.push_back(f);
    }
    t = all.frames.back().time + Duration::seconds(60);
  }
  for (std::size_t i = 0; i < all.frames.size(); ++i)
    all.frames[i].data = all.data[i];
  all.info = parts.front().info;

  LiveConfig lc;
  lc.max_records = 2;
  lc.max_full_records = 1;
  lc.inside_nets.push_back(*Cidr::parse("192.0.2.0/24"));
  Withdrawals rec;
  LiveAnalysis live(lc, live_source(all, "live:eth0"), &rec);
  const Timestamp end = all.frames.back().time + Duration::seconds(10);
  run_live(live, all, end, lc.tick_lag_seconds);
  Result got;
  live.finish(end, got);
  EXPECT_GT(got.history_expired, 0u);
  EXPECT_LE(got.connections.size(), 2u + 1u);  // the bound, plus what the end closed
  EXPECT_GT(rec.expired, 0);
  // The events fold to the result: nothing expired lingers in a consumer's state.
  EXPECT_EQ(rec.fold.inconsistent(), 0u);
  std::multiset<std::string> folded, final_f;
  for (const auto& [k, e] : rec.fold.findings())
    folded.insert(k);
  for (const auto& f : got.findings)
    final_f.insert(f.key);
  EXPECT_EQ(folded, final_f);
  const std::string text = render_text(got);
  EXPECT_NE(text.find("oldest connections and DNS transactions of this live run are left out"),
            std::string::npos);

  // Without the bound, the same run keeps everything.
  LiveConfig keep = lc;
  keep.max_records = 0;
  Recorder all_rec;
  LiveAnalysis live2(keep, live_source(all, "live:eth0"), &all_rec);
  run_live(live2, all, end, keep.tick_lag_seconds);
  Result full;
  live2.finish(end, full);
  EXPECT_EQ(full.history_expired, 0u);
  EXPECT_GT(full.connections.size(), got.connections.size());
}

}  // namespace
}  // namespace fedscope::report
