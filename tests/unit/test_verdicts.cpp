// Verdicts and causal folding (verdicts.cpp) on records built in the test, and what the text
// renderer makes of them: one verdict per federation direction, the root cause above its
// consequences, the exit status from root causes, and the keyless shape rules.
#include <gtest/gtest.h>

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
using test::Chunk;
using test::facts;
using test::header;
using test::kT0;

using test::leg;
using test::record;

// The handshake completed and both sides sent data; no close yet.
void establish(flow::Leg& l) {
  l.history = "ShADad";
  l.r.syns = 1;
  l.r.first_syn = at(l.id * 100 + 1, 0);
  l.o.sent_ack = l.o.sent_data = true;
  l.r.sent_ack = l.r.sent_data = true;
  l.o.payload_bytes = l.r.payload_bytes = 300;
}

engine::DnsTransaction srv_answer(std::uint64_t id, const char* domain, std::uint16_t port) {
  engine::DnsTransaction q;
  q.id = id;
  q.qname = std::string("_xmpp-server._tcp.") + domain;
  q.qtype = dns::kSrv;
  q.client = Endpoint{*IpAddress::parse("192.0.2.10"), 40000};
  q.server = Endpoint{*IpAddress::parse("198.51.100.53"), 53};
  q.query = at(id, 0);
  q.outcome = engine::DnsOutcome::kAnswered;
  q.response = at(id + 1, 0.01);
  dns::ResourceRecord rr;
  rr.name = q.qname;
  rr.type = dns::kSrv;
  dns::SrvData s;
  s.port = port;
  s.target = std::string("xmpp.") + domain;
  rr.data = s;
  q.answers = {rr};
  return q;
}

engine::DnsLink srv_link(const char* domain, std::uint16_t port, const char* address) {
  return engine::DnsLink{domain,
                         engine::LinkVia::kSrv,
                         std::string("_xmpp-server._tcp.") + domain,
                         std::string("xmpp.") + domain,
                         port,
                         *IpAddress::parse(address),
                         1,
                         1};
}

const Finding* find(const Result& r, FindingCode code) {
  for (const auto& f : r.findings)
    if (f.code == code) return &f;
  return nullptr;
}

const Verdict* verdict(const Result& r, const std::string& from, const std::string& to) {
  for (const auto& v : r.verdicts)
    if (v.from == from && v.to == to) return &v;
  return nullptr;
}

// Our server 192.0.2.10 (cupdomain.example, inside) looks up gmail.example, whose SRV record
// says port 5369, and connects there.
Result srv_port_case(bool refused) {
  Result r;
  r.our_domains = {"cupdomain.example"};
  r.inside_nets = {*Cidr::parse("192.0.2.0/24")};
  r.dns.push_back(srv_answer(1, "gmail.example", 5369));
  auto l = leg(1, "192.0.2.10", "203.0.113.10", 5369, 0.1);
  engine::ConnectionRecord rec;
  if (refused) {
    l.history = "Sr";
    l.r.sent_rst = true;
    l.r.first_rst = at(101, 0.11);
    rec = record(1, {l}, flow::ConnState::kRej);
  } else {
    establish(l);
    rec = record(1, {l}, flow::ConnState::kS1);
    rec.conn.capture_ended = true;
    rec.xmpp = facts({{true, header("cupdomain.example", "gmail.example"), 0.2},
                      {false, header("gmail.example", "cupdomain.example", "s1"), 0.3}});
  }
  rec.dns.push_back(srv_link("gmail.example", 5369, "203.0.113.10"));
  r.connections.push_back(std::move(rec));
  judge(r);
  return r;
}

}  // namespace

