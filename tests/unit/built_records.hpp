#pragma once
// Records built in a test, for the judges' tests (test_report, test_judges, test_events):
// packet references on a fixed clock, and XMPP facts from a real ConnectionAnalyzer run over
// chunks of stream text.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <algorithm>

#include "fedscope/report/analysis.hpp"
#include "fedscope/s2s/session.hpp"
#include "split_test.hpp"

namespace fedscope::test {

inline constexpr double kT0 = 1'700'000'000.0;

/// Packet @p n of file 0, @p t seconds after kT0.
inline PacketRef at(std::uint64_t n, double t) {
  return PacketRef{0, n, Timestamp::from_seconds(kT0 + t)};
}

struct Chunk {
  bool from_orig;
  std::string bytes;
  double t;  ///< seconds after kT0
};

/// The facts a ConnectionAnalyzer finds in @p chunks (packets numbered from 11).
inline std::unique_ptr<s2s::ConnectionFacts> facts(const std::vector<Chunk>& chunks) {
  AnomalyCounters an;
  s2s::ConnectionAnalyzer analyzer(an);
  std::uint64_t n = 10;
  double last = 0;
  for (const auto& c : chunks) {
    auto b = bytes_of(c.bytes);
    analyzer.on_data(c.from_orig, b, at(++n, c.t));
    last = c.t;
  }
  return std::make_unique<s2s::ConnectionFacts>(analyzer.finish(at(++n, last)));
}

/// A jabber:server stream header with the dialback namespace.
inline std::string header(const char* from, const char* to, const char* id = "") {
  return std::string(
             "<stream:stream xmlns='jabber:server' "
             "xmlns:stream='http://etherx.jabber.org/streams' "
             "xmlns:db='jabber:server:dialback' from='") +
         from + "' to='" + to + "'" + (*id ? std::string(" id='") + id + "'" : "") +
         " version='1.0'>";
}

/// One leg @p client -> @p server:@p port whose first SYN is at @p start (s after kT0), seen at
/// interface index @p ifindex (-1: none). Only the SYN: the tests add what else it saw.
inline flow::Leg leg(std::uint32_t id, const char* client, const char* server, std::uint16_t port,
                     double start, std::int32_t ifindex = -1) {
  flow::Leg l;
  l.id = id;
  l.connection = id;
  l.vantage.ifindex = ifindex;
  l.orig = Endpoint{*IpAddress::parse(client), 40000};
  l.resp = Endpoint{*IpAddress::parse(server), port};
  l.start = l.last = Timestamp::from_seconds(kT0 + start);
  l.o.syns = 1;
  l.o.first_syn = at(id * 100, start);
  return l;
}

/// A connection record of @p legs (the first is the primary) in @p state.
inline engine::ConnectionRecord record(std::uint32_t id, std::vector<flow::Leg> legs,
                                       flow::ConnState state) {
  engine::ConnectionRecord rec;
  rec.conn.id = id;
  rec.conn.legs = std::move(legs);
  rec.conn.conn_state = state;
  return rec;
}

/// The codes of @p r's findings, sorted (to compare as a set with repeats).
inline std::vector<report::FindingCode> codes(const report::Result& r) {
  std::vector<report::FindingCode> v;
  for (const auto& f : r.findings)
    v.push_back(f.code);
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace fedscope::test
