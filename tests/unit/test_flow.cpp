// Flow table and reassembly: conn_state, history, SYN retries, NAT pairing, port reuse,
// and a reassembler fed the same stream cut at every offset and in every segment order.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fedscope/flow/flow_table.hpp"
#include "fedscope/flow/reassembly.hpp"
#include "split_test.hpp"

using namespace fedscope;
using namespace fedscope::flow;
namespace tf = packet::tcp_flags;

namespace {

struct Collect : StreamSink {
  std::string out;
  void on_data(std::uint64_t off, std::span<const std::uint8_t> d) override {
    out += "@" + std::to_string(off) + ":" + std::string(d.begin(), d.end());
  }
  void on_gap(std::uint64_t off, std::uint64_t len) override {
    out += "[gap " + std::to_string(off) + "+" + std::to_string(len) + "]";
  }
  void on_end() override { out += "[end]"; }
};

// Delivered bytes only, for comparing runs that chunk differently.
struct Bytes : StreamSink {
  std::string out;
  void on_data(std::uint64_t, std::span<const std::uint8_t> d) override {
    out.append(d.begin(), d.end());
  }
  void on_gap(std::uint64_t off, std::uint64_t len) override {
    out += "[gap " + std::to_string(off) + "+" + std::to_string(len) + "]";
  }
  void on_end() override { out += "[end]"; }
};

// A connection's consumer that keeps the evidence of each call.
struct Recorder : ConnectionSink {
  std::string out;
  std::vector<std::uint64_t> data_at;
  std::uint64_t end_at = 0;
  void on_data(std::uint64_t, std::span<const std::uint8_t> d, const PacketRef& at) override {
    out.append(d.begin(), d.end());
    data_at.push_back(at.number);
  }
  void on_gap(std::uint64_t off, std::uint64_t len, const PacketRef&) override {
    out += "[gap " + std::to_string(off) + "+" + std::to_string(len) + "]";
  }
  void on_end(const PacketRef& at) override {
    out += "[end]";
    end_at = at.number;
  }
};

std::span<const std::uint8_t> sp(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

TEST(Reassembler, EverySplitGivesTheSameBytes) {
  const std::string stream = "<stream:stream to='b.example'><db:result>key</db:result>";
  auto input = test::bytes_of(stream);
  std::string problem =
      test::check_all_splits(input, [](const std::vector<std::span<const std::uint8_t>>& chunks) {
        AnomalyCounters a;
        Reassembler r(a);
        Bytes sink;
        r.set_isn(1000);
        std::uint32_t seq = 1001;
        for (auto c : chunks) {
          r.segment(seq, c, static_cast<std::uint32_t>(c.size()), sink);
          seq += static_cast<std::uint32_t>(c.size());
        }
        r.finish(sink);
        return sink.out;
      });
  EXPECT_EQ(problem, "");
}

TEST(Reassembler, ReversedSegmentsAndOverlapsReassemble) {
  const std::string stream = "0123456789abcdefghij";
  // Every cut point, segments delivered last-first, plus an overlapping retransmission.
  for (std::size_t cut = 1; cut < stream.size(); ++cut) {
    AnomalyCounters a;
    Reassembler r(a);
    Bytes sink;
    r.set_isn(0xfffffff0u);  // the stream wraps the 32-bit sequence space
    std::uint32_t base = 0xfffffff1u;
    std::string b = stream.substr(cut);
    std::string f = stream.substr(0, cut);
    r.segment(base + static_cast<std::uint32_t>(cut), sp(b), static_cast<std::uint32_t>(b.size()),
              sink);
    r.segment(base, sp(f), static_cast<std::uint32_t>(f.size()), sink);
    r.segment(base + 1, sp(stream.substr(1, 5)), 5, sink);  // old bytes again
    r.finish(sink);
    EXPECT_EQ(sink.out, stream + "[end]") << "cut " << cut;
    EXPECT_EQ(a.total(), 0u);
  }
}

TEST(Reassembler, AckPastAHoleMakesTheGapAtOnce) {
  // The peer acknowledged bytes the capture never saw: the later bytes are delivered when the
  // ACK (or the later segment) arrives, not held until the end.
  AnomalyCounters a;
  Reassembler r(a);
  Collect sink;
  r.set_isn(99);
  r.segment(100, sp("abc"), 3, sink);
  r.segment(110, sp("xyz"), 3, sink);  // bytes 3..9 missing
  EXPECT_EQ(sink.out, "@0:abc");
  r.acked(105, sink);  // only part of the hole acknowledged: nothing to deliver yet
  EXPECT_EQ(sink.out, "@0:abc[gap 3+2]");
  r.acked(113, sink);
  EXPECT_EQ(sink.out, "@0:abc[gap 3+2][gap 5+5]@10:xyz");
  EXPECT_EQ(a.get("tcp.acked_unseen"), 2u);
  r.acked(114, sink);  // the FIN's sequence number: no gap
  r.finish(sink);
  EXPECT_EQ(sink.out, "@0:abc[gap 3+2][gap 5+5]@10:xyz[end]");
  EXPECT_EQ(r.gaps(), 7u);
}

TEST(Reassembler, AckBeforeTheLaterSegmentArrives) {
  AnomalyCounters a;
  Reassembler r(a);
  Collect sink;
  r.set_isn(99);
  r.segment(100, sp("abc"), 3, sink);
  r.acked(110, sink);  // the lost segment was acknowledged; nothing held yet
  EXPECT_EQ(sink.out, "@0:abc");
  r.segment(110, sp("xyz"), 3, sink);
  EXPECT_EQ(sink.out, "@0:abc[gap 3+7]@10:xyz");
  // An ACK of bytes still in flight, with nothing held, creates nothing.
  r.acked(200, sink);
  r.segment(113, sp("!"), 1, sink);
  r.finish(sink);
  EXPECT_EQ(sink.out, "@0:abc[gap 3+7]@10:xyz@13:![end]");
}

TEST(Reassembler, HoleBecomesAnExplicitGap) {
  AnomalyCounters a;
  Reassembler r(a);
  Collect sink;
  r.set_isn(99);
  r.segment(100, sp("abc"), 3, sink);
  r.segment(110, sp("xyz"), 3, sink);  // 7 bytes missing
  r.finish(sink);
  EXPECT_EQ(sink.out, "@0:abc[gap 3+7]@10:xyz[end]");
  EXPECT_EQ(r.gaps(), 7u);
}

TEST(Reassembler, SnaplenCutIsAGapNotData) {
  AnomalyCounters a;
  Reassembler r(a);
  Collect sink;
  r.set_isn(0);
  r.segment(1, sp("ab"), 10, sink);  // 10 bytes on the wire, 2 captured
  r.segment(11, sp("z"), 1, sink);
  r.finish(sink);
  EXPECT_EQ(sink.out, "@0:ab[gap 2+8]@10:z[end]");
}

TEST(Reassembler, BufferLimitForcesGapAndCounts) {
  AnomalyCounters a;
  Reassembler r(a, 8);
  Collect sink;
  r.set_isn(0);
  r.segment(11, sp("12345"), 5, sink);
  r.segment(21, sp("67890"), 5, sink);  // 10 bytes held > 8: oldest hole declared
  EXPECT_EQ(a.get("tcp.reassembly_limit"), 1u);
  EXPECT_EQ(sink.out, "[gap 0+10]@10:12345");
  r.finish(sink);
  EXPECT_EQ(sink.out, "[gap 0+10]@10:12345[gap 15+5]@20:67890[end]");
}

TEST(Reassembler, InconsistentRetransmissionCounted) {
  AnomalyCounters a;
  Reassembler r(a);
  Collect sink;
  r.set_isn(0);
  r.segment(5, sp("AAAA"), 4, sink);
  r.segment(5, sp("BBBB"), 4, sink);
  EXPECT_EQ(a.get("tcp.inconsistent_retransmission"), 1u);
}

TEST(Reassembler, InconsistentOverlapsCountedWhereverTheyFall) {
  // Zeek's rexmit_inconsistency: bytes seen twice with different contents, however the second
  // copy lines up with the first. The first copy is kept.
  struct Case {
    const char* what;
    std::uint32_t seq;
    std::string bytes;
  };
  const Case cases[] = {
      {"same offset", 5, "XXXX"},
      {"inside, at another offset", 6, "AX"},
      {"partial overlap from before", 3, "zzAX"},
      {"partial overlap after", 7, "AXyy"},
      {"covers the held piece and more", 4, "zAAXAy"},
  };
  for (const auto& c : cases) {
    AnomalyCounters a;
    Reassembler r(a);
    Collect sink;
    r.set_isn(0);
    r.segment(5, sp("AAAA"), 4, sink);  // offsets 4..7 held, 0..3 missing
    r.segment(c.seq, sp(c.bytes), static_cast<std::uint32_t>(c.bytes.size()), sink);
    EXPECT_EQ(a.get("tcp.inconsistent_retransmission"), 1u) << c.what;
    r.segment(1, sp("0123"), 4, sink);
    r.finish(sink);
    EXPECT_NE(sink.out.find("AAAA"), std::string::npos) << c.what << ": " << sink.out;
  }
}

TEST(Reassembler, ConsistentOverlapsAreNotCounted) {
  AnomalyCounters a;
  Reassembler r(a);
  Bytes sink;
  r.set_isn(0);
  const std::string stream = "0123456789abcdef";
  auto at = [&](std::size_t off, std::size_t len) {
    std::string s = stream.substr(off, len);
    r.segment(static_cast<std::uint32_t>(1 + off), sp(s), static_cast<std::uint32_t>(len), sink);
  };
  at(8, 4);
  at(6, 4);   // partial overlap before
  at(10, 6);  // partial overlap after
  at(7, 8);   // covers several held pieces
  at(0, 9);   // in order, over held bytes
  at(2, 3);   // an old piece again
  r.finish(sink);
  EXPECT_EQ(sink.out, stream + "[end]");
  EXPECT_EQ(a.total(), 0u);
}

TEST(Reassembler, RandomOverlappingSegmentsOfOneStreamReassembleExactly) {
  // Segments of random offsets and lengths, in random order, overlapping each other and the
  // delivered bytes in every way: the stream comes out whole, nothing is counted.
  std::string stream;
  for (int i = 0; i < 300; ++i)
    stream.push_back(static_cast<char>('a' + (i * 7) % 26));
  std::uint32_t seed = 12345;
  auto next = [&seed](std::uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) % n;
  };
  for (int round = 0; round < 200; ++round) {
    AnomalyCounters a;
    Reassembler r(a);
    Bytes sink;
    r.set_isn(0xfffffff0u);  // wraps
    std::vector<std::pair<std::size_t, std::size_t>> segs;
    for (std::size_t off = 0; off < stream.size();) {  // a cover of the stream
      std::size_t len = 1 + next(40);
      segs.emplace_back(off, std::min(len, stream.size() - off));
      off += len;
    }
    for (int k = 0; k < 30; ++k) {  // and overlapping extras
      std::size_t off = next(static_cast<std::uint32_t>(stream.size()));
      segs.emplace_back(off, std::min<std::size_t>(1 + next(60), stream.size() - off));
    }
    for (std::size_t i = segs.size(); i > 1; --i)
      std::swap(segs[i - 1], segs[next(static_cast<std::uint32_t>(i))]);
    for (auto [off, len] : segs)
      r.segment(0xfffffff1u + static_cast<std::uint32_t>(off), sp(stream.substr(off, len)),
                static_cast<std::uint32_t>(len), sink);
    r.finish(sink);
    ASSERT_EQ(sink.out, stream + "[end]") << "round " << round;
    ASSERT_EQ(a.total(), 0u) << "round " << round;
  }
}

TEST(Reassembler, InOrderResendWithOtherBytesCounted) {
  // An injected segment wins the race and is delivered; the real one with the same sequence
  // numbers comes after it.
  AnomalyCounters a;
  Reassembler r(a);
  Collect sink;
  r.set_isn(0);
  r.segment(1, sp("<proceed/>"), 10, sink);
  r.segment(1, sp("<proceed/>"), 10, sink);  // a plain retransmission
  EXPECT_EQ(a.get("tcp.inconsistent_retransmission"), 0u);
  r.segment(1, sp("<failure/>"), 10, sink);
  EXPECT_EQ(a.get("tcp.inconsistent_retransmission"), 1u);
  // An XMPP whitespace ping, then a TCP keep-alive probe carrying one garbage byte on it.
  r.segment(11, sp(" "), 1, sink);
  r.segment(11, sp("x"), 1, sink);
  EXPECT_EQ(a.get("tcp.inconsistent_retransmission"), 1u);
  // In order, covering bytes held out of order with other bytes.
  r.segment(16, sp("WXYZ"), 4, sink);
  r.segment(12, sp("abcdefgh"), 8, sink);
  EXPECT_EQ(a.get("tcp.inconsistent_retransmission"), 2u);
  EXPECT_EQ(sink.out, "@0:<proceed/>@10: @11:abcdefgh");
}

TEST(Reassembler, ResendsOfDeliveredBytesAreComparedHoweverTheyAreCut) {
  // Delivered pieces [0,4) "abcd", [4,8) "efgh", [8,12) "ijkl". A retransmission may coalesce
  // them, or carry the old bytes in front of new ones; each piece it covers whole is compared.
  struct Case {
    const char* what;
    std::uint32_t seq;
    std::string bytes;
    std::uint64_t counted;
  };
  const Case cases[] = {
      {"two pieces coalesced, same bytes", 1, "abcdefgh", 0},
      {"two pieces coalesced, other bytes in the second", 1, "abcdefgX", 1},
      {"three pieces and a byte before, other bytes", 1, "abcdXfghijkl", 1},
      {"old piece in front of new bytes, same", 9, "ijklmnop", 0},
      {"old piece in front of new bytes, other", 9, "iXklmnop", 1},
      {"old pieces in front of new bytes, the first differs", 5, "Xfghijklmn", 1},
      {"part of a piece only: not comparable", 2, "Xcd", 0},
  };
  for (const auto& c : cases) {
    AnomalyCounters a;
    Reassembler r(a);
    Bytes sink;
    r.set_isn(0);
    r.segment(1, sp("abcd"), 4, sink);
    r.segment(5, sp("efgh"), 4, sink);
    r.segment(9, sp("ijkl"), 4, sink);
    r.segment(c.seq, sp(c.bytes), static_cast<std::uint32_t>(c.bytes.size()), sink);
    EXPECT_EQ(a.get("tcp.inconsistent_retransmission"), c.counted) << c.what;
    r.finish(sink);
    // The first copy is what was delivered; new bytes after it are delivered once.
    EXPECT_EQ(sink.out.substr(0, 12), "abcdefghijkl") << c.what;
  }
}

TEST(Reassembler, HeldPiecesAreBoundedNotOnlyTheirBytes) {
  // 1-byte segments behind a hole: the piece count is the limit, not the 1 MiB of bytes.
  AnomalyCounters a;
  Reassembler r(a, Reassembler::kDefaultMaxBuffered, 16);
  Bytes sink;
  r.set_isn(0);
  for (std::uint32_t k = 0; k < 100; ++k)
    r.segment(3 + 2 * k, sp("x"), 1, sink);  // offsets 2, 4, 6, ...: never adjacent
  EXPECT_LE(r.held_segments(), 16u);
  EXPECT_EQ(a.get("tcp.reassembly_segment_limit"), 84u);
  r.finish(sink);
  EXPECT_EQ(r.held_segments(), 0u);
}

TEST(Reassembler, AllDirectionsShareOneBudget) {
  AnomalyCounters a;
  ReassemblyBudget budget{3 * (Reassembler::kSegmentOverhead + 4), 0};
  Bytes s1, s2;
  {
    Reassembler r1(a, Reassembler::kDefaultMaxBuffered, 1000, &budget);
    Reassembler r2(a, Reassembler::kDefaultMaxBuffered, 1000, &budget);
    r1.set_isn(0);
    r2.set_isn(0);
    r1.segment(11, sp("aaaa"), 4, s1);
    r1.segment(21, sp("bbbb"), 4, s1);
    r2.segment(11, sp("cccc"), 4, s2);
    EXPECT_EQ(a.get("tcp.reassembly_total_limit"), 0u);
    EXPECT_EQ(budget.used, 3 * (Reassembler::kSegmentOverhead + 4));
    r2.segment(21, sp("dddd"), 4, s2);  // over the shared budget: r2 gives up its oldest hole
    EXPECT_EQ(a.get("tcp.reassembly_total_limit"), 1u);
    EXPECT_EQ(s2.out, "[gap 0+10]cccc");
    EXPECT_LE(budget.used, budget.max_bytes);
    r1.finish(s1);
  }
  EXPECT_EQ(budget.used, 0u);  // finished or destroyed: everything given back
}

// ---- flow table ---------------------------------------------------------------------------

namespace {

struct Table {
  AnomalyCounters anomalies;
  std::vector<Connection> closed;
  FlowTable table{anomalies, FlowTableConfig{},
                  [this](Connection&& c) { closed.push_back(std::move(c)); }};
  double t = 1000.0;
  std::uint64_t n = 0;
  std::string payload_;