TEST(Verdicts, AWrongSrvPortIsTheRootCauseOfTheRefusal) {
  Result r = srv_port_case(true);
  ASSERT_EQ(r.verdicts.size(), 2u);  // and the other direction, not observed
  const Verdict& v = r.verdicts[0];  // failed first
  EXPECT_EQ(v.from, "cupdomain.example");
  EXPECT_EQ(v.to, "gmail.example");
  EXPECT_EQ(v.status, VerdictStatus::kFailed);
  EXPECT_EQ(v.stage, Stage::kDns);
  ASSERT_TRUE(v.finding);
  const Finding& root = r.findings[*v.finding];
  EXPECT_EQ(root.code, FindingCode::kDnsSrvPortNonstandard);
  EXPECT_EQ(v.root_cause, root.key);
  // A warning on its own; the cause of a failure here.
  EXPECT_EQ(root.severity, Severity::kError);
  EXPECT_TRUE(root.cause.empty());
  // The refusal and the non-standard port follow from it: folded, and not counted.
  for (auto code : {FindingCode::kTcpRefused, FindingCode::kTcpPortNonstandard}) {
    const Finding* f = find(r, code);
    ASSERT_NE(f, nullptr) << to_string(code);
    EXPECT_EQ(f->cause, root.key) << to_string(code);
    // Its own remedy ("start the listener on 5369") would point away from the cause.
    EXPECT_EQ(f->remedy.rfind("Follows from dns-srv-port-nonstandard [gmail.example]: ", 0), 0u)
        << f->remedy;
  }
  EXPECT_EQ(r.errors(), 1u);
  EXPECT_EQ(r.warnings(), 0u);
  EXPECT_EQ(r.exit_status(), 1);
}

TEST(Verdicts, AWrongSrvPortThatWorksIsDegraded) {
  Result r = srv_port_case(false);
  const Verdict* v = verdict(r, "cupdomain.example", "gmail.example");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->status, VerdictStatus::kDegraded);
  EXPECT_EQ(v->basis, VerdictBasis::kInferred);
  ASSERT_TRUE(v->finding);
  EXPECT_EQ(r.findings[*v->finding].code, FindingCode::kDnsSrvPortNonstandard);
  EXPECT_EQ(r.findings[*v->finding].severity, Severity::kWarning);
  // The other direction of the pair is named as unseen, not passed over.
  const Verdict* back = verdict(r, "gmail.example", "cupdomain.example");
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->status, VerdictStatus::kNotObserved);
  EXPECT_EQ(r.exit_status(), 0);
}

