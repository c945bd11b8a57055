#include "fedscope/engine/engine.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "analyzer_stage.hpp"
#include "fedscope/base/domain.hpp"
#include "fedscope/packet/packet.hpp"

namespace fedscope::engine {

using packet::Packet;

std::string_view to_string(DnsOutcome o) {
  switch (o) {
    case DnsOutcome::kAnswered:
      return "answered";
    case DnsOutcome::kNoResponse:
      return "no-response";
    case DnsOutcome::kCaptureEnded:
      return "capture-ended";
  }
  return "?";
}

std::string_view to_string(LinkVia via) {
  switch (via) {
    case LinkVia::kSrv:
      return "srv";
    case LinkVia::kAFallback:
      return "a-fallback";
    case LinkVia::kAddress:
      return "address";
  }
  return "";
}

bool DnsTransaction::nodata() const {
  if (!answered() || rcode != dns::kNoError) return false;
  for (const auto& rr : answers)
    if (rr.type == qtype) return false;
  return true;
}

namespace {

struct DnsKey {
  Endpoint client, server;
  std::uint16_t txid;
  bool operator==(const DnsKey&) const = default;
};
struct DnsKeyHash {
  std::size_t operator()(const DnsKey& k) const noexcept {
    return EndpointHash{}(k.client) * 31u ^ EndpointHash {}(k.server) * 7u ^ k.txid;
  }
};

// The question of a query, for NAT copies: the same txid, name and type at another vantage.
struct QuestionKey {
  std::uint16_t txid;
  std::uint16_t qtype;
  std::string qname;
  bool operator==(const QuestionKey&) const = default;
};
struct QuestionKeyHash {
  std::size_t operator()(const QuestionKey& k) const noexcept {
    return std::hash<std::string>{}(k.qname) ^ (std::size_t{k.txid} << 16 | k.qtype);
  }
};

// A query's endpoints, for ICMP errors, which quote the addresses and ports only.
struct EndpointPair {
  Endpoint client, server;
  bool operator==(const EndpointPair&) const = default;
};
struct EndpointPairHash {
  std::size_t operator()(const EndpointPair& k) const noexcept {
    return EndpointHash{}(k.client) * 31u ^ EndpointHash {}(k.server);
  }
};

// Pending queries per question and per endpoint pair, oldest first, at most this many each:
// matching a query or an ICMP error looks at a handful of candidates, never at all pending.
constexpr std::size_t kMaxSameQuestion = 16;
constexpr std::size_t kMaxSameEndpoints = 16;

template <typename Map, typename Key>
void unindex(Map& map, const Key& key, std::uint64_t id) {
  auto it = map.find(key);
  if (it == map.end()) return;
  auto& ids = it->second;
  ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
  if (ids.empty()) map.erase(it);
}

struct NameSeen {
  Timestamp time;
  std::string name;
  std::uint64_t txn;
};
struct SrvSeen {
  Timestamp time;
  std::string service;  // _xmpp-server._tcp.D
  std::uint16_t port;
  std::uint64_t txn;
};

constexpr std::size_t kMaxNamesPerKey = 8;
constexpr std::size_t kMaxResolutionKeys = 100000;

std::string domain_of_service(const std::string& service) {
  for (std::string_view prefix : {"_xmpp-server._tcp.", "_xmpps-server._tcp."}) {
    if (service.size() > prefix.size() && service.compare(0, prefix.size(), prefix) == 0)
      return service.substr(prefix.size());
  }
  return "";
}

}  // namespace

struct Engine::Impl : flow::StreamSinkFactory {
  Impl(Engine& e, EngineConfig c, Observer& o)
      : engine(e),
        config(c),
        observer(o),
        decoder(e.anomalies_),
        flows(e.anomalies_, c.flows,
              [this](flow::Connection&& conn) { on_closed(std::move(conn)); }) {
    flows.set_sink_factory(this);
    // Progress snapshots read an analyzer's facts while it runs: one thread for those.
    if (c.threads >= 2 && c.xmpp && c.progress_seconds <= 0)
      stage = std::make_unique<detail::AnalyzerStage>();
  }

  Engine& engine;
  EngineConfig config;
  Observer& observer;
  packet::Decoder decoder;
  flow::FlowTable flows;

