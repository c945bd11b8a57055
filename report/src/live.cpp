// The live pipeline (live.hpp): engine -> judge, with one sequence for every event.

#include "fedscope/report/live.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "fedscope/base/time.hpp"
#include "fedscope/report/judge.hpp"
#include "fedscope/tls/decoder.hpp"
#include "json_util.hpp"
#include "json_writer.hpp"

namespace fedscope::report {

std::string_view to_string(SessionPhase phase) {
  switch (phase) {
    case SessionPhase::kOpened:
      return "opened";
    case SessionPhase::kProgress:
      return "progress";
    case SessionPhase::kClosed:
      return "closed";
  }
  return "";
}

namespace {

std::string rdata_text(const dns::ResourceRecord& rr) {
  std::string s = dns::type_name(rr.type) + " ";
  if (const auto* a = std::get_if<IpAddress>(&rr.data)) {
    s += a->to_string();
  } else if (const auto* n = std::get_if<std::string>(&rr.data)) {
    s += *n;
  } else if (const auto* v = std::get_if<dns::SrvData>(&rr.data)) {
    s += std::to_string(v->priority) + " " + std::to_string(v->weight) + " " +
         std::to_string(v->port) + " " + v->target;
  } else if (const auto* soa = std::get_if<dns::SoaData>(&rr.data)) {
    s += soa->mname + " " + soa->rname;
  } else {
    s += "?";
  }
  return s;
}

}  // namespace

struct LiveAnalysis::Impl : engine::Observer, EventSink {
  Impl(LiveConfig c, std::vector<capture::FileInfo> src, LiveSink* s)
      : config(std::move(c)),
        sources(std::move(src)),
        sink(s),
        judge(judge_config(), this),
        eng(engine_config(), *this) {
    if (sources.empty()) sources.emplace_back();
    name_sources();
  }

  // Several saved files: vantages are named as the report names them (the file's shortest
  // distinct path, then "@interface"); one source keeps the live capture's interface names.
  void name_sources() {
    if (sources.size() < 2) return;
    std::vector<std::string> paths;
    for (const auto& f : sources)
      paths.push_back(f.path);
    file_names = distinct_file_names(paths);
  }
  std::uint64_t packets() const {
    std::uint64_t n = 0;
    for (const auto& f : sources)
      n += f.packets;
    return n;
  }
  std::uint64_t bytes() const {
    std::uint64_t n = 0;
    for (const auto& f : sources)
      n += f.bytes;
    return n;
  }
  std::size_t capture_points() const {
    std::size_t n = 0;
    for (const auto& f : sources)
      n += std::max<std::size_t>(1, f.interfaces.size());
    return std::max<std::size_t>(1, n);
  }

  JudgeConfig judge_config() const {
    JudgeConfig jc;
    jc.inside_nets = config.inside_nets;
    jc.domains = config.domains;
    jc.max_full_records = config.max_full_records;
    jc.max_records = config.max_records;
    return jc;
  }
  engine::EngineConfig engine_config() const {
    engine::EngineConfig ec = config.engine;
    if (ec.progress_seconds <= 0) ec.progress_seconds = 2;
    ec.threads = 1;  // progress reports need the analyzers on the reading thread
    return ec;
  }

  // ---- the judge's events, renumbered into the one sequence -----------------------------------
  void on_finding(const FindingEvent& e) override {
    if (!sink) return;
    FindingEvent c = e;
    c.seq = ++seq;
    sink->on_finding(c);
  }
  void on_attempt(const AttemptEvent& e) override {
    if (!sink) return;
    AttemptEvent c = e;
    c.seq = ++seq;
    sink->on_attempt(c);
  }
  void on_verdict(const VerdictEvent& e) override {
    if (!sink) return;
    VerdictEvent c = e;
    c.seq = ++seq;
    sink->on_verdict(c);
  }