TEST(Verdicts, DialbackRefusedIsTheCauseOfTheStreamError) {
  Result r;
  r.our_domains = {"a.example"};
  auto l = leg(1, "203.0.113.10", "198.51.100.20", 5269, 0);
  establish(l);
  l.history = "ShADadFf";
  l.o.sent_fin = l.r.sent_fin = true;
  l.o.first_fin = at(150, 3.1);
  l.r.first_fin = at(151, 3.2);
  auto rec = record(1, {l}, flow::ConnState::kSF);
  rec.xmpp = facts({
      {true, header("a.example", "b.example"), 0.1},
      {false,
       header("b.example", "a.example", "s1") +
           "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/>"
           "</stream:features>",
       0.2},
      {true, "<db:result from='a.example' to='b.example'>key</db:result>", 0.3},
      {false, "<db:result type='invalid' from='b.example' to='a.example'/>", 2.9},
      {true,
       "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
       "</stream:error></stream:stream>",
       3.0},
  });
  r.connections.push_back(std::move(rec));
  judge(r);
  const Verdict* v = verdict(r, "a.example", "b.example");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->status, VerdictStatus::kFailed);
  EXPECT_EQ(v->stage, Stage::kAuth);
  ASSERT_TRUE(v->finding);
  const Finding& root = r.findings[*v->finding];
  EXPECT_EQ(root.code, FindingCode::kXmppDialbackInvalid);
  const Finding* se = find(r, FindingCode::kXmppStreamError);
  ASSERT_NE(se, nullptr);
  EXPECT_EQ(se->cause, root.key);
  EXPECT_EQ(r.errors(), 1u);
  // The text leads with the verdict and its root cause; the stream error sits under it
  // without a remedy of its own.
  const std::string text = render_text(r);
  const auto verdicts = text.find("\nVerdicts\n");
  const auto findings = text.find("\nFindings\n");
  const auto stories = text.find("\nFederation attempts\n");
  ASSERT_NE(verdicts, std::string::npos);
  ASSERT_LT(verdicts, findings);
  ASSERT_LT(findings, stories);
  const std::string first = text.substr(verdicts, findings - verdicts);
  EXPECT_NE(
      first.find("FAILED               a.example → b.example  at auth: xmpp-dialback-invalid"),
      std::string::npos)
      << first;
  const std::string body = text.substr(findings, stories - findings);
  const auto cause_at = body.find("ERROR  xmpp-dialback-invalid");
  const auto folded_at = body.find("follows from it (no action of its own):");
  const auto effect_at = body.find("      xmpp-stream-error  [b.example]: ");
  ASSERT_NE(cause_at, std::string::npos) << body;
  ASSERT_NE(folded_at, std::string::npos) << body;
  ASSERT_NE(effect_at, std::string::npos) << body;
  EXPECT_LT(cause_at, folded_at);
  EXPECT_LT(folded_at, effect_at);
  EXPECT_EQ(body.find("ERROR  xmpp-stream-error"), std::string::npos)
      << "a consequence is not a finding of its own";
  // One remedy: the root cause's.
  EXPECT_EQ(body.find("remedy:"), body.rfind("remedy:"));
  EXPECT_NE(text.find("findings: 1 error(s), 0 warning(s), 1 folded under their root cause"),
            std::string::npos);
  // --summary: the verdicts and root causes only.
  TextOptions summary;
  summary.summary = true;
  const std::string s = render_text(r, summary);
  EXPECT_NE(s.find("ERROR  xmpp-dialback-invalid"), std::string::npos);
  EXPECT_EQ(s.find("xmpp-stream-error"), std::string::npos);
  EXPECT_EQ(s.find("Federation attempts"), std::string::npos);
  EXPECT_EQ(s.find("Counts"), std::string::npos);
}

TEST(Verdicts, PlaintextFederationIsDegradedWithTheAuthenticationObserved) {
  Result r;
  r.our_domains = {"a.example"};
  auto l = leg(1, "203.0.113.10", "198.51.100.20", 5269, 0);
  establish(l);
  auto rec = record(1, {l}, flow::ConnState::kS1);
  rec.conn.capture_ended = true;
  rec.xmpp = facts({
      {true, header("a.example", "b.example"), 0.1},
      {false, header("b.example", "a.example", "s1"), 0.2},
      {true, "<db:result from='a.example' to='b.example'>key</db:result>", 0.3},
      {false, "<db:result type='valid' from='b.example' to='a.example'/>", 0.4},
  });
  r.connections.push_back(std::move(rec));
  judge(r);
  const Verdict* v = verdict(r, "a.example", "b.example");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->status, VerdictStatus::kDegraded);
  EXPECT_EQ(v->basis, VerdictBasis::kObserved);
  ASSERT_TRUE(v->finding);
  EXPECT_EQ(r.findings[*v->finding].code, FindingCode::kXmppUnencrypted);
  EXPECT_EQ(r.exit_status(), 0);
}

