#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fedscope/dns/message.hpp"
#include "split_test.hpp"

namespace fedscope::dns {
namespace {

constexpr std::uint16_t kClassIn = 1;
constexpr std::uint16_t kFlagQr = 0x8000;
constexpr std::uint16_t kFlagAa = 0x0400;
constexpr std::uint16_t kFlagTc = 0x0200;
constexpr std::uint16_t kFlagRd = 0x0100;
constexpr std::uint16_t kFlagRa = 0x0080;
constexpr std::uint16_t kResponse = kFlagQr | kFlagRd | kFlagRa;

/// Builds DNS wire messages byte by byte; names are written uncompressed unless a pointer is
/// appended explicitly, so every test controls the exact layout.
class WireBuilder {
 public:
  WireBuilder& u8(std::uint8_t v) {
    bytes_.push_back(v);
    return *this;
  }
  WireBuilder& u16(std::uint16_t v) {
    bytes_.push_back(static_cast<std::uint8_t>(v >> 8));
    bytes_.push_back(static_cast<std::uint8_t>(v & 0xFF));
    return *this;
  }
  WireBuilder& u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    return u16(static_cast<std::uint16_t>(v & 0xFFFF));
  }
  WireBuilder& raw(std::string_view s) {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  WireBuilder& raw(std::initializer_list<std::uint8_t> b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return *this;
  }
  WireBuilder& header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an,
                      std::uint16_t ns, std::uint16_t ar) {
    return u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  /// Labels of @p dotted without the terminating root label ("" writes nothing).
  WireBuilder& labels(std::string_view dotted) {
    while (!dotted.empty()) {
      const std::size_t dot = dotted.find('.');
      const std::string_view label = dotted.substr(0, dot);
      u8(static_cast<std::uint8_t>(label.size())).raw(label);
      if (dot == std::string_view::npos) break;
      dotted.remove_prefix(dot + 1);
    }
    return *this;
  }
  /// A full uncompressed name; "." is the root.
  WireBuilder& name(std::string_view dotted) {
    if (dotted != ".") labels(dotted);
    return u8(0);
  }
  WireBuilder& pointer(std::size_t offset) {
    return u16(static_cast<std::uint16_t>(0xC000 | offset));
  }
  WireBuilder& question(std::string_view qname, std::uint16_t type) {
    return name(qname).u16(type).u16(kClassIn);
  }
  /// Type, class, TTL and a placeholder RDLENGTH (the owner name is written by the caller);
  /// end_rdata() patches the length in.
  WireBuilder& rr_fixed(std::uint16_t type, std::uint32_t ttl, std::uint16_t klass = kClassIn) {
    u16(type).u16(klass).u32(ttl);
    rdlength_at_ = bytes_.size();
    return u16(0);
  }
  WireBuilder& end_rdata() {
    const std::size_t length = bytes_.size() - rdlength_at_ - 2;
    bytes_[rdlength_at_] = static_cast<std::uint8_t>(length >> 8);
    bytes_[rdlength_at_ + 1] = static_cast<std::uint8_t>(length & 0xFF);
    return *this;
  }
  void set_u16(std::size_t offset, std::uint16_t v) {
    bytes_[offset] = static_cast<std::uint8_t>(v >> 8);
    bytes_[offset + 1] = static_cast<std::uint8_t>(v & 0xFF);
  }
  std::size_t size() const { return bytes_.size(); }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
  std::size_t rdlength_at_ = 0;
};

struct Decoded {
  DecodeStatus status;
  Message msg;
  AnomalyCounters anomalies;
};

Decoded decode(std::span<const std::uint8_t> wire) {
  Decoded d;
  d.status = decode_message(wire, d.msg, d.anomalies);
  return d;
}

constexpr std::size_t kQuestionOffset = 12;
// Offsets inside the question name "_xmpp-server._tcp.example.org" written at offset 12.
constexpr std::size_t kTcpExampleOrgOffset = kQuestionOffset + 13;
constexpr std::size_t kExampleOrgOffset = kTcpExampleOrgOffset + 5;

/// The XMPP S2S SRV lookup answer: one SRV (owner and target compressed) and the target's
/// A record in the additional section (owner pointing at the SRV target).
struct SrvResponse {
  std::vector<std::uint8_t> wire;
  std::size_t questions_end = 0;
};

SrvResponse srv_response() {
  WireBuilder b;
  b.header(0xBEEF, kResponse, 1, 1, 0, 1);
  b.question("_xmpp-server._tcp.example.org", kSrv);
  const std::size_t questions_end = b.size();
  b.pointer(kQuestionOffset).rr_fixed(kSrv, 3600);
  b.u16(5).u16(10).u16(5269);
  const std::size_t target_offset = b.size();
  b.labels("xmpp").pointer(kExampleOrgOffset).end_rdata();
  b.pointer(target_offset).rr_fixed(kA, 300).raw({192, 0, 2, 10}).end_rdata();
  return {b.bytes(), questions_end};
}

// ----- decode_message: well-formed messages ---------------------------------------------------

TEST(DnsDecode, SrvResponseWithCompression) {
  const SrvResponse r = srv_response();
  Decoded d = decode(r.wire);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.total(), 0u);
  EXPECT_EQ(d.msg.id, 0xBEEF);
  EXPECT_TRUE(d.msg.qr);
  EXPECT_TRUE(d.msg.rd);
  EXPECT_TRUE(d.msg.ra);
  EXPECT_FALSE(d.msg.aa);
  EXPECT_FALSE(d.msg.tc);
  EXPECT_EQ(d.msg.opcode, 0);
  EXPECT_EQ(d.msg.rcode, kNoError);
  ASSERT_EQ(d.msg.questions.size(), 1u);
  EXPECT_EQ(d.msg.questions[0].name, "_xmpp-server._tcp.example.org");
  EXPECT_EQ(d.msg.questions[0].type, kSrv);
  EXPECT_EQ(d.msg.questions[0].klass, kClassIn);