  // ---- the engine's records --------------------------------------------------------------------
  std::string vantage_name(const packet::Vantage& v) const {
    if (sources.size() > 1) {
      if (v.file >= sources.size()) return "?";
      std::string s = file_names[v.file];
      const auto& ifs = sources[v.file].interfaces;
      if (v.interface >= 0) {
        auto i = static_cast<std::size_t>(v.interface);
        s += "@" +
             (i < ifs.size() && !ifs[i].name.empty() ? ifs[i].name : std::to_string(v.interface));
      }
      return s;
    }
    const auto& source = sources.front();
    if (v.interface >= 0 && static_cast<std::size_t>(v.interface) < source.interfaces.size() &&
        !source.interfaces[static_cast<std::size_t>(v.interface)].name.empty())
      return source.interfaces[static_cast<std::size_t>(v.interface)].name;
    return v.interface >= 0 ? "if" + std::to_string(v.interface) : source.name;
  }

  SessionEvent session(SessionPhase phase, const flow::Connection& c) const {
    SessionEvent e;
    e.phase = phase;
    e.flow = c.id;
    const auto& p = c.primary();
    e.time = phase == SessionPhase::kOpened ? p.start : p.last;
    e.client = p.orig.to_string();
    e.server = p.resp.to_string();
    for (const auto& l : c.legs) {
      e.vantages.push_back(vantage_name(l.vantage));
      SessionLeg leg;
      leg.vantage = e.vantages.back();
      leg.file = l.vantage.file;
      leg.interface = l.vantage.interface;
      leg.ifindex = l.vantage.ifindex;
      leg.client = l.orig;
      leg.server = l.resp;
      leg.start = l.start;
      leg.last = l.last;
      leg.state = std::string(flow::to_string(flow::conn_state(l)));
      e.legs.push_back(std::move(leg));
    }
    e.state = std::string(flow::to_string(flow::conn_state(p)));
    e.history = p.history;
    e.packets = p.o.packets + p.r.packets;
    e.client_bytes = p.o.payload_bytes;
    e.server_bytes = p.r.payload_bytes;
    e.expired_idle = c.expired_idle;
    return e;
  }

  void add_facts(SessionEvent& e, const engine::ConnectionRecord& rec, bool closing) {
    auto sent = steps_sent.find(rec.conn.id);
    if (!rec.xmpp) {
      if (closing && sent != steps_sent.end()) steps_sent.erase(sent);
      return;
    }
    const auto& x = *rec.xmpp;
    e.stream = std::string(s2s::to_string(x.kind));
    if (x.orig.header) {
      e.from_domain = x.orig.header->from;
      e.to_domain = x.orig.header->to;
    }
    if (x.tls->started) {
      e.tls = "started";
      if (x.tls->server_hello && x.tls->server_hello->version)
        e.tls = tls::version_name(x.tls->server_hello->version);
    }
    std::size_t from = sent == steps_sent.end() ? 0 : sent->second;
    for (std::size_t i = from; i < x.ladder.size(); ++i) {
      const auto& s = x.ladder[i];
      e.steps.push_back(SessionStep{s.ref.time, s.from_orig, s.text, s.repeat, s.ref});
    }
    e.steps_dropped = x.ladder_dropped;
    if (closing) {
      if (sent != steps_sent.end()) steps_sent.erase(sent);
    } else {
      steps_sent[rec.conn.id] = x.ladder.size();
    }
  }

  void on_open(const flow::Connection& c) override {
    if (!sink) return;
    SessionEvent e = session(SessionPhase::kOpened, c);
    e.seq = ++seq;
    sink->on_session(e);
  }
  void on_progress(engine::ConnectionRecord&& rec) override {
    if (sink) {
      SessionEvent e = session(SessionPhase::kProgress, rec.conn);
      add_facts(e, rec, false);
      e.seq = ++seq;
      sink->on_session(e);
    }
    judge.on_progress(std::move(rec));
  }
  void on_connection(engine::ConnectionRecord&& rec) override {
    if (sink) {
      SessionEvent e = session(SessionPhase::kClosed, rec.conn);
      add_facts(e, rec, true);
      e.seq = ++seq;
      sink->on_session(e);
    }
    judge.on_connection(std::move(rec));
  }
  void on_dns(engine::DnsTransaction&& t) override {
    if (sink) {
      DnsEvent e;
      e.id = t.id;
      e.time = t.query.time;
      e.query = t.qname;
      e.type = dns::type_name(t.qtype);
      e.client = t.client.to_string();
      e.server = t.server.to_string();
      e.outcome = std::string(engine::to_string(t.outcome));
      if (t.answered()) e.rcode = dns::rcode_name(t.rcode);
      e.client_endpoint = t.client;
      e.server_endpoint = t.server;
      e.txid = t.txid;
      e.tcp = t.tcp;
      if (t.response) e.answered = t.response->time;
      for (const auto& rr : t.answers)
        e.answers.push_back(rdata_text(rr));
      e.seq = ++seq;
      sink->on_dns(e);
    }
    judge.on_dns(std::move(t));
  }

