#include <nlohmann/json.hpp>
#include <ostream>

#include "fedscope/report/analysis.hpp"

namespace fedscope::report {
namespace {

using nlohmann::ordered_json;

constexpr int kSchemaVersion = 1;

ordered_json ref_json(const Result& r, const flow::PacketRef& p) {
  return ordered_json{{"packet", p.number},
                      {"time", format_iso8601(p.time)},
                      {"file", r.files.size() > p.file ? r.files[p.file].path : ""}};
}

ordered_json rdata_json(const dns::ResourceRecord& rr) {
  ordered_json j{
      {"name", rr.name}, {"type", std::string(dns::type_name(rr.type))}, {"ttl", rr.ttl}};
  if (const auto* a = std::get_if<IpAddress>(&rr.data))
    j["data"] = a->to_string();
  else if (const auto* n = std::get_if<std::string>(&rr.data))
    j["data"] = *n;
  else if (const auto* s = std::get_if<dns::SrvData>(&rr.data))
    j["data"] = ordered_json{
        {"priority", s->priority}, {"weight", s->weight}, {"port", s->port}, {"target", s->target}};
  else if (const auto* soa = std::get_if<dns::SoaData>(&rr.data))
    j["data"] = ordered_json{{"mname", soa->mname}, {"rname", soa->rname}, {"serial", soa->serial}};
  else
    j["data"] = nullptr;
  return j;
}

std::string vantage_name(const Result& r, const packet::Vantage& v) {
  std::string s = r.files.size() > v.file ? r.files[v.file].path : "?";
  if (v.interface >= 0 && r.files.size() > v.file) {
    const auto& ifs = r.files[v.file].interfaces;
    auto i = static_cast<std::size_t>(v.interface);
    s += "@" + (i < ifs.size() && !ifs[i].name.empty() ? ifs[i].name : std::to_string(v.interface));
  }
  if (v.ifindex >= 0) s += "#if" + std::to_string(v.ifindex);
  return s;
}

std::string direction_name(packet::Direction d) {
  switch (d) {
    case packet::Direction::kIn:
      return "in";
    case packet::Direction::kOut:
      return "out";
    default:
      return "unknown";
  }
}

// Writes the top-level object one member at a time, and the long arrays one element at a
// time, so memory holds one record's JSON, not the whole document. The text is exactly
// what ordered_json::dump(2) would give for the whole document.
class Writer {
 public:
  explicit Writer(std::ostream& os) : os_(os) { os_ << "{"; }
  void field(const char* key, const ordered_json& v) {
    key_(key);
    put(v, 2);
  }
  void begin_array(const char* key) {
    key_(key);
    os_ << "[";
    first_element_ = true;
  }
  void element(const ordered_json& v) {
    os_ << (first_element_ ? "\n    " : ",\n    ");
    first_element_ = false;
    put(v, 4);
  }
  void end_array() { os_ << (first_element_ ? "]" : "\n  ]"); }
  void finish() { os_ << "\n}\n"; }

