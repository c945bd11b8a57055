// Unit tests for the key-log TLS decryptor (dissect/tls: decrypt.hpp).
//
// The inputs are real TLS: tests/unit/data/tls_decrypt/*.txt each hold one connection between
// OpenSSL client and server objects (tests/tools/make-tls-vectors.py, which documents the
// format): the client's key log, every chunk each side handed to the network in the order
// they crossed, and the application data each side sent. rfc8448-1rtt.txt is RFC 8448 §3
// ("Simple 1-RTT Handshake"), its published records and secrets, written out by hand.
//
// Every vector is decrypted as the dissector drives the decryptor (a tls::Session and a
// tls::Decryptor get the same bytes; the hellos the session decodes go to the decryptor
// before the bytes after them), fed whole, cut at every record boundary, byte at a time, and
// (short transcripts) cut at every offset; the plaintext must be what each side sent, byte
// for byte, and every cut must give the same pieces. Failures (wrong secret, no secret, gap,
// truncation, unsupported suite) are made from the same vectors.
//
// KeyUpdate (which Python's ssl cannot send) is built here: the next traffic secret is
// derived (RFC 8446 §7.2) and the records sealed with OpenSSL's EVP by this file's own code,
// which is checked against RFC 8448's published keys first.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <ostream>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "fedscope/tls/decoder.hpp"
#include "fedscope/tls/decrypt.hpp"

