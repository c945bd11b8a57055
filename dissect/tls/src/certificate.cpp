// X.509 certificates through OpenSSL's libcrypto: DER in, CertificateInfo out. Only memory
// BIOs are used; OpenSSL's error queue is restored to what it was before each call.

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "certificate_chain.hpp"
#include "fedscope/tls/decoder.hpp"

namespace fedscope::tls {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* g) const { GENERAL_NAMES_free(g); }
};

/// Errors OpenSSL queues while we parse untrusted input are ours: drop them on the way out,
/// leave the caller's (e.g. a relay's TLS stack) alone.
class ErrorMark {
 public:
  ErrorMark() { ERR_set_mark(); }
  ~ErrorMark() { ERR_pop_to_mark(); }
  ErrorMark(const ErrorMark&) = delete;
  ErrorMark& operator=(const ErrorMark&) = delete;
};

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    s += kHex[p[i] >> 4];
    s += kHex[p[i] & 0xf];
  }
  return s;
}

std::string name_line(const X509_NAME* name) {
  if (name == nullptr) return {};
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  // RFC 2253 order and escaping, but UTF-8 kept as UTF-8 (not \XX escapes).
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
    return {};
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(len));
}

std::string last_common_name(const X509_NAME* name) {
  if (name == nullptr) return {};
  int last = -1;
  for (int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, NID_commonName, i))
    last = i;
  if (last < 0) return {};
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0 || utf8 == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

std::string string_of(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  const int n = ASN1_STRING_length(s);
  if (n <= 0) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(n));
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool unix_time(const ASN1_TIME* t, std::int64_t& out) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return false;
  const std::int64_t days =
      days_from_civil(std::int64_t{tm.tm_year} + 1900, static_cast<unsigned>(tm.tm_mon + 1),
                      static_cast<unsigned>(tm.tm_mday));
  out = days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
  return true;
}

std::string key_description(X509* x) {
  EVP_PKEY* pk = X509_get0_pubkey(x);
  if (pk == nullptr) return {};
  const int bits = EVP_PKEY_get_bits(pk);
  switch (EVP_PKEY_get_base_id(pk)) {
    case EVP_PKEY_RSA:
      return "RSA " + std::to_string(bits);
    case EVP_PKEY_RSA_PSS:
      return "RSA-PSS " + std::to_string(bits);
    case EVP_PKEY_DSA:
      return "DSA " + std::to_string(bits);
    case EVP_PKEY_ED25519:
      return "Ed25519";
    case EVP_PKEY_ED448:
      return "Ed448";
    case EVP_PKEY_EC: {
      char group[80] = {};
      std::size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                         &len) == 1 &&
          len > 0) {
        const char* nist = EC_curve_nid2nist(OBJ_txt2nid(group));
        return "EC " + std::string(nist != nullptr ? nist : group);
      }
      return "EC " + std::to_string(bits);  // explicit curve parameters
    }
    default: {
      const char* name = EVP_PKEY_get0_type_name(pk);
      std::string s = name != nullptr ? name : "unknown";
      if (bits > 0) {
        // Two appends, not `" " + std::to_string()`: g++ 12 -O3 warns -Wrestrict (GCC 105651).
        s += ' ';
        s += std::to_string(bits);
      }
      return s;
    }
  }
}

/// Appends @p value to @p list unless it is full.
void keep(std::vector<std::string>& list, std::string value, std::size_t max, bool& truncated) {
  if (list.size() >= max) {
    truncated = true;
    return;
  }
  list.push_back(std::move(value));
}

