// Each layer's judge on records built in the test (no capture): DNS (judge_dns.cpp), TCP/NAT/
// firewall (judge_tcp.cpp), XMPP (judge_xmpp.cpp) and TLS (judge_tls.cpp). Each test states
// the fault, the finding the judge must say, and what decides its severity or remedy.

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "built_records.hpp"
#include "fedscope/report/analysis.hpp"

namespace fedscope::report {

void PrintTo(FindingCode c, std::ostream* os) {
  *os << to_string(c);
}

namespace {

using test::at;
using test::kT0;

// ---- DNS records ------------------------------------------------------------------------------

engine::DnsTransaction query(std::uint64_t id, const std::string& qname, std::uint16_t qtype,
                             double t) {
  engine::DnsTransaction q;
  q.id = id;
  q.txid = static_cast<std::uint16_t>(id);
  q.qname = qname;
  q.qtype = qtype;
  q.client = Endpoint{*IpAddress::parse("192.0.2.10"), 40000};
  q.server = Endpoint{*IpAddress::parse("192.0.2.53"), 53};
  q.query = at(id * 10, t);
  return q;
}

engine::DnsTransaction answered(engine::DnsTransaction q, std::uint8_t rcode,
                                std::vector<dns::ResourceRecord> answers = {}) {
  q.outcome = engine::DnsOutcome::kAnswered;
  q.response = PacketRef{0, q.query.number + 1, q.query.time + Duration::millis(10)};
  q.rcode = rcode;
  q.answers = std::move(answers);
  q.soa_in_authority = rcode == dns::kNxDomain;
  return q;
}

dns::ResourceRecord srv(const std::string& owner, const std::string& target, std::uint16_t port) {
  dns::ResourceRecord rr;
  rr.name = owner;
  rr.type = dns::kSrv;
  rr.ttl = 300;
  dns::SrvData s;
  s.port = port;
  s.target = target;
  rr.data = s;
  return rr;
}

dns::ResourceRecord a(const std::string& owner, const char* address) {
  dns::ResourceRecord rr;
  rr.name = owner;
  rr.type = dns::kA;
  rr.ttl = 300;
  rr.data = *IpAddress::parse(address);
  return rr;
}

// ---- TCP records ------------------------------------------------------------------------------

using test::leg;
using test::record;

void establish(flow::Leg& l) {
  l.history = "ShADadFf";
  l.r.syns = 1;
  l.r.first_syn = at(l.id * 100 + 1, 0);
  l.o.sent_ack = l.o.sent_data = l.o.sent_fin = true;
  l.r.sent_ack = l.r.sent_data = l.r.sent_fin = true;
  l.o.payload_bytes = l.r.payload_bytes = 300;
}

// ---- XMPP and TLS facts -------------------------------------------------------------------------

using test::Chunk;
using test::facts;
using test::header;

// An established connection a.example -> b.example with TLS facts filled in by hand (TLS 1.2:
// the certificate is in clear).
engine::ConnectionRecord tls_connection(std::uint32_t id, tls::CertificateInfo cert,
                                        std::uint16_t version = 0x0303) {
  auto l = leg(id, "203.0.113.10", "198.51.100.20", 5269, 0);
  establish(l);
  auto rec = record(id, {l}, flow::ConnState::kSF);
  auto x = std::make_unique<s2s::ConnectionFacts>();
  x->kind = s2s::StreamKind::kXmpp;
  s2s::StreamHeaderFact h;
  h.from = "a.example";
  h.to = "b.example";
  h.ref = at(5, 0.1);
  x->orig.header = h;
  x->tls.mut().started = true;
  x->tls.mut().complete = true;
  tls::ServerHello sh;
  sh.version = version;
  x->tls.mut().server_hello = sh;
  x->tls.mut().server_hello_ref = at(6, 0.2);
  x->tls.mut().certificate = s2s::Seen::kYes;
  x->tls.mut().certificate_ref = at(7, 0.2);
  x->tls.mut().chain = {std::move(cert)};
  x->tls.mut().chain_total = 1;
  rec.xmpp = std::move(x);
  return rec;
}

tls::CertificateInfo certificate(const char* name) {
  tls::CertificateInfo c;
  c.subject = std::string("CN=") + name;
  c.issuer = "CN=Example CA";
  c.common_name = name;
  c.dns_names = {name};
  c.not_before = static_cast<std::int64_t>(kT0) - 86400 * 100;
  c.not_after = static_cast<std::int64_t>(kT0) + 86400 * 300;
  c.sha256 = std::string("sha-") + name;
  return c;
}

const Finding* find(const Result& r, FindingCode code) {
  for (const auto& f : r.findings)
    if (f.code == code) return &f;
  return nullptr;
}

using test::codes;

}  // namespace

// ---- DNS ----------------------------------------------------------------------------------------

TEST(JudgeDns, SrvMissingIsAWarningWhenTheFallbackWorks) {
  // No SRV record, but the domain's own A record and a connection to it on 5269 that worked
  // (RFC 6120 §3.2.2): federation works, the zone should still be fixed.
  Result r;
  r.dns.push_back(answered(query(1, "_xmpp-server._tcp.b.example", dns::kSrv, 0), dns::kNxDomain));
  r.dns.push_back(answered(query(2, "b.example", dns::kA, 0.1), dns::kNoError,
                           {a("b.example", "198.51.100.20")}));
  auto l = leg(3, "192.0.2.10", "198.51.100.20", 5269, 0.2);
  establish(l);
  auto rec = record(3, {l}, flow::ConnState::kSF);
  rec.dns.push_back(engine::DnsLink{"b.example", engine::LinkVia::kAFallback, "", "b.example", 5269,
                                    *IpAddress::parse("198.51.100.20"), 0, 2});
  r.connections.push_back(std::move(rec));
  judge(r);
  const Finding* f = find(r, FindingCode::kDnsSrvMissing);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kWarning);
  EXPECT_NE(f->summary.find("the fallback connection to b.example on 5269 worked"),
            std::string::npos)
      << f->summary;
  EXPECT_EQ(f->evidence_total, 4u) << "the SRV and the A lookups, query and response each";
}