  ASSERT_EQ(d.msg.answers.size(), 1u);
  const ResourceRecord& srv = d.msg.answers[0];
  EXPECT_EQ(srv.name, "_xmpp-server._tcp.example.org");
  EXPECT_EQ(srv.type, kSrv);
  EXPECT_EQ(srv.klass, kClassIn);
  EXPECT_EQ(srv.ttl, 3600u);
  EXPECT_EQ(srv.rdlength, 6 + 5 + 2);
  const auto* data = std::get_if<SrvData>(&srv.data);
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->priority, 5);
  EXPECT_EQ(data->weight, 10);
  EXPECT_EQ(data->port, 5269);
  EXPECT_EQ(data->target, "xmpp.example.org");

  EXPECT_TRUE(d.msg.authority.empty());
  ASSERT_EQ(d.msg.additional.size(), 1u);
  EXPECT_EQ(d.msg.additional[0].name, "xmpp.example.org");
  EXPECT_EQ(d.msg.additional[0].type, kA);
  const auto* addr = std::get_if<IpAddress>(&d.msg.additional[0].data);
  ASSERT_NE(addr, nullptr);
  EXPECT_EQ(addr->to_string(), "192.0.2.10");
}

/// Authority section SOA for example.org, names compressed against the question.
void append_soa(WireBuilder& b, std::size_t zone_offset) {
  b.pointer(zone_offset).rr_fixed(kSoa, 900);
  b.labels("ns1").pointer(zone_offset);
  b.labels("hostmaster").pointer(zone_offset);
  b.u32(2026112501).u32(7200).u32(3600).u32(1209600).u32(300).end_rdata();
}

void expect_example_soa(const ResourceRecord& rr) {
  EXPECT_EQ(rr.name, "example.org");
  EXPECT_EQ(rr.type, kSoa);
  EXPECT_EQ(rr.ttl, 900u);
  const auto* soa = std::get_if<SoaData>(&rr.data);
  ASSERT_NE(soa, nullptr);
  EXPECT_EQ(soa->mname, "ns1.example.org");
  EXPECT_EQ(soa->rname, "hostmaster.example.org");
  EXPECT_EQ(soa->serial, 2026112501u);
  EXPECT_EQ(soa->refresh, 7200u);
  EXPECT_EQ(soa->retry, 3600u);
  EXPECT_EQ(soa->expire, 1209600u);
  EXPECT_EQ(soa->minimum, 300u);
}

TEST(DnsDecode, NxDomainWithSoaInAuthority) {
  WireBuilder b;
  b.header(7, kResponse | kFlagAa | kNxDomain, 1, 0, 1, 0);
  b.question("_xmpp-server._tcp.nope.example.org", kSrv);
  append_soa(b, kQuestionOffset + 13 + 5 + 5);  // "example.org" inside the question
  Decoded d = decode(b.bytes());
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.total(), 0u);
  EXPECT_EQ(d.msg.rcode, kNxDomain);
  EXPECT_EQ(rcode_name(d.msg.rcode), "NXDOMAIN");
  EXPECT_TRUE(d.msg.aa);
  EXPECT_TRUE(d.msg.answers.empty());
  ASSERT_EQ(d.msg.authority.size(), 1u);
  expect_example_soa(d.msg.authority[0]);
  EXPECT_TRUE(d.msg.additional.empty());
}

TEST(DnsDecode, NoDataHasNoErrorAndOnlySoa) {
  WireBuilder b;
  b.header(8, kResponse | kFlagAa, 1, 0, 1, 0);
  b.question("_xmpp-server._tcp.example.org", kSrv);
  append_soa(b, kExampleOrgOffset);
  Decoded d = decode(b.bytes());
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.total(), 0u);
  EXPECT_EQ(d.msg.rcode, kNoError);
  EXPECT_TRUE(d.msg.answers.empty());
  ASSERT_EQ(d.msg.authority.size(), 1u);
  expect_example_soa(d.msg.authority[0]);
}

TEST(DnsDecode, CnameChainWithAandAaaa) {
  WireBuilder b;
  b.header(9, kResponse, 1, 3, 0, 0);
  b.question("www.example.org", kAny);
  const std::size_t example_org = kQuestionOffset + 4;
  b.pointer(kQuestionOffset).rr_fixed(kCname, 60);
  const std::size_t host_offset = b.size();
  b.labels("host").pointer(example_org).end_rdata();
  b.pointer(host_offset).rr_fixed(kA, 60).raw({192, 0, 2, 10}).end_rdata();
  b.pointer(host_offset).rr_fixed(kAaaa, 60);
  b.raw({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}).end_rdata();
  Decoded d = decode(b.bytes());
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.total(), 0u);
  ASSERT_EQ(d.msg.answers.size(), 3u);
  EXPECT_EQ(d.msg.answers[0].name, "www.example.org");
  EXPECT_EQ(d.msg.answers[0].type, kCname);
  EXPECT_EQ(std::get<std::string>(d.msg.answers[0].data), "host.example.org");
  EXPECT_EQ(d.msg.answers[1].name, "host.example.org");
  EXPECT_EQ(std::get<IpAddress>(d.msg.answers[1].data).to_string(), "192.0.2.10");
  EXPECT_TRUE(std::get<IpAddress>(d.msg.answers[1].data).is_v4());
  EXPECT_EQ(d.msg.answers[2].name, "host.example.org");
  EXPECT_EQ(d.msg.answers[2].type, kAaaa);
  EXPECT_EQ(std::get<IpAddress>(d.msg.answers[2].data).to_string(), "2001:db8::10");
  EXPECT_TRUE(std::get<IpAddress>(d.msg.answers[2].data).is_v6());
}

