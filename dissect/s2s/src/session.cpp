// The federation session model for one TCP connection (see session.hpp).

#include "fedscope/s2s/session.hpp"

#include <algorithm>
#include <type_traits>
#include <variant>

#include "fedscope/base/domain.hpp"

namespace fedscope::s2s {

std::pair<std::string, std::string> stream_domains(const ConnectionFacts& x) {
  std::string from, to;
  if (x.orig.header) {
    from = x.orig.header->from;
    to = x.orig.header->to;
  }
  if (x.resp.header) {
    if (from.empty()) from = x.resp.header->to;
    if (to.empty()) to = x.resp.header->from;
  }
  for (const auto& d : x.dialback) {
    if (!from.empty() && !to.empty()) break;
    if (d.from_orig && !d.verify && d.type == xmpp::DialbackType::kRequest) {
      if (from.empty()) from = d.from;
      if (to.empty()) to = d.to;
    }
  }
  return {from, to};
}

std::string_view to_string(Seen s) {
  switch (s) {
    case Seen::kUnknown:
      return "not-observable";
    case Seen::kNo:
      return "no";
    case Seen::kYes:
      return "yes";
  }
  return "?";
}

std::string_view to_string(StreamKind kind) {
  switch (kind) {
    case StreamKind::kNoData:
      return "no-data";
    case StreamKind::kXmpp:
      return "xmpp";
    case StreamKind::kDirectTls:
      return "direct-tls";
    case StreamKind::kNotXmpp:
      return "not-xmpp";
  }
  return "?";
}

namespace {

// Stanza steps stop being added to the ladder at this size so that the steps that end a
// session (errors, closes, alerts) always find room up to kMaxLadder.
constexpr std::size_t kStanzaLadderRoom = kMaxLadder - 20;

std::string kind_name(xmpp::StanzaKind k) {
  return std::string(xmpp::to_string(k));
}

std::string features_text(const xmpp::StreamFeatures& f) {
  std::string s = "features:";
  bool any = false;
  auto add = [&](const std::string& t) {
    s += any ? ", " : " ";
    s += t;
    any = true;
  };
  if (f.starttls.offered) add(f.starttls.required ? "STARTTLS (required)" : "STARTTLS");
  if (!f.sasl_mechanisms.empty()) {
    std::string m = "SASL [";
    for (std::size_t i = 0; i < f.sasl_mechanisms.size(); ++i)
      m += (i ? " " : "") + f.sasl_mechanisms[i];
    add(m + "]");
  }
  if (f.dialback) add("dialback");
  if (f.bidi) add("bidi");
  if (f.compression_offered) add("compression");
  if (!any) s += " none";
  return s;
}

std::string dialback_text(const xmpp::DialbackElement& d, bool verify) {
  std::string s = verify ? "db:verify " : "db:result ";
  if (d.type == xmpp::DialbackType::kRequest)
    s += "request";
  else
    s += std::string(xmpp::to_string(d.type));
  if (d.type == xmpp::DialbackType::kOther && !d.type_text.empty()) s += " '" + d.type_text + "'";
  s += " " + d.from + " -> " + d.to;
  if (!d.id.empty()) s += " id=" + d.id;
  if (!d.error_condition.empty()) s += " (" + d.error_condition + ")";
  return s;
}

}  // namespace

class ConnectionAnalyzer::Impl {
 public:
  Impl(AnomalyCounters& anomalies, Config config)
      : anomalies_(anomalies),
        cfg_(config),
        o_(xmpp::Config{xmpp::Role::kInitiator, config.midstream, config.xmpp_limits}),
        r_(xmpp::Config{xmpp::Role::kReceiver, config.midstream, config.xmpp_limits}) {
    f_.midstream = config.midstream;
  }

  struct Dir {
    explicit Dir(xmpp::Config c) : parser(c) {}
    xmpp::StreamParser parser;
    std::unique_ptr<xmpp::StreamParser> inner;  // XMPP inside TLS (decrypted)
    bool tls = false;
    bool ended = false;
  };

