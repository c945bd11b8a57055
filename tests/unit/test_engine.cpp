// The engine on hand-built raw-IP frames: the clock (an outlier timestamp does not steer the
// timers), DNS matching through its indexes (NAT copies, ICMP errors, bounded duplicates), an
// XMPP connection's facts when its analyzer is finished early.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fedscope/engine/engine.hpp"

using namespace fedscope;
using namespace fedscope::engine;

namespace {

constexpr int kLinktypeRaw = 101;
constexpr std::int64_t kT0 = 1795600800;      // 2026-11-25T10:00:00Z
constexpr std::int64_t kFuture = 2145916800;  // 2038-01-01T00:00:00Z

struct Collect : Observer {
  std::vector<std::uint32_t> closed;  // connection ids in closing order
  std::vector<DnsTransaction> dns;
  std::size_t closed_before_finish = 0;
  bool finished = false;
  void on_connection(ConnectionRecord&& c) override {
    closed.push_back(c.conn.id);
    if (!finished) ++closed_before_finish;
  }
  void on_dns(DnsTransaction&& t) override { dns.push_back(std::move(t)); }
};

void put16(std::vector<std::uint8_t>& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
  put16(b, at, static_cast<std::uint16_t>(v >> 16));
  put16(b, at + 2, static_cast<std::uint16_t>(v));
}

std::vector<std::uint8_t> ipv4(std::uint8_t src, std::uint8_t dst, std::uint8_t proto,
                               const std::vector<std::uint8_t>& payload) {
  std::vector<std::uint8_t> b(20);
  b[0] = 0x45;
  put16(b, 2, static_cast<std::uint16_t>(20 + payload.size()));
  b[8] = 64;
  b[9] = proto;
  // 192.0.2.src -> 203.0.113.dst
  b[12] = 192, b[13] = 0, b[14] = 2, b[15] = src;
  b[16] = 203, b[17] = 0, b[18] = 113, b[19] = dst;
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

std::vector<std::uint8_t> syn(std::uint8_t host, std::uint16_t sport, std::uint32_t isn) {
  std::vector<std::uint8_t> t(20);
  put16(t, 0, sport);
  put16(t, 2, 5269);
  put32(t, 4, isn);
  t[12] = 5 << 4;
  t[13] = 0x02;
  put16(t, 14, 65535);
  return ipv4(host, 10, 6, t);
}

std::vector<std::uint8_t> dns_query(std::uint8_t host, std::uint16_t sport, std::uint16_t txid) {
  std::vector<std::uint8_t> m(12);
  put16(m, 0, txid);
  put16(m, 2, 0x0100);
  put16(m, 4, 1);
  for (std::string label : {"example", "org"}) {
    m.push_back(static_cast<std::uint8_t>(label.size()));
    m.insert(m.end(), label.begin(), label.end());
  }
  m.insert(m.end(), {0, 0, 1, 0, 1});  // root, type A, class IN
  std::vector<std::uint8_t> u(8);
  put16(u, 0, sport);
  put16(u, 2, 53);
  put16(u, 4, static_cast<std::uint16_t>(8 + m.size()));
  u.insert(u.end(), m.begin(), m.end());
  return ipv4(host, 53, 17, u);
}

// An ICMP port unreachable from the server quoting the query (IP header + 8 bytes).
std::vector<std::uint8_t> icmp_for(const std::vector<std::uint8_t>& query) {
  std::vector<std::uint8_t> i{3, 3, 0, 0, 0, 0, 0, 0};
  i.insert(i.end(), query.begin(), query.begin() + 28);
  auto p = ipv4(0, 0, 1, i);
  // From 203.0.113.53 to the client.
  p[12] = 203, p[13] = 0, p[14] = 113, p[15] = 53;
  p[16] = 192, p[17] = 0, p[18] = 2, p[19] = query[15];
  return p;
}

struct Feeder {
  Collect obs;
  Engine engine{EngineConfig{}, obs};
  std::uint64_t number = 0;
  void frame(std::int64_t sec, std::int64_t nsec, const std::vector<std::uint8_t>& bytes) {
    Frame f;
    f.time = Timestamp::from_parts(sec, nsec);
    f.number = ++number;
    f.linktype = kLinktypeRaw;
    f.wire_length = static_cast<std::uint32_t>(bytes.size());
    f.data = bytes;
    engine.on_frame(f);
  }
  void finish() {
    obs.finished = true;
    engine.finish();
  }
};

}  // namespace

TEST(EngineClock, OneFarFutureFrameDoesNotFreezeExpiry) {
  Feeder f;
  f.frame(kT0, 0, syn(1, 40000, 100));      // connection 1
  f.frame(kFuture, 0, syn(2, 40001, 200));  // connection 2, one frame stamped 2038
  f.frame(kT0 + 1, 0, syn(4, 40002, 400));  // connection 3: an attempt nobody answers
  for (int s = 2; s <= 120; ++s)            // then normal time again
    f.frame(kT0 + s, 0, syn(3, static_cast<std::uint16_t>(41000 + s), 300u + s));
  // Connections 1 and 3 closed by the 60 s attempt timeout while packets were read (with the
  // clock frozen in 2038, 1 closed at the jump and 3 only at the end).
  ASSERT_GE(f.obs.closed.size(), 2u);
  EXPECT_EQ(f.obs.closed[0], 1u);
  EXPECT_EQ(f.obs.closed[1], 3u);
  EXPECT_GE(f.obs.closed_before_finish, 2u);
  EXPECT_EQ(f.engine.anomalies().get("capture.time_outlier"), 1u);
  f.finish();
}

TEST(EngineClock, AnOutlierFirstFrameIsFollowedBack) {
  Feeder f;
  f.frame(kFuture, 0, syn(2, 40001, 200));  // the clock starts in 2038
  for (int s = 0; s <= 120; ++s)
    f.frame(kT0 + s, 0, syn(3, static_cast<std::uint16_t>(41000 + s), 300u + s));
  // After kTimeOutlierConfirm frames behind it, the clock follows the packets back and the
  // early 2026 attempts expire before the end.
  EXPECT_EQ(f.engine.anomalies().get("capture.time_outlier"), 8u);
  EXPECT_GE(f.obs.closed_before_finish, 1u);
  f.finish();
}

TEST(EngineClock, AQuietHourIsARealJump) {
  Feeder f;
  f.frame(kT0, 0, syn(1, 40000, 100));
  for (int k = 0; k < 10; ++k)  // two hours later, for good
    f.frame(kT0 + 7200 + k, 0, syn(3, static_cast<std::uint16_t>(41000 + k), 300u + k));
  // The first 8 are outliers; then the clock jumps and the old attempt expires.
  EXPECT_EQ(f.engine.anomalies().get("capture.time_outlier"), 8u);
  EXPECT_EQ(f.obs.closed_before_finish, 1u);
  f.finish();
}

TEST(EngineDns, ManyQueriesWithOneTxidAndQuestionStayBounded) {
  Feeder f;
  for (int i = 0; i < 200; ++i)
    f.frame(kT0, i * 1000,
            dns_query(static_cast<std::uint8_t>(1 + i % 200), static_cast<std::uint16_t>(30000 + i),
                      0x4242));
  f.finish();
  EXPECT_EQ(f.obs.dns.size(), 200u);
  // 16 candidates at most within the NAT-copy window: the rest pushed the oldest out.
  EXPECT_EQ(f.engine.anomalies().get("dns.duplicate_query_limit"), 200u - 16u);
  for (const auto& t : f.obs.dns)
    EXPECT_EQ(t.copies, 0u);  // one vantage: no NAT copies
}

TEST(EngineDns, IcmpErrorsFindTheirQueriesThroughTheEndpointIndex) {
  Feeder f;
  std::vector<std::vector<std::uint8_t>> queries;
  for (int i = 0; i < 50; ++i) {
    queries.push_back(
        dns_query(static_cast<std::uint8_t>(1 + i), 30000, static_cast<std::uint16_t>(1000 + i)));
    f.frame(kT0, i * 1000, queries.back());
  }
  for (int i = 49; i >= 0; --i)
    f.frame(kT0, 100'000'000 + (49 - i) * 1000, icmp_for(queries[static_cast<std::size_t>(i)]));
  f.finish();
  ASSERT_EQ(f.obs.dns.size(), 50u);
  for (const auto& t : f.obs.dns) {
    ASSERT_TRUE(t.icmp.has_value()) << t.txid;
    EXPECT_EQ(t.outcome, DnsOutcome::kNoResponse);
  }
  EXPECT_EQ(f.engine.stats().icmp_errors_unmatched, 0u);
}

namespace {

// A TCP segment of the connection 192.0.2.1:@p cport <-> 203.0.113.10:5269.
std::vector<std::uint8_t> tcp_seg(bool from_client, std::uint16_t cport, std::uint32_t seq,
                                  std::uint32_t ack, std::uint8_t flags,
                                  const std::string& payload = "") {
  std::vector<std::uint8_t> t(20);
  put16(t, 0, from_client ? cport : 5269);
  put16(t, 2, from_client ? 5269 : cport);
  put32(t, 4, seq);
  put32(t, 8, ack);
  t[12] = 5 << 4;
  t[13] = flags;
  put16(t, 14, 65535);
  t.insert(t.end(), payload.begin(), payload.end());
  auto p = ipv4(1, 10, 6, t);
  if (!from_client)
    for (int i = 0; i < 4; ++i)
      std::swap(p[static_cast<std::size_t>(12 + i)], p[static_cast<std::size_t>(16 + i)]);
  return p;
}

struct Keep : Observer {
  std::vector<ConnectionRecord> records;
  void on_connection(ConnectionRecord&& c) override { records.push_back(std::move(c)); }
  void on_dns(DnsTransaction&&) override {}
};

// One plaintext S2S connection that both sides close (the originator first), then packets
// in the closed legs' linger; then @p more seconds of other traffic.
std::vector<ConnectionRecord> closed_both_ways(unsigned threads, int more) {
  Keep keep;
  EngineConfig cfg;
  cfg.threads = threads;
  Engine engine(cfg, keep);
  std::uint64_t number = 0;
  auto frame = [&](double t, const std::vector<std::uint8_t>& bytes) {
    Frame f;
    f.time = Timestamp::from_parts(kT0 + static_cast<std::int64_t>(t),
                                   static_cast<std::int64_t>((t - static_cast<int>(t)) * 1e9));
    f.number = ++number;
    f.linktype = kLinktypeRaw;
    f.wire_length = static_cast<std::uint32_t>(bytes.size());
    f.data = bytes;
    engine.on_frame(f);
  };
  const std::string ns =
      " xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'";
  const std::string ho = "<stream:stream from='a.example' to='b.example'" + ns + ">";
  const std::string hr = "<stream:stream from='b.example' to='a.example' id='r1'" + ns + ">";
  const std::string close = "</stream:stream>";
  constexpr std::uint8_t kSyn = 0x02, kAck = 0x10, kPsh = 0x08, kFin = 0x01, kRst = 0x04;
  std::uint32_t c = 1000, s = 5000;
  frame(0.00, tcp_seg(true, 40000, c, 0, kSyn));
  frame(0.01, tcp_seg(false, 40000, s, c + 1, kSyn | kAck));
  ++c, ++s;
  frame(0.02, tcp_seg(true, 40000, c, s, kAck));
  frame(0.03, tcp_seg(true, 40000, c, s, kAck | kPsh, ho));
  c += static_cast<std::uint32_t>(ho.size());
  frame(0.04, tcp_seg(true, 40000, c, s, kAck | kPsh | kFin, close));  // the originator ends
  c += static_cast<std::uint32_t>(close.size()) + 1;
  frame(0.05, tcp_seg(false, 40000, s, c, kAck | kPsh, hr));  // ... the responder still talks
  s += static_cast<std::uint32_t>(hr.size());
  frame(0.06, tcp_seg(false, 40000, s, c, kAck | kPsh | kFin, close));
  s += static_cast<std::uint32_t>(close.size()) + 1;
  frame(0.07, tcp_seg(true, 40000, c, s, kAck));
  // In the linger: a late retransmission of the responder's close and a RST.
  frame(1.00, tcp_seg(false, 40000, s - static_cast<std::uint32_t>(close.size()) - 1, c,
                      kAck | kPsh | kFin, close));
  frame(2.00, tcp_seg(false, 40000, s, c, kRst));
  for (int k = 0; k < more; ++k)
    frame(3.0 + k, syn(2, static_cast<std::uint16_t>(41000 + k), 300u + static_cast<unsigned>(k)));
  engine.finish();
  return std::move(keep.records);
}

}  // namespace

// The analyzer of a connection is finished (and freed) as soon as it has seen both directions
// end, not when the closed legs' linger runs out: the facts must be those of the whole
// connection — the side that ended last included — on one thread or two, and whether the
// linger ran out while reading or the input ended first.
TEST(EngineXmpp, FactsOfAConnectionClosedBothWaysAreWhole) {
  for (unsigned threads : {1u, 2u}) {
    for (int more : {0, 10}) {
      auto recs = closed_both_ways(threads, more);
      ASSERT_FALSE(recs.empty());
      const ConnectionRecord& r = recs.front();
      ASSERT_TRUE(r.xmpp) << threads << " " << more;
      const auto& x = *r.xmpp;
      EXPECT_EQ(x.kind, s2s::StreamKind::kXmpp);
      ASSERT_TRUE(x.orig.header && x.resp.header);
      EXPECT_EQ(x.orig.header->from, "a.example");
      EXPECT_EQ(x.resp.header->from, "b.example");
      EXPECT_EQ(x.resp.header->id, "r1");
      EXPECT_TRUE(x.orig.closed && x.resp.closed);
      EXPECT_TRUE(x.orig.ended && x.resp.ended);
      ASSERT_TRUE(x.resp.last_data.has_value());
      EXPECT_EQ(x.resp.last_data->number, 7u);  // the responder's close, not the retransmission
      ASSERT_EQ(x.ladder.size(), 4u);
      EXPECT_TRUE(x.ladder[0].from_orig && x.ladder[1].from_orig);
      EXPECT_FALSE(x.ladder[2].from_orig || x.ladder[3].from_orig);
      EXPECT_EQ(x.ladder[3].ref.number, 7u);
      EXPECT_EQ(r.conn.conn_state, flow::ConnState::kRstr);
      EXPECT_EQ(recs.size(), 1u + static_cast<std::size_t>(more));
    }
  }
}