  void flush_judge(Timestamp wall) {
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    judge.set_capture_points(capture_points());
    judge.flush();
    const double took = std::chrono::duration<double>(Clock::now() - t0).count();
    next_flush = wall + Duration::seconds(std::max(config.flush_seconds, 10 * took));
  }

  LiveConfig config;
  std::vector<capture::FileInfo> sources;
  std::vector<std::string> file_names;  // with several sources: distinct_file_names()
  LiveSink* sink;
  Judge judge;
  engine::Engine eng;
  std::uint64_t seq = 0;
  std::unordered_map<std::uint32_t, std::size_t> steps_sent;  // ladder steps sent per open flow
  Timestamp next_flush;
  Timestamp last_stats_time;
  std::uint64_t last_stats_packets = 0;
  bool started = false;
};

LiveAnalysis::LiveAnalysis(LiveConfig config, capture::FileInfo source, LiveSink* sink)
    : impl_(std::make_unique<Impl>(std::move(config),
                                   std::vector<capture::FileInfo>{std::move(source)}, sink)) {}

LiveAnalysis::LiveAnalysis(LiveConfig config, std::vector<capture::FileInfo> sources,
                           LiveSink* sink)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(sources), sink)) {}

void LiveAnalysis::set_sources(std::vector<capture::FileInfo> sources) {
  auto& im = *impl_;
  if (sources.size() != im.sources.size()) return;
  im.sources = std::move(sources);
  im.name_sources();
}

void LiveAnalysis::advance(Timestamp t) {
  impl_->eng.advance(t);
}

void LiveAnalysis::flush() {
  auto& im = *impl_;
  im.judge.set_capture_points(im.capture_points());
  im.judge.flush();
}

LiveAnalysis::~LiveAnalysis() = default;

void LiveAnalysis::on_frame(const Frame& frame) {
  auto& im = *impl_;
  auto& f = im.sources[frame.file < im.sources.size() ? frame.file : 0];
  if (f.packets == 0) f.first = frame.time;
  if (frame.time > f.last) f.last = frame.time;
  ++f.packets;
  f.bytes += frame.data.size();
  if (frame.truncated()) ++f.truncated;
  if (frame.interface >= 0 && static_cast<std::size_t>(frame.interface) < f.interfaces.size()) {
    auto& i = f.interfaces[static_cast<std::size_t>(frame.interface)];
    ++i.packets;
    if (frame.truncated()) ++i.truncated;
  }
  im.eng.on_frame(frame);
}

void LiveAnalysis::tick(Timestamp wall) {
  auto& im = *impl_;
  im.eng.advance(wall + Duration::seconds(-im.config.tick_lag_seconds));
  if (!im.started) {
    im.started = true;
    im.last_stats_time = wall;
    im.next_flush = wall;
  }
  if (wall >= im.next_flush) im.flush_judge(wall);
}

void LiveAnalysis::send_stats(CaptureStatsEvent e) {
  auto& im = *impl_;
  if (e.packets == 0) e.packets = im.packets();
  if (e.bytes == 0) e.bytes = im.bytes();
  if (e.rate == 0 && im.started) {
    const double dt = (e.time - im.last_stats_time).seconds();
    if (dt > 0) e.rate = static_cast<double>(e.packets - im.last_stats_packets) / dt;
  }
  im.last_stats_time = e.time;
  im.last_stats_packets = e.packets;
  e.seq = ++im.seq;
  if (im.sink) im.sink->on_stats(e);
}