namespace fedscope::tls {

// Readable DecryptState values in assertion messages (found by ADL).
void PrintTo(DecryptState s, std::ostream* os) {
  *os << to_string(s);
}

namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t ix(Side s) {
  return s == Side::kClient ? 0 : 1;
}
constexpr Side kSides[] = {Side::kClient, Side::kServer};

// ---------------------------------------------------------------------------------------------
// Hex

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Bytes from_hex(std::string_view hex) {
  Bytes out;
  EXPECT_EQ(hex.size() % 2, 0u) << hex.substr(0, 40);
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    const int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
    EXPECT_TRUE(hi >= 0 && lo >= 0) << "bad hex at " << i;
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

std::string to_hex(std::span<const std::uint8_t> b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (std::uint8_t c : b) {
    s += kDigits[c >> 4];
    s += kDigits[c & 15];
  }
  return s;
}

Bytes bytes_of(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

void append(Bytes& to, std::span<const std::uint8_t> b) {
  to.insert(to.end(), b.begin(), b.end());
}

// ---------------------------------------------------------------------------------------------
// Vectors

struct Chunk {
  Side side = Side::kClient;
  Bytes bytes;
};

struct Vector {
  std::string name;
  std::uint16_t version = 0;
  std::uint16_t suite = 0;
  bool hrr = false;
  bool etm = false;
  std::string subject;
  std::string keylog;  ///< the key-log lines, '\n'-terminated
  std::vector<Chunk> chunks;
  std::array<Bytes, 2> plain;                   ///< application data each side sent
  std::array<std::vector<Bytes>, 2> handshake;  ///< expected handshake messages (if listed)

  bool tls13() const { return version == kTls13; }
  Bytes stream(Side side) const {
    Bytes out;
    for (const Chunk& c : chunks)
      if (c.side == side) append(out, c.bytes);
    return out;
  }
  std::size_t last_chunk(Side side) const {
    std::size_t last = chunks.size();
    for (std::size_t i = 0; i < chunks.size(); ++i)
      if (chunks[i].side == side) last = i;
    return last;
  }
};

std::string data_path(std::string_view name) {
  return std::string(FEDSCOPE_SOURCE_DIR) + "/tests/unit/data/tls_decrypt/" + std::string(name) +
         ".txt";
}

std::uint16_t parse_u16(const std::string& s) {
  return static_cast<std::uint16_t>(std::stoul(s, nullptr, 16));
}

Side parse_side(std::string_view s) {
  EXPECT_TRUE(s == "C" || s == "S") << s;
  return s == "C" ? Side::kClient : Side::kServer;
}

Vector load_vector(std::string_view name) {
  std::ifstream f(data_path(name));
  EXPECT_TRUE(f.good()) << data_path(name);
  Vector v;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t sp = line.find(' ');
    const std::string key = line.substr(0, sp);
    const std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
    const std::size_t sp2 = rest.find(' ');
    if (key == "name") {
      v.name = rest;
    } else if (key == "version") {
      v.version = parse_u16(rest);
    } else if (key == "suite") {
      v.suite = parse_u16(rest);
    } else if (key == "hrr") {
      v.hrr = rest == "1";
    } else if (key == "etm") {
      v.etm = rest == "1";
    } else if (key == "subject") {
      v.subject = rest;
    } else if (key == "keylog") {
      v.keylog += rest + "\n";
    } else if (key == "C" || key == "S") {
      v.chunks.push_back({parse_side(key), from_hex(rest)});
    } else if (key == "plain") {
      append(v.plain[ix(parse_side(rest.substr(0, sp2)))], from_hex(rest.substr(sp2 + 1)));
    } else if (key == "pattern") {
      Bytes& to = v.plain[ix(parse_side(rest.substr(0, sp2)))];
      const std::size_t n = std::stoul(rest.substr(sp2 + 1));
      for (std::size_t i = 0; i < n; ++i)
        to.push_back(static_cast<std::uint8_t>(i % 251));
    } else if (key == "handshake") {
      v.handshake[ix(parse_side(rest.substr(0, sp2)))].push_back(from_hex(rest.substr(sp2 + 1)));
    } else {
      ADD_FAILURE() << name << ": unknown line " << line.substr(0, 40);
    }
  }
  EXPECT_EQ(v.name, name);
  EXPECT_FALSE(v.chunks.empty()) << name;
  return v;
}

const std::vector<std::string>& vector_names() {
  static const std::vector<std::string> names = {
      "tls13-aes128gcm",   "tls13-aes256gcm",   "tls13-chacha20",       "tls13-hrr",
      "rfc8448-1rtt",      "tls12-aes128gcm",   "tls12-aes256gcm",      "tls12-chacha20",
      "tls12-cbc-sha-etm", "tls12-cbc-sha-mte", "tls12-cbc-sha256-etm", "tls12-cbc-sha384-mte",
      "tls10-cbc-sha-etm", "tls11-cbc-sha-mte",
  };
  return names;
}

/// One record of a side's stream: [begin, begin + 5 + length).
struct RecordInfo {
  std::uint8_t type = 0;
  std::size_t begin = 0;
  std::size_t length = 0;  ///< the header's length field
};

std::vector<RecordInfo> records_of(std::span<const std::uint8_t> stream) {
  std::vector<RecordInfo> out;
  std::size_t i = 0;
  while (i + 5 <= stream.size()) {
    const std::size_t n = static_cast<std::size_t>(stream[i + 3]) << 8 | stream[i + 4];
    out.push_back({stream[i], i, n});
    i += 5 + n;
  }
  EXPECT_EQ(i, stream.size()) << "the vector's records do not end where the stream ends";
  return out;
}

/// Records a side sent under encryption: TLS 1.3 application_data records, TLS ≤ 1.2 records
/// after its ChangeCipherSpec.
std::size_t encrypted_records(const Vector& v, Side side) {
  const Bytes s = v.stream(side);
  std::size_t n = 0;
  bool after_ccs = false;
  for (const RecordInfo& r : records_of(s)) {
    if (v.tls13()) {
      n += r.type == 23;
    } else {
      n += after_ccs;
      after_ccs = after_ccs || r.type == 20;
    }
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Feeding: the dissector's way

/// One step of the input: bytes of one side, or a gap on one side.
struct Step {
  Side side = Side::kClient;
  std::span<const std::uint8_t> bytes;
  std::uint64_t gap = 0;  ///< > 0: a gap of that many bytes instead of bytes
};
using Steps = std::vector<Step>;

struct Result {
  std::array<DecryptOutput, 2> out;
  std::array<DecryptState, 2> state{};  ///< before end()
  DecryptState overall = DecryptState::kNone;
  std::array<std::uint64_t, 2> records{};
  AnomalyCounters anomalies;  ///< the decryptor's, after end() of both sides

  std::vector<PlainPiece> pieces(Side side, ContentType type) const {
    std::vector<PlainPiece> p;
    for (const PlainPiece& x : out[ix(side)].pieces)
      if (x.type == type) p.push_back(x);
    return p;
  }
  Bytes joined(Side side, ContentType type) const {
    Bytes b;
    for (const PlainPiece& p : pieces(side, type))
      append(b, out[ix(side)].view(p));
    return b;
  }
  /// Everything that came out, for comparing cuts.
  std::string transcript() const {
    std::ostringstream os;
    for (Side side : kSides) {
      os << to_string(side) << " state=" << to_string(state[ix(side)])
         << " records=" << records[ix(side)] << "\n";
      for (const PlainPiece& p : out[ix(side)].pieces)
        os << "  type=" << static_cast<int>(p.type) << " at=" << p.record_offset << " "
           << to_hex(out[ix(side)].view(p)) << "\n";
    }
    for (const auto& [name, n] : anomalies.all())
      os << name << "=" << n << "\n";
    return os.str();
  }
};

struct Options {
  /// Edits the ServerHello the decryptor gets (the session keeps the real one).
  std::function<void(ServerHello&)> edit_server_hello;
  bool end = true;
  DecryptLimits limits{};
};

Result run(const KeyLog& keys, const Steps& steps, const Options& options = {}) {
  Session session;
  Decryptor dec(keys, options.limits);
  Result r;
  for (const Step& st : steps) {
    if (st.gap > 0) {
      session.gap(st.side, st.gap);
      dec.gap(st.side, st.gap);
      continue;
    }
    session.feed(st.side, st.bytes);
    for (const Event& e : session.events()) {
      if (const auto* ch = std::get_if<ClientHello>(&e.body)) {
        dec.on_client_hello(*ch);
      } else if (const auto* sh = std::get_if<ServerHello>(&e.body)) {
        ServerHello copy = *sh;
        if (options.edit_server_hello) options.edit_server_hello(copy);
        dec.on_server_hello(copy);
      }
    }
    session.clear_events();
    dec.feed(st.side, st.bytes, r.out[ix(st.side)]);
  }
  for (Side side : kSides) {
    r.state[ix(side)] = dec.state(side);
    r.records[ix(side)] = dec.records_decrypted(side);
  }
  r.overall = dec.state();
  if (options.end) {
    for (Side side : kSides) {
      session.end(side);
      dec.end(side);
    }
  }
  r.anomalies = dec.anomalies();
  return r;
}

// The cuts.

Steps whole(const Vector& v) {
  Steps s;
  for (const Chunk& c : v.chunks)
    s.push_back({c.side, c.bytes});
  return s;
}

/// Each chunk cut at every record boundary of its side's stream.
Steps at_records(const Vector& v) {
  std::array<std::set<std::size_t>, 2> bounds;
  for (Side side : kSides)
    for (const RecordInfo& r : records_of(v.stream(side)))
      bounds[ix(side)].insert(r.begin);
  std::array<std::size_t, 2> pos{};
  Steps s;
  for (const Chunk& c : v.chunks) {
    const std::size_t base = pos[ix(c.side)];
    std::size_t from = 0;
    for (std::size_t i = 1; i < c.bytes.size(); ++i) {
      if (bounds[ix(c.side)].count(base + i) > 0) {
        s.push_back({c.side, std::span<const std::uint8_t>(c.bytes).subspan(from, i - from)});
        from = i;
      }
    }
    s.push_back({c.side, std::span<const std::uint8_t>(c.bytes).subspan(from)});
    pos[ix(c.side)] += c.bytes.size();
  }
  return s;
}

Steps bytewise(const Vector& v) {
  Steps s;
  for (const Chunk& c : v.chunks)
    for (std::size_t i = 0; i < c.bytes.size(); ++i)
      s.push_back({c.side, std::span<const std::uint8_t>(c.bytes).subspan(i, 1)});
  return s;
}

/// The chunks as they crossed, with the one holding flat offset @p cut (over all chunks)
/// cut in two there.
Steps cut_at(const Vector& v, std::size_t cut) {
  Steps s;
  std::size_t flat = 0;
  for (const Chunk& c : v.chunks) {
    const std::span<const std::uint8_t> b(c.bytes);
    if (cut > flat && cut < flat + b.size()) {
      s.push_back({c.side, b.first(cut - flat)});
      s.push_back({c.side, b.subspan(cut - flat)});
    } else {
      s.push_back({c.side, b});
    }
    flat += b.size();
  }
  return s;
}

KeyLog keys_of(const std::string& text) {
  KeyLog k;
  k.load_text(text);
  return k;
}

/// The key log with one hex digit of @p label's secret changed.
std::string flip_secret(const std::string& keylog, std::string_view label) {
  std::string out = keylog;
  const std::size_t at = out.find(std::string(label) + " ");
  EXPECT_NE(at, std::string::npos) << label;
  if (at == std::string::npos) return out;
  const std::size_t eol = out.find('\n', at);
  char& c = out[eol - 1];  // the secret's last hex digit
  c = c == '0' ? '1' : '0';
  return out;
}

/// The secret of @p label in the key log, as bytes.
Bytes secret_of(const std::string& keylog, std::string_view label) {
  const std::size_t at = keylog.find(std::string(label) + " ");
  EXPECT_NE(at, std::string::npos) << label;
  if (at == std::string::npos) return {};
  const std::size_t eol = keylog.find('\n', at);
  const std::size_t sp = keylog.rfind(' ', eol);
  return from_hex(std::string_view(keylog).substr(sp + 1, eol - sp - 1));
}

// ---------------------------------------------------------------------------------------------
// What a vector must decrypt to

std::uint32_t handshake_length(std::span<const std::uint8_t> m) {
  return static_cast<std::uint32_t>(m[1]) << 16 | static_cast<std::uint32_t>(m[2]) << 8 | m[3];
}

void expect_plaintext(const Vector& v, const Result& r, const std::string& how) {
  SCOPED_TRACE(v.name + " fed " + how);
  EXPECT_EQ(r.anomalies.total(), 0u) << r.transcript();
  const std::size_t hash_len =
      v.suite == 0x1302 || v.suite == 0xc030 || v.suite == 0xc028 ? 48 : 32;
  for (Side side : kSides) {
    SCOPED_TRACE(std::string("side ") + std::string(to_string(side)));
    EXPECT_EQ(r.state[ix(side)], DecryptState::kDecrypting);
    EXPECT_EQ(r.records[ix(side)], encrypted_records(v, side));
    // Application data: exactly what that side sent, in order.
    const Bytes app = r.joined(side, ContentType::kApplicationData);
    EXPECT_EQ(app.size(), v.plain[ix(side)].size());
    EXPECT_TRUE(app == v.plain[ix(side)]) << "application data differs";
    // One close_notify each.
    const auto alerts = r.pieces(side, ContentType::kAlert);
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(to_hex(r.out[ix(side)].view(alerts[0])), "0100");
    // Handshake messages: whole, with their 4-byte header.
    const auto hs = r.pieces(side, ContentType::kHandshake);
    std::vector<int> types;
    for (const PlainPiece& p : hs) {
      const auto m = r.out[ix(side)].view(p);
      ASSERT_GE(m.size(), 4u);
      EXPECT_EQ(handshake_length(m) + 4, m.size()) << "handshake type " << int{m[0]};
      types.push_back(m[0]);
    }
    if (!v.handshake[ix(side)].empty()) {
      ASSERT_EQ(hs.size(), v.handshake[ix(side)].size());
      for (std::size_t i = 0; i < hs.size(); ++i)
        EXPECT_EQ(to_hex(r.out[ix(side)].view(hs[i])), to_hex(v.handshake[ix(side)][i])) << i;
    }
    if (!v.tls13()) {
      // TLS ≤ 1.2: the Finished only (12 bytes of verify_data).
      EXPECT_EQ(types, std::vector<int>{20});
      if (!hs.empty()) {
        EXPECT_EQ(hs[0].length, 16u);
      }
      // One application-data piece per application-data record.
      std::size_t app_records = 0;
      const Bytes s = v.stream(side);
      for (const RecordInfo& rec : records_of(s))
        app_records += rec.type == 23;
      EXPECT_EQ(r.pieces(side, ContentType::kApplicationData).size(), app_records);
    } else if (side == Side::kClient) {
      EXPECT_EQ(types, std::vector<int>{20});
      if (!hs.empty()) {
        EXPECT_EQ(hs[0].length, 4 + hash_len);
      }
    } else {
      // EncryptedExtensions, Certificate, CertificateVerify, Finished, NewSessionTicket(s).
      ASSERT_GE(types.size(), 5u);
      EXPECT_EQ(std::vector<int>(types.begin(), types.begin() + 4),
                (std::vector<int>{8, 11, 15, 20}));
      for (std::size_t i = 4; i < types.size(); ++i)
        EXPECT_EQ(types[i], 4) << i;
      EXPECT_EQ(hs[3].length, 4 + hash_len);
    }
  }
  EXPECT_EQ(r.overall, DecryptState::kDecrypting);
}

// ---------------------------------------------------------------------------------------------
// Every vector

/// A test name from a vector name ("tls13-hrr" → "tls13_hrr").
std::string param_name(const ::testing::TestParamInfo<std::string>& p) {
  std::string n = p.param;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

class Vectors : public ::testing::TestWithParam<std::string> {};
/// The TLS 1.3 vectors only (the encrypted handshake).
class Tls13Vectors : public ::testing::TestWithParam<std::string> {};
/// The TLS ≤ 1.2 vectors only.
class Tls12Vectors : public ::testing::TestWithParam<std::string> {};

TEST_P(Vectors, KeyLogOfTheVector) {
  const Vector v = load_vector(GetParam());
  const KeyLog keys = keys_of(v.keylog);
  EXPECT_EQ(keys.size(), 1u);
  // OpenSSL's TLS 1.3 log also has EXPORTER_SECRET: known, not needed, not an anomaly.
  EXPECT_EQ(keys.lines_used(), v.tls13() ? 4u : 1u);
  EXPECT_EQ(keys.anomalies().total(), 0u);
}

TEST_P(Vectors, WholeChunks) {
  const Vector v = load_vector(GetParam());
  const Result r = run(keys_of(v.keylog), whole(v));
  expect_plaintext(v, r, "whole");
  // What the vector says it is.
  Session s;
  for (const Chunk& c : v.chunks)
    s.feed(c.side, c.bytes);
  EXPECT_EQ(s.version(), v.version);
  EXPECT_EQ(s.cipher_suite(), v.suite);
  EXPECT_EQ(s.hello_retry_request(), v.hrr);
  EXPECT_EQ(s.anomalies().total(), 0u);
}

TEST_P(Vectors, EveryRecordBoundary) {
  const Vector v = load_vector(GetParam());
  const KeyLog keys = keys_of(v.keylog);
  const Result r = run(keys, at_records(v));
  expect_plaintext(v, r, "record by record");
  EXPECT_EQ(r.transcript(), run(keys, whole(v)).transcript());
}

TEST_P(Vectors, ByteAtATime) {
  const Vector v = load_vector(GetParam());
  const KeyLog keys = keys_of(v.keylog);
  const Result r = run(keys, bytewise(v));
  expect_plaintext(v, r, "byte at a time");
  EXPECT_EQ(r.transcript(), run(keys, whole(v)).transcript());
}

TEST_P(Tls13Vectors, ServerCertificateInTls13) {
  const Vector v = load_vector(GetParam());
  ASSERT_TRUE(v.tls13());
  const Result r = run(keys_of(v.keylog), whole(v));
  const auto hs = r.pieces(Side::kServer, ContentType::kHandshake);
  const auto cert = std::find_if(hs.begin(), hs.end(), [&](const PlainPiece& p) {
    return r.out[1].view(p)[0] == kCertificateType;
  });
  ASSERT_NE(cert, hs.end());
  Certificates certs;
  EXPECT_EQ(parse_certificate_message_13(r.out[1].view(*cert).subspan(4), Limits{}, certs), "");
  EXPECT_EQ(certs.total, 1u);
  ASSERT_EQ(certs.chain.size(), 1u);
  EXPECT_EQ(certs.chain[0].subject, v.subject);
  EXPECT_FALSE(certs.chain[0].parse_error);
}

TEST_P(Vectors, WrongSecret) {
  const Vector v = load_vector(GetParam());
  if (v.tls13()) {
    {
      // The server's handshake secret: its first encrypted record fails, the client's side
      // (its own secrets) decrypts everything.
      const Result r =
          run(keys_of(flip_secret(v.keylog, "SERVER_HANDSHAKE_TRAFFIC_SECRET")), whole(v));
      EXPECT_EQ(r.anomalies.get("tls.decrypt.bad_record"), 1u) << r.transcript();
      EXPECT_EQ(r.anomalies.total(), 1u) << r.transcript();
      EXPECT_EQ(r.state[1], DecryptState::kBadRecord);
      EXPECT_EQ(r.records[1], 0u);
      EXPECT_TRUE(r.out[1].pieces.empty());
      EXPECT_EQ(r.state[0], DecryptState::kDecrypting);
      EXPECT_TRUE(r.joined(Side::kClient, ContentType::kApplicationData) == v.plain[0]);
      EXPECT_EQ(r.overall, DecryptState::kBadRecord);
    }
    {
      // The client's application secret: its Finished opens, its first application-data
      // record does not.
      const Result r = run(keys_of(flip_secret(v.keylog, "CLIENT_TRAFFIC_SECRET_0")), whole(v));
      EXPECT_EQ(r.anomalies.get("tls.decrypt.bad_record"), 1u) << r.transcript();
      EXPECT_EQ(r.anomalies.total(), 1u);
      EXPECT_EQ(r.state[0], DecryptState::kBadRecord);
      EXPECT_EQ(r.records[0], 1u);
      ASSERT_EQ(r.out[0].pieces.size(), 1u);
      EXPECT_EQ(r.out[0].view(r.out[0].pieces[0])[0], 20);
      EXPECT_EQ(r.state[1], DecryptState::kDecrypting);
      EXPECT_TRUE(r.joined(Side::kServer, ContentType::kApplicationData) == v.plain[1]);
    }
  } else {
    // The master secret: both sides' Finished fail.
    const Result r = run(keys_of(flip_secret(v.keylog, "CLIENT_RANDOM")), whole(v));
    EXPECT_EQ(r.anomalies.get("tls.decrypt.bad_record"), 2u) << r.transcript();
    EXPECT_EQ(r.anomalies.total(), 2u);
    for (Side side : kSides) {
      EXPECT_EQ(r.state[ix(side)], DecryptState::kBadRecord);
      EXPECT_EQ(r.records[ix(side)], 0u);
      EXPECT_TRUE(r.out[ix(side)].pieces.empty());
    }
    EXPECT_EQ(r.overall, DecryptState::kBadRecord);
  }
}

TEST_P(Vectors, NoSecret) {
  const Vector v = load_vector(GetParam());
  // An empty key log, and one whose lines name another client random.
  std::string other = v.keylog;
  for (std::size_t at = 0; (at = other.find(' ', at)) != std::string::npos;
       at = other.find('\n', at)) {
    char& c = other[at + 1];  // the client random's first hex digit
    c = c == '0' ? '1' : '0';
  }
  for (const std::string& text : {std::string(), other}) {
    const KeyLog keys = keys_of(text);
    EXPECT_EQ(keys.size(), text.empty() ? 0u : 1u);
    const Result r = run(keys, whole(v));
    EXPECT_EQ(r.anomalies.get("tls.decrypt.no_secret"), 1u) << r.transcript();
    EXPECT_EQ(r.anomalies.total(), 1u) << r.transcript();
    for (Side side : kSides) {
      EXPECT_EQ(r.state[ix(side)], DecryptState::kNoSecret) << to_string(side);
      EXPECT_TRUE(r.out[ix(side)].pieces.empty());
      EXPECT_EQ(r.records[ix(side)], 0u);
    }
    EXPECT_EQ(r.overall, DecryptState::kNoSecret);
  }
}

TEST_P(Vectors, Truncated) {
  const Vector v = load_vector(GetParam());
  // The server's last chunk is its close_notify record: end the side 3 bytes before its end.
  Steps steps = whole(v);
  const std::size_t last = v.last_chunk(Side::kServer);
  steps[last].bytes = steps[last].bytes.first(steps[last].bytes.size() - 3);
  const Result r = run(keys_of(v.keylog), steps);
  EXPECT_EQ(r.anomalies.get("tls.decrypt.truncated"), 1u) << r.transcript();
  EXPECT_EQ(r.anomalies.total(), 1u) << r.transcript();
  EXPECT_TRUE(r.pieces(Side::kServer, ContentType::kAlert).empty());
  EXPECT_EQ(r.pieces(Side::kClient, ContentType::kAlert).size(), 1u);
  for (Side side : kSides)
    EXPECT_TRUE(r.joined(side, ContentType::kApplicationData) == v.plain[ix(side)]);
}

// A chunk lost in the capture (a gap of its length). Where the side's keys are settled (its
// Finished went before the gap; not TLS 1.0 CBC, whose IV is the lost ciphertext) the side
// finds the next record again (the lost chunk held whole records: their sequence numbers are
// skipped) and decrypts everything after it; the first piece after says plaintext was lost.
// Otherwise that side stops. The other side is never affected.
TEST_P(Vectors, GapResumesWhereTheKeysAreSettled) {
  const Vector v = load_vector(GetParam());
  const KeyLog keys = keys_of(v.keylog);
  // The largest chunk after the handshake that is not its side's last: lost.
  std::size_t lost = 0;
  for (std::size_t i = 4; i < v.chunks.size(); ++i)
    if (i != v.last_chunk(v.chunks[i].side) &&
        (lost == 0 || v.chunks[i].bytes.size() > v.chunks[lost].bytes.size()))
      lost = i;
  ASSERT_GT(lost, 0u);
  const Side gap_side = v.chunks[lost].side;
  const Side other = gap_side == Side::kClient ? Side::kServer : Side::kClient;
  std::uint64_t gap_offset = 0;  // where the gap starts in gap_side's stream
  for (std::size_t i = 0; i < lost; ++i)
    if (v.chunks[i].side == gap_side) gap_offset += v.chunks[i].bytes.size();
  const std::uint64_t gap_end = gap_offset + v.chunks[lost].bytes.size();
  Steps steps = whole(v);
  steps[lost] = Step{gap_side, {}, v.chunks[lost].bytes.size()};
  const Result r = run(keys, steps);
  const Result full = run(keys, whole(v));
  SCOPED_TRACE(r.transcript());
  const auto& pieces = full.out[ix(gap_side)].pieces;
  bool settled = false;  // the side's Finished was decrypted before the gap
  for (const PlainPiece& p : pieces)
    settled = settled || (p.type == ContentType::kHandshake && p.record_offset < gap_offset &&
                          full.out[ix(gap_side)].view(p)[0] == 20);
  const bool cbc10 = v.version < kTls11 && !v.tls13() && v.name.find("cbc") != std::string::npos;
  const bool resumes = settled && !cbc10;
  EXPECT_EQ(r.anomalies.get("tls.decrypt.gap"), 1u);
  EXPECT_EQ(r.anomalies.get("tls.decrypt.resynced"), resumes ? 1u : 0u);
  EXPECT_EQ(r.anomalies.total(), resumes ? 2u : 1u);
  EXPECT_EQ(r.state[ix(gap_side)], resumes ? DecryptState::kDecrypting : DecryptState::kGap);
  EXPECT_EQ(r.state[ix(other)], DecryptState::kDecrypting);
  // The gap side: every piece of the full run outside the lost chunk (or, when it stops,
  // before it), the first one after the gap marked.
  std::vector<const PlainPiece*> want;
  for (const PlainPiece& p : pieces)
    if (p.record_offset < gap_offset || (resumes && p.record_offset >= gap_end)) want.push_back(&p);
  const auto& got = r.out[ix(gap_side)].pieces;
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].type, want[i]->type);
    EXPECT_EQ(got[i].record_offset, want[i]->record_offset);
    EXPECT_EQ(got[i].gap_before,
              got[i].record_offset >= gap_end && (i == 0 || got[i - 1].record_offset < gap_end));
    EXPECT_EQ(to_hex(r.out[ix(gap_side)].view(got[i])),
              to_hex(full.out[ix(gap_side)].view(*want[i])));
  }
  // The other side: everything.
  EXPECT_TRUE(r.joined(other, ContentType::kApplicationData) == v.plain[ix(other)]);
  EXPECT_EQ(r.out[ix(other)].pieces.size(), full.out[ix(other)].pieces.size());
  EXPECT_EQ(r.records[ix(other)], full.records[ix(other)]);
}

// A gap inside a record whose header arrived: that record is lost, the next one follows its
// end (no search), and its sequence number is used.
TEST_P(Vectors, GapInsideARecordSkipsToItsEnd) {
  const Vector v = load_vector(GetParam());
  if (v.version < kTls11 && !v.tls13()) GTEST_SKIP() << "TLS 1.0 does not resume";
  const KeyLog keys = keys_of(v.keylog);
  const Result full = run(keys, whole(v));
  // The server's last application-data record but one: cut in its middle.
  const auto app = full.pieces(Side::kServer, ContentType::kApplicationData);
  if (app.size() < 2) GTEST_SKIP() << "fewer than two server records";
  const std::uint64_t victim = app[app.size() - 2].record_offset;
  const Bytes stream = v.stream(Side::kServer);
  std::uint64_t end = 0;
  for (const RecordInfo& ri : records_of(stream))
    if (ri.begin == victim) end = ri.begin + 5 + ri.length;
  ASSERT_GT(end, victim + 10);
  // Feed the client whole; the server up to 10 bytes into the victim, a gap to 3 bytes before
  // its end, then the rest.
  Steps steps;
  for (const Chunk& c : v.chunks)
    if (c.side == Side::kClient) steps.push_back({Side::kClient, c.bytes});
  const std::span<const std::uint8_t> all(stream);
  const std::size_t cut = static_cast<std::size_t>(victim) + 10;
  steps.push_back({Side::kServer, all.first(cut)});
  steps.push_back({Side::kServer, {}, end - 3 - cut});
  steps.push_back({Side::kServer, all.subspan(static_cast<std::size_t>(end) - 3)});
  // The client's bytes all go first here: a cut the session model never makes, but the
  // decryptor keeps each side on its own (the hellos are what crosses, and they come first).
  const Result r = run(keys, steps);
  SCOPED_TRACE(r.transcript());
  EXPECT_EQ(r.anomalies.get("tls.decrypt.gap"), 1u);
  EXPECT_EQ(r.anomalies.get("tls.decrypt.resynced"), 0u);
  EXPECT_EQ(r.state[ix(Side::kServer)], DecryptState::kDecrypting);
  const auto got = r.pieces(Side::kServer, ContentType::kApplicationData);
  ASSERT_EQ(got.size(), app.size() - 1);
  EXPECT_EQ(got.back().record_offset, app.back().record_offset);
  EXPECT_TRUE(got.back().gap_before);
  EXPECT_EQ(to_hex(r.out[ix(Side::kServer)].view(got.back())),
            to_hex(full.out[ix(Side::kServer)].view(app.back())));
}

TEST_P(Vectors, UnsupportedSuite) {
  const Vector v = load_vector(GetParam());
  Options options;
  // TLS_AES_128_CCM_SHA256 / TLS_ECDHE_ECDSA_WITH_AES_128_CCM: not supported.
  const std::uint16_t suite = v.tls13() ? 0x1304 : 0xc0ac;
  options.edit_server_hello = [suite](ServerHello& sh) { sh.cipher_suite = suite; };
  const Result r = run(keys_of(v.keylog), whole(v), options);
  EXPECT_EQ(r.anomalies.get("tls.decrypt.unsupported_suite"), 1u) << r.transcript();
  EXPECT_EQ(r.anomalies.total(), 1u) << r.transcript();
  for (Side side : kSides) {
    EXPECT_EQ(r.state[ix(side)], DecryptState::kUnsupported) << to_string(side);
    EXPECT_TRUE(r.out[ix(side)].pieces.empty());
    EXPECT_EQ(r.records[ix(side)], 0u);
  }
  EXPECT_EQ(r.overall, DecryptState::kUnsupported);
}

TEST_P(Tls13Vectors, WrongClientHandshakeSecretInTls13) {
  const Vector v = load_vector(GetParam());
  ASSERT_TRUE(v.tls13());
  // The client's first record under its handshake key does not open. Its ClientHello offered
  // no early data, so that is no rejected 0-RTT record (RFC 8446 §4.2.10) but a wrong
  // secret: tls.decrypt.bad_record once, the client's side stops. The server's side is
  // unaffected.
  const Result r = run(keys_of(flip_secret(v.keylog, "CLIENT_HANDSHAKE_TRAFFIC_SECRET")), whole(v));
  EXPECT_EQ(r.anomalies.get("tls.decrypt.bad_record"), 1u) << r.transcript();
  EXPECT_EQ(r.anomalies.get("tls.decrypt.early_data"), 0u) << r.transcript();
  EXPECT_EQ(r.anomalies.total(), 1u) << r.transcript();
  EXPECT_EQ(r.state[0], DecryptState::kBadRecord);
  EXPECT_TRUE(r.out[0].pieces.empty());
  EXPECT_EQ(r.records[0], 0u);
  EXPECT_EQ(r.state[1], DecryptState::kDecrypting);
  EXPECT_TRUE(r.joined(Side::kServer, ContentType::kApplicationData) == v.plain[1]);
}

TEST_P(Tls13Vectors, HandshakeMessageOverTheLimit) {
  const Vector v = load_vector(GetParam());
  ASSERT_TRUE(v.tls13());
  const KeyLog keys = keys_of(v.keylog);
  const Result full = run(keys, whole(v));
  // A limit just under the Certificate's body: it and every larger message are skipped.
  std::size_t limit = 0;
  for (const PlainPiece& p : full.pieces(Side::kServer, ContentType::kHandshake))
    if (full.out[1].view(p)[0] == kCertificateType) limit = p.length - 4 - 1;
  ASSERT_GT(limit, 0u);
  Options options;
  options.limits.max_handshake_bytes = limit;
  for (int cut = 0; cut < 2; ++cut) {
    SCOPED_TRACE(cut == 0 ? "whole" : "byte at a time");
    const Result r = run(keys, cut == 0 ? whole(v) : bytewise(v), options);
    std::uint64_t skipped = 0;
    for (Side side : kSides) {
      std::vector<std::string> want, got;
      for (const PlainPiece& p : full.pieces(side, ContentType::kHandshake)) {
        if (p.length - 4 > limit)
          ++skipped;
        else
          want.push_back(to_hex(full.out[ix(side)].view(p)));
      }
      for (const PlainPiece& p : r.pieces(side, ContentType::kHandshake))
        got.push_back(to_hex(r.out[ix(side)].view(p)));
      EXPECT_EQ(got, want) << to_string(side);
      EXPECT_TRUE(r.joined(side, ContentType::kApplicationData) == v.plain[ix(side)]);
      EXPECT_EQ(r.state[ix(side)], DecryptState::kDecrypting);
    }
    EXPECT_GE(skipped, 1u);
    EXPECT_EQ(r.anomalies.get("tls.decrypt.handshake_too_large"), skipped) << r.transcript();
    EXPECT_EQ(r.anomalies.total(), skipped);
  }
}

TEST_P(Vectors, RecordOverTheLimit) {
  const Vector v = load_vector(GetParam());
  const KeyLog keys = keys_of(v.keylog);
  const Result full = run(keys, whole(v));
  Options options;
  options.limits.max_record_length = 600;
  const Result r = run(keys, whole(v), options);
  std::uint64_t stopped = 0;
  for (Side side : kSides) {
    SCOPED_TRACE(to_string(side));
    // The side stops at its first record longer than the limit: what came before it only.
    std::uint64_t first_long = UINT64_MAX;
    for (const RecordInfo& rec : records_of(v.stream(side)))
      if (rec.length > 600 && first_long == UINT64_MAX) first_long = rec.begin;
    std::vector<std::string> want, got;
    for (const PlainPiece& p : full.out[ix(side)].pieces)
      if (p.record_offset < first_long) want.push_back(to_hex(full.out[ix(side)].view(p)));
    for (const PlainPiece& p : r.out[ix(side)].pieces)
      got.push_back(to_hex(r.out[ix(side)].view(p)));
    EXPECT_EQ(got, want);
    if (first_long != UINT64_MAX) {
      ++stopped;
      EXPECT_EQ(r.state[ix(side)], DecryptState::kBadRecord);
    } else {
      EXPECT_EQ(r.state[ix(side)], DecryptState::kDecrypting);
    }
  }
  EXPECT_GE(stopped, 1u);  // every vector has a record over 600 bytes
  EXPECT_EQ(r.anomalies.get("tls.decrypt.bad_framing"), stopped) << r.transcript();
  EXPECT_EQ(r.anomalies.total(), stopped) << r.transcript();
}

TEST_P(Tls12Vectors, JoinedAfterTheHellos) {
  const Vector v = load_vector(GetParam());
  ASSERT_FALSE(v.tls13());
  // The capture starts after the ClientHello and the server's first flight: the client's
  // next chunk starts with its ClientKeyExchange, the server's with its NewSessionTicket
  // (handshake records). Without the client random no secret can be found: no-secret, once.
  ASSERT_EQ(v.chunks[0].side, Side::kClient);
  ASSERT_EQ(v.chunks[1].side, Side::kServer);
  Steps steps = whole(v);
  steps.erase(steps.begin(), steps.begin() + 2);
  ASSERT_EQ(steps[0].bytes[0], 22);
  const Result r = run(keys_of(v.keylog), steps);
  EXPECT_EQ(r.anomalies.get("tls.decrypt.no_secret"), 1u) << r.transcript();
  EXPECT_EQ(r.anomalies.total(), 1u) << r.transcript();
  for (Side side : kSides) {
    EXPECT_EQ(r.state[ix(side)], DecryptState::kNoSecret) << to_string(side);
    EXPECT_TRUE(r.out[ix(side)].pieces.empty());
    EXPECT_EQ(r.records[ix(side)], 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(TlsDecrypt, Vectors, ::testing::ValuesIn(vector_names()), param_name);

INSTANTIATE_TEST_SUITE_P(TlsDecrypt, Tls12Vectors,
                         ::testing::Values("tls12-aes128gcm", "tls12-aes256gcm", "tls12-chacha20",
                                           "tls12-cbc-sha-etm", "tls12-cbc-sha-mte",
                                           "tls12-cbc-sha256-etm", "tls12-cbc-sha384-mte",
                                           "tls10-cbc-sha-etm", "tls11-cbc-sha-mte"),
                         param_name);
INSTANTIATE_TEST_SUITE_P(TlsDecrypt, Tls13Vectors,
                         ::testing::Values("tls13-aes128gcm", "tls13-aes256gcm", "tls13-chacha20",
                                           "tls13-hrr", "rfc8448-1rtt"),
                         param_name);

// Cut at every offset: the short RFC 8448 transcript, and the handshake and first records of
// one TLS 1.2 and one TLS 1.3 vector (their first 3000 bytes; the rest is fed as it crossed).
TEST(TlsDecryptSplits, EveryOffset) {
  for (const char* name : {"rfc8448-1rtt", "tls12-cbc-sha-mte", "tls13-chacha20"}) {
    const Vector v = load_vector(name);
    const KeyLog keys = keys_of(v.keylog);
    const std::string expected = run(keys, whole(v)).transcript();
    std::size_t total = 0;
    for (const Chunk& c : v.chunks)
      total += c.bytes.size();
    const std::size_t limit = std::min<std::size_t>(total, 3000);
    std::size_t differ = 0;
    for (std::size_t cut = 1; cut < limit; ++cut) {
      if (run(keys, cut_at(v, cut)).transcript() != expected) {
        if (differ++ == 0) ADD_FAILURE() << name << ": cut at offset " << cut << " differs";
      }
    }
    EXPECT_EQ(differ, 0u) << name;
    expect_plaintext(v, run(keys, cut_at(v, limit / 2)), "cut in the middle");
  }
}

// ---------------------------------------------------------------------------------------------
// Test-side TLS 1.3 record protection (RFC 8446 §5.2, §5.3, §7.1-§7.3), for KeyUpdate

struct Suite13 {
  const EVP_MD* md;
  const EVP_CIPHER* cipher;
  std::size_t key_len;
};

Suite13 suite13(std::uint16_t suite) {
  switch (suite) {
    case 0x1302:
      return {EVP_sha384(), EVP_aes_256_gcm(), 32};
    case 0x1303:
      return {EVP_sha256(), EVP_chacha20_poly1305(), 32};
    default:
      return {EVP_sha256(), EVP_aes_128_gcm(), 16};
  }
}

Bytes hmac(const EVP_MD* md, std::span<const std::uint8_t> key,
           std::span<const std::uint8_t> data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len);
  out.resize(len);
  return out;
}

/// HKDF-Expand (RFC 5869 §2.3).
Bytes hkdf_expand(const EVP_MD* md, std::span<const std::uint8_t> prk,
                  std::span<const std::uint8_t> info, std::size_t length) {
  Bytes out, t;
  for (std::uint8_t i = 1; out.size() < length; ++i) {
    Bytes in = t;
    append(in, info);
    in.push_back(i);
    t = hmac(md, prk, in);
    append(out, t);
  }
  out.resize(length);
  return out;
}

/// HKDF-Expand-Label(secret, label, "", length) (RFC 8446 §7.1).
Bytes expand_label(const EVP_MD* md, std::span<const std::uint8_t> secret, std::string_view label,
                   std::size_t length) {
  const std::string full = "tls13 " + std::string(label);
  Bytes info{static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length),
             static_cast<std::uint8_t>(full.size())};
  append(info, bytes_of(full));
  info.push_back(0);  // empty context
  return hkdf_expand(md, secret, info, length);
}

struct TrafficKeys {
  Bytes key, iv;
};

TrafficKeys traffic_keys(const Suite13& s, std::span<const std::uint8_t> secret) {
  return {expand_label(s.md, secret, "key", s.key_len), expand_label(s.md, secret, "iv", 12)};
}

Bytes nonce(const TrafficKeys& k, std::uint64_t seq) {
  Bytes n = k.iv;
  for (std::size_t i = 0; i < 8; ++i)
    n[11 - i] ^= static_cast<std::uint8_t>(seq >> (8 * i));
  return n;
}

/// A TLSCiphertext record carrying @p content of @p type, sealed with sequence number @p seq.
Bytes seal(const Suite13& s, const TrafficKeys& k, std::uint64_t seq,
           std::span<const std::uint8_t> content, std::uint8_t type, std::size_t padding = 0) {
  Bytes inner(content.begin(), content.end());
  inner.push_back(type);
  inner.resize(inner.size() + padding, 0);  // TLSInnerPlaintext zeros (RFC 8446 §5.4)
  const std::size_t len = inner.size() + 16;
  Bytes rec{23, 3, 3, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)};
  const Bytes n = nonce(k, seq);
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      &EVP_CIPHER_CTX_free);
  Bytes out(inner.size() + 16);
  int outl = 0;
  EXPECT_EQ(EVP_EncryptInit_ex(ctx.get(), s.cipher, nullptr, nullptr, nullptr), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr), 1);
  EXPECT_EQ(EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, k.key.data(), n.data()), 1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx.get(), nullptr, &outl, rec.data(), 5), 1);
  EXPECT_EQ(
      EVP_EncryptUpdate(ctx.get(), out.data(), &outl, inner.data(), static_cast<int>(inner.size())),
      1);
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx.get(), out.data() + outl, &outl), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, 16, out.data() + inner.size()),
            1);
  append(rec, out);
  return rec;
}