  struct Pending {
    DnsTransaction t;
    packet::Vantage vantage;
    Timestamp last;
    std::vector<DnsKey> keys;
    // A response per key and vantage; more on the same pair is a duplicate, on another a copy.
    std::vector<std::pair<DnsKey, packet::Vantage>> answered_at;
  };
  std::unordered_map<std::uint64_t, Pending> pending;
  std::unordered_map<DnsKey, std::uint64_t, DnsKeyHash> by_key;
  std::unordered_map<QuestionKey, std::vector<std::uint64_t>, QuestionKeyHash> by_question;
  std::unordered_map<EndpointPair, std::vector<std::uint64_t>, EndpointPairHash> by_endpoints;
  std::uint64_t next_txn = 1;
  std::unordered_map<IpAddress, std::vector<NameSeen>, IpAddressHash> names_of_addr;
  std::unordered_map<std::string, std::vector<SrvSeen>> srv_of_target;
  Timestamp now, last_sweep;

  // DNS over TCP: one framer per direction of port-53 connections.
  struct DnsTcpSink : flow::ConnectionSink {
    Impl* impl = nullptr;
    dns::TcpFramer framer;
    Endpoint from, to;
    packet::Vantage vantage;
    void on_data(std::uint64_t, std::span<const std::uint8_t> d,
                 const flow::PacketRef& at) override {
      framer.feed(d, [&](std::span<const std::uint8_t> msg) {
        impl->on_dns_message(msg, from, to, vantage, at, true);
      });
    }
    void on_gap(std::uint64_t, std::uint64_t, const flow::PacketRef&) override {
      framer.gap(impl->engine.anomalies_);
    }
    void on_end(const flow::PacketRef&) override { framer.end(impl->engine.anomalies_); }
  };
  std::unordered_map<std::uint32_t,
                     std::pair<std::unique_ptr<DnsTcpSink>, std::unique_ptr<DnsTcpSink>>>
      dns_tcp;

  // XMPP S2S: one session analyzer per connection on a federation port; two sinks feed it.
  struct XmppConn;
  struct XmppSink : flow::ConnectionSink {
    XmppConn* conn = nullptr;
    bool from_orig = true;
    void on_data(std::uint64_t, std::span<const std::uint8_t> d,
                 const flow::PacketRef& at) override;
    void on_gap(std::uint64_t, std::uint64_t len, const flow::PacketRef& at) override;
    void on_end(const flow::PacketRef& at) override;
  };
  // The analyzer (two XML parsers, ~11 KB each) is made when the first byte, gap or end of
  // either direction arrives, not when the SYN does: a SYN flood to 5269 costs the flow
  // table only, and a connection without payload meets its analyzer only as it closes.
  struct XmppConn {
    XmppConn(Impl* i, std::uint32_t conn_id, s2s::Config c) : impl(i), id(conn_id), config(c) {
      o.conn = this;
      r.conn = this;
      r.from_orig = false;
    }
    // The analyzer is made at the connection's first byte or gap, not at its SYN: a refused
    // or unanswered connection lingers for seconds in the flow table, and a scan would hold an
    // analyzer (two parsers) for each; one that never carries a byte gets no analyzer.
    void ensure() {
      if (created) return;
      created = true;
      if (impl->stage)
        impl->stage->create(id, config);
      else
        analyzer = std::make_unique<s2s::ConnectionAnalyzer>(impl->engine.anomalies_, config);
    }
    Impl* impl;
    std::uint32_t id;
    s2s::Config config;
    bool created = false;
    // Ends the analyzer has seen, per direction, and whether its facts were taken already.
    bool ended_o = false, ended_r = false, finished = false;
    std::unique_ptr<s2s::ConnectionAnalyzer> analyzer;  ///< null until ensure(), or on the stage
    XmppSink o, r;
    Timestamp last_progress;  // the last progress report (or the first data)
    bool reported = false;
  };
  std::unordered_map<std::uint32_t, std::unique_ptr<XmppConn>> xmpp_conns;
  std::unordered_map<std::uint32_t, std::shared_ptr<const s2s::ConnectionFacts>> xmpp_done;

  // The facts of a federation connection that carried no byte and no gap: the same for all
  // of them (per mid-stream flag), so one shared value, and no analyzer is ever made for them.
  // What an analyzer would count for one (a mid-stream start's resync) is counted each time.
  struct NoDataFacts {
    std::shared_ptr<const s2s::ConnectionFacts> facts;
    AnomalyCounters anomalies;
  };
  std::array<std::optional<NoDataFacts>, 2> no_data;
  std::shared_ptr<const s2s::ConnectionFacts> no_data_facts(const s2s::Config& c) {
    auto& slot = no_data[c.midstream ? 1 : 0];
    if (!slot) {
      slot.emplace();
      s2s::ConnectionAnalyzer a(slot->anomalies, c);
      slot->facts = std::make_shared<const s2s::ConnectionFacts>(a.finish(flow::PacketRef{}));
    }
    engine.anomalies_.merge(slot->anomalies);
    return slot->facts;
  }
  std::unordered_set<std::uint16_t> s2s_ports{5269, 5270};
  static constexpr std::size_t kMaxS2sPorts = 64;

