#pragma once
/// @file
/// The TLS record and handshake decoder: one Session per TCP connection, both directions,
/// sans-IO. It reads what a capture shows of TLS without keys: record framing, the cleartext
/// handshake (ClientHello, ServerHello, the TLS ≤ 1.2 certificate chain, ...), alerts, and
/// where each direction starts to encrypt.
///
/// Plain bytes in, typed events out. No I/O, no exceptions on the data path, no libtins or
/// libpcap: the offline dissector (reassembled TCP, from the XMPP parser's TLS handoff offset
/// on) and the relay (socket reads) use the same object. Certificates are parsed with OpenSSL's
/// libcrypto (d2i_X509 and friends), nothing else of OpenSSL is used.
///
/// @code
///   Session s;
///   s.feed(Side::kClient, client_bytes);   // events appended to s.events()
///   s.feed(Side::kServer, server_bytes);
///   for (const Event& e : s.events()) ...; // e.side; e.begin / e.end: offsets in e.side's stream
///   s.clear_events();
///   s.gap(Side::kServer, lost);            // bytes lost: that direction becomes opaque
///   s.end(Side::kClient);                  // end of that direction
///   s.handshake_complete(); s.version(); s.summary(Side::kServer).count(...);
/// @endcode
///
/// **Why one object for both directions**: TLS state crosses directions. The server's
/// ServerHello decides whether the client's ChangeCipherSpec starts encryption (TLS ≤ 1.2) or
/// is a TLS 1.3 middlebox-compatibility record, and whether the client's next handshake record
/// is an encrypted Finished (TLS ≤ 1.2) or a second ClientHello after a HelloRetryRequest
/// (TLS 1.3). Such decisions use what the other direction has delivered *so far*, so feed both
/// directions in capture order (the order the reassembler delivers them). With the version
/// still unknown the decoder takes the TLS ≤ 1.2 reading, which never parses encrypted bytes.
///
/// **Every split of the input gives the same events with the same offsets**: a direction is
/// decoded byte-exactly (record headers and handshake messages are reassembled across feed()
/// calls), every decision is taken at a fixed byte, and two feeds of different directions
/// never merge. (Splitting one side's bytes differently relative to the other side's bytes is
/// a different input when a cross-direction decision depends on it.)
///
/// **Buffer ownership**: feed() borrows @p bytes for the duration of the call only. What the
/// session needs later it copies, within Limits: at most one unfinished record header (5
/// bytes), one unfinished handshake message (≤ Limits::max_handshake_bytes + 4) and the first
/// 32 bytes of a direction that is not TLS. Encrypted records and application data are never
/// copied, only counted. Events own their strings; the session owns the pending events until
/// the caller takes or clears them.
///
/// Defects bump a named counter (the kAnomaly* names) and append an Anomaly event. Framing
/// defects (bad record header, record too long) stop that direction for good (State::kFailed);
/// a defect inside one handshake message skips that message only. A direction that does not
/// start with TLS is reported (NotTls) and scanned for a TLS record start for
/// Limits::max_resync_bytes, so TLS that follows injected plaintext is still read
/// (tls.resync); without one it fails (tls.not_tls).

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fedscope/base/anomaly.hpp"

