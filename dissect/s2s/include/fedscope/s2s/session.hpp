#pragma once
/// @file
/// The federation session model for one TCP connection: both directions' bytes in, the
/// XMPP stream parser and the TLS decoder underneath, facts out. Sans-IO like the decoders it
/// drives: the pcap engine feeds it reassembled bytes, a relay could feed it socket reads.
///
/// Pipeline per direction:
///
///   bytes -> xmpp::StreamParser -> (STARTTLS hand-off at an exact offset, or direct TLS)
///         -> tls::Session (records, cleartext handshake)
///         -> with a key log: tls::Decryptor -> plaintext -> a fresh xmpp::StreamParser, and the
///            TLS 1.3 handshake inside (certificates, alerts) back into the facts
///
/// Every fact is three-valued where the capture can fail to show it: a fact that was seen, a
/// fact seen to be absent, or "not observable" (inside TLS, after a gap, capture ended). The
/// judges in report/ read ConnectionFacts; they never see raw bytes.
///
/// **Buffer ownership**: on_data() borrows its bytes for the call only. Facts own their
/// strings. Memory per connection is bounded by the parsers' limits plus the bounded lists
/// below (kMaxDialback, kMaxLadder, kMaxStanzaErrors).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "fedscope/base/anomaly.hpp"
#include "fedscope/base/frame.hpp"
#include "fedscope/tls/decoder.hpp"
#include "fedscope/tls/decrypt.hpp"
#include "fedscope/xmpp/parser.hpp"