  flow::ConnectionSink* sink_for(const flow::Connection& c, bool from_orig,
                                 bool opened_by_syn) override {
    const auto& leg = c.legs.front();
    if (from_orig) {
      observer.on_open(c);
      // A federation connection reports its progress on a timer too, not only as its bytes
      // arrive: SYNs nobody answers carry no byte, and a live reader wants them said now.
      if (config.progress_seconds > 0 &&
          (s2s_ports.count(leg.resp.port) || s2s_ports.count(leg.orig.port)))
        // The first look soon (a refused or reset connection is said at once), then
        // every progress_seconds.
        progress_due.emplace(leg.start + Duration::seconds(std::min(0.5, config.progress_seconds)),
                             c.id);
    }
    if (config.xmpp && (s2s_ports.count(leg.resp.port) || s2s_ports.count(leg.orig.port))) {
      auto& x = xmpp_conns[c.id];
      if (!x) {
        s2s::Config sc;
        sc.xmpp_limits = config.xmpp_limits;
        sc.tls_limits = config.tls_limits;
        sc.keylog = config.keylog;
        // The connection's first packet was no SYN: the capture joined mid-stream.
        sc.midstream = !opened_by_syn;
        x = std::make_unique<XmppConn>(this, c.id, sc);
      }
      return from_orig ? static_cast<flow::ConnectionSink*>(&x->o) : &x->r;
    }
    if (leg.resp.port != 53 && leg.orig.port != 53) return nullptr;
    auto& slot = dns_tcp[c.id];
    auto s = std::make_unique<DnsTcpSink>();
    s->impl = this;
    s->from = from_orig ? leg.orig : leg.resp;
    s->to = from_orig ? leg.resp : leg.orig;
    s->vantage = leg.vantage;
    auto* raw = s.get();
    (from_orig ? slot.first : slot.second) = std::move(s);
    return raw;
  }
  void release(const flow::Connection& c, const flow::PacketRef& at) override {
    dns_tcp.erase(c.id);
    if (auto it = xmpp_conns.find(c.id); it != xmpp_conns.end()) {
      if (!it->second->created)
        xmpp_done[c.id] = no_data_facts(it->second->config);
      else if (!it->second->finished)
        finish_analyzer(*it->second, at);
      xmpp_conns.erase(it);
    }
  }

  // Takes the analyzer's facts and frees it (its two parsers). Called at release, or as soon
  // as the analyzer has seen both directions end: nothing can reach it after that (an ended
  // reassembler delivers nothing more), finish() then only reads what it holds (its @p at
  // goes to the ends it already had), so the facts are the same; only the closed leg's linger
  // (FlowTableConfig::closed_linger_seconds) no longer holds two parsers per connection.
  void finish_analyzer(XmppConn& x, const flow::PacketRef& at) {
    x.finished = true;
    if (stage) {
      stage->finish(x.id, at);
      awaiting.insert(x.id);
      return;
    }
    xmpp_done[x.id] = std::make_shared<s2s::ConnectionFacts>(x.analyzer->finish(at));
    x.analyzer.reset();
  }

  // ---- DNS ---------------------------------------------------------------------------------

  // Whether the sweep would have closed @p p by time @p t. A message is matched against a
  // transaction only while it is not due, so what a query comes to depends on packet times
  // alone, not on when a sweep happened to run (a live run sweeps on wall-clock ticks, the
  // report of its file on packets: both must say the same).
  bool due(const Pending& p, Timestamp t) const {
    return p.t.answered() ? (t - p.last).seconds() > 1.0
                          : (t - p.t.query.time).seconds() > config.dns_timeout_seconds;
  }

  void on_dns_message(std::span<const std::uint8_t> wire, const Endpoint& from, const Endpoint& to,
                      const packet::Vantage& vantage, const flow::PacketRef& ref, bool tcp) {
    ++engine.stats_.dns_messages;
    dns::Message m;
    auto st = dns::decode_message(wire, m, engine.anomalies_);
    if (st == dns::DecodeStatus::kMalformed || m.questions.empty()) {
      if (st != dns::DecodeStatus::kMalformed) engine.anomalies_.add("dns.no_question");
      return;
    }
    if (!m.qr)
      on_query(m, from, to, vantage, ref, tcp);
    else
      on_response(m, st != dns::DecodeStatus::kOk, from, to, vantage, ref);
  }