  void on_data(bool from_orig, std::span<const std::uint8_t> bytes, const PacketRef& at) {
    if (bytes.empty()) return;
    Dir& d = from_orig ? o_ : r_;
    SideFacts& s = side(from_orig);
    if (d.ended) return;
    if (!s.first_data) s.first_data = at;
    s.last_data = at;
    s.bytes += bytes.size();
    if (f_.kind == StreamKind::kNoData) f_.kind = StreamKind::kXmpp;
    if (d.tls) {
      // The parser still checks the first bytes after the hand-off for plaintext.
      d.parser.feed(bytes);
      xmpp_events(from_orig, d.parser, at, false);
      tls_bytes(from_orig, bytes, at);
      return;
    }
    std::size_t n = d.parser.feed(bytes);
    xmpp_events(from_orig, d.parser, at, false);
    if (d.parser.state() == xmpp::State::kTls) {
      // The initiator's side switches right after its own <starttls/>; TLS has really
      // started only once the receiver proceeds (or TLS bytes arrive, or direct TLS).
      d.tls = true;
      if (n < bytes.size()) tls_bytes(from_orig, bytes.subspan(n), at);
    }
  }

  void on_gap(bool from_orig, std::uint64_t length, const PacketRef& at) {
    Dir& d = from_orig ? o_ : r_;
    if (d.ended) return;
    side(from_orig).gap_bytes += length;
    if (d.tls) {
      if (tls_) {
        tls_->gap(tls_side(from_orig), length);
        tls_events(at);
      }
      if (dec_) {
        dec_->gap(tls_side(from_orig), length);
        decryption_step(at);
      }
      return;
    }
    d.parser.gap(length);
    xmpp_events(from_orig, d.parser, at, false);
  }

  void on_end(bool from_orig, const PacketRef& at) {
    Dir& d = from_orig ? o_ : r_;
    if (d.ended) return;
    d.ended = true;
    side(from_orig).ended = true;
    d.parser.end();
    xmpp_events(from_orig, d.parser, at, false);
    if (d.inner) {
      d.inner->end();
      xmpp_events(from_orig, *d.inner, at, true);
    }
    if (tls_) {
      tls_->end(tls_side(from_orig));
      tls_events(at);
    }
    if (dec_) {
      dec_->end(tls_side(from_orig));
      decryption_step(at);
    }
  }

  ConnectionFacts finish(const PacketRef& at) {
    on_end(true, at);
    on_end(false, at);
    // The facts are kept until the report: no spare capacity from growing by doubling.
    f_.ladder.shrink_to_fit();
    f_.dialback.shrink_to_fit();
    for (Dir* d : {&o_, &r_}) {
      anomalies_.merge(d->parser.anomalies());
      if (d->inner) anomalies_.merge(d->inner->anomalies());
    }
    for (bool orig : {true, false}) {
      SideFacts& s = side(orig);
      const Dir& d = orig ? o_ : r_;
      if (d.parser.failed()) {
        s.extra.mut().failure = std::string(d.parser.failure());
        s.extra.mut().failure_detail = std::string(d.parser.failure_detail());
      }
    }
    if (tls_) {
      anomalies_.merge(tls_->anomalies());
      auto& t = f_.tls.mut();
      t.complete = tls_->handshake_complete();
      t.client_encrypted_records = tls_->encrypted_records(tls::Side::kClient);
      t.server_encrypted_records = tls_->encrypted_records(tls::Side::kServer);
      if (dec_) {
        anomalies_.merge(dec_->anomalies());
        t.keylog = true;
        t.decryption = dec_->state();
        t.client_decrypted_records = dec_->records_decrypted(tls::Side::kClient);
        t.server_decrypted_records = dec_->records_decrypted(tls::Side::kServer);
      }
      if (t.server_hello && !t.server_hello->hello_retry_request) {
        if (t.server_hello->version >= 0x0304 && !t.chain.empty())
          t.certificate = Seen::kYes;  // read inside TLS with the key log
        else if (t.server_hello->version >= 0x0304 && server_finished_)
          t.certificate = Seen::kNo;  // decrypted, and the server sent none (resumption)
        else if (t.server_hello->version >= 0x0304)
          t.certificate = Seen::kUnknown;  // encrypted in TLS 1.3
        else if (!t.chain.empty())
          t.certificate = Seen::kYes;
        else if (t.server_encrypted_records > 0)
          t.certificate = Seen::kNo;  // the server went encrypted without one (resumption)
      } else if (!t.chain.empty()) {
        t.certificate = Seen::kYes;
      }
    }
    return std::move(f_);
  }

