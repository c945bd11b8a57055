#pragma once
/// @file
/// TLS decryption from a key log: the NSS key-log format (what OpenSSL's
/// SSL_CTX_set_keylog_callback, curl, browsers and many servers write, and what Wireshark reads
/// as tls.keylog_file) and a per-connection record decryptor built on OpenSSL's primitives
/// (EVP ciphers, the TLS1-PRF and HKDF KDFs). Nothing here replays a TLS library: the records
/// are framed, the keys derived and each record opened here.
///
/// Supported: TLS 1.3 with TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and
/// TLS_CHACHA20_POLY1305_SHA256 (HelloRetryRequest, middlebox ChangeCipherSpec, KeyUpdate);
/// TLS 1.0-1.2 with AES-GCM, ChaCha20-Poly1305 and AES-CBC suites (HMAC-SHA1/SHA256/SHA384,
/// MAC-then-encrypt and encrypt-then-MAC, RFC 7366), from the CLIENT_RANDOM master secret.
/// Anything else is "unsupported suite" (a named anomaly), never a guess.
///
/// Sans-IO like the decoders: bytes of one side in (in order, with explicit gap() and the
/// hellos as the tls::Session decoded them), plaintext out.
///
/// **Buffer ownership**: feed() borrows its bytes for the call; it buffers at most one
/// unfinished record per side (≤ 5 + Limits::max_record_length bytes) and one unfinished
/// TLS 1.3 handshake message per side (≤ Limits::max_handshake_bytes + 4). The output's
/// bytes belong to the caller's DecryptOutput and stay valid until its next clear(). Secrets
/// live in the KeyLog (owned by the caller, read-only, shared by every connection and thread)
/// and in each Decryptor's OpenSSL contexts; they are never printed, logged or rendered.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fedscope/base/anomaly.hpp"
#include "fedscope/tls/decoder.hpp"

namespace fedscope::tls {

// ---------------------------------------------------------------------------------------------
// Anomaly names

/// A key-log line that is not "LABEL <64 hex> <hex secret>" (bad hex, wrong lengths, too long).
inline constexpr std::string_view kAnomalyKeylogBadLine = "keylog.bad_line";
/// A well-formed key-log line (LABEL <hex> <hex>) with a label this decryptor does not use
/// (CLIENT_EARLY_TRAFFIC_SECRET, RSA premaster lines...): skipped. EXPORTER_SECRET and
/// EARLY_EXPORTER_SECRET are known, unused and skipped without a count.
inline constexpr std::string_view kAnomalyKeylogUnknownLabel = "keylog.unknown_label";
/// The same client random and label with two different secrets: the first is kept.
inline constexpr std::string_view kAnomalyKeylogConflict = "keylog.conflict";
/// More client randoms than KeyLog::Limits::max_entries: the rest are skipped.
inline constexpr std::string_view kAnomalyKeylogTooMany = "keylog.too_many_entries";

/// The key log holds no secret for this connection's client random (or not the ones its
/// version needs). Once per connection.
inline constexpr std::string_view kAnomalyDecryptNoSecret = "tls.decrypt.no_secret";
/// The negotiated suite (or version) is not one the decryptor supports. Once per connection.
inline constexpr std::string_view kAnomalyDecryptUnsupportedSuite = "tls.decrypt.unsupported_suite";
/// A record failed authentication (AEAD tag, MAC, padding): a wrong key or damaged bytes.
/// That side stops decrypting (its sequence number is no longer known).
inline constexpr std::string_view kAnomalyDecryptBadRecord = "tls.decrypt.bad_record";
/// Bytes lost in the capture. Where the side's keys cannot have changed unseen (TLS ≤ 1.2
/// after ChangeCipherSpec, except TLS 1.0 CBC; TLS 1.3 under application keys) it resumes:
/// after a record the gap cut it goes on at the next header, else it looks for a header that
/// opens under one of the next 64 sequence numbers (16 candidates at most;
/// kAnomalyDecryptResynced when found). Otherwise that side stops.
inline constexpr std::string_view kAnomalyDecryptGap = "tls.decrypt.gap";
/// A side found its record framing and sequence number again after a gap.
inline constexpr std::string_view kAnomalyDecryptResynced = "tls.decrypt.resynced";
/// The side ended inside a record.
inline constexpr std::string_view kAnomalyDecryptTruncated = "tls.decrypt.truncated";
/// Encrypted records the decryptor skipped: TLS 1.3 early data (0-RTT) before the
/// ServerHello, or, when the ClientHello offered early data, client records after it that do
/// not open with the handshake key (early data the server rejected and skipped).
inline constexpr std::string_view kAnomalyDecryptEarlyData = "tls.decrypt.early_data";
/// A record header the decryptor cannot frame (the tls::Session names the defect): stops
/// that side.
inline constexpr std::string_view kAnomalyDecryptBadFraming = "tls.decrypt.bad_framing";
/// A TLS 1.3 handshake message inside TLS longer than Limits::max_handshake_bytes: skipped.
inline constexpr std::string_view kAnomalyDecryptHandshakeTooLarge =
    "tls.decrypt.handshake_too_large";

// ---------------------------------------------------------------------------------------------
// Key log

/// The secrets of NSS key-log files, by client random. Load, then share read-only.
class KeyLog {
 public:
  using Random = std::array<std::uint8_t, 32>;

  struct Limits {
    std::size_t max_entries = 1'000'000;        ///< client randoms → keylog.too_many_entries
    std::size_t max_line_bytes = 1024;          ///< → keylog.bad_line
    std::uint64_t max_file_bytes = 1ULL << 30;  ///< load_file() refuses a larger file
  };