  std::uint8_t ttl = 64;  ///< TTL of the next packet sent

  void send(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport,
            std::uint8_t flags, std::uint32_t seq, std::uint32_t ack = 0, std::uint32_t len = 0,
            std::int32_t ifindex = -1, double dt = 0.01,
            packet::Direction dir = packet::Direction::kUnknown, std::uint16_t ipid = 0) {
    t += dt;
    packet::Packet p;
    p.ttl = ttl;
    p.time = Timestamp::from_seconds(t);
    p.number = ++n;
    p.vantage.ifindex = ifindex;
    p.direction = dir;
    p.ip_version = 4;
    p.src = *IpAddress::parse(src);
    p.dst = *IpAddress::parse(dst);
    p.ip_id = ipid;
    p.transport = packet::Transport::kTcp;
    p.sport = sport;
    p.dport = dport;
    p.tcp.flags = flags;
    p.tcp.seq = seq;
    p.tcp.ack = ack;
    p.tcp.window = 1000;
    p.payload_length = len;
    payload_.assign(len, 'x');
    p.payload = std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(payload_.data()), payload_.size());
    table.advance(p.time);
    table.on_tcp(p);
  }
  const Connection& only() {
    table.finish();
    EXPECT_EQ(closed.size(), 1u);
    return closed.front();
  }
};

constexpr const char* C = "203.0.113.10";
constexpr const char* S = "192.0.2.10";

}  // namespace