namespace fedscope::tls {

// ---------------------------------------------------------------------------------------------
// Protocol constants

inline constexpr std::uint16_t kSsl30 = 0x0300;
inline constexpr std::uint16_t kTls10 = 0x0301;
inline constexpr std::uint16_t kTls11 = 0x0302;
inline constexpr std::uint16_t kTls12 = 0x0303;
inline constexpr std::uint16_t kTls13 = 0x0304;

/// Record content types (RFC 8446 §5.1, RFC 6520).
enum class ContentType : std::uint8_t {
  kChangeCipherSpec = 20,
  kAlert = 21,
  kHandshake = 22,
  kApplicationData = 23,
  kHeartbeat = 24,
};
inline constexpr std::size_t kContentTypes = 5;  ///< 20..24

/// Handshake message types that have their own event or rule (RFC 8446 §4, RFC 5246 §7.4).
inline constexpr std::uint8_t kHelloRequest = 0;
inline constexpr std::uint8_t kClientHelloType = 1;
inline constexpr std::uint8_t kServerHelloType = 2;
inline constexpr std::uint8_t kNewSessionTicket = 4;
inline constexpr std::uint8_t kCertificateType = 11;
inline constexpr std::uint8_t kServerKeyExchange = 12;
inline constexpr std::uint8_t kCertificateRequestType = 13;
inline constexpr std::uint8_t kServerHelloDoneType = 14;
inline constexpr std::uint8_t kCertificateVerify = 15;
inline constexpr std::uint8_t kClientKeyExchangeType = 16;
inline constexpr std::uint8_t kCertificateStatus = 22;

// ---------------------------------------------------------------------------------------------
// Anomaly names (counter names and Anomaly::name)

/// The first bytes of a direction are not a TLS record header (see NotTls). The direction
/// then looks for a TLS record start (resync, below); it fails with this name when none comes
/// within Limits::max_resync_bytes or before the direction ends.
inline constexpr std::string_view kAnomalyNotTls = "tls.not_tls";
/// TLS records found after bytes that were not TLS (plaintext injected after STARTTLS,
/// CVE-2011-1431 class): the event spans the skipped bytes; decoding goes on from the record.
inline constexpr std::string_view kAnomalyResync = "tls.resync";
/// A later record header whose version major byte is not 3. Stops the direction.
inline constexpr std::string_view kAnomalyBadRecordVersion = "tls.bad_record_version";
/// A later record header whose content type is not 20-24. Stops the direction.
inline constexpr std::string_view kAnomalyBadRecordType = "tls.bad_record_type";
/// A record header claiming more than Limits::max_record_length. Stops the direction.
inline constexpr std::string_view kAnomalyRecordTooLong = "tls.record_too_long";
/// A zero-length handshake or alert record (RFC 5246 §6.2.1, RFC 8446 §5.1).
inline constexpr std::string_view kAnomalyEmptyRecord = "tls.empty_record";
/// A heartbeat record (RFC 6520; nobody should negotiate it). Counted and skipped.
inline constexpr std::string_view kAnomalyHeartbeat = "tls.heartbeat";
/// A handshake message whose inner lengths overrun it, a bad extension, a handshake message
/// interrupted by another record type or cut by ChangeCipherSpec: that message is skipped.
inline constexpr std::string_view kAnomalyBadHandshake = "tls.bad_handshake";
/// A handshake message longer than Limits::max_handshake_bytes: skipped without buffering.
/// The event spans the message's 4-byte header (where the length is).
inline constexpr std::string_view kAnomalyHandshakeTooLarge = "tls.handshake_too_large";
/// A certificate OpenSSL refuses (CertificateInfo::parse_error), one per certificate.
inline constexpr std::string_view kAnomalyBadCertificate = "tls.bad_certificate";
/// More than Limits::max_certificates certificates in a chain: the rest are counted only.
inline constexpr std::string_view kAnomalyChainTruncated = "tls.chain_truncated";
/// A list (cipher suites, versions, ALPN, SAN entries) longer than Limits::max_list_entries.
inline constexpr std::string_view kAnomalyListTruncated = "tls.list_truncated";
/// A name (SNI, ALPN protocol) longer than Limits::max_name_bytes: kept cut.
inline constexpr std::string_view kAnomalyNameTooLong = "tls.name_too_long";
/// A cleartext alert record whose length is odd (its last byte is not an alert).
inline constexpr std::string_view kAnomalyBadAlert = "tls.bad_alert";
/// A ChangeCipherSpec record that is not the single byte 1 (still taken as a ChangeCipherSpec).
inline constexpr std::string_view kAnomalyBadChangeCipherSpec = "tls.bad_change_cipher_spec";
/// A handshake message from the wrong side or out of place (e.g. a ServerHello from the
/// client, a second ClientHello without HelloRetryRequest, a cleartext Certificate in TLS 1.3),
/// or TLS ≤ 1.2 application data before ChangeCipherSpec. The message is not decoded.
inline constexpr std::string_view kAnomalyUnexpectedMessage = "tls.unexpected_message";
/// gap(): bytes lost. The direction becomes opaque (State::kOpaque).
inline constexpr std::string_view kAnomalyGap = "tls.gap";
/// end() inside a record header, a record or a handshake message.
inline constexpr std::string_view kAnomalyTruncated = "tls.truncated";
/// More than Limits::max_events events in one direction: the rest are counted, not reported.
inline constexpr std::string_view kAnomalyTooManyEvents = "tls.too_many_events";

// ---------------------------------------------------------------------------------------------
// Configuration

/// Limits on untrusted dimensions; each has its named anomaly. The bytes a session copies per
/// direction (buffered_bytes()) never exceed max_handshake_bytes + 4 (one handshake message
/// with its header) + 5 (a record header) + 32 (the first bytes of a non-TLS direction).
struct Limits {
  /// Record length field. 2^14 + 2048 is the TLS ≤ 1.2 ciphertext limit (RFC 5246 §6.2.3;
  /// TLS 1.3 allows less, 2^14 + 256). → tls.record_too_long
  std::size_t max_record_length = 16384 + 2048;
  /// One handshake message body (certificate chains can be large). → tls.handshake_too_large
  std::size_t max_handshake_bytes = 256 * 1024;
  /// Certificates of one chain that are parsed and kept. → tls.chain_truncated
  std::size_t max_certificates = 10;
  /// Entries kept of one list (cipher suites, supported versions, ALPN protocols, SAN entries
  /// of one kind). → tls.list_truncated
  std::size_t max_list_entries = 256;
  /// Bytes kept of one name (SNI host name, ALPN protocol). → tls.name_too_long
  std::size_t max_name_bytes = 255;
  /// Events reported per direction. → tls.too_many_events
  std::size_t max_events = 256;
  /// Bytes at the start of a direction that are not TLS and are scanned for the start of a
  /// TLS handshake or alert record (22 or 21, then 3, then a minor version 0-4: bytes XML
  /// cannot contain). 0: no resync, the direction fails at NotTls. → tls.resync, tls.not_tls
  std::size_t max_resync_bytes = 64 * 1024;
};

struct Config {
  Limits limits{};
};

// ---------------------------------------------------------------------------------------------
// Certificates

/// What a capture can tell about one X.509 certificate.
struct CertificateInfo {
  std::string subject;      ///< RFC 2253 one-line form, e.g. "CN=xmpp.example.com,O=Example"
  std::string issuer;       ///< same form
  std::string common_name;  ///< the last CN of the subject (UTF-8), "" if none
  std::vector<std::string> dns_names;   ///< subjectAltName dNSName entries, as written
  std::vector<std::string> xmpp_addrs;  ///< SAN otherName id-on-xmppAddr (1.3.6.1.5.5.7.8.5)
  std::vector<std::string> srv_names;   ///< SAN otherName id-on-dnsSRV (1.3.6.1.5.5.7.8.7)
  std::int64_t not_before = 0;          ///< unix seconds (UTC)
  std::int64_t not_after = 0;           ///< unix seconds (UTC)
  /// The issuer name equals the subject name and the signature verifies with the
  /// certificate's own public key.
  bool self_signed = false;
  /// Set by Session for a chain entry: the next certificate of the chain issued this one
  /// (OpenSSL's X509_check_issued: names, key identifiers, key usage; and the signature
  /// verifies with its key). parse_certificate() leaves it false.
  bool signed_by_next = false;
  std::string sha256;  ///< SHA-256 of the DER bytes, lower-case hex (also when parse_error)
  std::string key;     ///< "RSA 2048", "EC P-256", "Ed25519", ... ("" if unreadable)
  /// OpenSSL refused the DER, or its subjectAltName extension: the fields above other than
  /// sha256 may be empty or incomplete.
  bool parse_error = false;
};

/// Parses one DER certificate (borrowed for the call). Never throws; a certificate OpenSSL
/// refuses gives parse_error = true. SAN lists keep at most @p max_list_entries entries each
/// (@p truncated, if given, is set when one was cut).
CertificateInfo parse_certificate(std::span<const std::uint8_t> der,
                                  std::size_t max_list_entries = 256, bool* truncated = nullptr);

// ---------------------------------------------------------------------------------------------
// Events

enum class Side : std::uint8_t { kClient, kServer };

/// ClientHello (RFC 8446 §4.1.2; TLS ≤ 1.2 form too).
struct ClientHello {
  std::uint16_t legacy_version = 0;
  std::vector<std::uint16_t> supported_versions;  ///< supported_versions extension, in order
  std::string sni;                                ///< server_name host_name, "" if absent
  std::vector<std::string> alpn;                  ///< ALPN protocols offered, in order
  std::vector<std::uint16_t> cipher_suites;       ///< in order (GREASE and SCSVs included)
  bool has_key_share = false;                     ///< key_share extension present
  bool retry = false;                             ///< the second ClientHello after an HRR
  std::array<std::uint8_t, 32> random{};          ///< ClientHello.random (key-log lookup)
  bool early_data = false;                        ///< early_data extension (TLS 1.3 0-RTT)
};

/// ServerHello, or HelloRetryRequest (a ServerHello with the special random, RFC 8446 §4.1.3).
struct ServerHello {
  std::uint16_t legacy_version = 0;
  std::uint16_t version = 0;  ///< negotiated: supported_versions if present, else legacy_version
  std::uint16_t cipher_suite = 0;
  std::string alpn;  ///< protocol selected by ALPN, "" if none
  bool hello_retry_request = false;
  bool encrypt_then_mac = false;         ///< the server accepted encrypt_then_mac (RFC 7366)
  std::array<std::uint8_t, 32> random{};  ///< ServerHello.random (TLS ≤ 1.2 key expansion)
};

/// Certificate message of TLS ≤ 1.2 (in TLS 1.3 it is encrypted and never read).
struct Certificates {
  std::vector<CertificateInfo> chain;  ///< the first Limits::max_certificates, in order
  std::size_t total = 0;               ///< certificates in the message (0: an empty list)
};

struct CertificateRequest {};
struct ServerHelloDone {};
struct ClientKeyExchange {};

/// Any other cleartext handshake message that is allowed from this side (ServerKeyExchange,
/// CertificateVerify, NewSessionTicket, CertificateStatus, HelloRequest).
struct OtherHandshake {
  std::uint8_t type = 0;
  std::uint32_t length = 0;  ///< body length
};

struct ChangeCipherSpec {};

/// An alert record. encrypted: a TLS ≤ 1.2 alert after that side's ChangeCipherSpec (or an
/// alert record after a TLS 1.3 side started to encrypt) whose length is not 2: the record
/// type is visible, level and description are not (both 0). A 2-byte alert record is always
/// read in clear: no cipher suite encrypts an alert into 2 bytes.
struct Alert {
  std::uint8_t level = 0;        ///< 1 warning, 2 fatal
  std::uint8_t description = 0;  ///< see alert_description_name()
  bool encrypted = false;
};

/// This side's records from here on are encrypted. TLS ≤ 1.2: right after its
/// ChangeCipherSpec record (begin == end == the end of that record). TLS 1.3 (and a client
/// before any ServerHello, i.e. early data): at its first application_data record
/// (begin == end == that record's first byte).
struct EncryptionStarted {};

/// The direction does not start with a TLS record header. Reported once 32 bytes are in that
/// cannot begin a record, when a TLS record start follows fewer (then the event spans only
/// the bytes before it), or at gap()/end().
struct NotTls {
  std::string kind;         ///< "sslv2" (SSLv2 ClientHello), "http", "xml", "ssh", "text", "binary"
  std::string first_bytes;  ///< up to 32 bytes, non-printable ones as '.'
};

/// A defect. The same name is counted in Session::anomalies().
struct Anomaly {
  std::string name;
  std::string detail;
};

using EventBody = std::variant<ClientHello, ServerHello, Certificates, CertificateRequest,
                               ServerHelloDone, ClientKeyExchange, OtherHandshake, ChangeCipherSpec,
                               Alert, EncryptionStarted, NotTls, Anomaly>;

/// One event. [begin, end) are byte offsets in @c side's TLS stream (the bytes fed for that
/// side, gaps included): a handshake message from its type byte to its last byte (record
/// headers between its fragments included); a ChangeCipherSpec or alert from its record header
/// to the record's end; an anomaly where the defect is.
struct Event {
  Side side = Side::kClient;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  EventBody body;
};

/// One line describing @p e, e.g. "C 0-226 ClientHello legacy=TLS 1.2 sni='example.com' ...".
/// Stable: unit tests compare transcripts made of it.
std::string describe(const Event& e);
std::string_view to_string(Side s);

/// A TLS 1.3 Certificate message body (RFC 8446 §4.4.2: request context, then entries of DER
/// and extensions), as the decryptor reads it inside TLS (borrowed for the call). Fills @p out
/// like the TLS ≤ 1.2 Certificate event (at most @p limits.max_certificates parsed, each
/// chain entry's signed_by_next set); @p truncated is set when a list was cut. Returns "" or
/// why the message is malformed (then @p out is unchanged).
std::string parse_certificate_message_13(std::span<const std::uint8_t> body, const Limits& limits,
                                         Certificates& out, bool* truncated = nullptr);

// ---------------------------------------------------------------------------------------------
// Names

/// "SSL 3.0", "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"; anything else "0x%04x".
std::string version_name(std::uint16_t version);
/// IANA name, e.g. "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", for every suite OpenSSL 3 can
/// negotiate outside PSK/SRP/anonymous/ARIA (TLS 1.3, ECDHE, DHE, RSA key exchange with
/// AES-GCM/CCM/CBC, ChaCha20, Camellia), 3DES and RC4 ones, and the SCSVs; GREASE values
/// (RFC 8701) "GREASE"; anything else "0x%04x".
std::string cipher_suite_name(std::uint16_t suite);
/// RFC 8446 / IANA alert description name, e.g. "unknown_ca"; unknown "0x%02x".
std::string alert_description_name(std::uint8_t description);
/// "warning", "fatal"; unknown "0x%02x".
std::string alert_level_name(std::uint8_t level);
/// Handshake message name, e.g. "ServerKeyExchange", "CertificateVerify"; unknown "".
std::string handshake_type_name(std::uint8_t type);

// ---------------------------------------------------------------------------------------------
// The session

enum class State : std::uint8_t {
  kStart,      ///< no complete record header yet
  kClear,      ///< records framed, contents in clear
  kEncrypted,  ///< records framed, contents encrypted (after EncryptionStarted)
  kOpaque,     ///< bytes were lost (gap()): framing is unknown, feed() discards
  kFailed,     ///< decoding stopped for good (NotTls or a framing anomaly): see failure()
  kEnded,      ///< end() was called
};
std::string_view to_string(State s);

/// Records of one content type on one side.
struct RecordCount {
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;  ///< sum of the record length fields (headers not included)
};

/// What one side sent, counted when each record header is complete.
struct SideSummary {
  /// By content type (index: type - 20) and by whether that side had started to encrypt
  /// when the record began. The record that starts TLS 1.3 encryption counts as encrypted.
  std::array<RecordCount, kContentTypes> clear{};
  std::array<RecordCount, kContentTypes> encrypted{};
  bool change_cipher_spec = false;  ///< sent at least one ChangeCipherSpec record
  bool encryption_started = false;  ///< EncryptionStarted was reported
  /// Sent what must be its Finished: see Session::handshake_complete().
  bool finished = false;

