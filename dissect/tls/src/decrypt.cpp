// TLS record decryption from NSS key-log secrets (decrypt.hpp). The record layer is framed
// here; keys come from OpenSSL's KDFs (TLS1-PRF for TLS ≤ 1.2, HKDF expand for TLS 1.3's
// HKDF-Expand-Label) and each record is opened with an EVP cipher. RFC 5246 §6, RFC 7366,
// RFC 7905, RFC 8446 §5 and §7.
#include "fedscope/tls/decrypt.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <optional>

namespace fedscope::tls {

// ---------------------------------------------------------------------------------------------
// Key log

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool from_hex(std::string_view s, std::vector<std::uint8_t>& out) {
  if (s.size() % 2 != 0 || s.empty()) return false;
  out.resize(s.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(s[2 * i]);
    const int lo = hex_value(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

enum class Label : std::uint8_t {
  kMaster,
  kClientHandshake,
  kServerHandshake,
  kClientTraffic,
  kServerTraffic,
  kIgnored,  // known and not needed (exporter secrets): not an anomaly
  kUnknown,
};

Label label_of(std::string_view l) {
  if (l == "CLIENT_RANDOM") return Label::kMaster;
  if (l == "CLIENT_HANDSHAKE_TRAFFIC_SECRET") return Label::kClientHandshake;
  if (l == "SERVER_HANDSHAKE_TRAFFIC_SECRET") return Label::kServerHandshake;
  if (l == "CLIENT_TRAFFIC_SECRET_0") return Label::kClientTraffic;
  if (l == "SERVER_TRAFFIC_SECRET_0") return Label::kServerTraffic;
  if (l == "EXPORTER_SECRET" || l == "EARLY_EXPORTER_SECRET") return Label::kIgnored;
  return Label::kUnknown;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::size_t KeyLog::Hash::operator()(const Random& r) const noexcept {
  // Client randoms are random: their first bytes are a good hash.
  std::size_t h = 0;
  std::memcpy(&h, r.data(), sizeof h);
  return h;
}

void KeyLog::load_text(std::string_view text) {
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.size() > limits_.max_line_bytes) {
      anomalies_.add(kAnomalyKeylogBadLine);
      continue;
    }
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t s1 = line.find(' ');
    const std::size_t s2 = s1 == std::string_view::npos ? s1 : line.find(' ', s1 + 1);
    if (s2 == std::string_view::npos) {
      anomalies_.add(kAnomalyKeylogBadLine);
      continue;
    }
    const Label label = label_of(line.substr(0, s1));
    std::vector<std::uint8_t> random, secret;
    if (!from_hex(line.substr(s1 + 1, s2 - s1 - 1), random) ||
        !from_hex(trim(line.substr(s2 + 1)), secret)) {
      anomalies_.add(kAnomalyKeylogBadLine);
      continue;
    }
    // A label this decryptor does not use (RSA premaster lines have an 8-byte first field,
    // early-traffic secrets a random): well-formed, skipped. Exporter secrets silently.
    if (label == Label::kIgnored) continue;
    if (label == Label::kUnknown) {
      anomalies_.add(kAnomalyKeylogUnknownLabel);
      continue;
    }
    if (random.size() != 32) {
      anomalies_.add(kAnomalyKeylogBadLine);
      continue;
    }
    const bool master = label == Label::kMaster;
    if ((master && secret.size() != 48) ||
        (!master && secret.size() != 32 && secret.size() != 48)) {
      anomalies_.add(kAnomalyKeylogBadLine);
      continue;
    }
    Random key{};
    std::copy(random.begin(), random.end(), key.begin());
    auto it = map_.find(key);
    if (it == map_.end()) {
      if (map_.size() >= limits_.max_entries) {
        anomalies_.add(kAnomalyKeylogTooMany);
        continue;
      }
      it = map_.emplace(key, Secrets{}).first;
    }
    Secrets& s = it->second;
    std::vector<std::uint8_t>* slot = nullptr;
    switch (label) {
      case Label::kMaster:
        slot = &s.master;
        break;
      case Label::kClientHandshake:
        slot = &s.client_handshake;
        break;
      case Label::kServerHandshake:
        slot = &s.server_handshake;
        break;
      case Label::kClientTraffic:
        slot = &s.client_traffic;
        break;
      case Label::kServerTraffic:
        slot = &s.server_traffic;
        break;
      default:
        break;
    }
    if (!slot) continue;
    if (slot->empty()) {
      *slot = std::move(secret);
    } else if (*slot != secret) {
      anomalies_.add(kAnomalyKeylogConflict);
      continue;
    }
    ++lines_used_;
  }
}

bool KeyLog::load_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open the key log";
    return false;
  }
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::streamoff>(in.tellg());
  if (size < 0) {
    error = path + ": cannot read the key log";
    return false;
  }
  if (static_cast<std::uint64_t>(size) > limits_.max_file_bytes) {
    error = path + ": the key log is larger than " + std::to_string(limits_.max_file_bytes >> 20) +
            " MiB";
    return false;
  }
  in.seekg(0);
  // Read in blocks, whole lines at a time: a key log of a million sessions is not held twice.
  std::string buf;
  std::vector<char> block(1 << 16);
  bool skipping = false;  // inside a line longer than max_line_bytes (counted once)
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got == 0) break;
    buf.append(block.data(), got);
    if (skipping) {
      const std::size_t nl = buf.find('\n');
      OPENSSL_cleanse(buf.data(), nl == std::string::npos ? buf.size() : nl + 1);
      buf.erase(0, nl == std::string::npos ? buf.size() : nl + 1);
      if (nl == std::string::npos) continue;
      skipping = false;
    }
    const std::size_t last = buf.rfind('\n');
    if (last == std::string::npos) {
      if (buf.size() > limits_.max_line_bytes) {
        anomalies_.add(kAnomalyKeylogBadLine);
        OPENSSL_cleanse(buf.data(), buf.size());
        buf.clear();
        skipping = true;
      }
      continue;
    }
    load_text(std::string_view(buf).substr(0, last + 1));
    OPENSSL_cleanse(buf.data(), last + 1);
    buf.erase(0, last + 1);
  }
  if (in.bad()) {
    error = path + ": cannot read the key log";
    return false;
  }
  if (!skipping) load_text(buf);
  OPENSSL_cleanse(buf.data(), buf.size());
  OPENSSL_cleanse(block.data(), block.size());
  return true;
}

