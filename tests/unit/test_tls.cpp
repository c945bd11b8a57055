// Unit tests for the TLS record and handshake decoder (dissect/tls).
//
// The inputs are real TLS: tests/unit/data/tls/*.seg hold both directions of one connection
// as the bytes were read by a recording relay between openssl s_client and s_server (TLS 1.0,
// 1.2, 1.3, HelloRetryRequest, client certificate, untrusted certificate), or as extracted
// from the federation lab's captures (Prosody 0.12 and ejabberd after STARTTLS); README.md
// there says how each was made. Bad input is made by cutting and editing those bytes.
//
// Every vector is checked whole, byte at a time and split at every offset: the segments keep
// their order (which direction's bytes came first), the bytes inside are cut everywhere
// (fedscope::test::check_all_splits on the concatenation, cut again at segment boundaries).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fedscope/tls/decoder.hpp"
#include "fedscope/tls/names.hpp"
#include "split_test.hpp"

namespace fedscope::tls {
namespace {

using test::check_all_splits;
using Bytes = std::vector<std::uint8_t>;
using Chunks = std::vector<std::span<const std::uint8_t>>;

// ---------------------------------------------------------------------------------------------
// Inputs

std::string data_path(std::string_view name) {
  return std::string(FEDSCOPE_SOURCE_DIR) + "/tests/unit/data/tls/" + std::string(name);
}

Bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

/// Both directions of one connection: the bytes in arrival order, cut into segments that
/// each belong to one side.
struct Conversation {
  Bytes flat;
  struct Segment {
    std::size_t begin = 0;
    std::size_t size = 0;
    Side side = Side::kClient;
  };
  std::vector<Segment> segments;

