// The fold oracle: for every bundled capture (each expected.json file set with its options, and
// every capture file alone with none), the pipeline runs as a live user would run it — open
// connections reported every second of packet time, the judges flushed after every record, the
// capture points growing as files and interfaces appear — and
//  - the events, folded in order, give exactly the final Result's findings and attempts;
//  - that final Result renders byte for byte like `fedscope report`'s one-flush run;
//  - the log is well formed (no update of an unknown key, sequence numbers increase).
// Plus the event vocabulary on built records: a context change withdraws, a certificate seen
// on two connections is one finding, a progressed connection is re-judged.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "fedscope/report/analysis.hpp"
#include "fedscope/report/events.hpp"
#include "fedscope/report/judge.hpp"

using namespace fedscope;
using namespace fedscope::report;
namespace fs = std::filesystem;

namespace {

const fs::path kRoot = FEDSCOPE_SOURCE_DIR;

struct Case {
  std::string name;
  std::vector<std::string> files;
  std::vector<std::string> args;  // --domain / --inside-net
};

std::vector<Case> cases() {
  std::vector<Case> out;
  std::vector<fs::path> expected, captures;
  for (const auto& e : fs::recursive_directory_iterator(kRoot / "pcaps")) {
    if (!e.is_regular_file()) continue;
    const auto name = e.path().filename().string();
    if (name == "expected.json") expected.push_back(e.path());
    const auto ext = e.path().extension().string();
    if (ext == ".pcap" || ext == ".pcapng" || ext == ".gz") captures.push_back(e.path());
  }
  std::sort(expected.begin(), expected.end());
  std::sort(captures.begin(), captures.end());
  for (const auto& p : expected) {
    std::ifstream in(p);
    auto j = nlohmann::json::parse(in);
    std::vector<std::string> args;
    for (const auto& a : j.value("options", nlohmann::json::array()))
      args.push_back(a.get<std::string>());
    std::vector<std::vector<std::string>> sets;
    if (j.contains("file_sets"))
      sets = j["file_sets"].get<std::vector<std::vector<std::string>>>();
    else
      for (const auto& f : j.value("files", nlohmann::json::array()))
        sets.push_back({f.get<std::string>()});
    for (const auto& set : sets) {
      Case c;
      c.args = args;
      for (const auto& f : set)
        c.files.push_back((p.parent_path() / f).string());
      c.name = fs::relative(p.parent_path(), kRoot).string() + ":" + set.front() +
               (set.size() > 1 ? "+" : "");
      out.push_back(std::move(c));
    }
  }
  for (const auto& p : captures)
    out.push_back(Case{fs::relative(p, kRoot).string(), {p.string()}, {}});
  return out;
}

Options options_of(const Case& c) {
  Options o;
  o.files = c.files;
  for (std::size_t i = 0; i + 1 < c.args.size(); ++i) {
    if (c.args[i] == "--domain") o.domains.push_back(c.args[i + 1]);
    if (c.args[i] == "--inside-net")
      if (auto cidr = Cidr::parse(c.args[i + 1])) o.inside_nets.push_back(*cidr);
  }
  return o;
}

std::string json_of(const Result& r) {
  std::ostringstream os;
  render_json(r, os);
  return os.str();
}

struct Counts {
  std::uint64_t cases = 0, events = 0, withdrawn = 0, updated = 0, progress = 0;
};

class LogKinds : public EventSink {
 public:
  explicit LogKinds(EventFold& f) : fold_(f) {}
  void on_finding(const FindingEvent& e) override {
    fold_.on_finding(e);
    count(e.kind);
    lines.push_back(event_json(e));
  }
  void on_attempt(const AttemptEvent& e) override {
    fold_.on_attempt(e);
    count(e.kind);
    lines.push_back(event_json(e));
  }
  void count(EventKind k) {
    ++events;
    if (k == EventKind::kWithdrawn) ++withdrawn;
    if (k == EventKind::kUpdated) ++updated;
  }
  std::uint64_t events = 0, withdrawn = 0, updated = 0;
  std::vector<std::string> lines;

 private:
  EventFold& fold_;
};

}  // namespace

