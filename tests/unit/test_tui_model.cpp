// The TUI's view model without a terminal: the event queue's coalescing, the model's indexes,
// and the laid-out screen (what a person sees) for built events and for bundled lab captures
// read as the TUI reads them, against `fedscope report`'s verdicts of the same files.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <vector>

#include "fedscope/report/analysis.hpp"
#include "fedscope/tui/model.hpp"
#include "fedscope/tui/source.hpp"

namespace fedscope::tui {
namespace {

using report::EventKind;
using report::SessionPhase;

report::SessionEvent session(std::uint32_t flow, SessionPhase phase, std::int64_t t_ms,
                             std::vector<std::string> steps = {}) {
  report::SessionEvent e;
  e.flow = flow;
  e.phase = phase;
  e.time = Timestamp{t_ms * 1'000'000};
  e.client = "198.51.100.7:40000";
  e.server = "203.0.113.5:5269";
  e.state = phase == SessionPhase::kClosed ? "SF" : "S1";
  e.history = "ShAD";
  e.stream = "xmpp";
  e.from_domain = "a.example";
  e.to_domain = "b.example";
  for (auto& s : steps)
    e.steps.push_back({e.time, true, s, 1, EvidenceRef::packet(0, 40, e.time)});
  report::SessionLeg leg;
  leg.vantage = "outside";
  leg.client = Endpoint{*IpAddress::parse("198.51.100.7"), 40000};
  leg.server = Endpoint{*IpAddress::parse("203.0.113.5"), 5269};
  leg.start = Timestamp{1'000'000};
  leg.last = e.time;
  leg.state = e.state;
  e.legs.push_back(leg);
  return e;
}

report::FindingEvent finding(const std::string& key, report::FindingCode code, report::Severity sev,
                             std::optional<std::uint32_t> flow, EventKind kind = EventKind::kRaised,
                             std::uint64_t seq = 1) {
  report::FindingEvent e;
  e.kind = kind;
  e.seq = seq;
  e.key = key;
  if (kind != EventKind::kWithdrawn) {
    report::Finding f(code);
    f.severity = sev;
    f.summary = "summary of " + key;
    f.remedy = "the remedy for " + key;
    f.flow = flow;
    f.domain = "b.example";
    f.key = key;
    e.finding = f;
  }
  return e;
}

report::VerdictEvent verdict(const std::string& from, const std::string& to,
                             const std::string& status, const std::string& root = "",
                             std::uint64_t seq = 1) {
  report::VerdictEvent e;
  e.seq = seq;
  e.key = from + ">" + to;
  report::VerdictState v;
  v.from = from;
  v.to = to;
  v.status = status;
  v.root_cause_key = root;
  v.stage = status == "failed" ? "tcp" : "";
  v.why = "because";
  v.attempts = {"d:" + to};
  e.verdict = v;
  return e;
}

report::AttemptEvent attempt(const std::string& key, std::vector<std::uint32_t> flows,
                             std::uint64_t seq = 1) {
  report::AttemptEvent e;
  e.seq = seq;
  e.key = key;
  report::AttemptState a;
  a.domain = key.substr(2);
  a.target = a.domain;
  a.flows = std::move(flows);
  a.outcome = "failed";
  a.auth_method = "dialback";
  a.auth_result = "valid";
  e.attempt = a;
  return e;
}

// Every line is exactly the width in columns; nothing but the screen's own lines.
void expect_shape(const Screen& sc, int w, int h) {
  ASSERT_EQ(sc.lines.size(), static_cast<std::size_t>(h));
  for (const auto& l : sc.lines) {
    std::string row;
    for (const auto& s : l.spans)
      row += s.text;
    EXPECT_EQ(columns(row), static_cast<std::size_t>(w)) << "[" << row << "]";
  }
}

TEST(TuiQueue, CoalescesSessionEventsAndKeepsEveryStep) {
  EventQueue q;
  Batch b;
  EXPECT_FALSE(q.take(b));
  q.on_session(session(1, SessionPhase::kOpened, 10));
  q.on_session(session(1, SessionPhase::kProgress, 20, {"<stream:stream>"}));
  q.on_finding(finding("k1", report::FindingCode::kTcpReset, report::Severity::kError, 1));
  q.on_session(session(1, SessionPhase::kProgress, 30, {"<stream:features>", "<db:result>"}));
  q.on_session(session(2, SessionPhase::kOpened, 31));
  ASSERT_TRUE(q.take(b));
  ASSERT_EQ(b.events.size(), 3u);  // flow 1 once, the finding, flow 2
  EXPECT_EQ(b.coalesced, 2u);
  const auto& s1 = std::get<report::SessionEvent>(b.events[0]);
  EXPECT_EQ(s1.phase, SessionPhase::kProgress);
  EXPECT_EQ(s1.time, Timestamp{30'000'000});
  ASSERT_EQ(s1.steps.size(), 3u);
  EXPECT_EQ(s1.steps[0].text, "<stream:stream>");
  EXPECT_EQ(s1.steps[2].text, "<db:result>");
  EXPECT_FALSE(q.take(b));
  // After a take, the same flow starts a new pending event (the model appends again).
  q.on_session(session(1, SessionPhase::kClosed, 40, {"</stream:stream>"}));
  ASSERT_TRUE(q.take(b));
  ASSERT_EQ(b.events.size(), 1u);
  Model m;
  q.on_session(session(3, SessionPhase::kOpened, 1));
  q.message("hello");
  Batch b2;
  ASSERT_TRUE(q.take(b2));
  m.apply(b2);
  EXPECT_EQ(m.messages().back(), "hello");
}

TEST(TuiModel, SessionsStepsFindingsAndAttemptsIndexed) {
  Model m;
  m.apply(QueuedEvent(session(7, SessionPhase::kOpened, 1)));
  m.apply(QueuedEvent(session(7, SessionPhase::kProgress, 2, {"a", "b"})));
  m.apply(QueuedEvent(session(7, SessionPhase::kClosed, 3, {"c"})));
  // A late "opened" or progress of a closed session changes nothing.
  m.apply(QueuedEvent(session(7, SessionPhase::kProgress, 9, {"x"})));
  const auto* s = m.session(7);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->phase, SessionPhase::kClosed);
  ASSERT_EQ(s->steps.size(), 3u);
  EXPECT_EQ(s->steps[2].text, "c");
  EXPECT_EQ(s->last, Timestamp{3'000'000});