TEST(JudgeDns, SrvMissingIsAnErrorWhenNoAddressEither) {
  Result r;
  r.dns.push_back(answered(query(1, "_xmpp-server._tcp.b.example", dns::kSrv, 0), dns::kNxDomain));
  r.dns.push_back(answered(query(2, "b.example", dns::kA, 0.1), dns::kNxDomain));
  judge(r);
  const Finding* f = find(r, FindingCode::kDnsSrvMissing);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kError);
}

TEST(JudgeDns, NonstandardSrvPortAndWhoseZone) {
  // SRV names port 5369: the DNS finding, its port as detail, and (the domain is ours) a
  // remedy that says so; the connection that followed it is tcp-port-nonstandard.
  Result r;
  r.our_domains = {"B.Example."};
  r.dns.push_back(answered(query(1, "_xmpp-server._tcp.b.example", dns::kSrv, 0), dns::kNoError,
                           {srv("_xmpp-server._tcp.b.example", "xmpp.b.example", 5369)}));
  r.dns.push_back(answered(query(2, "xmpp.b.example", dns::kA, 0.1), dns::kNoError,
                           {a("xmpp.b.example", "198.51.100.20")}));
  auto l = leg(3, "203.0.113.10", "198.51.100.20", 5369, 0.2);
  l.history = "S";
  l.o.syns = 3;
  auto rec = record(3, {l}, flow::ConnState::kS0);
  rec.dns.push_back(engine::DnsLink{"b.example", engine::LinkVia::kSrv,
                                    "_xmpp-server._tcp.b.example", "xmpp.b.example", 5369,
                                    *IpAddress::parse("198.51.100.20"), 1, 2});
  r.connections.push_back(std::move(rec));
  judge(r);
  const Finding* f = find(r, FindingCode::kDnsSrvPortNonstandard);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->detail, "5369");
  EXPECT_EQ(f->remedy.rfind("This is your domain: ", 0), 0u) << f->remedy;
  const Finding* t = find(r, FindingCode::kTcpPortNonstandard);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->flow, 3u);
  EXPECT_NE(find(r, FindingCode::kTcpNoAnswer), nullptr);
}

TEST(JudgeDns, SrvTargetOnAnInsideAddress) {
  Result r;
  r.dns.push_back(answered(query(1, "_xmpp-server._tcp.b.example", dns::kSrv, 0), dns::kNoError,
                           {srv("_xmpp-server._tcp.b.example", "xmpp.b.example", 5269)}));
  r.dns.push_back(answered(query(2, "xmpp.b.example", dns::kA, 0.1), dns::kNoError,
                           {a("xmpp.b.example", "10.1.2.3")}));
  judge(r);
  const Finding* f = find(r, FindingCode::kDnsAddressNotPublic);
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->summary.find("10.1.2.3"), std::string::npos) << f->summary;
}