  const ConnectionFacts& facts() const { return f_; }

 private:
  SideFacts& side(bool from_orig) { return from_orig ? f_.orig : f_.resp; }
  // The TCP originator starts TLS (STARTTLS initiator, or direct TLS client).
  static tls::Side tls_side(bool from_orig) {
    return from_orig ? tls::Side::kClient : tls::Side::kServer;
  }

  void step(bool from_orig, const PacketRef& at, std::string text, bool stanza = false) {
    if (repeats(from_orig, text) || !room(stanza)) return;
    f_.ladder.push_back(LadderStep{at, std::move(text), 1, from_orig});
  }
  /// The same as step() for a text that is copied only when it makes a new step (a stream of
  /// stanzas mostly repeats the last step: no string is built per stanza).
  void step_view(bool from_orig, const PacketRef& at, std::string_view text, bool stanza) {
    if (repeats(from_orig, text) || !room(stanza)) return;
    f_.ladder.push_back(LadderStep{at, std::string(text), 1, from_orig});
  }
  bool repeats(bool from_orig, std::string_view text) {
    auto& l = f_.ladder;
    if (l.empty() || l.back().from_orig != from_orig || l.back().text != text) return false;
    ++l.back().repeat;
    return true;
  }
  bool room(bool stanza) {
    if (f_.ladder.size() < (stanza ? kStanzaLadderRoom : kMaxLadder)) return true;
    ++f_.ladder_dropped;
    return false;
  }

  void tls_bytes(bool from_orig, std::span<const std::uint8_t> bytes, const PacketRef& at) {
    mark_tls_started();
    if (!tls_) tls_ = std::make_unique<tls::Session>(tls::Config{cfg_.tls_limits});
    if (cfg_.keylog && !dec_) dec_ = std::make_unique<tls::Decryptor>(*cfg_.keylog);
    tls_->feed(tls_side(from_orig), bytes);
    // The hellos reach the decryptor (through the events) before the records after them.
    tls_events(at);
    if (!dec_) return;
    plain_.clear();
    dec_->feed(tls_side(from_orig), bytes, plain_);
    decryption_step(at);  // "decrypted" before what was decrypted
    for (const auto& piece : plain_.pieces)
      plaintext(from_orig, piece, plain_.view(piece), at);
    decryption_step(at);
    // The plaintext buffer grows to a segment's size: not kept per live connection.
    if (plain_.bytes.capacity() > 16 * 1024) plain_ = tls::DecryptOutput{};
  }

