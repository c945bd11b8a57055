// The streaming JSON writer (report/src/json_writer.hpp, RapidJSON underneath): escapes, bytes
// that are no UTF-8, numbers, pretty and compact, the buffered sink; and the report rendered
// both ways. nlohmann::json (what the report was written with before) is the oracle.

#include "json_writer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fedscope/report/analysis.hpp"

namespace fedscope::report {
namespace {

using detail::JsonSink;
using detail::JsonWriter;
using nlohmann::ordered_json;

// Writes one value with @p write into a string, pretty or compact.
template <class F>
std::string written(bool pretty, F&& write) {
  std::string out;
  {
    JsonSink sink(out);
    JsonWriter w(sink, pretty);
    write(w);
  }
  return out;
}

std::string string_json(std::string_view s, bool pretty = false) {
  return written(pretty, [&](JsonWriter& w) { w.value(s); });
}

// What nlohmann's dump wrote for the same string (error_handler_t::replace), parsed back.
std::string nlohmann_replaced(const std::string& s) {
  const std::string dumped =
      ordered_json(s).dump(-1, ' ', false, ordered_json::error_handler_t::replace);
  return ordered_json::parse(dumped).get<std::string>();
}

TEST(JsonWriter, EscapesOnlyWhatJsonRequires) {
  std::string all;
  for (int c = 0; c < 0x20; ++c)
    all += static_cast<char>(c);
  all += "\"\\/\x7f plain \xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80";  // ü € 😀
  const std::string out = string_json(all);
  ASSERT_TRUE(ordered_json::accept(out)) << out;
  EXPECT_EQ(ordered_json::parse(out).get<std::string>(), all);
  // The short escapes where JSON has them, \u00XX for the other control characters.
  for (const char* e : {"\\b", "\\t", "\\n", "\\f", "\\r", "\\\"", "\\\\", "\\u0000", "\\u001F"})
    EXPECT_NE(out.find(e), std::string::npos) << e << " in " << out;
  // Nothing else: '/', DEL and non-ASCII are written as they are (UTF-8).
  EXPECT_NE(out.find("\\\\/\x7f plain \xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80\""), std::string::npos)
      << out;
  // Keys are escaped the same way.
  const std::string obj = written(false, [](JsonWriter& w) {
    w.begin_object();
    w.member("a\"b\n", 1);
    w.end_object();
  });
  EXPECT_EQ(obj, "{\"a\\\"b\\n\":1}");
  // A default std::string_view (no pointer) is the empty string; RapidJSON asserts on null.
  EXPECT_EQ(string_json(std::string_view{}), "\"\"");
}

TEST(JsonWriter, BytesThatAreNoUtf8BecomeReplacementCharacters) {
  // Hand-picked: lone continuation, overlong, surrogate, above U+10FFFF, truncated sequences
  // (in the middle and at the end), a valid character right after a broken one.
  const std::vector<std::string> cases = {
      "\x80",
      "a\xffz",
      "\xc0\xaf",
      "\xe0\x80\xaf",
      "\xed\xa0\x80",
      "\xf4\x90\x80\x80",
      "\xf5\x80",
      "\xe2\x82",
      "\xe2\x82z",
      "\xf0\x9f\x98",
      "\xc3",
      "\xc3\xc3\xbc",
      "b\xfe\xfe",
      "closed with <\xc3/>",
      "\xf0\x9f\x98\x80\x80",
  };
  std::string scratch;
  for (const auto& s : cases) {
    const std::string out = string_json(s);
    ASSERT_TRUE(ordered_json::accept(out)) << out;
    EXPECT_EQ(ordered_json::parse(out).get<std::string>(), nlohmann_replaced(s)) << out;
    EXPECT_EQ(std::string(detail::utf8_sanitize(s, scratch)), nlohmann_replaced(s));
  }
  EXPECT_EQ(string_json("a\xffz"), "\"a\xef\xbf\xbdz\"");
  EXPECT_EQ(string_json("\xe2\x82z"), "\"\xef\xbf\xbdz\"");  // one U+FFFD for the cut sequence
  // Well-formed text comes back as it is, without a copy.
  const std::string ok = "plain \xc3\xbc \xf0\x9f\x98\x80";
  EXPECT_EQ(detail::utf8_sanitize(ok, scratch).data(), ok.data());

  // Random byte strings over the bytes that matter: the same replacements as nlohmann's dump
  // (the report's behaviour before RapidJSON), and always valid JSON.
  const unsigned char alphabet[] = {'a',  0x00, 0x22, 0x5c, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
                                    0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec,
                                    0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
  std::mt19937 rng(12);
  std::uniform_int_distribution<std::size_t> len(0, 10), pick(0, sizeof alphabet - 1);
  for (int i = 0; i < 20000; ++i) {
    std::string s(len(rng), '\0');
    for (auto& c : s)
      c = static_cast<char>(alphabet[pick(rng)]);
    const std::string out = string_json(s);
    ASSERT_TRUE(ordered_json::accept(out)) << ordered_json(out).dump(-1, ' ', true);
    ASSERT_EQ(ordered_json::parse(out).get<std::string>(), nlohmann_replaced(s))
        << ordered_json(out).dump(-1, ' ', true);
  }
}

TEST(JsonWriter, NumbersParseBackExactly) {
  const std::string ints = written(false, [](JsonWriter& w) {
    w.begin_array();
    w.value(std::uint8_t{255});
    w.value(std::int32_t{-1});
    w.value(std::numeric_limits<std::int64_t>::min());
    w.value(std::numeric_limits<std::uint64_t>::max());
    w.value(std::size_t{0});
    w.value(true);
    w.end_array();
  });
  EXPECT_EQ(ints, "[255,-1,-9223372036854775808,18446744073709551615,0,true]");

  std::vector<double> doubles = {
      0.0,    -0.0,  1.0,      0.1,     0.233, 8.6e-05, 4e-05,
      1e-300, 1e300, 123456.5, 0.25e-7, -2.5,  5e-324,  std::numeric_limits<double>::max()};
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> seconds(0, 100);
  for (int i = 0; i < 2000; ++i)
    doubles.push_back(seconds(rng) * 1000.0);  // like rtt_ms, from differences of times
  for (double d : doubles) {
    const std::string out = written(false, [&](JsonWriter& w) { w.value(d); });
    const ordered_json parsed = ordered_json::parse(out);
    ASSERT_TRUE(parsed.is_number_float()) << out;  // a double stays a double ("1.0", not "1")
    const double back = parsed.get<double>();
    EXPECT_EQ(std::memcmp(&back, &d, sizeof d), 0) << out;
    // Parsed-equal to what nlohmann wrote before.
    EXPECT_EQ(ordered_json::parse(ordered_json(d).dump()).get<double>(), back) << out;
  }
  // nlohmann wrote null for NaN and infinities; RapidJSON would refuse them.
  const std::string special = written(false, [](JsonWriter& w) {
    w.begin_array();
    w.value(std::nan(""));
    w.value(std::numeric_limits<double>::infinity());
    w.value(-std::numeric_limits<double>::infinity());
    w.end_array();
  });
  EXPECT_EQ(special, "[null,null,null]");
}

// A document with every shape: nested and empty objects and arrays, nulls, strings, numbers.
void write_sample(JsonWriter& w) {
  w.begin_object();
  w.member("schema_version", 4);
  w.member("name", "fed\"scope\n");
  w.key("empty_array");
  w.begin_array();
  w.end_array();
  w.key("empty_object");
  w.begin_object();
  w.end_object();
  w.key("list");
  w.value(std::vector<std::string>{"a", "b"});
  w.key("nested");
  w.begin_array();
  w.begin_object();
  w.member_or_null("x", "");
  w.member_or_null("y", "z");
  w.member("n", std::uint64_t{7});
  w.end_object();
  w.begin_array();
  w.end_array();
  w.end_array();
  w.end_object();
}

TEST(JsonWriter, PrettyIsWhatTheReportWroteBeforeAndCompactIsOneLine) {
  const std::string pretty = written(true, write_sample);
  const std::string compact = written(false, write_sample);
  // The same document as nlohmann's dump(2) of the same tree, byte for byte (the layout of the
  // report is unchanged; only how some doubles are spelled differs).
  const ordered_json dom = ordered_json::parse(compact);
  EXPECT_EQ(pretty, dom.dump(2));
  EXPECT_EQ(compact, dom.dump());
  EXPECT_EQ(ordered_json::parse(pretty), dom);
  EXPECT_EQ(compact.find('\n'), std::string::npos);
  EXPECT_EQ(compact.find(": "), std::string::npos);
}

TEST(JsonWriter, SinkBuffersAndWritesEverything) {
  // Longer than the sink's buffer, to an ostream and to a string.
  std::string big(100000, 'x');
  for (std::size_t i = 0; i < big.size(); i += 997)
    big[i] = '\n';
  std::ostringstream os;
  {
    JsonSink sink(os);
    JsonWriter w(sink, true);
    w.begin_array();
    for (int i = 0; i < 3; ++i)
      w.value(big);
    w.end_array();
  }
  const std::string s = written(true, [&](JsonWriter& w) {
    w.begin_array();
    for (int i = 0; i < 3; ++i)
      w.value(big);
    w.end_array();
  });
  EXPECT_EQ(os.str(), s);
  const ordered_json parsed = ordered_json::parse(s);
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[2].get<std::string>(), big);
  // JSON lines: one compact value after the other.
  std::string lines;
  {
    JsonSink sink(lines);
    JsonWriter w(sink, false);
    for (int i = 0; i < 3; ++i) {
      w.reset(sink);
      w.begin_object();
      w.member("seq", i);
      w.end_object();
      sink.Put('\n');
    }
  }
  EXPECT_EQ(lines, "{\"seq\":0}\n{\"seq\":1}\n{\"seq\":2}\n");
}

TEST(RenderJson, CompactAndPrettyAreTheSameReport) {
  for (const char* pcap :
       {"pcaps/core/nat-port-522/fw-any.pcap", "pcaps/xmpp/tls-cert-expired/s2s.pcap",
        "pcaps/lab/service-stopped/fw-any.pcap"}) {
    Options o;
    o.files = {std::string(FEDSCOPE_SOURCE_DIR) + "/" + pcap};
    o.inside_nets.push_back(*Cidr::parse("192.0.2.0/24"));
    Result r;
    std::string error;
    ASSERT_TRUE(analyze(o, r, error)) << pcap << ": " << error;
    std::ostringstream pretty, compact;
    render_json(r, pretty);
    JsonOptions c;
    c.compact = true;
    render_json(r, compact, c);
    const std::string p = pretty.str(), k = compact.str();
    ASSERT_TRUE(ordered_json::accept(p)) << pcap;
    ASSERT_TRUE(ordered_json::accept(k)) << pcap;
    EXPECT_EQ(ordered_json::parse(p), ordered_json::parse(k)) << pcap;
    EXPECT_FALSE(ordered_json::parse(k)["flows"].empty()) << pcap;
    // One line, ending in a newline; the pretty form ends in one too.
    EXPECT_EQ(k.find('\n'), k.size() - 1) << pcap;
    EXPECT_EQ(p.back(), '\n');
    EXPECT_LT(k.size(), p.size());
  }
}

}  // namespace
}  // namespace fedscope::report
