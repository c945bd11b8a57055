// Shape, not speed: judging and rendering 10x the connections may cost about 10x the CPU, never
// 100x. Built records (real XMPP facts from the session model, TCP state by hand) in domain
// pairs seen both ways, some refused, so that reverse pairing, the attempts' findings and the
// error lookups all run. A step that scans all attempts or findings per record fails this.

#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <sstream>
#include <string>

#include "fedscope/report/analysis.hpp"
#include "split_test.hpp"

namespace fedscope::report {
namespace {

PacketRef ref(std::uint64_t n, double t) {
  return PacketRef{0, n, Timestamp::from_seconds(1'700'000'000.0 + t)};
}

std::unique_ptr<s2s::ConnectionFacts> stream_facts(const std::string& from, const std::string& to,
                                                   double t) {
  AnomalyCounters an;
  s2s::ConnectionAnalyzer a(an);
  const std::string open =
      "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
      "xmlns:db='jabber:server:dialback' version='1.0' ";
  const auto o = test::bytes_of(open + "from='" + from + "' to='" + to + "'>");
  const auto r =
      test::bytes_of(open + "from='" + to + "' to='" + from + "' id='s1'><stream:features/>");
  a.on_data(true, o, ref(1, t));
  a.on_data(false, r, ref(2, t + 0.01));
  return std::make_unique<s2s::ConnectionFacts>(a.finish(ref(3, t + 0.02)));
}

// n connections: pairs a<k>.example <-> b<k>.example, both directions; every fifth refused.
Result make_result(std::size_t n) {
  Result r;
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) * 0.001;
    const std::string a = "a" + std::to_string(i / 2) + ".example";
    const std::string b = "b" + std::to_string(i / 2) + ".example";
    engine::ConnectionRecord rec;
    rec.conn.id = static_cast<std::uint32_t>(i + 1);
    flow::Leg l;
    l.id = rec.conn.id;
    l.connection = rec.conn.id;
    l.orig =
        Endpoint{*IpAddress::parse("192.0.2.10"), static_cast<std::uint16_t>(1024 + i % 60000)};
    l.resp = Endpoint{*IpAddress::parse("203.0.113." + std::to_string(1 + i % 250)), 5269};
    l.o.syns = 1;
    l.o.first_syn = ref(1, t);
    l.start = Timestamp::from_seconds(1'700'000'000.0 + t);
    l.last = Timestamp::from_seconds(1'700'000'000.0 + t + 0.05);
    if (i % 5 == 4) {
      l.history = "Sr";  // refused
      l.r.sent_rst = true;
      rec.conn.conn_state = flow::ConnState::kRej;
    } else {
      l.history = "ShADadFf";
      l.o.sent_ack = l.o.sent_data = l.o.sent_fin = true;
      l.r.sent_ack = l.r.sent_data = l.r.sent_fin = true;
      l.r.syns = 1;
      l.r.first_syn = ref(2, t);
      l.o.payload_bytes = 200;
      l.r.payload_bytes = 200;
      rec.conn.conn_state = flow::ConnState::kSF;
      rec.xmpp = i % 2 == 0 ? stream_facts(a, b, t) : stream_facts(b, a, t);
    }
    rec.conn.legs.push_back(l);
    r.connections.push_back(std::move(rec));
  }
  return r;
}

struct Cost {
  double judge = 1e9;   ///< judge()
  double render = 1e9;  ///< render_json() and render_text()
  std::size_t attempts = 0;
};

double seconds_since(std::clock_t c) {
  return static_cast<double>(std::clock() - c) / CLOCKS_PER_SEC;
}

// CPU seconds of judge() and of both renderers on a fresh Result of n connections; the least
// of three runs of each, to keep the machine's noise out of a ratio.
Cost cost(std::size_t n) {
  Cost c;
  for (int run = 0; run < 3; ++run) {
    Result r = make_result(n);
    std::clock_t t = std::clock();
    judge(r);
    c.judge = std::min(c.judge, seconds_since(t));
    t = std::clock();
    std::ostringstream json;
    render_json(r, json);
    const std::string text = render_text(r);
    c.render = std::min(c.render, seconds_since(t));
    c.attempts = r.attempts.size();
    EXPECT_FALSE(text.empty());
  }
  return c;
}

TEST(Scaling, JudgingAndRenderingGrowLinearly) {
  const Cost small = cost(2000);
  const Cost large = cost(20000);
  // The records really are many attempts (else the test proves nothing): 4 in 5 are streams,
  // one attempt each; the refused ones group by server address.
  EXPECT_GE(small.attempts, 1600u);
  EXPECT_GE(large.attempts, 16000u);
  // Linear would be 10x; allow for n log n maps and noise (and 50 ms for a clock tick or a
  // busy machine). A scan of all attempts or findings per record is ~100x.
  EXPECT_LE(large.judge, 25.0 * small.judge + 0.05)
      << "judge: 2000 connections " << small.judge << " s, 20000: " << large.judge << " s";
  EXPECT_LE(large.render, 25.0 * small.render + 0.05)
      << "render: 2000 connections " << small.render << " s, 20000: " << large.render << " s";
  std::printf(
      "scaling: judge %.3f s -> %.3f s, render %.3f s -> %.3f s for 2000 -> 20000 "
      "connections\n",
      small.judge, large.judge, small.render, large.render);
}

TEST(Scaling, PairsAreFoundBothWays) {
  Result r = make_result(8);
  judge(r);
  ASSERT_EQ(r.attempts.size(), 8u);
  std::size_t paired = 0;
  for (std::size_t i = 0; i < r.attempts.size(); ++i) {
    const auto& a = r.attempts[i];
    if (!a.reverse) continue;
    ++paired;
    EXPECT_EQ(r.attempts[*a.reverse].reverse, i);
  }
  EXPECT_GE(paired, 4u);
}

}  // namespace
}  // namespace fedscope::report