TEST(FlowTable, HealthyConnectionIsSF) {
  Table x;
  x.send(C, 40000, S, 5269, tf::kSyn, 100);
  x.send(S, 5269, C, 40000, tf::kSyn | tf::kAck, 500, 101);
  x.send(C, 40000, S, 5269, tf::kAck, 101, 501);
  x.send(C, 40000, S, 5269, tf::kAck | tf::kPsh, 101, 501, 50);
  x.send(S, 5269, C, 40000, tf::kAck | tf::kPsh, 501, 151, 70);
  x.send(C, 40000, S, 5269, tf::kFin | tf::kAck, 151, 571);
  x.send(S, 5269, C, 40000, tf::kFin | tf::kAck, 571, 152);
  x.send(C, 40000, S, 5269, tf::kAck, 152, 572);
  const auto& c = x.only();
  EXPECT_EQ(to_string(c.conn_state), "SF");
  EXPECT_EQ(c.primary().history, "ShADdFf");  // the responder never sent a pure ACK
  EXPECT_EQ(c.primary().o.payload_bytes, 50u);
  EXPECT_EQ(c.primary().r.payload_bytes, 70u);
  EXPECT_EQ(c.syn_retries(), 0u);
  EXPECT_FALSE(c.capture_ended);
}

TEST(FlowTable, SynRetriesWithoutAnswerIsS0) {
  Table x;
  for (int i = 0; i < 5; ++i)
    x.send(C, 40001, S, 5269, tf::kSyn, 7, 0, 0, -1, i == 0 ? 0.0 : 1.0 * i);
  const auto& c = x.only();
  EXPECT_EQ(to_string(c.conn_state), "S0");
  EXPECT_EQ(c.syn_retries(), 4u);
  ASSERT_EQ(c.primary().o.syn_times.size(), 5u);
  EXPECT_NEAR((c.primary().o.syn_times[4] - c.primary().o.syn_times[0]).seconds(), 10.0, 1e-6);
  EXPECT_TRUE(c.capture_ended);
}