  void add(Side side, std::span<const std::uint8_t> bytes) {
    segments.push_back({flat.size(), bytes.size(), side});
    flat.insert(flat.end(), bytes.begin(), bytes.end());
  }
  /// Everything one side sent.
  Bytes stream(Side side) const {
    Bytes out;
    for (const Segment& s : segments)
      if (s.side == side)
        out.insert(out.end(), flat.begin() + static_cast<std::ptrdiff_t>(s.begin),
                   flat.begin() + static_cast<std::ptrdiff_t>(s.begin + s.size));
    return out;
  }
};

/// A .seg file: [side 'C'|'S'][u32 length][bytes]...
Conversation load(std::string_view name) {
  const Bytes b = read_file(data_path(name));
  Conversation c;
  std::size_t i = 0;
  while (i + 5 <= b.size()) {
    const std::size_t n = static_cast<std::size_t>(b[i + 1]) << 24 |
                          static_cast<std::size_t>(b[i + 2]) << 16 |
                          static_cast<std::size_t>(b[i + 3]) << 8 | b[i + 4];
    EXPECT_LE(i + 5 + n, b.size()) << name;
    c.add(b[i] == 'C' ? Side::kClient : Side::kServer,
          std::span<const std::uint8_t>(b).subspan(i + 5, std::min(n, b.size() - i - 5)));
    i += 5 + n;
  }
  EXPECT_EQ(i, b.size()) << name;
  EXPECT_FALSE(c.segments.empty()) << name;
  return c;
}

Conversation one_side(Side side, std::span<const std::uint8_t> bytes) {
  Conversation c;
  c.add(side, bytes);
  return c;
}

// ---------------------------------------------------------------------------------------------
// Building records

void put16(Bytes& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put24(Bytes& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 16));
  put16(b, v);
}

Bytes record(std::uint8_t type, std::span<const std::uint8_t> body,
             std::uint16_t version = kTls12) {
  Bytes b{type};
  put16(b, version);
  put16(b, body.size());
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

Bytes handshake(std::uint8_t type, std::span<const std::uint8_t> body) {
  Bytes b{type};
  put24(b, body.size());
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

struct Record {
  std::uint8_t type = 0;
  std::uint16_t version = 0;
  Bytes body;
};

/// Splits one direction's stream into records (the test inputs are well formed).
std::vector<Record> records_of(const Bytes& stream) {
  std::vector<Record> out;
  std::size_t i = 0;
  while (i + 5 <= stream.size()) {
    const std::size_t n = static_cast<std::size_t>(stream[i + 3]) << 8 | stream[i + 4];
    Record r;
    r.type = stream[i];
    r.version = static_cast<std::uint16_t>(stream[i + 1] << 8 | stream[i + 2]);
    r.body.assign(stream.begin() + static_cast<std::ptrdiff_t>(i + 5),
                  stream.begin() + static_cast<std::ptrdiff_t>(i + 5 + n));
    out.push_back(std::move(r));
    i += 5 + n;
  }
  return out;
}

/// The handshake messages of the cleartext records of one direction, header included.
std::vector<Bytes> handshake_messages(const Bytes& stream, std::size_t max_records) {
  Bytes hs;
  std::size_t n = 0;
  for (const Record& r : records_of(stream)) {
    if (n++ == max_records) break;
    if (r.type == 22) hs.insert(hs.end(), r.body.begin(), r.body.end());
  }
  std::vector<Bytes> out;
  std::size_t i = 0;
  while (i + 4 <= hs.size()) {
    const std::size_t len = static_cast<std::size_t>(hs[i + 1]) << 16 |
                            static_cast<std::size_t>(hs[i + 2]) << 8 | hs[i + 3];
    out.emplace_back(hs.begin() + static_cast<std::ptrdiff_t>(i),
                     hs.begin() + static_cast<std::ptrdiff_t>(i + 4 + len));
    i += 4 + len;
  }
  return out;
}

/// The same stream with its cleartext handshake records re-cut: consecutive handshake records
/// merged, then cut into records of @p size bytes (messages fragmented across records and
/// several messages per record).
Bytes refragment(const Bytes& stream, std::size_t size) {
  Bytes out;
  Bytes pending;
  std::uint16_t version = kTls12;
  auto flush = [&] {
    for (std::size_t i = 0; i < pending.size(); i += size)
      out = cat({out, record(22,
                             std::span<const std::uint8_t>(pending).subspan(
                                 i, std::min(size, pending.size() - i)),
                             version)});
    pending.clear();
  };
  bool encrypted = false;
  for (const Record& r : records_of(stream)) {
    if (r.type == 22 && !encrypted) {
      version = r.version;
      pending.insert(pending.end(), r.body.begin(), r.body.end());
      continue;
    }
    flush();
    if (r.type == 20) encrypted = true;
    out = cat({out, record(r.type, r.body, r.version)});
  }
  flush();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Harness

std::string counts(const std::array<RecordCount, kContentTypes>& c) {
  static constexpr std::string_view kNames[] = {"ccs", "alert", "hs", "app", "hb"};
  std::string out;
  for (std::size_t i = 0; i < kContentTypes; ++i) {
    if (c[i].records == 0) continue;
    out += ' ';
    out += kNames[i];
    out += ':' + std::to_string(c[i].records) + '/' + std::to_string(c[i].bytes);
  }
  return out.empty() ? " -" : out;
}

std::string side_line(const Session& s, Side side) {
  const SideSummary& m = s.summary(side);
  std::string out =
      std::string(to_string(side)) + " state=" + std::string(to_string(s.state(side)));
  if (s.failed(side)) out += " failure=" + std::string(s.failure(side));
  out += " offset=" + std::to_string(s.offset(side));
  out += " clear" + counts(m.clear) + " encrypted" + counts(m.encrypted);
  if (m.change_cipher_spec) out += " ccs";
  if (m.encryption_started) out += " encrypting";
  if (m.finished) out += " finished";
  return out + '\n';
}

std::string final_lines(const Session& s) {
  std::string out = s.version() == 0 ? std::string("version=none")
                                     : "version=" + version_name(s.version()) +
                                           " suite=" + cipher_suite_name(s.cipher_suite());
  if (!s.alpn().empty()) out += " alpn=" + s.alpn();
  if (s.hello_retry_request()) out += " hrr";
  out += s.handshake_complete() ? " complete\n" : " incomplete\n";
  out += side_line(s, Side::kClient) + side_line(s, Side::kServer);
  for (const auto& [name, n] : s.anomalies().all())
    out += name + '=' + std::to_string(n) + '\n';
  return out;
}

std::string drain(Session& s) {
  std::string out;
  for (const Event& e : s.events())
    out += describe(e) + '\n';
  s.clear_events();
  return out;
}

struct Peak {
  std::size_t buffered = 0;
};

/// Feeds @p chunks (sub-spans of c.flat) to one session, each cut again at segment
/// boundaries and given to the segment's side; then ends both sides. The transcript: every
/// event, then the session's summary.
std::string run(const Conversation& c, const Chunks& chunks, const Config& cfg = {},
                Peak* peak = nullptr) {
  Session s(cfg);
  std::string out;
  std::size_t seg = 0;
  for (const auto& chunk : chunks) {
    std::size_t pos = static_cast<std::size_t>(chunk.data() - c.flat.data());
    std::size_t left = chunk.size();
    while (left > 0) {
      while (pos >= c.segments[seg].begin + c.segments[seg].size)
        ++seg;
      const auto& sg = c.segments[seg];
      const std::size_t n = std::min(left, sg.begin + sg.size - pos);
      const std::size_t took =
          s.feed(sg.side, std::span<const std::uint8_t>(c.flat).subspan(pos, n));
      EXPECT_LE(took, n);
      if (peak != nullptr)
        peak->buffered = std::max(
            {peak->buffered, s.buffered_bytes(Side::kClient), s.buffered_bytes(Side::kServer)});
      pos += n;
      left -= n;
    }
    out += drain(s);
  }
  s.end(Side::kClient);
  s.end(Side::kServer);
  out += drain(s);
  return out + final_lines(s);
}

std::string run_whole(const Conversation& c, const Config& cfg = {}, Peak* peak = nullptr) {
  return run(c, Chunks{std::span<const std::uint8_t>(c.flat)}, cfg, peak);
}

void expect_bounded(const Peak& peak, const Limits& limits) {
  EXPECT_LE(peak.buffered, limits.max_handshake_bytes + 4 + 5 + 32);
}

/// Checks every split against the whole-input transcript and returns the latter. In debug
/// (sanitizer) builds inputs over 2 KB are cut at every 7th offset only, to keep the run short.
std::string all_splits(const Conversation& c, const Config& cfg = {}) {
  Peak peak;
  const std::span<const std::uint8_t> in(c.flat);
  std::size_t step = 1;
#ifndef NDEBUG
  if (in.size() > 2048) step = 7;
#endif
  if (step == 1) {
    const std::string why =
        check_all_splits(in, [&](const Chunks& chunks) { return run(c, chunks, cfg, &peak); });
    EXPECT_EQ(why, "");
  } else {
    const std::string expected = run_whole(c, cfg, &peak);
    Chunks bytewise;
    for (std::size_t i = 0; i < in.size(); ++i)
      bytewise.push_back(in.subspan(i, 1));
    EXPECT_EQ(run(c, bytewise, cfg, &peak), expected) << "byte at a time";
    for (std::size_t cut = 1; cut < in.size(); cut += step)
      EXPECT_EQ(run(c, Chunks{in.first(cut), in.subspan(cut)}, cfg, &peak), expected)
          << "cut at " << cut;
  }
  expect_bounded(peak, cfg.limits);
  return run_whole(c, cfg);
}

/// Large inputs: whole, in 1400-byte and 13-byte chunks, byte at a time (optimised builds).
std::string sampled_splits(const Conversation& c, const Config& cfg = {}) {
  Peak peak;
  const std::span<const std::uint8_t> all(c.flat);
  const std::string expected = run(c, Chunks{all}, cfg, &peak);
  std::vector<std::size_t> sizes{1400, 13};
#ifdef NDEBUG
  sizes.push_back(1);
#endif
  for (std::size_t size : sizes) {
    Chunks chunks;
    for (std::size_t i = 0; i < all.size(); i += size)
      chunks.push_back(all.subspan(i, std::min(size, all.size() - i)));
    EXPECT_EQ(run(c, chunks, cfg, &peak), expected) << "chunks of " << size;
  }
  expect_bounded(peak, cfg.limits);
  return expected;
}

/// Decodes @p c whole and returns its events (bodies only, in order).
std::vector<Event> events_of(const Conversation& c, const Config& cfg = {},
                             Session* out = nullptr) {
  Session s(cfg);
  for (const auto& sg : c.segments)
    s.feed(sg.side, std::span<const std::uint8_t>(c.flat).subspan(sg.begin, sg.size));
  s.end(Side::kClient);
  s.end(Side::kServer);
  std::vector<Event> ev = s.take_events();
  if (out != nullptr) *out = std::move(s);
  return ev;
}

template <typename T>
std::vector<const T*> bodies_of(const std::vector<Event>& ev, Side side) {
  std::vector<const T*> out;
  for (const Event& e : ev)
    if (e.side == side)
      if (const T* t = std::get_if<T>(&e.body)) out.push_back(t);
  return out;
}

std::size_t lines_containing(const std::string& transcript, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = transcript.find(what); at != std::string::npos;
       at = transcript.find(what, at + 1))
    ++n;
  return n;
}

// Certificate facts of the committed test certificates (tests/unit/data/tls/certs).
constexpr std::int64_t kNotBefore = 1795622407;  // 2026-11-25 16:00:07 UTC
constexpr std::int64_t kNotAfter = 2110982407;   // 2036-11-22 16:00:07 UTC
constexpr std::string_view kServerSha256 =
    "3989cfbdbe0cecceadd81a25c17b0a9a465fba71687892700e528c220cf0972a";
constexpr std::string_view kCaSha256 =
    "5a41751d4f12744e137e5e5e800a9acafe81ce699558c209ea6059816e4c4fde";

const std::string kOpenSslSuites12 =
    "suites=[0xc02c,0xc030,0x009f,0xcca9,0xcca8,0xccaa,0xc02b,0xc02f,0x009e,0xc024,0xc028,0x006b,"
    "0xc023,0xc027,0x0067,0xc00a,0xc014,0x0039,0xc009,0xc013,0x0033,0x009d,0x009c,0x003d,0x003c,"
    "0x0035,0x002f,0x00ff]";
const std::string kServerCertLine =
    "    cert subject='CN=xmpp.example.com,O=fedscope test' issuer='CN=Fedscope Test CA,O=fedscope "
    "test' cn='xmpp.example.com' dns=[xmpp.example.com,*.muc.example.com] xmpp=[example.com] "
    "srv=[_xmpp-server.example.com] not_before=1795622407 not_after=2110982407 key='EC P-256' "
    "signed_by_next sha256='3989cfbdbe0cecceadd81a25c17b0a9a465fba71687892700e528c220cf0972a'\n";
const std::string kCaCertLine =
    "    cert subject='CN=Fedscope Test CA,O=fedscope test' issuer='CN=Fedscope Test CA,O=fedscope "
    "test' cn='Fedscope Test CA' not_before=1795622407 not_after=2110982407 key='RSA 2048' "
    "self_signed sha256='5a41751d4f12744e137e5e5e800a9acafe81ce699558c209ea6059816e4c4fde'\n";

// ---------------------------------------------------------------------------------------------
// Real handshakes (openssl s_client <-> s_server)

TEST(TlsHandshake, Tls12FullHandshake) {
  const Conversation c = load("tls12.seg");
  const std::string expected =
      "C 5-226 ClientHello legacy=TLS 1.2 sni='example.com' alpn=[xmpp-server] " +
      kOpenSslSuites12 +
      "\n"
      "S 5-88 ServerHello legacy=TLS 1.2 version=TLS 1.2 "
      "suite=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 alpn='xmpp-server'\n"
      "S 93-1715 Certificates total=2\n" +
      kServerCertLine + kCaCertLine +
      "S 1720-1836 Handshake type=ServerKeyExchange length=112\n"
      "S 1841-1845 ServerHelloDone\n"
      "C 231-268 ClientKeyExchange\n"
      "C 268-274 ChangeCipherSpec\n"
      "C 274-274 EncryptionStarted\n"
      "S 1850-2052 Handshake type=NewSessionTicket length=198\n"
      "S 2052-2058 ChangeCipherSpec\n"
      "S 2058-2058 EncryptionStarted\n"
      "C 359-390 Alert encrypted\n"
      "S 2143-2174 Alert encrypted\n"
      "version=TLS 1.2 suite=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 alpn=xmpp-server complete\n"
      "client state=ended offset=390 clear ccs:1/1 hs:2/258 encrypted alert:1/26 hs:1/40 "
      "app:1/35 ccs encrypting finished\n"
      "server state=ended offset=2174 clear ccs:1/1 hs:5/2027 encrypted alert:1/26 hs:1/40 "
      "app:1/35 ccs encrypting finished\n";
  EXPECT_EQ(all_splits(c), expected);

  Session s;
  const auto ev = events_of(c, {}, &s);
  EXPECT_EQ(s.version(), kTls12);
  EXPECT_EQ(cipher_suite_name(s.cipher_suite()), "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
  EXPECT_TRUE(s.handshake_complete());
  EXPECT_EQ(s.encrypted_records(Side::kClient), 3u);
  EXPECT_EQ(s.summary(Side::kServer).count(ContentType::kApplicationData, true).records, 1u);
  EXPECT_EQ(s.summary(Side::kServer).count(ContentType::kHandshake, false).bytes, 2027u);

  const auto hellos = bodies_of<ClientHello>(ev, Side::kClient);
  ASSERT_EQ(hellos.size(), 1u);
  EXPECT_EQ(hellos[0]->sni, "example.com");
  EXPECT_EQ(hellos[0]->alpn, std::vector<std::string>{"xmpp-server"});
  EXPECT_FALSE(hellos[0]->has_key_share);

  const auto chains = bodies_of<Certificates>(ev, Side::kServer);
  ASSERT_EQ(chains.size(), 1u);
  ASSERT_EQ(chains[0]->chain.size(), 2u);
  const CertificateInfo& leaf = chains[0]->chain[0];
  EXPECT_EQ(leaf.subject, "CN=xmpp.example.com,O=fedscope test");
  EXPECT_EQ(leaf.issuer, "CN=Fedscope Test CA,O=fedscope test");
  EXPECT_EQ(leaf.common_name, "xmpp.example.com");
  EXPECT_EQ(leaf.dns_names, (std::vector<std::string>{"xmpp.example.com", "*.muc.example.com"}));
  EXPECT_EQ(leaf.xmpp_addrs, std::vector<std::string>{"example.com"});
  EXPECT_EQ(leaf.srv_names, std::vector<std::string>{"_xmpp-server.example.com"});
  EXPECT_EQ(leaf.not_before, kNotBefore);
  EXPECT_EQ(leaf.not_after, kNotAfter);
  EXPECT_FALSE(leaf.self_signed);
  EXPECT_TRUE(leaf.signed_by_next);
  EXPECT_EQ(leaf.sha256, kServerSha256);
  EXPECT_EQ(leaf.key, "EC P-256");
  EXPECT_FALSE(leaf.parse_error);
  const CertificateInfo& ca = chains[0]->chain[1];
  EXPECT_TRUE(ca.self_signed);
  EXPECT_FALSE(ca.signed_by_next);
  EXPECT_EQ(ca.key, "RSA 2048");
  EXPECT_EQ(ca.sha256, kCaSha256);

  EXPECT_TRUE(certificate_covers(leaf, "example.com").covered);
  EXPECT_EQ(certificate_covers(leaf, "example.com").how, "SRV-ID _xmpp-server.example.com");
  EXPECT_EQ(certificate_covers(leaf, "XMPP.example.com.").how, "DNS-ID xmpp.example.com");
  EXPECT_EQ(certificate_covers(leaf, "rooms.muc.example.com").how, "DNS-ID *.muc.example.com");
  EXPECT_FALSE(certificate_covers(leaf, "example.net").covered);
}

TEST(TlsHandshake, Tls12HandshakeRecordsRecut) {
  // The same bytes with the handshake re-cut into 7-byte records (every message fragmented,
  // several messages meeting in one record) and into one big record per flight.
  const Conversation original = load("tls12.seg");
  for (std::size_t size : {7u, 16384u}) {
    Conversation c;
    c.add(Side::kClient, refragment(original.stream(Side::kClient), size));
    c.add(Side::kServer, refragment(original.stream(Side::kServer), size));
    Session s;
    const auto ev = events_of(c, {}, &s);
    EXPECT_EQ(s.anomalies().total(), 0u) << size;
    EXPECT_TRUE(s.handshake_complete()) << size;
    EXPECT_EQ(bodies_of<ClientHello>(ev, Side::kClient).size(), 1u);
    ASSERT_EQ(bodies_of<Certificates>(ev, Side::kServer).size(), 1u) << size;
    EXPECT_EQ(bodies_of<Certificates>(ev, Side::kServer)[0]->chain[0].sha256, kServerSha256);
    EXPECT_EQ(bodies_of<ServerHelloDone>(ev, Side::kServer).size(), 1u);
    EXPECT_EQ(bodies_of<ClientKeyExchange>(ev, Side::kClient).size(), 1u);
  }
}

TEST(TlsHandshake, Tls13CertificateIsNotVisible) {
  const Conversation c = load("tls13.seg");
  EXPECT_EQ(all_splits(c),
            "C 5-263 ClientHello legacy=TLS 1.2 versions=[TLS 1.3] sni='example.com' "
            "alpn=[xmpp-server] suites=[0x1302,0x1303,0x1301,0x00ff] key_share\n"
            "S 5-127 ServerHello legacy=TLS 1.2 version=TLS 1.3 suite=TLS_AES_256_GCM_SHA384\n"
            "S 127-133 ChangeCipherSpec\n"
            "S 133-133 EncryptionStarted\n"
            "C 263-269 ChangeCipherSpec\n"
            "C 269-269 EncryptionStarted\n"
            "version=TLS 1.3 suite=TLS_AES_256_GCM_SHA384 complete\n"
            "client state=ended offset=400 clear ccs:1/1 hs:1/258 encrypted app:3/116 ccs "
            "encrypting finished\n"
            "server state=ended offset=2603 clear ccs:1/1 hs:1/122 encrypted app:8/2430 ccs "
            "encrypting finished\n");
  Session s;
  const auto ev = events_of(c, {}, &s);
  EXPECT_TRUE(bodies_of<Certificates>(ev, Side::kServer).empty());
  EXPECT_EQ(s.version(), kTls13);
  EXPECT_EQ(s.alpn(), "");  // in TLS 1.3 the selected ALPN is in EncryptedExtensions
  EXPECT_TRUE(s.handshake_complete());
  EXPECT_TRUE(bodies_of<ClientHello>(ev, Side::kClient)[0]->has_key_share);
}

TEST(TlsHandshake, HelloRetryRequest) {
  const Conversation c = load("hrr.seg");
  EXPECT_EQ(all_splits(c),
            "C 5-247 ClientHello legacy=TLS 1.2 versions=[TLS 1.3] sni='example.com' "
            "alpn=[xmpp-server] suites=[0x1302,0x1303,0x1301,0x00ff] key_share\n"
            "S 5-93 HelloRetryRequest legacy=TLS 1.2 version=TLS 1.3 "
            "suite=TLS_AES_256_GCM_SHA384\n"
            "S 93-99 ChangeCipherSpec\n"
            // The client's compatibility CCS comes before its second ClientHello (in clear).
            "C 247-253 ChangeCipherSpec\n"
            "C 258-533 ClientHello legacy=TLS 1.2 versions=[TLS 1.3] sni='example.com' "
            "alpn=[xmpp-server] suites=[0x1302,0x1303,0x1301,0x00ff] key_share retry\n"
            "S 104-259 ServerHello legacy=TLS 1.2 version=TLS 1.3 suite=TLS_AES_256_GCM_SHA384\n"
            "S 259-259 EncryptionStarted\n"
            "C 533-533 EncryptionStarted\n"
            "version=TLS 1.3 suite=TLS_AES_256_GCM_SHA384 hrr complete\n"
            "client state=ended offset=664 clear ccs:1/1 hs:2/517 encrypted app:3/116 ccs "
            "encrypting finished\n"
            "server state=ended offset=2728 clear ccs:1/1 hs:2/243 encrypted app:8/2429 ccs "
            "encrypting finished\n");
}

TEST(TlsHandshake, ClientCertificateRequested) {
  const Conversation c = load("tls12-client-cert.seg");
  const std::string t = all_splits(c);
  EXPECT_NE(t.find("S 1841-1948 CertificateRequest\n"), std::string::npos) << t;
  EXPECT_NE(t.find("C 231-1790 Certificates total=2\n"
                   "    cert subject='CN=client.example.net,O=fedscope test' issuer='CN=Fedscope "
                   "Test CA,O=fedscope test' cn='client.example.net' dns=[client.example.net] "
                   "not_before=1795622407 not_after=2110982407 key='EC P-384' signed_by_next "
                   "sha256='fe254d041e87af6d57da61e89225b3d998eebd64b26d150ea13b0c292eed18f7'\n" +
                   kCaCertLine),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("C 1837-1948 Handshake type=CertificateVerify length=107\n"), std::string::npos)
      << t;
  EXPECT_NE(t.find(" complete\n"), std::string::npos) << t;
  EXPECT_EQ(lines_containing(t, "Anomaly"), 0u) << t;
}

TEST(TlsHandshake, Tls12UntrustedCertificateAlertInClear) {
  // The client does not know the self-signed certificate: fatal unknown_ca before its CCS.
  const Conversation c = load("tls12-untrusted.seg");
  const std::string t = all_splits(c);
  EXPECT_NE(t.find("S 75-398 Certificates total=1\n"
                   "    cert subject='CN=self.example.org' issuer='CN=self.example.org' "
                   "cn='self.example.org' dns=[self.example.org] not_before=1795622407 "
                   "not_after=2110982407 key='Ed25519' self_signed sha256='"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("C 213-220 Alert level=fatal description=unknown_ca\n"
                   "version=TLS 1.2 suite=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 incomplete\n"
                   "client state=ended offset=220 clear alert:1/2 hs:1/208 encrypted -\n"
                   "server state=ended offset=520 clear hs:4/500 encrypted -\n"),
            std::string::npos)
      << t;
}

TEST(TlsHandshake, Tls13UntrustedCertificateAlertInClear) {
  // OpenSSL's client rejects the certificate before its keys change: the alert is in clear
  // although the server already encrypts.
  const Conversation c = load("tls13-untrusted.seg");
  const std::string t = all_splits(c);
  EXPECT_NE(t.find("C 250-257 Alert level=fatal description=unknown_ca\n"
                   "version=TLS 1.3 suite=TLS_AES_256_GCM_SHA384 incomplete\n"),
            std::string::npos)
      << t;
  EXPECT_EQ(lines_containing(t, "Certificates"), 0u);
}

TEST(TlsHandshake, Tls10RsaKeyExchange) {
  const Conversation c = load("tls10.seg");
  EXPECT_EQ(all_splits(c),
            "C 5-66 ClientHello legacy=TLS 1.0 suites=[0x002f,0x00ff]\n"
            "S 5-66 ServerHello legacy=TLS 1.0 version=TLS 1.0 "
            "suite=TLS_RSA_WITH_AES_128_CBC_SHA\n"
            "S 71-790 Certificates total=1\n"
            "    cert subject='CN=cnonly.example.org' issuer='CN=cnonly.example.org' "
            "cn='cnonly.example.org' not_before=1795622407 not_after=2110982407 key='RSA 2048' "
            "self_signed sha256='f655a3a62491db236dffd84ea01e7cfc336e359f6dda86c8b6b8d91323f2d156'"
            "\n"
            "S 795-799 ServerHelloDone\n"
            "C 71-333 ClientKeyExchange\n"
            "C 333-339 ChangeCipherSpec\n"
            "C 339-339 EncryptionStarted\n"
            "S 804-990 Handshake type=NewSessionTicket length=182\n"
            "S 990-996 ChangeCipherSpec\n"
            "S 996-996 EncryptionStarted\n"
            "C 478-519 Alert encrypted\n"
            "S 1135-1176 Alert encrypted\n"
            "version=TLS 1.0 suite=TLS_RSA_WITH_AES_128_CBC_SHA complete\n"
            "client state=ended offset=519 clear ccs:1/1 hs:2/323 encrypted alert:1/36 hs:1/52 "
            "app:2/72 ccs encrypting finished\n"
            "server state=ended offset=1176 clear ccs:1/1 hs:4/970 encrypted alert:1/36 hs:1/52 "
            "app:2/72 ccs encrypting finished\n");
  const auto ev = events_of(c);
  const CertificateInfo& cert = bodies_of<Certificates>(ev, Side::kServer)[0]->chain[0];
  const NameMatch m = certificate_covers(cert, "cnonly.example.org");
  EXPECT_FALSE(m.covered);
  EXPECT_EQ(m.how, "only the subject CN names it (not used, RFC 9525)");
}

// ---------------------------------------------------------------------------------------------
// Real federation traffic (the lab's captures, after STARTTLS)

TEST(TlsLab, ProsodyTls13) {
  const Conversation c = load("lab-prosody-tls13.seg");
  const std::string t = all_splits(c);
  // Prosody 0.12 sends no SNI for s2s and offers ALPN xmpp-server, which Prosody does not
  // select.
  EXPECT_EQ(t.substr(0, t.find('\n')),
            "C 5-255 ClientHello legacy=TLS 1.2 versions=[TLS 1.3,TLS 1.2] alpn=[xmpp-server] "
            "suites=[0x1301,0x1302,0x1303,0xc02b,0xc02f,0xc02c,0xc030,0xcca9,0xcca8,0x009e,0x009f,"
            "0x00ff] key_share");
  EXPECT_NE(t.find("version=TLS 1.3 suite=TLS_AES_128_GCM_SHA256 complete\n"), std::string::npos)
      << t;
  EXPECT_EQ(lines_containing(t, "Anomaly"), 0u) << t;
}

TEST(TlsLab, ProsodyTls12MutualSelfSigned) {
  const Conversation c = load("lab-prosody-tls12.seg");
  Session s;
  const auto ev = events_of(c, {}, &s);
  EXPECT_EQ(all_splits(c), run_whole(c));
  EXPECT_TRUE(s.handshake_complete());
  EXPECT_EQ(s.anomalies().total(), 0u);
  ASSERT_EQ(bodies_of<CertificateRequest>(ev, Side::kServer).size(), 1u);
  const auto server = bodies_of<Certificates>(ev, Side::kServer);
  const auto client = bodies_of<Certificates>(ev, Side::kClient);
  ASSERT_EQ(server.size(), 1u);
  ASSERT_EQ(client.size(), 1u);
  EXPECT_TRUE(server[0]->chain[0].self_signed);
  EXPECT_EQ(server[0]->chain[0].dns_names, std::vector<std::string>{"gmail.example"});
  EXPECT_TRUE(certificate_covers(server[0]->chain[0], "gmail.example").covered);
  EXPECT_FALSE(certificate_covers(server[0]->chain[0], "cupdomain.example").covered);
  EXPECT_EQ(client[0]->chain[0].common_name, "cupdomain.example");
}

TEST(TlsLab, CertificateUntrustedTls12EndsWithEncryptedAlerts) {
  const Conversation c = load("lab-cert-untrusted-tls12.seg");
  const std::string t = all_splits(c);
  EXPECT_NE(t.find("S 1321-1352 Alert encrypted\nC 1914-1945 Alert encrypted\n"), std::string::npos)
      << t;
  // The client's chain is CA-signed, the server's self-signed.
  EXPECT_NE(t.find("signed_by_next"), std::string::npos);
}

TEST(TlsLab, EjabberdTls13) {
  const Conversation c = load("lab-ejabberd-tls13.seg");
  const std::string t = all_splits(c);
  EXPECT_NE(t.find("version=TLS 1.3 suite=TLS_AES_256_GCM_SHA384 complete\n"), std::string::npos)
      << t;
  EXPECT_EQ(lines_containing(t, "Anomaly"), 0u) << t;
}

// ---------------------------------------------------------------------------------------------
// Not TLS at all

TEST(TlsNotTls, HttpRequest) {
  const Bytes b =
      test::bytes_of("GET / HTTP/1.1\r\nHost: xmpp.example.com\r\nUser-Agent: x\r\n\r\n");
  EXPECT_EQ(all_splits(one_side(Side::kClient, b)),
            "C 0-32 NotTls kind='http' first='GET / HTTP/1.1..Host: xmpp.examp'\n"
            "version=none incomplete\n"
            "client state=failed failure=tls.not_tls offset=57 clear - encrypted -\n"
            "server state=ended offset=0 clear - encrypted -\n"
            "tls.not_tls=1\n");
}

TEST(TlsNotTls, Sslv2ClientHello) {
  // An SSLv2-framed ClientHello (2-byte header, msg type 1, version TLS 1.0), as old scanners
  // send it.
  const Bytes b = {0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, 0x00,
                   0x00, 0x2f, 0x00, 0x00, 0x35, 0x00, 0x00, 0x0a, 0x01, 0x00, 0x80};
  const std::string t = all_splits(one_side(Side::kClient, b));
  EXPECT_NE(t.find("C 0-23 NotTls kind='sslv2' first='"), std::string::npos) << t;
  EXPECT_NE(t.find("tls.not_tls=1\n"), std::string::npos) << t;
}

TEST(TlsNotTls, XmppAfterStarttls) {
  const Bytes b = test::bytes_of("<stream:stream xmlns='jabber:server' to='example.com'>");
  const std::string t = all_splits(one_side(Side::kServer, b));
  EXPECT_NE(t.find("S 0-32 NotTls kind='xml' first='<stream:stream xmlns=\\'jabber:ser'"),
            std::string::npos)
      << t;
  Session s;
  // It keeps the first 32 bytes and scans the rest for a TLS record start (resync).
  EXPECT_EQ(s.feed(Side::kServer, b), b.size());
  EXPECT_FALSE(s.failed(Side::kServer));
  s.end(Side::kServer);  // none came
  EXPECT_TRUE(s.failed(Side::kServer));
  EXPECT_EQ(s.failure(Side::kServer), kAnomalyNotTls);
  EXPECT_EQ(s.anomalies().get(kAnomalyNotTls), 1u);
  EXPECT_EQ(s.anomalies().get(kAnomalyResync), 0u);
}

/// tls12.seg with @p plain written by the server before its first flight (plaintext injected
/// after <proceed/>, CVE-2011-1431 class).
Conversation injected_before_server_flight(const Bytes& plain) {
  const Conversation real = load("tls12.seg");
  Conversation c;
  bool done = false;
  for (const auto& seg : real.segments) {
    const auto bytes = std::span<const std::uint8_t>(real.flat).subspan(seg.begin, seg.size);
    if (seg.side == Side::kServer && !done) {
      c.add(Side::kServer, cat({plain, Bytes(bytes.begin(), bytes.end())}));
      done = true;
    } else {
      c.add(seg.side, bytes);
    }
  }
  return c;
}

TEST(TlsResync, TlsAfterInjectedPlaintextIsRead) {
  const Bytes plain = test::bytes_of(
      "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
      "xmlns:stream='http://etherx.jabber.org/streams' from='b.example' to='a.example' "
      "version='1.0'><stream:features><dialback xmlns='urn:xmpp:features:dialback'/>"
      "</stream:features>");
  const Conversation c = injected_before_server_flight(plain);
  const std::string t = all_splits(c);
  const std::string n = std::to_string(plain.size());
  EXPECT_NE(t.find("S 0-32 NotTls kind='xml' first='<?xml version=\\'1.0\\'?><stream:str'\n"
                   "S 0-" +
                   n + " Anomaly tls.resync detail='TLS starts after " + n +
                   " bytes that were not TLS'\nS " + std::to_string(plain.size() + 5) +
                   "-321 ServerHello "),
            std::string::npos)
      << t;
  // The rest is the real handshake, shifted by the plaintext.
  const std::string clean = all_splits(load("tls12.seg"));
  EXPECT_NE(t.find("version=TLS 1.2 suite="), std::string::npos) << t;
  EXPECT_EQ(t.substr(t.find("version=TLS 1.2 suite=")).substr(0, 60),
            clean.substr(clean.find("version=TLS 1.2 suite=")).substr(0, 60));
  Session s;
  events_of(c, {}, &s);
  EXPECT_TRUE(s.handshake_complete());
  EXPECT_EQ(s.anomalies().get(kAnomalyResync), 1u);
  EXPECT_EQ(s.anomalies().get(kAnomalyNotTls), 1u);
}

TEST(TlsResync, ShortPlaintextAndFalseStarts) {
  // Fewer than 32 bytes, with record-start look-alikes that fail at the second and third
  // byte (22 22, 22 3 9, 21 21 3 9) before the real record: NotTls spans exactly the
  // plaintext, and every split finds the same start.
  Bytes plain = test::bytes_of("<a/>");
  for (int b : {22, 22, 22, 3, 9, 21, 21, 3, 9})
    plain.push_back(static_cast<std::uint8_t>(b));
  const std::string t = all_splits(injected_before_server_flight(plain));
  EXPECT_NE(t.find("S 0-13 NotTls kind='xml' first='<a/>.........'\n"
                   "S 0-13 Anomaly tls.resync detail='TLS starts after 13 bytes that were not "
                   "TLS'\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find(" complete\n"), std::string::npos) << t;
}

TEST(TlsResync, DisabledByLimit) {
  Config cfg;
  cfg.limits.max_resync_bytes = 0;
  Session s(cfg);
  const Conversation c = injected_before_server_flight(test::bytes_of("<proceed-injected/>"));
  events_of(c, cfg, &s);
  EXPECT_FALSE(s.handshake_complete());
  EXPECT_EQ(s.failure(Side::kServer), kAnomalyNotTls);
  EXPECT_EQ(s.anomalies().get(kAnomalyResync), 0u);
}

TEST(TlsResync, GivesUpAfterTheLimit) {
  Config cfg;
  cfg.limits.max_resync_bytes = 100;
  Bytes plain(101, 'x');
  Session s(cfg);
  events_of(injected_before_server_flight(plain), cfg, &s);
  EXPECT_FALSE(s.handshake_complete());
  EXPECT_EQ(s.failure(Side::kServer), kAnomalyNotTls);
  Session ok(cfg);
  events_of(injected_before_server_flight(Bytes(100, 'x')), cfg, &ok);
  EXPECT_TRUE(ok.handshake_complete());
}

TEST(TlsNotTls, MegabyteOf0x16) {
  const Bytes b(1 << 20, 0x16);
  const std::string t = sampled_splits(one_side(Side::kClient, b));
  EXPECT_NE(t.find("C 0-32 NotTls kind='binary' first='................................'\n"),
            std::string::npos)
      << t;
  Session s;
  // 22 22 ... never completes a record start: scanned up to the resync limit, then stops.
  EXPECT_EQ(s.feed(Side::kClient, b), Limits{}.max_resync_bytes + 2);
  EXPECT_TRUE(s.failed(Side::kClient));
}

TEST(TlsNotTls, RandomBytes) {
  Bytes b(64 * 1024);
  std::uint32_t x = 12345;
  for (auto& v : b) {
    x = x * 1103515245 + 12345;
    v = static_cast<std::uint8_t>(x >> 16);
  }
  for (std::uint8_t first : {std::uint8_t{0x00}, std::uint8_t{0x16}, std::uint8_t{0x17}}) {
    b[0] = first;
    b[1] = 0x03;
    const std::string t = sampled_splits(one_side(Side::kServer, b));
    EXPECT_NE(t.find("server state=failed"), std::string::npos) << t;
  }
}

TEST(TlsNotTls, ShortNonTlsIsReportedAtEnd) {
  EXPECT_EQ(all_splits(one_side(Side::kClient, test::bytes_of("HELO\r\n"))),
            "C 0-6 NotTls kind='text' first='HELO..'\n"
            "version=none incomplete\n"
            "client state=failed failure=tls.not_tls offset=6 clear - encrypted -\n"
            "server state=ended offset=0 clear - encrypted -\n"
            "tls.not_tls=1\n");
}

// ---------------------------------------------------------------------------------------------
// Bad records

/// The client's first flight of tls12.seg (ClientHello) followed by @p more on the client side.
Conversation after_client_hello(const Bytes& more) {
  const Conversation real = load("tls12.seg");
  Bytes client = real.stream(Side::kClient);
  client.resize(226);  // the ClientHello record
  client.insert(client.end(), more.begin(), more.end());
  return one_side(Side::kClient, client);
}

TEST(TlsBadRecord, RecordTooLong) {
  Bytes bogus = {23, 3, 3, 0x48, 0x01};  // 18433 > 2^14 + 2048
  bogus.resize(bogus.size() + 100, 0xaa);
  const std::string t = all_splits(after_client_hello(bogus));
  EXPECT_NE(t.find("C 226-231 Anomaly tls.record_too_long detail='application_data record of "
                   "18433 bytes'\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("client state=failed failure=tls.record_too_long offset=231 "),
            std::string::npos)
      << t;
  // Exactly at the limit is fine.
  Bytes ok = {23, 3, 3, 0x48, 0x00};
  ok.resize(ok.size() + 18432, 0xaa);
  const std::string u = run_whole(after_client_hello(ok));
  EXPECT_EQ(lines_containing(u, "Anomaly"), 0u) << u;
}

TEST(TlsBadRecord, FirstRecordTooLong) {
  const Bytes b = {22, 3, 1, 0xff, 0xff, 1, 0, 0};
  const std::string t = all_splits(one_side(Side::kClient, b));
  EXPECT_NE(t.find("C 0-5 Anomaly tls.record_too_long detail='handshake record of 65535 bytes'"),
            std::string::npos)
      << t;
}

TEST(TlsBadRecord, BadVersionAndTypeLater) {
  const std::string t1 = all_splits(after_client_hello({22, 4, 3, 0, 1, 0}));
  EXPECT_NE(t1.find("C 226-231 Anomaly tls.bad_record_version detail='version major byte 4'\n"),
            std::string::npos)
      << t1;
  EXPECT_NE(t1.find("offset=228 "), std::string::npos) << t1;  // stopped at the deciding byte
  const std::string t2 = all_splits(after_client_hello({25, 3, 3, 0, 1, 0}));
  EXPECT_NE(t2.find("C 226-231 Anomaly tls.bad_record_type detail='content type 25'\n"),
            std::string::npos)
      << t2;
  EXPECT_NE(t2.find("failure=tls.bad_record_type offset=227 "), std::string::npos) << t2;
}

TEST(TlsBadRecord, ZeroLengthRecords) {
  const std::string t = all_splits(after_client_hello({22, 3, 3, 0, 0,     // handshake
                                                       21, 3, 3, 0, 0,     // alert
                                                       20, 3, 3, 0, 0,     // change_cipher_spec
                                                       23, 3, 3, 0, 0}));  // application data
  EXPECT_NE(t.find("C 226-231 Anomaly tls.empty_record detail='handshake'\n"
                   "C 231-236 Anomaly tls.empty_record detail='alert'\n"
                   "C 236-241 Anomaly tls.bad_change_cipher_spec detail='length 0, first byte 0'\n"
                   "C 236-241 ChangeCipherSpec\n"
                   "C 241-241 EncryptionStarted\n"
                   "version=none"),
            std::string::npos)
      << t;
  // Zero-length application data after encryption is legitimate (TLS 1.0 CBC countermeasure).
  EXPECT_NE(t.find("client state=ended offset=246 clear ccs:1/0 alert:1/0 hs:2/221 encrypted "
                   "app:1/0 ccs encrypting\n"),
            std::string::npos)
      << t;
}

TEST(TlsBadRecord, Heartbeat) {
  const std::string t = all_splits(after_client_hello({24, 3, 3, 0, 3, 1, 0x40, 0x00}));
  EXPECT_NE(t.find("C 226-234 Anomaly tls.heartbeat detail='3 bytes'\n"), std::string::npos) << t;
  EXPECT_NE(t.find("hb:1/3"), std::string::npos) << t;
}

TEST(TlsBadRecord, OddAlertAndTwoAlertsInOneRecord) {
  const std::string t = all_splits(after_client_hello({21, 3, 3, 0, 5, 1, 0, 2, 40, 7}));
  EXPECT_NE(t.find("C 226-236 Alert level=warning description=close_notify\n"
                   "C 226-236 Alert level=fatal description=handshake_failure\n"
                   "C 226-236 Anomaly tls.bad_alert detail='alert record of 5 bytes'\n"),
            std::string::npos)
      << t;
}

TEST(TlsBadRecord, ApplicationDataBeforeChangeCipherSpecInTls12) {
  Conversation c = load("tls12.seg");
  Conversation bad;
  const Bytes server = c.stream(Side::kServer);
  bad.add(Side::kClient, std::span<const std::uint8_t>(c.stream(Side::kClient)).first(226));
  bad.add(Side::kServer, std::span<const std::uint8_t>(server).first(88));  // ServerHello
  const Bytes data = record(23, test::bytes_of("<stream:stream>"));
  bad.add(Side::kClient, data);
  const std::string t = all_splits(bad);
  EXPECT_NE(t.find("C 226-246 Anomaly tls.unexpected_message detail='application data before "
                   "ChangeCipherSpec'\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("client state=ended offset=246 clear hs:1/221 app:1/15 encrypted -"),
            std::string::npos)
      << t;
}

TEST(TlsBadRecord, TruncatedAtEveryLevel) {
  const Conversation real = load("tls12.seg");
  const Bytes server = real.stream(Side::kServer);
  // In a record header, in a record, in a handshake message spanning records.
  const std::string t1 =
      run_whole(one_side(Side::kServer, std::span<const std::uint8_t>(server).first(91)));
  EXPECT_NE(t1.find("S 88-91 Anomaly tls.truncated detail='end inside a record header (3 of 5 "
                    "bytes)'\n"),
            std::string::npos)
      << t1;
  const std::string t2 =
      run_whole(one_side(Side::kServer, std::span<const std::uint8_t>(server).first(1000)));
  EXPECT_NE(t2.find("S 88-1000 Anomaly tls.truncated detail='end inside a handshake record (907 "
                    "of 1622 bytes)'\n"),
            std::string::npos)
      << t2;
  const Bytes split = refragment(server, 1000);
  const std::string t3 =
      run_whole(one_side(Side::kServer, std::span<const std::uint8_t>(split).first(1005)));
  EXPECT_NE(t3.find("S 88-1005 Anomaly tls.truncated detail='end inside a Certificate message'\n"),
            std::string::npos)
      << t3;
}

TEST(TlsBadRecord, GapMakesTheDirectionOpaque) {
  const Conversation real = load("tls12.seg");
  const Bytes client = real.stream(Side::kClient);
  const Bytes server = real.stream(Side::kServer);
  Session s;
  s.feed(Side::kClient, client);
  s.feed(Side::kServer, std::span<const std::uint8_t>(server).first(500));
  s.gap(Side::kServer, 1000);
  EXPECT_EQ(s.state(Side::kServer), State::kOpaque);
  EXPECT_EQ(s.feed(Side::kServer, std::span<const std::uint8_t>(server).subspan(1500)),
            server.size() - 1500);
  EXPECT_EQ(s.offset(Side::kServer), server.size());
  s.end(Side::kServer);
  s.end(Side::kClient);
  const std::string t = drain(s);
  EXPECT_NE(t.find("S 500-1500 Anomaly tls.gap detail='1000 bytes lost'\n"), std::string::npos)
      << t;
  EXPECT_EQ(lines_containing(t, "Certificates"), 0u) << t;
  EXPECT_FALSE(s.handshake_complete());
  EXPECT_EQ(s.anomalies().get(kAnomalyGap), 1u);
  EXPECT_EQ(s.anomalies().get(kAnomalyTruncated), 0u);  // a gap is not truncation
  EXPECT_EQ(s.state(Side::kServer), State::kEnded);
}

// ---------------------------------------------------------------------------------------------
// Bad handshake messages

TEST(TlsBadHandshake, ExtensionOverrunSkipsOnlyThatMessage) {
  const Conversation real = load("tls12.seg");
  Bytes client = real.stream(Side::kClient);
  // ClientHello body (from offset 9): version 2, random 32, session id, cipher suites,
  // compression methods, then the extensions length.
  const std::size_t sid_at = 9 + 2 + 32;
  const std::size_t suites_at = sid_at + 1 + client[sid_at];
  const std::size_t comp_at =
      suites_at + 2 + (static_cast<std::size_t>(client[suites_at]) << 8 | client[suites_at + 1]);
  const std::size_t ext_len_at = comp_at + 1 + client[comp_at];
  const std::size_t ext_len =
      static_cast<std::size_t>(client[ext_len_at]) << 8 | client[ext_len_at + 1];
  ASSERT_EQ(ext_len_at + 2 + ext_len, 226u);
  // The first extension's length claims more than there is.
  client[ext_len_at + 4] = 0x7f;
  Conversation bad;
  bad.add(Side::kClient, client);
  bad.add(Side::kServer, real.stream(Side::kServer));
  const std::string t = all_splits(bad);
  EXPECT_NE(t.find("C 5-226 Anomaly tls.bad_handshake detail='ClientHello: extension overruns "
                   "the message'\n"),
            std::string::npos)
      << t;
  // Framing is intact: the rest decodes, nothing else is out of place.
  EXPECT_NE(t.find("C 231-268 ClientKeyExchange\n"), std::string::npos) << t;
  EXPECT_NE(t.find(" complete\n"), std::string::npos) << t;
  EXPECT_EQ(lines_containing(t, "Anomaly"), 1u) << t;
}

TEST(TlsBadHandshake, MessageLengthOverrunsItsRecords) {
  // A ServerHelloDone claiming 3 bytes of body, then a CCS: the message never completes.
  const Bytes b = cat({record(22, Bytes{14, 0, 0, 3}), record(20, Bytes{1})});
  const std::string t = all_splits(one_side(Side::kServer, b));
  EXPECT_NE(t.find("S 5-9 Anomaly tls.bad_handshake detail='ServerHelloDone interrupted by a "
                   "change_cipher_spec record'\n"
                   "S 9-15 ChangeCipherSpec\n"),
            std::string::npos)
      << t;
}

TEST(TlsBadHandshake, InnerLengthsOverrun) {
  const Conversation real = load("tls12.seg");
  const std::vector<Bytes> msgs = handshake_messages(real.stream(Side::kServer), 2);
  ASSERT_GE(msgs.size(), 2u);
  // ServerHello with a session id length of 33; a Certificate list length one byte too long.
  Bytes sh = msgs[0];
  sh[4 + 2 + 32] = 33;
  Bytes cert = msgs[1];
  cert[6] = static_cast<std::uint8_t>(cert[6] + 1);
  const Bytes b = cat({record(22, sh), record(22, cert)});
  const std::string t = all_splits(one_side(Side::kServer, b));
  EXPECT_NE(t.find("S 5-88 Anomaly tls.bad_handshake detail='ServerHello: too short or bad "
                   "session id'\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("Anomaly tls.bad_handshake detail='Certificate: list length does not match "
                   "the message'\n"),
            std::string::npos)
      << t;
}

TEST(TlsBadHandshake, TooLargeIsSkippedWithoutBuffering) {
  // A 300 KiB Certificate message (over the 256 KiB default) in 16 KiB records, then a
  // ServerHelloDone: the first is skipped, the second decoded.
  const Conversation real = load("tls12.seg");
  const std::vector<Bytes> msgs = handshake_messages(real.stream(Side::kServer), 1);
  Bytes big{kCertificateType};
  put24(big, 300 * 1024);
  big.resize(4 + 300 * 1024, 0x30);
  big.insert(big.end(), {14, 0, 0, 0});
  Bytes b = record(22, msgs[0]);
  for (std::size_t i = 0; i < big.size(); i += 16384)
    b = cat({b, record(22, std::span<const std::uint8_t>(big).subspan(
                               i, std::min<std::size_t>(16384, big.size() - i)))});
  const std::string t = sampled_splits(one_side(Side::kServer, b));
  EXPECT_NE(t.find("S 93-97 Anomaly tls.handshake_too_large detail='Certificate of 307200 "
                   "bytes'\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("ServerHelloDone\n"), std::string::npos) << t;
  Session s;
  s.feed(Side::kServer, b);
  EXPECT_LT(s.buffered_bytes(Side::kServer), 64u * 1024);
}

TEST(TlsBadHandshake, TruncatedCertificateDer) {
  const std::vector<Bytes> msgs = handshake_messages(load("tls12.seg").stream(Side::kServer), 2);
  // Certificate list with the leaf's first 300 bytes as one entry, then the CA intact.
  const Bytes& cert = msgs[1];
  const std::size_t leaf_len =
      static_cast<std::size_t>(cert[7]) << 16 | static_cast<std::size_t>(cert[8]) << 8 | cert[9];
  const std::span<const std::uint8_t> leaf(cert.data() + 10, leaf_len);
  const std::span<const std::uint8_t> rest(cert.data() + 10 + leaf_len,
                                           cert.size() - 10 - leaf_len);
  Bytes list;
  put24(list, 300);
  list.insert(list.end(), leaf.begin(), leaf.begin() + 300);
  list.insert(list.end(), rest.begin(), rest.end());
  Bytes body;
  put24(body, list.size());
  body = cat({body, list});
  const Bytes b = cat({record(22, msgs[0]), record(22, handshake(kCertificateType, body))});
  Session s;
  const auto ev = events_of(one_side(Side::kServer, b), {}, &s);
  const auto chains = bodies_of<Certificates>(ev, Side::kServer);
  ASSERT_EQ(chains.size(), 1u);
  ASSERT_EQ(chains[0]->chain.size(), 2u);
  EXPECT_TRUE(chains[0]->chain[0].parse_error);
  EXPECT_EQ(chains[0]->chain[0].sha256.size(), 64u);
  EXPECT_FALSE(chains[0]->chain[0].signed_by_next);
  EXPECT_FALSE(chains[0]->chain[1].parse_error);
  EXPECT_EQ(chains[0]->chain[1].sha256, kCaSha256);
  EXPECT_EQ(s.anomalies().get(kAnomalyBadCertificate), 1u);
  EXPECT_EQ(certificate_covers(chains[0]->chain[0], "example.com").how,
            "the certificate could not be parsed");
  EXPECT_EQ(all_splits(one_side(Side::kServer, b)), run_whole(one_side(Side::kServer, b)));
}

TEST(TlsBadHandshake, ChainLongerThanKept) {
  const std::vector<Bytes> msgs = handshake_messages(load("tls12.seg").stream(Side::kServer), 2);
  const Bytes& cert = msgs[1];
  const Bytes entries(cert.begin() + 7, cert.end());  // leaf + CA entries
  Bytes list;
  for (int i = 0; i < 6; ++i)
    list = cat({list, entries});  // 12 certificates
  Bytes body;
  put24(body, list.size());
  body = cat({body, list});
  const Bytes b = cat({record(22, msgs[0]), record(22, handshake(kCertificateType, body))});
  Session s;
  const auto ev = events_of(one_side(Side::kServer, b), {}, &s);
  const auto chains = bodies_of<Certificates>(ev, Side::kServer);
  ASSERT_EQ(chains.size(), 1u);
  EXPECT_EQ(chains[0]->total, 12u);
  EXPECT_EQ(chains[0]->chain.size(), 10u);
  EXPECT_EQ(s.anomalies().get(kAnomalyChainTruncated), 1u);
  // An empty certificate list (a client without a certificate) is no defect.
  const Bytes empty =
      cat({record(22, msgs[0]), record(22, handshake(kCertificateType, Bytes{0, 0, 0}))});
  const std::string t = run_whole(one_side(Side::kServer, empty));
  EXPECT_NE(t.find("S 93-100 Certificates total=0\n"), std::string::npos) << t;
}

TEST(TlsBadHandshake, ListsAndNamesAreBounded) {
  // A ClientHello with 300 cipher suites and a 300-byte SNI.
  Bytes body = {3, 3};
  body.resize(body.size() + 32, 0x11);
  body.push_back(0);  // session id
  put16(body, 600);
  for (std::size_t i = 0; i < 300; ++i)
    put16(body, 0x1000 + i);
  body.insert(body.end(), {1, 0});  // compression: null
  Bytes sni;
  put16(sni, 3 + 300);
  sni.push_back(0);
  put16(sni, 300);
  sni.resize(sni.size() + 300, 'a');
  Bytes exts;
  put16(exts, 0);  // server_name
  put16(exts, sni.size());
  exts = cat({exts, sni});
  put16(body, exts.size());
  body = cat({body, exts});
  const Bytes b = record(22, handshake(kClientHelloType, body), kTls10);
  const Conversation c = one_side(Side::kClient, b);
  const std::string t = all_splits(c);
  EXPECT_NE(t.find("Anomaly tls.list_truncated detail='more than 256 entries'\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("Anomaly tls.name_too_long detail='a name longer than 255 bytes'\n"),
            std::string::npos)
      << t;
  const auto ev = events_of(c);
  const auto hello = bodies_of<ClientHello>(ev, Side::kClient);
  ASSERT_EQ(hello.size(), 1u);
  EXPECT_EQ(hello[0]->cipher_suites.size(), 256u);
  EXPECT_EQ(hello[0]->sni.size(), 255u);
}

TEST(TlsBadHandshake, MessagesFromTheWrongSideOrOutOfPlace) {
  const Conversation real = load("tls12.seg");
  const std::vector<Bytes> server = handshake_messages(real.stream(Side::kServer), 1);
  const std::vector<Bytes> client = handshake_messages(real.stream(Side::kClient), 1);
  Conversation c;
  c.add(Side::kClient, record(22, server[0]));  // a ServerHello from the client
  c.add(Side::kClient, record(22, client[0]));  // its ClientHello
  c.add(Side::kClient, record(22, client[0]));  // again, without HelloRetryRequest
  c.add(Side::kServer, record(22, Bytes{kCertificateRequestType, 0, 0, 0}));  // before SH
  const std::string t = all_splits(c);
  EXPECT_NE(t.find("C 5-88 Anomaly tls.unexpected_message detail='ServerHello from the "
                   "client'\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("Anomaly tls.unexpected_message detail='a second ClientHello without "
                   "HelloRetryRequest'\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("S 5-9 Anomaly tls.unexpected_message detail='CertificateRequest before "
                   "ServerHello'\n"),
            std::string::npos)
      << t;
  EXPECT_EQ(lines_containing(t, "ClientHello legacy"), 1u) << t;
}

TEST(TlsBadHandshake, CleartextCertificateInTls13IsNotRead) {
  const Conversation real = load("tls13.seg");
  const Bytes server = real.stream(Side::kServer);
  Bytes b(server.begin(), server.begin() + 127);  // ServerHello (TLS 1.3)
  b = cat({b, record(22, Bytes{kCertificateType, 0, 0, 4, 0, 0, 0, 0})});
  const std::string t = all_splits(one_side(Side::kServer, b));
  EXPECT_NE(t.find("S 132-140 Anomaly tls.unexpected_message detail='cleartext Certificate in "
                   "TLS 1.3'\n"),
            std::string::npos)
      << t;
}

TEST(TlsLimits, MegabyteOfEmptyHandshakeRecords) {
  Bytes b;
  for (std::size_t i = 0; i < (1u << 20) / 5; ++i)
    b.insert(b.end(), {22, 3, 1, 0, 0});
  const Conversation c = one_side(Side::kClient, b);
  const std::string t = sampled_splits(c);
  Session s;
  const auto ev = events_of(c, {}, &s);
  EXPECT_EQ(ev.size(), Limits{}.max_events + 1);
  EXPECT_EQ(s.anomalies().get(kAnomalyEmptyRecord), (1u << 20) / 5);
  EXPECT_EQ(s.anomalies().get(kAnomalyTooManyEvents), (1u << 20) / 5 - Limits{}.max_events);
  EXPECT_NE(t.find("Anomaly tls.too_many_events detail='further events of this side are "
                   "counted, not reported'\n"),
            std::string::npos);
}

TEST(TlsLimits, MegabyteHandshakeMessageNeverEnding) {
  // A handshake message header claiming 16 MB - 1, then 1 MB of records carrying it.
  Bytes b = record(22, Bytes{kCertificateType, 0xff, 0xff, 0xff});
  const Bytes chunk(16384, 0x41);
  for (int i = 0; i < 64; ++i)
    b = cat({b, record(22, chunk)});
  Limits large;
  large.max_handshake_bytes = 100 * 1024 * 1024;  // so that it is buffered up to the end
  for (const Limits& limits : {Limits{}, large}) {
    Peak peak;
    Config cfg{limits};
    const Conversation c = one_side(Side::kServer, b);
    const std::string t = run_whole(c, cfg, &peak);
    EXPECT_LE(peak.buffered, limits.max_handshake_bytes + 4 + 5 + 32);
    EXPECT_NE(t.find("tls.truncated=1"), std::string::npos) << t;
  }
}

// ---------------------------------------------------------------------------------------------
// Certificates on their own

TEST(TlsCertificate, ParseCommittedCertificates) {
  const CertificateInfo server = parse_certificate(read_file(data_path("certs/server.der")));
  EXPECT_FALSE(server.parse_error);
  EXPECT_EQ(server.sha256, kServerSha256);
  EXPECT_EQ(server.xmpp_addrs, std::vector<std::string>{"example.com"});
  EXPECT_FALSE(server.signed_by_next);  // only set within a chain
  const CertificateInfo client = parse_certificate(read_file(data_path("certs/client.der")));
  EXPECT_EQ(client.key, "EC P-384");
  const CertificateInfo self = parse_certificate(read_file(data_path("certs/self.der")));
  EXPECT_EQ(self.key, "Ed25519");
  EXPECT_TRUE(self.self_signed);
  EXPECT_EQ(self.issuer, "CN=self.example.org");
  const CertificateInfo ca = parse_certificate(read_file(data_path("certs/ca.der")));
  EXPECT_TRUE(ca.self_signed);
  EXPECT_EQ(ca.not_before, kNotBefore);
  EXPECT_EQ(ca.not_after, kNotAfter);
}

TEST(TlsCertificate, GarbageNeverThrows) {
  Bytes der = read_file(data_path("certs/server.der"));
  EXPECT_TRUE(parse_certificate({}).parse_error);
  for (std::size_t cut : {1u, 10u, 100u, 500u}) {
    const CertificateInfo c =
        parse_certificate(std::span<const std::uint8_t>(der).first(std::min(cut, der.size())));
    EXPECT_TRUE(c.parse_error) << cut;
  }
  // The signature's last byte flipped: it still parses, but the CA no longer signed it.
  der.back() ^= 0x01;
  EXPECT_FALSE(parse_certificate(der).parse_error);
  der.push_back(0);  // trailing byte after the DER
  EXPECT_TRUE(parse_certificate(der).parse_error);
}

// ---------------------------------------------------------------------------------------------
// Name matching

CertificateInfo cert_with(std::vector<std::string> dns, std::vector<std::string> srv = {},
                          std::vector<std::string> xmpp = {}, std::string cn = {}) {
  CertificateInfo c;
  c.dns_names = std::move(dns);
  c.srv_names = std::move(srv);
  c.xmpp_addrs = std::move(xmpp);
  c.common_name = std::move(cn);
  return c;
}

TEST(TlsNames, Table) {
  const std::string kBucher =
      "b\xc3\xbc"
      "cher.example";
  struct Case {
    CertificateInfo cert;
    std::string domain;
    bool covered;
    std::string how;
  };
  const std::string none = "no DNS-ID, SRV-ID or XmppAddr matches";
  const std::string cn_only = "only the subject CN names it (not used, RFC 9525)";
  const std::vector<Case> cases = {
      {cert_with({"example.com"}), "example.com", true, "DNS-ID example.com"},
      {cert_with({"EXAMPLE.com"}), "example.COM", true, "DNS-ID EXAMPLE.com"},
      {cert_with({"example.com."}), "example.com", true, "DNS-ID example.com."},
      {cert_with({"example.com"}), "example.com.", true, "DNS-ID example.com"},
      {cert_with({"example.com"}), "www.example.com", false, none},
      {cert_with({"*.example.com"}), "a.example.com", true, "DNS-ID *.example.com"},
      {cert_with({"*.example.com"}), "A.Example.Com.", true, "DNS-ID *.example.com"},
      {cert_with({"*.example.com"}), "example.com", false, none},
      {cert_with({"*.example.com"}), "a.b.example.com", false, none},
      {cert_with({"*.example.com"}), ".example.com", false, "no domain"},
      {cert_with({"f*.example.com"}), "foo.example.com", false, none},
      {cert_with({"*oo.example.com"}), "foo.example.com", false, none},
      {cert_with({"a.*.example.com"}), "a.b.example.com", false, none},
      {cert_with({"*.com"}), "example.com", false, none},
      {cert_with({"*"}), "example", false, none},
      {cert_with({"*.example.com"}), "*.example.com", false, "no domain"},
      {cert_with({}, {"_xmpp-server.example.com"}), "example.com", true,
       "SRV-ID _xmpp-server.example.com"},
      {cert_with({}, {"_xmpp-server.Example.com."}), "example.com", true,
       "SRV-ID _xmpp-server.Example.com."},
      {cert_with({}, {"_xmpp-client.example.com"}), "example.com", false, none},
      {cert_with({}, {"_xmpp-server.example.com"}), "xmpp.example.com", false, none},
      {cert_with({}, {"_xmpp-server.*.com"}), "example.com", false, none},
      {cert_with({}, {}, {"example.com"}), "example.com", true, "XmppAddr example.com"},
      {cert_with({}, {}, {"Example.COM"}), "example.com", true, "XmppAddr Example.COM"},
      {cert_with({}, {}, {"user@example.com"}), "example.com", false, none},
      {cert_with({}, {}, {}, "example.com"), "example.com", false, cn_only},
      {cert_with({}, {}, {}, "*.example.com"), "a.example.com", false, cn_only},
      {cert_with({"other.example"}, {}, {}, "example.com"), "example.com", false, cn_only},
      {cert_with({}, {}, {}, "example.org"), "example.com", false, none},
      {cert_with({}), "example.com", false, none},
      // IDN: compared as A-labels. A dNSName (A-labels) and an XmppAddr (UTF-8 U-labels)
      // both cover the domain given in either form.
      {cert_with({"xn--bcher-kva.example"}), "xn--bcher-kva.example", true,
       "DNS-ID xn--bcher-kva.example"},
      {cert_with({"xn--bcher-kva.example"}), kBucher, true, "DNS-ID xn--bcher-kva.example"},
      {cert_with({"XN--BCHER-KVA.EXAMPLE"}), kBucher, true, "DNS-ID XN--BCHER-KVA.EXAMPLE"},
      {cert_with({"*.xn--bcher-kva.example"}), "xmpp." + kBucher, true,
       "DNS-ID *.xn--bcher-kva.example"},
      {cert_with({}, {"_xmpp-server.xn--bcher-kva.example"}), kBucher + ".", true,
       "SRV-ID _xmpp-server.xn--bcher-kva.example"},
      {cert_with({}, {}, {kBucher}), "xn--bcher-kva.example", true, "XmppAddr " + kBucher},
      {cert_with({}, {}, {kBucher}), "XN--Bcher-KVA.example.", true, "XmppAddr " + kBucher},
      {cert_with({}, {},
                 {"B\xc3\x9c"
                  "CHER.example"}),
       kBucher, true,
       "XmppAddr B\xc3\x9c"
       "CHER.example"},
      // A dNSName is an IA5String: raw UTF-8 there names nothing.
      {cert_with({"B\xc3\x9c"
                  "CHER.example"}),
       kBucher, false, none},
      // A NUL cuts no name short, before or after IDNA conversion.
      {cert_with({}, {},
                 {std::string("b\xc3\xbc"
                              "cher.example\0.evil",
                              21)}),
       kBucher, false, none},
      {cert_with({"*.example.com"}), "xn--bcher-kva.example.com", true, "DNS-ID *.example.com"},
      // Order: an exact DNS-ID is preferred over the other identifiers.
      {cert_with({"*.example.com", "a.example.com"}, {"_xmpp-server.a.example.com"},
                 {"a.example.com"}),
       "a.example.com", true, "DNS-ID a.example.com"},
      {cert_with({"*.example.com"}, {}, {"a.example.com"}), "a.example.com", true,
       "XmppAddr a.example.com"},
      {cert_with({"example.com"}), "", false, "no domain"},
      {cert_with({""}), "example.com", false, none},
      {cert_with({std::string("example.com\0.evil", 16)}), "example.com", false, none},
  };
  for (const Case& c : cases) {
    const NameMatch m = certificate_covers(c.cert, c.domain);
    EXPECT_EQ(m.covered, c.covered)
        << c.domain << " / " << (c.cert.dns_names.empty() ? "" : c.cert.dns_names[0]);
    EXPECT_EQ(m.how, c.how) << c.domain;
  }
}

// ---------------------------------------------------------------------------------------------
// Names of protocol numbers

TEST(TlsNumbers, Versions) {
  EXPECT_EQ(version_name(0x0300), "SSL 3.0");
  EXPECT_EQ(version_name(0x0301), "TLS 1.0");
  EXPECT_EQ(version_name(0x0302), "TLS 1.1");
  EXPECT_EQ(version_name(0x0303), "TLS 1.2");
  EXPECT_EQ(version_name(0x0304), "TLS 1.3");
  EXPECT_EQ(version_name(0x7f1c), "0x7f1c");
  EXPECT_EQ(version_name(0x0a0a), "0x0a0a");
}

TEST(TlsNumbers, CipherSuites) {
  EXPECT_EQ(cipher_suite_name(0x1301), "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(cipher_suite_name(0x1302), "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(cipher_suite_name(0x1303), "TLS_CHACHA20_POLY1305_SHA256");
  EXPECT_EQ(cipher_suite_name(0x1304), "TLS_AES_128_CCM_SHA256");
  EXPECT_EQ(cipher_suite_name(0x1305), "TLS_AES_128_CCM_8_SHA256");
  EXPECT_EQ(cipher_suite_name(0xc02b), "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
  EXPECT_EQ(cipher_suite_name(0xc030), "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
  EXPECT_EQ(cipher_suite_name(0xcca8), "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");
  EXPECT_EQ(cipher_suite_name(0xc013), "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
  EXPECT_EQ(cipher_suite_name(0x009f), "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384");
  EXPECT_EQ(cipher_suite_name(0x0033), "TLS_DHE_RSA_WITH_AES_128_CBC_SHA");
  EXPECT_EQ(cipher_suite_name(0x002f), "TLS_RSA_WITH_AES_128_CBC_SHA");
  EXPECT_EQ(cipher_suite_name(0x009c), "TLS_RSA_WITH_AES_128_GCM_SHA256");
  EXPECT_EQ(cipher_suite_name(0x000a), "TLS_RSA_WITH_3DES_EDE_CBC_SHA");
  EXPECT_EQ(cipher_suite_name(0x00ff), "TLS_EMPTY_RENEGOTIATION_INFO_SCSV");
  EXPECT_EQ(cipher_suite_name(0x5600), "TLS_FALLBACK_SCSV");
  EXPECT_EQ(cipher_suite_name(0x3a3a), "GREASE");
  EXPECT_EQ(cipher_suite_name(0xfafa), "GREASE");
  EXPECT_EQ(cipher_suite_name(0x3a3b), "0x3a3b");
  EXPECT_EQ(cipher_suite_name(0xffff), "0xffff");
}

TEST(TlsNumbers, Alerts) {
  const std::vector<std::pair<std::uint8_t, std::string>> names = {{0, "close_notify"},
                                                                   {10, "unexpected_message"},
                                                                   {20, "bad_record_mac"},
                                                                   {40, "handshake_failure"},
                                                                   {42, "bad_certificate"},
                                                                   {43, "unsupported_certificate"},
                                                                   {44, "certificate_revoked"},
                                                                   {45, "certificate_expired"},
                                                                   {46, "certificate_unknown"},
                                                                   {47, "illegal_parameter"},
                                                                   {48, "unknown_ca"},
                                                                   {49, "access_denied"},
                                                                   {50, "decode_error"},
                                                                   {51, "decrypt_error"},
                                                                   {70, "protocol_version"},
                                                                   {71, "insufficient_security"},
                                                                   {80, "internal_error"},
                                                                   {86, "inappropriate_fallback"},
                                                                   {90, "user_canceled"},
                                                                   {109, "missing_extension"},
                                                                   {110, "unsupported_extension"},
                                                                   {112, "unrecognized_name"},
                                                                   {116, "certificate_required"},
                                                                   {120, "no_application_protocol"},
                                                                   {255, "0xff"},
                                                                   {1, "0x01"}};
  for (const auto& [code, name] : names)
    EXPECT_EQ(alert_description_name(code), name);
  EXPECT_EQ(alert_level_name(1), "warning");
  EXPECT_EQ(alert_level_name(2), "fatal");
  EXPECT_EQ(alert_level_name(3), "0x03");
}

// ---------------------------------------------------------------------------------------------
// API

TEST(TlsApi, StatesAndFeedResults) {
  const Conversation real = load("tls12.seg");
  const Bytes client = real.stream(Side::kClient);
  Session s;
  EXPECT_EQ(s.state(Side::kClient), State::kStart);
  EXPECT_EQ(s.feed(Side::kClient, std::span<const std::uint8_t>(client).first(3)), 3u);
  EXPECT_EQ(s.state(Side::kClient), State::kStart);
  EXPECT_EQ(s.feed(Side::kClient, std::span<const std::uint8_t>(client).subspan(3, 223)), 223u);
  EXPECT_EQ(s.state(Side::kClient), State::kClear);
  EXPECT_EQ(s.events().size(), 1u);
  const auto taken = s.take_events();
  EXPECT_EQ(taken.size(), 1u);
  EXPECT_TRUE(s.events().empty());
  s.feed(Side::kClient, std::span<const std::uint8_t>(client).subspan(226));
  EXPECT_EQ(s.state(Side::kClient), State::kEncrypted);
  EXPECT_EQ(s.offset(Side::kClient), client.size());
  s.end(Side::kClient);
  EXPECT_EQ(s.state(Side::kClient), State::kEnded);
  EXPECT_EQ(s.feed(Side::kClient, client), 0u);
  EXPECT_EQ(s.offset(Side::kClient), client.size());
  Session moved = std::move(s);
  EXPECT_EQ(moved.state(Side::kClient), State::kEnded);
  EXPECT_EQ(moved.buffered_bytes(Side::kServer), 0u);
}

}  // namespace
}  // namespace fedscope::tls