TEST(DnsDecode, NsAndPtrCarryNames) {
  WireBuilder b;
  b.header(10, kResponse, 0, 2, 0, 0);
  b.name("example.org").rr_fixed(kNs, 60).labels("ns1").pointer(kQuestionOffset).end_rdata();
  b.name("10.2.0.192.in-addr.arpa").rr_fixed(kPtr, 60).name("xmpp.example.org").end_rdata();
  Decoded d = decode(b.bytes());
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.total(), 0u);
  ASSERT_EQ(d.msg.answers.size(), 2u);
  EXPECT_EQ(std::get<std::string>(d.msg.answers[0].data), "ns1.example.org");
  EXPECT_EQ(d.msg.answers[1].name, "10.2.0.192.in-addr.arpa");
  EXPECT_EQ(std::get<std::string>(d.msg.answers[1].data), "xmpp.example.org");
}

TEST(DnsDecode, SrvTargetRootMeansNoService) {
  WireBuilder b;
  b.header(11, kResponse, 1, 1, 0, 0);
  b.question("_xmpp-server._tcp.example.org", kSrv);
  b.pointer(kQuestionOffset).rr_fixed(kSrv, 60).u16(0).u16(0).u16(0).name(".").end_rdata();
  Decoded d = decode(b.bytes());
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.total(), 0u);
  ASSERT_EQ(d.msg.answers.size(), 1u);
  EXPECT_EQ(d.msg.answers[0].rdlength, 7);
  EXPECT_EQ(std::get<SrvData>(d.msg.answers[0].data).target, ".");
}

TEST(DnsDecode, RootOwnerAndOptKeptUndecoded) {
  WireBuilder b;
  b.header(12, kFlagRd, 1, 0, 0, 1);
  b.question("example.org", kSrv);
  // EDNS0 OPT: root owner, class = UDP payload size, one 4-byte option.
  b.name(".").rr_fixed(kOpt, 0, 1232).u16(10).u16(0).end_rdata();
  Decoded d = decode(b.bytes());
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.total(), 0u);
  EXPECT_FALSE(d.msg.qr);
  ASSERT_EQ(d.msg.additional.size(), 1u);
  const ResourceRecord& opt = d.msg.additional[0];
  EXPECT_EQ(opt.name, ".");
  EXPECT_EQ(opt.type, kOpt);
  EXPECT_EQ(opt.klass, 1232);
  EXPECT_EQ(opt.rdlength, 4);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(opt.data));
}

TEST(DnsDecode, UnknownTypesKeepLengthOnly) {
  WireBuilder b;
  b.header(13, kResponse, 0, 2, 0, 0);
  b.name("example.org").rr_fixed(kTxt, 60).u8(3).raw("abc").end_rdata();
  b.name("example.org").rr_fixed(kMx, 60).u16(10).name("mx.example.org").end_rdata();
  Decoded d = decode(b.bytes());
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.total(), 0u);
  ASSERT_EQ(d.msg.answers.size(), 2u);
  EXPECT_EQ(d.msg.answers[0].rdlength, 4);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(d.msg.answers[0].data));
  EXPECT_EQ(d.msg.answers[1].rdlength, 2 + 16);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(d.msg.answers[1].data));
}

TEST(DnsDecode, AddressOnlyDecodedForClassIn) {
  WireBuilder b;
  b.header(14, kResponse, 0, 1, 0, 0);
  b.name("example.org").rr_fixed(kA, 60, 3).raw({1, 2, 3}).end_rdata();  // CHAOS A
  Decoded d = decode(b.bytes());
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.total(), 0u);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(d.msg.answers[0].data));
}

TEST(DnsDecode, TruncatedFlag) {
  WireBuilder b;
  b.header(15, kResponse | kFlagTc, 1, 0, 0, 0);
  b.question("_xmpp-server._tcp.example.org", kSrv);
  Decoded d = decode(b.bytes());
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.total(), 0u);
  EXPECT_TRUE(d.msg.tc);
  EXPECT_TRUE(d.msg.answers.empty());
}

TEST(DnsDecode, RefusedAndServfail) {
  for (std::uint8_t rcode : {kRefused, kServFail}) {
    WireBuilder b;
    b.header(16, kResponse | (5u << 11) | rcode, 1, 0, 0, 0);  // opcode 5 (UPDATE)
    b.question("example.org", kSoa);
    Decoded d = decode(b.bytes());
    ASSERT_EQ(d.status, DecodeStatus::kOk);
    EXPECT_EQ(d.anomalies.total(), 0u);
    EXPECT_EQ(d.msg.rcode, rcode);
    EXPECT_EQ(d.msg.opcode, 5);
  }
  EXPECT_EQ(rcode_name(kRefused), "REFUSED");
  EXPECT_EQ(rcode_name(kServFail), "SERVFAIL");
}