namespace {

// a.example -> b.example over TLS 1.3 that completed, with records both ways; closed as
// @p close says 50 ms after the ServerHello ("" = still open at the end of the capture).
// A certificate valid around the capture's time.
tls::CertificateInfo certificate(const char* subject, const char* issuer, const char* name,
                                 const char* sha) {
  tls::CertificateInfo c;
  c.subject = subject;
  c.issuer = issuer;
  c.common_name = name;
  c.dns_names = {name};
  c.self_signed = c.subject == c.issuer;
  c.not_before = static_cast<std::int64_t>(kT0) - 86400;
  c.not_after = static_cast<std::int64_t>(kT0) + 86400 * 300;
  c.sha256 = sha;
  return c;
}

Result tls_session(const std::string& close, bool cert_in_clear = false) {
  Result r;
  r.our_domains = {"a.example"};
  auto l = leg(1, "203.0.113.10", "198.51.100.20", 5269, 0);
  establish(l);
  auto rec = record(1, {l}, flow::ConnState::kS1);
  auto x = std::make_unique<s2s::ConnectionFacts>();
  x->kind = s2s::StreamKind::kXmpp;
  s2s::StreamHeaderFact h;
  h.from = "a.example";
  h.to = "b.example";
  h.ref = at(5, 0.1);
  x->orig.header = h;
  x->tls.mut().started = x->tls.mut().complete = true;
  x->tls.mut().server_hello = tls::ServerHello{};
  x->tls.mut().server_hello->version = cert_in_clear ? 0x0303 : 0x0304;
  x->tls.mut().server_hello_ref = at(6, 0.2);
  x->tls.mut().client_encrypted_records = 6;
  x->tls.mut().server_encrypted_records = 10;
  if (cert_in_clear) {
    x->tls.mut().certificate = s2s::Seen::kYes;
    x->tls.mut().certificate_ref = at(7, 0.2);
    x->tls.mut().chain = {certificate("CN=b.example", "CN=b.example", "b.example", "sha-b")};
  }
  rec.xmpp = std::move(x);
  auto& P = rec.conn.legs[0];
  if (close.empty()) {
    rec.conn.capture_ended = true;
  } else if (close == "rst") {
    P.r.sent_fin = true;
    P.r.first_fin = at(50, 0.25);
    P.r.sent_rst = true;
    P.r.first_rst = at(52, 0.26);
    rec.conn.conn_state = flow::ConnState::kRstr;
  } else {  // "orderly": a FIN from each side
    P.o.sent_fin = P.r.sent_fin = true;
    P.o.first_fin = at(50, 0.25);
    P.r.first_fin = at(51, 0.26);
    rec.conn.conn_state = flow::ConnState::kSF;
  }
  r.connections.push_back(std::move(rec));
  judge(r);
  return r;
}

}  // namespace

TEST(Verdicts, TlsTornDownRightAfterTheHandshakeIsAFailureNotHealthy) {
  Result r = tls_session("rst");
  const Finding* f = find(r, FindingCode::kTlsClosedAfterHandshake);
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->summary.find("b.example (198.51.100.20) closed the connection (FIN) 50 ms after"),
            std::string::npos)
      << f->summary;
  const Verdict* v = verdict(r, "a.example", "b.example");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->status, VerdictStatus::kFailed);
  EXPECT_EQ(v->stage, Stage::kTls);
  EXPECT_EQ(r.exit_status(), 1);
}

TEST(Verdicts, ACertificateInClearIsNamedAsTheLikelyCause) {
  Result r = tls_session("rst", true);
  const Verdict* v = verdict(r, "a.example", "b.example");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->status, VerdictStatus::kFailed);
  ASSERT_TRUE(v->finding);
  const Finding& root = r.findings[*v->finding];
  EXPECT_EQ(root.code, FindingCode::kTlsCertSelfSigned);
  EXPECT_EQ(root.severity, Severity::kError);
  const Finding* closed = find(r, FindingCode::kTlsClosedAfterHandshake);
  ASSERT_NE(closed, nullptr);
  EXPECT_EQ(closed->cause, root.key);
}