TEST(FoldOracle, EveryBundledCaptureFoldsToItsReport) {
  Counts total;
  std::ofstream log;
  if (const char* p = std::getenv("FEDSCOPE_EVENTS_LOG")) log.open(p);
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    Options opt = options_of(c);
    // The one-flush run, as `fedscope report` does it.
    Result once;
    std::string error;
    if (!analyze(opt, once, error)) continue;  // not a capture (corner cases of the CLI)
    ++total.cases;

    // The same input, judged after every record (analyze() with an event sink), with
    // progress of open connections every second of packet time.
    EventFold fold;
    LogKinds sink(fold);
    Options live_opt = opt;
    live_opt.events = &sink;
    live_opt.engine.progress_seconds = 1.0;
    live_opt.events_batch_share = 0;  // a flush after every record
    Result live;
    ASSERT_TRUE(analyze(live_opt, live, error)) << error;

    EXPECT_EQ(fold.inconsistent(), 0u);
    // The final report does not depend on how often it was judged on the way.
    EXPECT_EQ(json_of(live), json_of(once));

    // The fold is the report: the same findings (as a multiset: the fold has no order) ...
    std::vector<Finding> folded;
    for (const auto& [key, e] : fold.findings())
      folded.push_back(e.finding);
    ASSERT_EQ(folded.size(), live.findings.size());
    for (const auto& f : live.findings) {
      auto it = std::find(folded.begin(), folded.end(), f);
      ASSERT_NE(it, folded.end()) << "not in the fold: " << to_string(f.code) << " " << f.summary;
      folded.erase(it);
    }
    // ... and the same attempts, by key.
    ASSERT_EQ(fold.attempts().size(), live.attempts.size());
    for (const auto& a : live.attempts) {
      auto it = fold.attempts().find(a.key);
      ASSERT_NE(it, fold.attempts().end()) << a.key;
      EXPECT_EQ(it->second, attempt_state(live, a)) << a.key;
    }
    for (const auto& line : sink.lines) {
      EXPECT_TRUE(nlohmann::json::accept(line)) << line;
      if (log.is_open()) log << line << "\n";
    }
    total.events += sink.events;
    total.withdrawn += sink.withdrawn;
    total.updated += sink.updated;
    total.progress += live.stats.progress_reports;
  }
  // The oracle saw real work: many captures, open connections reported, and findings that
  // changed or went away on the way (else it would prove nothing about re-judging).
  EXPECT_GT(total.cases, 150u);
  EXPECT_GT(total.progress, 0u);
  EXPECT_GT(total.updated, 0u);
  EXPECT_GT(total.withdrawn, 0u);
  std::printf(
      "fold oracle: %llu runs, %llu events (%llu updated, %llu withdrawn), %llu progress "
      "snapshots\n",
      static_cast<unsigned long long>(total.cases), static_cast<unsigned long long>(total.events),
      static_cast<unsigned long long>(total.updated),
      static_cast<unsigned long long>(total.withdrawn),
      static_cast<unsigned long long>(total.progress));
}

// ---- the vocabulary on built records ------------------------------------------------------------

