// Names for protocol numbers (versions, cipher suites, alerts) and certificate name matching
// for XMPP server-to-server (names.hpp).

#include "fedscope/tls/names.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "fedscope/base/domain.hpp"
#include "fedscope/tls/decoder.hpp"

namespace fedscope::tls {
namespace {

std::string hex(unsigned value, int digits) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%0*x", digits, value);
  return buf;
}

struct Named {
  std::uint16_t code;
  std::string_view name;
};

/// Sorted by code. The OpenSSL 3.0 part was checked against
/// `openssl ciphers -V -stdname 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'`.
constexpr Named kSuites[] = {
    {0x0000, "TLS_NULL_WITH_NULL_NULL"},
    {0x0004, "TLS_RSA_WITH_RC4_128_MD5"},
    {0x0005, "TLS_RSA_WITH_RC4_128_SHA"},
    {0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA"},
    {0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"},
    {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"},
    {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"},
    {0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"},
    {0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"},
    {0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256"},
    {0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256"},
    {0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"},
    {0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"},
    {0x0044, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA"},
    {0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"},
    {0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"},
    {0x006a, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"},
    {0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"},
    {0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"},
    {0x0087, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA"},
    {0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"},
    {0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256"},
    {0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384"},
    {0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"},
    {0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
    {0x00a2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"},
    {0x00a3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"},
    {0x00ba, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
    {0x00bd, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256"},
    {0x00be, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
    {0x00c0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"},
    {0x00c3, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256"},
    {0x00c4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256"},
    {0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
    {0x1301, "TLS_AES_128_GCM_SHA256"},
    {0x1302, "TLS_AES_256_GCM_SHA384"},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256"},
    {0x1304, "TLS_AES_128_CCM_SHA256"},
    {0x1305, "TLS_AES_128_CCM_8_SHA256"},
    {0x5600, "TLS_FALLBACK_SCSV"},
    {0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
    {0xc008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"},
    {0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
    {0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
    {0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"},
    {0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
    {0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
    {0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"},
    {0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"},
    {0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"},
    {0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"},
    {0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
    {0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
    {0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
    {0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
    {0xc072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"},
    {0xc073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384"},
    {0xc076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
    {0xc077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"},
    {0xc09c, "TLS_RSA_WITH_AES_128_CCM"},
    {0xc09d, "TLS_RSA_WITH_AES_256_CCM"},
    {0xc09e, "TLS_DHE_RSA_WITH_AES_128_CCM"},
    {0xc09f, "TLS_DHE_RSA_WITH_AES_256_CCM"},
    {0xc0a0, "TLS_RSA_WITH_AES_128_CCM_8"},
    {0xc0a1, "TLS_RSA_WITH_AES_256_CCM_8"},
    {0xc0a2, "TLS_DHE_RSA_WITH_AES_128_CCM_8"},
    {0xc0a3, "TLS_DHE_RSA_WITH_AES_256_CCM_8"},
    {0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"},
    {0xc0ad, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"},
    {0xc0ae, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"},
    {0xc0af, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"},
    {0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
};

constexpr Named kAlerts[] = {
    {0, "close_notify"},
    {10, "unexpected_message"},
    {20, "bad_record_mac"},
    {21, "decryption_failed"},
    {22, "record_overflow"},
    {30, "decompression_failure"},
    {40, "handshake_failure"},
    {41, "no_certificate"},
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
    {60, "export_restriction"},
    {70, "protocol_version"},
    {71, "insufficient_security"},
    {80, "internal_error"},
    {86, "inappropriate_fallback"},
    {90, "user_canceled"},
    {100, "no_renegotiation"},
    {109, "missing_extension"},
    {110, "unsupported_extension"},
    {111, "certificate_unobtainable"},
    {112, "unrecognized_name"},
    {113, "bad_certificate_status_response"},
    {114, "bad_certificate_hash_value"},
    {115, "unknown_psk_identity"},
    {116, "certificate_required"},
    {120, "no_application_protocol"},
    {121, "ech_required"},
};

template <std::size_t N>
std::string_view lookup(const Named (&table)[N], std::uint16_t code) {
  const auto* it = std::lower_bound(std::begin(table), std::end(table), code,
                                    [](const Named& n, std::uint16_t c) { return n.code < c; });
  return it != std::end(table) && it->code == code ? it->name : std::string_view{};
}

// ---------------------------------------------------------------------------------------------
// Name matching

/// The comparison form (domain.hpp): ASCII lower case, one trailing dot removed, U-labels as
/// A-labels, so a dNSName (A-labels) and an XmppAddr (UTF-8 U-labels) meet the domain in
/// whichever form it was given.
std::string canonical(std::string_view s) {
  return domain_key(s);
}

/// A dNSName or SRV-ID is an IA5String, so A-labels only: raw UTF-8 there names nothing a
/// peer would match (it converts its reference identifier to A-labels first).
std::string ia5_name(std::string_view s) {
  const bool ascii =
      std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  return ascii ? canonical(s) : std::string();
}

/// A usable reference or presented DNS name: non-empty labels, no spaces or NULs.
bool plausible_name(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.find("..") != std::string_view::npos) return false;
  return std::none_of(s.begin(), s.end(), [](char c) { return c == '\0' || c == ' '; });
}

bool dns_exact(std::string_view presented, std::string_view domain) {
  const std::string p = ia5_name(presented);
  return plausible_name(p) && p.find('*') == std::string::npos && p == domain;
}

/// "*.rest": the wildcard is the whole leftmost label, rest has at least two labels, and the
/// domain is exactly one non-empty label followed by ".rest".
bool dns_wildcard(std::string_view presented, std::string_view domain) {
  const std::string p = ia5_name(presented);
  if (p.size() < 3 || p[0] != '*' || p[1] != '.') return false;
  const std::string_view rest = std::string_view(p).substr(2);
  if (!plausible_name(rest) || rest.find('*') != std::string_view::npos) return false;
  if (rest.find('.') == std::string_view::npos) return false;  // "*.com"
  if (domain.size() <= rest.size() + 1) return false;
  const std::size_t label = domain.size() - rest.size() - 1;
  if (domain[label] != '.' || domain.substr(label + 1) != rest) return false;
  return domain.substr(0, label).find('.') == std::string_view::npos;
}

bool srv_id(std::string_view presented, std::string_view domain) {
  const std::string p = ia5_name(presented);
  constexpr std::string_view kService = "_xmpp-server.";
  return p.size() > kService.size() && p.compare(0, kService.size(), kService) == 0 &&
         p.substr(kService.size()) == domain && plausible_name(domain);
}

bool xmpp_addr(std::string_view presented, std::string_view domain) {
  return canonical(presented) == domain && plausible_name(domain);
}

}  // namespace

std::string version_name(std::uint16_t version) {
  switch (version) {
    case kSsl30:
      return "SSL 3.0";
    case kTls10:
      return "TLS 1.0";
    case kTls11:
      return "TLS 1.1";
    case kTls12:
      return "TLS 1.2";
    case kTls13:
      return "TLS 1.3";
    default:
      return hex(version, 4);
  }
}

std::string cipher_suite_name(std::uint16_t suite) {
  const std::string_view name = lookup(kSuites, suite);
  if (!name.empty()) return std::string(name);
  // GREASE (RFC 8701): 0x0a0a, 0x1a1a, ..., 0xfafa.
  if ((suite & 0x0f0f) == 0x0a0a && (suite >> 8) == (suite & 0xff)) return "GREASE";
  return hex(suite, 4);
}

std::string alert_description_name(std::uint8_t description) {
  const std::string_view name = lookup(kAlerts, description);
  return name.empty() ? hex(description, 2) : std::string(name);
}

std::string alert_level_name(std::uint8_t level) {
  if (level == 1) return "warning";
  if (level == 2) return "fatal";
  return hex(level, 2);
}

NameMatch certificate_covers(const CertificateInfo& cert, std::string_view domain) {
  if (cert.parse_error) return {false, "the certificate could not be parsed"};
  const std::string d = canonical(domain);
  if (!plausible_name(d) || d.find('*') != std::string::npos) return {false, "no domain"};
  for (const std::string& n : cert.dns_names)
    if (dns_exact(n, d)) return {true, "DNS-ID " + n};
  for (const std::string& n : cert.srv_names)
    if (srv_id(n, d)) return {true, "SRV-ID " + n};
  for (const std::string& n : cert.xmpp_addrs)
    if (xmpp_addr(n, d)) return {true, "XmppAddr " + n};
  for (const std::string& n : cert.dns_names)
    if (dns_wildcard(n, d)) return {true, "DNS-ID " + n};
  if (!cert.common_name.empty() &&
      (dns_exact(cert.common_name, d) || dns_wildcard(cert.common_name, d)))
    return {false, "only the subject CN names it (not used, RFC 9525)"};
  return {false, "no DNS-ID, SRV-ID or XmppAddr matches"};
}

std::string san_names(const CertificateInfo& cert, std::string_view separator) {
  std::string out;
  auto add = [&](std::string_view kind, const std::string& name) {
    if (!out.empty()) out += separator;
    out += kind;
    out += name;
  };
  for (const auto& n : cert.dns_names)
    add("DNS:", n);
  for (const auto& n : cert.srv_names)
    add("SRV:", n);
  for (const auto& n : cert.xmpp_addrs)
    add("XmppAddr:", n);
  return out;
}

}  // namespace fedscope::tls