/// Opens one record sealed as seal() does: the inner plaintext (content and type), or empty.
Bytes open(const Suite13& s, const TrafficKeys& k, std::uint64_t seq,
           std::span<const std::uint8_t> rec) {
  if (rec.size() < 5 + 16) return {};
  const Bytes n = nonce(k, seq);
  const std::size_t len = rec.size() - 5 - 16;
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      &EVP_CIPHER_CTX_free);
  Bytes out(len + 16);
  Bytes tag(rec.end() - 16, rec.end());
  int outl = 0, fin = 0;
  EVP_DecryptInit_ex(ctx.get(), s.cipher, nullptr, nullptr, nullptr);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr);
  EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, k.key.data(), n.data());
  EVP_DecryptUpdate(ctx.get(), nullptr, &outl, rec.data(), 5);
  EVP_DecryptUpdate(ctx.get(), out.data(), &outl, rec.data() + 5, static_cast<int>(len));
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, 16, tag.data());
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + outl, &fin) != 1) return {};
  out.resize(len);
  return out;
}

// The test-side key schedule and record protection against RFC 8448 §3's published values.
TEST(TlsDecryptRfc8448, TestSideCryptoMatchesTheRfc) {
  const Suite13 s = suite13(0x1301);
  const Vector v = load_vector("rfc8448-1rtt");
  const TrafficKeys shs = traffic_keys(s, secret_of(v.keylog, "SERVER_HANDSHAKE_TRAFFIC_SECRET"));
  EXPECT_EQ(to_hex(shs.key), "3fce516009c21727d0f2e4e86ee403bc");
  EXPECT_EQ(to_hex(shs.iv), "5d313eb2671276ee13000b30");
  const TrafficKeys cap = traffic_keys(s, secret_of(v.keylog, "CLIENT_TRAFFIC_SECRET_0"));
  EXPECT_EQ(to_hex(cap.key), "17422dda596ed5d9acd890e3c63f5051");
  EXPECT_EQ(to_hex(cap.iv), "5b78923dee08579033e523d9");
  const TrafficKeys sap = traffic_keys(s, secret_of(v.keylog, "SERVER_TRAFFIC_SECRET_0"));
  EXPECT_EQ(to_hex(sap.key), "9f02283b6c9c07efc26bb9f2ac92e356");
  EXPECT_EQ(to_hex(sap.iv), "cf782b88dd83549aadf1e984");

  // The server's encrypted flight (after its 95-byte ServerHello record) opens to the four
  // handshake messages of the transcript file, and sealing them again gives the RFC's bytes.
  const std::span<const std::uint8_t> flight =
      std::span<const std::uint8_t>(v.chunks[1].bytes).subspan(95);
  Bytes expected;
  for (std::size_t i = 0; i < 4; ++i)
    append(expected, v.handshake[1][i]);
  const Bytes inner = open(s, shs, 0, flight);
  ASSERT_FALSE(inner.empty()) << "the transcribed flight record does not open";
  EXPECT_EQ(to_hex(inner), to_hex(expected) + "16");
  EXPECT_EQ(to_hex(seal(s, shs, 0, expected, 22)), to_hex(flight));
  // The client's application data (seq 0) and the server's (seq 1, after the ticket).
  EXPECT_EQ(to_hex(open(s, cap, 0, v.chunks[4].bytes)), to_hex(v.plain[0]) + "17");
  EXPECT_EQ(to_hex(open(s, sap, 1, v.chunks[5].bytes)), to_hex(v.plain[1]) + "17");
}