namespace {

PacketRef at(std::uint64_t n, double t) {
  return PacketRef{0, n, Timestamp::from_seconds(1'700'000'000.0 + t)};
}

flow::Leg leg(std::uint32_t id, std::int32_t ifindex, const char* client, const char* server,
              double start) {
  flow::Leg l;
  l.id = id;
  l.connection = id;
  l.vantage.ifindex = ifindex;
  l.orig = Endpoint{*IpAddress::parse(client), 40000};
  l.resp = Endpoint{*IpAddress::parse(server), 5269};
  l.start = l.last = Timestamp::from_seconds(1'700'000'000.0 + start);
  l.o.syns = 1;
  l.o.first_syn = at(id * 10, start);
  return l;
}

// Three SYNs, no answer (Zeek S0).
engine::ConnectionRecord unanswered(std::uint32_t id, double start) {
  engine::ConnectionRecord rec;
  rec.conn.id = id;
  auto l = leg(id, -1, "192.0.2.10", "203.0.113.20", start);
  l.history = "S";
  l.o.syns = 3;
  l.last = l.start + Duration::millis(3000);
  rec.conn.legs.push_back(l);
  rec.conn.conn_state = flow::ConnState::kS0;
  return rec;
}

// Established and closed on both sides of a NAT: seen at two interfaces.
engine::ConnectionRecord paired(std::uint32_t id, double start) {
  engine::ConnectionRecord rec;
  rec.conn.id = id;
  for (int side = 0; side < 2; ++side) {
    auto l = leg(id * 10 + static_cast<std::uint32_t>(side), side + 1, "192.0.2.10",
                 side ? "192.0.2.30" : "203.0.113.30", start);
    l.history = "ShADadFf";
    l.o.sent_ack = l.o.sent_data = l.o.sent_fin = true;
    l.r.sent_ack = l.r.sent_data = l.r.sent_fin = true;
    l.r.syns = 1;
    l.r.first_syn = at(id * 10 + 1, start);
    l.o.payload_bytes = l.r.payload_bytes = 100;
    rec.conn.legs.push_back(l);
  }
  rec.conn.conn_state = flow::ConnState::kSF;
  return rec;
}

class Log : public EventSink {
 public:
  void on_finding(const FindingEvent& e) override {
    fold.on_finding(e);
    lines.push_back(
        std::string(to_string(e.kind)) + " " + e.key +
        (e.reason != WithdrawReason::kNone ? " (" + std::string(to_string(e.reason)) + ")" : ""));
  }
  void on_attempt(const AttemptEvent& e) override {
    fold.on_attempt(e);
    lines.push_back(std::string(to_string(e.kind)) + " attempt " + e.key +
                    (e.attempt ? " " + e.attempt->outcome : ""));
  }
  std::vector<std::string> take() { return std::exchange(lines, {}); }
  EventFold fold;
  std::vector<std::string> lines;
};

}  // namespace

TEST(JudgeEvents, ContextChangeWithdrawsAndRaises) {
  // Alone, unanswered SYNs are the path's silence (tcp-no-answer). Once a connection seen on
  // both sides of a NAT shows the capture was taken on a forwarding box, the same SYNs are the
  // firewall's drop: the first finding is withdrawn because the context changed, the other
  // raised, and the connection that changed the context says nothing itself.
  Log log;
  Judge j(JudgeConfig{}, &log);
  j.on_connection(unanswered(1, 0));
  j.flush();
  EXPECT_EQ(log.take(), (std::vector<std::string>{"raised tcp-no-answer@flow:1#0",
                                                  "raised attempt e:203.0.113.20:5269 failed"}));
  j.on_connection(paired(2, 10));
  j.flush();
  EXPECT_EQ(log.take(),
            (std::vector<std::string>{"withdrawn tcp-no-answer@flow:1#0 (context-changed)",
                                      "raised fw-blocked@flow:1#0",
                                      "raised attempt e:203.0.113.30:5269 connected"}));
  j.flush();  // nothing changed: nothing said
  EXPECT_TRUE(log.take().empty());
  Result r;
  j.finish(r);
  EXPECT_TRUE(r.forwarding_vantage);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].code, FindingCode::kFwBlocked);
  ASSERT_EQ(log.fold.findings().size(), 1u);
  EXPECT_EQ(log.fold.findings().begin()->second.finding, r.findings[0]);
  EXPECT_EQ(log.fold.inconsistent(), 0u);
}

TEST(JudgeEvents, ProgressIsProvisionalAndTheCloseRejudges) {
  // An open connection's snapshot reads as if the input ended there: its unanswered SYN is
  // "not yet" (the attempt: capture-ended), no finding. When the record closes with the SYN
  // still unanswered after its retries, the finding is raised and the attempt updated.
  Log log;
  Judge j(JudgeConfig{}, &log);
  auto snap = unanswered(5, 0);
  snap.conn.legs[0].o.syns = 1;
  snap.conn.capture_ended = true;
  j.on_progress(std::move(snap));
  j.flush();
  EXPECT_EQ(log.take(),
            (std::vector<std::string>{"raised attempt e:203.0.113.20:5269 capture-ended"}));
  j.on_connection(unanswered(5, 0));
  j.flush();
  EXPECT_EQ(log.take(), (std::vector<std::string>{"raised tcp-no-answer@flow:5#0",
                                                  "updated attempt e:203.0.113.20:5269 failed"}));
  Result r;
  j.finish(r);
  ASSERT_EQ(r.connections.size(), 1u) << "the snapshot was replaced, not added";
  EXPECT_EQ(r.attempts.size(), 1u);
}

TEST(JudgeEvents, EventJsonLinesCarryKeyKindAndReason) {
  FindingEvent e;
  e.kind = EventKind::kWithdrawn;
  e.seq = 7;
  e.key = "tcp-no-answer@flow:1#0";
  e.reason = WithdrawReason::kContextChanged;
  EXPECT_EQ(event_json(e),
            R"({"seq":7,"type":"finding","event":"withdrawn","key":"tcp-no-answer@flow:1#0",)"
            R"("reason":"context-changed"})");
  FindingEvent r;
  r.seq = 8;
  r.key = "fw-blocked@flow:1#0";
  r.finding = Finding(FindingCode::kFwBlocked);
  r.finding->severity = Severity::kError;
  r.finding->flow = 1;
  r.finding->add_evidence(EvidenceRef::stream(3, false, 120, Timestamp::from_seconds(1)));
  auto j = nlohmann::json::parse(event_json(r));
  EXPECT_EQ(j["event"], "raised");
  EXPECT_EQ(j["finding"]["code"], "fw-blocked");
  EXPECT_EQ(j["finding"]["evidence"]["refs"][0]["direction"], "resp");
  EXPECT_EQ(j["finding"]["evidence"]["refs"][0]["offset"], 120);
}

namespace {

// An established federation connection whose server showed a self-signed certificate that
// names the stream's domain (TLS 1.2: the certificate is in clear).
engine::ConnectionRecord with_certificate(std::uint32_t id, const char* client, double start) {
  engine::ConnectionRecord rec = paired(id, start);
  rec.conn.legs.resize(1);
  rec.conn.legs[0].orig.addr = *IpAddress::parse(client);
  auto x = std::make_unique<s2s::ConnectionFacts>();
  x->kind = s2s::StreamKind::kXmpp;
  s2s::StreamHeaderFact h;
  h.from = "a.example";
  h.to = "b.example";
  h.ref = at(id * 10 + 3, start);
  x->orig.header = h;
  x->tls.mut().started = true;
  x->tls.mut().complete = true;
  x->tls.mut().certificate = s2s::Seen::kYes;
  x->tls.mut().certificate_ref = at(id * 10 + 5, start + 0.1);
  tls::CertificateInfo cert;
  cert.subject = "CN=b.example";
  cert.common_name = "b.example";
  cert.dns_names = {"b.example"};
  cert.not_before = 1'600'000'000;
  cert.not_after = 1'900'000'000;
  cert.self_signed = true;
  cert.sha256 = "ab12";
  x->tls.mut().chain = {cert};
  x->tls.mut().chain_total = 1;
  rec.xmpp = std::move(x);
  return rec;
}

}  // namespace

TEST(JudgeEvents, OneCertificateOnTwoConnectionsIsOneFinding) {
  // The certificate's finding is keyed by the certificate: a second connection showing it
  // updates the count; a connection that started earlier but closed later becomes the one
  // the finding names (report order), as a one-pass judge over start order would.
  Log log;
  Judge j(JudgeConfig{}, &log);
  j.on_connection(with_certificate(1, "198.51.100.1", 10));
  j.flush();
  const std::string key = "tls-cert-self-signed@cert:ab12";
  ASSERT_EQ(log.fold.findings().count(key), 1u);
  EXPECT_EQ(log.fold.findings().at(key).finding.count, 1u);
  EXPECT_EQ(log.fold.findings().at(key).finding.flow, 1u);
  j.on_connection(with_certificate(2, "198.51.100.2", 20));
  j.flush();
  EXPECT_EQ(log.fold.findings().at(key).finding.count, 2u);
  EXPECT_EQ(log.fold.findings().at(key).finding.evidence_total, 2u);
  j.on_connection(with_certificate(3, "198.51.100.3", 5));  // started first, closed last
  j.flush();
  const auto& f = log.fold.findings().at(key).finding;
  EXPECT_EQ(f.count, 3u);
  EXPECT_EQ(f.flow, 3u) << "the first connection in report order names it";
  EXPECT_EQ(f.evidence.front().number, 35u) << "evidence in time order";
  EXPECT_EQ(log.fold.findings().size(), 1u);
  Result r;
  j.finish(r);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0], f);
  // The same records judged in one pass give the same finding.
  Result once;
  once.connections.push_back(with_certificate(1, "198.51.100.1", 10));
  once.connections.push_back(with_certificate(2, "198.51.100.2", 20));
  once.connections.push_back(with_certificate(3, "198.51.100.3", 5));
  judge(once);
  ASSERT_EQ(once.findings.size(), 1u);
  EXPECT_EQ(once.findings[0], f);
}