TEST(DnsDecode, NamesLowerCasedAndEscaped) {
  WireBuilder b;
  b.header(17, kResponse, 2, 1, 0, 0);
  b.question("_XMPP-Server._TCP.Example.ORG", kSrv);
  // Labels with a control byte, a space, a dot, a backslash and a high byte.
  b.u8(5).raw({'A', 0x01, ' ', '.', '\\'}).u8(1).u8(0xE9).u8(0).u16(kA).u16(kClassIn);
  b.pointer(kQuestionOffset).rr_fixed(kSrv, 1).u16(0).u16(0).u16(5269);
  b.name("XMPP.Example.Org").end_rdata();
  Decoded d = decode(b.bytes());
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.total(), 0u);
  ASSERT_EQ(d.msg.questions.size(), 2u);
  EXPECT_EQ(d.msg.questions[0].name, "_xmpp-server._tcp.example.org");
  EXPECT_EQ(d.msg.questions[1].name, "a\\001\\032\\.\\\\.\\233");
  EXPECT_EQ(d.msg.answers[0].name, "_xmpp-server._tcp.example.org");
  EXPECT_EQ(std::get<SrvData>(d.msg.answers[0].data).target, "xmpp.example.org");
}

TEST(DnsDecode, ResetsOutput) {
  Message msg;
  msg.answers.resize(3);
  msg.id = 99;
  AnomalyCounters anomalies;
  EXPECT_EQ(decode_message({}, msg, anomalies), DecodeStatus::kMalformed);
  EXPECT_EQ(msg.id, 0);
  EXPECT_TRUE(msg.answers.empty());
}

// ----- decode_message: hostile names --------------------------------------------------------

TEST(DnsDecode, PointerToItselfIsBadPointer) {
  WireBuilder b;
  b.header(20, 0, 1, 0, 0, 0).pointer(kQuestionOffset).u16(kA).u16(kClassIn);
  Decoded d = decode(b.bytes());
  EXPECT_EQ(d.status, DecodeStatus::kMalformed);
  EXPECT_EQ(d.anomalies.get(kAnomalyBadPointer), 1u);
  EXPECT_EQ(d.anomalies.get(kAnomalyCompressionLoop), 0u);
  EXPECT_EQ(d.anomalies.total(), 1u);
}

TEST(DnsDecode, TwoPointerCycleIsStoppedAtTheForwardPointer) {
  // Entered at the forward pointer: 12 -> 14 is rejected at once.
  {
    WireBuilder b;
    b.header(21, 0, 1, 0, 0, 0).pointer(14).pointer(12).u16(kA).u16(kClassIn);
    Decoded d = decode(b.bytes());
    EXPECT_EQ(d.status, DecodeStatus::kMalformed);
    EXPECT_EQ(d.anomalies.get(kAnomalyBadPointer), 1u);
    EXPECT_EQ(d.anomalies.total(), 1u);
  }
  // Entered at the backward pointer: an opaque RDATA holds X (-> Y), the next owner is Y (-> X).
  // Y -> X is fine, X -> Y points forward and is rejected.
  {
    WireBuilder b;
    b.header(22, kResponse, 0, 2, 0, 0);
    b.name("a").rr_fixed(99, 1);
    const std::size_t x = b.size();
    const std::size_t y = x + 2;
    b.pointer(y).end_rdata();
    ASSERT_EQ(b.size(), y);
    b.pointer(x).rr_fixed(kA, 1).raw({192, 0, 2, 1}).end_rdata();
    Decoded d = decode(b.bytes());
    EXPECT_EQ(d.status, DecodeStatus::kPartial);
    EXPECT_EQ(d.anomalies.get(kAnomalyBadPointer), 1u);
    EXPECT_EQ(d.anomalies.get(kAnomalyCompressionLoop), 0u);
    EXPECT_EQ(d.anomalies.total(), 1u);
    ASSERT_EQ(d.msg.answers.size(), 1u);  // the record before the cycle is kept
    EXPECT_EQ(d.msg.answers[0].name, "a");
  }
}

TEST(DnsDecode, BackwardPointerLoopHitsJumpLimit) {
  // "\1a" at 12, then a pointer back to 12: every pointer is backwards, yet the name
  // never ends. Each hop adds 2 wire bytes, so the jump limit trips before the length limit.
  static_assert(2 * (kMaxCompressionJumps + 1) + 1 <= kMaxNameLength);
  WireBuilder b;
  b.header(23, 0, 1, 0, 0, 0).labels("a").pointer(kQuestionOffset).u16(kA).u16(kClassIn);
  Decoded d = decode(b.bytes());
  EXPECT_EQ(d.status, DecodeStatus::kMalformed);
  EXPECT_EQ(d.anomalies.get(kAnomalyCompressionLoop), 1u);
  EXPECT_EQ(d.anomalies.total(), 1u);
}

TEST(DnsDecode, LoopWithLongLabelsHitsNameLength) {
  // Same loop through a 10-byte label: 11 wire bytes per hop, so 255 is passed after 23 hops.
  WireBuilder b;
  b.header(24, 0, 1, 0, 0, 0).labels("abcdefghij").pointer(kQuestionOffset);
  b.u16(kA).u16(kClassIn);
  Decoded d = decode(b.bytes());
  EXPECT_EQ(d.status, DecodeStatus::kMalformed);
  EXPECT_EQ(d.anomalies.get(kAnomalyNameTooLong), 1u);
  EXPECT_EQ(d.anomalies.total(), 1u);
}