  /// What the key log opened: application data into the inner XMPP parser, alerts and the
  /// TLS 1.3 handshake into the TLS facts.
  void plaintext(bool from_orig, const tls::PlainPiece& piece, std::span<const std::uint8_t> b,
                 const PacketRef& at) {
    auto& t = f_.tls.mut();
    t.decrypted = true;
    switch (piece.type) {
      case tls::ContentType::kApplicationData: {
        if (b.empty()) return;
        f_.xmpp_inside_tls = Seen::kYes;
        Dir& d = from_orig ? o_ : r_;
        if (!d.inner) {
          xmpp::Config c{from_orig ? xmpp::Role::kInitiator : xmpp::Role::kReceiver, false,
                         cfg_.xmpp_limits};
          d.inner = std::make_unique<xmpp::StreamParser>(c);
        }
        // Plaintext lost with a capture gap: the inner parser resyncs at a stanza boundary.
        if (piece.gap_before) d.inner->gap(1);
        d.inner->feed(b);
        xmpp_events(from_orig, *d.inner, at, true);
        return;
      }
      case tls::ContentType::kAlert: {
        if (b.size() < 2) return;
        // A TLS ≤ 1.2 alert was counted (encrypted) by the tls::Session: fill that one in.
        AlertFact* known = nullptr;
        for (auto& a : t.alerts)
          if (a.encrypted && a.from_client == from_orig && !a.decrypted) {
            known = &a;
            break;
          }
        if (known) {
          known->level = b[0];
          known->description = b[1];
          known->encrypted = false;
          known->decrypted = true;
        } else {
          ++t.alert_count;
          if (t.alerts.size() < kMaxAlerts)
            t.alerts.push_back(AlertFact{from_orig, b[0], b[1], false, true, at});
        }
        step(from_orig, at,
             std::string("[in TLS] TLS alert ") + (b[0] == 2 ? "fatal " : "warning ") +
                 tls::alert_description_name(b[1]));
        return;
      }
      case tls::ContentType::kHandshake:
        break;
      default:
        return;
    }
    if (b.size() < 4) return;
    const std::uint8_t type = b[0];
    const auto body = b.subspan(4);
    const bool tls13 = t.server_hello && t.server_hello->version >= tls::kTls13;
    if (type == tls::kCertificateType && tls13) {
      tls::Certificates certs;
      bool cut = false;
      if (tls::parse_certificate_message_13(body, cfg_.tls_limits, certs, &cut).empty()) {
        if (cut) anomalies_.add(tls::kAnomalyChainTruncated);
        certificates(from_orig, certs, at, true);
      } else {
        anomalies_.add(tls::kAnomalyBadHandshake);
      }
    } else if (type == tls::kCertificateRequestType && tls13) {
      t.certificate_request = true;
      step(from_orig, at, "[in TLS] TLS CertificateRequest (client certificate asked)");
    } else if (type == 20 && !from_orig) {
      server_finished_ = true;
    } else if (type == 24) {
      step(from_orig, at, "[in TLS] TLS KeyUpdate");
    }
  }

  /// A ladder step when decryption starts, or stops and why (once each).
  void decryption_step(const PacketRef& at) {
    const tls::DecryptState s = dec_->state();
    if (s == said_) return;
    said_ = s;
    switch (s) {
      case tls::DecryptState::kNone:
        return;
      case tls::DecryptState::kDecrypting:
        step(false, at, "TLS decrypted with the key log");
        return;
      case tls::DecryptState::kNoSecret:
        step(false, at, "TLS not decrypted: the key log has no secret for this ClientHello");
        return;
      case tls::DecryptState::kUnsupported:
        step(false, at, "TLS not decrypted: the cipher suite is not supported");
        return;
      case tls::DecryptState::kBadRecord:
        step(false, at, "TLS decryption stopped: a record failed authentication (wrong key?)");
        return;
      case tls::DecryptState::kGap:
        step(false, at, "TLS decryption stopped: bytes missing from the capture");
        return;
    }
  }

  void xmpp_events(bool from_orig, xmpp::StreamParser& p, const PacketRef& at, bool inside) {
    if (p.events().empty()) return;
    for (const auto& e : p.events())
      std::visit([&](const auto& b) { on_xmpp(from_orig, b, at, inside); }, e.body);
    p.clear_events();
  }

  std::string in(bool inside, std::string s) { return inside ? "[in TLS] " + s : s; }