// ---------------------------------------------------------------------------------------------
// KeyUpdate (RFC 8446 §4.6.3, §7.2): the client updates its keys twice before it closes.

class KeyUpdates : public ::testing::TestWithParam<std::string> {};

/// The side updates its keys twice before it closes (records sealed here), the second time
/// with update_requested and a padded record; the other side is untouched.
void key_updates(const std::string& name, Side side) {
  SCOPED_TRACE(name + " " + std::string(to_string(side)));
  const Vector v = load_vector(name);
  ASSERT_TRUE(v.tls13());
  const Suite13 s = suite13(v.suite);
  const std::size_t hash_len = static_cast<std::size_t>(EVP_MD_get_size(s.md));
  const KeyLog keys = keys_of(v.keylog);
  const Side other = side == Side::kClient ? Side::kServer : Side::kClient;

  // Everything but the two close_notify chunks, as it crossed.
  const std::size_t last_c = v.last_chunk(Side::kClient), last_s = v.last_chunk(Side::kServer);
  Steps steps;
  Bytes sent;
  for (std::size_t i = 0; i < v.chunks.size(); ++i) {
    if (i == last_c || i == last_s) continue;
    steps.push_back({v.chunks[i].side, v.chunks[i].bytes});
    if (v.chunks[i].side == side) append(sent, v.chunks[i].bytes);
  }
  // The side's next application-traffic sequence number: its encrypted records but those
  // under the handshake keys (they open with them, test-side).
  const TrafficKeys hs = traffic_keys(
      s, secret_of(v.keylog, side == Side::kClient ? "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
                                                   : "SERVER_HANDSHAKE_TRAFFIC_SECRET"));
  std::uint64_t seq = 0, under_hs = 0;
  for (const RecordInfo& r : records_of(sent)) {
    if (r.type != 23) continue;
    const auto rec = std::span<const std::uint8_t>(sent).subspan(r.begin, 5 + r.length);
    if (seq == under_hs && !open(s, hs, under_hs, rec).empty()) ++under_hs;
    ++seq;
  }
  ASSERT_GE(under_hs, 1u);
  seq -= under_hs;

  const Bytes secret0 = secret_of(
      v.keylog, side == Side::kClient ? "CLIENT_TRAFFIC_SECRET_0" : "SERVER_TRAFFIC_SECRET_0");
  ASSERT_EQ(secret0.size(), hash_len);
  const Bytes secret1 = expand_label(s.md, secret0, "traffic upd", hash_len);
  const Bytes secret2 = expand_label(s.md, secret1, "traffic upd", hash_len);
  const TrafficKeys k0 = traffic_keys(s, secret0), k1 = traffic_keys(s, secret1),
                    k2 = traffic_keys(s, secret2);
  const Bytes key_update{24, 0, 0, 1, 0};      // update_not_requested
  const Bytes key_update_req{24, 0, 0, 1, 1};  // update_requested
  const Bytes close_notify{1, 0};
  Bytes first = seal(s, k0, seq, key_update, 22);
  append(first, seal(s, k1, 0, bytes_of("after the first key update"), 23));
  const Bytes second = seal(s, k1, 1, bytes_of("still generation 1"), 23, 100);
  Bytes third = seal(s, k1, 2, key_update_req, 22, 7);
  append(third, seal(s, k2, 0, bytes_of("generation 2"), 23));
  append(third, seal(s, k2, 1, close_notify, 21));
  steps.push_back({side, first});
  steps.push_back({side, second});
  steps.push_back({side, third});
  steps.push_back({other, v.chunks[other == Side::kClient ? last_c : last_s].bytes});

  const Result full = run(keys, whole(v));
  for (int cut = 0; cut < 2; ++cut) {
    Steps fed = steps;
    if (cut == 1) {
      // Byte at a time.
      fed.clear();
      for (const Step& st : steps)
        for (std::size_t i = 0; i < st.bytes.size(); ++i)
          fed.push_back({st.side, st.bytes.subspan(i, 1)});
    }
    const Result r = run(keys, fed);
    SCOPED_TRACE(cut == 0 ? "whole" : "byte at a time");
    EXPECT_EQ(r.anomalies.total(), 0u) << r.transcript();
    EXPECT_EQ(r.state[ix(side)], DecryptState::kDecrypting);
    EXPECT_EQ(r.records[ix(side)], under_hs + seq + 6);
    Bytes want = v.plain[ix(side)];
    append(want, bytes_of("after the first key updatestill generation 1generation 2"));
    const Bytes got = r.joined(side, ContentType::kApplicationData);
    EXPECT_EQ(std::string(got.begin(), got.end()), std::string(want.begin(), want.end()));
    // The handshake messages of the whole run, then the two KeyUpdates.
    const auto hs_full = full.pieces(side, ContentType::kHandshake);
    const auto hs_got = r.pieces(side, ContentType::kHandshake);
    ASSERT_EQ(hs_got.size(), hs_full.size() + 2);
    EXPECT_EQ(to_hex(r.out[ix(side)].view(hs_got[hs_got.size() - 2])), "1800000100");
    EXPECT_EQ(to_hex(r.out[ix(side)].view(hs_got.back())), "1800000101");
    EXPECT_EQ(to_hex(r.joined(side, ContentType::kAlert)), "0100");
    // The other side is untouched.
    EXPECT_TRUE(r.joined(other, ContentType::kApplicationData) == v.plain[ix(other)]);
    EXPECT_EQ(to_hex(r.joined(other, ContentType::kAlert)), "0100");
    EXPECT_EQ(r.records[ix(other)], full.records[ix(other)]);
  }

  // A KeyUpdate followed by a record still under the old key (the decryptor must have moved
  // on): bad_record, that side only.
  Steps stale(steps.begin(), steps.end() - 4);
  Bytes wrong = seal(s, k0, seq, key_update, 22);
  append(wrong, seal(s, k0, seq + 1, bytes_of("old key"), 23));
  stale.push_back({side, wrong});
  const Result r = run(keys, stale);
  EXPECT_EQ(r.anomalies.get("tls.decrypt.bad_record"), 1u) << r.transcript();
  EXPECT_EQ(r.anomalies.total(), 1u) << r.transcript();
  EXPECT_EQ(r.state[ix(side)], DecryptState::kBadRecord);
  EXPECT_EQ(r.state[ix(other)], DecryptState::kDecrypting);
}