// a.example -> b.example over TLS 1.3 read with a key log, closed orderly (FIN each way, the
// side @p closer_orig first). The caller adds certificates and the stream error, then judges.
struct Decrypted {
  Result r;
  engine::ConnectionRecord rec;
  s2s::ConnectionFacts* x = nullptr;
};
Decrypted decrypted_session(bool closer_orig) {
  Decrypted d;
  d.r.our_domains = {"a.example"};
  auto l = leg(1, "203.0.113.10", "198.51.100.20", 5269, 0);
  establish(l);
  l.o.sent_fin = l.r.sent_fin = true;
  (closer_orig ? l.o : l.r).first_fin = at(40, 0.3);
  (closer_orig ? l.r : l.o).first_fin = at(41, 0.31);
  d.rec = record(1, {l}, flow::ConnState::kSF);
  auto x = std::make_unique<s2s::ConnectionFacts>();
  x->kind = s2s::StreamKind::kXmpp;
  s2s::StreamHeaderFact h;
  h.from = "a.example";
  h.to = "b.example";
  h.ref = at(5, 0.1);
  x->orig.header = h;
  auto& t = x->tls.mut();
  t.started = t.complete = t.decrypted = t.keylog = true;
  t.decryption = tls::DecryptState::kDecrypting;
  t.server_hello = tls::ServerHello{};
  t.server_hello->version = 0x0304;
  t.server_hello_ref = at(6, 0.2);
  t.client_encrypted_records = 4;
  t.server_encrypted_records = 5;
  x->xmpp_inside_tls = s2s::Seen::kYes;
  d.x = x.get();
  d.rec.xmpp = std::move(x);
  return d;
}
Result judged(Decrypted& d) {
  d.r.connections.push_back(std::move(d.rec));
  judge(d.r);
  return std::move(d.r);
}

// TLS 1.3 read with a key log: a.example saw b.example's self-signed certificate inside TLS
// and closed its stream with <not-authorized/> (Prosody's "Your server's certificate is not
// trusted"). The certificate is the root cause and the stream error folds under it; a
// stream error about something else (host-unknown) is not explained by the certificate.
Result decrypted_refusal(const char* condition) {
  Decrypted d = decrypted_session(true);
  auto& t = d.x->tls.mut();
  t.certificate = s2s::Seen::kYes;
  t.certificate_ref = at(7, 0.2);
  t.chain = {certificate("CN=b.example", "CN=b.example", "b.example", "sha-b")};
  d.x->orig.extra.mut().stream_error =
      s2s::StreamErrorFact{condition, "Your server's certificate is not trusted", at(30, 0.25)};
  d.x->orig.closed = true;
  return judged(d);
}

TEST(Verdicts, ACertificateReadInsideTlsIsTheCauseOfTheRefusal) {
  Result r = decrypted_refusal("not-authorized");
  const Verdict* v = verdict(r, "a.example", "b.example");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->status, VerdictStatus::kFailed);
  ASSERT_TRUE(v->finding);
  const Finding& root = r.findings[*v->finding];
  EXPECT_EQ(root.code, FindingCode::kTlsCertSelfSigned);
  const Finding* refused = find(r, FindingCode::kXmppStreamError);
  ASSERT_NE(refused, nullptr);
  EXPECT_EQ(refused->cause, root.key);
  EXPECT_NE(refused->summary.find("not-authorized"), std::string::npos) << refused->summary;
}

TEST(Verdicts, ACertificateDoesNotExplainAnUnrelatedStreamError) {
  Result r = decrypted_refusal("host-unknown");
  const Verdict* v = verdict(r, "a.example", "b.example");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->status, VerdictStatus::kFailed);
  ASSERT_TRUE(v->finding);
  EXPECT_EQ(r.findings[*v->finding].code, FindingCode::kXmppStreamError);
}

// b.example asked for a.example's client certificate in TLS 1.3 (read with the key log), got
// one from a CA it does not trust, and closed the restarted stream with <not-authorized/>:
// tls-cert-untrusted names the certificate and its issuer as the root cause. The same error
// before TLS (at the first stream header) says nothing about a certificate.
Result refused_client_certificate(bool after_tls) {
  Decrypted d = decrypted_session(false);
  auto& t = d.x->tls.mut();
  t.certificate_request = true;
  t.client_chain = {certificate("CN=a.example,O=Some Other Org", "CN=Some Other Org Root CA",
                                "a.example", "sha-a")};
  t.client_certificate_ref = at(8, 0.21);
  d.x->resp.extra.mut().stream_error =
      s2s::StreamErrorFact{"not-authorized", "Your server's certificate is not trusted",
                           after_tls ? at(30, 0.25) : at(4, 0.05)};
  return judged(d);
}

