// The TCP, NAT and firewall layer's judge: what the legs of each federation connection, their
// SYNs, RSTs and ICMP errors say about the path, and where the capture was taken.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <tuple>

#include "judge_layers.hpp"

namespace fedscope::report::detail {
namespace {

bool admin_prohibited(const flow::IcmpEvent& e, bool v6) {
  if (!e.unreachable) return false;
  if (v6) return e.code == 1 || e.code == 4;  // administratively prohibited; port unreachable
  // Port unreachable for TCP comes from firewalls (hosts answer with RST), and 9/10/13 are the
  // "administratively prohibited" codes.
  return e.code == 3 || e.code == 9 || e.code == 10 || e.code == 13;
}

std::string syn_timing(const flow::Leg& l) {
  if (l.o.syn_times.size() < 2) return "";
  std::string s = " at +";
  for (std::size_t i = 0; i < l.o.syn_times.size() && i < 10; ++i) {
    if (i) s += ", +";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", (l.o.syn_times[i] - l.o.syn_times[0]).seconds());
    s += buf;
  }
  return s + " s";
}

// SYNs that got no answer at all (S0), and had the time to: retried, or closed by the attempt
// timeout rather than by the end of the capture.
bool unanswered_syns(const flow::Connection& c) {
  return c.conn_state == flow::ConnState::kS0 && (c.syn_retries() > 0 || !c.capture_ended);
}

void add_syn_evidence(Finding& f, const flow::Leg& l) {
  if (l.o.first_syn) evidence(f, *l.o.first_syn);
  f.evidence_total = l.o.syns;  // every SYN is evidence; the first is named
}

}  // namespace

void judge_connection(JudgeContext& ctx, const ConnectionRecord& rec) {
  const Result& r = ctx.result;
  if (!federation(rec)) return;
  const auto& conn = rec.conn;
  const auto& P = conn.primary();
  using flow::ConnState;
  const ConnState cs = conn.conn_state;
  const std::string domain = domain_of(rec);
  const bool v6 = P.orig.addr.is_v6();
  bool specific = false;
  auto at = [&](Finding& f) -> Finding& {
    f.flow = conn.id;
    return f;
  };
  const std::size_t before = ctx.added();

  bool ports_differ = std::any_of(conn.legs.begin(), conn.legs.end(),
                                  [&](const flow::Leg& l) { return l.resp.port != P.resp.port; });
  bool any_established = std::any_of(conn.legs.begin(), conn.legs.end(), established);

  // NAT sends the public port to another inside port.
  if (conn.legs.size() > 1 && ports_differ && !any_established) {
    const flow::Leg* out = &P;
    const flow::Leg* in = &conn.legs.back();
    for (const auto& l : conn.legs)
      if (l.resp.port != P.resp.port) in = &l;
    std::string answer = in->r.first_rst ? "refused it (RST)" : "did not answer";
    auto& f = at(ctx.add(FindingCode::kNatPortMismatch,
                         "NAT translated " + out->resp.to_string() + " to " + in->resp.to_string() +
                             " and the inside host " + answer + ".",
                         domain));
    f.detail = std::to_string(out->resp.port) + "->" + std::to_string(in->resp.port);
    for (const auto& l : conn.legs) {
      if (l.o.first_syn) evidence(f, *l.o.first_syn);
      if (l.r.first_rst) evidence(f, *l.r.first_rst);
    }
    specific = true;
  }

  // Outbound federation that crossed the firewall with its inside source address.
  if (conn.legs.size() > 1 && !specific) {
    bool same_src = std::all_of(conn.legs.begin(), conn.legs.end(),
                                [&](const flow::Leg& l) { return l.orig.addr == P.orig.addr; });
    if (same_src && ctx.not_public(P.orig.addr) && !ctx.not_public(P.resp.addr)) {
      auto& f = at(
          ctx.add(FindingCode::kNatMissing,
                  "Outbound connection " + leg_text(P) + " left the firewall with source " +
                      P.orig.addr.to_string() + " untranslated (" +
                      (ctx.inside_by_option(P.orig.addr) ? "an --inside-net address"
                       : ctx.inside(P.orig.addr)         ? "an inside address by NAT pairing"
                                                 : std::string(to_string(classify(P.orig.addr)))) +
                      "); replies cannot come back.",
                  domain));
      for (const auto& l : conn.legs)
        if (l.o.first_syn) evidence(f, *l.o.first_syn);
      specific = true;
    }
  }

  // ICMP errors: firewall rejects vs. routers/hosts reporting unreachability.
  for (const auto& l : conn.legs) {
    for (const auto& e : l.icmp) {
      bool fw = admin_prohibited(e, v6);
      auto& f = at(ctx.add(fw ? FindingCode::kFwBlocked : FindingCode::kTcpUnreachable,
                           (fw ? "A firewall rejected " : "The connection ") + leg_text(l) +
                               (fw ? " with " : " was answered by ") + icmp_text(e, v6) + ".",
                           domain));
      f.detail = "icmp " + std::to_string(e.type) + "/" + std::to_string(e.code);
      if (l.o.first_syn) evidence(f, *l.o.first_syn);
      evidence(f, e.ref);
      specific = true;
      break;
    }
    if (specific) break;
  }

  // One sighting: one leg, or a capture of every interface of the box (a Linux 'any' capture,
  // legs with an interface index) that saw the connection on one interface only, with every
  // other file's leg a copy of the same addresses: a second capture of the same interface is
  // no second sighting and must not weaken what the whole-box view shows.
  const flow::Leg* solo = conn.legs.size() == 1 ? &P : nullptr;
  for (const auto& l : conn.legs) {
    if (solo || l.vantage.ifindex < 0) continue;
    const bool alone_in_file =
        std::count_if(conn.legs.begin(), conn.legs.end(),
                      [&](const flow::Leg& o) { return o.vantage.file == l.vantage.file; }) == 1;
    const bool copies = std::all_of(conn.legs.begin(), conn.legs.end(), [&](const flow::Leg& o) {
      return o.orig == l.orig && o.resp == l.resp;
    });
    if (alone_in_file && copies) solo = &l;
  }

  // One sighting, on a box that forwards: the firewall stopped it.
  if (!specific && solo) {
    bool syn_in = solo->first_direction == packet::Direction::kIn;
    bool s0 = unanswered_syns(conn);
    // A peer outside sent its SYN to one of our inside addresses: its DNS (our public zone)
    // gave it that address. The firewall rightly drops it; the record is the cause.
    if (s0 && (ctx.forwarding_vantage() || syn_in) && ctx.inside(P.resp.addr) &&
        !ctx.inside(P.orig.addr)) {
      ctx.read_ours = true;  // the domain named below is ours when we have one
      auto& d =
          at(ctx.add(FindingCode::kDnsAddressNotPublic,
                     P.orig.addr.to_string() + " sent " + std::to_string(P.o.syns) + " SYN" +
                         (P.o.syns == 1 ? "" : "s") + " from outside to " + P.resp.to_string() +
                         ", an inside address: the DNS it used gave it that address, "
                         "which no one on the internet can reach.",
                     domain.empty() && ctx.ours.size() == 1 ? *ctx.ours.begin() : domain));
      add_syn_evidence(d, P);
    }
    if (s0 && (ctx.forwarding_vantage() || syn_in)) {
      auto& f = at(ctx.add(FindingCode::kFwBlocked,
                           std::to_string(P.o.syns) + " SYN" + (P.o.syns == 1 ? "" : "s") + " " +
                               leg_text(P) +
                               (syn_in ? " reached the capturing box" : " were seen on one side") +
                               " but never left it: the firewall dropped them.",
                           domain));
      f.count = P.o.syns;
      add_syn_evidence(f, P);
      // A silent drop has a second likely cause, and the ASA tells the two apart.
      f.remedy +=
          " If that rule is there, the other likely cause is a missing static NAT "
          "for " +
          P.resp.addr.to_string() +
          " (nothing to translate to, so the SYN is dropped). On the ASA, `packet-tracer "
          "input outside tcp " +
          P.orig.addr.to_string() + " 40000 " + P.resp.addr.to_string() + " " +
          std::to_string(P.resp.port) + " detailed` names the rule or the NAT that drops it.";
      specific = true;
    } else if (cs == ConnState::kRej && P.r.first_rst) {
      bool rst_local = syn_in && !r.inside_nets.empty() && !ctx.inside(P.resp.addr);
      if (ctx.forwarding_vantage() || rst_local) {
        auto& f = at(ctx.add(FindingCode::kFwBlocked,
                             "The firewall answered " + leg_text(P) +
                                 " with a RST itself; the SYN never reached the inside server.",
                             domain));
        if (P.o.first_syn) evidence(f, *P.o.first_syn);
        evidence(f, *P.r.first_rst);
        specific = true;
      }
    }
  }

  if (!specific) {
    if (unanswered_syns(conn)) {
      auto& f = at(ctx.add(FindingCode::kTcpNoAnswer,
                           leg_text(P) + ": " + std::to_string(P.o.syns) + " SYN" +
                               (P.o.syns == 1 ? "" : "s") + syn_timing(P) + ", no answer.",
                           domain));
      f.count = P.o.syns;
      add_syn_evidence(f, P);
    } else if (cs == ConnState::kRej) {
      // Name the host that sent the RST: on a NAT'ed connection, the leg where it was seen
      // first is nearest to its sender (the outside copy carries the public address).
      const flow::Leg* from = &P;
      for (const auto& l : conn.legs)
        if (l.r.first_rst && from->r.first_rst && l.r.first_rst->time < from->r.first_rst->time)
          from = &l;
      auto& f = at(ctx.add(FindingCode::kTcpRefused,
                           leg_text(P) + " was refused: " + from->resp.to_string() +
                               " answered the SYN with RST (nothing listens there).",
                           domain));
      if (P.o.first_syn) evidence(f, *P.o.first_syn);
      if (from->r.first_rst) evidence(f, *from->r.first_rst);
    }
  }

  auto orig_acked = [](const flow::Leg& l) {
    return l.o.sent_ack || l.o.sent_data || l.o.sent_fin;
  };
  for (const auto& l : conn.legs) {
    bool reset = l.o.sent_rst || l.r.sent_rst;
    if (l.o.syns > 0 && l.r.syns > 0 && !orig_acked(l) && !reset) {
      // On a NAT'ed connection the other leg tells where the ACK was lost.
      const flow::Leg* acked = nullptr;
      for (const auto& other : conn.legs)
        if (&other != &l && orig_acked(other)) acked = &other;
      std::string where = acked ? ", although it was sent on the other side of the firewall (" +
                                      leg_text(*acked) + "): the firewall dropped it"
                                : "";
      if (acked) {
        // The cause: what the originator sent after the SYN crossed one side and not the other.
        auto& fw = at(ctx.add(FindingCode::kFwBlocked,
                              "The firewall forwarded the SYN and the SYN-ACK of " +
                                  leg_text(*acked) + " but dropped the originator's ACK" +
                                  (acked->o.sent_data ? " and data" : "") +
                                  ": they were seen on that side, never on " + leg_text(l) + ".",
                              domain));
        if (acked->o.first_data) evidence(fw, *acked->o.first_data);
        if (l.r.first_syn) evidence(fw, *l.r.first_syn);
      }
      auto& f = at(ctx.add(FindingCode::kTcpHandshakeIncomplete,
                           leg_text(l) + ": SYN-ACK sent " + std::to_string(l.r.syns) + " time" +
                               (l.r.syns == 1 ? "" : "s") +
                               ", the originator's ACK never arrived here" + where + ".",
                           domain));
      if (l.o.first_syn) evidence(f, *l.o.first_syn);
      if (l.r.first_syn) evidence(f, *l.r.first_syn);
      break;
    }
  }

  if ((cs == ConnState::kRsto || cs == ConnState::kRstr) && established(P)) {
    bool by_orig = cs == ConnState::kRsto;
    const auto& side = by_orig ? P.o : P.r;
    // A side that had already closed (sent its FIN) and then resets is tearing down: its
    // kernel answers data that arrived after close(). Not a fault of the path.
    bool teardown =
        side.first_fin && side.first_rst && side.first_fin->time <= side.first_rst->time;
    if (!teardown) {
      auto& f =
          at(ctx.add(FindingCode::kTcpReset,
                     leg_text(P) + " was reset by the " + (by_orig ? "originator " : "responder ") +
                         (by_orig ? P.orig : P.resp).addr.to_string() + " after " +
                         std::to_string(P.o.payload_bytes + P.r.payload_bytes) + " bytes.",
                     domain));
      if (side.first_rst) evidence(f, *side.first_rst);
    }
  }

  for (const auto& link : rec.dns) {
    if (link.via == engine::LinkVia::kSrv && link.port != 5269 && link.port != 5270) {
      auto& f =
          at(ctx.add(FindingCode::kTcpPortNonstandard,
                     "Federation with " + link.domain + " used port " + std::to_string(link.port) +
                         " (from its SRV record): " + leg_text(P) + ".",
                     link.domain));
      f.detail = std::to_string(link.port);
      if (P.o.first_syn) evidence(f, *P.o.first_syn);
      break;
    }
  }
  // Remedies name the port this connection used (a refused 5270 is not about 5269).
  if (P.resp.port != 5269) {
    const std::string port = "TCP " + std::to_string(P.resp.port);
    for (std::size_t i = before; i < ctx.added(); ++i) {
      std::string& remedy = (*ctx.out)[i].finding.remedy;
      for (auto at_pos = remedy.find("TCP 5269"); at_pos != std::string::npos;
           at_pos = remedy.find("TCP 5269", at_pos + port.size()))
        remedy.replace(at_pos, 8, port);
    }
  }
}

}  // namespace fedscope::report::detail