TEST_P(KeyUpdates, ClientUpdatesTwice) {
  key_updates(GetParam(), Side::kClient);
}
TEST_P(KeyUpdates, ServerUpdatesTwice) {
  key_updates(GetParam(), Side::kServer);
}

INSTANTIATE_TEST_SUITE_P(TlsDecrypt, KeyUpdates,
                         ::testing::Values("tls13-aes128gcm", "tls13-aes256gcm", "tls13-chacha20"),
                         param_name);

// ---------------------------------------------------------------------------------------------
// KeyLog parsing

const std::string kRandom1 = std::string(64, 'a');
const std::string kRandom2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kMaster = std::string(96, '5');

std::array<std::uint8_t, 32> random_of(const std::string& hex) {
  std::array<std::uint8_t, 32> r{};
  const Bytes b = from_hex(hex);
  std::copy_n(b.begin(), 32, r.begin());
  return r;
}

TEST(TlsDecryptKeyLog, CommentsBlankLinesCrlfAndCase) {
  std::string upper = kRandom2;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  const std::string secret = "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff";
  const std::string text =
      "# SSL/TLS secrets log file\r\n\r\n\n   \n"
      "CLIENT_RANDOM " +
      upper + " " + kMaster +
      "\r\n"
      "# another comment\n"
      "SERVER_HANDSHAKE_TRAFFIC_SECRET " +
      kRandom1 + " " + secret +
      "\r\n"
      "CLIENT_TRAFFIC_SECRET_0 " +
      kRandom1 + " " + secret;  // no newline
  KeyLog keys;
  keys.load_text(text);
  EXPECT_EQ(keys.anomalies().total(), 0u);
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys.lines_used(), 3u);
  const auto r2 = random_of(kRandom2);
  const KeyLog::Secrets* s2 = keys.find(r2);
  ASSERT_NE(s2, nullptr);
  EXPECT_EQ(to_hex(s2->master), kMaster);
  EXPECT_TRUE(s2->server_handshake.empty());
  const auto r1 = random_of(kRandom1);
  const KeyLog::Secrets* s1 = keys.find(r1);
  ASSERT_NE(s1, nullptr);
  EXPECT_TRUE(s1->master.empty());
  EXPECT_EQ(to_hex(s1->server_handshake),
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  EXPECT_EQ(s1->client_traffic, s1->server_handshake);
  EXPECT_TRUE(s1->client_handshake.empty());
  EXPECT_TRUE(s1->server_traffic.empty());
  EXPECT_EQ(keys.find(random_of(std::string(64, 'b'))), nullptr);
}

