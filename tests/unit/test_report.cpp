// The judges on records built in the test: XMPP facts from a real ConnectionAnalyzer run,
// TCP state written by hand. Cases no committed capture shows.

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include "built_records.hpp"
#include "fedscope/report/analysis.hpp"

namespace fedscope::report {

// gtest shows a mismatched code, role, outcome or authentication by its text, not its number.
void PrintTo(FindingCode c, std::ostream* os) {
  *os << to_string(c);
}
void PrintTo(AttemptRole v, std::ostream* os) {
  *os << to_string(v);
}
void PrintTo(AttemptOutcome v, std::ostream* os) {
  *os << to_string(v);
}
void PrintTo(AuthMethod v, std::ostream* os) {
  *os << '"' << to_string(v) << '"';
}
void PrintTo(AuthResult v, std::ostream* os) {
  *os << '"' << to_string(v) << '"';
}

namespace {

using test::bytes_of;

PacketRef ref(std::uint64_t n, double t) {
  return test::at(n, t);
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
  l.o.sent_ack = l.o.sent_data = l.o.sent_fin = true;
  l.r.sent_ack = l.r.sent_data = l.r.sent_fin = true;
  l.o.syns = 1;
  l.r.syns = 1;
  l.o.first_syn = ref(1, start);
  l.r.first_syn = ref(2, start);
  l.o.payload_bytes = 500;
  l.r.payload_bytes = 500;
  l.start = Timestamp::from_seconds(1'700'000'000.0 + start);
  l.last = Timestamp::from_seconds(1'700'000'000.0 + end);
  rec.conn.legs.push_back(l);
  rec.conn.conn_state = flow::ConnState::kSF;
  return rec;
}

using test::Chunk;
using test::facts;
using test::header;

const std::string kFeatures =
    "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>";

using test::codes;

TEST(Catalogue, EveryCodeHasItsEntryAndText) {
  ASSERT_EQ(catalogue().size(), static_cast<std::size_t>(FindingCode::kCount));
  for (const auto& e : catalogue()) {
    EXPECT_EQ(&entry(e.code), &e) << e.text;
    EXPECT_EQ(to_string(e.code), e.text);
    EXPECT_EQ(find_entry(e.text), &e) << e.text;
  }
  EXPECT_EQ(to_string(FindingCode::kNatPortMismatch), "nat-port-mismatch");
  EXPECT_EQ(entry(FindingCode::kTlsSniMismatch).layer, "tls");
  EXPECT_EQ(find_entry("nat-port-mismatc"), nullptr);
}

TEST(Attempts, EnumsWriteTheWordsOfTheReportSchema) {
  // docs/report.schema.json lists these words: the reports write them through to_string().
  EXPECT_EQ(to_string(AttemptRole::kStream), "stream");
  EXPECT_EQ(to_string(AttemptRole::kDialbackVerify), "dialback-verify");
  EXPECT_EQ(to_string(AttemptRole::kMultiplexed), "multiplexed");
  EXPECT_EQ(to_string(AttemptOutcome::kConnected), "connected");
  EXPECT_EQ(to_string(AttemptOutcome::kFailed), "failed");
  EXPECT_EQ(to_string(AttemptOutcome::kCaptureEnded), "capture-ended");
  EXPECT_EQ(to_string(AttemptOutcome::kDnsOnly), "dns-only");
  EXPECT_EQ(to_string(AttemptOutcome::kAuthenticated), "authenticated");
  EXPECT_EQ(to_string(AttemptOutcome::kEncrypted), "encrypted");
  EXPECT_EQ(to_string(AuthMethod::kNoStream), "");
  EXPECT_EQ(to_string(AuthMethod::kDialback), "dialback");
  EXPECT_EQ(to_string(AuthMethod::kSaslExternal), "sasl-external");
  EXPECT_EQ(to_string(AuthMethod::kSasl), "sasl");
  EXPECT_EQ(to_string(AuthMethod::kNone), "none");
  EXPECT_EQ(to_string(AuthMethod::kUnknown), "unknown");
  EXPECT_EQ(to_string(AuthResult::kNoStream), "");
  EXPECT_EQ(to_string(AuthResult::kValid), "valid");
  EXPECT_EQ(to_string(AuthResult::kInvalid), "invalid");
  EXPECT_EQ(to_string(AuthResult::kError), "error");
  EXPECT_EQ(to_string(AuthResult::kNoAnswer), "no-answer");
  EXPECT_EQ(to_string(AuthResult::kSuccess), "success");
  EXPECT_EQ(to_string(AuthResult::kFailure), "failure");
  EXPECT_EQ(to_string(AuthResult::kPending), "pending");
  EXPECT_EQ(to_string(AuthResult::kNotObservable), "not-observable");
  EXPECT_EQ(to_string(AuthResult::kNone), "none");
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
  EXPECT_EQ(main.auth_method, AuthMethod::kDialback);
  EXPECT_EQ(main.auth_result, AuthResult::kValid);
  const auto& mux = r.attempts[1];
  EXPECT_EQ(mux.target, "muc.b.example");
  ASSERT_EQ(mux.roles.size(), 1u);
  EXPECT_EQ(mux.roles[0], AttemptRole::kMultiplexed);
  EXPECT_EQ(mux.auth_result, AuthResult::kInvalid);
  EXPECT_EQ(mux.from_domain, "a.example");
  // Plaintext dialback: the valid pair federated in clear (xmpp-unencrypted, a warning).
  EXPECT_EQ(codes(r), (std::vector<FindingCode>{FindingCode::kXmppDialbackInvalid,
                                                FindingCode::kXmppUnencrypted}));
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
  EXPECT_EQ(codes(r), std::vector<FindingCode>{FindingCode::kXmppDialbackTimeout});
  ASSERT_EQ(r.attempts.size(), 1u);
  EXPECT_EQ(r.attempts[0].auth_result, AuthResult::kNoAnswer);

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
  EXPECT_EQ(open.attempts[0].auth_result, AuthResult::kPending);
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
  EXPECT_EQ(r.attempts[0].roles,
            (std::vector<AttemptRole>{AttemptRole::kStream, AttemptRole::kDialbackVerify}));
  EXPECT_EQ(r.attempts[0].outcome, AttemptOutcome::kAuthenticated);
  // Only that it authenticated in clear; the verify connection carried no federation.
  EXPECT_EQ(codes(r), std::vector<FindingCode>{FindingCode::kXmppUnencrypted});
}

// ---- Domains compared in one form (case, trailing dot, IDN) ------------------------------------

const std::string kBucher =
    "b\xc3\xbc"
    "cher.example";  // bücher.example

engine::DnsTransaction dns_query(std::uint64_t id, const std::string& qname, std::uint16_t qtype,
                                 double t) {
  engine::DnsTransaction d;
  d.id = id;
  d.qname = qname;
  d.qtype = qtype;
  d.client = Endpoint{*IpAddress::parse("192.0.2.10"), 53000};
  d.server = Endpoint{*IpAddress::parse("198.51.100.53"), 53};
  d.query = ref(id * 2, t);
  d.response = ref(id * 2 + 1, t + 0.01);
  d.outcome = engine::DnsOutcome::kAnswered;
  return d;
}

dns::ResourceRecord rr(const std::string& name, dns::RData data, std::uint16_t type) {
  dns::ResourceRecord r;
  r.name = name;
  r.type = type;
  r.klass = 1;
  r.data = std::move(data);
  return r;
}

const Finding* find(const Result& r, FindingCode code) {
  for (const auto& f : r.findings)
    if (f.code == code) return &f;
  return nullptr;
}

// An SRV lookup with no answer for D: dns-srv-missing about D, whose remedy says whose zone.
Result srv_missing(const std::string& qname_domain, std::vector<std::string> ours) {
  Result r;
  auto t = dns_query(1, "_xmpp-server._tcp." + qname_domain, dns::kSrv, 0);
  t.rcode = dns::kNxDomain;
  r.dns.push_back(t);
  r.our_domains = std::move(ours);
  judge(r);
  return r;
}

TEST(JudgeDomains, DomainOptionIsComparedWithoutCaseOrTrailingDot) {
  Result r = srv_missing("cupdomain.example", {"CUPDOMAIN.EXAMPLE.", "cupdomain.example"});
  // Shown normalized, once.
  EXPECT_EQ(r.our_domains, std::vector<std::string>{"cupdomain.example"});
  const Finding* f = find(r, FindingCode::kDnsSrvMissing);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->domain, "cupdomain.example");
  EXPECT_EQ(f->remedy.rfind("This is your domain: ", 0), 0u) << f->remedy;

  // Another domain is the peer's, whatever its case.
  Result peer = srv_missing("peer.example", {"CUPDOMAIN.EXAMPLE."});
  f = find(peer, FindingCode::kDnsSrvMissing);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->remedy.rfind("This is the peer's domain", 0), 0u) << f->remedy;
}

TEST(JudgeDomains, InternationalDomainOptionMatchesALabelsInDns) {
  for (const std::string& given : {kBucher, std::string("XN--BCHER-KVA.EXAMPLE.")}) {
    Result r = srv_missing("xn--bcher-kva.example", {given});
    EXPECT_EQ(r.our_domains, std::vector<std::string>{"xn--bcher-kva.example"}) << given;
    const Finding* f = find(r, FindingCode::kDnsSrvMissing);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->remedy.rfind("This is your domain: ", 0), 0u) << given << ": " << f->remedy;
  }
}

TEST(JudgeDomains, InferredDomainsAndDnsNamesInAnyCase) {
  // Built by hand in 0x20 mixed case (the decoder lowercases; the judges must not rely on it):
  // the SRV names XMPP.CupDomain.example, which resolves to an --inside-net address.
  Result r;
  r.inside_nets.push_back(*Cidr::parse("192.0.2.0/24"));
  auto srv = dns_query(1, "_XMPP-Server._TCP.CupDomain.Example.", dns::kSrv, 0);
  srv.answers.push_back(rr("_xmpp-server._tcp.cupdomain.example",
                           dns::SrvData{0, 5, 5269, "XMPP.CupDomain.example."}, dns::kSrv));
  auto a = dns_query(2, "xmpp.cupdomain.EXAMPLE", dns::kA, 1);
  a.answers.push_back(rr("xmpp.cupdomain.example", *IpAddress::parse("192.0.2.10"), dns::kA));
  r.dns.push_back(srv);
  r.dns.push_back(a);
  judge(r);
  EXPECT_EQ(r.our_domains_inferred, std::vector<std::string>{"cupdomain.example"});
  const Finding* f = find(r, FindingCode::kDnsAddressNotPublic);
  ASSERT_NE(f, nullptr);  // the SRV target met the A lookup for it
  EXPECT_EQ(f->domain, "cupdomain.example");
  EXPECT_EQ(f->remedy.rfind("This is your domain: ", 0), 0u) << f->remedy;
  ASSERT_EQ(r.attempts.size(), 1u);  // one domain: both lookups in one attempt
  EXPECT_EQ(r.attempts[0].dns.size(), 2u);
}

TEST(JudgeDomains, StreamDomainsInAnyCaseAreOnePair) {
  Result r;
  // a.example -> b.example; the answers and the dialback spell the same domains otherwise.
  auto main = connection(1, "203.0.113.10", "198.51.100.20", 0, 5);
  main.xmpp = facts({
      {true, header("a.example", "b.example"), 0.1},
      {false, header("B.EXAMPLE", "A.Example.", "stream-77") + kFeatures, 0.2},
      {true, "<db:result from='A.EXAMPLE' to='b.example.'>k1</db:result>", 0.3},
      {false, "<db:result type='valid' from='B.Example' to='a.example'/>", 0.9},
  });
  // The check back from b.example to a.example, addressed in upper case.
  auto verify = connection(2, "198.51.100.20", "203.0.113.10", 0.4, 1.0);
  verify.xmpp = facts({
      {true, header("b.example", "A.EXAMPLE"), 0.5},
      {false, header("a.example", "b.example", "v-1") + kFeatures, 0.6},
      {true, "<db:verify from='b.example' to='A.EXAMPLE' id='stream-77'>k1</db:verify>", 0.7},
      {false, "<db:verify type='valid' from='a.example' to='b.example' id='stream-77'/>", 0.8},
      {true, "</stream:stream>", 0.85},
      {false, "</stream:stream>", 0.86},
  });
  // The other direction, b.example -> a.example, its domains spelt differently again.
  auto back = connection(3, "198.51.100.20", "203.0.113.10", 2, 5);
  back.xmpp = facts({
      {true, header("B.EXAMPLE.", "A.example"), 2.1},
      {false, header("a.example", "b.example", "s3") + kFeatures, 2.2},
      {true, "<db:result from='b.example' to='a.example'>k3</db:result>", 2.3},
      {false, "<db:result type='valid' from='a.example' to='b.example'/>", 2.4},
  });
  r.connections.push_back(std::move(main));
  r.connections.push_back(std::move(verify));
  r.connections.push_back(std::move(back));
  r.our_domains = {"A.Example."};
  judge(r);
  // No unsolicited answer, no extra (multiplexed) pair, no attempt of the verify's own; one
  // xmpp-unencrypted per direction, whatever case the headers wrote the domains in.
  EXPECT_EQ(codes(r), (std::vector<FindingCode>{FindingCode::kXmppUnencrypted,
                                                FindingCode::kXmppUnencrypted}));
  ASSERT_EQ(r.attempts.size(), 2u);
  EXPECT_EQ(r.attempts[0].roles,
            (std::vector<AttemptRole>{AttemptRole::kStream, AttemptRole::kDialbackVerify}));
  EXPECT_EQ(r.attempts[0].outcome, AttemptOutcome::kAuthenticated);
  EXPECT_EQ(r.attempts[1].outcome, AttemptOutcome::kAuthenticated);
  ASSERT_TRUE(r.attempts[0].reverse);
  EXPECT_EQ(*r.attempts[0].reverse, 1u);
  ASSERT_TRUE(r.attempts[1].reverse);
  EXPECT_EQ(*r.attempts[1].reverse, 0u);
  EXPECT_EQ(r.our_domains, std::vector<std::string>{"a.example"});
}

TEST(JudgeDomains, SniInALabelsMatchesAStreamToInULabels) {
  auto run = [](const std::string& sni) {
    Result r;
    auto rec = connection(1, "203.0.113.10", "198.51.100.20", 0, 5);
    auto x = facts({
        {true, header("a.example", kBucher.c_str()), 0.1},
        {false, header(kBucher.c_str(), "a.example", "s1") + kFeatures, 0.2},
    });
    // The TLS part as the decoder would leave it (SNI is an A-label, RFC 6066 §3).
    auto& t = x->tls.mut();
    t.started = true;
    t.complete = true;
    t.client_hello = tls::ClientHello{};
    t.client_hello->sni = sni;
    t.client_hello_ref = ref(20, 0.5);
    rec.xmpp = std::move(x);
    r.connections.push_back(std::move(rec));
    judge(r);
    return find(r, FindingCode::kTlsSniMismatch) != nullptr;
  };
  EXPECT_FALSE(run("xn--bcher-kva.example"));
  EXPECT_FALSE(run("XN--BCHER-KVA.EXAMPLE."));
  EXPECT_TRUE(run("xn--other-kva.example"));
}

// The whole pipeline on a committed capture: --domain in another spelling gives the same
// report.
TEST(JudgeDomains, CaptureReportIsTheSameForEverySpellingOfTheDomain) {
  auto run = [](const std::string& domain) {
    Options o;
    o.files = {std::string(FEDSCOPE_SOURCE_DIR) + "/pcaps/core/dns-address-inside/fw-any.pcap"};
    o.inside_nets = {*Cidr::parse("192.0.2.0/24")};
    o.domains = {domain};
    Result r;
    std::string error;
    EXPECT_TRUE(analyze(o, r, error)) << error;
    return r;
  };
  const Result want = run("cupdomain.example");
  ASSERT_FALSE(want.findings.empty());
  const Finding* f = find(want, FindingCode::kDnsAddressNotPublic);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->remedy.rfind("This is your domain: ", 0), 0u) << f->remedy;
  for (const std::string& given :
       {std::string("CUPDOMAIN.EXAMPLE."), std::string("CupDomain.Example"),
        std::string("cupdomain.example.")}) {
    const Result got = run(given);
    EXPECT_EQ(got.our_domains, want.our_domains) << given;
    ASSERT_EQ(got.findings.size(), want.findings.size()) << given;
    for (std::size_t i = 0; i < got.findings.size(); ++i) {
      EXPECT_EQ(got.findings[i].code, want.findings[i].code) << given;
      EXPECT_EQ(got.findings[i].domain, want.findings[i].domain) << given;
      EXPECT_EQ(got.findings[i].summary, want.findings[i].summary) << given;
      EXPECT_EQ(got.findings[i].remedy, want.findings[i].remedy) << given;
    }
    ASSERT_EQ(got.attempts.size(), want.attempts.size()) << given;
    for (std::size_t i = 0; i < got.attempts.size(); ++i)
      EXPECT_EQ(got.attempts[i].domain, want.attempts[i].domain) << given;
  }
}

}  // namespace
}  // namespace fedscope::report