  m.apply(QueuedEvent(
      finding("tcp-reset@flow:7#0", report::FindingCode::kTcpReset, report::Severity::kError, 7)));
  m.apply(
      QueuedEvent(finding("dns-srv-missing@dns:b.example#0", report::FindingCode::kDnsSrvMissing,
                          report::Severity::kWarning, std::nullopt)));
  EXPECT_EQ(m.findings_of(7), std::vector<std::string>{"tcp-reset@flow:7#0"});
  EXPECT_EQ(m.domain_findings("b.example").size(), 1u);
  m.apply(QueuedEvent(finding("tcp-reset@flow:7#0", report::FindingCode::kTcpReset,
                              report::Severity::kError, 7, EventKind::kWithdrawn, 2)));
  EXPECT_TRUE(m.findings_of(7).empty());

  m.apply(QueuedEvent(attempt("d:b.example", {7})));
  EXPECT_EQ(m.attempt_of(7), "d:b.example");
  report::AttemptEvent w;
  w.kind = EventKind::kWithdrawn;
  w.seq = 3;
  w.key = "d:b.example";
  m.apply(QueuedEvent(w));
  EXPECT_EQ(m.attempt_of(7), "");
}

TEST(TuiModel, ClosedSessionsAreBounded) {
  Model m;
  const std::size_t n = Model::kMaxClosedSessions + 10;
  for (std::uint32_t i = 1; i <= n; ++i)
    m.apply(QueuedEvent(session(i, SessionPhase::kClosed, i)));
  EXPECT_EQ(m.sessions().size(), Model::kMaxClosedSessions);
  EXPECT_EQ(m.sessions_expired(), 10u);
  EXPECT_EQ(m.session(1), nullptr);  // the oldest left
  EXPECT_NE(m.session(static_cast<std::uint32_t>(n)), nullptr);
}

struct Fixture {
  Model m;
  Fixture() {
    m.apply(
        QueuedEvent(session(1, SessionPhase::kClosed, 1000, {"<stream:stream to='b.example'>"})));
    auto s2 = session(2, SessionPhase::kProgress, 2000);
    s2.from_domain = "c.example";
    s2.to_domain = "d.example";
    s2.client = "192.0.2.9:41000";
    m.apply(QueuedEvent(s2));
    m.apply(QueuedEvent(finding("fw-blocked@flow:2#0", report::FindingCode::kFwBlocked,
                                report::Severity::kError, 2)));
    m.apply(QueuedEvent(finding("tls-cert-expiring@cert:x", report::FindingCode::kTlsCertExpiring,
                                report::Severity::kWarning, 1, EventKind::kRaised, 2)));
    m.apply(QueuedEvent(attempt("d:b.example", {1})));
    m.apply(QueuedEvent(verdict("a.example", "b.example", "ok", "", 3)));
    m.apply(QueuedEvent(verdict("c.example", "d.example", "failed", "fw-blocked@flow:2#0", 4)));
  }
};

TEST(TuiView, MainScreenShowsVerdictsFailedFirstAndSessions) {
  Fixture f;
  View v(f.m, {});
  auto sc = v.render(80, 24);
  expect_shape(sc, 80, 24);
  const auto t = sc.text();
  const auto failed = t.find("FAILED");
  const auto ok = t.find("OK");
  ASSERT_NE(failed, std::string::npos) << t;
  ASSERT_NE(ok, std::string::npos) << t;
  EXPECT_LT(failed, ok) << t;
  EXPECT_NE(t.find("c.example \xE2\x86\x92 d.example  at tcp: fw-blocked"), std::string::npos) << t;
  EXPECT_NE(t.find("[Sessions 2]"), std::string::npos) << t;
  EXPECT_NE(t.find("dialback valid"), std::string::npos) << t;
  EXPECT_NE(t.find("1 E"), std::string::npos) << t;  // flow 2's error
  EXPECT_NE(t.find("1 W"), std::string::npos) << t;  // flow 1's warning
  // The failed verdict is coloured as failed, the session's error count as an error.
  bool failed_style = false, error_style = false;
  for (const auto& l : sc.lines)
    for (const auto& s : l.spans) {
      if (s.text.find("FAILED") != std::string::npos && s.style == Style::kFailed)
        failed_style = true;
      if (s.text.find("1 E") != std::string::npos && s.style == Style::kError) error_style = true;
    }
  EXPECT_TRUE(failed_style);
  EXPECT_TRUE(error_style);
}

TEST(TuiView, KeysMoveFilterSortOpenAndSave) {
  Fixture f;
  View v(f.m, {});
  v.render(80, 24);
  ASSERT_EQ(v.visible_sessions(), (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(v.selected_flow(), 1u);
  v.handle({Key::kDown, 0});
  EXPECT_EQ(v.selected_flow(), 2u);
  v.handle(KeyEvent::character('k'));
  EXPECT_EQ(v.selected_flow(), 1u);
  v.handle({Key::kEnd, 0});
  EXPECT_EQ(v.selected_flow(), 2u);
  v.handle({Key::kHome, 0});
  EXPECT_EQ(v.selected_flow(), 1u);

  // Filter by finding code: only flow 2 has fw-blocked.
  v.handle(KeyEvent::character('/'));
  for (char c : std::string("fw-blocked"))
    v.handle(KeyEvent::character(static_cast<char32_t>(c)));
  auto sc = v.render(80, 24);
  EXPECT_NE(sc.text().find("filter (domain"), std::string::npos);  // the prompt while typing
  ASSERT_TRUE(sc.cursor);
  v.handle({Key::kEnter, 0});
  EXPECT_EQ(v.filter(), "fw-blocked");
  EXPECT_EQ(v.visible_sessions(), (std::vector<std::uint32_t>{2}));
  EXPECT_EQ(v.selected_flow(), 2u);
  // By address and by domain.
  v.handle(KeyEvent::character('/'));
  for (int i = 0; i < 20; ++i)
    v.handle({Key::kBackspace, 0});
  for (char c : std::string("192.0.2.9"))
    v.handle(KeyEvent::character(static_cast<char32_t>(c)));
  v.handle({Key::kEnter, 0});
  EXPECT_EQ(v.visible_sessions(), (std::vector<std::uint32_t>{2}));
  v.handle(KeyEvent::character('/'));
  for (int i = 0; i < 20; ++i)
    v.handle({Key::kBackspace, 0});
  v.handle({Key::kEnter, 0});
  EXPECT_EQ(v.visible_sessions().size(), 2u);
  // Esc cancels typing: the filter stays.
  v.handle(KeyEvent::character('/'));
  v.handle(KeyEvent::character('z'));
  v.handle({Key::kEscape, 0});
  EXPECT_EQ(v.filter(), "");

  // Sort by findings: the error first.
  v.handle(KeyEvent::character('>'));
  v.handle(KeyEvent::character('>'));
  v.handle(KeyEvent::character('>'));
  EXPECT_EQ(v.visible_sessions(), (std::vector<std::uint32_t>{2, 1}));
  v.handle(KeyEvent::character('r'));
  EXPECT_EQ(v.visible_sessions(), (std::vector<std::uint32_t>{1, 2}));
  v.handle(KeyEvent::character('r'));
  v.handle(KeyEvent::character('<'));
  v.handle(KeyEvent::character('<'));
  v.handle(KeyEvent::character('<'));
  EXPECT_EQ(v.visible_sessions(), (std::vector<std::uint32_t>{1, 2}));

  // Enter opens the session: its ladder, legs and findings with remedies.
  v.handle({Key::kHome, 0});
  v.handle({Key::kEnter, 0});
  ASSERT_TRUE(v.detail_open());
  auto t = v.render(100, 40).text();
  EXPECT_NE(t.find("Session 1"), std::string::npos) << t;
  EXPECT_NE(t.find("<stream:stream to='b.example'>"), std::string::npos) << t;
  EXPECT_NE(t.find("outside"), std::string::npos) << t;
  EXPECT_NE(t.find("tls-cert-expiring"), std::string::npos) << t;
  EXPECT_NE(t.find("remedy: the remedy for tls-cert-expiring@cert:x"), std::string::npos) << t;
  EXPECT_NE(t.find("Verdict OK"), std::string::npos) << t;
  v.handle({Key::kEscape, 0});
  EXPECT_FALSE(v.detail_open());

  // s asks for a file name (a default offered), Enter returns the save action.
  auto a = v.handle(KeyEvent::character('s'));
  EXPECT_EQ(a.kind, Action::Kind::kNone);
  a = v.handle({Key::kEnter, 0});
  EXPECT_EQ(a.kind, Action::Kind::kSave);
  EXPECT_EQ(a.flow, 1u);
  EXPECT_EQ(a.path, "fedscope-flow-1.pcapng");

  // Tab: findings pane, the error first; Enter on a finding opens its session.
  v.handle({Key::kTab, 0});
  EXPECT_EQ(v.pane(), Pane::kFindings);
  ASSERT_EQ(v.visible_findings().size(), 2u);
  EXPECT_EQ(v.visible_findings()[0], "fw-blocked@flow:2#0");
  v.handle({Key::kEnter, 0});
  EXPECT_EQ(v.pane(), Pane::kSessions);
  EXPECT_TRUE(v.detail_open());
  EXPECT_EQ(v.selected_flow(), 2u);
  v.handle({Key::kTab, 0});
  v.handle({Key::kTab, 0});
  EXPECT_EQ(v.pane(), Pane::kDns);
  v.handle({Key::kBackTab, 0});
  EXPECT_EQ(v.pane(), Pane::kFindings);

  // Pause: the view says so; the app stops taking events while it is on.
  v.handle(KeyEvent::character('p'));
  EXPECT_TRUE(v.paused());
  EXPECT_NE(v.render(100, 30).text().find("PAUSED"), std::string::npos);
  v.handle(KeyEvent::character('p'));
  EXPECT_FALSE(v.paused());

  // Help, follow, quit.
  v.handle(KeyEvent::character('?'));
  EXPECT_NE(v.render(80, 24).text().find("Keys"), std::string::npos);
  v.handle(KeyEvent::character('x'));  // any key closes it
  EXPECT_EQ(v.render(80, 24).text().find("Keys"), std::string::npos);
  a = v.handle(KeyEvent::character('f'));
  EXPECT_EQ(a.kind, Action::Kind::kFollow);
  EXPECT_TRUE(a.follow);
  EXPECT_EQ(v.handle(KeyEvent::character('q')).kind, Action::Kind::kQuit);
}

TEST(TuiView, FollowSelectsTheNewestSession) {
  Fixture f;
  View v(f.m, {true, true});
  v.render(80, 24);
  EXPECT_EQ(v.selected_flow(), 2u);
  f.m.apply(QueuedEvent(session(9, SessionPhase::kOpened, 5000)));
  v.render(80, 24);
  EXPECT_EQ(v.selected_flow(), 9u);
  v.handle({Key::kUp, 0});  // moving by hand stops following
  EXPECT_FALSE(v.following());
  f.m.apply(QueuedEvent(session(10, SessionPhase::kOpened, 6000)));
  v.render(80, 24);
  EXPECT_NE(v.selected_flow(), 10u);
}

TEST(TuiView, SmallTerminalsAsciiAndHostileText) {
  Fixture f;
  View v(f.m, {});
  auto sc = v.render(60, 20);
  expect_shape(sc, 60, 20);
  EXPECT_NE(sc.text().find("terminal too small: 60x20"), std::string::npos) << sc.text();
  sc = v.render(10, 3);
  expect_shape(sc, 10, 3);
  // Resizing back works, at the minimum and larger.
  expect_shape(v.render(80, 24), 80, 24);
  expect_shape(v.render(200, 60), 200, 60);

  // A domain with control characters and non-ASCII: shown without the controls; ASCII mode
  // writes ASCII only.
  auto s = session(5, SessionPhase::kClosed, 3000);
  s.from_domain = "b\x1b[31m\xC3\xA4.example";
  f.m.apply(QueuedEvent(s));
  View ascii(f.m, {false, false});
  for (auto [w, h] : {std::pair{80, 24}, std::pair{120, 40}}) {
    auto t = ascii.render(w, h).text();
    for (unsigned char c : t)
      ASSERT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7F)) << static_cast<int>(c);
    EXPECT_NE(t.find("b?[31m?.example -> b.exam"), std::string::npos) << t;
  }
  View utf(f.m, {});
  auto t = utf.render(80, 24).text();
  EXPECT_EQ(t.find('\x1b'), std::string::npos);
  EXPECT_NE(t.find("b?[31m\xC3\xA4.example"), std::string::npos) << t;
}

TEST(TuiView, StatusBarSaysStateAndLeadsWithANewMessageUntilAKey) {
  Fixture f;
  View v(f.m, {});
  Batch b;
  SourceStatus st;
  st.state = SourceState::kReading;
  st.progress = 0.42;
  st.packets = 1234567;
  st.files = 2;
  b.status = st;
  f.m.apply(b);
  auto last = [&] {
    auto t = v.render(100, 30).text();
    t.pop_back();
    return t.substr(t.rfind('\n') + 1);
  };
  EXPECT_NE(last().find("reading 42% | 1,234,567 pkts | drops 0 | 2 files"), std::string::npos)
      << last();
  st.state = SourceState::kFollowing;
  b.status = st;
  b.messages = {"flow 2: saved 12 packets to x.pcapng"};
  f.m.apply(b);
  EXPECT_EQ(last().rfind(" flow 2: saved 12 packets to x.pcapng | following", 0), 0u) << last();
  v.handle({Key::kDown, 0});
  EXPECT_EQ(last().find("saved 12 packets"), std::string::npos) << last();
  EXPECT_NE(last().find("following: waiting for more packets"), std::string::npos) << last();
}

TEST(TuiFit, CutsAndPadsByColumns) {
  EXPECT_EQ(fit("abc", 5), "abc  ");
  EXPECT_EQ(fit("abcdef", 4), "abc\xE2\x80\xA6");
  EXPECT_EQ(fit("abcdef", 4, false), "abc~");
  EXPECT_EQ(columns("\xC3\xA4\xC3\xB6x"), 3u);
  EXPECT_EQ(fit("\xC3\xA4\xC3\xB6xyz", 3), "\xC3\xA4\xC3\xB6\xE2\x80\xA6");
}

// A lab capture read as `fedscope tui` reads it: the view's verdicts and findings are the
// report's, and the sessions are the report's flows.
void check_capture(const std::vector<std::string>& rel, const std::vector<std::string>& inside,
                   const std::vector<std::string>& domains) {
  std::vector<std::string> files;
  for (const auto& r : rel)
    files.push_back(std::string(FEDSCOPE_SOURCE_DIR) + "/pcaps/" + r);
  report::Options o;
  o.files = files;
  for (const auto& c : inside)
    o.inside_nets.push_back(*Cidr::parse(c));
  o.domains = domains;
  report::Result r;
  std::string error;
  ASSERT_TRUE(report::analyze(o, r, error)) << error;

  capture::MergedReader reader;
  ASSERT_TRUE(reader.open(files, error)) << error;
  report::LiveConfig lc;
  lc.inside_nets = o.inside_nets;
  lc.domains = domains;
  EventQueue q;
  std::atomic<bool> stop{false};
  ASSERT_TRUE(read_saved(files, reader, lc, q, stop));
  Model m;
  Batch b;
  while (q.take(b))
    m.apply(b);
  EXPECT_EQ(m.status().state, SourceState::kDone);
  EXPECT_DOUBLE_EQ(m.status().progress, 1.0);
  std::uint64_t packets = 0;
  for (const auto& f : r.files)
    packets += f.packets;
  EXPECT_EQ(m.status().packets, packets);

  ASSERT_EQ(m.fold().verdicts().size(), r.verdicts.size());
  for (const auto& v : r.verdicts) {
    auto it = m.fold().verdicts().find(v.from + ">" + v.to);
    ASSERT_NE(it, m.fold().verdicts().end()) << v.from << ">" << v.to;
    EXPECT_EQ(it->second.status, report::to_string(v.status));
    EXPECT_EQ(it->second.root_cause_key, v.root_cause);
  }
  std::set<std::string> want, got;
  for (const auto& f : r.findings)
    want.insert(f.key);
  for (const auto& [k, e] : m.fold().findings())
    got.insert(k);
  EXPECT_EQ(got, want);
  ASSERT_EQ(m.sessions().size(), r.connections.size());
  for (const auto& c : r.connections) {
    const auto* s = m.session(c.conn.id);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->phase, SessionPhase::kClosed);
    EXPECT_EQ(s->legs.size(), c.conn.legs.size());
    EXPECT_EQ(s->client, c.conn.primary().orig.to_string());
  }
  // The screen leads with the report's first verdict.
  View v(m, {});
  const auto t = v.render(100, 30).text();
  const auto& first = r.verdicts.front();
  std::string word(report::to_string(first.status));
  for (auto& ch : word)
    ch = ch == '-' ? ' ' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const auto line2 = t.substr(t.find('\n') + 1, t.find('\n', t.find('\n') + 1) - t.find('\n') - 1);
  EXPECT_NE(line2.find(word), std::string::npos) << t;
  EXPECT_NE(line2.find(first.from), std::string::npos) << t;
  if (!first.root_cause.empty()) {
    EXPECT_NE(line2.find(first.root_cause.substr(0, first.root_cause.find('@'))), std::string::npos)
        << t;
  }
}