TEST(TlsDecryptKeyLog, BadLines) {
  const std::vector<std::string> bad = {
      "CLIENT_RANDOM " + kRandom1,                                   // no secret
      "CLIENT_RANDOM " + kRandom1 + "zz " + kMaster,                 // random too long, not hex
      "CLIENT_RANDOM " + kRandom1.substr(2) + " " + kMaster,         // random too short
      "CLIENT_RANDOM " + kRandom1 + " " + kMaster.substr(1),         // odd secret
      "CLIENT_RANDOM " + kRandom1 + " " + kMaster.substr(2) + "g0",  // not hex
      "CLIENT_RANDOM " + kRandom1 + " " + std::string(2000, 'a'),    // over max_line_bytes
      "garbage",
  };
  for (const std::string& line : bad) {
    KeyLog keys;
    keys.load_text(line + "\n");
    EXPECT_EQ(keys.anomalies().get("keylog.bad_line"), 1u) << line.substr(0, 100);
    EXPECT_EQ(keys.anomalies().total(), 1u) << line.substr(0, 100);
    EXPECT_EQ(keys.size(), 0u) << line.substr(0, 100);
    EXPECT_EQ(keys.lines_used(), 0u);
  }
  // Counted one by one, good lines kept.
  std::string all;
  for (const std::string& line : bad)
    all += line + "\n";
  all += "CLIENT_RANDOM " + kRandom2 + " " + kMaster + "\n";
  KeyLog keys;
  keys.load_text(all);
  EXPECT_EQ(keys.anomalies().get("keylog.bad_line"), bad.size());
  EXPECT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys.lines_used(), 1u);
}