void LiveAnalysis::finish(Timestamp end, Result& result) {
  auto& im = *impl_;
  im.eng.advance(end);
  im.eng.finish();
  result.files = im.sources;
  if (im.sources.size() == 1) result.files.front().end_time = end;
  result.keylog_files = im.config.keylog_files;
  result.keylog_secrets = im.config.engine.keylog ? im.config.engine.keylog->size() : 0;
  result.stats = im.eng.stats();
  result.anomalies.merge(im.eng.anomalies());
  im.judge.set_capture_points(im.capture_points());
  im.judge.finish(result);
}

std::vector<std::uint16_t> LiveAnalysis::federation_ports() const {
  return impl_->eng.federation_ports();
}

std::uint64_t LiveAnalysis::frames() const {
  return impl_->packets();
}
std::uint64_t LiveAnalysis::bytes() const {
  return impl_->bytes();
}
std::uint64_t LiveAnalysis::events() const {
  return impl_->seq;
}

// ---- JSON lines -----------------------------------------------------------------------------

namespace {

using detail::JsonWriter;

template <class Body>
std::string line(std::uint64_t seq, const char* type, const char* event, Body&& body) {
  std::string out;
  {
    detail::JsonSink s(out);
    JsonWriter w(s, false);
    w.begin_object();
    w.member("seq", seq);
    w.member("type", type);
    if (event) w.member("event", event);
    body(w);
    w.end_object();
  }
  return out;
}

}  // namespace

std::string event_json(const SessionEvent& e) {
  const std::string phase(to_string(e.phase));
  return line(e.seq, "session", phase.c_str(), [&](JsonWriter& w) {
    w.member("flow", e.flow);
    w.member("time", format_iso8601(e.time));
    w.member("client", e.client);
    w.member("server", e.server);
    w.member("vantages", e.vantages);
    w.member("state", e.state);
    w.member("history", e.history);
    w.member("packets", e.packets);
    w.member("client_bytes", e.client_bytes);
    w.member("server_bytes", e.server_bytes);
    if (e.phase == SessionPhase::kClosed) w.member("expired_idle", e.expired_idle);
    w.member_or_null("stream", e.stream);
    w.member_or_null("from", e.from_domain);
    w.member_or_null("to", e.to_domain);
    w.member_or_null("tls", e.tls);
    w.key("steps");
    w.begin_array();
    for (const auto& s : e.steps) {
      w.begin_object();
      w.member("time", format_iso8601(s.time));
      w.member("direction", s.from_client ? "client" : "server");
      w.member("text", s.text);
      w.member("repeat", s.repeat);
      w.end_object();
    }
    w.end_array();
    if (e.steps_dropped) w.member("steps_dropped", e.steps_dropped);
  });
}

std::string event_json(const DnsEvent& e) {
  return line(e.seq, "dns", nullptr, [&](JsonWriter& w) {
    w.member("id", e.id);
    w.member("time", format_iso8601(e.time));
    w.member("query", e.query);
    w.member("qtype", e.type);
    w.member("client", e.client);
    w.member("server", e.server);
    w.member("outcome", e.outcome);
    w.member_or_null("rcode", e.rcode);
    w.member("answers", e.answers);
  });
}

std::string event_json(const CaptureStatsEvent& e) {
  return line(e.seq, "stats", e.final ? "final" : "periodic", [&](JsonWriter& w) {
    w.member("time", format_iso8601(e.time));
    w.member("packets", e.packets);
    w.member("bytes", e.bytes);
    w.member("rate", e.rate);
    w.key("interfaces");
    w.begin_array();
    for (const auto& i : e.interfaces) {
      w.begin_object();
      w.member("name", i.name);
      w.member("packets", i.packets);
      w.member("received", i.received);
      w.member("dropped", i.dropped);
      w.member("if_dropped", i.if_dropped);
      w.member("down", i.down);
      w.member("failed", i.failed);
      w.member_or_null("error", i.error);
      w.end_object();
    }
    w.end_array();
  });
}

}  // namespace fedscope::report