TEST(Verdicts, ARefusedClientCertificateIsTheRootCause) {
  Result r = refused_client_certificate(true);
  const Verdict* v = verdict(r, "a.example", "b.example");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->status, VerdictStatus::kFailed);
  EXPECT_EQ(v->stage, Stage::kTls);
  ASSERT_TRUE(v->finding);
  const Finding& root = r.findings[*v->finding];
  EXPECT_EQ(root.code, FindingCode::kTlsCertUntrusted);
  EXPECT_NE(root.summary.find("does not trust"), std::string::npos) << root.summary;
  EXPECT_NE(root.summary.find("issued by CN=Some Other Org Root CA"), std::string::npos)
      << root.summary;
  ASSERT_EQ(root.evidence.size(), 2u);  // the certificate and the stream error
  const Finding* refused = find(r, FindingCode::kXmppStreamError);
  ASSERT_NE(refused, nullptr);
  EXPECT_EQ(refused->cause, root.key);
}

TEST(Verdicts, AStreamErrorBeforeTlsBlamesNoCertificate) {
  Result r = refused_client_certificate(false);
  EXPECT_EQ(find(r, FindingCode::kTlsCertUntrusted), nullptr);
}

TEST(Verdicts, AnOrderlyCloseAndAnOpenSessionAreNotTornDown) {
  for (const char* close : {"orderly", ""}) {
    Result r = tls_session(close);
    EXPECT_EQ(find(r, FindingCode::kTlsClosedAfterHandshake), nullptr) << close;
    const Verdict* v = verdict(r, "a.example", "b.example");
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->status, VerdictStatus::kOk) << close;
    EXPECT_EQ(v->basis, VerdictBasis::kInferred) << close;
  }
}

namespace {

// Our encrypted stream a.example (192.0.2.10, inside) -> b.example (198.51.100.20), TLS 1.3,
// open from t=0; b.example's connection back to us at t=1 is refused. @p peer_close: when
// b.example closes our stream (seconds, < 0: never); @p end: the last packet of the capture.
Result check_back(double peer_close, double end) {
  Result r = tls_session("");
  r.inside_nets = {*Cidr::parse("192.0.2.0/24")};
  auto& ours = r.connections[0];
  // tls_session() judged it already: start over from the records.
  r.findings.clear();
  r.attempts.clear();
  r.verdicts.clear();
  ours.conn.legs[0].orig.addr = *IpAddress::parse("192.0.2.10");
  ours.conn.legs[0].last = Timestamp::from_seconds(kT0 + end);
  if (peer_close >= 0) {
    ours.conn.capture_ended = false;
    ours.conn.legs[0].r.sent_fin = true;
    ours.conn.legs[0].r.first_fin = at(90, peer_close);
    ours.conn.legs[0].o.sent_fin = true;
    ours.conn.legs[0].o.first_fin = at(91, peer_close + 0.01);
    ours.conn.legs[0].last = Timestamp::from_seconds(kT0 + peer_close + 0.01);
  }
  auto l = leg(2, "198.51.100.20", "192.0.2.10", 5269, 1.0);
  l.history = "Sr";
  l.r.sent_rst = true;
  l.r.first_rst = at(201, 1.001);
  auto back = record(2, {l}, flow::ConnState::kRej);
  auto x = std::make_unique<s2s::ConnectionFacts>();
  back.xmpp = std::move(x);
  r.connections.push_back(std::move(back));
  // The capture's last packet.
  auto tail = leg(3, "192.0.2.10", "198.51.100.99", 443, end);
  r.connections.push_back(record(3, {tail}, flow::ConnState::kS0));
  judge(r);
  return r;
}

}  // namespace