TEST(TlsDecryptKeyLog, UnknownLabel) {
  KeyLog keys;
  // Exporter secrets are known and not needed: skipped without an anomaly. Early-data secrets
  // and labels nobody defined are unknown labels.
  keys.load_text("EXPORTER_SECRET " + kRandom1 + " " + std::string(64, '1') + "\n" +
                 "EARLY_EXPORTER_SECRET " + kRandom1 + " " + std::string(64, '1') + "\n" +
                 "CLIENT_EARLY_TRAFFIC_SECRET " + kRandom1 + " " + std::string(64, '2') + "\n" +
                 "NO_SUCH_SECRET " + kRandom1 + " " + std::string(64, '3') + "\n" +
                 // RSA key exchange: the first 8 bytes of the encrypted premaster, then it.
                 "RSA " + std::string(16, 'a') + " " + std::string(96, '4') + "\n" +
                 "CLIENT_RANDOM " + kRandom1 + " " + kMaster + "\n");
  EXPECT_EQ(keys.anomalies().get("keylog.unknown_label"), 3u);
  EXPECT_EQ(keys.anomalies().total(), 3u);
  EXPECT_EQ(keys.lines_used(), 1u);
  EXPECT_EQ(keys.size(), 1u);
}

TEST(TlsDecryptKeyLog, ConflictingDuplicateKeepsTheFirst) {
  KeyLog keys;
  const std::string other = std::string(95, '5') + "6";
  keys.load_text("CLIENT_RANDOM " + kRandom1 + " " + kMaster + "\n" +  // first
                 "CLIENT_RANDOM " + kRandom1 + " " + kMaster + "\n" +  // same again: fine
                 "CLIENT_RANDOM " + kRandom1 + " " + other + "\n");    // conflict
  EXPECT_EQ(keys.anomalies().get("keylog.conflict"), 1u);
  EXPECT_EQ(keys.anomalies().total(), 1u);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(to_hex(keys.find(random_of(kRandom1))->master), kMaster);
}