  void on_query(const dns::Message& m, const Endpoint& client, const Endpoint& server,
                const packet::Vantage& vantage, const flow::PacketRef& ref, bool tcp) {
    const auto& q = m.questions.front();
    DnsKey key{client, server, m.id};
    if (auto it = by_key.find(key); it != by_key.end() && due(pending[it->second], ref.time))
      finalize(it->second, DnsOutcome::kNoResponse);
    if (auto it = by_key.find(key); it != by_key.end()) {
      auto& p = pending[it->second];
      if (p.vantage == vantage)
        ++p.t.queries;  // resolver retry
      else
        ++p.t.copies;
      p.last = ref.time;
      return;
    }
    // The same question seen at another vantage point (other side of a NAT) within a second.
    QuestionKey qk{m.id, q.type, q.name};
    auto qit = by_question.find(qk);
    if (qit != by_question.end()) {
      for (auto cand : qit->second) {
        auto pit = pending.find(cand);
        if (pit == pending.end()) continue;
        auto& p = pit->second;
        if (p.vantage == vantage) continue;
        if ((ref.time - p.t.query.time).seconds() > 1.0) continue;
        ++p.t.copies;
        p.keys.push_back(key);
        by_key[key] = p.t.id;
        return;
      }
    }
    if (pending.size() >= config.max_pending_dns) {
      engine.anomalies_.add("dns.pending_limit");
      return;
    }
    std::uint64_t id = next_txn++;
    Pending p;
    p.t.id = id;
    p.t.txid = m.id;
    p.t.qname = q.name;
    p.t.qtype = q.type;
    p.t.client = client;
    p.t.server = server;
    p.t.tcp = tcp;
    p.t.query = ref;
    p.vantage = vantage;
    p.last = ref.time;
    p.keys.push_back(key);
    by_key[key] = id;
    pending.emplace(id, std::move(p));
    // Index it for NAT copies: queries older than the copy window are no candidates any more;
    // beyond kMaxSameQuestion within the window the oldest stops being one.
    auto& same = qit != by_question.end() ? qit->second : by_question[std::move(qk)];
    std::size_t stale = 0;
    while (stale < same.size()) {
      auto pit = pending.find(same[stale]);
      if (pit != pending.end() && (ref.time - pit->second.t.query.time).seconds() <= 1.0) break;
      ++stale;
    }
    if (same.size() - stale >= kMaxSameQuestion) {
      engine.anomalies_.add("dns.duplicate_query_limit");
      ++stale;
    }
    same.erase(same.begin(), same.begin() + static_cast<std::ptrdiff_t>(stale));
    same.push_back(id);
    // ... and for ICMP errors, which name the endpoints only.
    auto& at = by_endpoints[EndpointPair{client, server}];
    if (at.size() >= kMaxSameEndpoints) {
      engine.anomalies_.add("dns.same_endpoints_limit");
      at.erase(at.begin());
    }
    at.push_back(id);
  }

  void on_response(const dns::Message& m, bool damaged, const Endpoint& server,
                   const Endpoint& client, const packet::Vantage& vantage,
                   const flow::PacketRef& ref) {
    auto it = by_key.find(DnsKey{client, server, m.id});
    if (it != by_key.end() && due(pending[it->second], ref.time)) {
      finalize(it->second, DnsOutcome::kNoResponse);
      it = by_key.end();
    }
    if (it == by_key.end()) {
      engine.anomalies_.add("dns.unmatched_response");
      return;
    }
    auto& p = pending[it->second];
    const auto& q = m.questions.front();
    if (q.name != p.t.qname || q.type != p.t.qtype) {
      engine.anomalies_.add("dns.response_question_mismatch");
      return;
    }
    p.last = ref.time;
    std::pair<DnsKey, packet::Vantage> at{DnsKey{client, server, m.id}, vantage};
    bool key_answered =
        std::find(p.answered_at.begin(), p.answered_at.end(), at) != p.answered_at.end();
    if (!key_answered) p.answered_at.push_back(at);
    if (p.t.answered()) {
      // The same response seen on the other side of a NAT is a copy; on the same key, a repeat.
      if (key_answered)
        engine.anomalies_.add("dns.duplicate_response");
      else
        ++p.t.copies;
      return;
    }
    p.t.outcome = DnsOutcome::kAnswered;
    p.t.response = ref;
    p.t.rcode = m.rcode;
    p.t.tc = m.tc;
    p.t.aa = m.aa;
    p.t.response_damaged = damaged;
    // Kept until the report: exactly sized, not grown by doubling.
    p.t.answers.reserve(p.t.answers.size() + std::min(m.answers.size(), config.max_answers_kept));
    for (const auto& rr : m.answers) {
      if (p.t.answers.size() >= config.max_answers_kept) {
        engine.anomalies_.add("dns.answers_not_kept");
        break;
      }
      p.t.answers.push_back(rr);
    }
    for (const auto& rr : m.authority)
      if (rr.type == dns::kSoa) p.t.soa_in_authority = true;
    learn(p.t, ref.time);
  }