TEST(Verdicts, AFailedCheckBackDecidesAnEncryptedOutboundStream) {
  // The peer closed our stream 3 s after its connection back to us was refused: dialback
  // could not verify us, our direction failed for the same reason.
  Result closed = check_back(4.0, 4.01);
  const Verdict* v = verdict(closed, "a.example", "b.example");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->status, VerdictStatus::kFailed);
  EXPECT_EQ(v->stage, Stage::kTcp);
  ASSERT_TRUE(v->finding);
  EXPECT_EQ(closed.findings[*v->finding].code, FindingCode::kTcpRefused);
  EXPECT_NE(v->why.find("(flow 2) failed"), std::string::npos) << v->why;
  // The capture ends 5 s later with our stream open: it cannot say.
  Result cut = check_back(-1, 6.0);
  v = verdict(cut, "a.example", "b.example");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->status, VerdictStatus::kNotDeterminable);
  EXPECT_NE(v->why.find("flow 2"), std::string::npos) << v->why;
  // Open two minutes after it: the peer did not wait on that connection (SASL EXTERNAL).
  Result open = check_back(-1, 121.0);
  v = verdict(open, "a.example", "b.example");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->status, VerdictStatus::kOk);
  // The peer's own direction failed in every case.
  for (const Result* r : {&closed, &cut, &open}) {
    const Verdict* b = verdict(*r, "b.example", "a.example");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->status, VerdictStatus::kFailed);
  }
}

TEST(Verdicts, AnInboundSynFromAnUnnamedPeerStartsAtItsAddress) {
  // A capture on the firewall, one interface: SYNs from 203.0.113.10 to our public address
  // that were never answered. No packet names the peer's domain.
  Result r;
  r.our_domains = {"cupdomain.example"};
  r.inside_nets = {*Cidr::parse("192.0.2.0/24")};
  auto l = leg(1, "203.0.113.10", "203.0.113.100", 5269, 0);
  l.history = "S";
  l.o.syns = 3;
  l.first_direction = packet::Direction::kIn;
  r.connections.push_back(record(1, {l}, flow::ConnState::kS0));
  judge(r);
  ASSERT_EQ(r.verdicts.size(), 1u);
  EXPECT_EQ(r.verdicts[0].from, "203.0.113.10");
  EXPECT_EQ(r.verdicts[0].to, "cupdomain.example");
  EXPECT_EQ(r.verdicts[0].status, VerdictStatus::kFailed);
  EXPECT_EQ(r.verdicts[0].stage, Stage::kFirewall);
}

TEST(Verdicts, NoFederationTrafficIsNothingToJudge) {
  Result r;
  judge(r);
  EXPECT_TRUE(r.verdicts.empty());
  EXPECT_EQ(r.exit_status(), 3);
  EXPECT_NE(render_text(r).find("nothing to judge: no federation traffic in this capture"),
            std::string::npos);
}

}  // namespace fedscope::report

