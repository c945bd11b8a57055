#pragma once
// Differential check of the XMPP parser's stanza fast path (issue #12 item 4): the same bytes,
// cut into the same chunks with the same gaps, go to a parser with the fast path and to one
// without; after every feed(), gap() and end() the two must agree on the events (describe()
// and offsets), the consumed count, the state, the failure, the offset, the depth (while
// parsing XML: after a failure or a TLS handoff the framer may have scanned past that byte)
// and the anomaly counters. Used by the libFuzzer target fuzz_xmpp_fastpath and by a unit
// test that replays a fixed set of generated inputs in every build.
//
// Input format (bytes from the fuzzer or from the unit test's generator):
//   [0] flags: role (% 3), bit 3 midstream, bit 4 small limits, bit 5 no stream header
//   [1] bit 0: structured (stanza pieces) or raw body; bits 1-2: how to cut
//   structured: [2] piece count k (% 48 + 1), then k piece bytes (>= 0xE0: mutate a byte),
//   then cut bytes; raw: the body is everything after [1], cut by a generator seeded from it.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fedscope/xmpp/parser.hpp"

namespace fedscope::test::differential {

inline constexpr std::string_view kHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
    "from='a.example' to='b.example' version='1.0'>";

/// Stanza-shaped pieces: plain ones the fast path takes, and every kind of doubt it must give
/// up on (and the slow path must then read exactly as before).
inline const std::vector<std::string>& pieces() {
  static const std::vector<std::string> kPieces = {
      "<message from='a@a.example/r' to='b@b.example' type='chat' id='m1'><body>hi</body>"
      "</message>",
      "<presence from='a@a.example/r' to='b@b.example'/>",
      "<iq type='get' id='p1' from='a.example' to='b.example'><ping xmlns='urn:xmpp:ping'/></iq>",
      " ",
      "\n",
      "\r\n",
      "\t",
      "<message xml:lang='en' to=\"x@b.example\"><body>caf\xc3\xa9 &amp; &#x41;&#65;&lt;&gt;"
      "&quot;&apos; a>b ]] ]</body><active xmlns='http://jabber.org/protocol/chatstates'/>"
      "</message>",
      "<message type='error' id='e1'><error type='cancel'><item-not-found "
      "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
      "<message><error type='wait'><x xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
      "</message>",
      "<db:result from='a.example' to='b.example'>key</db:result>",
      "<db:verify from='a.example' to='b.example' id='i' type='valid'/>",
      "<message><body><![CDATA[x<y]]></body></message>",
      "<message><!-- comment --></message>",
      "<message><?pi x?></message>",
      "<message a='1'b='2'/>",
      "<message a='1' a='2'/>",
      "<message><a></b></message>",
      "<message>]]></message>",
      "<message>\xff</message>",
      "<message>\xc0\x80</message>",
      "<message>\xef\xbf\xbe</message>",
      "<message>\xed\xa0\x80</message>",
      "<message to='\xf0\x9f\x98\x80@b.example'/>",
      "<message xmlns='jabber:client' to='c@b.example'/>",
      "<message xmlns='urn:other'/>",
      "<x:message xmlns:x='jabber:server'/>",
      "<message><x:y xmlns:x='urn:x'/></message>",
      "<message xmlns:x='urn:x'/>",
      "<message x:a='1'/>",
      "<message><body>\xe2\x82\xac</body></message>",
      "<r xmlns='urn:xmpp:sm:3'/>",
      "<message>&nbsp;</message>",
      "<message>&#0;</message>",
      "<message>&#x110000;</message>",
      "<message>&#xD800;</message>",
      "<message>&#;&#x;</message>",
      "<message><x xmlns='http://www.w3.org/XML/1998/namespace'/></message>",
      "<message><x xmlns=''/></message>",
      "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
      "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
      "</stream:stream>",
      std::string(kHeader),
      "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>",
      "<message><error/></message>",
      "<message to='a\tb'/>",
      "<presence>\r</presence>",
      "text",
      "]",
      "&amp;",
      "\xc3",
      "\r",
      "<message><a><a><a><a><a><a></a></a></a></a></a></a></message>",
      "<presence a='1' b='2' c='3' d='4' e='5' f='6' g='7' h='8' i='9' j='10'/>",
      "<message><body>" + std::string(600, 'x') + "</body></message>",
      "<message id='" + std::string(300, 'i') + "'/>",
      "<message to=' b@b.example '/>",
      "<message\n  to='b@b.example'\r\n  from='a@a.example' ><body >x</body ></message >",
      "<message to='b@b.example' / >",
      "<message to='b@b.example'/ >",
      "<message to=b/>",
      "<message to='b>c'/>",
      "<message to='a<b'/>",
      "<message to='a&amp;b'/>",
      "<message to='a\"b'/>",
      "<message 1a='x'/>",
      "<message><.a/></message>",
      "<message></message >",
      "< message/>",
      "<message/",
      "<messages/>",
      "<iq/>",
      "<compress xmlns='http://jabber.org/protocol/compress'><method>zlib</method></compress>",
      "<compressed xmlns='http://jabber.org/protocol/compress'/>",
      "x\x9c",
      "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
      "</starttls></stream:features>",
      "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
      "\x7f",
      "<message>\x7f</message>",
      "<message>\x01</message>",
      "<message>" + std::string(1100, 'y') + "</message>",
  };
  return kPieces;
}

struct Plan {
  fedscope::xmpp::Config config;
  std::string stream;
  struct Step {
    std::size_t bytes = 0;
    std::uint64_t gap_after = 0;
  };
  std::vector<Step> steps;  ///< the rest of the stream is one last chunk
};

inline Plan plan_from_bytes(const std::uint8_t* data, std::size_t size) {
  using namespace fedscope::xmpp;
  Plan plan;
  if (size < 2) return plan;
  const std::uint8_t flags = data[0];
  plan.config.role = flags % 3 == 0   ? Role::kInitiator
                     : flags % 3 == 1 ? Role::kReceiver
                                      : Role::kUnknown;
  plan.config.midstream = (flags & 0x08) != 0;
  if ((flags & 0x10) != 0) {
    plan.config.limits.max_stanza_bytes = 700;
    plan.config.limits.max_depth = 6;
    plan.config.limits.max_attributes = 8;
    plan.config.limits.max_token_bytes = 320;
    plan.config.limits.max_buffered_bytes = 400;
  }
  if ((flags & 0x20) == 0) plan.stream = std::string(kHeader);
  const std::uint8_t mode = data[1];
  std::size_t i = 2;
  if ((mode & 1) != 0) {
    const std::size_t k = i < size ? data[i++] % 48 + 1 : 0;
    const auto& all = pieces();
    for (std::size_t j = 0; j < k && i < size; ++j) {
      const std::uint8_t b = data[i++];
      if (b >= 0xE0 && !plan.stream.empty() && i < size) {  // mutate one byte
        const std::uint8_t at = data[i++];
        plan.stream[(static_cast<std::size_t>(b & 0x1F) * 256 + at) % plan.stream.size()] ^=
            static_cast<char>(at | 1);
      } else {
        plan.stream += all[b % all.size()];
      }
    }
  } else {
    plan.stream.append(reinterpret_cast<const char*>(data + i), size - i);
    i = size;
  }
  // How to cut: from the remaining bytes, or a generator seeded by the input.
  const int cut = (mode >> 1) & 3;
  std::size_t left = plan.stream.size();
  std::uint32_t seed = 2166136261u;
  for (std::size_t j = 0; j < size; ++j)
    seed = (seed ^ data[j]) * 16777619u;
  while (left > 0) {
    Plan::Step s;
    if (cut == 1) {
      s.bytes = 1;
    } else if (cut == 2 && i >= size) {
      break;  // the rest whole
    } else if (i < size) {
      const std::uint8_t c = data[i++];
      s.bytes = (c & 0x3F) + 1u;
      if ((c & 0xC0) == 0xC0) s.gap_after = c % 5 + 1u;
    } else {
      seed = seed * 1103515245u + 12345u;
      s.bytes = (seed >> 16) % 97 + 1;
    }
    s.bytes = std::min(s.bytes, left);
    left -= s.bytes;
    plan.steps.push_back(s);
  }
  return plan;
}

/// One parser's transcript, line by line: every event, and the parser's state after each call.
inline std::vector<std::string> transcript(const Plan& plan, bool fast,
                                           std::uint64_t* fast_stanzas = nullptr) {
  using namespace fedscope::xmpp;
  Config cfg = plan.config;
  cfg.stanza_fast_path = fast;
  StreamParser p(cfg);
  std::vector<std::string> out;
  const auto state = [&](std::string_view what, std::size_t consumed) {
    for (const Event& e : p.events())
      out.push_back(describe(e));
    p.clear_events();
    std::string s(what);
    s += " consumed=" + std::to_string(consumed) + " state=" + std::string(to_string(p.state())) +
         " failure=" + std::string(p.failure()) + " detail=" + std::string(p.failure_detail()) +
         " offset=" + std::to_string(p.offset()) + " tls=" + std::to_string(p.tls_offset()) +
         " depth=" + (p.state() == State::kXml ? std::to_string(p.depth()) : std::string("-")) +
         " anomalies=";
    for (const auto& [name, n] : p.anomalies().all())
      s += name + ":" + std::to_string(n) + ",";
    out.push_back(std::move(s));
  };
  const auto* b = reinterpret_cast<const std::uint8_t*>(plan.stream.data());
  std::size_t at = 0;
  const auto feed = [&](std::size_t n) {
    // Like the callers: after a TLS handoff the unconsumed rest is offered again later.
    const std::size_t used = p.feed(std::span<const std::uint8_t>(b + at, n));
    at += n;
    state("feed", used);
  };
  for (const Plan::Step& s : plan.steps) {
    feed(s.bytes);
    if (s.gap_after != 0) {
      p.gap(s.gap_after);
      state("gap", 0);
    }
  }
  if (at < plan.stream.size()) feed(plan.stream.size() - at);
  p.end();
  state("end", 0);
  if (fast_stanzas != nullptr) *fast_stanzas += p.fast_path_stanzas();
  return out;
}

/// "" when both paths agree, else the first difference.
inline std::string compare(const Plan& plan, std::uint64_t* fast_stanzas = nullptr) {
  const std::vector<std::string> slow = transcript(plan, false);
  const std::vector<std::string> fast = transcript(plan, true, fast_stanzas);
  for (std::size_t i = 0; i < std::max(slow.size(), fast.size()); ++i) {
    const std::string a = i < slow.size() ? slow[i] : "(nothing)";
    const std::string b = i < fast.size() ? fast[i] : "(nothing)";
    if (a != b) return "line " + std::to_string(i) + ":\n  slow: " + a + "\n  fast: " + b;
  }
  return "";
}

}  // namespace fedscope::test::differential