TEST(JudgeEvents, HistoryBoundingKeepsSummariesAndFreezesTheirFindings) {
  // Keep one closed connection whole. The older one becomes a summary (its ladder released)
  // and its finding is frozen: when a paired connection later shows the box forwards, only the
  // whole record is judged again (tcp-no-answer -> fw-blocked); the summary's finding stays.
  Log log;
  JudgeConfig config;
  config.max_full_records = 1;
  Judge j(config, &log);
  auto first = unanswered(1, 0);
  auto x = std::make_unique<s2s::ConnectionFacts>();
  x->ladder.resize(3);
  first.xmpp = std::move(x);
  j.on_connection(std::move(first));
  j.flush();
  j.on_connection(unanswered(2, 1));
  j.flush();
  EXPECT_EQ(j.summarised(), 1u);
  log.take();
  j.on_connection(paired(3, 10));
  j.flush();
  auto lines = log.take();
  EXPECT_EQ(
      std::count(lines.begin(), lines.end(), "withdrawn tcp-no-answer@flow:2#0 (context-changed)"),
      1);
  EXPECT_EQ(
      std::count(lines.begin(), lines.end(), "withdrawn tcp-no-answer@flow:1#0 (context-changed)"),
      0)
      << "a summary's findings are frozen";
  Result r;
  j.finish(r);
  ASSERT_EQ(r.connections.size(), 3u);
  EXPECT_TRUE(r.connections[0].xmpp->ladder.empty());
  EXPECT_EQ(r.connections[0].xmpp->ladder_dropped, 3u);
  EXPECT_EQ(j.summarised(), 0u) << "finish() leaves the Judge empty";
}