namespace fedscope::report {

TEST(RenderVerdicts, TheSameConsequenceTwiceIsOneLineWithACount) {
  // Built directly: a root cause and, folded under it, the same refusal on two connections
  // and one other consequence.
  Result r;
  Finding root(FindingCode::kDnsSrvPortNonstandard);
  root.severity = Severity::kError;
  root.key = "dns-srv-port-nonstandard@dns:gmail.example#0";
  root.domain = "gmail.example";
  root.summary = "SRV says 5369.";
  root.remedy = "Fix the SRV record.";
  r.findings.push_back(root);
  for (std::uint32_t flow : {1u, 2u}) {
    Finding f(FindingCode::kTcpRefused);
    f.severity = Severity::kError;
    f.key = "tcp-refused@flow:" + std::to_string(flow) + "#0";
    f.cause = root.key;
    f.domain = "gmail.example";
    f.flow = flow;
    f.summary = "refused on flow " + std::to_string(flow) + ".";
    f.remedy = "Start the listener.";
    f.add_evidence(0, flow * 10, Timestamp::from_seconds(test::kT0 + flow));
    r.findings.push_back(f);
  }
  Finding port(FindingCode::kTcpPortNonstandard);
  port.key = "tcp-port-nonstandard@flow:1#0";
  port.cause = root.key;
  port.domain = "gmail.example";
  port.summary = "port 5369.";
  port.remedy = "Prefer 5269.";
  r.findings.push_back(port);
  Verdict v;
  v.from = "cupdomain.example";
  v.to = "gmail.example";
  v.status = VerdictStatus::kFailed;
  v.stage = Stage::kDns;
  v.root_cause = root.key;
  v.finding = 0;
  v.why = root.summary;
  r.verdicts.push_back(v);
  const std::string text = render_text(r);
  EXPECT_NE(text.find("  FAILED               cupdomain.example → gmail.example  at dns: "
                      "dns-srv-port-nonstandard\n                       SRV says 5369.\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("      tcp-refused: refused on flow 1. (and 1 more like it)\n"
                      "        evidence: #10 22:13:21.000000Z, #20 22:13:22.000000Z\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("refused on flow 2."), std::string::npos) << text;
  EXPECT_NE(text.find("      tcp-port-nonstandard: port 5369.\n"), std::string::npos) << text;
  // Only the root cause's remedy; the consequences are not counted.
  EXPECT_EQ(text.find("Start the listener."), std::string::npos) << text;
  EXPECT_NE(text.find("findings: 1 error(s), 0 warning(s), 3 folded under their root cause"),
            std::string::npos)
      << text;
  EXPECT_EQ(r.exit_status(), 1);
}

}  // namespace fedscope::report

namespace fedscope::report {

TEST(RenderStories, DnsAskerOtherDnsSnaplenAndTheLegend) {
  Result r;
  r.our_domains = {"cupdomain.example"};
  r.inside_nets = {*Cidr::parse("192.0.2.0/24")};
  // A lookup that belongs to no federation attempt.
  engine::DnsTransaction q;
  q.id = 7;
  q.qname = "www.example.org";
  q.qtype = dns::kA;
  q.client = Endpoint{*IpAddress::parse("192.0.2.20"), 5353};
  q.server = Endpoint{*IpAddress::parse("198.51.100.53"), 53};
  q.query = test::at(70, 0.5);
  q.outcome = engine::DnsOutcome::kNoResponse;
  r.dns.push_back(q);
  // An inbound connection whose payload the snaplen cut away: bytes on the wire, none kept.
  flow::Leg l;
  l.id = 1;
  l.connection = 1;
  l.orig = Endpoint{*IpAddress::parse("203.0.113.10"), 40000};
  l.resp = Endpoint{*IpAddress::parse("192.0.2.10"), 5269};
  l.start = l.last = Timestamp::from_seconds(test::kT0);
  l.history = "ShADadFf";
  l.o.syns = l.r.syns = 1;
  l.o.first_syn = test::at(100, 0);
  l.o.sent_ack = l.o.sent_data = l.o.sent_fin = true;
  l.r.sent_ack = l.r.sent_data = l.r.sent_fin = true;
  l.o.payload_bytes = 214;
  l.r.payload_bytes = 250;
  engine::ConnectionRecord rec;
  rec.conn.id = 1;
  rec.conn.legs = {l};
  rec.conn.conn_state = flow::ConnState::kSF;
  rec.xmpp = std::make_unique<s2s::ConnectionFacts>();  // kNoData: no byte reached the parser
  r.connections.push_back(std::move(rec));
  judge(r);
  const std::string text = render_text(r);
  EXPECT_NE(text.find("XMPP: payload not captured (cut by the snaplen)"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("no byte in either direction"), std::string::npos) << text;
  EXPECT_NE(text.find("\nOther DNS (not part of a federation attempt)\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("DNS  www.example.org A → NO ANSWER  (#70, 192.0.2.20 asked 198.51.100.53)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nLegend (Zeek's conn_state and history)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  history: A pure ACK, D data, F FIN, H SYN-ACK, S SYN; upper case = "
                      "the originator"),
            std::string::npos)
      << text;
  // The shape of a clean exchange: ok, inferred, although nothing of XMPP was kept; and no
  // "no stream" finding for bytes that were sent but not captured.
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().summary;
  ASSERT_FALSE(r.verdicts.empty());
  EXPECT_EQ(r.verdicts[0].status, VerdictStatus::kOk);
}

}  // namespace fedscope::report