  void remember_name(const IpAddress& a, const std::string& name, Timestamp t, std::uint64_t txn) {
    if (names_of_addr.size() >= kMaxResolutionKeys && !names_of_addr.count(a)) {
      engine.anomalies_.add("dns.resolution_table_full");
      return;
    }
    auto& v = names_of_addr[a];
    for (const auto& n : v)
      if (n.name == name) return;
    if (v.size() >= kMaxNamesPerKey) v.erase(v.begin());
    v.push_back(NameSeen{t, name, txn});
  }

  // Learns address and SRV facts from an answer for the later DNS -> TCP correlation. Names
  // are kept in their comparison form (domain.hpp), so an SRV target meets the A/AAAA query
  // for it whatever case (0x20) or trailing dot either carries.
  void learn(const DnsTransaction& t, Timestamp time) {
    for (const auto& rr : t.answers) {
      if (const auto* a = std::get_if<IpAddress>(&rr.data)) {
        std::string owner = domain_key(rr.name), qname = domain_key(t.qname);
        remember_name(*a, owner, time, t.id);
        if (owner != qname) remember_name(*a, qname, time, t.id);  // CNAME chains
      } else if (const auto* srv = std::get_if<dns::SrvData>(&rr.data)) {
        std::string target = domain_key(srv->target);
        if (target == ".") continue;
        if (srv_of_target.size() >= kMaxResolutionKeys && !srv_of_target.count(target)) {
          engine.anomalies_.add("dns.resolution_table_full");
          continue;
        }
        auto& v = srv_of_target[target];
        if (v.size() >= kMaxNamesPerKey) v.erase(v.begin());
        v.push_back(SrvSeen{time, domain_key(rr.name), srv->port, t.id});
        // A federation service announced on another port: its connections are S2S too.
        if (!domain_of_service(v.back().service).empty() && s2s_ports.size() < kMaxS2sPorts)
          s2s_ports.insert(srv->port);
      }
    }
  }

  void finalize(std::uint64_t id, DnsOutcome unanswered) {
    auto it = pending.find(id);
    if (it == pending.end()) return;
    auto& p = it->second;
    if (!p.t.answered()) p.t.outcome = unanswered;
    for (const auto& k : p.keys)
      by_key.erase(k);
    unindex(by_question, QuestionKey{p.t.txid, p.t.qtype, p.t.qname}, id);
    unindex(by_endpoints, EndpointPair{p.t.client, p.t.server}, id);
    DnsTransaction t = std::move(p.t);
    pending.erase(it);
    if (stage) {
      Out o;
      o.dns = std::move(t);
      outbox.push_back(std::move(o));
      deliver();
    } else {
      observer.on_dns(std::move(t));
    }
  }

  void on_icmp(const Packet& p) {
    if (flows.on_icmp_error(p)) return;
    if (p.icmp.inner_protocol == 17) {
      // An ICMP error answering a UDP DNS query (e.g. port unreachable: nothing listens): the
      // oldest pending query between the quoted endpoints that has none yet.
      auto eit = by_endpoints.find(EndpointPair{p.icmp.inner_src, p.icmp.inner_dst});
      if (eit != by_endpoints.end()) {
        for (auto id : eit->second) {
          auto pit = pending.find(id);
          if (pit == pending.end() || pit->second.t.icmp || due(pit->second, p.time)) continue;
          pit->second.t.icmp =
              flow::IcmpEvent{flow::ref_of(p),  p.src, p.icmp.type, p.icmp.code, p.icmp.unreachable,
                              p.vantage.ifindex};
          break;
        }
        return;
      }
    }
    ++engine.stats_.icmp_errors_unmatched;
  }

  void sweep() {
    std::vector<std::uint64_t> done;
    for (auto& [id, p] : pending) {
      double idle = (now - p.last).seconds();
      // Answered transactions linger a second to absorb copies from other vantages.
      if (p.t.answered() ? idle > 1.0
                         : (now - p.t.query.time).seconds() > config.dns_timeout_seconds)
        done.push_back(id);
    }
    std::sort(done.begin(), done.end());
    for (auto id : done)
      finalize(id, DnsOutcome::kNoResponse);
  }

  // ---- the clock ------------------------------------------------------------------------------

  // Packet time drives every timer, so one bad timestamp must not steer it: a frame more than
  // kTimeOutlierSeconds ahead of the clock (or behind it) is an outlier (capture.time_outlier)
  // and does not move it; kTimeOutlierConfirm outliers in a row do (the capture really jumped,
  // or the clock itself was set by an outlier, e.g. the first frame). Returns true when the
  // clock moved (forward, or back after such a run).
  static constexpr double kTimeOutlierSeconds = 3600.0;
  static constexpr std::uint32_t kTimeOutlierConfirm = 8;
  bool clock_started = false;
  std::uint32_t outlier_run = 0;