 private:
  void key_(const char* key) {
    os_ << (first_ ? "\n  " : ",\n  ") << ordered_json(key).dump() << ": ";
    first_ = false;
  }
  void put(const ordered_json& v, int indent) {
    std::string text = v.dump(2);
    std::string pad(static_cast<std::size_t>(indent), ' ');
    std::size_t start = 0;
    for (std::size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
      os_.write(text.data() + start, static_cast<std::streamsize>(nl + 1 - start));
      os_ << pad;
      start = nl + 1;
    }
    os_.write(text.data() + start, static_cast<std::streamsize>(text.size() - start));
  }
  std::ostream& os_;
  bool first_ = true;
  bool first_element_ = true;
};

}  // namespace

void render_json(const Result& r, std::ostream& os) {
  Writer w(os);
  w.field("schema_version", kSchemaVersion);
  w.field("generator", "fedscope");

  ordered_json files = ordered_json::array();
  std::uint64_t packets = 0, bytes = 0, truncated = 0;
  for (const auto& f : r.files) {
    ordered_json ifs = ordered_json::array();
    for (const auto& i : f.interfaces)
      ifs.push_back(ordered_json{{"id", i.id},
                                 {"name", i.name},
                                 {"linktype", i.linktype_name},
                                 {"snaplen", i.snaplen},
                                 {"packets", i.packets}});
    files.push_back(
        ordered_json{{"path", f.path},
                     {"linktype", f.linktype_name},
                     {"snaplen", f.snaplen},
                     {"packets", f.packets},
                     {"bytes", f.bytes},
                     {"truncated", f.truncated},
                     {"complete", f.complete},
                     {"interfaces", ifs},
                     {"error", f.error.empty() ? ordered_json(nullptr) : ordered_json(f.error)}});
    packets += f.packets;
    bytes += f.bytes;
    truncated += f.truncated;
  }
  w.field(
      "capture",
      ordered_json{
          {"files", files},
          {"packets", packets},
          {"bytes", bytes},
          {"first", packets ? ordered_json(format_iso8601(r.stats.first)) : ordered_json(nullptr)},
          {"last", packets ? ordered_json(format_iso8601(r.stats.last)) : ordered_json(nullptr)},
          {"truncated", truncated},
          {"decoded", ordered_json{{"ip", r.stats.ip_packets},
                                   {"tcp", r.stats.tcp},
                                   {"udp", r.stats.udp},
                                   {"icmp", r.stats.icmp},
                                   {"not_ip", r.stats.not_ip},
                                   {"undecodable", r.stats.undecodable},
                                   {"ipv4_reassembled", r.stats.reassembled_datagrams},
                                   {"nat_copies", r.stats.nat_copies}}},
          {"vantage_points", r.vantage_count},
          {"forwarding", r.forwarding_vantage}});

  ordered_json nets = ordered_json::array();
  for (const auto& c : r.inside_nets)
    nets.push_back(c.to_string());
  w.field("options", ordered_json{{"inside_nets", nets},
                                  {"domains", r.our_domains},
                                  {"domains_inferred", r.our_domains_inferred}});

  w.begin_array("dns");
  for (const auto& t : r.dns) {
    ordered_json answers = ordered_json::array();
    for (const auto& rr : t.answers)
      answers.push_back(rdata_json(rr));
    w.element(ordered_json{
        {"id", t.id},
        {"query", t.qname},
        {"type", std::string(dns::type_name(t.qtype))},
        {"client", t.client.to_string()},
        {"server", t.server.to_string()},
        {"transport", t.tcp ? "tcp" : "udp"},
        {"txid", t.txid},
        {"time", format_iso8601(t.query.time)},
        {"query_packet", ref_json(r, t.query)},
        {"queries", t.queries},
        {"answered", t.answered()},
        {"outcome", std::string(engine::to_string(t.outcome))},
        {"rcode", t.answered() ? ordered_json(std::string(dns::rcode_name(t.rcode)))
                               : ordered_json(nullptr)},
        {"response_packet", t.response ? ref_json(r, *t.response) : ordered_json(nullptr)},
        {"rtt_ms", t.response ? ordered_json((t.response->time - t.query.time).seconds() * 1000.0)
                              : ordered_json(nullptr)},
        {"tc", t.tc},
        {"response_damaged", t.response_damaged},
        {"answers", answers},
        {"icmp", t.icmp ? ordered_json{{"type", t.icmp->type},
                                       {"code", t.icmp->code},
                                       {"from", t.icmp->reporter.to_string()}}
                        : ordered_json(nullptr)},
        {"copies", t.copies}});
  }
  w.end_array();

  w.begin_array("flows");
  for (const auto& rec : r.connections) {
    const auto& c = rec.conn;
    const auto& P = c.primary();
    ordered_json legs = ordered_json::array();
    for (const auto& l : c.legs) {
      ordered_json icmp = ordered_json::array();
      for (const auto& e : l.icmp)
        icmp.push_back(ordered_json{{"type", e.type},
                                    {"code", e.code},
                                    {"from", e.reporter.to_string()},
                                    {"packet", ref_json(r, e.ref)}});
      ordered_json leg{{"vantage", vantage_name(r, l.vantage)},
                       {"ifindex", l.vantage.ifindex >= 0 ? ordered_json(l.vantage.ifindex)
                                                          : ordered_json(nullptr)},
                       {"client", l.orig.to_string()},
                       {"server", l.resp.to_string()},
                       {"syn_direction", direction_name(l.first_direction)},
                       {"conn_state", flow::conn_state(l)},
                       {"history", l.history},
                       {"packets", l.o.packets + l.r.packets},
                       {"icmp", icmp}};
      if (&l != &P) {
        ordered_json tr = ordered_json::object();
        if (!(l.orig == P.orig)) tr["client"] = P.orig.to_string() + " -> " + l.orig.to_string();
        if (!(l.resp == P.resp)) tr["server"] = P.resp.to_string() + " -> " + l.resp.to_string();
        leg["translation"] = tr;
      } else {
        leg["translation"] = nullptr;
      }
      legs.push_back(leg);
    }
    ordered_json domains = ordered_json::array();
    ordered_json links = ordered_json::array();
    for (const auto& l : rec.dns) {
      if (std::find(domains.begin(), domains.end(), l.domain) == domains.end())
        domains.push_back(l.domain);
      links.push_back(ordered_json{{"domain", l.domain},
                                   {"via", l.via},
                                   {"service", l.service},
                                   {"target", l.target},
                                   {"port", l.port},
                                   {"address", l.address.to_string()}});
    }
    ordered_json syn_times = ordered_json::array();
    for (const auto& t : P.o.syn_times)
      syn_times.push_back((t - P.o.syn_times.front()).seconds());
    w.element(ordered_json{
        {"id", c.id},
        {"client", P.orig.to_string()},
        {"server", P.resp.to_string()},
        {"legs", legs},
        {"conn_state", c.conn_state},
        {"history", P.history},
        {"syn_retries", c.syn_retries()},
        {"syn_times", syn_times},
        {"start", format_iso8601(P.start)},
        {"end", format_iso8601(P.last)},
        {"duration", (P.last - P.start).seconds()},
        {"bytes_client", P.o.payload_bytes},
        {"bytes_server", P.r.payload_bytes},
        {"packets", P.o.packets + P.r.packets},
        {"retransmissions", P.o.retransmissions + P.r.retransmissions},
        {"gap_bytes", c.gap_bytes},
        {"capture_ended", c.capture_ended},
        {"midstream", c.midstream},
        {"domains", domains},
        {"dns", rec.dns.empty() ? ordered_json("not-observed") : ordered_json(links)}});
  }
  w.end_array();

  ordered_json attempts = ordered_json::array();
  for (const auto& a : r.attempts) {
    ordered_json conns = ordered_json::array();
    for (auto i : a.connections)
      conns.push_back(r.connections[i].conn.id);
    ordered_json dnsids = ordered_json::array();
    for (auto i : a.dns)
      dnsids.push_back(r.dns[i].id);
    attempts.push_back(ordered_json{
        {"target", a.target},
        {"domain", a.domain.empty() ? ordered_json(nullptr) : ordered_json(a.domain)},
        {"originator", a.originator.empty() ? ordered_json(nullptr) : ordered_json(a.originator)},
        {"dns", dnsids},
        {"connections", conns},
        {"outcome", a.outcome}});
  }
  w.field("attempts", attempts);

  ordered_json findings = ordered_json::array();
  for (const auto& f : r.findings) {
    ordered_json ev = ordered_json::array();
    for (const auto& e : f.evidence)
      ev.push_back(ref_json(r, flow::PacketRef{e.file, e.packet, e.time}));
    findings.push_back(
        ordered_json{{"code", f.code},
                     {"severity", std::string(to_string(f.severity))},
                     {"summary", f.summary},
                     {"remedy", f.remedy},
                     {"flow", f.flow ? ordered_json(*f.flow) : ordered_json(nullptr)},
                     {"domain", f.domain.empty() ? ordered_json(nullptr) : ordered_json(f.domain)},
                     {"detail", f.detail.empty() ? ordered_json(nullptr) : ordered_json(f.detail)},
                     {"count", f.count},
                     {"evidence", ordered_json{{"packets", ev}, {"total", f.evidence_total}}}});
  }
  w.field("findings", findings);

  ordered_json anomalies = ordered_json::object();
  for (const auto& [name, n] : r.anomalies.all())
    anomalies[name] = n;
  w.field("anomalies", anomalies);
  w.field("summary", ordered_json{{"errors", r.errors()},
                                  {"warnings", r.warnings()},
                                  {"infos", r.findings.size() - r.errors() - r.warnings()}});
  w.finish();
}

}  // namespace fedscope::report