const KeyLog::Secrets* KeyLog::find(std::span<const std::uint8_t, 32> client_random) const {
  Random key{};
  std::copy(client_random.begin(), client_random.end(), key.begin());
  auto it = map_.find(key);
  return it == map_.end() ? nullptr : &it->second;
}

bool keylog_file_exposed(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  return S_ISREG(st.st_mode) && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
}

std::string_view to_string(DecryptState s) {
  switch (s) {
    case DecryptState::kNone:
      return "none";
    case DecryptState::kDecrypting:
      return "decrypting";
    case DecryptState::kNoSecret:
      return "no-secret";
    case DecryptState::kUnsupported:
      return "unsupported-suite";
    case DecryptState::kBadRecord:
      return "bad-record";
    case DecryptState::kGap:
      return "gap";
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Suites

namespace {

enum class Cipher : std::uint8_t { kAes128Gcm, kAes256Gcm, kChaCha, kAes128Cbc, kAes256Cbc };
enum class Mac : std::uint8_t { kAead, kSha1, kSha256, kSha384 };

struct Suite {
  std::uint16_t id;
  Cipher cipher;
  Mac mac;
  bool sha384;  // PRF / HKDF hash SHA-384 (else SHA-256)
  bool tls13;
};

// The suites OpenSSL 3 negotiates with AES-GCM, ChaCha20-Poly1305 and AES-CBC (the key
// exchange does not matter: the key log gives the master secret).
constexpr Suite kSuites[] = {
    {0x1301, Cipher::kAes128Gcm, Mac::kAead, false, true},
    {0x1302, Cipher::kAes256Gcm, Mac::kAead, true, true},
    {0x1303, Cipher::kChaCha, Mac::kAead, false, true},
    // TLS 1.2 AEAD
    {0xC02B, Cipher::kAes128Gcm, Mac::kAead, false, false},
    {0xC02C, Cipher::kAes256Gcm, Mac::kAead, true, false},
    {0xC02F, Cipher::kAes128Gcm, Mac::kAead, false, false},
    {0xC030, Cipher::kAes256Gcm, Mac::kAead, true, false},
    {0x009E, Cipher::kAes128Gcm, Mac::kAead, false, false},
    {0x009F, Cipher::kAes256Gcm, Mac::kAead, true, false},
    {0x009C, Cipher::kAes128Gcm, Mac::kAead, false, false},
    {0x009D, Cipher::kAes256Gcm, Mac::kAead, true, false},
    {0xCCA8, Cipher::kChaCha, Mac::kAead, false, false},
    {0xCCA9, Cipher::kChaCha, Mac::kAead, false, false},
    {0xCCAA, Cipher::kChaCha, Mac::kAead, false, false},
    // CBC
    {0xC009, Cipher::kAes128Cbc, Mac::kSha1, false, false},
    {0xC00A, Cipher::kAes256Cbc, Mac::kSha1, false, false},
    {0xC013, Cipher::kAes128Cbc, Mac::kSha1, false, false},
    {0xC014, Cipher::kAes256Cbc, Mac::kSha1, false, false},
    {0xC023, Cipher::kAes128Cbc, Mac::kSha256, false, false},
    {0xC024, Cipher::kAes256Cbc, Mac::kSha384, true, false},
    {0xC027, Cipher::kAes128Cbc, Mac::kSha256, false, false},
    {0xC028, Cipher::kAes256Cbc, Mac::kSha384, true, false},
    {0x002F, Cipher::kAes128Cbc, Mac::kSha1, false, false},
    {0x0035, Cipher::kAes256Cbc, Mac::kSha1, false, false},
    {0x0033, Cipher::kAes128Cbc, Mac::kSha1, false, false},
    {0x0039, Cipher::kAes256Cbc, Mac::kSha1, false, false},
    {0x003C, Cipher::kAes128Cbc, Mac::kSha256, false, false},
    {0x003D, Cipher::kAes256Cbc, Mac::kSha256, false, false},
    {0x0067, Cipher::kAes128Cbc, Mac::kSha256, false, false},
    {0x006B, Cipher::kAes256Cbc, Mac::kSha256, false, false},
};

const Suite* find_suite(std::uint16_t id) {
  for (const Suite& s : kSuites)
    if (s.id == id) return &s;
  return nullptr;
}

bool is_cbc(Cipher c) {
  return c == Cipher::kAes128Cbc || c == Cipher::kAes256Cbc;
}

const EVP_CIPHER* evp_cipher(Cipher c) {
  switch (c) {
    case Cipher::kAes128Gcm:
      return EVP_aes_128_gcm();
    case Cipher::kAes256Gcm:
      return EVP_aes_256_gcm();
    case Cipher::kChaCha:
      return EVP_chacha20_poly1305();
    case Cipher::kAes128Cbc:
      return EVP_aes_128_cbc();
    case Cipher::kAes256Cbc:
      return EVP_aes_256_cbc();
  }
  return nullptr;
}

std::size_t key_length(Cipher c) {
  return c == Cipher::kAes128Gcm || c == Cipher::kAes128Cbc ? 16 : 32;
}

const EVP_MD* mac_md(Mac m) {
  switch (m) {
    case Mac::kSha1:
      return EVP_sha1();
    case Mac::kSha256:
      return EVP_sha256();
    case Mac::kSha384:
      return EVP_sha384();
    case Mac::kAead:
      break;
  }
  return nullptr;
}

std::size_t mac_length(Mac m) {
  switch (m) {
    case Mac::kSha1:
      return 20;
    case Mac::kSha256:
      return 32;
    case Mac::kSha384:
      return 48;
    case Mac::kAead:
      break;
  }
  return 0;
}

constexpr std::size_t kTag = 16;
constexpr std::size_t kKeepBuffer = 2048;
// After a gap: how many candidate record headers are tried, and how many sequence numbers
// (records lost whole) each; beyond, the side stays stopped (tls.decrypt.gap).
constexpr std::size_t kResyncCandidates = 16;
constexpr std::uint64_t kResyncSequences = 64;  // larger record buffers are freed between records
constexpr std::size_t kBlock = 16;

/// TLS ≤ 1.2 PRF (RFC 5246 §5; MD5+SHA-1 before TLS 1.2) through OpenSSL's TLS1-PRF KDF.
bool tls_prf(const char* digest, std::span<const std::uint8_t> secret, std::string_view label,
             std::span<const std::uint8_t> seed1, std::span<const std::uint8_t> seed2,
             std::span<std::uint8_t> out) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "TLS1-PRF", nullptr);
  if (!kdf) return false;
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (!ctx) return false;
  // The KDF concatenates the seed parameters in order: label, then the randoms.
  std::vector<std::uint8_t> seed(label.begin(), label.end());
  seed.insert(seed.end(), seed1.begin(), seed1.end());
  seed.insert(seed.end(), seed2.begin(), seed2.end());
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
                                        const_cast<std::uint8_t*>(secret.data()), secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed.data(), seed.size()),
      OSSL_PARAM_construct_end()};
  const bool ok = EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

