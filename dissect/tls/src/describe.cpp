// Text form of events, for logs and unit-test transcripts.

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "fedscope/base/describe.hpp"
#include "fedscope/tls/decoder.hpp"

namespace fedscope::tls {
namespace {

/// key='value' with control bytes, non-ASCII bytes and quotes escaped; empty values left out.
void field(std::string& out, std::string_view key, std::string_view value) {
  describe::field(out, key, value, describe::Escape::kNonAscii);
}
using describe::flag;
using describe::list;
using describe::number;
using describe::text;

std::string hex4(std::uint16_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "0x0000";
  for (int i = 0; i < 4; ++i)
    s[static_cast<std::size_t>(5 - i)] = kHex[(v >> (4 * i)) & 0xf];
  return s;
}

void certificate(std::string& out, const CertificateInfo& c) {
  out += "\n    cert";
  field(out, "subject", c.subject);
  field(out, "issuer", c.issuer);
  field(out, "cn", c.common_name);
  list(out, "dns", c.dns_names, [](const std::string& s) { return s; });
  list(out, "xmpp", c.xmpp_addrs, [](const std::string& s) { return s; });
  list(out, "srv", c.srv_names, [](const std::string& s) { return s; });
  number(out, "not_before", static_cast<std::uint64_t>(c.not_before));
  number(out, "not_after", static_cast<std::uint64_t>(c.not_after));
  field(out, "key", c.key);
  flag(out, "self_signed", c.self_signed);
  flag(out, "signed_by_next", c.signed_by_next);
  flag(out, "parse_error", c.parse_error);
  field(out, "sha256", c.sha256);
}

}  // namespace

std::string_view to_string(Side s) {
  return s == Side::kClient ? "client" : "server";
}

std::string_view to_string(State s) {
  switch (s) {
    case State::kStart:
      return "start";
    case State::kClear:
      return "clear";
    case State::kEncrypted:
      return "encrypted";
    case State::kOpaque:
      return "opaque";
    case State::kFailed:
      return "failed";
    case State::kEnded:
      return "ended";
  }
  return "?";
}

std::string describe(const Event& e) {
  std::string out = e.side == Side::kClient ? "C " : "S ";
  out += std::to_string(e.begin) + '-' + std::to_string(e.end) + ' ';
  std::visit(
      [&out](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, ClientHello>) {
          out += "ClientHello";
          text(out, "legacy", version_name(b.legacy_version));
          list(out, "versions", b.supported_versions, version_name);
          field(out, "sni", b.sni);
          list(out, "alpn", b.alpn, [](const std::string& s) { return s; });
          list(out, "suites", b.cipher_suites, hex4);
          flag(out, "key_share", b.has_key_share);
          flag(out, "retry", b.retry);
        } else if constexpr (std::is_same_v<T, ServerHello>) {
          out += b.hello_retry_request ? "HelloRetryRequest" : "ServerHello";
          text(out, "legacy", version_name(b.legacy_version));
          text(out, "version", version_name(b.version));
          text(out, "suite", cipher_suite_name(b.cipher_suite));
          field(out, "alpn", b.alpn);
        } else if constexpr (std::is_same_v<T, Certificates>) {
          out += "Certificates";
          number(out, "total", b.total);
          for (const CertificateInfo& c : b.chain)
            certificate(out, c);
        } else if constexpr (std::is_same_v<T, CertificateRequest>) {
          out += "CertificateRequest";
        } else if constexpr (std::is_same_v<T, ServerHelloDone>) {
          out += "ServerHelloDone";
        } else if constexpr (std::is_same_v<T, ClientKeyExchange>) {
          out += "ClientKeyExchange";
        } else if constexpr (std::is_same_v<T, OtherHandshake>) {
          out += "Handshake";
          const std::string name = handshake_type_name(b.type);
          if (name.empty())
            number(out, "type", b.type);
          else
            text(out, "type", name);
          number(out, "length", b.length);
        } else if constexpr (std::is_same_v<T, ChangeCipherSpec>) {
          out += "ChangeCipherSpec";
        } else if constexpr (std::is_same_v<T, Alert>) {
          out += "Alert";
          if (b.encrypted) {
            out += " encrypted";
          } else {
            text(out, "level", alert_level_name(b.level));
            text(out, "description", alert_description_name(b.description));
          }
        } else if constexpr (std::is_same_v<T, EncryptionStarted>) {
          out += "EncryptionStarted";
        } else if constexpr (std::is_same_v<T, NotTls>) {
          out += "NotTls";
          field(out, "kind", b.kind);
          field(out, "first", b.first_bytes);
        } else if constexpr (std::is_same_v<T, Anomaly>) {
          out += "Anomaly ";
          out += b.name;
          field(out, "detail", b.detail);
        }
      },
      e.body);
  return out;
}

}  // namespace fedscope::tls