TEST(FlowTable, RstAnsweringSynIsREJ) {
  Table x;
  x.send(C, 40002, S, 5269, tf::kSyn, 7);
  x.send(S, 5269, C, 40002, tf::kRst | tf::kAck, 0, 8);
  EXPECT_EQ(to_string(x.only().conn_state), "REJ");
}

TEST(FlowTable, ResetAfterDataIsRSTR) {
  Table x;
  x.send(C, 40003, S, 5269, tf::kSyn, 100);
  x.send(S, 5269, C, 40003, tf::kSyn | tf::kAck, 500, 101);
  x.send(C, 40003, S, 5269, tf::kAck, 101, 501);
  x.send(C, 40003, S, 5269, tf::kAck, 101, 501, 20);
  x.send(S, 5269, C, 40003, tf::kRst, 501);
  const auto& c = x.only();
  EXPECT_EQ(to_string(c.conn_state), "RSTR");
  EXPECT_EQ(c.primary().history, "ShADr");
}

TEST(FlowTable, MidstreamIsOTHAndFlipsToServicePort) {
  Table x;
  x.send(S, 5269, C, 40004, tf::kAck, 900, 50, 10);
  x.send(C, 40004, S, 5269, tf::kAck, 50, 910, 10);
  const auto& c = x.only();
  EXPECT_EQ(to_string(c.conn_state), "OTH");
  EXPECT_EQ(c.primary().resp.port, 5269);
  EXPECT_EQ(c.primary().history, "^dD");
  EXPECT_TRUE(c.midstream);
}