/// HKDF-Expand-Label(secret, label, "", length) of RFC 8446 §7.1 through OpenSSL's HKDF KDF in
/// expand-only mode (the HkdfLabel structure is built here).
bool hkdf_expand_label(bool sha384, std::span<const std::uint8_t> secret, std::string_view label,
                       std::span<std::uint8_t> out) {
  std::vector<std::uint8_t> info;
  const std::string full = "tls13 " + std::string(label);
  info.push_back(static_cast<std::uint8_t>(out.size() >> 8));
  info.push_back(static_cast<std::uint8_t>(out.size()));
  info.push_back(static_cast<std::uint8_t>(full.size()));
  info.insert(info.end(), full.begin(), full.end());
  info.push_back(0);  // empty context
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (!kdf) return false;
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (!ctx) return false;
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  char* digest = const_cast<char*>(sha384 ? "SHA384" : "SHA256");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                        const_cast<std::uint8_t*>(secret.data()), secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end()};
  const bool ok = EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<std::uint8_t>(v);
    v >>= 8;
  }
}

struct CipherCtx {
  CipherCtx() : ctx(EVP_CIPHER_CTX_new()) {}
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
  CipherCtx(const CipherCtx&) = delete;
  CipherCtx& operator=(const CipherCtx&) = delete;
  EVP_CIPHER_CTX* ctx;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Decryptor

class Decryptor::Impl {
 public:
  Impl(const KeyLog& keys, DecryptLimits limits) : keys_(keys), limits_(limits) {}
  ~Impl() {
    for (Dir& d : dirs_)
      wipe(d);
    EVP_MAC_free(hmac_);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void on_client_hello(const ClientHello& h) {
    if (have_random_) return;  // the second hello after an HRR has the same random
    client_random_ = h.random;
    have_random_ = true;
    early_offered_ = h.early_data;
  }

  void on_server_hello(const ServerHello& h) {
    if (h.hello_retry_request || setup_done_) return;
    setup_done_ = true;
    version_ = h.version;
    server_random_ = h.random;
    etm_ = h.encrypt_then_mac;
    suite_ = find_suite(h.cipher_suite);
    const bool tls13 = h.version == kTls13;
    if (!suite_ || suite_->tls13 != tls13 || h.version < kTls10 || h.version > kTls13) {
      fail_connection(DecryptState::kUnsupported, kAnomalyDecryptUnsupportedSuite);
      return;
    }
    secrets_ = have_random_ ? keys_.find(client_random_) : nullptr;
    if (!secrets_ ||
        (tls13 ? secrets_->client_handshake.empty() || secrets_->server_handshake.empty()
               : secrets_->master.size() != 48)) {
      fail_connection(DecryptState::kNoSecret, kAnomalyDecryptNoSecret);
      return;
    }
    if (tls13) {
      for (int i = 0; i < 2; ++i) {
        Dir& d = dirs_[i];
        d.secret = i == 0 ? secrets_->client_handshake : secrets_->server_handshake;
        if (!keys13(d))
          return fail_connection(DecryptState::kUnsupported, kAnomalyDecryptUnsupportedSuite);
        d.encrypting = true;  // every application_data record from here on
      }
      return;
    }
    if (!keys12()) fail_connection(DecryptState::kUnsupported, kAnomalyDecryptUnsupportedSuite);
  }

  void feed(Side side, std::span<const std::uint8_t> bytes, DecryptOutput& out) {
    Dir& d = dir(side);
    while (!bytes.empty()) {
      if (d.stopped) {
        d.offset += bytes.size();
        return;
      }
      if (d.skip > 0) {
        const std::size_t k =
            static_cast<std::size_t>(std::min<std::uint64_t>(d.skip, bytes.size()));
        d.skip -= k;
        d.offset += k;
        bytes = bytes.subspan(k);
        continue;
      }
      if (d.resync && d.rec.empty()) {
        // After a gap: skip to something that can be this side's next record header.
        std::size_t k = 0;
        while (k < bytes.size() && !resync_start(bytes, k))
          ++k;
        d.offset += k;
        bytes = bytes.subspan(k);
        if (bytes.empty()) return;
      }
      if (!d.framed && d.rec.empty()) {
        // Bytes before the first record (plaintext injected after STARTTLS): skip to a
        // handshake or alert record start, as the tls::Session resynchronises.
        std::size_t k = 0;
        while (k < bytes.size() && !record_start(bytes, k))
          ++k;
        d.offset += k;
        bytes = bytes.subspan(k);
        if (bytes.empty()) return;
      }
      if (d.rec.size() < 5) {
        const std::size_t take = std::min<std::size_t>(5 - d.rec.size(), bytes.size());
        if (d.rec.empty()) d.rec_offset = d.offset;
        d.rec.insert(d.rec.end(), bytes.begin(), bytes.begin() + static_cast<long>(take));
        bytes = bytes.subspan(take);
        d.offset += take;
        if (d.rec.size() < 5) return;
        if ((!d.framed && !plausible_start(d.rec)) || (d.resync && !resync_header(d.rec))) {
          // Not a record start after all (the scans look at 3 bytes, the header has 5): go
          // on from the next byte.
          std::vector<std::uint8_t> again(d.rec.begin() + 1, d.rec.end());
          d.rec.clear();
          d.offset -= again.size();
          feed(side, again, out);
          continue;
        }
        const std::size_t len = static_cast<std::size_t>(d.rec[3]) << 8 | d.rec[4];
        if (d.rec[0] < 20 || d.rec[0] > 24 || d.rec[1] != 3 || len > limits_.max_record_length) {
          stop(d, DecryptState::kBadRecord, kAnomalyDecryptBadFraming);
          continue;
        }
        d.framed = true;
        d.rec.reserve(5 + len);
      }
      const std::size_t len = static_cast<std::size_t>(d.rec[3]) << 8 | d.rec[4];
      const std::size_t take = std::min(5 + len - d.rec.size(), bytes.size());
      d.rec.insert(d.rec.end(), bytes.begin(), bytes.begin() + static_cast<long>(take));
      bytes = bytes.subspan(take);
      d.offset += take;
      if (d.rec.size() < 5 + len) return;
      record(side, d, out);
      // A live connection keeps no record-sized buffer between records.
      if (d.rec.capacity() > kKeepBuffer)
        std::vector<std::uint8_t>().swap(d.rec);
      else
        d.rec.clear();
    }
  }

  void gap(Side side, std::uint64_t length) {
    Dir& d = dir(side);
    d.offset += length;
    if (d.stopped) return;
    if (d.state == DecryptState::kNoSecret || d.state == DecryptState::kUnsupported) return;
    anomalies_.add(kAnomalyDecryptGap);
    // Resumable once the side's current keys are known for good: TLS ≤ 1.2 after its
    // ChangeCipherSpec (not TLS 1.0 CBC, whose IV is the lost ciphertext), TLS 1.3 with the
    // application keys (a lost Finished or KeyUpdate would change them unseen).
    const bool resumable =
        setup_done_ && suite_ && d.encrypting &&
        (suite_->tls13 ? d.application : !(is_cbc(suite_->cipher) && version_ < kTls11));
    if (!resumable) {
      stop(d, DecryptState::kGap, {});
      return;
    }
    d.hs.clear();
    d.hs_skip = false;
    d.gap_before = true;
    d.state = DecryptState::kGap;  // until a record opens again
    if (d.skip > 0) {
      // Another gap inside the rest of a record already lost.
      if (length <= d.skip) {
        d.skip -= length;
        return;
      }
      d.skip = 0;
      d.rec.clear();
      d.resync = true;
      d.resync_tries = 0;
      return;
    }
    if (d.rec.size() >= 5) {
      // The gap is inside a record whose header arrived: that record is lost (its sequence
      // number is used), the next header follows its end.
      const std::size_t len = static_cast<std::size_t>(d.rec[3]) << 8 | d.rec[4];
      const std::uint64_t rest = 5 + len - d.rec.size();
      if (length <= rest) {
        d.skip = rest - length;
        d.rec.clear();
        ++d.seq;
        return;
      }
    }
    // Where the next record starts is unknown: look for a header that opens.
    d.rec.clear();
    d.resync = true;
    d.resync_tries = 0;
  }

  void end(Side side) {
    Dir& d = dir(side);
    if (!d.stopped && !d.resync && !d.rec.empty() && d.framed && d.encrypting)
      anomalies_.add(kAnomalyDecryptTruncated);
    d.rec.clear();
    d.stopped = true;
  }

  DecryptState state(Side side) const { return dir(side).state; }
  DecryptState state() const {
    const DecryptState a = dirs_[0].state, b = dirs_[1].state;
    for (DecryptState worst :
         {DecryptState::kNoSecret, DecryptState::kUnsupported, DecryptState::kBadRecord,
          DecryptState::kGap, DecryptState::kDecrypting})
      if (a == worst || b == worst) return worst;
    return DecryptState::kNone;
  }
  std::uint64_t records(Side side) const { return dir(side).records; }
  const AnomalyCounters& anomalies() const { return anomalies_; }

 private:
  struct Dir {
    std::vector<std::uint8_t> rec;  // the record being framed (header included)
    std::uint64_t offset = 0, rec_offset = 0;
    bool framed = false;      // a record header was read: no more resync
    bool encrypting = false;  // records are opened (TLS ≤ 1.2: after ChangeCipherSpec)
    bool stopped = false;
    bool application = false;  // TLS 1.3: application traffic keys in place
    DecryptState state = DecryptState::kNone;
    std::uint64_t records = 0, seq = 0;
    std::size_t early_skipped = 0;
    std::uint64_t skip = 0;        // bytes of a record a gap cut, still to skip
    bool resync = false;           // after a gap: looking for the next record
    std::size_t resync_tries = 0;  // candidate headers tried
    bool gap_before = false;       // the next piece follows lost plaintext
    std::vector<std::uint8_t> key, iv, mac_key, secret;
    std::array<std::uint8_t, kBlock> cbc_iv{};  // TLS 1.0: the chained IV
    std::vector<std::uint8_t> hs;               // TLS 1.3: an unfinished handshake message
    bool hs_skip = false;                       // ... that is too large: skipped
    std::size_t hs_skip_left = 0;
    CipherCtx cipher;
  };

  Dir& dir(Side s) { return dirs_[s == Side::kClient ? 0 : 1]; }
  const Dir& dir(Side s) const { return dirs_[s == Side::kClient ? 0 : 1]; }

  static bool record_start(std::span<const std::uint8_t> b, std::size_t k) {
    if (b[k] != 22 && b[k] != 21) return false;
    if (k + 1 < b.size() && b[k + 1] != 3) return false;
    if (k + 2 < b.size() && b[k + 2] > 4) return false;
    return true;
  }
  static bool plausible_start(const std::vector<std::uint8_t>& h) {
    return (h[0] == 22 || h[0] == 21) && h[1] == 3 && h[2] <= 4;
  }
  // A header this side can send once encrypting: TLS 1.3 application_data with 3.3; TLS ≤ 1.2
  // alert, handshake or application data with the negotiated version.
  bool resync_type(std::uint8_t t) const { return suite_->tls13 ? t == 23 : (t >= 21 && t <= 23); }
  std::uint8_t resync_minor() const {
    return suite_->tls13 ? 3 : static_cast<std::uint8_t>(version_ & 0xff);
  }
  bool resync_start(std::span<const std::uint8_t> b, std::size_t k) const {
    if (!resync_type(b[k])) return false;
    if (k + 1 < b.size() && b[k + 1] != 3) return false;
    if (k + 2 < b.size() && b[k + 2] != resync_minor()) return false;
    return true;
  }
  bool resync_header(const std::vector<std::uint8_t>& h) const {
    const std::size_t len = static_cast<std::size_t>(h[3]) << 8 | h[4];
    return resync_type(h[0]) && h[1] == 3 && h[2] == resync_minor() && len > kTag &&
           len <= limits_.max_record_length;
  }

  static void wipe(Dir& d) {
    for (auto* v : {&d.key, &d.iv, &d.mac_key, &d.secret})
      if (!v->empty()) OPENSSL_cleanse(v->data(), v->size());
  }

  void fail_connection(DecryptState s, std::string_view anomaly) {
    anomalies_.add(anomaly);
    for (Dir& d : dirs_) {
      d.state = s;
      d.stopped = true;
      d.rec.clear();
      wipe(d);
    }
  }

  void stop(Dir& d, DecryptState s, std::string_view anomaly) {
    if (!anomaly.empty()) anomalies_.add(anomaly);
    d.state = s;
    d.stopped = true;
    d.rec.clear();
    d.hs.clear();
    wipe(d);
  }

  // TLS 1.3: key and IV from the side's current traffic secret (RFC 8446 §7.3).
  bool keys13(Dir& d) {
    d.key.assign(key_length(suite_->cipher), 0);
    d.iv.assign(12, 0);
    d.seq = 0;
    return hkdf_expand_label(suite_->sha384, d.secret, "key", d.key) &&
           hkdf_expand_label(suite_->sha384, d.secret, "iv", d.iv) &&
           EVP_DecryptInit_ex(d.cipher.ctx, evp_cipher(suite_->cipher), nullptr, d.key.data(),
                              nullptr) == 1;
  }

  // TLS ≤ 1.2: the key block (RFC 5246 §6.3): MAC keys, encryption keys, IVs, client first.
  bool keys12() {
    const Cipher c = suite_->cipher;
    const std::size_t mac = mac_length(suite_->mac);
    const std::size_t key = key_length(c);
    const std::size_t iv = c == Cipher::kChaCha ? 12 : is_cbc(c) ? kBlock : 4;
    std::vector<std::uint8_t> block(2 * (mac + key + iv));
    const char* digest = version_ < kTls12 ? "MD5-SHA1" : suite_->sha384 ? "SHA384" : "SHA256";
    if (!tls_prf(digest, secrets_->master, "key expansion", server_random_, client_random_, block))
      return false;
    std::size_t at = 0;
    auto take = [&](std::size_t n) {
      std::vector<std::uint8_t> v(block.begin() + static_cast<long>(at),
                                  block.begin() + static_cast<long>(at + n));
      at += n;
      return v;
    };
    dirs_[0].mac_key = take(mac);
    dirs_[1].mac_key = take(mac);
    dirs_[0].key = take(key);
    dirs_[1].key = take(key);
    dirs_[0].iv = take(iv);
    dirs_[1].iv = take(iv);
    OPENSSL_cleanse(block.data(), block.size());
    for (Dir& d : dirs_) {
      if (is_cbc(c)) std::copy(d.iv.begin(), d.iv.end(), d.cbc_iv.begin());
      if (EVP_DecryptInit_ex(d.cipher.ctx, evp_cipher(c), nullptr, d.key.data(), nullptr) != 1)
        return false;
      if (is_cbc(c)) EVP_CIPHER_CTX_set_padding(d.cipher.ctx, 0);
    }
    return true;
  }

  void record(Side side, Dir& d, DecryptOutput& out) {
    const std::uint8_t type = d.rec[0];
    if (type == 20) {
      // TLS ≤ 1.2: this side encrypts from its next record on. TLS 1.3: the middlebox
      // compatibility record, nothing changes.
      if (setup_done_ && suite_ && !suite_->tls13 && d.state != DecryptState::kNoSecret &&
          d.state != DecryptState::kUnsupported) {
        d.encrypting = true;
        d.seq = 0;
      }
      return;
    }
    const bool tls13 = setup_done_ && version_ == kTls13;
    if (!d.encrypting || (tls13 && type != 23)) {
      // Cleartext handshake and alerts (the tls::Session reads them), or encrypted records
      // before any keys are known: 0-RTT early data.
      if (type == 23 && !setup_done_) {
        if (!have_random_) {
          // Joined after the hellos: without the client random no secret can be found.
          fail_connection(DecryptState::kNoSecret, kAnomalyDecryptNoSecret);
        } else if (side == Side::kClient && early_offered_ &&
                   d.early_skipped < limits_.max_early_records) {
          ++d.early_skipped;
          anomalies_.add(kAnomalyDecryptEarlyData);
        } else {
          // More "early data" than any server accepts, or encrypted bytes from the server
          // before its hello: not a TLS exchange this decryptor can follow.
          stop(d, DecryptState::kBadRecord, kAnomalyDecryptBadFraming);
        }
      }
      return;
    }
    const std::size_t base = out.bytes.size();
    std::uint8_t inner = type;
    if (d.resync) {
      // After a gap: the first record that opens under one of the next sequence numbers
      // (records may have been lost whole) puts the side back in step.
      const std::uint64_t first = d.seq;
      bool ok = false;
      for (std::uint64_t k = 0; k < kResyncSequences && !ok; ++k) {
        d.seq = first + k;
        inner = type;
        ok = tls13 ? open13(d, out, inner) : open12(d, out);
        if (!ok) out.bytes.resize(base);
      }
      if (!ok) {
        d.seq = first;
        if (++d.resync_tries >= kResyncCandidates) stop(d, DecryptState::kGap, {});
        return;  // not a record start after all, or one from too far on: keep scanning
      }
      d.resync = false;
      anomalies_.add(kAnomalyDecryptResynced);
      delivered(side, d, out, base, inner);
      return;
    }
    const bool ok = tls13 ? open13(d, out, inner) : open12(d, out);
    if (!ok) {
      out.bytes.resize(base);
      // A client that offered 0-RTT: its first records under the handshake key that do not
      // open are early data the server skipped (RFC 8446 §4.2.10), up to a bound. Without
      // the offer a record that does not open is a wrong secret or damage.
      if (tls13 && side == Side::kClient && early_offered_ && !d.application && d.records == 0 &&
          d.early_skipped < limits_.max_early_records) {
        ++d.early_skipped;
        anomalies_.add(kAnomalyDecryptEarlyData);
        return;
      }
      stop(d, DecryptState::kBadRecord, kAnomalyDecryptBadRecord);
      return;
    }
    delivered(side, d, out, base, inner);
  }

  // A record opened: its plaintext (at base in out) becomes pieces.
  void delivered(Side side, Dir& d, DecryptOutput& out, std::size_t base, std::uint8_t inner) {
    ++d.seq;
    ++d.records;
    d.state = DecryptState::kDecrypting;
    const std::size_t pieces = out.pieces.size();
    const std::size_t n = out.bytes.size() - base;
    if (inner == 22) {
      handshake(side, d, base, n, out);
    } else if (inner == 21 || inner == 23) {
      out.pieces.push_back(PlainPiece{static_cast<ContentType>(inner), base, n, d.rec_offset});
    } else {
      out.bytes.resize(base);
    }
    if (d.gap_before && out.pieces.size() > pieces) {
      out.pieces[pieces].gap_before = true;
      d.gap_before = false;
    }
  }

  // Splits a side's handshake plaintext into whole messages (TLS 1.3 messages may span
  // records; TLS ≤ 1.2's encrypted handshake is the Finished, kept the same way). Moves the
  // bytes of complete messages into pieces; acts on Finished and KeyUpdate.
  void handshake(Side side, Dir& d, std::size_t base, std::size_t n, DecryptOutput& out) {
    std::span<const std::uint8_t> in(out.bytes.data() + base, n);
    std::vector<std::uint8_t> msgs;  // complete messages, then written back at base
    std::vector<std::pair<std::size_t, std::size_t>> at;
    bool finished = false, key_update = false;
    while (!in.empty()) {
      if (d.hs_skip) {
        const std::size_t k = std::min(d.hs_skip_left, in.size());
        d.hs_skip_left -= k;
        in = in.subspan(k);
        if (d.hs_skip_left == 0) d.hs_skip = false;
        continue;
      }
      if (d.hs.size() < 4) {
        const std::size_t k = std::min<std::size_t>(4 - d.hs.size(), in.size());
        d.hs.insert(d.hs.end(), in.begin(), in.begin() + static_cast<long>(k));
        in = in.subspan(k);
        if (d.hs.size() < 4) break;
        const std::size_t len = static_cast<std::size_t>(d.hs[1]) << 16 |
                                static_cast<std::size_t>(d.hs[2]) << 8 | d.hs[3];
        if (len > limits_.max_handshake_bytes) {
          anomalies_.add(kAnomalyDecryptHandshakeTooLarge);
          d.hs.clear();
          d.hs_skip = len > 0;
          d.hs_skip_left = len;
          continue;
        }
      }
      const std::size_t len = static_cast<std::size_t>(d.hs[1]) << 16 |
                              static_cast<std::size_t>(d.hs[2]) << 8 | d.hs[3];
      const std::size_t k = std::min(4 + len - d.hs.size(), in.size());
      d.hs.insert(d.hs.end(), in.begin(), in.begin() + static_cast<long>(k));
      in = in.subspan(k);
      if (d.hs.size() < 4 + len) break;
      at.emplace_back(msgs.size(), d.hs.size());
      if (d.hs[0] == 20) finished = true;
      if (d.hs[0] == 24) key_update = true;
      msgs.insert(msgs.end(), d.hs.begin(), d.hs.end());
      if (d.hs.capacity() > kKeepBuffer)
        std::vector<std::uint8_t>().swap(d.hs);
      else
        d.hs.clear();
    }
    out.bytes.resize(base);
    out.bytes.insert(out.bytes.end(), msgs.begin(), msgs.end());
    for (const auto& [off, len] : at)
      out.pieces.push_back(PlainPiece{ContentType::kHandshake, base + off, len, d.rec_offset});
    if (!suite_->tls13) return;
    // The keys change after the record that ends the message (RFC 8446 §5.1, §7.2).
    if (finished && !d.application) {
      const auto& next =
          side == Side::kClient ? secrets_->client_traffic : secrets_->server_traffic;
      if (next.empty()) {
        stop(d, DecryptState::kNoSecret, kAnomalyDecryptNoSecret);
        return;
      }
      d.secret = next;
      d.application = true;
      if (!keys13(d)) stop(d, DecryptState::kUnsupported, kAnomalyDecryptUnsupportedSuite);
    } else if (key_update && d.application) {
      std::vector<std::uint8_t> next(d.secret.size());
      if (!hkdf_expand_label(suite_->sha384, d.secret, "traffic upd", next)) {
        stop(d, DecryptState::kUnsupported, kAnomalyDecryptUnsupportedSuite);
        return;
      }
      OPENSSL_cleanse(d.secret.data(), d.secret.size());
      d.secret = std::move(next);
      if (!keys13(d)) stop(d, DecryptState::kUnsupported, kAnomalyDecryptUnsupportedSuite);
    }
  }

  // TLS 1.3 record: AEAD with nonce = iv XOR seq, the header as AAD; the inner content type is
  // the last non-zero byte of the plaintext.
  bool open13(Dir& d, DecryptOutput& out, std::uint8_t& inner) {
    const std::size_t len = d.rec.size() - 5;
    if (len < kTag + 1) return false;
    std::array<std::uint8_t, 12> nonce{};
    std::copy(d.iv.begin(), d.iv.end(), nonce.begin());
    std::array<std::uint8_t, 8> seq{};
    put_u64(seq.data(), d.seq);
    for (std::size_t i = 0; i < 8; ++i)
      nonce[4 + i] ^= seq[i];
    const std::size_t ct = len - kTag;
    const std::size_t base = out.bytes.size();
    if (!aead(d, nonce, std::span<const std::uint8_t>(d.rec.data(), 5),
              std::span<const std::uint8_t>(d.rec.data() + 5, ct),
              std::span<const std::uint8_t>(d.rec.data() + 5 + ct, kTag), out))
      return false;
    // TLSInnerPlaintext: content, type, zero padding.
    while (out.bytes.size() > base && out.bytes.back() == 0)
      out.bytes.pop_back();
    if (out.bytes.size() == base) return false;  // no content type: unexpected_message
    inner = out.bytes.back();
    out.bytes.pop_back();
    return true;
  }

  bool aead(Dir& d, std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
            std::span<const std::uint8_t> ct, std::span<const std::uint8_t> tag,
            DecryptOutput& out) {
    EVP_CIPHER_CTX* c = d.cipher.ctx;
    const std::size_t base = out.bytes.size();
    out.bytes.resize(base + ct.size() + kBlock);
    int n = 0, m = 0;
    const bool ok =
        EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data()) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag.size()),
                            const_cast<std::uint8_t*>(tag.data())) == 1 &&
        EVP_DecryptUpdate(c, nullptr, &n, aad.data(), static_cast<int>(aad.size())) == 1 &&
        EVP_DecryptUpdate(c, out.bytes.data() + base, &n, ct.data(), static_cast<int>(ct.size())) ==
            1 &&
        EVP_DecryptFinal_ex(c, out.bytes.data() + base + n, &m) == 1;
    out.bytes.resize(ok ? base + static_cast<std::size_t>(n + m) : base);
    return ok;
  }

  // TLS ≤ 1.2 record: AEAD (GCM with an explicit nonce, ChaCha20-Poly1305 with the XOR
  // nonce), or CBC with MAC-then-encrypt or encrypt-then-MAC.
  bool open12(Dir& d, DecryptOutput& out) {
    const std::uint8_t* h = d.rec.data();
    std::span<const std::uint8_t> body(d.rec.data() + 5, d.rec.size() - 5);
    std::array<std::uint8_t, 13> aad{};
    put_u64(aad.data(), d.seq);
    aad[8] = h[0];
    aad[9] = h[1];
    aad[10] = h[2];
    const Cipher c = suite_->cipher;
    if (c == Cipher::kAes128Gcm || c == Cipher::kAes256Gcm) {
      if (body.size() < 8 + kTag) return false;
      const std::size_t pt = body.size() - 8 - kTag;
      aad[11] = static_cast<std::uint8_t>(pt >> 8);
      aad[12] = static_cast<std::uint8_t>(pt);
      std::array<std::uint8_t, 12> nonce{};
      std::copy(d.iv.begin(), d.iv.end(), nonce.begin());
      std::copy(body.begin(), body.begin() + 8, nonce.begin() + 4);
      return aead(d, nonce, aad, body.subspan(8, pt), body.subspan(8 + pt), out);
    }
    if (c == Cipher::kChaCha) {
      if (body.size() < kTag) return false;
      const std::size_t pt = body.size() - kTag;
      aad[11] = static_cast<std::uint8_t>(pt >> 8);
      aad[12] = static_cast<std::uint8_t>(pt);
      std::array<std::uint8_t, 12> nonce{};
      std::copy(d.iv.begin(), d.iv.end(), nonce.begin());
      for (std::size_t i = 0; i < 8; ++i)
        nonce[4 + i] ^= aad[i];
      return aead(d, nonce, aad, body.subspan(0, pt), body.subspan(pt), out);
    }
    return open_cbc(d, out, body, aad);
  }

  bool hmac_ok(const Dir& d, std::span<const std::uint8_t> aad13, std::size_t length,
               std::span<const std::uint8_t> data, std::span<const std::uint8_t> mac) {
    std::array<std::uint8_t, 13> a{};
    std::copy(aad13.begin(), aad13.end(), a.begin());
    a[11] = static_cast<std::uint8_t>(length >> 8);
    a[12] = static_cast<std::uint8_t>(length);
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> md{};
    if (!hmac_) hmac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (!hmac_) return false;
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac_);
    if (!ctx) return false;
    char* digest = const_cast<char*>(EVP_MD_get0_name(mac_md(suite_->mac)));
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    std::size_t out_len = 0;
    const bool ok = EVP_MAC_init(ctx, d.mac_key.data(), d.mac_key.size(), params) == 1 &&
                    EVP_MAC_update(ctx, a.data(), a.size()) == 1 &&
                    EVP_MAC_update(ctx, data.data(), data.size()) == 1 &&
                    EVP_MAC_final(ctx, md.data(), &out_len, md.size()) == 1;
    EVP_MAC_CTX_free(ctx);
    return ok && out_len == mac.size() && CRYPTO_memcmp(md.data(), mac.data(), mac.size()) == 0;
  }

  bool open_cbc(Dir& d, DecryptOutput& out, std::span<const std::uint8_t> body,
                std::span<const std::uint8_t> aad) {
    const std::size_t mac = mac_length(suite_->mac);
    const bool explicit_iv = version_ >= kTls11;
    std::span<const std::uint8_t> enc = body;
    if (etm_) {
      // encrypt-then-MAC (RFC 7366): the MAC covers IV and ciphertext.
      if (body.size() < mac + kBlock) return false;
      enc = body.first(body.size() - mac);
      if (!hmac_ok(d, aad, enc.size(), enc, body.subspan(enc.size()))) return false;
    }
    std::array<std::uint8_t, kBlock> iv = d.cbc_iv;
    if (explicit_iv) {
      if (enc.size() < kBlock) return false;
      std::copy(enc.begin(), enc.begin() + kBlock, iv.begin());
      enc = enc.subspan(kBlock);
    }
    if (enc.empty() || enc.size() % kBlock != 0) return false;
    EVP_CIPHER_CTX* c = d.cipher.ctx;
    const std::size_t base = out.bytes.size();
    out.bytes.resize(base + enc.size() + kBlock);
    int n = 0, m = 0;
    if (EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, iv.data()) != 1 ||
        EVP_DecryptUpdate(c, out.bytes.data() + base, &n, enc.data(),
                          static_cast<int>(enc.size())) != 1 ||
        EVP_DecryptFinal_ex(c, out.bytes.data() + base + n, &m) != 1) {
      out.bytes.resize(base);
      return false;
    }
    if (!explicit_iv) std::copy(enc.end() - kBlock, enc.end(), d.cbc_iv.begin());
    std::size_t pt = static_cast<std::size_t>(n + m);
    out.bytes.resize(base + pt);
    // Padding: pad_len + 1 bytes, each pad_len.
    const std::uint8_t pad = out.bytes.back();
    if (static_cast<std::size_t>(pad) + 1 > pt) return false;
    for (std::size_t i = 0; i <= pad; ++i)
      if (out.bytes[base + pt - 1 - i] != pad) return false;
    pt -= static_cast<std::size_t>(pad) + 1;
    if (!etm_) {
      if (pt < mac) return false;
      pt -= mac;
      if (!hmac_ok(d, aad, pt, std::span<const std::uint8_t>(out.bytes.data() + base, pt),
                   std::span<const std::uint8_t>(out.bytes.data() + base + pt, mac)))
        return false;
    }
    out.bytes.resize(base + pt);
    return true;
  }

  const KeyLog& keys_;
  DecryptLimits limits_;
  AnomalyCounters anomalies_;
  std::array<Dir, 2> dirs_{};
  KeyLog::Random client_random_{}, server_random_{};
  bool have_random_ = false, setup_done_ = false, etm_ = false, early_offered_ = false;
  std::uint16_t version_ = 0;
  const Suite* suite_ = nullptr;
  const KeyLog::Secrets* secrets_ = nullptr;
  EVP_MAC* hmac_ = nullptr;  // fetched once, for CBC suites
};

Decryptor::Decryptor(const KeyLog& keys, DecryptLimits limits)
    : impl_(std::make_unique<Impl>(keys, limits)) {}
Decryptor::~Decryptor() = default;
void Decryptor::on_client_hello(const ClientHello& hello) {
  impl_->on_client_hello(hello);
}
void Decryptor::on_server_hello(const ServerHello& hello) {
  impl_->on_server_hello(hello);
}
void Decryptor::feed(Side side, std::span<const std::uint8_t> bytes, DecryptOutput& out) {
  impl_->feed(side, bytes, out);
}
void Decryptor::gap(Side side, std::uint64_t length) {
  impl_->gap(side, length);
}
void Decryptor::end(Side side) {
  impl_->end(side);
}
DecryptState Decryptor::state(Side side) const {
  return impl_->state(side);
}
DecryptState Decryptor::state() const {
  return impl_->state();
}
std::uint64_t Decryptor::records_decrypted(Side side) const {
  return impl_->records(side);
}
const AnomalyCounters& Decryptor::anomalies() const {
  return impl_->anomalies();
}

}  // namespace fedscope::tls