  bool tick(Timestamp t) {
    if (!clock_started) {
      clock_started = true;
      now = t;
      return true;
    }
    bool ahead = t > now;
    double off = ahead ? (t - now).seconds() : (now - t).seconds();
    if (off <= kTimeOutlierSeconds) {
      outlier_run = 0;
      if (!ahead) return false;
      now = t;
      return true;
    }
    engine.anomalies_.add("capture.time_outlier");
    if (++outlier_run < kTimeOutlierConfirm) return false;
    outlier_run = 0;
    now = t;
    return true;
  }

  // Progress on the clock (EngineConfig::progress_seconds): each open federation connection
  // is looked at every progress_seconds, and reported when it saw packets since its last
  // report. At most kMaxTimedProgress per clock move, so a SYN flood cannot stall the reader;
  // the rest wait their turn.
  static constexpr std::size_t kMaxTimedProgress = 256;
  std::multimap<Timestamp, std::uint32_t> progress_due;
  std::unordered_map<std::uint32_t, std::uint64_t> progress_packets;  // at the last report

  void timed_progress() {
    std::size_t n = 0;
    while (!progress_due.empty() && progress_due.begin()->first <= now && n < kMaxTimedProgress) {
      const std::uint32_t id = progress_due.begin()->second;
      progress_due.erase(progress_due.begin());
      ++n;
      auto conn = flows.snapshot(id);
      if (!conn) {
        progress_packets.erase(id);
        continue;
      }
      progress_due.emplace(now + Duration::seconds(config.progress_seconds), id);
      const std::uint64_t packets = conn->primary().o.packets + conn->primary().r.packets;
      auto& last = progress_packets[id];
      if (packets == last) continue;  // nothing new since the judges last saw it
      ConnectionRecord rec;
      rec.conn = std::move(*conn);
      rec.conn.capture_ended = true;  // "not yet", not "never"
      if (auto x = xmpp_conns.find(id); x != xmpp_conns.end() && x->second->created) {
        if (x->second->analyzer) {
          rec.xmpp = std::make_unique<s2s::ConnectionFacts>(x->second->analyzer->facts());
        } else if (auto d = xmpp_done.find(id); d != xmpp_done.end() && d->second) {
          // Both directions ended, so the analyzer's facts are final, but the closed leg
          // lingers (closed_linger_seconds) before the connection is released: say them now
          // rather than seconds later (a stream closed on an error names it at once).
          rec.xmpp = std::make_unique<s2s::ConnectionFacts>(*d->second);
        } else {
          continue;  // its facts are on the stage
        }
        x->second->reported = true;
        x->second->last_progress = now;
      }
      last = packets;
      correlate(rec);
      ++engine.stats_.progress_reports;
      observer.on_progress(std::move(rec));
    }
  }

  void run_timers() {
    flows.advance(now);
    if (config.progress_seconds > 0) timed_progress();
    if (now < last_sweep) last_sweep = now;  // the clock was set back
    if ((now - last_sweep).seconds() >= 0.5) {
      last_sweep = now;
      sweep();
      decoder.expire(now);
    }
  }

  // ---- progress of open connections -----------------------------------------------------------

  // A long-lived stream says nothing until it closes; a live view wants its state before. Per
  // delivery this is a clock comparison; a report copies the connection's legs and facts only
  // every progress_seconds of packet time per connection.
  void maybe_progress(XmppConn& x, Timestamp t) {
    if (config.progress_seconds <= 0) return;
    if (!x.reported) {
      x.reported = true;
      x.last_progress = t;
      return;
    }
    if ((t - x.last_progress).seconds() < config.progress_seconds) return;
    x.last_progress = t;
    auto conn = flows.snapshot(x.id);
    if (!conn) return;
    ConnectionRecord rec;
    rec.conn = std::move(*conn);
    // A snapshot reads as if the input ended now: what has not happened yet is "not yet"
    // (pending, capture-ended), not "never".
    rec.conn.capture_ended = true;
    if (!x.analyzer) return;  // not made yet, or on the stage (only without progress reports)
    rec.xmpp = std::make_unique<s2s::ConnectionFacts>(x.analyzer->facts());
    correlate(rec);
    ++engine.stats_.progress_reports;
    observer.on_progress(std::move(rec));
  }

  // ---- DNS -> TCP correlation ----------------------------------------------------------------