TEST(FlowTable, DataRetransmissionCountedOnceNotAsBytes) {
  Table x;
  x.send(C, 40005, S, 5269, tf::kSyn, 100);
  x.send(S, 5269, C, 40005, tf::kSyn | tf::kAck, 500, 101);
  x.send(C, 40005, S, 5269, tf::kAck, 101, 501);
  x.send(C, 40005, S, 5269, tf::kAck, 101, 501, 100);
  x.send(C, 40005, S, 5269, tf::kAck, 101, 501, 100);  // again
  const auto& c = x.only();
  EXPECT_EQ(c.primary().o.retransmissions, 1u);
  EXPECT_EQ(c.primary().o.payload_bytes, 100u);
  EXPECT_NE(c.primary().history.find('T'), std::string::npos);
}

TEST(FlowTable, NatLegsPairByIsnAndCountOnce) {
  Table x;
  const char* pub = "203.0.113.100";
  // Outside leg on interface 2, inside leg (DNAT to 192.0.2.10) on interface 3.
  x.send(C, 40006, pub, 5269, tf::kSyn, 4242, 0, 0, 2, 0.01, packet::Direction::kIn);
  x.send(C, 40006, S, 5269, tf::kSyn, 4242, 0, 0, 3, 0.00001, packet::Direction::kOut);
  x.send(S, 5269, C, 40006, tf::kRst | tf::kAck, 0, 4243, 0, 3, 0.0001, packet::Direction::kIn);
  x.send(pub, 5269, C, 40006, tf::kRst | tf::kAck, 0, 4243, 0, 2, 0.00001, packet::Direction::kOut);
  const auto& c = x.only();
  ASSERT_EQ(c.legs.size(), 2u);
  EXPECT_EQ(c.primary().resp.to_string(), "203.0.113.100:5269");
  EXPECT_EQ(c.legs[1].resp.to_string(), "192.0.2.10:5269");
  EXPECT_EQ(to_string(c.conn_state), "REJ");
  EXPECT_EQ(c.primary().o.packets + c.primary().r.packets, 2u);  // copies not counted twice
  EXPECT_EQ(c.syn_retries(), 0u);
  EXPECT_EQ(x.table.duplicate_copies(), 2u);
}