  const RecordCount& count(ContentType type, bool after_encryption) const {
    const auto i = static_cast<std::size_t>(type) - 20;
    return after_encryption ? encrypted[i] : clear[i];
  }
};

class Session {
 public:
  explicit Session(Config config = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Decodes the next bytes of @p side's stream (borrowed for the call only) and appends
  /// events. Returns how many bytes were taken (the side's offset() grew by that much): all of
  /// them, except once the side has failed or ended (0), or when it fails during this call
  /// (the bytes up to the one that decided it; for NotTls up to the 32 first bytes it keeps).
  /// In State::kOpaque every byte is taken and discarded.
  std::size_t feed(Side side, std::span<const std::uint8_t> bytes);

  /// @p length bytes of @p side's stream were lost. That direction can no longer frame
  /// records: it becomes opaque for good (State::kOpaque, anomaly tls.gap), whatever it was
  /// in the middle of is dropped. No resynchronisation is attempted (a guessed record boundary
  /// in encrypted data would be noise). Ignored once the side has failed or ended.
  void gap(Side side, std::uint64_t length);

  /// End of @p side's stream: a pending NotTls is reported, and tls.truncated if it ends
  /// inside a record header, a record or a handshake message.
  void end(Side side);

  /// Events since the last clear_events()/take_events(), in the order they were decoded.
  const std::vector<Event>& events() const;
  void clear_events();
  std::vector<Event> take_events();

  State state(Side side) const;
  bool failed(Side side) const;
  /// Name of the anomaly that stopped @p side ("" unless it failed).
  std::string_view failure(Side side) const;
  /// Bytes of @p side's stream seen so far, gaps included (the offset of its next byte).
  std::uint64_t offset(Side side) const;
  /// Bytes the session holds for @p side (see Limits for the bound).
  std::size_t buffered_bytes(Side side) const;
  const SideSummary& summary(Side side) const;
  /// Records @p side sent after it started to encrypt (all content types).
  std::uint64_t encrypted_records(Side side) const;

  /// A ServerHello (not a HelloRetryRequest) was decoded.
  bool server_hello_seen() const;
  /// A HelloRetryRequest was decoded.
  bool hello_retry_request() const;
  /// Negotiated version: from the last ServerHello or HelloRetryRequest (supported_versions
  /// when present); 0 before any.
  std::uint16_t version() const;
  /// Cipher suite of the last ServerHello or HelloRetryRequest; 0 before any.
  std::uint16_t cipher_suite() const;
  /// ALPN protocol the server selected, "" if none.
  const std::string& alpn() const;

  /// Whether the handshake completed, as far as a capture without keys can tell:
  /// - TLS ≤ 1.2 (or version unknown): each side sent a ChangeCipherSpec and after it an
  ///   encrypted handshake record (its Finished; SideSummary::finished).
  /// - TLS 1.3: the server sent an encrypted record after its ServerHello (its encrypted
  ///   flight: EncryptedExtensions ... Finished) and the client sent an encrypted record after
  ///   that ServerHello was seen (its Finished, possibly after Certificate and
  ///   CertificateVerify).
  /// What it cannot know: whether either Finished verified (a peer that rejects it answers
  ///   with an alert that is encrypted in TLS 1.2 — visible as Alert{encrypted} — and
  ///   invisible in TLS 1.3); in TLS 1.3, whether the server accepted a client certificate
  ///   (its rejection is an encrypted alert, indistinguishable from application data), and
  ///   whether the client's encrypted record really was a Finished and not an encrypted alert
  ///   (clients that reject the server's certificate before their keys change — OpenSSL does —
  ///   send that alert in clear, which is visible).
  bool handshake_complete() const;

  const AnomalyCounters& anomalies() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedscope::tls
