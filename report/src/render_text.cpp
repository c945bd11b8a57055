#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fedscope/base/domain.hpp"
#include "fedscope/report/analysis.hpp"
#include "fedscope/tls/names.hpp"

namespace fedscope::report {
namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string upper(std::string_view text) {
  std::string s(text);
  for (auto& ch : s)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string_view conn_state_text(flow::ConnState s) {
  using flow::ConnState;
  switch (s) {
    case ConnState::kS0:
      return "SYN seen, no answer";
    case ConnState::kS1:
      return "established, not closed";
    case ConnState::kSF:
      return "established and closed normally";
    case ConnState::kRej:
      return "SYN answered by RST (refused)";
    case ConnState::kS2:
      return "established, the originator closed, the responder did not";
    case ConnState::kS3:
      return "established, the responder closed, the originator did not";
    case ConnState::kRsto:
      return "established, reset by the originator";
    case ConnState::kRstr:
      return "established, reset by the responder";
    case ConnState::kRstos0:
      return "SYN, then a RST from the originator, no SYN-ACK seen";
    case ConnState::kRstrh:
      return "SYN-ACK, then a RST from the responder, no SYN seen";
    case ConnState::kSh:
      return "SYN then FIN from the originator, no SYN-ACK seen";
    case ConnState::kShr:
      return "SYN-ACK then FIN from the responder, no SYN seen";
    case ConnState::kOth:
      return "no SYN seen (joined mid-stream)";
  }
  return "";
}

std::string_view history_text(char c) {
  switch (c) {
    case 'S':
      return "SYN";
    case 'H':
      return "SYN-ACK";
    case 'A':
      return "pure ACK";
    case 'D':
      return "data";
    case 'F':
      return "FIN";
    case 'R':
      return "RST";
    case 'G':
      return "a gap (bytes not captured)";
    case 'T':
      return "retransmission";
    case 'C':
      return "bad checksum";
    case 'W':
      return "zero window";
    case 'I':
      return "inconsistent (SYN and RST together)";
    case 'Q':
      return "multi-flag packet (SYN and FIN)";
    case '^':
      return "direction flipped";
    default:
      return "";
  }
}

std::string human_bytes(std::uint64_t b) {
  if (b < 1024) return std::to_string(b) + " B";
  if (b < 1024 * 1024) return fmt("%.1f KiB", static_cast<double>(b) / 1024);
  return fmt("%.1f MiB", static_cast<double>(b) / (1024 * 1024));
}

// What a render needs besides the Result: the time style and the files' distinct names.
struct Ctx {
  const Result& r;
  const TimeFormat& time;
  std::vector<std::string> names;
};

std::string file_name(const Ctx& c, std::uint16_t f) {
  return f < c.names.size() ? c.names[f] : "?";
}

// "#12", "outside/capture.pcap#12" with several files; a relayed connection's byte as
// "conn 7 orig@345".
std::string ref_text(const Ctx& c, const EvidenceRef& ref) {
  if (!ref.is_packet())
    return "conn " + std::to_string(ref.connection) + (ref.from_orig ? " orig@" : " resp@") +
           std::to_string(ref.offset());
  std::string s = "#" + std::to_string(ref.number);
  if (c.r.files.size() > 1) s = file_name(c, ref.file) + s;
  return s;
}

std::string dns_outcome(const engine::DnsTransaction& t) {
  if (!t.answered()) {
    std::string s = t.outcome == engine::DnsOutcome::kCaptureEnded
                        ? "no answer before the capture ended"
                        : "NO ANSWER";
    if (t.queries > 1) s += " (" + std::to_string(t.queries) + " queries)";
    // An ICMP error is an answer of sorts: it says why (the resolver is not running there).
    if (t.icmp)
      s += ": ICMP " +
           std::string((!t.server.addr.is_v6() && t.icmp->type == 3 && t.icmp->code == 3) ||
                               (t.server.addr.is_v6() && t.icmp->type == 1 && t.icmp->code == 4)
                           ? "port unreachable"
                           : "error (type " + std::to_string(t.icmp->type) + ", code " +
                                 std::to_string(t.icmp->code) + ")") +
           " from " + t.icmp->reporter.to_string();
    return s;
  }
  if (t.rcode != dns::kNoError) return std::string(dns::rcode_name(t.rcode));
  std::string s;
  for (const auto& rr : t.answers) {
    std::string v;
    if (const auto* a = std::get_if<IpAddress>(&rr.data))
      v = a->to_string();
    else if (const auto* srv = std::get_if<dns::SrvData>(&rr.data))
      v = srv->target + ":" + std::to_string(srv->port);
    else if (const auto* n = std::get_if<std::string>(&rr.data))
      v = "CNAME " + *n;
    else
      continue;
    if (!s.empty()) s += ", ";
    s += v;
  }
  return s.empty() ? "NODATA" : s;
}

// One DNS transaction of a story: the question, the answer, the packet and who asked whom.
std::string dns_line(const Ctx& cx, const engine::DnsTransaction& t) {
  return "DNS  " + t.qname + " " + std::string(dns::type_name(t.qtype)) + " → " + dns_outcome(t) +
         "  (" + ref_text(cx, t.query) + ", " + t.client.addr.to_string() + " asked " +
         t.server.addr.to_string() + (t.tcp ? " over TCP" : "") + ")";
}

std::string counts_text(const s2s::StanzaCounts& c) {
  std::string s;
  auto add = [&](std::uint64_t n, const char* what) {
    if (!n) return;
    s += (s.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  };
  add(c.message, "message");
  add(c.presence, "presence");
  add(c.iq, "iq");
  add(c.other, "other");
  return s.empty() ? "none" : s;
}

// A few indented lines: what the XMPP and TLS layers of one connection showed.
// What --tls-keylog did for this connection, in the words an admin acts on.
std::string decryption_text(const s2s::TlsFacts& t) {
  const std::string records = std::to_string(t.client_decrypted_records) + " → / ← " +
                              std::to_string(t.server_decrypted_records) + " records";
  switch (t.decryption) {
    case tls::DecryptState::kNone:
      return "key log: nothing encrypted to decrypt";
    case tls::DecryptState::kDecrypting:
      return "decrypted with the key log (" + records + ")";
    case tls::DecryptState::kNoSecret:
      return "NOT decrypted: the key log has no secret for this session's ClientHello random";
    case tls::DecryptState::kUnsupported:
      return "NOT decrypted: the cipher suite is not one fedscope decrypts";
    case tls::DecryptState::kBadRecord:
      return "decryption STOPPED: a record failed authentication (a wrong key-log secret, or "
             "damaged bytes); " +
             records + " opened before it";
    case tls::DecryptState::kGap:
      return "decryption STOPPED: bytes missing from the capture; " + records + " opened before";
  }
  return "";
}

std::string xmpp_story(const s2s::ConnectionFacts& x, bool established, bool payload_on_wire) {
  const std::string pad = "\n                    ";
  std::string s;
  // Bytes the TCP headers count but the capture did not keep (snaplen) are no silence.
  if (x.kind == s2s::StreamKind::kNoData)
    return !established      ? ""
           : payload_on_wire ? pad + "XMPP: payload not captured (cut by the snaplen)"
                             : pad + "XMPP: no byte in either direction";
  if (x.kind == s2s::StreamKind::kNotXmpp) {
    const auto& side = x.resp.extra->not_xmpp_kind.empty() ? x.orig : x.resp;
    return pad + "NOT XMPP: " + side.extra->not_xmpp_kind + " '" + side.extra->not_xmpp_bytes + "'";
  }
  std::string from = x.orig.header ? x.orig.header->from : "";
  std::string to = x.orig.header ? x.orig.header->to : "";
  if (x.orig.header || x.resp.header)
    s += pad + "XMPP " + (from.empty() ? "?" : from) + " → " + (to.empty() ? "?" : to);
  else if (x.midstream)
    s += pad + "XMPP joined mid-stream: parsed from the first clear stanza boundary";
  else if (x.tls->direct)
    s += pad + "direct TLS (XEP-0368)";
  if (x.orig.starttls)
    s += x.resp.proceed       ? ", STARTTLS"
         : x.resp.tls_failure ? ", STARTTLS refused"
         : x.resp.extra->stream_error
             ? ", STARTTLS answered with <" + x.resp.extra->stream_error->condition + "/>"
             : ", STARTTLS unanswered";
  const auto& t = *x.tls;
  if (t.started) {
    if (t.server_hello)
      s += pad + tls::version_name(t.server_hello->version) + ", " +
           tls::cipher_suite_name(t.server_hello->cipher_suite);
    else
      s += pad + "TLS (no ServerHello seen)";
    if (t.client_hello && !t.client_hello->sni.empty()) s += ", SNI " + t.client_hello->sni;
    s += t.complete ? ", handshake complete" : ", handshake NOT complete";
    if (t.certificate == s2s::Seen::kYes && !t.chain.empty()) {
      const auto& c = t.chain.front();
      s += pad + "certificate " + c.subject;
      const std::string names = tls::san_names(c, " ");
      if (!names.empty()) s += " [" + names + "]";
      s += ", issuer " + (c.self_signed ? std::string("itself (self-signed)") : c.issuer);
      s += ", valid " + format_iso8601(Timestamp::from_parts(c.not_before, 0)).substr(0, 10) +
           " to " + format_iso8601(Timestamp::from_parts(c.not_after, 0)).substr(0, 10);
    } else if (t.server_hello && t.server_hello->version >= 0x0304 && !t.decrypted) {
      s += pad + "certificate and XMPP inside: not observable (TLS 1.3 encrypts them)";
    }
    if (!t.decrypted && t.server_hello && t.server_hello->version < 0x0304)
      s += pad + "XMPP inside TLS: not observable (encrypted)";
    if (t.keylog) s += pad + decryption_text(t);
  }
  if (!t.started || t.decrypted) {
    if (x.orig.header || x.resp.header || x.midstream)
      s += pad + "stanzas → " + counts_text(x.orig.stanzas) + "; ← " + counts_text(x.resp.stanzas);
  }
  return s;
}

std::string conn_story(const Ctx& cx, const engine::ConnectionRecord& rec,
                       const std::string& role) {
  const Result& r = cx.r;
  const auto& c = rec.conn;
  const auto& P = c.primary();
  std::string s = "TCP  flow " + std::to_string(c.id) + role + "  " + P.orig.to_string() + " → " +
                  P.resp.to_string() + "  " + std::string(flow::to_string(c.conn_state)) + " " +
                  P.history;
  if (c.syn_retries() > 0) s += "  " + std::to_string(P.o.syns) + " SYNs";
  if (P.r.syns > 0 && P.o.payload_bytes + P.r.payload_bytes > 0)
    s += "  " + human_bytes(P.o.payload_bytes) + " → / ← " + human_bytes(P.r.payload_bytes);
  s += "  " + fmt("%.3f s", (P.last - P.start).seconds());
  if (c.capture_ended) {
    // A connection silent for a long while before the end was abandoned, not in progress.
    const double idle = (r.stats.last - P.last).seconds();
    s += idle > 30 ? "  (no packet for its last " + fmt("%.0f", idle) +
                         " s; still open when the capture ended)"
                   : "  (still open when the capture ended)";
  }
  for (std::size_t i = 1; i < c.legs.size(); ++i) {
    const auto& l = c.legs[i];
    s += "\n                    also seen as " + l.orig.to_string() + " → " + l.resp.to_string() +
         " (" + std::string(flow::to_string(flow::conn_state(l))) + " " + l.history + ")";
    if (r.files.size() > 1 || l.vantage.ifindex >= 0 || l.vantage.interface >= 0) {
      s += " at " + file_name(cx, l.vantage.file);
      if (l.vantage.interface >= 0) {
        const auto& ifs = r.files[l.vantage.file].interfaces;
        auto at = static_cast<std::size_t>(l.vantage.interface);
        s += " " + (at < ifs.size() && !ifs[at].name.empty() ? ifs[at].name
                                                             : "interface " + std::to_string(at));
      }
      // A Linux cooked capture carries the interface's index, not its name.
      if (l.vantage.ifindex >= 0) s += " interface index " + std::to_string(l.vantage.ifindex);
    }
    if (!(l.resp == P.resp) || !(l.orig == P.orig)) s += ": NAT";
  }
  for (const auto& l : c.legs)
    for (const auto& e : l.icmp)
      s += "\n                    ICMP type " + std::to_string(e.type) + " code " +
           std::to_string(e.code) + " from " + e.reporter.to_string() + " (" + ref_text(cx, e.ref) +
           ")";
  if (rec.dns.empty()) s += "\n                    DNS: not observed in this capture";
  if (rec.xmpp)
    s += xmpp_story(*rec.xmpp, P.r.syns > 0 && P.o.sent_ack,
                    P.o.payload_bytes + P.r.payload_bytes > 0);
  return s;
}

}  // namespace

std::vector<std::string> distinct_file_names(const std::vector<std::string>& paths) {
  // Components of each path, empty and "." ones dropped ("./a//b" is a/b).
  std::vector<std::vector<std::string>> parts(paths.size());
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (paths[i] == "-") {
      parts[i] = {"stdin"};
      continue;
    }
    std::size_t start = 0;
    while (start <= paths[i].size()) {
      std::size_t slash = paths[i].find('/', start);
      if (slash == std::string::npos) slash = paths[i].size();
      std::string part = paths[i].substr(start, slash - start);
      if (!part.empty() && part != ".") parts[i].push_back(std::move(part));
      start = slash + 1;
    }
    if (parts[i].empty()) parts[i] = {paths[i]};
  }
  auto suffix = [&](std::size_t i, std::size_t k) {
    const auto& p = parts[i];
    k = std::min(k, p.size());
    std::string s;
    for (std::size_t j = p.size() - k; j < p.size(); ++j)
      s += (s.empty() ? "" : "/") + p[j];
    return s;
  };
  std::vector<std::string> names(paths.size());
  for (std::size_t i = 0; i < paths.size(); ++i) {
    std::size_t k = 1;
    // Inputs are few (vantage points): the quadratic search is over files, not packets.
    for (; k < parts[i].size(); ++k) {
      bool clash = false;
      for (std::size_t j = 0; j < paths.size() && !clash; ++j)
        clash = j != i && suffix(j, k) == suffix(i, k);
      if (!clash) break;
    }
    names[i] = suffix(i, k);
  }
  return names;
}

std::string render_text(const Result& r, const TextOptions& options) {
  std::vector<std::string> paths;
  for (const auto& f : r.files)
    paths.push_back(f.path);
  const Ctx cx{r, options.time, distinct_file_names(paths)};
  const TimeFormat& tf = options.time;
  std::set<std::string> by_key;
  for (const auto& f : r.findings)
    by_key.insert(f.key);
  std::string out;
  std::uint64_t packets = 0;
  for (const auto& f : r.files)
    packets += f.packets;
  out += "fedscope report: " + std::to_string(r.files.size()) + " file" +
         (r.files.size() == 1 ? "" : "s") + ", " + std::to_string(packets) + " packets";
  if (packets)
    out += ", " +
           (tf.style() == TimeStyle::kRelative ? format_iso8601(r.stats.first)
                                               : tf.date_time(r.stats.first)) +
           " to " + tf.time_of_day(r.stats.last) + " (" +
           fmt("%.1f s", (r.stats.last - r.stats.first).seconds()) + ")";
  out += "\n  times: " + tf.describe(r.stats.first) + "\n";
  for (const auto& f : r.files) {
    out += "  " + (f.name.empty() ? f.path : f.name) + ": " +
           (f.format.empty() || f.format == "live"
                ? ""
                : f.format + (f.compression.empty() ? "" : " (" + f.compression + ")") + ", ") +
           f.linktype_name + ", " + std::to_string(f.packets) + " packets";
    // The snaplen that cut them is the interface's: a pcapng file's interfaces differ.
    if (f.truncated && f.interfaces.size() > 1)
      out += ", " + std::to_string(f.truncated) + " cut by the interface's snaplen";
    else if (f.truncated)
      out += ", " + std::to_string(f.truncated) + " cut by snaplen " +
             std::to_string(f.interfaces.empty() ? f.snaplen : f.interfaces.front().snaplen);
    // Packets the capture itself lost (pcapng statistics): the analysis cannot see them.
    std::uint64_t dropped = 0;
    for (const auto& i : f.interfaces)
      dropped += i.isb_os_dropped.value_or(0) + i.isb_if_dropped.value_or(0);
    if (dropped)
      out += ", " + std::to_string(dropped) +
             " DROPPED while capturing (kernel buffer or interface; the analysis misses them)";
    if (!f.complete) out += ", READING STOPPED EARLY: " + f.error;
    out += "\n";
    if (f.interfaces.size() > 1)
      for (const auto& i : f.interfaces)
        out += "    interface " + std::to_string(i.id) +
               (i.name.empty() ? "" : " (" + i.name + ")") + ": " + i.linktype_name + ", snaplen " +
               (i.snaplen ? std::to_string(i.snaplen) : std::string("unlimited")) + ", " +
               std::to_string(i.packets) + " packets" +
               (i.truncated ? ", " + std::to_string(i.truncated) + " cut" : std::string()) + "\n";
  }

  if (r.history_expired > 0)
    out += "  history: the " + std::to_string(r.history_expired) +
           " oldest connections and DNS transactions of this live run are left out (it keeps "
           "the latest; the -w file has everything)\n";
  if (r.keylog_files > 0)
    out += "  TLS key log: " + std::to_string(r.keylog_files) +
           (r.keylog_files == 1 ? " file, " : " files, ") + std::to_string(r.keylog_secrets) +
           " sessions' secrets (never printed)\n";
  if (!r.our_domains.empty() || !r.our_domains_inferred.empty()) {
    out += "  your domains:";
    // Kept as A-labels for comparison; an IDN is shown as its reader writes it too.
    auto shown = [](const std::string& d) {
      const std::string u = domain_to_unicode(d);
      return u == d ? d : u + " (" + d + ")";
    };
    for (const auto& d : r.our_domains)
      out += " " + shown(d);
    for (const auto& d : r.our_domains_inferred)
      out += " " + shown(d) + " (inferred)";
    out += "\n";
  }
  // What a reader acts on first: a verdict per direction, then the root causes with what
  // follows from them, then the stories.
  if (!r.inside_learned.empty()) {
    out += "  inside addresses (from NAT pairing" +
           std::string(r.inside_nets.empty() ? ", no --inside-net given" : "") + "):";
    for (const auto& a : r.inside_learned)
      out += " " + a.to_string();
    out += "\n";
  }
  out += "\nVerdicts\n";
  if (r.verdicts.empty()) out += "  nothing to judge: no federation traffic in this capture\n";
  for (const auto& v : r.verdicts) {
    std::string status = upper(to_string(v.status));
    std::replace(status.begin(), status.end(), '-', ' ');
    if (v.basis != VerdictBasis::kNone) status += " (" + std::string(to_string(v.basis)) + ")";
    out += "  " + pad(status, 20) + " " + v.from + " → " + v.to;
    if (v.finding) {
      const Finding& f = r.findings[*v.finding];
      out += "  " +
             (v.stage == Stage::kNone ? std::string()
                                      : "at " + std::string(to_string(v.stage)) + ": ") +
             std::string(to_string(f.code));
    }
    out += "\n";
    if (v.status != VerdictStatus::kNotObserved) out += "  " + std::string(21, ' ') + v.why + "\n";
  }

  // Consequences by the key of their cause, in report order.
  std::map<std::string, std::vector<const Finding*>> under;
  for (const auto& f : r.findings)
    if (!f.cause.empty()) under[f.cause].push_back(&f);
  auto evidence_text = [&](const Finding& f) {
    std::string e;
    for (std::size_t i = 0; i < f.evidence.size(); ++i) {
      if (i) e += ", ";
      e += ref_text(cx, f.evidence[i]) + " " + tf.time_of_day(f.evidence[i].time);
    }
    if (f.evidence_total > f.evidence.size())
      e += " (" + std::to_string(f.evidence_total) + " packets in all)";
    return e;
  };
  out += "\nFindings\n";
  if (r.findings.empty()) out += "  none\n";
  for (const auto& f : r.findings) {
    if (!f.cause.empty() && by_key.count(f.cause) > 0) continue;  // shown under its cause
    out += "\n  " + upper(to_string(f.severity)) + "  " + std::string(to_string(f.code)) +
           (f.domain.empty() ? "" : "  [" + f.domain + "]") + "\n";
    out += "    " + f.summary + "\n";
    if (!f.evidence.empty()) out += "    evidence: " + evidence_text(f) + "\n";
    out += "    remedy: " + f.remedy + "\n";
    auto it = under.find(f.key);
    if (it == under.end() || options.summary) continue;
    out += "    follows from it (no action of its own):\n";
    // The same consequence on several connections is one line with a count and the evidence
    // of all (first kMaxEvidence, and the total).
    std::vector<std::pair<const Finding*, Finding>> groups;
    for (const Finding* c : it->second) {
      auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& x) {
        return x.first->code == c->code && x.first->domain == c->domain;
      });
      if (g == groups.end()) {
        groups.emplace_back(c, *c);
        continue;
      }
      Finding& m = g->second;
      m.count += c->count;
      m.evidence_total = std::max<std::uint64_t>(m.evidence_total, m.evidence.size()) +
                         std::max<std::uint64_t>(c->evidence_total, c->evidence.size());
      for (const auto& e : c->evidence)
        if (m.evidence.size() < kMaxEvidence) m.evidence.push_back(e);
    }
    for (const auto& [first, c] : groups) {
      const std::uint64_t more = c.count - first->count;
      out += "      " + std::string(to_string(c.code)) +
             (c.domain.empty() || c.domain == f.domain ? "" : "  [" + c.domain + "]") + ": " +
             c.summary +
             (more ? " (and " + std::to_string(more) + " more like it)" : std::string()) + "\n";
      if (!c.evidence.empty()) out += "        evidence: " + evidence_text(c) + "\n";
    }
  }
  if (options.summary) return out;

  out += "\nFederation attempts\n";
  if (r.attempts.empty()) out += "  none seen (no TCP 5269/5270 and no XMPP SRV lookups)\n";
  int n = 0;
  for (const auto& a : r.attempts) {
    out +=
        "\n  [" + std::to_string(++n) + "] " + (a.originator.empty() ? "" : a.originator + " → ") +
        a.target + "  (" + std::string(to_string(a.outcome)) + ")" +
        (a.reverse ? "  reverse direction: [" + std::to_string(*a.reverse + 1) + "]" : "") + "\n";
    // A ladder merged by time: DNS lookups and connections.
    std::vector<std::pair<Timestamp, std::string>> lines;
    for (auto i : a.dns) {
      const auto& t = r.dns[i];
      lines.emplace_back(t.query.time, dns_line(cx, t));
    }
    if (!a.from_domain.empty() || a.auth_method != AuthMethod::kNoStream) {
      out += "      XMPP " + (a.from_domain.empty() ? "?" : a.from_domain) + " → " +
             (a.to_domain.empty() ? "?" : a.to_domain);
      // "none none" says it once: none is the only word method and result share.
      bool same = a.auth_method == AuthMethod::kNone && a.auth_result == AuthResult::kNone;
      if (a.auth_method == AuthMethod::kUnknown)
        out += ", authentication: not observable (inside TLS)";
      else if (a.auth_method != AuthMethod::kNoStream)
        out += ", authentication: " + std::string(to_string(a.auth_method)) +
               (same ? "" : " " + std::string(to_string(a.auth_result)));
      out += "\n";
    }
    for (std::size_t k = 0; k < a.connections.size(); ++k) {
      const auto& c = r.connections[a.connections[k]];
      std::string role = a.roles.size() > k && a.roles[k] != AttemptRole::kStream
                             ? " [" + std::string(to_string(a.roles[k])) + "]"
                             : "";
      lines.emplace_back(c.conn.primary().start, conn_story(cx, c, role));
      if (!c.xmpp) continue;
      // The ladder: each event at its packet's time, with its connection and direction. A
      // verify connection is its own attempt's story: only its db:verify steps belong here.
      for (const auto& st : c.xmpp->ladder) {
        if (!role.empty() && st.text.find("db:verify") == std::string::npos) continue;
        std::string line =
            "  flow " + std::to_string(c.conn.id) + (st.from_orig ? " → " : " ← ") + st.text;
        if (st.repeat > 1) line += " (×" + std::to_string(st.repeat) + ")";
        line += "  (" + ref_text(cx, st.ref) + ")";
        lines.emplace_back(st.ref.time, line);
      }
      if (c.xmpp->ladder_dropped)
        lines.emplace_back(c.conn.primary().last, "  flow " + std::to_string(c.conn.id) + " ... " +
                                                      std::to_string(c.xmpp->ladder_dropped) +
                                                      " more events not shown");
    }
    std::stable_sort(lines.begin(), lines.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    for (const auto& [t, line] : lines) {
      // Stories continue on lines indented 20 columns for a 15-column time; keep them under
      // the story whatever width this time style has (a zone marker, a relative number).
      const std::string when = tf.time_of_day(t);
      std::string body = line;
      if (when.size() != 15) {
        const std::string from = "\n" + std::string(20, ' ');
        const std::string to = "\n" + std::string(when.size() + 5, ' ');
        for (std::size_t at = body.find(from); at != std::string::npos;
             at = body.find(from, at + to.size()))
          body.replace(at, from.size(), to);
      }
      out += "      " + when + "  " + body + "\n";
    }
  }

  // Every DNS transaction is in a story or here, so the lines add up to the count below.
  std::vector<bool> told(r.dns.size(), false);
  for (const auto& a : r.attempts)
    for (auto i : a.dns)
      if (i < told.size()) told[i] = true;
  std::size_t other = 0;
  for (std::size_t i = 0; i < r.dns.size(); ++i) {
    if (told[i]) continue;
    if (other++ == 0) out += "\nOther DNS (not part of a federation attempt)\n";
    out += "      " + tf.time_of_day(r.dns[i].query.time) + "  " + dns_line(cx, r.dns[i]) + "\n";
  }

  // What the Zeek words in the stories mean: only those that appear.
  std::set<flow::ConnState> states;
  std::set<char> letters;
  for (const auto& c : r.connections)
    for (const auto& l : c.conn.legs) {
      states.insert(flow::conn_state(l));
      for (char ch : l.history)
        letters.insert(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
    }
  if (!r.attempts.empty() && !states.empty()) {
    out += "\nLegend (Zeek's conn_state and history)\n";
    for (auto st : states)
      out +=
          "  " + pad(std::string(flow::to_string(st)), 7) + std::string(conn_state_text(st)) + "\n";
    std::string h;
    for (char ch : letters) {
      const std::string_view what = history_text(ch);
      if (what.empty()) continue;
      if (!h.empty()) h += ", ";
      h += std::string(1, ch) + " " + std::string(what);
    }
    if (!h.empty())
      out += "  history: " + h + "; upper case = the originator (the side that sent the SYN), " +
             "lower case = the responder\n";
  }

  out += "\nCounts\n";
  out += "  packets: " + std::to_string(r.stats.frames) + " read, " + std::to_string(r.stats.tcp) +
         " TCP, " + std::to_string(r.stats.udp) + " UDP, " + std::to_string(r.stats.icmp) +
         " ICMP, " + std::to_string(r.stats.not_ip) + " not IP, " +
         std::to_string(r.stats.undecodable) + " undecodable\n";
  if (r.stats.nat_copies)
    out += "  second sightings of the same packets (other side of a NAT / other interface): " +
           std::to_string(r.stats.nat_copies) + "\n";
  out += "  connections: " + std::to_string(r.connections.size()) +
         ", DNS transactions: " + std::to_string(r.dns.size()) + "\n";
  const auto folded = static_cast<std::size_t>(std::count_if(
      r.findings.begin(), r.findings.end(), [](const Finding& f) { return !f.cause.empty(); }));
  out += "  findings: " + std::to_string(r.errors()) + " error(s), " +
         std::to_string(r.warnings()) + " warning(s)" +
         (folded ? ", " + std::to_string(folded) + " folded under their root cause" : "") + "\n";
  if (r.anomalies.all().empty()) {
    out += "  anomalies: none\n";
  } else {
    out += "  anomalies:";
    for (const auto& [name, count] : r.anomalies.all())
      out += " " + name + "=" + std::to_string(count);
    out += "\n";
  }
  return out;
}

}  // namespace fedscope::report