TEST(FlowTable, DifferentIsnIsNotPaired) {
  Table x;
  x.send(C, 40007, "203.0.113.100", 5269, tf::kSyn, 1, 0, 0, 2);
  x.send(C, 40007, S, 5269, tf::kSyn, 2, 0, 0, 3);
  x.table.finish();
  EXPECT_EQ(x.closed.size(), 2u);
}

TEST(FlowTable, PortReuseWithNewIsnStartsANewConnection) {
  Table x;
  x.send(C, 40008, S, 5269, tf::kSyn, 100);
  x.send(S, 5269, C, 40008, tf::kRst | tf::kAck, 0, 101);
  x.send(C, 40008, S, 5269, tf::kSyn, 9000, 0, 0, -1, 2.0);
  x.table.finish();
  ASSERT_EQ(x.closed.size(), 2u);
  EXPECT_EQ(to_string(x.closed[0].conn_state), "REJ");
  EXPECT_EQ(to_string(x.closed[1].conn_state), "S0");
}

TEST(FlowTable, ClosedFlowsExpireOnPacketTime) {
  Table x;
  x.send(C, 40009, S, 5269, tf::kSyn, 7);
  x.send(S, 5269, C, 40009, tf::kRst | tf::kAck, 0, 8);
  EXPECT_EQ(x.table.live_legs(), 1u);
  x.send(C, 40010, S, 5269, tf::kSyn, 1, 0, 0, -1, 10.0);  // time moves on 10 s
  EXPECT_EQ(x.closed.size(), 1u);
  EXPECT_EQ(x.table.live_legs(), 1u);
}

TEST(ConnState, ZeekVocabulary) {
  Leg l;
  using S = EndpointState;
  auto st = [&](S o, S r) {
    l.o.state = o;
    l.r.state = r;
    return std::string(to_string(conn_state(l)));
  };
  EXPECT_EQ(st(S::kSynSent, S::kInactive), "S0");
  EXPECT_EQ(st(S::kEstablished, S::kEstablished), "S1");
  EXPECT_EQ(st(S::kClosed, S::kClosed), "SF");
  EXPECT_EQ(st(S::kSynSent, S::kReset), "REJ");
  EXPECT_EQ(st(S::kClosed, S::kEstablished), "S2");
  EXPECT_EQ(st(S::kEstablished, S::kClosed), "S3");
  EXPECT_EQ(st(S::kReset, S::kEstablished), "RSTO");
  EXPECT_EQ(st(S::kEstablished, S::kReset), "RSTR");
  EXPECT_EQ(st(S::kReset, S::kInactive), "RSTOS0");
  EXPECT_EQ(st(S::kInactive, S::kReset), "RSTRH");
  EXPECT_EQ(st(S::kClosed, S::kInactive), "SH");
  EXPECT_EQ(st(S::kInactive, S::kClosed), "SHR");
  EXPECT_EQ(st(S::kPartial, S::kPartial), "OTH");
}