TEST(JudgeDns, UnansweredSrvQuery) {
  Result r;
  auto q = query(1, "_xmpp-server._tcp.b.example", dns::kSrv, 0);
  q.outcome = engine::DnsOutcome::kNoResponse;
  q.queries = 3;
  r.dns.push_back(q);
  judge(r);
  EXPECT_EQ(codes(r), std::vector<FindingCode>{FindingCode::kDnsNoResponse});
}

// ---- TCP, NAT, firewall -------------------------------------------------------------------------

namespace {

// A SYN to 198.51.100.20:5269 answered by RST 10 ms later (Zeek REJ), seen at one point.
engine::ConnectionRecord refused() {
  auto l = leg(1, "203.0.113.10", "198.51.100.20", 5269, 0);
  l.history = "Sr";
  l.r.sent_rst = true;
  l.r.first_rst = at(101, 0.01);
  return record(1, {l}, flow::ConnState::kRej);
}

}  // namespace

TEST(JudgeTcp, RefusedNamesTheHostThatReset) {
  Result r;
  r.connections.push_back(refused());
  judge(r);
  const Finding* f = find(r, FindingCode::kTcpRefused);
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->summary.find("198.51.100.20:5269 answered the SYN with RST"), std::string::npos)
      << f->summary;
  EXPECT_EQ(f->evidence.size(), 2u);
}

TEST(JudgeTcp, TheSameRejectOnAForwardingBoxIsTheFirewall) {
  // Two capture points (outside and inside of a firewall): a RST that only the outside saw is
  // the firewall's own.
  Result r;
  r.files.resize(2);
  r.connections.push_back(refused());
  judge(r);
  EXPECT_TRUE(r.forwarding_vantage);
  EXPECT_EQ(codes(r), std::vector<FindingCode>{FindingCode::kFwBlocked});
}

TEST(JudgeTcp, ASynFromOutsideToAnInsideAddressIsWrongDns) {
  // The peer's SYNs arrive at the firewall addressed to our inside server: the firewall is
  // right to drop them; what sent them there is the public zone (dns-address-not-public),
  // and the verdict says so, with the drop folded under it.
  Result r;
  r.our_domains = {"cupdomain.example"};
  r.inside_nets = {*Cidr::parse("192.0.2.0/24")};
  auto l = leg(1, "203.0.113.10", "192.0.2.10", 5269, 0);
  l.history = "S";
  l.o.syns = 4;
  l.first_direction = packet::Direction::kIn;
  r.connections.push_back(record(1, {l}, flow::ConnState::kS0));
  judge(r);
  const Finding* d = find(r, FindingCode::kDnsAddressNotPublic);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->domain, "cupdomain.example");
  EXPECT_EQ(d->remedy.rfind("This is your domain: ", 0), 0u) << d->remedy;
  const Finding* fw = find(r, FindingCode::kFwBlocked);
  ASSERT_NE(fw, nullptr);
  EXPECT_EQ(fw->cause, d->key);
  ASSERT_FALSE(r.verdicts.empty());
  EXPECT_EQ(r.verdicts[0].stage, Stage::kDns);
}

TEST(JudgeTcp, NatForwardsToTheWrongInsidePort) {
  auto out = leg(1, "203.0.113.10", "198.51.100.20", 5269, 0, 1);
  auto in = leg(2, "203.0.113.10", "192.0.2.10", 522, 0.001, 2);
  out.history = in.history = "Sr";
  in.r.sent_rst = out.r.sent_rst = true;
  in.r.first_rst = at(201, 0.002);
  Result r;
  r.connections.push_back(record(1, {out, in}, flow::ConnState::kRej));
  judge(r);
  const Finding* f = find(r, FindingCode::kNatPortMismatch);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->detail, "5269->522");
  EXPECT_EQ(f->severity, Severity::kError);
  EXPECT_EQ(find(r, FindingCode::kTcpRefused), nullptr) << "the NAT finding explains the RST";
}

TEST(JudgeTcp, ResetAfterDataButNotATeardown) {
  Result r;
  auto l = leg(1, "203.0.113.10", "198.51.100.20", 5269, 0);
  establish(l);
  l.r.sent_rst = true;
  l.r.first_rst = at(150, 2.0);
  r.connections.push_back(record(1, {l}, flow::ConnState::kRstr));
  // The same, but the responder had sent its FIN first: its kernel answering late data.
  auto t = leg(2, "203.0.113.10", "198.51.100.20", 5269, 5);
  establish(t);
  t.r.sent_rst = true;
  t.r.first_fin = at(249, 6.0);
  t.r.first_rst = at(250, 6.1);
  r.connections.push_back(record(2, {t}, flow::ConnState::kRstr));
  judge(r);
  ASSERT_EQ(codes(r), std::vector<FindingCode>{FindingCode::kTcpReset});
  EXPECT_EQ(r.findings[0].flow, 1u);
  EXPECT_NE(r.findings[0].summary.find("by the responder 198.51.100.20 after 600 bytes"),
            std::string::npos)
      << r.findings[0].summary;
}