  void on_closed(flow::Connection&& conn) {
    progress_packets.erase(conn.id);
    ConnectionRecord rec;
    rec.conn = std::move(conn);
    if (auto it = xmpp_done.find(rec.conn.id); it != xmpp_done.end()) {
      rec.xmpp = std::move(it->second);
      xmpp_done.erase(it);
    }
    correlate(rec);
    if (stage) {
      Out o;
      o.waiting = awaiting.erase(rec.conn.id) > 0;
      o.rec = std::move(rec);
      outbox.push_back(std::move(o));
      deliver();
      return;
    }
    observer.on_connection(std::move(rec));
  }

  // ---- the analyzer stage (EngineConfig::threads) ----------------------------------------------

  // What goes to the observer, in the order one thread would send it: a connection waits
  // here until the stage has its facts, and what comes after it waits too.
  struct Out {
    std::optional<ConnectionRecord> rec;  ///< else dns
    DnsTransaction dns;
    bool waiting = false;  ///< rec: its facts are still on the stage
  };
  std::unique_ptr<detail::AnalyzerStage> stage;
  std::unordered_set<std::uint32_t> awaiting;
  std::deque<Out> outbox;
  std::unordered_map<std::uint32_t, s2s::ConnectionFacts> arrived;

  void deliver() {
    if (stage->ready())
      for (auto& [id, facts] : stage->take())
        arrived[id] = std::move(facts);
    while (!outbox.empty()) {
      Out& o = outbox.front();
      if (!o.rec) {
        observer.on_dns(std::move(o.dns));
      } else {
        if (o.waiting) {
          auto it = arrived.find(o.rec->conn.id);
          if (it == arrived.end()) return;
          o.rec->xmpp = std::make_unique<s2s::ConnectionFacts>(std::move(it->second));
          arrived.erase(it);
        }
        observer.on_connection(std::move(*o.rec));
      }
      outbox.pop_front();
    }
  }

  void drain_stage() {
    if (!stage) return;
    stage->drain();
    deliver();
    engine.anomalies_.merge(stage->anomalies());
  }