TEST(FlowTable, TableFullEvictsTheOldestNotTheNewLeg) {
  AnomalyCounters anomalies;
  std::vector<Connection> closed;
  FlowTableConfig cfg;
  cfg.max_live_legs = 2;
  FlowTable table(anomalies, cfg, [&](Connection&& c) { closed.push_back(std::move(c)); });
  auto syn = [&](std::uint16_t sport, double t) {
    packet::Packet p;
    p.time = Timestamp::from_seconds(t);
    p.ip_version = 4;
    p.src = *IpAddress::parse(C);
    p.dst = *IpAddress::parse(S);
    p.transport = packet::Transport::kTcp;
    p.sport = sport;
    p.dport = 5269;
    p.tcp.flags = tf::kSyn;
    p.tcp.seq = sport;
    table.advance(p.time);
    table.on_tcp(p);
  };
  syn(1000, 1.0);
  syn(1001, 1.1);
  syn(1002, 1.2);  // the table is full: the leg from 1.0 goes, the new one stays
  EXPECT_EQ(anomalies.get("flow.table_full"), 1u);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].primary().orig.port, 1000);
  EXPECT_EQ(table.live_legs(), 2u);
  table.finish();
  ASSERT_EQ(closed.size(), 3u);
  EXPECT_EQ(closed[2].primary().orig.port, 1002);
  EXPECT_EQ(closed[2].primary().o.syns, 1u);
}

TEST(FlowTable, GapFoundAtEndOfCaptureMarksHistory) {
  // Only connections with a consumer are reassembled; give this one a sink.
  struct Factory : StreamSinkFactory {
    Recorder o, r;
    ConnectionSink* sink_for(const Connection&, bool from_orig, bool) override {
      return from_orig ? &o : &r;
    }
    void release(const Connection&, const PacketRef&) override {}
  } factory;
  Table x;
  x.table.set_sink_factory(&factory);
  x.send(C, 40011, S, 5269, tf::kSyn, 100);
  x.send(S, 5269, C, 40011, tf::kSyn | tf::kAck, 500, 101);
  x.send(C, 40011, S, 5269, tf::kAck, 101, 501);
  x.send(C, 40011, S, 5269, tf::kAck, 111, 501, 5);  // 10 bytes never seen before it
  const auto& c = x.only();
  EXPECT_EQ(c.gap_bytes, 10u);
  EXPECT_NE(c.primary().history.find('G'), std::string::npos) << c.primary().history;
  EXPECT_EQ(factory.o.out, "[gap 0+10]xxxxx[end]");
}

TEST(FlowTable, TimerClosedConnectionCarriesItsOwnEvidence) {
  // A connection goes silent; a packet of another connection 400 s later moves the clock and
  // the sweep closes the first by the idle timeout. Its ends (and the release) must name its own
  // last packet, not the unrelated one that happened to advance time. A FIN ends a direction at
  // the FIN itself.
  struct Factory : StreamSinkFactory {
    std::map<std::uint32_t, std::unique_ptr<Recorder>> sinks;
    std::map<std::uint32_t, PacketRef> released;
    std::map<std::uint32_t, bool> by_syn;
    ConnectionSink* sink_for(const Connection& c, bool from_orig, bool opened_by_syn) override {
      by_syn[c.id] = opened_by_syn;
      auto& s = sinks[c.id * 2 + (from_orig ? 0 : 1)];
      s = std::make_unique<Recorder>();
      return s.get();
    }
    void release(const Connection& c, const PacketRef& at) override { released[c.id] = at; }
  } factory;
  Table x;
  x.table.set_sink_factory(&factory);
  x.send(C, 40020, S, 5269, tf::kSyn, 100);                    // #1
  x.send(S, 5269, C, 40020, tf::kSyn | tf::kAck, 500, 101);    // #2
  x.send(C, 40020, S, 5269, tf::kAck, 101, 501, 3);            // #3 data
  x.send(S, 5269, C, 40020, tf::kFin | tf::kAck, 501, 104);    // #4: the responder closes
  x.send(C, 40020, S, 5269, tf::kAck, 104, 502);               // #5: the connection's last packet
  x.send(C, 40021, S, 5269, tf::kAck, 9000, 1, 4, -1, 400.0);  // #6: another, mid-stream
  ASSERT_EQ(x.closed.size(), 1u);
  EXPECT_TRUE(x.closed[0].expired_idle);
  const auto& o = *factory.sinks.at(2);
  const auto& r = *factory.sinks.at(3);
  EXPECT_EQ(o.data_at, std::vector<std::uint64_t>{3});
  EXPECT_EQ(r.end_at, 4u) << "a FIN ends its direction at the FIN";
  EXPECT_EQ(o.end_at, 5u) << "the idle end is attributed to the connection's own last packet";
  EXPECT_EQ(factory.released.at(1).number, 5u);
  EXPECT_TRUE(factory.by_syn.at(1));
  x.table.finish();
  EXPECT_FALSE(factory.by_syn.at(2)) << "the second connection was joined mid-stream";
  const auto& o2 = *factory.sinks.at(4);
  EXPECT_EQ(o2.data_at, std::vector<std::uint64_t>{6});
  EXPECT_EQ(o2.end_at, 6u);
  EXPECT_EQ(factory.released.at(2).number, 6u);
}