namespace fedscope::s2s {

inline constexpr std::size_t kMaxDialback = 32;
inline constexpr std::size_t kMaxLadder = 80;
inline constexpr std::size_t kMaxStanzaErrors = 8;
inline constexpr std::size_t kMaxAlerts = 8;

/// A part of the facts that many connections never have (TLS on a plaintext stream, errors,
/// non-XMPP bytes): on the heap only once written, so a connection without it pays one
/// pointer instead of the part inline, for as long as the report keeps its facts. Reading an
/// absent part sees a default T, exactly what an inline T that nobody wrote would hold.
/// **Ownership**: owns its T; a copy copies it.
template <typename T>
class Rare {
 public:
  Rare() = default;
  Rare(const Rare& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
  Rare(Rare&&) noexcept = default;
  Rare& operator=(const Rare& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
    return *this;
  }
  Rare& operator=(Rare&&) noexcept = default;
  ~Rare() = default;

  const T& operator*() const { return p_ ? *p_ : empty(); }
  const T* operator->() const { return &**this; }
  /// For writing: the part, made (default) when absent.
  T& mut() {
    if (!p_) p_ = std::make_unique<T>();
    return *p_;
  }
  /// Whether the part was ever written (mut() was called).
  bool present() const { return p_ != nullptr; }

 private:
  static const T& empty() {
    static const T kEmpty{};
    return kEmpty;
  }
  std::unique_ptr<T> p_;
};

/// A fact the capture may or may not be able to show.
enum class Seen : std::uint8_t {
  kUnknown,  ///< not observable (encrypted, lost, capture ended before it could happen)
  kNo,       ///< observable, and it did not happen
  kYes,
};
std::string_view to_string(Seen s);

struct StanzaCounts {
  std::uint64_t message = 0, presence = 0, iq = 0, other = 0;
  std::uint64_t total() const { return message + presence + iq + other; }
};

struct StreamHeaderFact {
  std::string from, to, id, version, ns;
  bool dialback_ns = false;  ///< xmlns:db='jabber:server:dialback' declared
  PacketRef ref;
};

struct StreamErrorFact {
  std::string condition, text;
  PacketRef ref;
};

struct StanzaErrorFact {
  std::string kind;  ///< "message", "presence", "iq"
  std::string condition, type, from, to, id;
  PacketRef ref;
};

/// What a side rarely says (SASL in clear, errors, bytes that are not XMPP, a parser
/// failure): kept apart (SideFacts::extra) so that the many sides that say none of it do not
/// carry it inline.
struct SideExtraFacts {
  std::string sasl_mechanism;  ///< sent <auth mechanism=.../>
  bool sasl_success = false;
  bool sasl_failure = false;
  std::string sasl_condition;
  std::optional<PacketRef> sasl_ref;
  std::optional<StreamErrorFact> stream_error;
  std::vector<StanzaErrorFact> stanza_error_samples;  ///< first kMaxStanzaErrors
  std::string not_xmpp_kind;  ///< "http", "ssh", "tls", "binary", "text" when not XMPP
  std::string not_xmpp_bytes;
  std::optional<PacketRef> not_xmpp_ref;
  std::string failure;  ///< the anomaly that stopped the XMPP parser, or ""
  std::string failure_detail;
  bool plaintext_after_tls = false;  ///< bytes after its STARTTLS point are not TLS
  std::optional<PacketRef> plaintext_after_ref;
};

/// What one side (the TCP originator or the responder) said in clear (or after decryption).
struct SideFacts {
  std::optional<StreamHeaderFact> header;        ///< the first stream header
  std::uint32_t headers = 0;                     ///< headers including restarts
  std::optional<xmpp::StreamFeatures> features;  ///< the first <stream:features>
  std::optional<PacketRef> features_ref;
  bool starttls = false;     ///< sent <starttls/>
  bool proceed = false;      ///< sent <proceed/>
  bool tls_failure = false;  ///< sent <failure xmlns=xmpp-tls/>
  std::optional<PacketRef> tls_ref;
  StanzaCounts stanzas;
  std::uint64_t stanza_errors = 0;
  bool closed = false;  ///< sent </stream:stream>
  std::optional<PacketRef> close_ref;
  Rare<SideExtraFacts> extra;  ///< absent (reads as default) until one of them is said
  bool direct_tls = false;
  bool compressed = false;
  std::uint64_t bytes = 0;  ///< bytes delivered in this direction (gaps excluded)
  std::uint64_t gap_bytes = 0;
  std::optional<PacketRef> first_data;
  std::optional<PacketRef> last_data;
  bool ended = false;  ///< FIN/RST/end of capture reached for this direction
};

// The flags last, together: kept per element until the report, 176 bytes, not 200.
struct DialbackFact {
  std::string from, to, id, condition;
  PacketRef ref;
  std::optional<std::size_t> answer;  ///< index of the answer
  bool verify = false;                ///< db:verify (else db:result)
  bool from_orig = false;             ///< sent by the TCP originator
  xmpp::DialbackType type = xmpp::DialbackType::kRequest;
  bool has_key = false;
  bool answered = false;  ///< a request: an answer came back on this connection
  bool solicited = true;  ///< an answer: a request on this connection asked for it
};

struct AlertFact {
  bool from_client = false;
  std::uint8_t level = 0, description = 0;
  bool encrypted = false;  ///< level and description unknown (encrypted, no key)
  bool decrypted = false;  ///< read inside TLS with the key log
  PacketRef ref;
};

/// The TLS part, from the tls::Session (nothing here when the connection never reached TLS).
struct TlsFacts {
  bool started = false;  ///< STARTTLS hand-off or direct TLS happened
  bool direct = false;   ///< XEP-0368 direct TLS
  std::optional<tls::ClientHello> client_hello;
  std::optional<PacketRef> client_hello_ref;
  std::optional<tls::ServerHello> server_hello;
  std::optional<PacketRef> server_hello_ref;
  Seen certificate = Seen::kUnknown;        ///< kUnknown in TLS 1.3 (encrypted)
  std::vector<tls::CertificateInfo> chain;  ///< the server's chain (TLS ≤ 1.2)
  std::size_t chain_total = 0;
  std::optional<PacketRef> certificate_ref;
  /// The client's chain, when the server asked for one (TLS ≤ 1.2: in clear).
  std::vector<tls::CertificateInfo> client_chain;
  std::optional<PacketRef> client_certificate_ref;
  bool certificate_request = false;  ///< the server asked for a client certificate
  std::vector<AlertFact> alerts;     ///< first kMaxAlerts
  std::uint64_t alert_count = 0;
  bool complete = false;  ///< see tls::Session::handshake_complete()
  std::uint64_t client_encrypted_records = 0, server_encrypted_records = 0;
  std::string client_not_tls, server_not_tls;  ///< first bytes, when a side did not speak TLS
  /// Records were opened with the key log (--tls-keylog): what is inside TLS is observed.
  bool decrypted = false;
  /// With a key log: how far decryption got (tls::DecryptState; kNone without a key log or
  /// before anything encrypted).
  tls::DecryptState decryption = tls::DecryptState::kNone;
  bool keylog = false;  ///< a key log was given (decryption was attempted)
  std::uint64_t client_decrypted_records = 0, server_decrypted_records = 0;
};

/// One line of the per-connection ladder: time, direction, event. The flag after the count:
/// kept per step until the report, 64 bytes, not 72.
struct LadderStep {
  PacketRef ref;
  std::string text;
  std::uint32_t repeat = 1;  ///< identical consecutive stanzas are folded
  bool from_orig = false;
};

/// What a connection carried. to_string(): "no-data", "xmpp", "direct-tls", "not-xmpp" (the
/// words of the JSON report).
enum class StreamKind : std::uint8_t {
  kNoData,     ///< no byte in either direction
  kXmpp,       ///< an XMPP stream (perhaps upgraded to TLS by STARTTLS)
  kDirectTls,  ///< XEP-0368 direct TLS
  kNotXmpp,    ///< another protocol (HTTP, SSH, TLS without XMPP, binary, text)
};
std::string_view to_string(StreamKind kind);

struct ConnectionFacts {
  StreamKind kind = StreamKind::kNoData;
  SideFacts orig, resp;
  std::vector<DialbackFact> dialback;
  std::uint64_t dialback_dropped = 0;
  Rare<TlsFacts> tls;  ///< absent (reads as default) until the connection reached TLS
  /// After the TLS hand-off the XMPP inside is encrypted (unless decrypted).
  Seen xmpp_inside_tls = Seen::kNo;
  std::vector<LadderStep> ladder;
  std::uint64_t ladder_dropped = 0;
  bool midstream = false;
};

/// The domain pair a connection's streams name, {from, to}: the originating server's stream
/// header (its own domain, the receiving domain), else the answer header's to/from, else
/// (joined mid-stream, no headers) the originator's own dialback request. "" where nothing
/// names one. The text as seen, not normalized: compare with fedscope::domains_equal().
std::pair<std::string, std::string> stream_domains(const ConnectionFacts& x);

struct Config {
  xmpp::Limits xmpp_limits{};
  tls::Limits tls_limits{};
  bool midstream = false;  ///< the capture joined without the SYN
  /// TLS secrets (--tls-keylog), shared read-only by every connection; null: no decryption.
  const tls::KeyLog* keylog = nullptr;
};

/// One TCP connection's federation session. Not copyable; one per connection.
class ConnectionAnalyzer {
 public:
  /// @p anomalies receives the parsers' named counters when the connection ends.
  ConnectionAnalyzer(AnomalyCounters& anomalies, Config config = {});
  ~ConnectionAnalyzer();
  ConnectionAnalyzer(const ConnectionAnalyzer&) = delete;
  ConnectionAnalyzer& operator=(const ConnectionAnalyzer&) = delete;

  /// In-order bytes of one direction (borrowed for the call), delivered while the packet
  /// @p at was processed (events are attributed to it).
  void on_data(bool from_orig, std::span<const std::uint8_t> bytes, const PacketRef& at);
  void on_gap(bool from_orig, std::uint64_t length, const PacketRef& at);
  void on_end(bool from_orig, const PacketRef& at);

  /// The facts so far; call finish() first for the final ones.
  const ConnectionFacts& facts() const;
  /// Ends both directions (if not yet ended), merges anomaly counters, resolves dialback
  /// pairing. Returns the facts (moved out).
  ConnectionFacts finish(const PacketRef& at);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedscope::s2s