  void on_xmpp(bool o, const xmpp::StreamOpen& e, const PacketRef& at, bool inside) {
    SideFacts& s = side(o);
    ++s.headers;
    if (!s.header)
      s.header = StreamHeaderFact{
          e.from, e.to, e.id, e.version, e.default_ns, e.xmlns_db == xmpp::kNsDialback, at};
    std::string t = std::string(e.restart ? "stream restart" : "stream header");
    if (!e.from.empty()) t += " from=" + e.from;
    if (!e.to.empty()) t += " to=" + e.to;
    if (!e.id.empty()) t += " id=" + e.id;
    if (!e.version.empty()) t += " version=" + e.version;
    if (e.default_ns != xmpp::kNsServer) t += " ns=" + e.default_ns;
    step(o, at, in(inside, t));
  }
  void on_xmpp(bool o, const xmpp::StreamFeatures& e, const PacketRef& at, bool inside) {
    SideFacts& s = side(o);
    if (!s.features) {
      s.features = e;
      s.features_ref = at;
    }
    step(o, at, in(inside, features_text(e)));
  }
  void on_xmpp(bool o, const xmpp::StartTls&, const PacketRef& at, bool) {
    side(o).starttls = true;
    side(o).tls_ref = at;
    step(o, at, "<starttls/>");
  }
  void mark_tls_started() {
    f_.tls.mut().started = true;
    if (f_.xmpp_inside_tls == Seen::kNo) f_.xmpp_inside_tls = Seen::kUnknown;
  }

