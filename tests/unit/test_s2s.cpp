// The federation session model: both directions of one connection in, facts out.

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "fedscope/s2s/session.hpp"
#include "split_test.hpp"

namespace fedscope::s2s {
namespace {

using test::bytes_of;

// One direction's chunk, in the order the packets arrived.
struct Chunk {
  bool from_orig;
  std::string bytes;
};

PacketRef ref(std::uint64_t n) {
  return PacketRef{0, n, Timestamp::from_parts(1'700'000'000 + static_cast<std::int64_t>(n), 0)};
}

ConnectionFacts run(const std::vector<Chunk>& chunks, AnomalyCounters& anomalies,
                    Config config = {}) {
  ConnectionAnalyzer a(anomalies, config);
  std::uint64_t n = 0;
  for (const auto& c : chunks) {
    auto b = bytes_of(c.bytes);
    a.on_data(c.from_orig, b, ref(++n));
  }
  return a.finish(ref(++n));
}

std::string ladder(const ConnectionFacts& f) {
  std::string s;
  for (const auto& st : f.ladder)
    s += std::to_string(st.ref.number) + (st.from_orig ? " -> " : " <- ") + st.text +
         (st.repeat > 1 ? " x" + std::to_string(st.repeat) : "") + "\n";
  return s;
}

const std::string kHeaderA =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
    "from='a.example' to='b.example' version='1.0'>";
const std::string kHeaderB =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
    "from='b.example' to='a.example' id='s-1' version='1.0'>";
const std::string kFeaturesDialback =
    "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>";

std::vector<Chunk> plaintext_dialback() {
  return {
      {true, kHeaderA},
      {false, kHeaderB + kFeaturesDialback},
      {true, "<db:result from='a.example' to='b.example'>k3y</db:result>"},
      {false, "<db:result type='valid' from='b.example' to='a.example' id='s-1'/>"},
      {true,
       "<message from='alice@a.example' to='bob@b.example' id='m1'><body>hi</body></message>"},
      {true,
       "<message from='alice@a.example' to='bob@b.example' id='m2'><body>hi</body></message>"},
      {true, "<presence from='alice@a.example' to='bob@b.example'/>"},
      {false,
       "<message type='error' from='bob@b.example' to='alice@a.example' id='m1'>"
       "<error type='cancel'><service-unavailable "
       "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"},
      {true, "</stream:stream>"},
      {false, "</stream:stream>"},
  };
}

TEST(S2s, PlaintextDialbackFacts) {
  AnomalyCounters an;
  auto f = run(plaintext_dialback(), an);
  EXPECT_EQ(f.kind, s2s::StreamKind::kXmpp);
  ASSERT_TRUE(f.orig.header);
  EXPECT_EQ(f.orig.header->from, "a.example");
  EXPECT_EQ(f.orig.header->to, "b.example");
  ASSERT_TRUE(f.resp.header);
  EXPECT_EQ(f.resp.header->id, "s-1");
  ASSERT_TRUE(f.resp.features);
  EXPECT_TRUE(f.resp.features->dialback);
  ASSERT_EQ(f.dialback.size(), 2u);
  EXPECT_TRUE(f.dialback[0].answered);
  EXPECT_EQ(f.dialback[0].answer, 1u);
  EXPECT_TRUE(f.dialback[1].solicited);
  EXPECT_EQ(f.dialback[1].type, xmpp::DialbackType::kValid);
  EXPECT_EQ(f.orig.stanzas.message, 2u);
  EXPECT_EQ(f.orig.stanzas.presence, 1u);
  EXPECT_EQ(f.resp.stanzas.message, 1u);
  EXPECT_EQ(f.resp.stanza_errors, 1u);
  ASSERT_EQ(f.resp.extra->stanza_error_samples.size(), 1u);
  EXPECT_EQ(f.resp.extra->stanza_error_samples[0].condition, "service-unavailable");
  EXPECT_TRUE(f.orig.closed);
  EXPECT_TRUE(f.resp.closed);
  EXPECT_FALSE(f.tls->started);
  EXPECT_EQ(f.xmpp_inside_tls, Seen::kNo);
  EXPECT_EQ(ladder(f),
            "1 -> stream header from=a.example to=b.example version=1.0\n"
            "2 <- stream header from=b.example to=a.example id=s-1 version=1.0\n"
            "2 <- features: dialback\n"
            "3 -> db:result request a.example -> b.example\n"
            "4 <- db:result valid b.example -> a.example id=s-1\n"
            "5 -> message x2\n"
            "7 -> presence\n"
            "8 <- message type=error (service-unavailable)\n"
            "9 -> </stream:stream>\n"
            "10 <- </stream:stream>\n");
  EXPECT_EQ(an.total(), 0u);
}

TEST(S2s, UnsolicitedAndUnansweredDialback) {
  AnomalyCounters an;
  auto f = run({{true, kHeaderA},
                {false, kHeaderB + kFeaturesDialback},
                {false, "<db:result type='valid' from='b.example' to='a.example'/>"},
                {true, "<db:result from='a.example' to='b.example'>k</db:result>"},
                {true, "</stream:stream>"}},
               an);
  ASSERT_EQ(f.dialback.size(), 2u);
  EXPECT_FALSE(f.dialback[0].solicited);  // the answer came before any request
  EXPECT_FALSE(f.dialback[1].answered);
}

TEST(S2s, VerifyPairedById) {
  AnomalyCounters an;
  auto f = run({{true, kHeaderA},
                {false, kHeaderB + kFeaturesDialback},
                {true, "<db:verify from='a.example' to='b.example' id='x-9'>k</db:verify>"},
                {false, "<db:verify type='invalid' from='b.example' to='a.example' id='other'/>"},
                {false, "<db:verify type='invalid' from='b.example' to='a.example' id='x-9'/>"}},
               an);
  ASSERT_EQ(f.dialback.size(), 3u);
  EXPECT_FALSE(f.dialback[1].solicited);  // wrong id
  EXPECT_TRUE(f.dialback[2].solicited);
  EXPECT_EQ(f.dialback[0].answer, 2u);
}

TEST(S2s, StreamErrorAndNotXmpp) {
  AnomalyCounters an;
  auto f = run({{true, kHeaderA},
                {false, kHeaderB + "<stream:error><host-unknown "
                                   "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text "
                                   "xmlns='urn:ietf:params:xml:ns:xmpp-streams'>no such "
                                   "host</text></stream:error></stream:stream>"}},
               an);
  ASSERT_TRUE(f.resp.extra->stream_error);
  EXPECT_EQ(f.resp.extra->stream_error->condition, "host-unknown");
  EXPECT_EQ(f.resp.extra->stream_error->text, "no such host");

  AnomalyCounters an2;
  auto g =
      run({{true, kHeaderA}, {false, "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n"}}, an2);
  EXPECT_EQ(g.kind, s2s::StreamKind::kNotXmpp);
  EXPECT_EQ(g.resp.extra->not_xmpp_kind, "http");
  EXPECT_EQ(an2.get(xmpp::kAnomalyNotXmpp), 1u);
}

// The rarely said parts (SideFacts::extra, ConnectionFacts::tls) live apart from the facts:
// what was said there must survive a copy (progress snapshots copy the facts of a running
// analyzer) and a move (the records), and a side that said none of it reads as empty.
TEST(S2s, RarePartsSurviveCopiesAndReadEmptyWhenAbsent) {
  AnomalyCounters an;
  auto f = run({{true, kHeaderA},
                {false, kHeaderB + "<stream:error><host-unknown "
                                   "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                                   "</stream:error></stream:stream>"}},
               an);
  ASSERT_TRUE(f.resp.extra.present());
  EXPECT_FALSE(f.orig.extra.present());  // the originator said none of it
  EXPECT_FALSE(f.tls.present());
  EXPECT_FALSE(f.orig.extra->stream_error);  // an absent part reads as a default one
  EXPECT_TRUE(f.orig.extra->failure.empty());
  EXPECT_FALSE(f.tls->started);
  EXPECT_FALSE(f.orig.extra.present());  // reading made nothing

  ConnectionFacts copy = f;
  f.resp.extra.mut().stream_error->condition = "changed";
  f.tls.mut().started = true;
  ASSERT_TRUE(copy.resp.extra->stream_error);
  EXPECT_EQ(copy.resp.extra->stream_error->condition, "host-unknown");  // a copy, not a share
  EXPECT_FALSE(copy.tls.present());
  copy = f;
  EXPECT_EQ(copy.resp.extra->stream_error->condition, "changed");
  EXPECT_TRUE(copy.tls->started);
  ConnectionFacts moved = std::move(copy);
  EXPECT_EQ(moved.resp.extra->stream_error->condition, "changed");
  EXPECT_TRUE(moved.tls->started);
}

// STARTTLS: the initiator's TLS starts right after its <starttls/>, the receiver's after its
// <proceed/>; the TLS decoder gets exactly the bytes after each point.
const std::string kFeaturesTls =
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
    "<dialback xmlns='urn:xmpp:features:dialback'/></stream:features>";

TEST(S2s, StartTlsHandsOffAndHidesInside) {
  AnomalyCounters an;
  // A TLS alert record stands in for the handshake: it is enough to see the hand-off.
  std::string alert("\x15\x03\x03\x00\x02\x02\x30", 7);
  auto f = run({{true, kHeaderA},
                {false, kHeaderB + kFeaturesTls},
                {true, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"},
                {false, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + alert}},
               an);
  EXPECT_TRUE(f.orig.starttls);
  EXPECT_TRUE(f.resp.proceed);
  EXPECT_TRUE(f.tls->started);
  EXPECT_EQ(f.xmpp_inside_tls, Seen::kUnknown);
  ASSERT_EQ(f.tls->alerts.size(), 1u);
  EXPECT_FALSE(f.tls->alerts[0].from_client);
  EXPECT_EQ(f.tls->alerts[0].level, 2);
  EXPECT_EQ(f.tls->alerts[0].description, 48);
  EXPECT_FALSE(f.resp.extra->plaintext_after_tls);
}

TEST(S2s, PlaintextAfterProceedIsFlagged) {
  AnomalyCounters an;
  auto f = run({{true, kHeaderA},
                {false, kHeaderB + kFeaturesTls},
                {true, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"},
                {false, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + kHeaderB}},
               an);
  EXPECT_TRUE(f.resp.extra->plaintext_after_tls);
  EXPECT_EQ(an.get(xmpp::kAnomalyStartTlsPlaintextAfter), 1u);
}

// Any split of either direction gives the same facts (ladder packet numbers aside).
TEST(S2s, SameFactsForEverySplit) {
  const auto chunks = plaintext_dialback();
  std::string orig, resp;
  for (const auto& c : chunks)
    (c.from_orig ? orig : resp) += c.bytes;
  auto transcript = [](const std::string& o,
                       const std::vector<std::span<const std::uint8_t>>& r_parts) {
    AnomalyCounters an;
    ConnectionAnalyzer a(an);
    auto ob = bytes_of(o);
    a.on_data(true, ob, ref(1));
    for (auto p : r_parts)
      a.on_data(false, p, ref(2));
    auto f = a.finish(ref(3));
    std::string s;
    for (const auto& st : f.ladder)
      s += (st.from_orig ? "> " : "< ") + st.text + " x" + std::to_string(st.repeat) + "\n";
    s += std::to_string(f.resp.stanza_errors) + std::to_string(f.dialback.size());
    return s;
  };
  auto rb = bytes_of(resp);
  EXPECT_EQ(test::check_all_splits(rb,
                                   [&](const std::vector<std::span<const std::uint8_t>>& parts) {
                                     return transcript(orig, parts);
                                   }),
            "");
}

// A real TLS 1.2 handshake (tests/unit/data/tls/tls12.seg) behind STARTTLS: the facts must not
// depend on where either direction is cut, including inside <starttls/>, inside <proceed/>
// and inside the first TLS record of each direction.
struct Sides {
  std::string client, server;
};

Sides read_seg(const std::string& name) {
  std::FILE* f =
      std::fopen((std::string(FEDSCOPE_SOURCE_DIR) + "/tests/unit/data/tls/" + name).c_str(), "rb");
  Sides s;
  if (!f) return s;
  for (;;) {
    unsigned char h[5];
    if (std::fread(h, 1, 5, f) != 5) break;
    std::size_t len =
        (std::size_t{h[1]} << 24) | (std::size_t{h[2]} << 16) | (std::size_t{h[3]} << 8) | h[4];
    std::string b(len, '\0');
    if (std::fread(b.data(), 1, len, f) != len) break;
    (h[0] == 'C' ? s.client : s.server) += b;
  }
  std::fclose(f);
  return s;
}

std::string facts_transcript(const ConnectionFacts& f) {
  std::string s;
  for (const auto& st : f.ladder)
    s += (st.from_orig ? "> " : "< ") + st.text + " x" + std::to_string(st.repeat) + "\n";
  const auto& t = *f.tls;
  s += "started=" + std::to_string(t.started) + " complete=" + std::to_string(t.complete);
  if (t.server_hello)
    s += " " + tls::version_name(t.server_hello->version) + " " +
         tls::cipher_suite_name(t.server_hello->cipher_suite);
  if (!t.chain.empty()) s += " leaf=" + t.chain.front().subject;
  s += " enc=" + std::to_string(t.client_encrypted_records) + "/" +
       std::to_string(t.server_encrypted_records);
  s += " plain_after=" + std::to_string(f.orig.extra->plaintext_after_tls) +
       std::to_string(f.resp.extra->plaintext_after_tls);
  return s;
}

TEST(S2s, StartTlsThenTls12SameForEverySplit) {
  const Sides tls = read_seg("tls12.seg");
  ASSERT_FALSE(tls.client.empty());
  ASSERT_FALSE(tls.server.empty());
  const std::string orig =
      kHeaderA + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + tls.client;
  const std::string resp =
      kHeaderB + kFeaturesTls + "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + tls.server;
  // The server's bytes come after the client's ClientHello; feeding the originator's
  // direction first keeps that order for the TLS session (TLS 1.2: each side's encryption
  // starts at its own ChangeCipherSpec, so the rest of the order does not matter).
  auto run_split = [&](bool split_orig) {
    const auto fixed = bytes_of(split_orig ? resp : orig);
    const auto cut = bytes_of(split_orig ? orig : resp);
    return test::check_all_splits(cut,
                                  [&](const std::vector<std::span<const std::uint8_t>>& parts) {
                                    AnomalyCounters an;
                                    ConnectionAnalyzer a(an);
                                    if (split_orig) {
                                      for (auto p : parts)
                                        a.on_data(true, p, ref(1));
                                      a.on_data(false, fixed, ref(2));
                                    } else {
                                      a.on_data(true, fixed, ref(1));
                                      for (auto p : parts)
                                        a.on_data(false, p, ref(2));
                                    }
                                    return facts_transcript(a.finish(ref(3)));
                                  });
  };
  EXPECT_EQ(run_split(true), "");
  EXPECT_EQ(run_split(false), "");
  // And what the whole run shows.
  AnomalyCounters an;
  ConnectionAnalyzer a(an);
  auto ob = bytes_of(orig), rb = bytes_of(resp);
  a.on_data(true, ob, ref(1));
  a.on_data(false, rb, ref(2));
  auto f = a.finish(ref(3));
  EXPECT_TRUE(f.tls->started);
  EXPECT_TRUE(f.tls->complete);
  ASSERT_TRUE(f.tls->server_hello);
  EXPECT_EQ(tls::version_name(f.tls->server_hello->version), "TLS 1.2");
  ASSERT_TRUE(f.tls->client_hello);
  EXPECT_EQ(f.tls->client_hello->sni, "example.com");
  ASSERT_FALSE(f.tls->chain.empty());
  EXPECT_EQ(f.tls->chain.front().subject, "CN=xmpp.example.com,O=fedscope test");
  EXPECT_EQ(f.tls->certificate, Seen::kYes);
  EXPECT_EQ(f.xmpp_inside_tls, Seen::kUnknown);
  EXPECT_FALSE(f.orig.extra->plaintext_after_tls);
  EXPECT_FALSE(f.resp.extra->plaintext_after_tls);
  EXPECT_EQ(an.total(), 0u);
}

}  // namespace
}  // namespace fedscope::s2s
