// The XMPP layer's judge: what the stream headers, STARTTLS, dialback, SASL and stream and
// stanza errors of each federation connection say (RFC 6120, XEP-0220).

#include <algorithm>
#include <string>

#include "fedscope/base/domain.hpp"
#include "judge_layers.hpp"

namespace fedscope::report::detail {
namespace {

std::string stream_error_hint(const std::string& c) {
  if (c == "host-unknown")
    return "the receiving server does not serve that domain: it is not configured there, or the "
           "SRV/A records point at the wrong server";
  if (c == "not-authorized")
    return "it refused to authenticate the stream (dialback, SASL, or a certificate it does "
           "not trust)";
  if (c == "policy-violation")
    return "a local policy refused the stream, often 'encryption required' or a blocked domain";
  if (c == "remote-connection-failed")
    return "the server could not connect to the other domain's server (e.g. for the dialback "
           "check): that domain's DNS or firewall";
  if (c == "improper-addressing") return "the stream header lacked a valid 'to' or 'from'";
  if (c == "invalid-from") return "the 'from' domain is not one this stream is authorised for";
  if (c == "unsupported-stanza-type") return "the peer sent an element it does not support";
  if (c == "see-other-host") return "the server redirects to another host";
  if (c == "connection-timeout") return "the stream was idle too long";
  if (c == "system-shutdown") return "the server is shutting down";
  if (c == "host-gone") return "the domain is no longer served there";
  if (c == "undefined-condition") return "no standard reason given: read the text";
  if (c == "unsupported-version") return "the stream version is not supported";
  if (c == "invalid-namespace" || c == "bad-format" || c == "not-well-formed" ||
      c == "restricted-xml")
    return "the peer sent XML the server refuses";
  if (c == "internal-server-error") return "the server failed internally: read its log";
  if (c == "reset") return "the server reset the stream (e.g. new credentials or configuration)";
  return "see RFC 6120 §4.9.3";
}

bool orderly_stream_error(const std::string& c) {
  return c == "see-other-host" || c == "connection-timeout" || c == "system-shutdown" ||
         c == "reset";
}

}  // namespace

void judge_xmpp(JudgeContext& ctx, const ConnectionRecord& rec) {
  if (!rec.xmpp || !federation(rec)) return;
  const auto& x = *rec.xmpp;
  const auto& conn = rec.conn;
  const auto& P = conn.primary();
  auto [from_dom, to_dom] = s2s::stream_domains(x);
  std::string domain = !to_dom.empty() ? to_dom : domain_of(rec);
  const std::string who_o = P.orig.addr.to_string(), who_r = P.resp.addr.to_string();
  auto name_o = from_dom.empty() ? who_o : from_dom + " (" + who_o + ")";
  auto name_r = to_dom.empty() ? who_r : to_dom + " (" + who_r + ")";
  auto at = [&](Finding& f) -> Finding& {
    f.flow = conn.id;
    return f;
  };
  // How long the capture went on after a point, on this connection.
  auto waited = [&](const PacketRef& since) { return (P.last - since.time).seconds(); };
  const bool ended_by_capture = conn.capture_ended;
  const std::size_t before = ctx.added();

  // -- not XMPP
  for (bool orig : {false, true}) {
    const auto& s = orig ? x.orig : x.resp;
    if (s.extra->not_xmpp_kind.empty()) continue;
    auto& f =
        at(ctx.add(FindingCode::kXmppNotXmpp, orig ? Severity::kWarning : Severity::kError,
                   (orig ? "The connecting side " + who_o + " sent "
                         : "The server at " + P.resp.to_string() + " answered with ") +
                       s.extra->not_xmpp_kind + " ('" + s.extra->not_xmpp_bytes + "'), not XMPP.",
                   domain));
    f.detail = s.extra->not_xmpp_kind;
    if (s.extra->not_xmpp_ref) evidence(f, *s.extra->not_xmpp_ref);
  }
  if (x.kind == s2s::StreamKind::kNotXmpp) return;

  // -- no stream
  bool est = established(P);
  if (est && !x.resp.header && x.resp.extra->not_xmpp_kind.empty() && !x.tls->started &&
      !ended_by_capture && !x.midstream && x.resp.gap_bytes == 0) {
    std::string s;
    if (x.orig.header)
      s = name_o + " opened an XMPP stream to " + name_r +
          ", which never sent a stream header back (" + std::to_string(x.resp.bytes) +
          " bytes in " + std::to_string(static_cast<int>(waited(x.orig.header->ref) + 0.5)) +
          " s) before the connection closed.";
    else if (x.orig.bytes == 0 && x.resp.bytes == 0 && P.o.payload_bytes == 0 &&
             P.r.payload_bytes == 0)  // bytes on the wire that the snaplen cut are no silence
      s = "The TCP connection " + leg_text(P) +
          " opened and closed without either side "
          "sending a byte: no XMPP stream.";
    if (!s.empty()) {
      auto& f = at(ctx.add(FindingCode::kXmppNoStream, s, domain));
      if (x.orig.header) evidence(f, x.orig.header->ref);
      if (P.o.first_fin) evidence(f, *P.o.first_fin);
      if (P.r.first_fin) evidence(f, *P.r.first_fin);
    }
  }

  // -- stream errors
  for (bool orig : {false, true}) {
    const auto& s = orig ? x.orig : x.resp;
    if (!s.extra->stream_error) continue;
    const auto& e = *s.extra->stream_error;
    auto& f = at(ctx.add(FindingCode::kXmppStreamError,
                         orderly_stream_error(e.condition) ? Severity::kWarning : Severity::kError,
                         (orig ? name_o : name_r) + " closed the stream with <" + e.condition +
                             "/>" + (e.text.empty() ? "" : " ('" + e.text.substr(0, 200) + "')") +
                             ": " + stream_error_hint(e.condition) + ".",
                         domain));
    f.detail = e.condition;
    f.remedy = std::string(stream_error_remedy(e.condition));
    evidence(f, e.ref);
  }

  // -- dialback
  const std::string who_db = "receiving";
  for (std::size_t i = 0; i < x.dialback.size(); ++i) {
    const auto& d = x.dialback[i];
    std::string el = d.verify ? "db:verify" : "db:result";
    if (d.type == xmpp::DialbackType::kInvalid || d.type == xmpp::DialbackType::kError) {
      bool invalid = d.type == xmpp::DialbackType::kInvalid;
      std::string s;
      if (!d.verify)
        s = d.from + " (" + (d.from_orig ? who_o : who_r) + ") refused " + d.to +
            "'s dialback key: <db:result type='" + (invalid ? "invalid" : "error") + "'/>" +
            (invalid ? ". The authoritative server for " + d.to + " that " + d.from +
                           " asked (by " + d.to + "'s DNS) said the key is not its own"
                     : " (" + (d.condition.empty() ? std::string("no condition") : d.condition) +
                           "): " + d.from + " could not verify the key with " + d.to +
                           "'s authoritative server") +
            ".";
      else
        s = "The authoritative server " + d.from + " (" + (d.from_orig ? who_o : who_r) +
            ") answered <db:verify type='" + (invalid ? "invalid" : "error") + "'/> to " + d.to +
            (invalid ? ": it did not generate that key (a server claiming " + d.from +
                           " that is not its own server sent it)"
                     : " (" + d.condition + ")") +
            ".";
      auto& f = at(ctx.add(FindingCode::kXmppDialbackInvalid, s, d.verify ? d.from : d.to));
      f.detail = std::string(invalid ? "invalid" : "error") + (d.verify ? " (verify)" : "") +
                 (d.condition.empty() ? "" : ": " + d.condition);
      for (const auto& q : x.dialback)
        if (q.answer && *q.answer == i) evidence(f, q.ref);
      evidence(f, d.ref);
    } else if (d.type != xmpp::DialbackType::kRequest && !d.solicited && !x.midstream &&
               x.orig.gap_bytes == 0 && x.resp.gap_bytes == 0) {
      auto& f = at(ctx.add(FindingCode::kXmppDialbackUnsolicited,
                           (d.from_orig ? name_o : name_r) + " sent <" + el + " type='" +
                               std::string(xmpp::to_string(d.type)) + "'/> for " + d.from + " -> " +
                               d.to + " that no request on this connection asked for.",
                           domain));
      f.detail = el;
      evidence(f, d.ref);
    }
  }
  for (const auto& d : x.dialback) {
    if (d.type != xmpp::DialbackType::kRequest || d.answered) continue;
    // The answer's absence is evidence only when the stream went on long enough without it
    // and no stream error answered instead.
    const auto& answerer = d.from_orig ? x.resp : x.orig;
    bool closed = !ended_by_capture || waited(d.ref) >= 30.0;
    // A reset from the answering side ended it (tcp-reset says so), not a silent wait.
    bool answerer_reset = d.from_orig ? P.r.first_rst.has_value() : P.o.first_rst.has_value();
    if (!closed || answerer.extra->stream_error || answerer_reset || x.tls->started) continue;
    std::string el = d.verify ? "db:verify" : "db:result";
    auto& f = at(ctx.add(FindingCode::kXmppDialbackTimeout,
                         (d.from_orig ? name_o : name_r) + " sent <" + el + "> (" + d.from +
                             " -> " + d.to + ") and got no answer in " +
                             std::to_string(static_cast<int>(waited(d.ref) + 0.5)) +
                             " s before the stream ended: " +
                             (d.verify ? d.to + "'s server never confirmed its key"
                                       : d.to + " could not complete its check back to " + d.from +
                                             "'s authoritative server") +
                             ".",
                         d.verify ? d.from : d.to));
    f.detail = el;
    evidence(f, d.ref);
  }

  // -- STARTTLS
  if (x.resp.tls_failure) {
    auto& f =
        at(ctx.add(FindingCode::kXmppStarttlsFailure,
                   name_r + " answered <starttls/> with <failure/>: TLS was refused.", domain));
    f.detail = "failure";
    f.remedy = "On " + name_r +
               ": check its TLS certificate and key are loaded (Prosody `prosodyctl check "
               "certs`, ejabberd `certfiles`) and that its TLS library works; its log says why "
               "it refused.";
    if (x.resp.tls_ref) evidence(f, *x.resp.tls_ref);
  } else if (x.orig.starttls && !x.resp.proceed && !ended_by_capture && x.resp.gap_bytes == 0 &&
             !x.resp.extra->stream_error) {
    auto& f = at(ctx.add(FindingCode::kXmppStarttlsFailure,
                         name_o + " sent <starttls/> and " + name_r +
                             " never answered it before the connection closed.",
                         domain));
    f.detail = "no answer";
    f.remedy = "On " + name_r +
               ": its log for this connection says why it did not answer <starttls/> (a TLS "
               "library or certificate problem, or a middlebox that strips STARTTLS).";
    if (x.orig.tls_ref) evidence(f, *x.orig.tls_ref);
  }
  for (bool orig : {true, false}) {
    const auto& s = orig ? x.orig : x.resp;
    // The initiator's switch point counts only once the receiver said <proceed/>.
    if (!s.extra->plaintext_after_tls || (orig && !x.resp.proceed)) continue;
    auto& f = at(ctx.add(FindingCode::kXmppStarttlsFailure,
                         (orig ? name_o : name_r) +
                             " sent plaintext right after its STARTTLS switch point where TLS "
                             "must start: STARTTLS command injection (CVE-2011-1431 class) or a "
                             "middlebox rewriting the stream.",
                         domain));
    f.detail = "plaintext after STARTTLS";
    f.remedy =
        "Find what writes plaintext after the STARTTLS switch point on " +
        (orig ? name_o : name_r) +
        "'s side: a server bug or a middlebox rewriting the stream (capture on both sides of "
        "it to see where the bytes appear). Make sure your own servers discard everything "
        "received before TLS (CVE-2011-1431).";
    // The other side discarded the plaintext and TLS went on: the session works, but the
    // path is tampered with (docs/findings.md, severity note).
    if (x.tls->complete) f.severity = Severity::kWarning;
    if (s.extra->plaintext_after_ref) evidence(f, *s.extra->plaintext_after_ref);
  }

  // -- TLS required
  const auto& rf = x.resp.features;
  bool orig_went_on =
      !x.orig.starttls && (x.orig.stanzas.total() > 0 || !x.orig.extra->sasl_mechanism.empty() ||
                           std::any_of(x.dialback.begin(), x.dialback.end(),
                                       [](const s2s::DialbackFact& d) { return d.from_orig; }));
  if (rf && rf->starttls.required && !x.orig.starttls &&
      (orig_went_on || x.orig.closed || x.resp.extra->stream_error)) {
    auto& f =
        at(ctx.add(FindingCode::kXmppTlsRequired,
                   name_r + " requires TLS (<starttls><required/></starttls>) but " + name_o +
                       " did not start it" + (orig_went_on ? " and went on in clear" : "") + ".",
                   domain));
    f.detail = "receiver requires TLS";
    if (x.resp.features_ref) evidence(f, *x.resp.features_ref);
  } else if (rf && !rf->starttls.offered && x.orig.starttls && !x.resp.proceed) {
    // A server that requires encryption tries STARTTLS even when it is not offered
    // (Prosody does); closing without a word would look the same as a scripted peer.
    std::string what =
        " sent <starttls/> anyway" +
        std::string(x.resp.extra->stream_error
                        ? " and was refused with <" + x.resp.extra->stream_error->condition + "/>"
                        : "");
    auto& f = at(ctx.add(FindingCode::kXmppTlsRequired,
                         name_r + " does not offer STARTTLS and " + name_o + what + ": " + name_o +
                             " requires encryption, " + name_r + " has TLS off.",
                         domain));
    f.detail = "originator requires TLS";
    if (x.resp.features_ref) evidence(f, *x.resp.features_ref);
    if (x.orig.tls_ref) evidence(f, *x.orig.tls_ref);
    if (x.orig.close_ref) evidence(f, *x.orig.close_ref);
  }

  // -- SASL
  for (bool orig : {false, true}) {
    const auto& s = orig ? x.orig : x.resp;
    if (!s.extra->sasl_failure) continue;
    const auto& asker = orig ? x.resp : x.orig;
    auto& f = at(
        ctx.add(FindingCode::kXmppSaslFailure,
                (orig ? name_o : name_r) + " refused SASL " +
                    (asker.extra->sasl_mechanism.empty() ? std::string("authentication")
                                                         : asker.extra->sasl_mechanism) +
                    " with <" +
                    (s.extra->sasl_condition.empty() ? "failure" : s.extra->sasl_condition) + "/>.",
                domain));
    f.detail = s.extra->sasl_condition;
    if (s.extra->sasl_ref) evidence(f, *s.extra->sasl_ref);
  }

  // -- stanza errors
  for (bool orig : {false, true}) {
    const auto& s = orig ? x.orig : x.resp;
    if (s.stanza_errors == 0) continue;
    const auto& e = s.extra->stanza_error_samples.front();
    auto& f = at(ctx.add(
        FindingCode::kXmppStanzaError,
        (orig ? name_o : name_r) + " returned " + std::to_string(s.stanza_errors) +
            " stanza error" + (s.stanza_errors == 1 ? "" : "s") + "; first: " + e.kind +
            (e.condition.empty() ? "" : " <" + e.condition + "/>") +
            (e.from.empty() ? "" : " from " + e.from) + (e.to.empty() ? "" : " to " + e.to) + ".",
        domain));
    f.detail = e.condition;
    f.count = s.stanza_errors;
    for (const auto& sample : s.extra->stanza_error_samples)
      evidence(f, sample.ref);
    f.evidence_total = s.stanza_errors;
  }

  // -- authentication incomplete (only when the authentication phase was observable)
  // Explained: this connection's XMPP judge said something above.
  bool explained = ctx.added() > before;
  bool verify_only = std::any_of(x.dialback.begin(), x.dialback.end(),
                                 [](const s2s::DialbackFact& d) { return d.verify; });
  bool authed = x.orig.extra->sasl_success || x.resp.extra->sasl_success ||
                std::any_of(x.dialback.begin(), x.dialback.end(), [](const s2s::DialbackFact& d) {
                  return !d.verify && d.type == xmpp::DialbackType::kValid;
                });
  // Empty features are what a server sends after authentication (the restart after SASL),
  // so only features that offer a way to authenticate make its absence a fault.
  bool auth_offered =
      x.resp.features && (x.resp.features->dialback || !x.resp.features->sasl_mechanisms.empty() ||
                          x.resp.features->starttls.offered);
  if (!explained && !authed && !verify_only && !x.tls->started && x.orig.header && x.resp.header &&
      auth_offered && !ended_by_capture && !x.midstream) {
    auto& f = at(ctx.add(FindingCode::kXmppAuthIncomplete,
                         "The stream " + from_dom + " -> " + to_dom + " (" + leg_text(P) +
                             ") ended without authentication: neither dialback nor SASL "
                             "completed" +
                             (x.orig.stanzas.total() ? "" : " and no stanza was sent") + ".",
                         domain));
    if (x.resp.features_ref) evidence(f, *x.resp.features_ref);
    if (x.orig.close_ref) evidence(f, *x.orig.close_ref);
  }

  // -- federation in clear: authenticated or carrying stanzas without TLS. One finding per
  // direction (domain pair), however many connections showed it.
  const bool carried = x.orig.stanzas.total() + x.resp.stanzas.total() > 0;
  if (!x.tls->started && x.kind == s2s::StreamKind::kXmpp && (authed || carried) &&
      !from_dom.empty() && !to_dom.empty()) {
    auto& f = at(ctx.add_merged(
        "clear:" + domain_key(from_dom) + ">" + domain_key(to_dom), FindingCode::kXmppUnencrypted,
        "Federation " + from_dom + " -> " + to_dom + " ran without TLS (" + leg_text(P) +
            "): " + (authed ? "dialback and stanzas" : "stanzas") + " crossed in clear.",
        domain));
    f.detail = from_dom + " -> " + to_dom;
    if (x.orig.header) evidence(f, x.orig.header->ref);
  }

  judge_tls(ctx, rec, domain, name_o, name_r);
}

}  // namespace fedscope::report::detail