  void on_xmpp(bool o, const xmpp::Proceed&, const PacketRef& at, bool) {
    mark_tls_started();
    side(o).proceed = true;
    side(o).tls_ref = at;
    step(o, at, "<proceed/>: TLS starts");
  }
  void on_xmpp(bool o, const xmpp::TlsFailure&, const PacketRef& at, bool) {
    side(o).tls_failure = true;
    side(o).tls_ref = at;
    step(o, at, "STARTTLS <failure/>");
  }
  void on_xmpp(bool o, const xmpp::SaslAuth& e, const PacketRef& at, bool inside) {
    side(o).extra.mut().sasl_mechanism = e.mechanism;
    side(o).extra.mut().sasl_ref = at;
    step(o, at, in(inside, "SASL auth " + e.mechanism));
  }
  void on_xmpp(bool o, const xmpp::SaslSuccess&, const PacketRef& at, bool inside) {
    side(o).extra.mut().sasl_success = true;
    side(o).extra.mut().sasl_ref = at;
    step(o, at, in(inside, "SASL success"));
  }
  void on_xmpp(bool o, const xmpp::SaslFailure& e, const PacketRef& at, bool inside) {
    side(o).extra.mut().sasl_failure = true;
    side(o).extra.mut().sasl_condition = e.condition;
    side(o).extra.mut().sasl_ref = at;
    step(o, at, in(inside, "SASL failure " + e.condition));
  }
  void on_xmpp(bool o, const xmpp::DialbackResult& e, const PacketRef& at, bool inside) {
    dialback(o, e, false, at);
    step(o, at, in(inside, dialback_text(e, false)));
  }
  void on_xmpp(bool o, const xmpp::DialbackVerify& e, const PacketRef& at, bool inside) {
    dialback(o, e, true, at);
    step(o, at, in(inside, dialback_text(e, true)));
  }
  void on_xmpp(bool o, const xmpp::StreamError& e, const PacketRef& at, bool inside) {
    if (!side(o).extra.mut().stream_error)
      side(o).extra.mut().stream_error = StreamErrorFact{e.condition, e.text, at};
    std::string t = "stream error " + e.condition;
    if (!e.text.empty()) t += ": " + e.text.substr(0, 200);
    step(o, at, in(inside, t));
  }
  void on_xmpp(bool o, const xmpp::Stanza& e, const PacketRef& at, bool inside) {
    SideFacts& s = side(o);
    switch (e.kind) {
      case xmpp::StanzaKind::kMessage:
        ++s.stanzas.message;
        break;
      case xmpp::StanzaKind::kPresence:
        ++s.stanzas.presence;
        break;
      case xmpp::StanzaKind::kIq:
        ++s.stanzas.iq;
        break;
      case xmpp::StanzaKind::kOther:
        ++s.stanzas.other;
        break;
    }
    bool error = e.type == "error" || !e.error_condition.empty();
    if (error && e.kind != xmpp::StanzaKind::kOther) {
      ++s.stanza_errors;
      if (s.extra.mut().stanza_error_samples.size() < kMaxStanzaErrors)
        s.extra.mut().stanza_error_samples.push_back(StanzaErrorFact{
            kind_name(e.kind), e.error_condition, e.error_type, e.from, e.to, e.id, at});
    }
    // Built in a reused buffer: most stanzas repeat the last step and only count.
    std::string& t = scratch_;
    t.clear();
    if (inside) t += "[in TLS] ";
    t += e.kind == xmpp::StanzaKind::kOther ? e.name : kind_name(e.kind);
    if (!e.type.empty()) t.append(" type=").append(e.type);
    if (!e.error_condition.empty()) t.append(" (").append(e.error_condition).append(")");
    step_view(o, at, t, true);
  }
  void on_xmpp(bool o, const xmpp::StreamClose&, const PacketRef& at, bool inside) {
    side(o).closed = true;
    side(o).close_ref = at;
    step(o, at, in(inside, "</stream:stream>"));
  }
  void on_xmpp(bool, const xmpp::Whitespace&, const PacketRef&, bool) {}
  void on_xmpp(bool, const xmpp::TlsHandoff&, const PacketRef&, bool) {}
  void on_xmpp(bool o, const xmpp::DirectTls&, const PacketRef& at, bool) {
    side(o).direct_tls = true;
    mark_tls_started();
    f_.tls.mut().direct = true;
    f_.kind = StreamKind::kDirectTls;
    step(o, at, "direct TLS (XEP-0368)");
  }
  void on_xmpp(bool o, const xmpp::NotXmpp& e, const PacketRef& at, bool) {
    SideFacts& s = side(o);
    s.extra.mut().not_xmpp_kind = e.kind;
    s.extra.mut().not_xmpp_bytes = e.first_bytes;
    s.extra.mut().not_xmpp_ref = at;
    if (f_.kind != StreamKind::kDirectTls) f_.kind = StreamKind::kNotXmpp;
    step(o, at, "not XMPP (" + e.kind + "): '" + e.first_bytes + "'");
  }
  void on_xmpp(bool o, const xmpp::CompressionHandoff&, const PacketRef& at, bool) {
    side(o).compressed = true;
    step(o, at, "stream compression starts: the rest is opaque");
  }
  void on_xmpp(bool o, const xmpp::Anomaly& e, const PacketRef& at, bool inside) {
    if (e.name == xmpp::kAnomalyStartTlsPlaintextAfter) {
      side(o).extra.mut().plaintext_after_tls = true;
      side(o).extra.mut().plaintext_after_ref = at;
      step(o, at, "plaintext after the STARTTLS point (not TLS)");
      return;
    }
    if (e.name == xmpp::kAnomalyGapResync || e.name == xmpp::kAnomalyMidstreamResync ||
        e.name == xmpp::kAnomalyTextAtStreamLevel)
      return;
    std::string t = "XMPP parsing stopped: " + e.name;
    if (!e.detail.empty()) t += " (" + e.detail.substr(0, 120) + ")";
    step(o, at, in(inside, t));
  }