  /// The secrets one client random has (empty vectors: not in the log).
  struct Secrets {
    std::vector<std::uint8_t> master;            ///< CLIENT_RANDOM (TLS ≤ 1.2), 48 bytes
    std::vector<std::uint8_t> client_handshake;  ///< CLIENT_HANDSHAKE_TRAFFIC_SECRET
    std::vector<std::uint8_t> server_handshake;  ///< SERVER_HANDSHAKE_TRAFFIC_SECRET
    std::vector<std::uint8_t> client_traffic;    ///< CLIENT_TRAFFIC_SECRET_0
    std::vector<std::uint8_t> server_traffic;    ///< SERVER_TRAFFIC_SECRET_0
  };

  KeyLog() = default;
  explicit KeyLog(Limits limits) : limits_(limits) {}

  /// Reads a key-log file and adds its secrets. Returns false with @p error only when the
  /// file cannot be read (or is over Limits::max_file_bytes); bad lines are counted.
  bool load_file(const std::string& path, std::string& error);
  /// Adds the secrets of key-log text (a whole file's contents; borrowed for the call).
  void load_text(std::string_view text);

  /// The secrets for @p client_random, or null.
  const Secrets* find(std::span<const std::uint8_t, 32> client_random) const;
  std::size_t size() const { return map_.size(); }
  /// Lines read and used (all files so far).
  std::uint64_t lines_used() const { return lines_used_; }
  const AnomalyCounters& anomalies() const { return anomalies_; }

 private:
  struct Hash {
    std::size_t operator()(const Random& r) const noexcept;
  };
  Limits limits_{};
  std::unordered_map<Random, Secrets, Hash> map_;
  std::uint64_t lines_used_ = 0;
  AnomalyCounters anomalies_;
};

/// The key-log file is readable by its group or by others (a warning for the user: the file
/// decrypts every session it names). False when it cannot be stat()ed.
bool keylog_file_exposed(const std::string& path);

// ---------------------------------------------------------------------------------------------
// Per-connection decryptor

/// How far a side's decryption got. to_string(): "none", "decrypting", "no-secret",
/// "unsupported-suite", "bad-record", "gap", "ended".
enum class DecryptState : std::uint8_t {
  kNone,         ///< nothing encrypted seen yet (or no TLS)
  kDecrypting,   ///< keys known, every record so far opened
  kNoSecret,     ///< no secret in the key log for this client random
  kUnsupported,  ///< suite or version not supported
  kBadRecord,    ///< a record failed authentication: stopped
  kGap,          ///< bytes lost: stopped, or looking for the next record that opens
};
std::string_view to_string(DecryptState s);

/// One piece of plaintext. Application data and alerts: one per record; TLS 1.3 handshake
/// messages (EncryptedExtensions, Certificate, CertificateRequest, CertificateVerify,
/// Finished, NewSessionTicket, KeyUpdate) and the TLS ≤ 1.2 Finished: one per complete
/// message, type byte and 3-byte length included.
struct PlainPiece {
  ContentType type = ContentType::kApplicationData;
  std::size_t begin = 0, length = 0;  ///< into DecryptOutput::bytes
  std::uint64_t record_offset = 0;    ///< offset of the (last) record in the side's stream
  bool gap_before = false;            ///< plaintext was lost just before this piece (a capture gap)
};

struct DecryptOutput {
  std::vector<std::uint8_t> bytes;
  std::vector<PlainPiece> pieces;
  std::span<const std::uint8_t> view(const PlainPiece& p) const {
    return {bytes.data() + p.begin, p.length};
  }
  void clear() {
    bytes.clear();
    pieces.clear();
  }
};

struct DecryptLimits {
  std::size_t max_record_length = 16384 + 2048;  ///< larger: kAnomalyDecryptBadFraming
  std::size_t max_handshake_bytes = 256 * 1024;  ///< → tls.decrypt.handshake_too_large
  std::size_t max_early_records = 64;            ///< skipped 0-RTT records before giving up
};

/// One connection's decryptor. Feed each side's TLS bytes in capture order (the same bytes
/// the tls::Session got, from the same offset), and pass the hellos the tls::Session decoded
/// *before* the bytes after them: on_client_hello() / on_server_hello() (HelloRetryRequest
/// included; it is recognised and skipped).
class Decryptor {
 public:
  /// @p keys must outlive the Decryptor.
  explicit Decryptor(const KeyLog& keys, DecryptLimits limits = {});
  ~Decryptor();
  Decryptor(const Decryptor&) = delete;
  Decryptor& operator=(const Decryptor&) = delete;

  void on_client_hello(const ClientHello& hello);
  void on_server_hello(const ServerHello& hello);

  /// Appends what @p bytes (borrowed) complete to @p out (not cleared here).
  void feed(Side side, std::span<const std::uint8_t> bytes, DecryptOutput& out);
  /// @p length bytes lost: that side stops (kGap) if it was decrypting or could have.
  void gap(Side side, std::uint64_t length);
  /// End of that side: an unfinished record is kAnomalyDecryptTruncated.
  void end(Side side);

  DecryptState state(Side side) const;
  /// The state of the connection as one word: the worst side's, else kDecrypting if any side
  /// decrypted, else kNone.
  DecryptState state() const;
  std::uint64_t records_decrypted(Side side) const;
  /// Counters of the kAnomaly* names above (merge them into the connection's).
  const AnomalyCounters& anomalies() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedscope::tls
