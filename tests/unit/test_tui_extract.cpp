// Saving one session's packets (tui/extract): from bundled lab captures with NAT legs seen at
// two vantage points (every frame of the session's legs and DNS there, nothing else, and the
// report of the saved file tells the same session), ICMP errors quoting the session, and the
// live ring (eviction by bytes and count, missing_before, a save while another thread pushes).

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "fedscope/capture/reader.hpp"
#include "fedscope/packet/packet.hpp"
#include "fedscope/report/analysis.hpp"
#include "fedscope/tui/extract.hpp"

using namespace fedscope;
using namespace fedscope::tui;

namespace {

using Bytes = std::vector<std::uint8_t>;

const std::string kLab = std::string(FEDSCOPE_SOURCE_DIR) + "/pcaps/lab/";

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("fedscope_extract_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

struct Saved {
  Timestamp time;
  Bytes data;
  std::int32_t interface;
  int linktype;
  bool operator==(const Saved&) const = default;
};

std::vector<Saved> read_all(const std::vector<std::string>& paths,
                            std::vector<capture::FileInfo>* files = nullptr) {
  capture::MergedReader r;
  std::string error;
  EXPECT_TRUE(r.open(paths, error)) << error;
  std::vector<Saved> v;
  Frame f;
  while (r.next(f))
    v.push_back(Saved{f.time, Bytes(f.data.begin(), f.data.end()), f.interface, f.linktype});
  if (files) *files = r.files();
  return v;
}

/// The frames of @p paths the oracle says belong to the session: TCP of a leg at its vantage
/// within [start, last] (no slack: these must all be saved), and UDP DNS of @p dns by id.
std::vector<Saved> oracle(const std::vector<std::string>& paths, const flow::Connection& c,
                          const std::vector<engine::DnsTransaction>& dns) {
  capture::MergedReader r;
  std::string error;
  EXPECT_TRUE(r.open(paths, error)) << error;
  AnomalyCounters a;
  packet::Decoder d(a);
  std::vector<Saved> v;
  Frame f;
  while (r.next(f)) {
    packet::Packet p;
    if (d.decode(f, p) != packet::Decoder::Result::kPacket) continue;
    const Endpoint s{p.src, p.sport}, t{p.dst, p.dport};
    bool in = false;
    if (p.transport == packet::Transport::kTcp)
      for (const flow::Leg& leg : c.legs)
        in = in || (leg.vantage == p.vantage && p.time >= leg.start && p.time <= leg.last &&
                    ((s == leg.orig && t == leg.resp) || (s == leg.resp && t == leg.orig)));
    if (p.transport == packet::Transport::kUdp && p.payload.size() >= 2)
      for (const engine::DnsTransaction& x : dns)
        in = in || (((s == x.client && t == x.server) || (s == x.server && t == x.client)) &&
                    (p.payload[0] << 8 | p.payload[1]) == x.txid && p.time >= x.query.time &&
                    (!x.response || p.time <= x.response->time));
    if (in) v.push_back(Saved{f.time, Bytes(f.data.begin(), f.data.end()), -1, f.linktype});
  }
  return v;
}

bool analyze(const std::vector<std::string>& files, report::Result& result) {
  report::Options o;
  o.files = files;
  std::string error;
  const bool ok = report::analyze(o, result, error);
  EXPECT_TRUE(ok) << error;
  return ok;
}

/// The federation connection seen on most legs (NAT: both vantage points), with XMPP inside.
const engine::ConnectionRecord* nat_session(const report::Result& r) {
  const engine::ConnectionRecord* best = nullptr;
  for (const auto& c : r.connections)
    if (c.xmpp && c.xmpp->kind != s2s::StreamKind::kNoData &&
        (!best || c.conn.legs.size() > best->conn.legs.size()))
      best = &c;
  return best;
}

std::vector<engine::DnsTransaction> dns_of(const report::Result& r,
                                           const engine::ConnectionRecord& c) {
  std::set<std::uint64_t> ids;
  for (const engine::DnsLink& l : c.dns) {
    if (l.srv_transaction) ids.insert(l.srv_transaction);
    if (l.address_transaction) ids.insert(l.address_transaction);
  }
  std::vector<engine::DnsTransaction> v;
  for (const auto& t : r.dns)
    if (ids.count(t.id) && !t.tcp) v.push_back(t);
  return v;
}

class ExtractFromLab : public ::testing::TestWithParam<std::string> {};

TEST_P(ExtractFromLab, SavedSessionHasAllItsFramesAndReportsTheSame) {
  const std::vector<std::string> files{kLab + GetParam() + "/fw-outside.pcap",
                                       kLab + GetParam() + "/fw-inside.pcap"};
  report::Result before;
  ASSERT_TRUE(analyze(files, before));
  const engine::ConnectionRecord* rec = nat_session(before);
  ASSERT_NE(rec, nullptr);
  ASSERT_EQ(rec->conn.legs.size(), 2u) << "a NAT session seen outside and inside";
  ASSERT_NE(rec->conn.legs[0].vantage, rec->conn.legs[1].vantage);
  const std::vector<engine::DnsTransaction> dns = dns_of(before, *rec);
  ASSERT_FALSE(dns.empty()) << "the lab's sessions start with DNS";

  SessionSelector sel = select_connection(rec->conn);
  for (const auto& t : dns)
    add_dns(sel, t);
  const std::string out = temp_path(GetParam() + ".pcapng");
  SaveResult res;
  std::string error;
  ASSERT_TRUE(save_from_files(files, sel, out, res, error)) << error;
  EXPECT_GT(res.frames_written, 0u);
  std::printf("%s: session %s -> %s, %zu legs, %zu DNS, %llu of %llu frames saved\n",
              GetParam().c_str(), rec->conn.primary().orig.to_string().c_str(),
              rec->conn.primary().resp.to_string().c_str(), rec->conn.legs.size(), dns.size(),
              static_cast<unsigned long long>(res.frames_written),
              static_cast<unsigned long long>(res.frames_examined));
  EXPECT_EQ(res.message, "saved " + std::to_string(res.frames_written) + " packets to " + out);
  EXPECT_TRUE(res.input_errors.empty());
  EXPECT_FALSE(res.missing_before);

  std::vector<capture::FileInfo> info;
  const std::vector<Saved> saved = read_all({out}, &info);
  EXPECT_EQ(saved.size(), res.frames_written);
  ASSERT_EQ(info.size(), 1u);
  EXPECT_TRUE(info[0].complete) << info[0].error;
  EXPECT_EQ(info[0].format, "pcapng");
  // One interface per input file (classic pcap: no interfaces of their own), named after it.
  ASSERT_EQ(info[0].interfaces.size(), 2u);
  for (const capture::InterfaceInfo& i : info[0].interfaces)
    EXPECT_TRUE(i.name == files[0] || i.name == files[1]) << i.name;

  // Every frame the oracle picks is saved, in order (the saved file may hold a few more within
  // the slack, all of the same legs: checked below).
  const std::vector<Saved> want = oracle(files, rec->conn, dns);
  ASSERT_FALSE(want.empty());
  std::size_t j = 0;
  for (const Saved& s : saved)
    if (j < want.size() && s.time == want[j].time && s.data == want[j].data) ++j;
  EXPECT_EQ(j, want.size()) << "frames of the session missing from the saved file";
  for (std::size_t i = 1; i < saved.size(); ++i)
    EXPECT_LE(saved[i - 1].time, saved[i].time) << "out of order at " << i;

  // Nothing of another connection: every saved frame is TCP of a leg or DNS of the session.
  AnomalyCounters a;
  packet::Decoder d(a);
  for (const Saved& s : saved) {
    Frame f;
    f.time = s.time;
    f.linktype = s.linktype;
    f.data = s.data;
    f.wire_length = static_cast<std::uint32_t>(s.data.size());
    packet::Packet p;
    ASSERT_EQ(d.decode(f, p), packet::Decoder::Result::kPacket);
    const Endpoint x{p.src, p.sport}, y{p.dst, p.dport};
    bool ours = false;
    for (const flow::Leg& leg : rec->conn.legs)
      ours = ours || (x == leg.orig && y == leg.resp) || (x == leg.resp && y == leg.orig);
    for (const auto& t : dns)
      ours = ours || (x == t.client && y == t.server) || (x == t.server && y == t.client);
    EXPECT_TRUE(ours) << x.to_string() << " -> " << y.to_string();
  }

  // Another reader of the IDBs added while writing (tshark, when installed).
  if (std::system("command -v tshark >/dev/null 2>&1") == 0) {
    const std::string listing = out + ".txt";
    ASSERT_EQ(std::system(("tshark -r '" + out + "' -T fields -e frame.interface_name > '" +
                           listing + "' 2>/dev/null")
                              .c_str()),
              0);
    std::FILE* f = std::fopen(listing.c_str(), "r");
    ASSERT_NE(f, nullptr);
    char line[4096];
    std::uint64_t lines = 0;
    while (std::fgets(line, sizeof line, f)) {
      const std::string name(line, std::strcspn(line, "\n"));
      EXPECT_TRUE(name == files[0] || name == files[1]) << name;
      ++lines;
    }
    std::fclose(f);
    std::filesystem::remove(listing);
    EXPECT_EQ(lines, res.frames_written);
  }

  // The end-to-end claim: the saved file's report tells the same session.
  report::Result after;
  ASSERT_TRUE(analyze({out}, after));
  const engine::ConnectionRecord* again = nullptr;
  for (const auto& c : after.connections)
    if (c.conn.primary().orig == rec->conn.primary().orig &&
        c.conn.primary().resp == rec->conn.primary().resp)
      again = &c;
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(after.connections.size(), 1u) << "only the saved session";
  EXPECT_EQ(again->conn.legs.size(), rec->conn.legs.size());
  EXPECT_EQ(again->conn.conn_state, rec->conn.conn_state);
  EXPECT_EQ(again->conn.primary().history, rec->conn.primary().history);
  EXPECT_EQ(again->conn.primary().o.packets, rec->conn.primary().o.packets);
  EXPECT_EQ(again->conn.primary().r.packets, rec->conn.primary().r.packets);
  EXPECT_EQ(again->conn.primary().o.payload_bytes, rec->conn.primary().o.payload_bytes);
  EXPECT_EQ(again->conn.primary().r.payload_bytes, rec->conn.primary().r.payload_bytes);
  for (std::size_t i = 0; i < rec->conn.legs.size() && i < again->conn.legs.size(); ++i) {
    EXPECT_EQ(again->conn.legs[i].orig, rec->conn.legs[i].orig);
    EXPECT_EQ(again->conn.legs[i].resp, rec->conn.legs[i].resp);
  }
  ASSERT_TRUE(again->xmpp);
  const s2s::ConnectionFacts& x0 = *rec->xmpp;
  const s2s::ConnectionFacts& x1 = *again->xmpp;
  EXPECT_EQ(x1.kind, x0.kind);
  EXPECT_EQ(s2s::stream_domains(x1), s2s::stream_domains(x0));
  EXPECT_EQ(x1.orig.bytes, x0.orig.bytes);
  EXPECT_EQ(x1.resp.bytes, x0.resp.bytes);
  EXPECT_EQ(x1.orig.headers, x0.orig.headers);
  EXPECT_EQ(x1.resp.headers, x0.resp.headers);
  EXPECT_EQ(x1.orig.starttls, x0.orig.starttls);
  EXPECT_EQ(x1.resp.proceed, x0.resp.proceed);
  EXPECT_EQ(x1.dialback.size(), x0.dialback.size());
  EXPECT_EQ(x1.ladder.size(), x0.ladder.size());
  EXPECT_EQ(x1.xmpp_inside_tls, x0.xmpp_inside_tls);
  // The DNS that led to it is there and linked again.
  EXPECT_EQ(after.dns.size(), dns.size());
  EXPECT_EQ(again->dns.size(), rec->dns.size());
  std::filesystem::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Lab, ExtractFromLab,
                         ::testing::Values("healthy-ca", "healthy-selfsigned", "nat-port-522"));

TEST(ExtractFromFiles, GzipInputWorks) {
  const std::string dir = kLab + "healthy-ca/";
  const std::string gz = temp_path("srv.pcap.gz");
  ASSERT_EQ(std::system(("gzip -c '" + dir + "srv.pcap' > '" + gz + "'").c_str()), 0);
  report::Result before;
  ASSERT_TRUE(analyze({dir + "srv.pcap"}, before));
  const engine::ConnectionRecord* rec = nat_session(before);
  ASSERT_NE(rec, nullptr);
  const SessionSelector sel = select_connection(rec->conn);
  const std::string plain = temp_path("plain.pcapng"), zipped = temp_path("zipped.pcapng");
  SaveResult r1, r2;
  std::string error;
  ASSERT_TRUE(save_from_files({dir + "srv.pcap"}, sel, plain, r1, error)) << error;
  ASSERT_TRUE(save_from_files({gz}, sel, zipped, r2, error)) << error;
  EXPECT_EQ(r1.frames_written, r2.frames_written);
  std::vector<Saved> a = read_all({plain}), b = read_all({zipped});
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(a[i].time == b[i].time && a[i].data == b[i].data);
  for (const auto& p : {gz, plain, zipped})
    std::filesystem::remove(p);
}

TEST(ExtractFromFiles, ErrorsAreSentences) {
  const std::string pcap = kLab + "healthy-ca/srv.pcap";
  SessionSelector sel;
  sel.legs.push_back(LegSelector{});  // matches nothing
  SaveResult r;
  std::string error;
  EXPECT_FALSE(save_from_files({"-"}, sel, temp_path("x.pcapng"), r, error));
  EXPECT_NE(error.find("standard input cannot be read again"), std::string::npos) << error;
  EXPECT_FALSE(save_from_files({pcap}, sel, pcap, r, error));
  EXPECT_NE(error.find("is one of the capture files read"), std::string::npos) << error;
  EXPECT_FALSE(save_from_files({pcap}, sel, "/nonexistent-dir/x.pcapng", r, error));
  EXPECT_EQ(error, "/nonexistent-dir/x.pcapng: No such file or directory");
  const std::string out = temp_path("none.pcapng");
  EXPECT_FALSE(save_from_files({pcap}, sel, out, r, error));
  EXPECT_NE(error.find("no packet of this session in 1 file"), std::string::npos) << error;
  EXPECT_FALSE(std::filesystem::exists(out)) << "nothing matched: no file is left";
  EXPECT_FALSE(std::filesystem::exists(out + ".partial"));
  if (::access("/dev/full", W_OK) == 0) {
    // /dev/full: the SHB is written through at open, so the full disk is known at once.
    SaveResult r2;
    EXPECT_FALSE(save_from_files({pcap}, sel, "/dev/full", r2, error));
  }
}

// ---------------------------------------------------------------------------------------------
// Hand-made raw IPv4 frames (DLT_RAW) for the ICMP and ring tests.

constexpr int kDltRaw = 12;

Bytes ipv4(std::uint8_t proto, std::array<std::uint8_t, 4> src, std::array<std::uint8_t, 4> dst,
           const Bytes& l4) {
  Bytes b{0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0};
  const auto total = static_cast<std::uint16_t>(20 + l4.size());
  b[2] = static_cast<std::uint8_t>(total >> 8);
  b[3] = static_cast<std::uint8_t>(total);
  b.insert(b.end(), src.begin(), src.end());
  b.insert(b.end(), dst.begin(), dst.end());
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

Bytes tcp(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags, std::size_t payload = 0) {
  Bytes t{static_cast<std::uint8_t>(sport >> 8),
          static_cast<std::uint8_t>(sport),
          static_cast<std::uint8_t>(dport >> 8),
          static_cast<std::uint8_t>(dport),
          0,
          0,
          0,
          1,
          0,
          0,
          0,
          0,
          0x50,
          flags,
          0xff,
          0xff,
          0,
          0,
          0,
          0};
  t.resize(t.size() + payload, 0x61);
  return t;
}

constexpr std::array<std::uint8_t, 4> kClient{198, 51, 100, 7}, kServer{203, 0, 113, 9},
    kOther{203, 0, 113, 99}, kRouter{192, 0, 2, 1};

Endpoint ep(std::array<std::uint8_t, 4> a, std::uint16_t port) {
  return Endpoint{IpAddress::v4(std::span<const std::uint8_t, 4>(a)), port};
}

/// A frame owning its bytes.
struct OwnedFrame {
  Bytes bytes;
  Frame frame;
};
OwnedFrame frame_at(std::int64_t second, Bytes bytes, std::uint64_t number) {
  OwnedFrame o{std::move(bytes), {}};
  o.frame.time = Timestamp::from_parts(1'700'000'000 + second, 0);
  o.frame.number = number;
  o.frame.file = 0;
  o.frame.interface = 0;
  o.frame.linktype = kDltRaw;
  o.frame.wire_length = static_cast<std::uint32_t>(o.bytes.size());
  o.frame.data = o.bytes;
  return o;
}

SessionSelector one_leg(std::int64_t from, std::int64_t to) {
  SessionSelector s;
  LegSelector l;
  l.client = ep(kClient, 40000);
  l.server = ep(kServer, 5269);
  l.vantage = packet::Vantage{0, 0, -1};
  l.start = Timestamp::from_parts(1'700'000'000 + from, 0);
  l.last = Timestamp::from_parts(1'700'000'000 + to, 0);
  s.legs.push_back(l);
  return s;
}

TEST(ExtractFromRing, IcmpErrorsQuotingTheSessionAreSaved) {
  FrameRing ring;
  capture::PcapngInterface dev;
  dev.name = "eth0";
  dev.linktype = kDltRaw;
  dev.snaplen = 262144;
  ring.describe_interface(0, 0, dev);
  const Bytes syn = ipv4(6, kClient, kServer, tcp(40000, 5269, 0x02));
  Bytes icmp{3, 13, 0, 0, 0, 0, 0, 0};  // unreachable, administratively prohibited
  icmp.insert(icmp.end(), syn.begin(), syn.begin() + 28);
  Bytes other_icmp{3, 13, 0, 0, 0, 0, 0, 0};
  const Bytes other_syn = ipv4(6, kClient, kOther, tcp(40000, 5269, 0x02));
  other_icmp.insert(other_icmp.end(), other_syn.begin(), other_syn.begin() + 28);
  std::vector<OwnedFrame> frames;
  frames.push_back(frame_at(10, syn, 1));
  frames.push_back(frame_at(10, ipv4(1, kRouter, kClient, icmp), 2));
  frames.push_back(frame_at(10, other_syn, 3));
  frames.push_back(frame_at(11, ipv4(1, kRouter, kClient, other_icmp), 4));
  frames.push_back(frame_at(30, syn, 5));  // the same ports much later: another connection
  for (const auto& f : frames)
    ring.push(f.frame);
  const std::string out = temp_path("icmp.pcapng");
  SaveResult r;
  std::string error;
  ASSERT_TRUE(save_from_ring(ring, one_leg(10, 11), out, r, error)) << error;
  EXPECT_EQ(r.frames_written, 2u);
  EXPECT_EQ(r.frames_examined, 5u);
  EXPECT_FALSE(r.missing_before);
  std::vector<capture::FileInfo> info;
  const std::vector<Saved> saved = read_all({out}, &info);
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_EQ(saved[0].data, frames[0].bytes);
  EXPECT_EQ(saved[1].data, frames[1].bytes);
  ASSERT_EQ(info[0].interfaces.size(), 1u);
  EXPECT_EQ(info[0].interfaces[0].name, "eth0");
  EXPECT_EQ(info[0].interfaces[0].snaplen, 262144u);
  std::filesystem::remove(out);
}

TEST(ExtractFromRing, TheViewsShortFormsSayTheSame) {
  // What the TUI calls: a ring made from the live devices, a selector from the view's legs
  // (report::SessionLeg's fields), results whose message is the error when it failed.
  struct ViewLeg {
    std::uint16_t file;
    std::int32_t interface;
    Endpoint client, server;
    Timestamp start, last;
  };
  capture::InterfaceInfo eth1;
  eth1.name = "eth1";
  eth1.linktype = kDltRaw;
  eth1.snaplen = 9000;
  FrameRing ring(1 << 20, {capture::InterfaceInfo{}, eth1});
  std::vector<OwnedFrame> frames;
  frames.push_back(frame_at(10, ipv4(6, kClient, kServer, tcp(40000, 5269, 0x02)), 1));
  frames.push_back(frame_at(10, ipv4(6, kServer, kClient, tcp(5269, 40000, 0x12)), 2));
  frames.back().frame.interface = 1;
  for (const auto& f : frames)
    ring.push(f.frame);
  const std::vector<ViewLeg> legs{
      {0, 1, ep(kClient, 40000), ep(kServer, 5269), frames[0].frame.time, frames[1].frame.time}};
  const SessionSelector sel = SessionSelector::from_legs(legs);
  const std::string out = temp_path("short.pcapng");
  const ExtractResult r = save_from_ring(ring, sel, out);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.frames_written, 1u) << "only interface 1's frame";
  EXPECT_EQ(r.message, "saved 1 packet to " + out);
  std::vector<capture::FileInfo> info;
  ASSERT_EQ(read_all({out}, &info).size(), 1u);
  ASSERT_EQ(info[0].interfaces.size(), 1u);
  EXPECT_EQ(info[0].interfaces[0].name, "eth1");
  EXPECT_EQ(info[0].interfaces[0].snaplen, 9000u);
  std::filesystem::remove(out);
  const ExtractResult bad = save_from_files({"-"}, sel, out);
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.message.find("standard input cannot be read again"), std::string::npos)
      << bad.message;
}

TEST(FrameRingTest, EvictsByBytesAndByCount) {
  {
    FrameRing ring(RingLimits{1000, 1000});
    // 100-byte frames: at most 10 fit; the ring keeps the newest.
    std::vector<OwnedFrame> frames;
    for (int i = 0; i < 25; ++i)
      frames.push_back(frame_at(i, Bytes(100, static_cast<std::uint8_t>(i)), i + 1u));
    for (const auto& f : frames)
      ring.push(f.frame);
    const FrameRing::Stats s = ring.stats();
    EXPECT_EQ(s.frames, 10u);
    EXPECT_EQ(s.bytes, 1000u);
    EXPECT_EQ(s.pushed, 25u);
    EXPECT_EQ(s.evicted, 15u);
    EXPECT_EQ(s.oldest, frames[15].frame.time);
    EXPECT_EQ(s.newest, frames[24].frame.time);
  }
  {
    // Frames of varied sizes wrapping around many times: every held frame intact, and the
    // bytes held never above the limit.
    FrameRing ring(RingLimits{997, 1000});
    std::vector<OwnedFrame> frames;
    for (int i = 0; i < 500; ++i) {
      Bytes b = ipv4(6, kClient, kServer, tcp(40000, 5269, 0x10, static_cast<std::size_t>(i % 97)));
      frames.push_back(frame_at(i, std::move(b), i + 1u));
    }
    std::uint64_t max_bytes = 0;
    for (const auto& f : frames) {
      ring.push(f.frame);
      max_bytes = std::max<std::uint64_t>(max_bytes, ring.stats().bytes);
    }
    EXPECT_LE(max_bytes, 997u);
    SessionSelector all = one_leg(0, 1000);
    const std::string out = temp_path("wrap.pcapng");
    SaveResult r;
    std::string error;
    ASSERT_TRUE(save_from_ring(ring, all, out, r, error)) << error;
    const std::vector<Saved> saved = read_all({out});
    const FrameRing::Stats s = ring.stats();
    ASSERT_EQ(saved.size(), s.frames);
    const std::size_t first = frames.size() - saved.size();
    for (std::size_t i = 0; i < saved.size(); ++i)
      EXPECT_EQ(saved[i].data, frames[first + i].bytes) << i;
    std::filesystem::remove(out);
  }
  {
    FrameRing ring(RingLimits{1 << 20, 4});
    std::vector<OwnedFrame> frames;
    for (int i = 0; i < 9; ++i)
      frames.push_back(frame_at(i, Bytes(10, 1), i + 1u));
    for (const auto& f : frames)
      ring.push(f.frame);
    EXPECT_EQ(ring.stats().frames, 4u);
    EXPECT_EQ(ring.stats().oldest, frames[5].frame.time);
  }
  {
    FrameRing ring(RingLimits{50, 10});
    auto big = frame_at(0, Bytes(51, 1), 1);
    ring.push(big.frame);
    EXPECT_EQ(ring.stats().frames, 0u);
    EXPECT_EQ(ring.stats().too_large, 1u);
  }
}

TEST(FrameRingTest, MissingBeforeAndNothingHeld) {
  FrameRing ring(RingLimits{10 * 60, 1000});
  std::vector<OwnedFrame> frames;
  for (int i = 0; i < 20; ++i)
    frames.push_back(frame_at(i, ipv4(6, kClient, kServer, tcp(40000, 5269, 0x10, 20)), i + 1u));
  for (const auto& f : frames)
    ring.push(f.frame);
  const FrameRing::Stats s = ring.stats();
  ASSERT_EQ(s.frames, 10u);
  const std::string out = temp_path("missing.pcapng");
  SaveResult r;
  std::string error;
  ASSERT_TRUE(save_from_ring(ring, one_leg(0, 19), out, r, error)) << error;
  EXPECT_EQ(r.frames_written, 10u);
  ASSERT_TRUE(r.missing_before);
  EXPECT_EQ(*r.missing_before, frames[10].frame.time);
  EXPECT_NE(r.message.find("the ring no longer holds packets before 22:13:30 UTC"),
            std::string::npos)
      << r.message;
  std::filesystem::remove(out);

  // A session entirely before the ring's oldest frame.
  EXPECT_FALSE(save_from_ring(ring, one_leg(0, 5), out, r, error));
  EXPECT_EQ(error, "the ring holds no packet of this session (its oldest is from 22:13:30 UTC)");
  EXPECT_FALSE(std::filesystem::exists(out));
  FrameRing empty;
  EXPECT_FALSE(save_from_ring(empty, one_leg(0, 5), out, r, error));
  EXPECT_EQ(error, "the ring holds no packet yet");
}

TEST(FrameRingTest, SaveWhileAnotherThreadPushes) {
  // The save copies chunks while the pusher evicts under it. What is saved must be whole
  // frames of the session in order (TSan: no data race); a save the pusher overtook entirely
  // says so.
  FrameRing ring(RingLimits{256 * 1024, 100000});
  std::vector<OwnedFrame> frames;
  for (int i = 0; i < 2000; ++i)
    frames.push_back(frame_at(
        i % 100,
        ipv4(6, kClient, kServer, tcp(40000, 5269, 0x10, static_cast<std::size_t>(i % 50))),
        i + 1u));
  for (std::size_t i = 0; i < 500; ++i)
    ring.push(frames[i].frame);
  std::atomic<bool> stop{false};
  std::thread pusher([&] {
    for (int round = 0; round < 200 && !stop; ++round)
      for (std::size_t i = 0; i < frames.size() && !stop; ++i) {
        ring.push(frames[i].frame);
        if (i % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
  });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  int saves = 0, saved_ok = 0;
  std::vector<std::string> errors;
  for (; saves < 20 && std::chrono::steady_clock::now() < until; ++saves) {
    const std::string out = temp_path("concurrent.pcapng");
    SaveResult r;
    std::string error;
    if (!save_from_ring(ring, one_leg(0, 100), out, r, error)) {
      errors.push_back(error);
      continue;
    }
    ++saved_ok;
    const std::vector<Saved> saved = read_all({out});
    EXPECT_EQ(saved.size(), r.frames_written);
    for (const Saved& x : saved) {
      // Every saved frame is one of the pushed frames, bytes intact.
      const std::size_t n = x.data.size() - 40;
      EXPECT_EQ(x.data, ipv4(6, kClient, kServer, tcp(40000, 5269, 0x10, n)));
    }
    std::filesystem::remove(out);
  }
  stop = true;
  pusher.join();
  EXPECT_GT(saved_ok, 0);
  for (const std::string& e : errors)
    EXPECT_NE(e.find("evicted"), std::string::npos) << e;
}

}  // namespace
