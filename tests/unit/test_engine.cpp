// The engine on hand-built raw-IP frames: the clock (an outlier timestamp does not steer the
// timers), DNS matching through its indexes (NAT copies, ICMP errors, bounded duplicates).

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
