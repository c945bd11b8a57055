// The judges on records built in the test: XMPP facts from a real ConnectionAnalyzer run,
// TCP state written by hand. Cases no committed capture shows.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fedscope/report/analysis.hpp"
#include "split_test.hpp"

namespace fedscope::report {
namespace {

using test::bytes_of;

PacketRef ref(std::uint64_t n, double t) {
  return PacketRef{0, n, Timestamp::from_seconds(1'700'000'000.0 + t)};
}

// A TCP connection established both ways and closed with FINs (Zeek SF).
engine::ConnectionRecord connection(std::uint32_t id, const char* client, const char* server,
                                    double start, double end) {
  engine::ConnectionRecord rec;
  rec.conn.id = id;
  flow::Leg l;
  l.id = id;
  l.connection = id;
  l.orig = Endpoint{*IpAddress::parse(client), 40000};
  l.resp = Endpoint{*IpAddress::parse(server), 5269};
  l.history = "ShADadFf";
  l.o.syns = 1;
  l.r.syns = 1;
  l.o.first_syn = ref(1, start);
  l.r.first_syn = ref(2, start);
  l.o.payload_bytes = 500;
  l.r.payload_bytes = 500;
  l.start = Timestamp::from_seconds(1'700'000'000.0 + start);
  l.last = Timestamp::from_seconds(1'700'000'000.0 + end);
  rec.conn.legs.push_back(l);
  rec.conn.conn_state = "SF";
  return rec;
}

struct Chunk {
  bool from_orig;
  std::string bytes;
  double t;
};

std::unique_ptr<s2s::ConnectionFacts> facts(const std::vector<Chunk>& chunks) {
  AnomalyCounters an;
  s2s::ConnectionAnalyzer a(an);
  std::uint64_t n = 10;
  double last = 0;
  for (const auto& c : chunks) {
    auto b = bytes_of(c.bytes);
    a.on_data(c.from_orig, b, ref(++n, c.t));
    last = c.t;
  }
  return std::make_unique<s2s::ConnectionFacts>(a.finish(ref(++n, last)));
}

std::string header(const char* from, const char* to, const char* id = "") {
  return std::string(
             "<stream:stream xmlns='jabber:server' "
             "xmlns:stream='http://etherx.jabber.org/streams' "
             "xmlns:db='jabber:server:dialback' from='") +
         from + "' to='" + to + "'" + (*id ? std::string(" id='") + id + "'" : "") +
         " version='1.0'>";
}
const std::string kFeatures =
    "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>";

std::vector<std::string> codes(const Result& r) {
  std::vector<std::string> v;
  for (const auto& f : r.findings)
    v.push_back(f.code);
  std::sort(v.begin(), v.end());
  return v;
}

TEST(Judge, MultiplexedStreamJoinsTheSecondPairsAttempt) {
  Result r;
  auto rec = connection(1, "203.0.113.10", "198.51.100.20", 0, 5);
  rec.xmpp = facts({
      {true, header("a.example", "b.example"), 0.1},
      {false, header("b.example", "a.example", "s1") + kFeatures, 0.2},
      {true, "<db:result from='a.example' to='b.example'>k1</db:result>", 0.3},
      {false, "<db:result type='valid' from='b.example' to='a.example'/>", 0.4},
      // The same stream now carries a second pair: a.example -> muc.b.example.
      {true, "<db:result from='a.example' to='muc.b.example'>k2</db:result>", 0.5},
      {false, "<db:result type='invalid' from='muc.b.example' to='a.example'/>", 0.6},
      {true, "</stream:stream>", 4.0},
      {false, "</stream:stream>", 4.1},
  });
  r.connections.push_back(std::move(rec));
  judge(r);
  ASSERT_EQ(r.attempts.size(), 2u);
  const auto& main = r.attempts[0];
  EXPECT_EQ(main.target, "b.example");
  EXPECT_EQ(main.auth_method, "dialback");
  EXPECT_EQ(main.auth_result, "valid");
  const auto& mux = r.attempts[1];
  EXPECT_EQ(mux.target, "muc.b.example");
  ASSERT_EQ(mux.roles.size(), 1u);
  EXPECT_EQ(mux.roles[0], "multiplexed");
  EXPECT_EQ(mux.auth_result, "invalid");
  EXPECT_EQ(mux.from_domain, "a.example");
  EXPECT_EQ(codes(r), std::vector<std::string>{"xmpp-dialback-invalid"});
  // The finding is about the domain whose key was refused: the originating one.
  EXPECT_EQ(r.findings[0].domain, "a.example");
  EXPECT_NE(r.findings[0].summary.find("muc.b.example"), std::string::npos);
}

TEST(Judge, DialbackTimeoutNeedsTheStreamToEnd) {
  // Closed by the requester after 4 s without an answer: a timeout.
  Result r;
  auto rec = connection(1, "203.0.113.10", "198.51.100.20", 0, 5);
  rec.xmpp = facts({
      {true, header("a.example", "b.example"), 0.1},
      {false, header("b.example", "a.example", "s1") + kFeatures, 0.2},
      {true, "<db:result from='a.example' to='b.example'>k1</db:result>", 0.3},
      {true, "</stream:stream>", 4.3},
      {false, "</stream:stream>", 4.4},
  });
  r.connections.push_back(std::move(rec));
  judge(r);
  EXPECT_EQ(codes(r), std::vector<std::string>{"xmpp-dialback-timeout"});
  ASSERT_EQ(r.attempts.size(), 1u);
  EXPECT_EQ(r.attempts[0].auth_result, "no-answer");

  // Still open when the capture ended 2 s later: not observable yet, no finding.
  Result open;
  auto rec2 = connection(1, "203.0.113.10", "198.51.100.20", 0, 2.3);
  rec2.conn.capture_ended = true;
  rec2.xmpp = facts({
      {true, header("a.example", "b.example"), 0.1},
      {false, header("b.example", "a.example", "s1") + kFeatures, 0.2},
      {true, "<db:result from='a.example' to='b.example'>k1</db:result>", 0.3},
  });
  open.connections.push_back(std::move(rec2));
  judge(open);
  EXPECT_TRUE(codes(open).empty());
  EXPECT_EQ(open.attempts[0].auth_result, "pending");
}

TEST(Judge, VerifyConnectionLinksByStreamId) {
  // ejabberd's shape: b.example checks a.example's key over a connection of its own that
  // carries only <db:verify>.
  Result r;
  auto main = connection(1, "203.0.113.10", "198.51.100.20", 0, 5);
  main.xmpp = facts({
      {true, header("a.example", "b.example"), 0.1},
      {false, header("b.example", "a.example", "stream-77") + kFeatures, 0.2},
      {true, "<db:result from='a.example' to='b.example'>k1</db:result>", 0.3},
      {false, "<db:result type='valid' from='b.example' to='a.example'/>", 0.9},
  });
  auto verify = connection(2, "198.51.100.20", "203.0.113.10", 0.4, 1.0);
  verify.xmpp = facts({
      {true, header("b.example", "a.example"), 0.5},
      {false, header("a.example", "b.example", "v-1") + kFeatures, 0.6},
      {true, "<db:verify from='b.example' to='a.example' id='stream-77'>k1</db:verify>", 0.7},
      {false, "<db:verify type='valid' from='a.example' to='b.example' id='stream-77'/>", 0.8},
      {true, "</stream:stream>", 0.85},
      {false, "</stream:stream>", 0.86},
  });
  r.connections.push_back(std::move(main));
  r.connections.push_back(std::move(verify));
  judge(r);
  ASSERT_EQ(r.attempts.size(), 1u);  // the verify-only connection is no attempt of its own
  EXPECT_EQ(r.attempts[0].connections, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(r.attempts[0].roles, (std::vector<std::string>{"stream", "dialback-verify"}));
  EXPECT_EQ(r.attempts[0].outcome, "authenticated");
  EXPECT_TRUE(codes(r).empty());
}

}  // namespace
}  // namespace fedscope::report