  void correlate(ConnectionRecord& rec) {
    Timestamp start = rec.conn.primary().start;
    std::vector<Endpoint> servers;
    for (const auto& leg : rec.conn.legs)
      if (std::find(servers.begin(), servers.end(), leg.resp) == servers.end())
        servers.push_back(leg.resp);
    for (const auto& server : servers) {
      auto nit = names_of_addr.find(server.addr);
      if (nit == names_of_addr.end()) continue;
      for (const auto& n : nit->second) {
        if (n.time > start) continue;
        bool linked = false;
        if (auto sit = srv_of_target.find(n.name); sit != srv_of_target.end()) {
          for (const auto& s : sit->second) {
            if (s.time > start || s.port != server.port) continue;
            std::string domain = domain_of_service(s.service);
            rec.dns.push_back(DnsLink{domain.empty() ? s.service : domain, LinkVia::kSrv, s.service,
                                      n.name, s.port, server.addr, s.txn, n.txn});
            linked = true;
          }
        }
        if (!linked) {
          bool fallback = server.port == 5269 && !n.name.empty() && n.name[0] != '_';
          rec.dns.push_back(DnsLink{n.name, fallback ? LinkVia::kAFallback : LinkVia::kAddress, "",
                                    n.name, server.port, server.addr, 0, n.txn});
        }
      }
    }
    // An address reached through an SRV record is explained by it: drop the plainer links.
    if (std::any_of(rec.dns.begin(), rec.dns.end(),
                    [](const DnsLink& l) { return l.via == LinkVia::kSrv; })) {
      rec.dns.erase(std::remove_if(rec.dns.begin(), rec.dns.end(),
                                   [](const DnsLink& l) { return l.via != LinkVia::kSrv; }),
                    rec.dns.end());
    }
  }
};

void Engine::Impl::XmppSink::on_data(std::uint64_t, std::span<const std::uint8_t> d,
                                     const flow::PacketRef& at) {
  if (conn->finished) return;  // both directions ended: nothing more can come
  conn->ensure();
  if (conn->impl->stage) {
    conn->impl->stage->data(conn->id, from_orig, d, at);
    return;
  }
  conn->analyzer->on_data(from_orig, d, at);
  conn->impl->maybe_progress(*conn, at.time);
}
void Engine::Impl::XmppSink::on_gap(std::uint64_t, std::uint64_t len, const flow::PacketRef& at) {
  if (conn->finished) return;  // both directions ended: nothing more can come
  conn->ensure();
  if (conn->impl->stage) {
    conn->impl->stage->gap(conn->id, from_orig, len, at);
    return;
  }
  conn->analyzer->on_gap(from_orig, len, at);
}
void Engine::Impl::XmppSink::on_end(const flow::PacketRef& at) {
  // Nothing delivered yet: finish() ends both directions alike, or the shared no-data facts
  // stand for the connection.
  if (!conn->created || conn->finished) return;
  if (conn->impl->stage)
    conn->impl->stage->end(conn->id, from_orig, at);
  else
    conn->analyzer->on_end(from_orig, at);
  (from_orig ? conn->ended_o : conn->ended_r) = true;
  if (conn->ended_o && conn->ended_r) conn->impl->finish_analyzer(*conn, at);
}

Engine::Engine(EngineConfig config, Observer& observer)
    : impl_(std::make_unique<Impl>(*this, config, observer)) {}

Engine::~Engine() = default;

void Engine::on_frame(const Frame& frame) {
  ++stats_.frames;
  if (stats_.frames == 1) stats_.first = frame.time;
  if (frame.time > stats_.last) stats_.last = frame.time;
  auto& im = *impl_;
  // Timers run on packet time, before the packet that moved the clock is processed.
  if (im.tick(frame.time)) im.run_timers();
  if (im.stage && !im.outbox.empty()) im.deliver();  // facts back from the stage
  Packet p;
  switch (im.decoder.decode(frame, p)) {
    case packet::Decoder::Result::kPacket:
      break;
    case packet::Decoder::Result::kHeld:
      ++stats_.fragments_held;
      return;
    case packet::Decoder::Result::kNotIp:
      ++stats_.not_ip;
      return;
    case packet::Decoder::Result::kUndecodable:
      ++stats_.undecodable;
      return;
  }
  ++stats_.ip_packets;
  if (p.reassembled) ++stats_.reassembled_datagrams;
  const flow::PacketRef ref = flow::ref_of(p);
  switch (p.transport) {
    case packet::Transport::kTcp: {
      ++stats_.tcp;
      std::uint64_t before = im.flows.duplicate_copies();
      im.flows.on_tcp(p);
      stats_.nat_copies += im.flows.duplicate_copies() - before;
      break;
    }
    case packet::Transport::kUdp:
      ++stats_.udp;
      if (p.sport == 53 || p.dport == 53) {
        if (p.truncated && p.payload.size() < p.payload_length) {
          anomalies_.add("dns.snaplen_cut");
          break;
        }
        im.on_dns_message(p.payload, Endpoint{p.src, p.sport}, Endpoint{p.dst, p.dport}, p.vantage,
                          ref, false);
      }
      break;
    case packet::Transport::kIcmp:
      ++stats_.icmp;
      if (p.icmp.present) im.on_icmp(p);
      break;
    default:
      ++stats_.other;
      break;
  }
}

std::vector<std::uint16_t> Engine::federation_ports() const {
  std::vector<std::uint16_t> v(impl_->s2s_ports.begin(), impl_->s2s_ports.end());
  std::sort(v.begin(), v.end());
  return v;
}

void Engine::advance(Timestamp now) {
  auto& im = *impl_;
  // Before the first frame there is nothing to time out, and no clock to compare with.
  if (!im.clock_started || now <= im.now) return;
  im.now = now;
  im.outlier_run = 0;
  im.run_timers();
  if (im.stage && !im.outbox.empty()) im.deliver();
}

void Engine::finish() {
  auto& im = *impl_;
  im.decoder.finish();
  im.flows.finish();
  // Unanswered at the end: a real no-response if the timeout had run out, if the client itself
  // asked again (it gave up waiting) or if an ICMP error came back; otherwise the capture
  // ended too early to tell.
  std::map<std::tuple<IpAddress, std::string, std::uint16_t>, Timestamp> latest;
  for (auto& [id, p] : im.pending) {
    auto& l = latest[{p.t.client.addr, p.t.qname, p.t.qtype}];
    l = std::max(l, p.t.query.time);
  }
  std::vector<std::uint64_t> ids;
  for (auto& [id, p] : im.pending)
    ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (auto id : ids) {
    auto it = im.pending.find(id);
    if (it == im.pending.end()) continue;
    const auto& t = it->second.t;
    bool timed_out = (im.now - t.query.time).seconds() > im.config.dns_timeout_seconds;
    bool retried = t.queries > 1 || latest[{t.client.addr, t.qname, t.qtype}] > t.query.time;
    // An ICMP error (e.g. port unreachable: no DNS server runs there) is an answer of sorts.
    bool refused = t.icmp.has_value();
    im.finalize(
        id, timed_out || retried || refused ? DnsOutcome::kNoResponse : DnsOutcome::kCaptureEnded);
  }
  im.drain_stage();
}

}  // namespace fedscope::engine