/// subjectAltName entries. False when the extension is there but OpenSSL cannot decode it.
bool read_san(X509* x, CertificateInfo& info, std::size_t max, bool& truncated) {
  int crit = 0;
  std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, &crit, nullptr)));
  if (!names) return crit == -1;  // -1: absent; -2: several; >= 0: present but undecodable
  const int n = sk_GENERAL_NAME_num(names.get());
  for (int i = 0; i < n; ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
    if (g == nullptr) continue;
    if (g->type == GEN_DNS) {
      keep(info.dns_names, string_of(g->d.dNSName), max, truncated);
    } else if (g->type == GEN_OTHERNAME && g->d.otherName != nullptr &&
               g->d.otherName->value != nullptr) {
      const int nid = OBJ_obj2nid(g->d.otherName->type_id);
      const ASN1_TYPE* v = g->d.otherName->value;
      if (nid == NID_XmppAddr && v->type == V_ASN1_UTF8STRING) {
        keep(info.xmpp_addrs, string_of(v->value.utf8string), max, truncated);
      } else if (nid == NID_SRVName && v->type == V_ASN1_IA5STRING) {
        keep(info.srv_names, string_of(v->value.ia5string), max, truncated);
      }
    }
  }
  return true;
}

CertificateInfo describe_x509(X509* x, std::span<const std::uint8_t> der, std::size_t max_list,
                              bool& truncated) {
  CertificateInfo info;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(der.data(), der.size(), md, &md_len, EVP_sha256(), nullptr) == 1)
    info.sha256 = to_hex(md, md_len);
  if (x == nullptr) {
    info.parse_error = true;
    return info;
  }
  const X509_NAME* subject = X509_get_subject_name(x);
  const X509_NAME* issuer = X509_get_issuer_name(x);
  info.subject = name_line(subject);
  info.issuer = name_line(issuer);
  info.common_name = last_common_name(subject);
  if (!read_san(x, info, max_list, truncated)) info.parse_error = true;
  if (!unix_time(X509_get0_notBefore(x), info.not_before)) info.parse_error = true;
  if (!unix_time(X509_get0_notAfter(x), info.not_after)) info.parse_error = true;
  info.key = key_description(x);
  EVP_PKEY* pk = X509_get0_pubkey(x);
  info.self_signed = subject != nullptr && issuer != nullptr &&
                     X509_NAME_cmp(subject, issuer) == 0 && pk != nullptr &&
                     X509_verify(x, pk) == 1;
  return info;
}

X509Ptr decode(std::span<const std::uint8_t> der, bool& trailing) {
  trailing = false;
  if (der.empty()) return nullptr;
  const unsigned char* p = der.data();
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (x && p != der.data() + der.size()) trailing = true;
  return x;
}

}  // namespace

CertificateInfo parse_certificate(std::span<const std::uint8_t> der, std::size_t max_list_entries,
                                  bool* truncated) {
  ErrorMark mark;
  bool trailing = false;
  X509Ptr x = decode(der, trailing);
  bool cut = false;
  CertificateInfo info = describe_x509(x.get(), der, max_list_entries, cut);
  if (trailing) info.parse_error = true;
  if (truncated != nullptr && cut) *truncated = true;
  return info;
}

std::vector<CertificateInfo> parse_chain(const std::vector<std::span<const std::uint8_t>>& ders,
                                         std::size_t max_list_entries, bool& truncated) {
  ErrorMark mark;
  std::vector<X509Ptr> certs;
  std::vector<CertificateInfo> out;
  certs.reserve(ders.size());
  out.reserve(ders.size());
  for (const auto& der : ders) {
    bool trailing = false;
    certs.push_back(decode(der, trailing));
    out.push_back(describe_x509(certs.back().get(), der, max_list_entries, truncated));
    if (trailing) out.back().parse_error = true;
  }
  for (std::size_t i = 0; i + 1 < certs.size(); ++i) {
    X509* subject = certs[i].get();
    X509* issuer = certs[i + 1].get();
    if (subject == nullptr || issuer == nullptr) continue;
    EVP_PKEY* key = X509_get0_pubkey(issuer);
    out[i].signed_by_next = X509_check_issued(issuer, subject) == X509_V_OK && key != nullptr &&
                            X509_verify(subject, key) == 1;
  }
  return out;
}

}  // namespace fedscope::tls