TEST(JudgeTcp, AdministrativelyProhibitedIsTheFirewall) {
  Result r;
  auto l = leg(1, "203.0.113.10", "198.51.100.20", 5269, 0);
  l.history = "S";
  flow::IcmpEvent e;
  e.ref = at(101, 0.01);
  e.reporter = *IpAddress::parse("198.51.100.1");
  e.type = 3;
  e.code = 13;
  e.unreachable = true;
  l.icmp.push_back(e);
  r.connections.push_back(record(1, {l}, flow::ConnState::kS0));
  judge(r);
  ASSERT_EQ(codes(r), std::vector<FindingCode>{FindingCode::kFwBlocked});
  EXPECT_EQ(r.findings[0].detail, "icmp 3/13");
}

// ---- XMPP ---------------------------------------------------------------------------------------

TEST(JudgeXmpp, StreamErrorSeverityFollowsTheCondition) {
  Result r;
  for (std::uint32_t id : {1u, 2u}) {
    auto l = leg(id, "203.0.113.10", "198.51.100.20", 5269, id);
    establish(l);
    auto rec = record(id, {l}, flow::ConnState::kSF);
    const char* condition = id == 1 ? "host-unknown" : "system-shutdown";
    rec.xmpp = facts({
        {true, header("a.example", "b.example"), id + 0.1},
        {false,
         header("b.example", "a.example", "s1") + "<stream:error><" + condition +
             " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>",
         id + 0.2},
    });
    r.connections.push_back(std::move(rec));
  }
  judge(r);
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].code, FindingCode::kXmppStreamError);
  EXPECT_EQ(r.findings[0].detail, "host-unknown");
  EXPECT_EQ(r.findings[0].severity, Severity::kError) << "a fault: errors come first";
  EXPECT_EQ(r.findings[1].detail, "system-shutdown");
  EXPECT_EQ(r.findings[1].severity, Severity::kWarning) << "an orderly close";
}

TEST(JudgeXmpp, AServerThatAnswersWithHttp) {
  Result r;
  auto l = leg(1, "203.0.113.10", "198.51.100.20", 5269, 0);
  establish(l);
  auto rec = record(1, {l}, flow::ConnState::kSF);
  rec.xmpp = facts({
      {true, header("a.example", "b.example"), 0.1},
      {false, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 0.2},
  });
  r.connections.push_back(std::move(rec));
  judge(r);
  const Finding* f = find(r, FindingCode::kXmppNotXmpp);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kError);
  EXPECT_EQ(f->detail, "http");
}

// ---- TLS ----------------------------------------------------------------------------------------

TEST(JudgeTls, ExpiredCertificate) {
  auto c = certificate("b.example");
  c.not_after = static_cast<std::int64_t>(kT0) - 86400;
  Result r;
  r.connections.push_back(tls_connection(1, c));
  judge(r);
  EXPECT_EQ(codes(r), std::vector<FindingCode>{FindingCode::kTlsCertExpired});
}

TEST(JudgeTls, CertificateThatNamesAnotherDomain) {
  Result r;
  r.connections.push_back(tls_connection(1, certificate("other.example")));
  judge(r);
  const Finding* f = find(r, FindingCode::kTlsCertNameMismatch);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->detail, "b.example") << "the stream's 'to' is the name it must carry";
  EXPECT_NE(f->summary.find("DNS:other.example"), std::string::npos) << f->summary;
}

TEST(JudgeTls, DeprecatedVersion) {
  Result r;
  r.connections.push_back(tls_connection(1, certificate("b.example"), 0x0301));
  judge(r);
  const Finding* f = find(r, FindingCode::kTlsOldVersion);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->detail, "TLS 1.0");
}

TEST(JudgeTls, AHealthyCertificateSaysNothing) {
  Result r;
  r.connections.push_back(tls_connection(1, certificate("b.example")));
  judge(r);
  EXPECT_TRUE(r.findings.empty());
}

}  // namespace fedscope::report