TEST(DnsDecode, ForwardPointerIsBad) {
  WireBuilder b;
  b.header(25, 0, 2, 0, 0, 0);
  b.pointer(18).u16(kA).u16(kClassIn);  // points at the second question's (valid) name
  b.question("example.org", kA);
  ASSERT_EQ(b.size(), 18 + 13 + 4);
  Decoded d = decode(b.bytes());
  EXPECT_EQ(d.status, DecodeStatus::kMalformed);
  EXPECT_EQ(d.anomalies.get(kAnomalyBadPointer), 1u);
  EXPECT_EQ(d.anomalies.total(), 1u);
  EXPECT_TRUE(d.msg.questions.empty());
}

TEST(DnsDecode, PointerOutsideMessageIsBad) {
  for (std::size_t target : {std::size_t{0x3FFF}, std::size_t{0x0100}}) {
    WireBuilder b;
    b.header(26, kResponse, 1, 1, 0, 0).question("example.org", kA);
    b.pointer(target).rr_fixed(kA, 1).raw({192, 0, 2, 1}).end_rdata();
    ASSERT_LT(b.size(), target);
    Decoded d = decode(b.bytes());
    EXPECT_EQ(d.status, DecodeStatus::kPartial);
    EXPECT_EQ(d.anomalies.get(kAnomalyBadPointer), 1u);
    EXPECT_EQ(d.anomalies.total(), 1u);
    EXPECT_EQ(d.msg.questions.size(), 1u);
    EXPECT_TRUE(d.msg.answers.empty());
  }
}

TEST(DnsDecode, ReservedLabelTypesAreBad) {
  for (std::uint8_t type_bits : std::initializer_list<std::uint8_t>{0x40, 0x80}) {
    WireBuilder b;
    b.header(27, 0, 1, 0, 0, 0).labels("xmpp").u8(type_bits).u8(0).u16(kA).u16(kClassIn);
    Decoded d = decode(b.bytes());
    EXPECT_EQ(d.status, DecodeStatus::kMalformed);
    EXPECT_EQ(d.anomalies.get(kAnomalyBadLabel), 1u);
    EXPECT_EQ(d.anomalies.total(), 1u);
  }
}

std::string label_of(char c, std::size_t n) {
  return std::string(n, c);
}

TEST(DnsDecode, NameLengthLimit) {
  // 3 * (1 + 63) + (1 + 61) + 1 = 255 bytes: the longest legal name.
  const std::string longest = label_of('a', 63) + "." + label_of('b', 63) + "." +
                              label_of('c', 63) + "." + label_of('d', 61);
  {
    WireBuilder b;
    b.header(28, 0, 1, 0, 0, 0).question(longest, kA);
    Decoded d = decode(b.bytes());
    ASSERT_EQ(d.status, DecodeStatus::kOk);
    EXPECT_EQ(d.anomalies.total(), 0u);
    EXPECT_EQ(d.msg.questions[0].name, longest);
  }
  {
    WireBuilder b;
    b.header(29, 0, 1, 0, 0, 0).question(longest + "d", kA);  // 256 bytes
    Decoded d = decode(b.bytes());
    EXPECT_EQ(d.status, DecodeStatus::kMalformed);
    EXPECT_EQ(d.anomalies.get(kAnomalyNameTooLong), 1u);
    EXPECT_EQ(d.anomalies.total(), 1u);
  }
  // Too long only once a pointer is followed: 200 bytes of labels + a 63-byte suffix.
  {
    WireBuilder b;
    b.header(30, kResponse, 1, 1, 0, 0).question(label_of('x', 62), kA);
    b.labels(label_of('y', 63) + "." + label_of('y', 63) + "." + label_of('y', 63) + ".zzzzzzz");
    b.pointer(kQuestionOffset).rr_fixed(kA, 1).raw({192, 0, 2, 1}).end_rdata();
    Decoded d = decode(b.bytes());
    EXPECT_EQ(d.status, DecodeStatus::kPartial);
    EXPECT_EQ(d.anomalies.get(kAnomalyNameTooLong), 1u);
    EXPECT_EQ(d.anomalies.total(), 1u);
  }
}

// ----- decode_message: bad RDATA ------------------------------------------------------------

TEST(DnsDecode, BadRdataLengthKeepsRecordAndContinues) {
  WireBuilder w;
  w.header(31, kResponse, 1, 6, 0, 0);
  w.question("example.org", kA);
  w.pointer(kQuestionOffset).rr_fixed(kA, 1).raw({192, 0, 2}).end_rdata();
  w.pointer(kQuestionOffset).rr_fixed(kAaaa, 1).raw({192, 0, 2, 1}).end_rdata();
  // SRV whose target label "\4xmpp" runs past RDLENGTH (which ends after "\4xm").
  w.pointer(kQuestionOffset).rr_fixed(kSrv, 1).u16(0).u16(0).u16(5269).u8(4).raw("xm");
  w.end_rdata();
  // CNAME with a byte after the name; SRV shorter than its fixed part.
  w.pointer(kQuestionOffset).rr_fixed(kCname, 1).name("a.example.org").u8(0).end_rdata();
  w.pointer(kQuestionOffset).rr_fixed(kSrv, 1).u16(1).u16(2).end_rdata();
  w.pointer(kQuestionOffset).rr_fixed(kA, 1).raw({192, 0, 2, 99}).end_rdata();

  Decoded d = decode(w.bytes());
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.get(kAnomalyBadRdata), 5u);
  EXPECT_EQ(d.anomalies.total(), 5u);
  ASSERT_EQ(d.msg.answers.size(), 6u);
  const std::uint16_t lengths[] = {3, 4, 9, 16, 4, 4};
  for (std::size_t i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(d.msg.answers[i].rdlength, lengths[i]);
    EXPECT_TRUE(std::holds_alternative<std::monostate>(d.msg.answers[i].data));
  }
  EXPECT_EQ(std::get<IpAddress>(d.msg.answers[5].data).to_string(), "192.0.2.99");
}