TEST(TuiSource, LabCapturesGiveTheReportsVerdicts) {
  check_capture({"lab/fw-drop-5269/fw-outside.pcap", "lab/fw-drop-5269/fw-inside.pcap"},
                {"192.0.2.0/24"}, {"cupdomain.example"});
  check_capture({"lab/nat-port-522/fw-any.pcap"}, {"192.0.2.0/24"}, {"cupdomain.example"});
  check_capture({"lab/healthy-ca/fw-outside.pcap", "lab/healthy-ca/fw-inside.pcap"}, {}, {});
  check_capture({"lab/srv-port-5369/srv.pcap", "lab/srv-port-5369/fw-outside.pcap"},
                {"192.0.2.0/24"}, {});
}

TEST(TuiSource, StopEndsReadingEarly) {
  capture::MergedReader reader;
  std::string error;
  const std::vector<std::string> files = {std::string(FEDSCOPE_SOURCE_DIR) +
                                          "/pcaps/lab/healthy-ca/fw-any.pcap"};
  ASSERT_TRUE(reader.open(files, error)) << error;
  EventQueue q;
  std::atomic<bool> stop{true};
  EXPECT_FALSE(read_saved(files, reader, report::LiveConfig{}, q, stop));
}

}  // namespace
}  // namespace fedscope::tui