  void dialback(bool o, const xmpp::DialbackElement& e, bool verify, const PacketRef& at) {
    if (f_.dialback.size() >= kMaxDialback) {
      ++f_.dialback_dropped;
      return;
    }
    DialbackFact d;
    d.verify = verify;
    d.from_orig = o;
    d.type = e.type;
    d.from = e.from;
    d.to = e.to;
    d.id = e.id;
    d.condition = e.error_condition;
    d.has_key = e.has_key;
    d.ref = at;
    if (e.type != xmpp::DialbackType::kRequest) {
      // An answer goes back the other way, with from/to swapped (and the same id for
      // db:verify); pair it with the oldest such request not answered yet.
      d.solicited = false;
      for (std::size_t i = 0; i < f_.dialback.size(); ++i) {
        auto& q = f_.dialback[i];
        if (q.type != xmpp::DialbackType::kRequest || q.answered || q.verify != verify ||
            q.from_orig == o)
          continue;
        if (!e.from.empty() && !q.to.empty() && !domains_equal(e.from, q.to)) continue;
        if (!e.to.empty() && !q.from.empty() && !domains_equal(e.to, q.from)) continue;
        if (verify && !e.id.empty() && !q.id.empty() && e.id != q.id) continue;
        q.answered = true;
        q.answer = f_.dialback.size();
        d.solicited = true;
        break;
      }
    }
    f_.dialback.push_back(std::move(d));
  }

  void tls_events(const PacketRef& at) {
    if (!tls_ || tls_->events().empty()) return;
    for (const auto& e : tls_->events()) {
      bool client = e.side == tls::Side::kClient;
      std::visit([&](const auto& b) { on_tls(client, b, at); }, e.body);
    }
    tls_->clear_events();
  }

  void on_tls(bool client, const tls::ClientHello& e, const PacketRef& at) {
    if (dec_) dec_->on_client_hello(e);
    if (!f_.tls.mut().client_hello) {
      f_.tls.mut().client_hello = e;
      f_.tls.mut().client_hello_ref = at;
    }
    std::string t = "TLS ClientHello";
    if (!e.supported_versions.empty()) {
      t += " versions=";
      for (std::size_t i = 0; i < e.supported_versions.size(); ++i) {
        if (i) t += ',';
        t += tls::version_name(e.supported_versions[i]);
      }
    } else {
      t += " version=" + tls::version_name(e.legacy_version);
    }
    if (!e.sni.empty()) t += " sni=" + e.sni;
    if (!e.alpn.empty()) {
      t += " alpn=";
      for (std::size_t i = 0; i < e.alpn.size(); ++i)
        t += (i ? "," : "") + e.alpn[i];
    }
    step(client, at, t);
  }
  void on_tls(bool client, const tls::ServerHello& e, const PacketRef& at) {
    if (dec_) dec_->on_server_hello(e);
    if (e.hello_retry_request) {
      step(client, at, "TLS HelloRetryRequest");
      return;
    }
    f_.tls.mut().server_hello = e;
    f_.tls.mut().server_hello_ref = at;
    std::string t = "TLS ServerHello " + tls::version_name(e.version) + " " +
                    tls::cipher_suite_name(e.cipher_suite);
    if (!e.alpn.empty()) t += " alpn=" + e.alpn;
    if (e.version >= 0x0304 && !dec_) t += " (certificate and what follows are encrypted)";
    step(client, at, t);
  }
  void on_tls(bool client, const tls::Certificates& e, const PacketRef& at) {
    certificates(client, e, at, false);
  }
  void certificates(bool client, const tls::Certificates& e, const PacketRef& at, bool inside) {
    if (client) {
      if (f_.tls.mut().client_chain.empty()) {
        f_.tls.mut().client_chain = e.chain;
        f_.tls.mut().client_certificate_ref = at;
      }
    } else if (f_.tls.mut().chain.empty()) {
      f_.tls.mut().chain = e.chain;
      f_.tls.mut().chain_total = e.total;
      f_.tls.mut().certificate_ref = at;
    }
    std::string t = "TLS Certificate";
    if (!e.chain.empty()) {
      const auto& c = e.chain.front();
      t += " subject=" + c.subject;
      if (!c.dns_names.empty()) {
        t += " dns=";
        for (std::size_t i = 0; i < c.dns_names.size() && i < 4; ++i)
          t += (i ? "," : "") + c.dns_names[i];
      }
      if (c.self_signed) t += " (self-signed)";
    }
    t += " chain=" + std::to_string(e.total);
    step(client, at, in(inside, t));
  }
  void on_tls(bool client, const tls::CertificateRequest&, const PacketRef& at) {
    f_.tls.mut().certificate_request = true;
    step(client, at, "TLS CertificateRequest (client certificate asked)");
  }
  void on_tls(bool, const tls::ServerHelloDone&, const PacketRef&) {}
  void on_tls(bool, const tls::ClientKeyExchange&, const PacketRef&) {}
  void on_tls(bool, const tls::OtherHandshake&, const PacketRef&) {}
  void on_tls(bool client, const tls::ChangeCipherSpec&, const PacketRef& at) {
    step(client, at, "TLS ChangeCipherSpec");
  }
  void on_tls(bool client, const tls::EncryptionStarted&, const PacketRef& at) {
    step(client, at, "TLS encrypted from here");
  }
  void on_tls(bool client, const tls::Alert& e, const PacketRef& at) {
    ++f_.tls.mut().alert_count;
    if (f_.tls.mut().alerts.size() < kMaxAlerts)
      f_.tls.mut().alerts.push_back(
          AlertFact{client, e.level, e.description, e.encrypted, false, at});
    if (e.encrypted) {
      step(client, at, "TLS alert (encrypted)");
      return;
    }
    step(client, at,
         std::string("TLS alert ") + (e.level == 2 ? "fatal " : "warning ") +
             tls::alert_description_name(e.description));
  }
  void on_tls(bool client, const tls::NotTls& e, const PacketRef& at) {
    (client ? f_.tls.mut().client_not_tls : f_.tls.mut().server_not_tls) = e.first_bytes;
    step(client, at, "not TLS: '" + e.first_bytes + "'");
  }
  void on_tls(bool client, const tls::Anomaly& e, const PacketRef& at) {
    if (e.name == tls::kAnomalyResync) step(client, at, "TLS records follow (" + e.detail + ")");
  }