TEST(DnsDecode, SoaLengthMustMatch) {
  for (int extra : {-1, 1}) {
    WireBuilder b;
    b.header(32, kResponse, 0, 1, 0, 0);
    b.name("example.org").rr_fixed(kSoa, 1).name("ns1").name("hm").u32(1).u32(2).u32(3).u32(4);
    if (extra > 0) {
      b.u32(5).u8(0);
    } else {
      b.u16(5).u8(0);
    }
    b.end_rdata();
    Decoded d = decode(b.bytes());
    EXPECT_EQ(d.status, DecodeStatus::kOk);
    EXPECT_EQ(d.anomalies.get(kAnomalyBadRdata), 1u);
    EXPECT_EQ(d.anomalies.total(), 1u);
    EXPECT_TRUE(std::holds_alternative<std::monostate>(d.msg.answers[0].data));
  }
}

TEST(DnsDecode, BadNameInsideRdataIsCountedAndSkipped) {
  WireBuilder b;
  b.header(33, kResponse, 1, 2, 0, 0);
  b.question("example.org", kCname);
  b.pointer(kQuestionOffset).rr_fixed(kCname, 1).labels("x").pointer(0x3FFF).end_rdata();
  b.pointer(kQuestionOffset).rr_fixed(kCname, 1).labels("y").pointer(kQuestionOffset);
  b.end_rdata();
  Decoded d = decode(b.bytes());
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.get(kAnomalyBadPointer), 1u);
  EXPECT_EQ(d.anomalies.total(), 1u);
  ASSERT_EQ(d.msg.answers.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(d.msg.answers[0].data));
  EXPECT_EQ(std::get<std::string>(d.msg.answers[1].data), "y.example.org");
}

// ----- decode_message: truncation, limits, trailing bytes -----------------------------------

TEST(DnsDecode, EveryStrictPrefixIsCountedAsTruncated) {
  const SrvResponse r = srv_response();
  ASSERT_EQ(decode(r.wire).status, DecodeStatus::kOk);
  for (std::size_t len = 0; len < r.wire.size(); ++len) {
    SCOPED_TRACE(len);
    // A fresh copy of exactly len bytes, so ASan catches any read past the prefix.
    const std::vector<std::uint8_t> prefix(r.wire.begin(),
                                           r.wire.begin() + static_cast<std::ptrdiff_t>(len));
    Decoded d = decode(prefix);
    EXPECT_NE(d.status, DecodeStatus::kOk);
    EXPECT_EQ(d.status, len < r.questions_end ? DecodeStatus::kMalformed : DecodeStatus::kPartial);
    EXPECT_EQ(d.anomalies.get(kAnomalyTruncated), 1u);
    EXPECT_EQ(d.anomalies.total(), 1u);
  }
}

TEST(DnsDecode, PartialKeepsRecordsDecodedSoFar) {
  const SrvResponse r = srv_response();
  // Drop the last byte: the SRV answer survives, the additional A is cut.
  const std::vector<std::uint8_t> cut(r.wire.begin(), r.wire.end() - 1);
  Decoded d = decode(cut);
  EXPECT_EQ(d.status, DecodeStatus::kPartial);
  ASSERT_EQ(d.msg.answers.size(), 1u);
  EXPECT_EQ(std::get<SrvData>(d.msg.answers[0].data).target, "xmpp.example.org");
  EXPECT_TRUE(d.msg.additional.empty());
}

TEST(DnsDecode, ZeroLengthInput) {
  Decoded d = decode({});
  EXPECT_EQ(d.status, DecodeStatus::kMalformed);
  EXPECT_EQ(d.anomalies.get(kAnomalyTruncated), 1u);
  EXPECT_EQ(d.anomalies.total(), 1u);
}

TEST(DnsDecode, TooManyRecordsStopsAtTheLimit) {
  constexpr std::uint16_t kCount = 300;
  WireBuilder b;
  b.header(40, kResponse, 1, kCount, 1, 0);
  b.question("example.org", kA);
  for (std::uint16_t i = 0; i < kCount; ++i) {
    b.pointer(kQuestionOffset).rr_fixed(kA, i).raw({192, 0, 2, 1}).end_rdata();
  }
  append_soa(b, kQuestionOffset);
  Decoded d = decode(b.bytes());
  EXPECT_EQ(d.status, DecodeStatus::kPartial);
  EXPECT_EQ(d.anomalies.get(kAnomalyTooManyRecords), 1u);
  EXPECT_EQ(d.anomalies.total(), 1u);
  ASSERT_EQ(d.msg.answers.size(), kMaxRecordsPerSection);
  EXPECT_EQ(d.msg.answers.back().ttl, kMaxRecordsPerSection - 1);
  EXPECT_TRUE(d.msg.authority.empty());
}

TEST(DnsDecode, TooManyQuestions) {
  WireBuilder b;
  b.header(41, 0, 257, 0, 0, 0);
  for (int i = 0; i < 257; ++i)
    b.question(".", kA);
  Decoded d = decode(b.bytes());
  EXPECT_EQ(d.status, DecodeStatus::kPartial);
  EXPECT_EQ(d.anomalies.get(kAnomalyTooManyRecords), 1u);
  EXPECT_EQ(d.anomalies.total(), 1u);
  EXPECT_EQ(d.msg.questions.size(), kMaxRecordsPerSection);
  EXPECT_EQ(d.msg.questions[0].name, ".");
}

