// The text renderer and time formats on Results built in the test: what a person reads, checked
// directly rather than only through docs/cli.md.

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "fedscope/report/analysis.hpp"

namespace fedscope::report {
namespace {

// 2026-11-25T14:13:40.311930Z: winter, so Europe/Berlin is CET (+01:00).
constexpr Timestamp kT0 = Timestamp::from_parts(1795616020, 311930000);

// Sets TZ for one test and restores it after.
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old, had_ = true;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTz() {
    if (had_)
      setenv("TZ", old_.c_str(), 1);
    else
      unsetenv("TZ");
    tzset();
  }

 private:
  std::string old_;
  bool had_ = false;
};

TEST(TimeFormat, UtcIsMarked) {
  TimeFormat f;
  EXPECT_EQ(f.time_of_day(kT0), "14:13:40.311930Z");
  EXPECT_EQ(f.date_time(kT0), "2026-11-25T14:13:40.311930Z");
  EXPECT_EQ(f.describe(kT0), "UTC");
}

TEST(TimeFormat, LocalCarriesItsOffsetAcrossDst) {
  ScopedTz tz("Europe/Berlin");
  TimeFormat f(TimeStyle::kLocal, kT0, "Europe/Berlin");
  EXPECT_EQ(f.time_of_day(kT0), "15:13:40.311930+01:00");
  EXPECT_EQ(f.date_time(kT0), "2026-11-25T15:13:40.311930+01:00");
  EXPECT_EQ(f.describe(kT0), "local time, Europe/Berlin (CET)");
  // Summer time: the offset of that moment, not of the first packet.
  const Timestamp july = Timestamp::from_parts(1783000000, 0);  // 2026-07-02
  EXPECT_EQ(f.time_of_day(july).substr(15), "+02:00");
  EXPECT_EQ(f.describe(july), "local time, Europe/Berlin (CEST)");
  ScopedTz west("America/St_Johns");  // a half-hour zone west of UTC
  TimeFormat g(TimeStyle::kLocal, kT0, "");
  EXPECT_EQ(g.time_of_day(kT0), "10:43:40.311930-03:30");
  EXPECT_EQ(g.describe(kT0), "local time, NST");
}

TEST(TimeFormat, RelativeToTheFirstPacket) {
  TimeFormat f(TimeStyle::kRelative, kT0);
  EXPECT_EQ(f.time_of_day(kT0), "+0.000000s");
  EXPECT_EQ(f.time_of_day(kT0 + Duration{12'345'678'999}), "+12.345678s");
  // Merged files can hold a packet before the first one of the run's origin.
  EXPECT_EQ(f.time_of_day(kT0 + Duration{-1'500'000}), "-0.001500s");
  EXPECT_EQ(f.describe(kT0), "seconds since the first packet");
}

TEST(TimeFormat, ParsesItsNames) {
  TimeStyle s = TimeStyle::kUtc;
  EXPECT_TRUE(parse_time_style("local", s));
  EXPECT_EQ(s, TimeStyle::kLocal);
  EXPECT_TRUE(parse_time_style("relative", s));
  EXPECT_EQ(s, TimeStyle::kRelative);
  EXPECT_TRUE(parse_time_style("utc", s));
  EXPECT_EQ(s, TimeStyle::kUtc);
  EXPECT_FALSE(parse_time_style("UTC+1", s));
  EXPECT_FALSE(parse_time_style("", s));
}

TEST(DistinctFileNames, ShortestSuffixThatTellsThemApart) {
  EXPECT_EQ(distinct_file_names({"a/x/capture.pcap", "b/x/capture.pcap", "c/other.pcap"}),
            (std::vector<std::string>{"a/x/capture.pcap", "b/x/capture.pcap", "other.pcap"}));
  EXPECT_EQ(distinct_file_names({"/tmp/outside/capture.pcap", "/tmp/inside/capture.pcap"}),
            (std::vector<std::string>{"outside/capture.pcap", "inside/capture.pcap"}));
  EXPECT_EQ(distinct_file_names({"capture.pcap", "fw/capture.pcap"}),
            (std::vector<std::string>{"capture.pcap", "fw/capture.pcap"}));
  EXPECT_EQ(distinct_file_names({"-", "./dir//in.pcap"}),
            (std::vector<std::string>{"stdin", "in.pcap"}));
  EXPECT_EQ(distinct_file_names({"/"}), (std::vector<std::string>{"/"}));
}

// A Result with two files of the same name and one finding with evidence in both.
Result two_file_result() {
  Result r;
  for (const char* path : {"/cap/outside/fw.pcap", "/cap/inside/fw.pcap"}) {
    capture::FileInfo f;
    f.path = path;
    f.linktype_name = "EN10MB";
    f.packets = 2;
    f.snaplen = 262144;
    r.files.push_back(f);
  }
  r.stats.first = kT0;
  r.stats.last = kT0 + Duration::millis(250);
  Finding f(FindingCode::kTcpRefused);
  f.severity = Severity::kError;
  f.summary = "refused";
  f.remedy = "open it";
  f.add_evidence(0, 1, kT0);
  f.add_evidence(1, 2, kT0 + Duration::millis(250));
  r.findings.push_back(f);
  return r;
}

TEST(RenderText, HeaderNamesTheTimeStyleAndEvidenceTheFile) {
  const Result r = two_file_result();
  const std::string utc = render_text(r);
  EXPECT_NE(utc.find("2 files, 4 packets, 2026-11-25T14:13:40.311930Z to 14:13:40.561930Z"),
            std::string::npos)
      << utc;
  EXPECT_NE(utc.find("\n  times: UTC\n"), std::string::npos);
  EXPECT_NE(utc.find("evidence: outside/fw.pcap#1 14:13:40.311930Z, inside/fw.pcap#2 "
                     "14:13:40.561930Z"),
            std::string::npos)
      << utc;

  TextOptions rel;
  rel.time = TimeFormat(TimeStyle::kRelative, r.stats.first);
  const std::string s = render_text(r, rel);
  EXPECT_NE(s.find("2026-11-25T14:13:40.311930Z to +0.250000s"), std::string::npos) << s;
  EXPECT_NE(s.find("evidence: outside/fw.pcap#1 +0.000000s, inside/fw.pcap#2 +0.250000s"),
            std::string::npos)
      << s;
}

TEST(RenderText, SnaplenIsTheInterfaces) {
  Result r;
  capture::FileInfo f;
  f.path = "two-if.pcapng";
  f.linktype_name = "EN10MB";
  f.packets = 8;
  f.truncated = 4;
  f.snaplen = 262144;  // the first interface's; the cut packets were the second's
  capture::InterfaceInfo a, b;
  a.id = 0, a.name = "outside", a.linktype_name = "EN10MB", a.snaplen = 262144, a.packets = 4;
  b.id = 1, b.name = "inside", b.linktype_name = "EN10MB", b.snaplen = 128, b.packets = 4;
  b.truncated = 4;
  f.interfaces = {a, b};
  r.files.push_back(f);
  const std::string s = render_text(r);
  EXPECT_EQ(s.find("cut by snaplen 262144"), std::string::npos) << s;
  EXPECT_NE(s.find("8 packets, 4 cut by the interface's snaplen\n"), std::string::npos) << s;
  EXPECT_NE(s.find("interface 1 (inside): EN10MB, snaplen 128, 4 packets, 4 cut\n"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("interface 0 (outside): EN10MB, snaplen 262144, 4 packets\n"), std::string::npos)
      << s;

  // One interface: its snaplen, not the file's.
  r.files[0].interfaces = {b};
  r.files[0].interfaces[0].id = 0;
  const std::string one = render_text(r);
  EXPECT_NE(one.find("4 cut by snaplen 128"), std::string::npos) << one;
}

TEST(RenderText, OurDomainsShownInTheirReadableForm) {
  Result r;
  r.our_domains = {"xn--bcher-kva.example", "cupdomain.example"};
  const std::string s = render_text(r);
  EXPECT_NE(s.find("your domains: bücher.example (xn--bcher-kva.example) cupdomain.example\n"),
            std::string::npos)
      << s;
}

TEST(RenderText, StandardInputIsNamed) {
  Result r;
  capture::FileInfo f;
  f.path = "-";
  f.name = "standard input";  // what the capture reader calls it
  f.format = "pcap";
  f.compression = "gzip";
  f.linktype_name = "EN10MB";
  r.files.push_back(f);
  const std::string s = render_text(r);
  EXPECT_NE(s.find("  standard input: pcap (gzip), EN10MB, 0 packets"), std::string::npos) << s;
}

TEST(RenderJson, BytesThatAreNoUtf8AreReplacedNotThrown) {
  // Names and texts come off the wire. A DNS name, a stream header and a finding with bytes
  // that are no UTF-8 (found by fuzz_packet: nlohmann's strict dump threw type_error 316 and
  // the report died) are written as U+FFFD, and the document stays valid JSON.
  Result r;
  engine::DnsTransaction t;
  t.id = 1;
  t.qname = "_xmpp-server._tcp.a\xff.example";
  t.qtype = 33;
  r.dns.push_back(t);
  engine::ConnectionRecord c;
  c.conn.id = 1;
  c.conn.legs.emplace_back();
  auto x = std::make_unique<s2s::ConnectionFacts>();
  s2s::StreamHeaderFact h;
  h.from = "b\xfe\xfe";
  h.to = "c.example";
  x->orig.header = h;
  c.xmpp = std::move(x);
  r.connections.push_back(std::move(c));
  Finding f(FindingCode::kXmppStreamError);
  f.summary = "closed with <\xc3/>";
  r.findings.push_back(f);
  std::ostringstream os;
  ASSERT_NO_THROW(render_json(r, os));
  const std::string out = os.str();
  EXPECT_TRUE(nlohmann::json::accept(out));
  EXPECT_NE(out.find("a\xef\xbf\xbd.example"), std::string::npos);
  EXPECT_NE(out.find("closed with <\xef\xbf\xbd/>"), std::string::npos);
  EXPECT_NO_THROW((void)render_text(r));
}

}  // namespace
}  // namespace fedscope::report