  AnomalyCounters& anomalies_;
  Config cfg_;
  ConnectionFacts f_;
  Dir o_, r_;
  std::unique_ptr<tls::Session> tls_;
  std::string scratch_;                  ///< the text of a stanza's ladder step
  std::unique_ptr<tls::Decryptor> dec_;  ///< with a key log, from the first TLS byte
  tls::DecryptOutput plain_;
  tls::DecryptState said_ = tls::DecryptState::kNone;
  bool server_finished_ = false;  ///< the server's TLS 1.3 Finished was decrypted
};

ConnectionAnalyzer::ConnectionAnalyzer(AnomalyCounters& anomalies, Config config)
    : impl_(std::make_unique<Impl>(anomalies, config)) {}
ConnectionAnalyzer::~ConnectionAnalyzer() = default;

void ConnectionAnalyzer::on_data(bool from_orig, std::span<const std::uint8_t> bytes,
                                 const PacketRef& at) {
  impl_->on_data(from_orig, bytes, at);
}
void ConnectionAnalyzer::on_gap(bool from_orig, std::uint64_t length, const PacketRef& at) {
  impl_->on_gap(from_orig, length, at);
}
void ConnectionAnalyzer::on_end(bool from_orig, const PacketRef& at) {
  impl_->on_end(from_orig, at);
}
const ConnectionFacts& ConnectionAnalyzer::facts() const {
  return impl_->facts();
}
ConnectionFacts ConnectionAnalyzer::finish(const PacketRef& at) {
  return impl_->finish(at);
}

}  // namespace fedscope::s2s