TEST(DnsDecode, ExactlyTheLimitIsFine) {
  WireBuilder b;
  b.header(42, kResponse, 0, kMaxRecordsPerSection, 0, 0);
  for (std::size_t i = 0; i < kMaxRecordsPerSection; ++i) {
    b.name(".").rr_fixed(kA, 1).raw({192, 0, 2, 1}).end_rdata();
  }
  Decoded d = decode(b.bytes());
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.total(), 0u);
  EXPECT_EQ(d.msg.answers.size(), kMaxRecordsPerSection);
}

TEST(DnsDecode, TrailingBytesCountedButOk) {
  std::vector<std::uint8_t> wire = srv_response().wire;
  wire.insert(wire.end(), {0, 0, 0});
  Decoded d = decode(wire);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.anomalies.get(kAnomalyTrailingBytes), 1u);
  EXPECT_EQ(d.anomalies.total(), 1u);
  EXPECT_EQ(d.msg.additional.size(), 1u);
}

TEST(DnsDecode, AnomaliesAccumulateAcrossMessages) {
  AnomalyCounters anomalies;
  Message msg;
  decode_message({}, msg, anomalies);
  decode_message({}, msg, anomalies);
  EXPECT_EQ(anomalies.get(kAnomalyTruncated), 2u);
}

// ----- names of types and rcodes -------------------------------------------------------------

TEST(DnsNames, TypeNames) {
  EXPECT_EQ(type_name(kA), "A");
  EXPECT_EQ(type_name(kNs), "NS");
  EXPECT_EQ(type_name(kCname), "CNAME");
  EXPECT_EQ(type_name(kSoa), "SOA");
  EXPECT_EQ(type_name(kPtr), "PTR");
  EXPECT_EQ(type_name(kMx), "MX");
  EXPECT_EQ(type_name(kTxt), "TXT");
  EXPECT_EQ(type_name(kAaaa), "AAAA");
  EXPECT_EQ(type_name(kSrv), "SRV");
  EXPECT_EQ(type_name(kOpt), "OPT");
  EXPECT_EQ(type_name(kAny), "ANY");
  EXPECT_EQ(type_name(0), "TYPE0");
  EXPECT_EQ(type_name(65535), "TYPE65535");
  EXPECT_EQ(type_name(65), "TYPE65");
}

TEST(DnsNames, RcodeNames) {
  const char* expected[] = {"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                            "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE"};
  for (std::uint8_t i = 0; i < 11; ++i)
    EXPECT_EQ(rcode_name(i), expected[i]);
  EXPECT_EQ(rcode_name(11), "RCODE11");
  EXPECT_EQ(rcode_name(255), "RCODE255");
}

// ----- TcpFramer -----------------------------------------------------------------------------

std::vector<std::uint8_t> framed(const std::vector<std::uint8_t>& msg) {
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(msg.size() >> 8),
                                static_cast<std::uint8_t>(msg.size() & 0xFF)};
  out.insert(out.end(), msg.begin(), msg.end());
  return out;
}

std::string describe(const ResourceRecord& rr) {
  std::string s = rr.name + " " + std::string(type_name(rr.type)) + " " + std::to_string(rr.ttl);
  if (const auto* a = std::get_if<IpAddress>(&rr.data)) s += " " + a->to_string();
  if (const auto* n = std::get_if<std::string>(&rr.data)) s += " " + *n;
  if (const auto* srv = std::get_if<SrvData>(&rr.data)) {
    s += " " + std::to_string(srv->priority) + " " + std::to_string(srv->weight) + " " +
         std::to_string(srv->port) + " " + srv->target;
  }
  if (const auto* soa = std::get_if<SoaData>(&rr.data)) {
    s += " " + soa->mname + " " + soa->rname + " " + std::to_string(soa->serial);
  }
  return s;
}

std::string describe(DecodeStatus status, const Message& m) {
  std::string s = "status=" + std::to_string(static_cast<int>(status)) +
                  " id=" + std::to_string(m.id) + " " + std::string(rcode_name(m.rcode));
  for (const Question& q : m.questions)
    s += " q:" + q.name + "/" + std::string(type_name(q.type));
  for (const auto* section : {&m.answers, &m.authority, &m.additional}) {
    s += " |";
    for (const ResourceRecord& rr : *section)
      s += " [" + describe(rr) + "]";
  }
  return s;
}

std::string describe(const AnomalyCounters& anomalies) {
  std::string s;
  for (const auto& [name, n] : anomalies.all())
    s += name + "=" + std::to_string(n) + " ";
  return s;
}

/// Three framed messages: the SRV answer, an NXDOMAIN and a CNAME chain.
std::vector<std::uint8_t> three_message_stream() {
  std::vector<std::uint8_t> stream = framed(srv_response().wire);
  WireBuilder nx;
  nx.header(2, kResponse | kNxDomain, 1, 0, 1, 0).question("nope.example.org", kSrv);
  append_soa(nx, kQuestionOffset + 5);
  WireBuilder chain;
  chain.header(3, kResponse, 1, 2, 0, 0).question("www.example.org", kA);
  chain.pointer(kQuestionOffset).rr_fixed(kCname, 60);
  const std::size_t target = chain.size();
  chain.name("xmpp.example.org").end_rdata();
  chain.pointer(target).rr_fixed(kA, 60).raw({192, 0, 2, 10}).end_rdata();
  for (const auto& m : {framed(nx.bytes()), framed(chain.bytes())}) {
    stream.insert(stream.end(), m.begin(), m.end());
  }
  return stream;
}