TEST(TlsDecryptKeyLog, TooManyEntries) {
  KeyLog::Limits limits;
  limits.max_entries = 2;
  KeyLog keys(limits);
  std::string text;
  for (char c : {'1', '2', '3', '4'})
    text += "CLIENT_RANDOM " + std::string(64, c) + " " + kMaster + "\n";
  // A second label for a random already in: not a new entry.
  text += "SERVER_TRAFFIC_SECRET_0 " + std::string(64, '1') + " " + std::string(64, 'e') + "\n";
  keys.load_text(text);
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys.anomalies().get("keylog.too_many_entries"), 2u);
  EXPECT_EQ(keys.anomalies().total(), 2u);
  EXPECT_NE(keys.find(random_of(std::string(64, '1'))), nullptr);
  EXPECT_NE(keys.find(random_of(std::string(64, '2'))), nullptr);
  EXPECT_EQ(keys.find(random_of(std::string(64, '3'))), nullptr);
  EXPECT_EQ(keys.find(random_of(std::string(64, '4'))), nullptr);
  EXPECT_EQ(to_hex(keys.find(random_of(std::string(64, '1')))->server_traffic),
            std::string(64, 'e'));
}

std::string temp_file(const std::string& contents, mode_t mode) {
  char path[] = "/tmp/fedscope-keylog-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
  close(fd);
  EXPECT_EQ(chmod(path, mode), 0);
  return path;
}

TEST(TlsDecryptKeyLog, LoadFileAndExposure) {
  const std::string text = "CLIENT_RANDOM " + kRandom1 + " " + kMaster + "\n";
  const std::string private_file = temp_file(text, 0600);
  const std::string group_file = temp_file(text, 0640);
  const std::string world_file = temp_file(text, 0644);
  EXPECT_FALSE(keylog_file_exposed(private_file));
  EXPECT_TRUE(keylog_file_exposed(group_file));
  EXPECT_TRUE(keylog_file_exposed(world_file));
  EXPECT_FALSE(keylog_file_exposed("/nonexistent/fedscope/keylog.txt"));

  KeyLog keys;
  std::string error;
  EXPECT_TRUE(keys.load_file(private_file, error)) << error;
  EXPECT_EQ(error, "");
  EXPECT_EQ(keys.size(), 1u);
  EXPECT_FALSE(keys.load_file("/nonexistent/fedscope/keylog.txt", error));
  EXPECT_NE(error, "");

  KeyLog::Limits small;
  small.max_file_bytes = 10;
  KeyLog limited(small);
  error.clear();
  EXPECT_FALSE(limited.load_file(private_file, error));
  EXPECT_NE(error, "");
  EXPECT_EQ(limited.size(), 0u);
  for (const std::string& p : {private_file, group_file, world_file})
    std::remove(p.c_str());
}

// load_file() reads in 64 KiB blocks: lines that cross a block boundary, a line longer than
// max_line_bytes (counted once, also when it spans blocks) and a last line without a newline
// give what load_text() of the whole file gives.
TEST(TlsDecryptKeyLog, LoadFileInBlocks) {
  std::string text;
  std::size_t lines = 0;
  auto line = [&](std::size_t i) {
    char hex[65];
    std::snprintf(hex, sizeof hex, "%064zx", i);
    text += "CLIENT_RANDOM " + std::string(hex) + " " + kMaster + "\n";
    ++lines;
  };
  while (text.size() < 70'000)
    line(lines);                                    // one crosses 65 536
  text += "# " + std::string(150'000, 'x') + "\n";  // too long, over two blocks
  while (text.size() < 300'000)
    line(lines);
  text += "CLIENT_RANDOM " + std::string(64, 'f') + " " + kMaster;  // no newline at the end
  ++lines;
  const std::string file = temp_file(text, 0600);
  KeyLog from_file;
  std::string error;
  ASSERT_TRUE(from_file.load_file(file, error)) << error;
  KeyLog from_text;
  from_text.load_text(text);
  EXPECT_EQ(from_file.size(), lines);
  EXPECT_EQ(from_file.size(), from_text.size());
  EXPECT_EQ(from_file.lines_used(), lines);
  EXPECT_EQ(from_file.anomalies().get("keylog.bad_line"), 1u);
  EXPECT_EQ(from_file.anomalies().all(), from_text.anomalies().all());
  EXPECT_NE(from_file.find(random_of(std::string(64, 'f'))), nullptr);
  std::remove(file.c_str());
}

}  // namespace
}  // namespace fedscope::tls