TEST(FlowTable, SameIsnButNothingInCommonIsNotPaired) {
  Table x;
  x.send(C, 40000, S, 5269, tf::kSyn, 777, 0, 0, 2);
  x.send("198.51.100.10", 41000, "203.0.113.30", 5269, tf::kSyn, 777, 0, 0, 3);
  x.table.finish();
  EXPECT_EQ(x.closed.size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// NAT pairing: indexed, never merging what one vantage point shows as distinct (issue #12)

TEST(FlowTable, OneVantageNeverMergesDistinctClientsWithOneIsn) {
  // A scan tool's fixed ISN: 1000 clients, one server, one capture point, same TTL. Each is
  // its own connection (before: one connection with 1000 "NAT legs").
  Table x;
  for (std::uint16_t i = 0; i < 1000; ++i) {
    const std::string client = "198.51.100." + std::to_string(1 + i % 250);
    x.send(client.c_str(), static_cast<std::uint16_t>(20000 + i), S, 5269, tf::kSyn, 1000, 0, 0, -1,
           0.0001);
  }
  x.table.finish();
  ASSERT_EQ(x.closed.size(), 1000u);
  for (const auto& c : x.closed)
    EXPECT_EQ(c.legs.size(), 1u);
}

TEST(FlowTable, OneVantageSeesBothLegsOfAForwardedSyn) {
  // A capture on the NAT box itself without interface information: the SYN in (TTL 64) and
  // the forwarded SYN out (TTL 63) are one connection; a third SYN with the same ISN from
  // another client is not joined to it (the connection has its two legs at this vantage).
  Table x;
  const char* pub = "203.0.113.100";
  x.send(C, 40100, pub, 5269, tf::kSyn, 4242);
  x.ttl = 63;
  x.send(C, 40100, S, 5269, tf::kSyn, 4242, 0, 0, -1, 0.00001);
  x.ttl = 63;
  x.send("198.51.100.7", 40100, S, 5269, tf::kSyn, 4242, 0, 0, -1, 0.00001);
  x.table.finish();
  ASSERT_EQ(x.closed.size(), 2u);
  EXPECT_EQ(x.closed[0].legs.size(), 2u);
  EXPECT_EQ(x.closed[1].legs.size(), 1u);
}

TEST(FlowTable, AmbiguousPairingIsCountedAndTheNewestWins) {
  Table x;
  const char* pub = "203.0.113.100";
  // Two outside legs (interface 2) of different clients to the same public address with the
  // same ISN, then one inside leg (interface 3): it could be either's; the newest is taken.
  // (Static NAT of both addresses keeps both ports.)
  x.send(C, 40200, pub, 5269, tf::kSyn, 99, 0, 0, 2);
  x.send("198.51.100.8", 40200, pub, 5269, tf::kSyn, 99, 0, 0, 2, 0.001);
  x.send("198.51.100.9", 40200, S, 5269, tf::kSyn, 99, 0, 0, 3, 0.001);
  x.table.finish();
  EXPECT_EQ(x.anomalies.get("flow.nat_pair_ambiguous"), 1u);
  ASSERT_EQ(x.closed.size(), 2u);
  std::size_t paired = 0;
  for (const auto& c : x.closed)
    if (c.legs.size() == 2) {
      ++paired;
      EXPECT_EQ(c.legs[0].orig.to_string(), "198.51.100.8:40200");
    }
  EXPECT_EQ(paired, 1u);
}

TEST(FlowTable, ManySynsWithOneIsnAreLookedAtBoundedly) {
  // 20k SYNs with one ISN within the pairing window at two vantage points: each new SYN
  // looks at no more than a bounded number of candidates (counted), and nothing crashes.
  Table x;
  for (std::uint32_t i = 0; i < 20000; ++i) {
    const std::string client = "198.51.100." + std::to_string(1 + i % 250);
    x.send(client.c_str(), static_cast<std::uint16_t>(1024 + i / 250), S, 5269, tf::kSyn, 7, 0, 0,
           static_cast<std::int32_t>(2 + i % 2), 0.00001);
  }
  x.table.finish();
  EXPECT_GT(x.anomalies.get("flow.nat_pair_candidates"), 0u);
  // Pairs at most: a connection has one leg per vantage point.
  EXPECT_GE(x.closed.size(), 10000u);
  for (const auto& c : x.closed)
    EXPECT_LE(c.legs.size(), 2u);
}
