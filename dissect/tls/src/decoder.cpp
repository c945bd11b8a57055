// The TLS session decoder: record framing per direction, handshake reassembly, the cleartext
// handshake messages, and the cross-direction rules that say where encryption starts.
//
// Each direction is a byte-exact state machine: a record header is collected byte by byte
// (5 bytes, checked as soon as each byte decides something), then the record body is either
// skipped (encrypted records, application data: counted, never copied), or fed to the
// handshake reassembler (which holds at most one message), or read as an alert or a
// ChangeCipherSpec. Every event is emitted while processing one specific byte, so events and
// offsets do not depend on how the input is cut.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "certificate_chain.hpp"
#include "fedscope/tls/decoder.hpp"

namespace fedscope::tls {
namespace {

constexpr std::size_t kHeaderBytes = 5;
constexpr std::size_t kHandshakeHeaderBytes = 4;
constexpr std::size_t kFirstBytes = 32;
constexpr std::size_t kShrinkAbove = 64 * 1024;

/// ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3).
constexpr std::array<std::uint8_t, 32> kHelloRetryRandom = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

constexpr std::uint16_t kExtServerName = 0;
constexpr std::uint16_t kExtAlpn = 16;
constexpr std::uint16_t kExtEncryptThenMac = 22;
constexpr std::uint16_t kExtEarlyData = 42;
constexpr std::uint16_t kExtSupportedVersions = 43;
constexpr std::uint16_t kExtKeyShare = 51;

// ---------------------------------------------------------------------------------------------
// Bounds-checked reading of a handshake message body

class Reader {
 public:
  Reader() = default;
  explicit Reader(std::span<const std::uint8_t> b) : b_(b) {}