TEST(DnsTcpFramer, AllSplitsGiveTheSameTranscript) {
  const std::vector<std::uint8_t> stream = three_message_stream();
  const auto run = [](const std::vector<std::span<const std::uint8_t>>& chunks) {
    TcpFramer framer;
    AnomalyCounters anomalies;
    std::string transcript;
    std::size_t delivered = 0;
    for (const auto chunk : chunks) {
      delivered += framer.feed(chunk, [&](std::span<const std::uint8_t> msg) {
        Message m;
        const DecodeStatus status = decode_message(msg, m, anomalies);
        transcript += describe(status, m) + "\n";
      });
    }
    framer.end(anomalies);
    return transcript + "delivered=" + std::to_string(delivered) + " " + describe(anomalies);
  };
  const std::vector<std::span<const std::uint8_t>> whole{stream};
  const std::string expected = run(whole);
  EXPECT_EQ(expected,
            "status=0 id=48879 NOERROR q:_xmpp-server._tcp.example.org/SRV"
            " | [_xmpp-server._tcp.example.org SRV 3600 5 10 5269 xmpp.example.org] |"
            " | [xmpp.example.org A 300 192.0.2.10]\n"
            "status=0 id=2 NXDOMAIN q:nope.example.org/SRV |"
            " | [example.org SOA 900 ns1.example.org hostmaster.example.org 2026112501] |\n"
            "status=0 id=3 NOERROR q:www.example.org/A"
            " | [www.example.org CNAME 60 xmpp.example.org] [xmpp.example.org A 60 192.0.2.10]"
            " | |\n"
            "delivered=3 ");
  EXPECT_EQ(test::check_all_splits(stream, run), "");
}

TEST(DnsTcpFramer, ZeroLengthFrameAtEndIsDelivered) {
  TcpFramer framer;
  AnomalyCounters anomalies;
  std::vector<std::size_t> sizes;
  const std::vector<std::uint8_t> stream{0, 1, 0xAB, 0, 0};
  const std::size_t n =
      framer.feed(stream, [&](std::span<const std::uint8_t> m) { sizes.push_back(m.size()); });
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 0}));
  framer.end(anomalies);
  EXPECT_EQ(anomalies.total(), 0u);
}

TEST(DnsTcpFramer, GapMidMessageDropsItAndStopsFraming) {
  const std::vector<std::uint8_t> stream = three_message_stream();
  const std::size_t first_len = framed(srv_response().wire).size();
  TcpFramer framer;
  AnomalyCounters anomalies;
  std::size_t delivered = 0;
  const auto on_message = [&](std::span<const std::uint8_t>) { ++delivered; };
  const std::span<const std::uint8_t> all(stream);
  framer.feed(all.first(first_len + 10), on_message);
  EXPECT_EQ(delivered, 1u);
  framer.gap(anomalies);
  EXPECT_TRUE(framer.lost_sync());
  EXPECT_EQ(anomalies.get("dns.tcp_gap"), 1u);
  // Framing cannot resume: even a whole message after the gap is not delivered.
  EXPECT_EQ(framer.feed(all.subspan(first_len), on_message), 0u);
  EXPECT_EQ(delivered, 1u);
  framer.gap(anomalies);  // already out of sync: nothing more is lost
  framer.end(anomalies);
  EXPECT_EQ(anomalies.get("dns.tcp_gap"), 1u);
  EXPECT_EQ(anomalies.get("dns.tcp_truncated"), 0u);
  EXPECT_EQ(anomalies.total(), 1u);
}

TEST(DnsTcpFramer, GapAtMessageBoundaryStillLosesSync) {
  TcpFramer framer;
  AnomalyCounters anomalies;
  const std::vector<std::uint8_t> one = framed(srv_response().wire);
  EXPECT_EQ(framer.feed(one, [](std::span<const std::uint8_t>) {}), 1u);
  framer.gap(anomalies);
  EXPECT_TRUE(framer.lost_sync());
  EXPECT_EQ(anomalies.get("dns.tcp_gap"), 1u);
  EXPECT_EQ(framer.feed(one, [](std::span<const std::uint8_t>) {}), 0u);
}

TEST(DnsTcpFramer, EndWithPartialMessage) {
  const std::vector<std::uint8_t> stream = three_message_stream();
  const std::size_t first_len = framed(srv_response().wire).size();
  const std::span<const std::uint8_t> all(stream);
  // Cut inside the second message's body, and inside its length prefix.
  for (std::size_t extra : {std::size_t{10}, std::size_t{1}}) {
    SCOPED_TRACE(extra);
    TcpFramer framer;
    AnomalyCounters anomalies;
    EXPECT_EQ(framer.feed(all.first(first_len + extra), [](std::span<const std::uint8_t>) {}), 1u);
    framer.end(anomalies);
    EXPECT_EQ(anomalies.get("dns.tcp_truncated"), 1u);
    EXPECT_EQ(anomalies.total(), 1u);
    EXPECT_FALSE(framer.lost_sync());
  }
  // A stream ending on a message boundary is clean.
  TcpFramer framer;
  AnomalyCounters anomalies;
  EXPECT_EQ(framer.feed(all, [](std::span<const std::uint8_t>) {}), 3u);
  framer.end(anomalies);
  EXPECT_EQ(anomalies.total(), 0u);
}

}  // namespace
}  // namespace fedscope::dns
