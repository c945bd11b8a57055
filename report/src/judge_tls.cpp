// The TLS layer's judge: alerts, version, the handshake, SNI, and the certificates each side
// presented (RFC 6125/9525 names, validity, self-signed), one finding per certificate and code.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "fedscope/base/domain.hpp"
#include "fedscope/tls/names.hpp"
#include "judge_layers.hpp"

namespace fedscope::report::detail {
namespace {

// How soon after the ServerHello a close counts as right after the handshake: a healthy s2s
// session authenticates and idles for minutes; a refused one closes within milliseconds.
constexpr double kEarlyCloseSeconds = 2.0;

std::string alert_hint(std::uint8_t d) {
  switch (d) {
    case 48:
      return "it does not trust the CA that issued the other side's certificate";
    case 42:
    case 46:
      return "it rejected the other side's certificate";
    case 45:
      return "it considers the other side's certificate expired";
    case 40:
      return "no cipher suite or parameters both sides accept";
    case 70:
      return "no TLS version both sides accept";
    case 112:
      return "it does not serve the name asked for in SNI";
    case 116:
      return "it requires a client certificate that was not sent";
    case 120:
      return "no application protocol (ALPN) in common";
    case 80:
      return "an internal error on that side";
    default:
      return "";
  }
}

std::string date_text(std::int64_t unix_seconds) {
  return format_iso8601(Timestamp::from_parts(unix_seconds, 0)).substr(0, 10);
}

void judge_certificate(JudgeContext& ctx, const ConnectionRecord& rec,
                       const tls::CertificateInfo& leaf, const std::optional<PacketRef>& ref,
                       const std::string& who, const std::string& want, const std::string& domain) {
  if (leaf.parse_error) return;
  const auto& P = rec.conn.primary();
  auto at = [&](Finding& f) -> Finding& {
    f.flow = rec.conn.id;
    return f;
  };
  PacketRef cref = ref ? *ref : P.o.first_syn.value_or(PacketRef{});
  std::int64_t now = cref.time.ns / 1'000'000'000;
  std::string subject = leaf.subject.empty() ? "(empty subject)" : leaf.subject;
  // One finding per certificate, whichever connections and roles showed it (a server's
  // certificate is also its client certificate on its own outgoing streams): it is named by
  // the domain it must serve, not by the connection's target or its role there.
  const std::string owner = want.empty() ? who : want;
  std::string what = owner + "'s certificate (" + subject + ")";
  const std::string owner_domain = want.empty() ? domain : want;
  // One finding per certificate and code: the same certificate shown on several
  // connections (as server and as client certificate) adds evidence, not findings.
  auto add_cert = [&](FindingCode code, std::string summary, const std::string& dom) -> Finding& {
    return at(ctx.add_merged("cert:" + leaf.sha256, code, std::move(summary), dom));
  };
  if (!want.empty()) {
    auto m = tls::certificate_covers(leaf, want);
    if (!m.covered) {
      const std::string names = tls::san_names(leaf, ", ");
      // Per certificate *and* wanted name: one certificate shown for several domains is a
      // mismatch for each of them, and each direction's verdict must name its own domain.
      auto& f = at(ctx.add_merged("cert:" + leaf.sha256 + "@" + domain_key(want),
                                  FindingCode::kTlsCertNameMismatch,
                                  what + " does not name " + want + ": it names " +
                                      (names.empty() ? "nothing in its SAN" : names) +
                                      (m.how.empty() ? "" : "; " + m.how) + ".",
                                  want));
      f.detail = want;
      evidence(f, cref);
    }
  }
  if (leaf.not_after < now) {
    auto& f = add_cert(FindingCode::kTlsCertExpired,
                       what + " expired on " + date_text(leaf.not_after) + ".", owner_domain);
    f.detail = date_text(leaf.not_after);
    evidence(f, cref);
  } else if (leaf.not_after - now < 30 * 86400) {
    auto& f =
        add_cert(FindingCode::kTlsCertExpiring,
                 what + " expires on " + date_text(leaf.not_after) + ", " +
                     std::to_string((leaf.not_after - now) / 86400) + " days after this capture.",
                 owner_domain);
    f.detail = date_text(leaf.not_after);
    evidence(f, cref);
  }
  if (leaf.not_before > now) {
    auto& f =
        add_cert(FindingCode::kTlsCertNotYetValid,
                 what + " is valid only from " + date_text(leaf.not_before) + ".", owner_domain);
    f.detail = date_text(leaf.not_before);
    evidence(f, cref);
  }
  if (leaf.self_signed) {
    auto& f = add_cert(FindingCode::kTlsCertSelfSigned, what + " is self-signed.", owner_domain);
    evidence(f, cref);
  }
}

}  // namespace

void judge_tls(JudgeContext& ctx, const ConnectionRecord& rec, const std::string& domain,
               const std::string& name_o, const std::string& name_r) {
  const auto& x = *rec.xmpp;
  const auto& t = *x.tls;
  if (!t.started) return;
  const auto& conn = rec.conn;
  const auto& P = conn.primary();
  auto at = [&](Finding& f) -> Finding& {
    f.flow = conn.id;
    return f;
  };
  bool fatal_alert = false;
  for (const auto& a : t.alerts) {
    if (a.encrypted || a.description == 0) continue;  // close_notify is an orderly close
    bool fatal = a.level == 2;
    fatal_alert = fatal_alert || fatal;
    std::string hint = alert_hint(a.description);
    auto& f = at(ctx.add(FindingCode::kTlsAlert, fatal ? Severity::kError : Severity::kWarning,
                         "The TLS " + std::string(a.from_client ? "client " : "server ") +
                             (a.from_client ? name_o : name_r) + " sent a " +
                             (fatal ? "fatal" : "warning") + " alert " +
                             tls::alert_description_name(a.description) +
                             (hint.empty() ? "" : ": " + hint) + ".",
                         domain));
    f.detail = tls::alert_description_name(a.description);
    evidence(f, a.ref);
  }
  if (t.server_hello && t.server_hello->version < 0x0303) {
    auto& f =
        at(ctx.add(FindingCode::kTlsOldVersion,
                   name_o + " and " + name_r + " negotiated " +
                       tls::version_name(t.server_hello->version) + " (deprecated by RFC 8996).",
                   domain));
    f.detail = tls::version_name(t.server_hello->version);
    if (t.server_hello_ref) evidence(f, *t.server_hello_ref);
  }
  // A side that did not speak TLS at all (plaintext after STARTTLS) is its own finding.
  bool not_tls = !t.client_not_tls.empty() || !t.server_not_tls.empty() ||
                 x.orig.extra->plaintext_after_tls || x.resp.extra->plaintext_after_tls;
  if (!t.complete && !fatal_alert && !not_tls && t.client_hello &&
      (!conn.capture_ended || (P.last - t.client_hello_ref->time).seconds() >= 30.0)) {
    std::string where = !t.server_hello ? "the server never answered the ClientHello"
                        : t.certificate == s2s::Seen::kYes
                            ? "it stopped after the server's certificate"
                            : "it stopped after the ServerHello";
    auto& f = at(ctx.add(FindingCode::kTlsHandshakeIncomplete,
                         "The TLS handshake between " + name_o + " and " + name_r +
                             " never completed: " + where + ".",
                         domain));
    if (t.client_hello_ref) evidence(f, *t.client_hello_ref);
    if (t.server_hello_ref) evidence(f, *t.server_hello_ref);
  }
  // Torn down right after the handshake (keyless shape, docs/findings.md): the connection
  // ended by FIN or RST within kEarlyClose of the ServerHello, no alert in clear said why.
  if (t.complete && !t.decrypted && !fatal_alert && !conn.capture_ended && t.server_hello_ref) {
    struct Close {
      const std::optional<PacketRef>* ref;
      bool orig, rst;
    };
    const Close closes[] = {{&P.o.first_fin, true, false},
                            {&P.r.first_fin, false, false},
                            {&P.o.first_rst, true, true},
                            {&P.r.first_rst, false, true}};
    const Close* first = nullptr;
    for (const auto& c : closes)
      if (c.ref->has_value() && (!first || (*c.ref)->time < (*first->ref)->time)) first = &c;
    const double after = first ? ((*first->ref)->time - t.server_hello_ref->time).seconds() : 1e9;
    const bool any_rst = P.o.first_rst || P.r.first_rst;
    // Both sides closing with FINs and no reset is an orderly end (a short session, or a probe
    // that only tests TLS); a reset, or one side's FIN left unanswered, is a teardown.
    const bool orderly = !any_rst && P.o.first_fin && P.r.first_fin;
    if (first && after <= kEarlyCloseSeconds && !orderly) {
      const std::string closer = first->orig ? name_o : name_r;
      const bool cert_seen = !t.chain.empty() || !t.client_chain.empty();
      auto& f = at(ctx.add(
          FindingCode::kTlsClosedAfterHandshake, Severity::kError,
          closer + " closed the connection (" + (first->rst ? "RST" : "FIN") + ") " +
              std::to_string(static_cast<long long>(after * 1000 + 0.5)) +
              " ms after the TLS handshake, after " + std::to_string(t.client_encrypted_records) +
              " encrypted records from " + name_o + " and " +
              std::to_string(t.server_encrypted_records) + " from " + name_r + ": " +
              (cert_seen ? "the certificates were in clear; see their findings"
                         : "the reason (certificate check, policy) is inside TLS") +
              (first->orig ? "; the originating server gave up"
                           : "; the receiving server refused the stream") +
              ".",
          domain));
      f.detail = first->orig ? "originator closed" : "receiver closed";
      evidence(f, *t.server_hello_ref);
      evidence(f, **first->ref);
    }
  }
  // SNI against the stream's 'to' (the domain the initiating server wants).
  std::string to = x.orig.header ? x.orig.header->to : "";
  if (t.client_hello && !t.client_hello->sni.empty() && !to.empty() &&
      !domains_equal(t.client_hello->sni, to)) {
    auto& f = at(ctx.add(FindingCode::kTlsSniMismatch,
                         name_o + " asked for TLS server name '" + t.client_hello->sni +
                             "' on a stream to " + to + ".",
                         domain));
    f.detail = t.client_hello->sni;
    if (t.client_hello_ref) evidence(f, *t.client_hello_ref);
  }
  // The domain the server certificate must name: the stream's 'to', else SNI, else DNS.
  std::string want = !to.empty()                                      ? to
                     : t.client_hello && !t.client_hello->sni.empty() ? t.client_hello->sni
                                                                      : domain;
  if (t.certificate == s2s::Seen::kYes && !t.chain.empty())
    judge_certificate(ctx, rec, t.chain.front(), t.certificate_ref, name_r, want, domain);
  // The originating server's client certificate (asked for SASL EXTERNAL) names its own
  // domain, the stream's 'from'.
  if (!t.client_chain.empty())
    judge_certificate(ctx, rec, t.client_chain.front(), t.client_certificate_ref, name_o,
                      x.orig.header ? x.orig.header->from : "", domain);
  // A side that closed the stream with a trust error after TLS, when the other side had
  // presented its certificate (seen in clear in TLS ≤ 1.2, or inside TLS with the key log):
  // it does not trust that certificate (Prosody with s2s_secure_auth: <not-authorized/>
  // "Your server's certificate is not trusted").
  for (bool refuser_orig : {false, true}) {
    const auto& s = refuser_orig ? x.orig : x.resp;
    if (!t.complete || !s.extra->stream_error || !t.server_hello_ref) continue;
    const auto& e = *s.extra->stream_error;
    if (e.condition != "not-authorized" && e.condition != "policy-violation" &&
        e.condition != "undefined-condition")
      continue;
    if (e.ref.time < t.server_hello_ref->time) continue;  // before TLS: not about it
    // The TLS client (originator) received the server's chain, the server the client's.
    const auto& chain = refuser_orig ? t.chain : t.client_chain;
    const auto& cref = refuser_orig ? t.certificate_ref : t.client_certificate_ref;
    if (chain.empty() || chain.front().parse_error) continue;
    const auto& leaf = chain.front();
    const std::string refuser = refuser_orig ? name_o : name_r;
    const std::string owner = refuser_orig ? name_r : name_o;
    auto& f =
        at(ctx.add(FindingCode::kTlsCertUntrusted, Severity::kError,
                   refuser + " does not trust " + owner + "'s certificate (" + leaf.subject +
                       ", issued by " + (leaf.self_signed ? std::string("itself") : leaf.issuer) +
                       "): right after TLS it closed the stream with <" + e.condition + "/>" +
                       (e.text.empty() ? "" : " ('" + e.text.substr(0, 200) + "')") + ".",
                   domain));
    f.detail = leaf.sha256;
    if (cref) evidence(f, *cref);
    evidence(f, e.ref);
  }
}

}  // namespace fedscope::report::detail