  bool u8(std::uint8_t& v) {
    if (left() < 1) return false;
    v = b_[pos_++];
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (left() < 2) return false;
    v = static_cast<std::uint16_t>(b_[pos_] << 8 | b_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u24(std::uint32_t& v) {
    if (left() < 3) return false;
    v = static_cast<std::uint32_t>(b_[pos_]) << 16 | static_cast<std::uint32_t>(b_[pos_ + 1]) << 8 |
        b_[pos_ + 2];
    pos_ += 3;
    return true;
  }
  bool bytes(std::size_t n, std::span<const std::uint8_t>& out) {
    if (left() < n) return false;
    out = b_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool sub(std::size_t n, Reader& out) {
    std::span<const std::uint8_t> s;
    if (!bytes(n, s)) return false;
    out = Reader(s);
    return true;
  }
  bool skip(std::size_t n) {
    if (left() < n) return false;
    pos_ += n;
    return true;
  }
  std::size_t left() const { return b_.size() - pos_; }
  bool empty() const { return left() == 0; }

 private:
  std::span<const std::uint8_t> b_;
  std::size_t pos_ = 0;
};

/// What parsing had to cut (reported as anomalies after the message's event).
struct Cuts {
  bool list = false;
  bool name = false;
};

template <typename T>
void push_capped(std::vector<T>& v, T value, const Limits& limits, Cuts& cuts) {
  if (v.size() >= limits.max_list_entries) {
    cuts.list = true;
    return;
  }
  v.push_back(std::move(value));
}

std::string name_of(std::span<const std::uint8_t> b, const Limits& limits, Cuts& cuts) {
  if (b.size() > limits.max_name_bytes) {
    cuts.name = true;
    b = b.first(limits.max_name_bytes);
  }
  return std::string(b.begin(), b.end());
}

// ---------------------------------------------------------------------------------------------
// Handshake message bodies. Each returns "" or what is wrong (the Anomaly detail).

std::string parse_sni(Reader e, ClientHello& out, const Limits& limits, Cuts& cuts) {
  std::uint16_t list_len = 0;
  Reader list;
  if (!e.u16(list_len) || !e.sub(list_len, list) || !e.empty())
    return "ClientHello: bad server_name extension";
  while (!list.empty()) {
    std::uint8_t type = 0;
    std::uint16_t len = 0;
    std::span<const std::uint8_t> name;
    if (!list.u8(type) || !list.u16(len) || !list.bytes(len, name))
      return "ClientHello: server_name entry overruns";
    if (type == 0 && out.sni.empty()) out.sni = name_of(name, limits, cuts);
  }
  return "";
}

std::string parse_alpn_list(Reader e, std::vector<std::string>& out, const Limits& limits,
                            Cuts& cuts) {
  std::uint16_t list_len = 0;
  Reader list;
  if (!e.u16(list_len) || !e.sub(list_len, list) || !e.empty() || list.empty())
    return "bad ALPN extension";
  while (!list.empty()) {
    std::uint8_t len = 0;
    std::span<const std::uint8_t> proto;
    if (!list.u8(len) || len == 0 || !list.bytes(len, proto)) return "ALPN entry overruns";
    push_capped(out, name_of(proto, limits, cuts), limits, cuts);
  }
  return "";
}

std::string parse_client_hello(std::span<const std::uint8_t> body, ClientHello& out,
                               const Limits& limits, Cuts& cuts) {
  Reader r(body);
  std::uint8_t sid_len = 0;
  std::span<const std::uint8_t> random;
  if (!r.u16(out.legacy_version) || !r.bytes(32, random) || !r.u8(sid_len) || sid_len > 32 ||
      !r.skip(sid_len))
    return "ClientHello: too short or bad session id";
  std::copy(random.begin(), random.end(), out.random.begin());
  std::uint16_t suites_len = 0;
  Reader suites;
  if (!r.u16(suites_len) || suites_len % 2 != 0 || suites_len == 0 || !r.sub(suites_len, suites))
    return "ClientHello: bad cipher suite list";
  while (!suites.empty()) {
    std::uint16_t s = 0;
    suites.u16(s);
    push_capped(out.cipher_suites, s, limits, cuts);
  }
  std::uint8_t comp_len = 0;
  if (!r.u8(comp_len) || comp_len == 0 || !r.skip(comp_len))
    return "ClientHello: bad compression methods";
  if (r.empty()) return "";  // no extensions (SSL 3.0 / TLS 1.0 style)
  std::uint16_t ext_len = 0;
  Reader exts;
  if (!r.u16(ext_len) || !r.sub(ext_len, exts) || !r.empty())
    return "ClientHello: extensions length does not match the message";
  while (!exts.empty()) {
    std::uint16_t type = 0;
    std::uint16_t len = 0;
    Reader e;
    if (!exts.u16(type) || !exts.u16(len) || !exts.sub(len, e))
      return "ClientHello: extension overruns the message";
    std::string why;
    if (type == kExtServerName) {
      why = parse_sni(e, out, limits, cuts);
    } else if (type == kExtAlpn) {
      why = parse_alpn_list(e, out.alpn, limits, cuts);
      if (!why.empty()) why = "ClientHello: " + why;
    } else if (type == kExtSupportedVersions) {
      std::uint8_t n = 0;
      Reader versions;
      if (!e.u8(n) || n % 2 != 0 || n == 0 || !e.sub(n, versions) || !e.empty())
        return "ClientHello: bad supported_versions extension";
      while (!versions.empty()) {
        std::uint16_t v = 0;
        versions.u16(v);
        push_capped(out.supported_versions, v, limits, cuts);
      }
    } else if (type == kExtKeyShare) {
      out.has_key_share = true;
    } else if (type == kExtEarlyData) {
      out.early_data = true;
    }
    if (!why.empty()) return why;
  }
  return "";
}

std::string parse_server_hello(std::span<const std::uint8_t> body, ServerHello& out,
                               const Limits& limits, Cuts& cuts) {
  Reader r(body);
  std::span<const std::uint8_t> random;
  std::uint8_t sid_len = 0;
  std::uint8_t compression = 0;
  if (!r.u16(out.legacy_version) || !r.bytes(32, random) || !r.u8(sid_len) || sid_len > 32 ||
      !r.skip(sid_len) || !r.u16(out.cipher_suite) || !r.u8(compression))
    return "ServerHello: too short or bad session id";
  out.hello_retry_request = std::equal(random.begin(), random.end(), kHelloRetryRandom.begin());
  std::copy(random.begin(), random.end(), out.random.begin());
  out.version = out.legacy_version;
  if (r.empty()) return "";
  std::uint16_t ext_len = 0;
  Reader exts;
  if (!r.u16(ext_len) || !r.sub(ext_len, exts) || !r.empty())
    return "ServerHello: extensions length does not match the message";
  while (!exts.empty()) {
    std::uint16_t type = 0;
    std::uint16_t len = 0;
    Reader e;
    if (!exts.u16(type) || !exts.u16(len) || !exts.sub(len, e))
      return "ServerHello: extension overruns the message";
    if (type == kExtSupportedVersions) {
      if (!e.u16(out.version) || !e.empty()) return "ServerHello: bad supported_versions";
    } else if (type == kExtEncryptThenMac) {
      out.encrypt_then_mac = true;
    } else if (type == kExtAlpn) {
      std::vector<std::string> protos;
      std::string why = parse_alpn_list(e, protos, limits, cuts);
      if (!why.empty()) return "ServerHello: " + why;
      if (protos.size() != 1) return "ServerHello: ALPN must select one protocol";
      out.alpn = std::move(protos.front());
    }
  }
  return "";
}

/// TLS ≤ 1.2 Certificate body: the DER entries (at most @p keep of them) and their count.
std::string split_certificates(std::span<const std::uint8_t> body, std::size_t keep,
                               std::vector<std::span<const std::uint8_t>>& ders,
                               std::size_t& total) {
  Reader r(body);
  std::uint32_t list_len = 0;
  Reader list;
  if (!r.u24(list_len) || !r.sub(list_len, list) || !r.empty())
    return "Certificate: list length does not match the message";
  while (!list.empty()) {
    std::uint32_t len = 0;
    std::span<const std::uint8_t> der;
    if (!list.u24(len) || !list.bytes(len, der)) return "Certificate: entry overruns the list";
    if (ders.size() < keep) ders.push_back(der);
    ++total;
  }
  return "";
}

/// TLS 1.3 Certificate body: the request context, then entries of DER and extensions.
std::string split_certificates_13(std::span<const std::uint8_t> body, std::size_t keep,
                                  std::vector<std::span<const std::uint8_t>>& ders,
                                  std::size_t& total) {
  Reader r(body);
  std::uint8_t ctx_len = 0;
  std::uint32_t list_len = 0;
  Reader list;
  if (!r.u8(ctx_len) || !r.skip(ctx_len) || !r.u24(list_len) || !r.sub(list_len, list) ||
      !r.empty())
    return "Certificate: list length does not match the message";
  while (!list.empty()) {
    std::uint32_t len = 0;
    std::uint16_t ext_len = 0;
    std::span<const std::uint8_t> der;
    if (!list.u24(len) || len == 0 || !list.bytes(len, der) || !list.u16(ext_len) ||
        !list.skip(ext_len))
      return "Certificate: entry overruns the list";
    if (ders.size() < keep) ders.push_back(der);
    ++total;
  }
  return "";
}

std::string_view content_type_name(std::uint8_t t) {
  switch (t) {
    case 20:
      return "change_cipher_spec";
    case 21:
      return "alert";
    case 22:
      return "handshake";
    case 23:
      return "application_data";
    case 24:
      return "heartbeat";
    default:
      return "unknown";
  }
}

std::string handshake_label(std::uint8_t t) {
  const std::string n = handshake_type_name(t);
  return n.empty() ? "handshake type " + std::to_string(t) : n;
}

/// What a non-TLS start looks like.
std::string classify(std::string_view b) {
  if (b.empty()) return "binary";
  const auto u0 = static_cast<std::uint8_t>(b[0]);
  if (b.size() >= 3 && (u0 & 0x80) != 0 && b[2] == 0x01) return "sslv2";
  for (std::string_view m :
       {"GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "CONNECT ", "PATCH ", "HTTP/"})
    if (b.substr(0, m.size()) == m) return "http";
  if (b.substr(0, 4) == "SSH-") return "ssh";
  const std::size_t first = b.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && b[first] == '<') return "xml";
  const bool printable = std::all_of(b.begin(), b.end(), [](char c) {
    const auto u = static_cast<std::uint8_t>(c);
    return (u >= 0x20 && u < 0x7f) || c == '\t' || c == '\r' || c == '\n';
  });
  return printable ? "text" : "binary";
}

std::string printable(std::string_view b) {
  std::string s(b);
  for (char& c : s) {
    const auto u = static_cast<std::uint8_t>(c);
    if (u < 0x20 || u >= 0x7f) c = '.';
  }
  return s;
}

enum class Body : std::uint8_t { kSkip, kHandshake, kAlert, kChangeCipherSpec };

/// One direction.
struct Direction {
  Side side = Side::kClient;
  State state = State::kStart;
  std::uint64_t offset = 0;  ///< stream offset of the next byte
  std::string failure;
  std::size_t events = 0;
  SideSummary summary;

  // The start, while it is not TLS: the first bytes kept for NotTls, and the resync scan for
  // a record start (cand: the bytes of a possible record header seen so far, at most 2).
  bool not_tls = false;
  bool not_tls_reported = false;
  std::string first;
  std::array<std::uint8_t, 2> cand{};
  std::size_t cand_len = 0;

  // The current record.
  std::array<std::uint8_t, kHeaderBytes> header{};
  std::size_t header_len = 0;
  bool any_record = false;
  std::uint8_t type = 0;
  std::size_t record_len = 0;
  std::size_t record_left = 0;
  std::uint64_t record_begin = 0;
  Body body = Body::kSkip;
  bool encrypted_alert = false;
  std::uint8_t ccs_value = 0;
  std::array<std::uint8_t, 2> alert{};
  std::size_t alert_len = 0;

  // The handshake message being reassembled (header included), or being skipped.
  std::vector<std::uint8_t> hs;
  std::size_t hs_total = 0;
  std::uint64_t hs_begin = 0;
  std::uint64_t hs_skip = 0;
  std::uint8_t hs_skip_type = 0;

  // Handshake progress of this side.
  bool legacy_encrypted = false;  ///< TLS ≤ 1.2 ChangeCipherSpec sent: handshake encrypted
  bool hello = false;             ///< sent a ClientHello / ServerHello or HRR (even undecodable)
  bool retried = false;           ///< client: sent its second ClientHello

  bool message_pending() const { return !hs.empty() || hs_skip > 0; }
  std::uint64_t record_end() const { return record_begin + kHeaderBytes + record_len; }
  void drop_message() {
    hs.clear();
    hs_total = 0;
    hs_skip = 0;
    if (hs.capacity() > kShrinkAbove) std::vector<std::uint8_t>().swap(hs);
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string handshake_type_name(std::uint8_t type) {
  switch (type) {
    case kHelloRequest:
      return "HelloRequest";
    case kClientHelloType:
      return "ClientHello";
    case kServerHelloType:
      return "ServerHello";
    case kNewSessionTicket:
      return "NewSessionTicket";
    case 5:
      return "EndOfEarlyData";
    case 8:
      return "EncryptedExtensions";
    case kCertificateType:
      return "Certificate";
    case kServerKeyExchange:
      return "ServerKeyExchange";
    case kCertificateRequestType:
      return "CertificateRequest";
    case kServerHelloDoneType:
      return "ServerHelloDone";
    case kCertificateVerify:
      return "CertificateVerify";
    case kClientKeyExchangeType:
      return "ClientKeyExchange";
    case 20:
      return "Finished";
    case kCertificateStatus:
      return "CertificateStatus";
    case 24:
      return "KeyUpdate";
    default:
      return "";
  }
}

class Session::Impl {
 public:
  explicit Impl(Config config) : cfg_(config) {
    dirs_[0].side = Side::kClient;
    dirs_[1].side = Side::kServer;
  }

  std::size_t feed(Side side, std::span<const std::uint8_t> in) {
    Direction& d = dir(side);
    std::size_t taken = 0;
    while (taken < in.size()) {
      if (d.state == State::kFailed || d.state == State::kEnded) break;
      const auto rest = in.subspan(taken);
      std::size_t n = 0;
      if (d.state == State::kOpaque) {
        n = rest.size();
        d.offset += n;
      } else if (d.not_tls) {
        n = take_not_tls(d, rest);
      } else if (d.header_len < kHeaderBytes) {
        n = take_header(d, rest);
      } else {
        n = take_body(d, rest);
      }
      taken += n;
    }
    return taken;
  }

  void gap(Side side, std::uint64_t length) {
    Direction& d = dir(side);
    if (length == 0 || d.state == State::kFailed || d.state == State::kEnded) return;
    if (d.not_tls) {
      fail_not_tls(d);
      return;
    }
    anomaly(d, kAnomalyGap, std::to_string(length) + " bytes lost", d.offset, d.offset + length);
    d.offset += length;
    d.state = State::kOpaque;
    d.header_len = 0;
    d.drop_message();
  }

  void end(Side side) {
    Direction& d = dir(side);
    if (d.state == State::kEnded || d.state == State::kFailed) return;
    if (d.not_tls) {
      fail_not_tls(d);
      return;
    }
    if (d.state != State::kOpaque) {
      if (d.header_len > 0 && d.header_len < kHeaderBytes) {
        anomaly(d, kAnomalyTruncated,
                "end inside a record header (" + std::to_string(d.header_len) + " of 5 bytes)",
                d.record_begin, d.offset);
      } else if (d.header_len == kHeaderBytes) {
        anomaly(d, kAnomalyTruncated,
                "end inside a " + std::string(content_type_name(d.type)) + " record (" +
                    std::to_string(d.record_len - d.record_left) + " of " +
                    std::to_string(d.record_len) + " bytes)",
                d.record_begin, d.offset);
      } else if (d.message_pending()) {
        const std::uint8_t type = d.hs.empty() ? d.hs_skip_type : d.hs[0];
        anomaly(d, kAnomalyTruncated, "end inside a " + handshake_label(type) + " message",
                d.hs_begin, d.offset);
      }
    }
    d.state = State::kEnded;
    d.drop_message();
  }

  const std::vector<Event>& events() const { return events_; }
  void clear_events() { events_.clear(); }
  std::vector<Event> take_events() { return std::exchange(events_, {}); }

  const Direction& dir(Side s) const { return dirs_[s == Side::kClient ? 0 : 1]; }
  Direction& dir(Side s) { return dirs_[s == Side::kClient ? 0 : 1]; }

  std::size_t buffered_bytes(Side s) const {
    const Direction& d = dir(s);
    return d.hs.capacity() + d.first.size() + d.header_len;
  }

  bool server_hello_seen() const { return server_hello_; }
  bool hello_retry_request() const { return hrr_; }
  std::uint16_t version() const { return version_; }
  std::uint16_t cipher_suite() const { return suite_; }
  const std::string& alpn() const { return alpn_; }
  bool handshake_complete() const { return dirs_[0].summary.finished && dirs_[1].summary.finished; }
  const AnomalyCounters& anomalies() const { return anomalies_; }

 private:
  // -------------------------------------------------------------------------------------------
  // Events

  void emit(Direction& d, std::uint64_t begin, std::uint64_t end, EventBody body) {
    if (d.events < cfg_.limits.max_events) {
      events_.push_back(Event{d.side, begin, end, std::move(body)});
      ++d.events;
      return;
    }
    anomalies_.add(kAnomalyTooManyEvents);
    if (d.events == cfg_.limits.max_events) {
      events_.push_back(Event{d.side, begin, end,
                              Anomaly{std::string(kAnomalyTooManyEvents),
                                      "further events of this side are counted, not reported"}});
      ++d.events;
    }
  }

  void anomaly(Direction& d, std::string_view name, std::string detail, std::uint64_t begin,
               std::uint64_t end) {
    anomalies_.add(name);
    emit(d, begin, end, Anomaly{std::string(name), std::move(detail)});
  }

  void fail(Direction& d, std::string_view name, std::string detail, std::uint64_t begin,
            std::uint64_t end) {
    anomaly(d, name, std::move(detail), begin, end);
    d.state = State::kFailed;
    d.failure = std::string(name);
    d.drop_message();
  }

  /// NotTls for the bytes before @p plain_end (at most the first kFirstBytes of them).
  void report_not_tls(Direction& d, std::uint64_t plain_end) {
    if (d.not_tls_reported) return;
    d.not_tls_reported = true;
    if (d.first.size() > plain_end) d.first.resize(static_cast<std::size_t>(plain_end));
    const std::string kind = classify(d.first);
    emit(d, 0, d.first.size(), NotTls{kind, printable(d.first)});
    anomalies_.add(kAnomalyNotTls);
  }

  /// The direction was not TLS and no record start came: it stops for good.
  void fail_not_tls(Direction& d) {
    report_not_tls(d, d.offset);
    d.state = State::kFailed;
    d.failure = std::string(kAnomalyNotTls);
    d.not_tls = false;
  }

  void cut_anomalies(Direction& d, const Cuts& cuts, std::uint64_t begin, std::uint64_t end) {
    if (cuts.list)
      anomaly(d, kAnomalyListTruncated,
              "more than " + std::to_string(cfg_.limits.max_list_entries) + " entries", begin, end);
    if (cuts.name)
      anomaly(d, kAnomalyNameTooLong,
              "a name longer than " + std::to_string(cfg_.limits.max_name_bytes) + " bytes", begin,
              end);
  }

  // -------------------------------------------------------------------------------------------
  // Framing

  /// Bytes of a direction that did not start with TLS: kept for NotTls (the first 32) and
  /// scanned for a handshake or alert record start (22|21, 3, minor 0-4), byte by byte so
  /// that every split decides at the same byte. Returns the bytes taken; after a record start
  /// the caller goes on with its length bytes.
  std::size_t take_not_tls(Direction& d, std::span<const std::uint8_t> in) {
    const auto is_start = [](std::uint8_t b) { return b == 22 || b == 21; };
    std::size_t i = 0;
    while (i < in.size()) {
      const std::uint8_t b = in[i++];
      ++d.offset;
      if (d.first.size() < kFirstBytes) d.first.push_back(static_cast<char>(b));
      if (d.cand_len == 2 && b <= 4) {
        resync(d, b);
        return i;
      }
      if (d.cand_len == 1 && b == 3) {
        d.cand[1] = b;
        d.cand_len = 2;
      } else if (is_start(b) && cfg_.limits.max_resync_bytes > 0) {
        d.cand[0] = b;
        d.cand_len = 1;
      } else {
        d.cand_len = 0;
      }
      const std::uint64_t plain = d.offset - d.cand_len;  // bytes that cannot begin a record
      if (plain >= kFirstBytes) report_not_tls(d, plain);
      if (plain >= kFirstBytes && plain > cfg_.limits.max_resync_bytes) {
        fail_not_tls(d);
        return i;
      }
    }
    return i;
  }

  /// A record start after bytes that were not TLS: NotTls for what came before, tls.resync
  /// over it, and the record header goes on from its third byte.
  void resync(Direction& d, std::uint8_t minor) {
    const std::uint64_t begin = d.offset - 3;
    report_not_tls(d, begin);
    d.not_tls = false;
    d.header = {d.cand[0], d.cand[1], minor, 0, 0};
    d.header_len = 3;
    d.record_begin = begin;
    d.cand_len = 0;
    anomaly(d, kAnomalyResync,
            "TLS starts after " + std::to_string(begin) + " bytes that were not TLS", 0, begin);
  }

  /// Header bytes one at a time, each checked as soon as it is in.
  std::size_t take_header(Direction& d, std::span<const std::uint8_t> in) {
    std::size_t i = 0;
    while (i < in.size() && d.header_len < kHeaderBytes) {
      if (d.header_len == 0) d.record_begin = d.offset;
      const std::uint8_t b = in[i++];
      d.header[d.header_len++] = b;
      ++d.offset;
      if (d.header_len == 1 && (b < 20 || b > 24)) {
        bad_header(d, kAnomalyBadRecordType, "content type " + std::to_string(b));
        return i;
      }
      if (d.header_len == 2 && b != 3) {
        bad_header(d, kAnomalyBadRecordVersion, "version major byte " + std::to_string(b));
        return i;
      }
    }
    if (d.header_len == kHeaderBytes) begin_record(d);
    return i;
  }

  void bad_header(Direction& d, std::string_view name, std::string detail) {
    if (!d.any_record) {  // the very start of the direction: not TLS at all
      // The header bytes so far go through the not-TLS scan as if they had come there.
      const std::array<std::uint8_t, kHeaderBytes> seen = d.header;
      const std::size_t len = d.header_len;
      d.not_tls = true;
      d.header_len = 0;
      d.offset -= len;
      take_not_tls(d, std::span<const std::uint8_t>(seen.data(), len));
      return;
    }
    fail(d, name, std::move(detail), d.record_begin, d.record_begin + kHeaderBytes);
  }

  void begin_record(Direction& d) {
    d.type = d.header[0];
    d.record_len = static_cast<std::size_t>(d.header[3]) << 8 | d.header[4];
    d.record_left = d.record_len;
    if (d.record_len > cfg_.limits.max_record_length) {
      fail(d, kAnomalyRecordTooLong,
           std::string(content_type_name(d.type)) + " record of " + std::to_string(d.record_len) +
               " bytes",
           d.record_begin, d.record_begin + kHeaderBytes);
      return;
    }
    if (!d.any_record) {
      d.any_record = true;
      d.state = State::kClear;
    }
    const auto type = static_cast<ContentType>(d.type);
    if (type != ContentType::kHandshake && d.message_pending()) {
      const std::uint8_t hs_type = d.hs.empty() ? d.hs_skip_type : d.hs[0];
      anomaly(d, kAnomalyBadHandshake,
              handshake_label(hs_type) + " interrupted by a " +
                  std::string(content_type_name(d.type)) + " record",
              d.hs_begin, d.record_begin);
      d.drop_message();
    }
    d.body = Body::kSkip;
    d.encrypted_alert = false;
    switch (type) {
      case ContentType::kChangeCipherSpec:
        d.body = Body::kChangeCipherSpec;
        d.ccs_value = 0;
        break;
      case ContentType::kAlert:
        if (d.record_len == 0) {
          anomaly(d, kAnomalyEmptyRecord, "alert", d.record_begin, d.record_end());
        } else if (d.summary.encryption_started && d.record_len != 2) {
          d.encrypted_alert = true;
        } else {
          d.body = Body::kAlert;
          d.alert_len = 0;
        }
        break;
      case ContentType::kHandshake:
        if (d.record_len == 0) {
          anomaly(d, kAnomalyEmptyRecord, "handshake", d.record_begin, d.record_end());
        } else if (d.legacy_encrypted) {
          d.summary.finished = true;  // the first one is its Finished
        } else {
          d.body = Body::kHandshake;
        }
        break;
      case ContentType::kApplicationData:
        application_data(d);
        break;
      case ContentType::kHeartbeat:
        anomaly(d, kAnomalyHeartbeat, std::to_string(d.record_len) + " bytes", d.record_begin,
                d.record_end());
        break;
    }
    auto& counts = d.summary.encryption_started ? d.summary.encrypted : d.summary.clear;
    RecordCount& c = counts[static_cast<std::size_t>(d.type) - 20];
    ++c.records;
    c.bytes += d.record_len;
    if (d.record_len == 0) end_record(d);
  }

  void application_data(Direction& d) {
    if (!d.summary.encryption_started) {
      // TLS 1.3 (or early data, before any ServerHello): application_data records are
      // encrypted handshake or data. TLS <= 1.2 encrypts only after ChangeCipherSpec.
      if (version_ != 0 && version_ != kTls13) {
        anomaly(d, kAnomalyUnexpectedMessage, "application data before ChangeCipherSpec",
                d.record_begin, d.record_end());
        return;
      }
      start_encryption(d, d.record_begin);
    }
    if (server_hello_ && version_ == kTls13) d.summary.finished = true;
  }

  void start_encryption(Direction& d, std::uint64_t at) {
    if (d.summary.encryption_started) return;
    d.summary.encryption_started = true;
    d.state = State::kEncrypted;
    emit(d, at, at, EncryptionStarted{});
  }

  std::size_t take_body(Direction& d, std::span<const std::uint8_t> in) {
    const std::size_t n = std::min(in.size(), d.record_left);
    const auto chunk = in.first(n);
    const std::uint64_t at = d.offset;
    switch (d.body) {
      case Body::kSkip:
        break;
      case Body::kChangeCipherSpec:
        if (d.record_left == d.record_len && n > 0) d.ccs_value = chunk[0];
        break;
      case Body::kAlert:
        for (std::uint8_t b : chunk) {
          d.alert[d.alert_len++] = b;
          if (d.alert_len == 2) {
            emit(d, d.record_begin, d.record_end(), Alert{d.alert[0], d.alert[1], false});
            d.alert_len = 0;
          }
        }
        break;
      case Body::kHandshake:
        handshake_bytes(d, chunk, at);
        break;
    }
    d.offset += n;
    d.record_left -= n;
    if (d.record_left == 0 && d.state != State::kFailed) end_record(d);
    return n;
  }

  void end_record(Direction& d) {
    switch (d.body) {
      case Body::kChangeCipherSpec:
        change_cipher_spec(d);
        break;
      case Body::kAlert:
        if (d.alert_len != 0)
          anomaly(d, kAnomalyBadAlert, "alert record of " + std::to_string(d.record_len) + " bytes",
                  d.record_begin, d.record_end());
        break;
      case Body::kSkip:
        if (d.encrypted_alert) emit(d, d.record_begin, d.record_end(), Alert{0, 0, true});
        break;
      case Body::kHandshake:
        break;
    }
    d.header_len = 0;
  }

  void change_cipher_spec(Direction& d) {
    if (d.record_len != 1 || d.ccs_value != 1)
      anomaly(
          d, kAnomalyBadChangeCipherSpec,
          "length " + std::to_string(d.record_len) + ", first byte " + std::to_string(d.ccs_value),
          d.record_begin, d.record_end());
    emit(d, d.record_begin, d.record_end(), ChangeCipherSpec{});
    d.summary.change_cipher_spec = true;
    // TLS 1.3: middlebox compatibility only (RFC 8446 Appendix D.4). Otherwise, and while
    // the version is unknown, everything after it on this side is encrypted.
    if (version_ == kTls13 || d.legacy_encrypted) return;
    d.legacy_encrypted = true;
    start_encryption(d, d.record_end());
  }

  // -------------------------------------------------------------------------------------------
  // Handshake reassembly: @p at is the stream offset of bytes[0].

  void handshake_bytes(Direction& d, std::span<const std::uint8_t> bytes, std::uint64_t at) {
    std::size_t i = 0;
    while (i < bytes.size() && d.state != State::kFailed) {
      if (d.hs_skip > 0) {
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(d.hs_skip, bytes.size() - i));
        d.hs_skip -= n;
        i += n;
        continue;
      }
      if (d.hs.size() < kHandshakeHeaderBytes) {
        if (d.hs.empty()) d.hs_begin = at + i;
        d.hs.push_back(bytes[i++]);
        if (d.hs.size() == kHandshakeHeaderBytes) {
          const std::size_t len = static_cast<std::size_t>(d.hs[1]) << 16 |
                                  static_cast<std::size_t>(d.hs[2]) << 8 | d.hs[3];
          if (len > cfg_.limits.max_handshake_bytes) {
            anomaly(d, kAnomalyHandshakeTooLarge,
                    handshake_label(d.hs[0]) + " of " + std::to_string(len) + " bytes", d.hs_begin,
                    at + i);  // its header
            d.hs_skip_type = d.hs[0];
            d.drop_message();
            d.hs_skip = len;
            continue;
          }
          d.hs_total = kHandshakeHeaderBytes + len;
          d.hs.reserve(d.hs_total);
          if (len == 0) message_done(d, at + i);
        }
        continue;
      }
      const std::size_t n = std::min(d.hs_total - d.hs.size(), bytes.size() - i);
      d.hs.insert(d.hs.end(), bytes.begin() + static_cast<std::ptrdiff_t>(i),
                  bytes.begin() + static_cast<std::ptrdiff_t>(i + n));
      i += n;
      if (d.hs.size() == d.hs_total) message_done(d, at + i);
    }
  }

  void message_done(Direction& d, std::uint64_t end) {
    std::vector<std::uint8_t> msg;
    msg.swap(d.hs);
    d.hs_total = 0;
    handle_message(d, msg[0], std::span<const std::uint8_t>(msg).subspan(kHandshakeHeaderBytes),
                   d.hs_begin, end);
    // Keep the buffer for the next message unless it grew large.
    msg.clear();
    if (msg.capacity() <= kShrinkAbove && d.hs.empty()) d.hs.swap(msg);
  }

  /// Why @p type may not come from this side now ("" if it may).
  std::string misplaced(const Direction& d, std::uint8_t type) const {
    const std::string name = handshake_label(type);
    if (d.side == Side::kClient) {
      switch (type) {
        case kClientHelloType:
          if (!d.hello) return "";
          if (hrr_ && !d.retried) return "";
          return "a second ClientHello without HelloRetryRequest";
        case kCertificateType:
        case kCertificateVerify:
        case kClientKeyExchangeType:
          if (!d.hello) return name + " before ClientHello";
          if (version_ == kTls13) return "cleartext " + name + " in TLS 1.3";
          return "";
        default:
          return name + " from the client";
      }
    }
    switch (type) {
      case kServerHelloType:
        return server_hello_ ? "a second ServerHello" : "";
      case kHelloRequest:
      case kNewSessionTicket:
      case kCertificateType:
      case kServerKeyExchange:
      case kCertificateRequestType:
      case kServerHelloDoneType:
      case kCertificateStatus:
        if (!d.hello) return name + " before ServerHello";
        if (version_ == kTls13) return "cleartext " + name + " in TLS 1.3";
        return "";
      default:
        return name + " from the server";
    }
  }

  void handle_message(Direction& d, std::uint8_t type, std::span<const std::uint8_t> body,
                      std::uint64_t begin, std::uint64_t end) {
    const std::string why = misplaced(d, type);
    if (!why.empty()) {
      anomaly(d, kAnomalyUnexpectedMessage, why, begin, end);
      return;
    }
    Cuts cuts;
    std::string bad;
    switch (type) {
      case kClientHelloType: {
        // A hello counts as sent even when it cannot be decoded: what follows it is in place.
        ClientHello ch;
        ch.retry = d.hello;
        d.retried = d.retried || d.hello;
        d.hello = true;
        bad = parse_client_hello(body, ch, cfg_.limits, cuts);
        if (bad.empty()) emit(d, begin, end, std::move(ch));
        break;
      }
      case kServerHelloType: {
        ServerHello sh;
        d.hello = true;
        bad = parse_server_hello(body, sh, cfg_.limits, cuts);
        if (!bad.empty()) break;
        if (sh.hello_retry_request && hrr_) {
          anomaly(d, kAnomalyUnexpectedMessage, "a second HelloRetryRequest", begin, end);
          return;
        }
        (sh.hello_retry_request ? hrr_ : server_hello_) = true;
        version_ = sh.version;
        suite_ = sh.cipher_suite;
        alpn_ = sh.alpn;
        emit(d, begin, end, std::move(sh));
        break;
      }
      case kCertificateType: {
        std::vector<std::span<const std::uint8_t>> ders;
        Certificates certs;
        bad = split_certificates(body, cfg_.limits.max_certificates, ders, certs.total);
        if (!bad.empty()) break;
        certs.chain = parse_chain(ders, cfg_.limits.max_list_entries, cuts.list);
        std::size_t errors = 0;
        for (const CertificateInfo& c : certs.chain)
          errors += c.parse_error ? 1 : 0;
        const std::size_t total = certs.total;
        emit(d, begin, end, std::move(certs));
        for (std::size_t k = 0; k < errors; ++k)
          anomaly(d, kAnomalyBadCertificate, "a certificate OpenSSL refuses", begin, end);
        if (total > cfg_.limits.max_certificates)
          anomaly(d, kAnomalyChainTruncated,
                  std::to_string(total) + " certificates, " +
                      std::to_string(cfg_.limits.max_certificates) + " kept",
                  begin, end);
        break;
      }
      case kCertificateRequestType:
        emit(d, begin, end, CertificateRequest{});
        break;
      case kServerHelloDoneType:
        if (!body.empty()) {
          bad = "ServerHelloDone with a body";
          break;
        }
        emit(d, begin, end, ServerHelloDone{});
        break;
      case kClientKeyExchangeType:
        emit(d, begin, end, ClientKeyExchange{});
        break;
      default:
        emit(d, begin, end, OtherHandshake{type, static_cast<std::uint32_t>(body.size())});
        break;
    }
    if (!bad.empty()) {
      anomaly(d, kAnomalyBadHandshake, bad, begin, end);
      return;
    }
    cut_anomalies(d, cuts, begin, end);
  }

  Config cfg_;
  std::array<Direction, 2> dirs_;
  std::vector<Event> events_;
  AnomalyCounters anomalies_;
  bool server_hello_ = false;
  bool hrr_ = false;
  std::uint16_t version_ = 0;
  std::uint16_t suite_ = 0;
  std::string alpn_;
};

// ---------------------------------------------------------------------------------------------

Session::Session(Config config) : impl_(std::make_unique<Impl>(config)) {}
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

std::size_t Session::feed(Side side, std::span<const std::uint8_t> bytes) {
  return impl_->feed(side, bytes);
}
void Session::gap(Side side, std::uint64_t length) {
  impl_->gap(side, length);
}
void Session::end(Side side) {
  impl_->end(side);
}
const std::vector<Event>& Session::events() const {
  return impl_->events();
}
void Session::clear_events() {
  impl_->clear_events();
}
std::vector<Event> Session::take_events() {
  return impl_->take_events();
}
State Session::state(Side side) const {
  return impl_->dir(side).state;
}
bool Session::failed(Side side) const {
  return impl_->dir(side).state == State::kFailed;
}
std::string_view Session::failure(Side side) const {
  return impl_->dir(side).failure;
}
std::uint64_t Session::offset(Side side) const {
  return impl_->dir(side).offset;
}
std::size_t Session::buffered_bytes(Side side) const {
  return impl_->buffered_bytes(side);
}
const SideSummary& Session::summary(Side side) const {
  return impl_->dir(side).summary;
}
std::uint64_t Session::encrypted_records(Side side) const {
  std::uint64_t n = 0;
  for (const RecordCount& c : impl_->dir(side).summary.encrypted)
    n += c.records;
  return n;
}
bool Session::server_hello_seen() const {
  return impl_->server_hello_seen();
}
bool Session::hello_retry_request() const {
  return impl_->hello_retry_request();
}
std::uint16_t Session::version() const {
  return impl_->version();
}
std::uint16_t Session::cipher_suite() const {
  return impl_->cipher_suite();
}
const std::string& Session::alpn() const {
  return impl_->alpn();
}
bool Session::handshake_complete() const {
  return impl_->handshake_complete();
}
const AnomalyCounters& Session::anomalies() const {
  return impl_->anomalies();
}

std::string parse_certificate_message_13(std::span<const std::uint8_t> body, const Limits& limits,
                                         Certificates& out, bool* truncated) {
  std::vector<std::span<const std::uint8_t>> ders;
  std::size_t total = 0;
  std::string bad = split_certificates_13(body, limits.max_certificates, ders, total);
  if (!bad.empty()) return bad;
  bool cut = false;
  out.chain = parse_chain(ders, limits.max_list_entries, cut);
  out.total = total;
  if (truncated) *truncated = cut || total > limits.max_certificates;
  return "";
}

}  // namespace fedscope::tls
