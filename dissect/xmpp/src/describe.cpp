// Text form of events, for logs and unit-test transcripts.

#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "fedscope/base/describe.hpp"
#include "fedscope/xmpp/parser.hpp"

namespace fedscope::xmpp {
namespace {

using describe::field;
using describe::flag;
using describe::number;

void list(std::string& out, std::string_view key, const std::vector<std::string>& values) {
  describe::list(out, key, values, [](const std::string& v) { return v; });
}

void dialback(std::string& out, const DialbackElement& d) {
  field(out, "from", d.from);
  field(out, "to", d.to);
  field(out, "id", d.id);
  out += " type=";
  out += to_string(d.type);
  if (d.type == DialbackType::kOther) field(out, "type_text", d.type_text);
  field(out, "error", d.error_condition);
  flag(out, "key", d.has_key);
}

}  // namespace

std::string_view to_string(DialbackType t) {
  switch (t) {
    case DialbackType::kRequest:
      return "request";
    case DialbackType::kValid:
      return "valid";
    case DialbackType::kInvalid:
      return "invalid";
    case DialbackType::kError:
      return "error";
    case DialbackType::kOther:
      return "other";
  }
  return "?";
}

std::string_view to_string(StanzaKind k) {
  switch (k) {
    case StanzaKind::kMessage:
      return "message";
    case StanzaKind::kPresence:
      return "presence";
    case StanzaKind::kIq:
      return "iq";
    case StanzaKind::kOther:
      return "other";
  }
  return "?";
}

std::string_view to_string(State s) {
  switch (s) {
    case State::kStart:
      return "start";
    case State::kXml:
      return "xml";
    case State::kResync:
      return "resync";
    case State::kTls:
      return "tls";
    case State::kFailed:
      return "failed";
    case State::kOpaque:
      return "opaque";
    case State::kEnded:
      return "ended";
  }
  return "?";
}

std::string describe(const Event& e) {
  std::string out = std::to_string(e.begin) + '-' + std::to_string(e.end) + ' ';
  std::visit(
      [&out](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, StreamOpen>) {
          out += "StreamOpen";
          field(out, "from", b.from);
          field(out, "to", b.to);
          field(out, "id", b.id);
          field(out, "version", b.version);
          field(out, "ns", b.default_ns);
          field(out, "db", b.xmlns_db);
          field(out, "lang", b.lang);
          flag(out, "restart", b.restart);
        } else if constexpr (std::is_same_v<T, StreamFeatures>) {
          out += "StreamFeatures";
          flag(out, "starttls", b.starttls.offered);
          flag(out, "required", b.starttls.required);
          list(out, "sasl", b.sasl_mechanisms);
          flag(out, "dialback", b.dialback);
          flag(out, "dialback_errors", b.dialback_errors);
          flag(out, "bidi", b.bidi);
          flag(out, "compression", b.compression_offered);
          list(out, "other", b.other);
        } else if constexpr (std::is_same_v<T, StartTls>) {
          out += "StartTls";
        } else if constexpr (std::is_same_v<T, Proceed>) {
          out += "Proceed";
        } else if constexpr (std::is_same_v<T, TlsFailure>) {
          out += "TlsFailure";
        } else if constexpr (std::is_same_v<T, SaslAuth>) {
          out += "SaslAuth";
          field(out, "mechanism", b.mechanism);
        } else if constexpr (std::is_same_v<T, SaslSuccess>) {
          out += "SaslSuccess";
        } else if constexpr (std::is_same_v<T, SaslFailure>) {
          out += "SaslFailure";
          field(out, "condition", b.condition);
        } else if constexpr (std::is_same_v<T, DialbackResult>) {
          out += "DialbackResult";
          dialback(out, b);
        } else if constexpr (std::is_same_v<T, DialbackVerify>) {
          out += "DialbackVerify";
          dialback(out, b);
        } else if constexpr (std::is_same_v<T, StreamError>) {
          out += "StreamError";
          field(out, "condition", b.condition);
          field(out, "text", b.text);
        } else if constexpr (std::is_same_v<T, Stanza>) {
          out += "Stanza ";
          out += to_string(b.kind);
          field(out, "name", b.name);
          field(out, "type", b.type);
          field(out, "from", b.from);
          field(out, "to", b.to);
          field(out, "id", b.id);
          number(out, "size", b.size_bytes);
          field(out, "error", b.error_condition);
          field(out, "error_type", b.error_type);
        } else if constexpr (std::is_same_v<T, StreamClose>) {
          out += "StreamClose";
        } else if constexpr (std::is_same_v<T, Whitespace>) {
          out += "Whitespace";
          number(out, "bytes", b.bytes);
        } else if constexpr (std::is_same_v<T, TlsHandoff>) {
          out += "TlsHandoff";
          number(out, "offset", b.offset);
        } else if constexpr (std::is_same_v<T, DirectTls>) {
          out += "DirectTls";
        } else if constexpr (std::is_same_v<T, NotXmpp>) {
          out += "NotXmpp";
          field(out, "kind", b.kind);
          field(out, "first", b.first_bytes);
        } else if constexpr (std::is_same_v<T, CompressionHandoff>) {
          out += "CompressionHandoff";
          number(out, "offset", b.offset);
        } else if constexpr (std::is_same_v<T, Anomaly>) {
          out += "Anomaly ";
          out += b.name;
          field(out, "detail", b.detail);
        }
      },
      e.body);
  return out;
}

}  // namespace fedscope::xmpp
