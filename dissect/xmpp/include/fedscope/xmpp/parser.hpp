#pragma once
/// @file
/// The XMPP stream parser: one per direction of a TCP connection, sans-IO, on expat.
///
/// Plain bytes in, typed events out. No I/O, no exceptions on the data path, no libtins or
/// libpcap: the offline dissector (reassembled TCP) and the relay (socket reads) use the same
/// object. Shape borrowed from Boost.Beast's parser and Zeek's analyzers:
///
/// @code
///   StreamParser p({.role = Role::kInitiator});
///   std::size_t n = p.feed(bytes);          // events appended to p.events()
///   for (const Event& e : p.events()) ...;  // e.begin / e.end: offsets in this direction
///   p.clear_events();
///   if (p.state() == State::kTls) tls.feed(bytes.subspan(n));  // STARTTLS: rest is TLS
///   p.gap(lost);                            // bytes lost: resynchronise at a stanza boundary
///   p.end();                                // end of this direction
/// @endcode
///
/// **Every split of the input gives the same events with the same offsets**: the parser hands
/// expat only complete markup (it holds an unfinished tag itself, bounded), decides limits and
/// restarts at exact byte positions, and turns expat's reparse deferral off where it exists.
///
/// **Buffer ownership**: feed() borrows @p bytes for the duration of the call only; whatever
/// the parser needs later (an unfinished tag, a few bytes of a possible resync boundary, the
/// first bytes of a non-XMPP stream) it copies, within the limits in Limits. Events own their
/// strings; the parser owns the pending events until the caller takes or clears them.
///
/// Restricted XML (RFC 6120 §11) and malformed XML stop the parsing of this direction (sticky
/// failure); so does any limit. Each such stop and every other defect bumps a named counter
/// (see the kAnomaly* names) and appends an Anomaly event.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fedscope/base/anomaly.hpp"

namespace fedscope::xmpp {

// ---------------------------------------------------------------------------------------------
// Namespaces

inline constexpr std::string_view kNsStreams = "http://etherx.jabber.org/streams";
inline constexpr std::string_view kNsServer = "jabber:server";
inline constexpr std::string_view kNsClient = "jabber:client";
inline constexpr std::string_view kNsDialback = "jabber:server:dialback";
inline constexpr std::string_view kNsDialbackFeature = "urn:xmpp:features:dialback";
inline constexpr std::string_view kNsTls = "urn:ietf:params:xml:ns:xmpp-tls";
inline constexpr std::string_view kNsSasl = "urn:ietf:params:xml:ns:xmpp-sasl";
inline constexpr std::string_view kNsBidi = "urn:xmpp:bidi";
inline constexpr std::string_view kNsBidiFeature = "urn:xmpp:features:bidi";
inline constexpr std::string_view kNsStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams";
inline constexpr std::string_view kNsStanzaErrors = "urn:ietf:params:xml:ns:xmpp-stanzas";
inline constexpr std::string_view kNsCompressFeature = "http://jabber.org/features/compress";
inline constexpr std::string_view kNsCompress = "http://jabber.org/protocol/compress";
inline constexpr std::string_view kNsXml = "http://www.w3.org/XML/1998/namespace";

// ---------------------------------------------------------------------------------------------
// Anomaly names (counter names and Anomaly::name)

/// DOCTYPE, entity declaration or reference, comment, processing instruction (RFC 6120 §11.1).
inline constexpr std::string_view kAnomalyRestricted = "xml.restricted";
/// Anything expat rejects (bad UTF-8, NUL, mismatched tag, unbound prefix, duplicate
/// attribute, ...); Anomaly::detail keeps expat's error text.
inline constexpr std::string_view kAnomalyNotWellFormed = "xml.not_well_formed";
inline constexpr std::string_view kAnomalyStanzaTooLarge = "xml.stanza_too_large";
inline constexpr std::string_view kAnomalyTooDeep = "xml.too_deep";
inline constexpr std::string_view kAnomalyTooManyAttributes = "xml.too_many_attributes";
inline constexpr std::string_view kAnomalyTokenTooLarge = "xml.token_too_large";
inline constexpr std::string_view kAnomalyBufferLimit = "xml.buffer_limit";
/// The root element is not {http://etherx.jabber.org/streams}stream.
inline constexpr std::string_view kAnomalyBadStreamHeader = "xmpp.bad_stream_header";
/// The first bytes after the STARTTLS handoff point are not a TLS record header.
inline constexpr std::string_view kAnomalyStartTlsPlaintextAfter = "xmpp.starttls_plaintext_after";
/// <starttls/> from the receiver or <proceed/> from the initiator (no handoff).
inline constexpr std::string_view kAnomalyTlsWrongDirection = "xmpp.tls_wrong_direction";
inline constexpr std::string_view kAnomalyMidstreamResync = "xmpp.midstream_resync";
inline constexpr std::string_view kAnomalyGapResync = "xmpp.gap_resync";
/// Non-whitespace character data directly inside the stream element (once per stream).
inline constexpr std::string_view kAnomalyTextAtStreamLevel = "xmpp.text_at_stream_level";
/// end() inside a stanza or an unfinished tag.
inline constexpr std::string_view kAnomalyTruncated = "xmpp.truncated";
/// The stream does not start like XML (see NotXmpp).
inline constexpr std::string_view kAnomalyNotXmpp = "xmpp.not_xmpp";
/// Stream compression (XEP-0138) started: the rest of this direction is opaque.
inline constexpr std::string_view kAnomalyCompressed = "xmpp.compressed";
/// expat could not allocate a parser (the direction is not parsed at all).
inline constexpr std::string_view kAnomalyParserUnavailable = "xml.parser_unavailable";

// ---------------------------------------------------------------------------------------------
// Configuration

/// Which end of the TCP connection this direction comes from. It decides which element hands
/// the direction over to TLS: the initiator's TLS starts right after its own `<starttls/>`,
/// the receiver's right after its `<proceed/>`. kUnknown hands off after either.
enum class Role : std::uint8_t { kInitiator, kReceiver, kUnknown };

/// Limits on untrusted dimensions. Reaching any of them stops parsing this direction with the
/// named anomaly, decided at an exact byte offset (the same for every split of the input).
/// With these defaults the memory a parser holds for its input (memory_bytes()) stays below
/// 2 * max_buffered_bytes + 512 KiB whatever the input (measured: under 270 KB for the worst
/// inputs in the unit tests). Raising max_attributes far above the default lets expat's own
/// attribute tables grow with it.
struct Limits {
  /// One top-level element (stanza, features, dialback, ...), from `<` to `>` inclusive.
  /// Prosody's s2s default. → xml.stanza_too_large
  std::size_t max_stanza_bytes = 512 * 1024;
  /// Element nesting, the stream element counting as 1. → xml.too_deep
  std::size_t max_depth = 64;
  /// Attributes (namespace declarations included) in one start tag. → xml.too_many_attributes
  std::size_t max_attributes = 64;
  /// One attribute value, or one run of character data inside a stanza (text at stream level,
  /// e.g. whitespace keepalives, is not limited). → xml.token_too_large
  std::size_t max_token_bytes = 64 * 1024;
  /// One unfinished markup token (start tag, end tag, XML declaration) the parser must hold
  /// until its `>` arrives. → xml.buffer_limit
  std::size_t max_buffered_bytes = 128 * 1024;
};

struct Config {
  Role role = Role::kUnknown;
  /// The capture starts in the middle of the stream: skip to a stanza boundary first.
  bool midstream = false;
  Limits limits{};
  /// The stanza fast path: an ordinary top-level `<message>`, `<presence>` or `<iq>` that a
  /// small validator proves well-formed and plain (ASCII names without prefixes except
  /// `xml:lang`, no own namespace other than jabber:server/jabber:client, no `type='error'`,
  /// no `<error>` child, no CDATA, comment or PI, plain attribute values, well below every
  /// limit) yields its Stanza event without expat. Anything else, and any stanza the validator
  /// gives up on, goes through expat from its first byte. The events, their offsets and the
  /// feed() call that reports them are the same either way (the differential fuzz target
  /// fuzz_xmpp_fastpath checks this); off only to compare the two paths.
  bool stanza_fast_path = true;
};

// ---------------------------------------------------------------------------------------------
// Events

/// `<stream:stream>` (every header: the first one and each restart).
struct StreamOpen {
  std::string from, to, id, version;
  std::string default_ns;  ///< "jabber:server"; "jabber:client" on a client stream
  std::string xmlns_db;    ///< namespace bound to the "db" prefix (dialback), or ""
  std::string lang;        ///< xml:lang
  bool restart = false;    ///< an earlier header was seen in this direction
};

struct StartTlsFeature {
  bool offered = false;
  bool required = false;
};

/// `<stream:features>`.
struct StreamFeatures {
  StartTlsFeature starttls;
  std::vector<std::string> sasl_mechanisms;  ///< in order, e.g. {"EXTERNAL"}
  bool dialback = false;                     ///< urn:xmpp:features:dialback
  bool dialback_errors = false;              ///< its <errors/> child (XEP-0220 §2.4)
  bool bidi = false;                         ///< urn:xmpp:features:bidi (or urn:xmpp:bidi)
  bool compression_offered = false;          ///< http://jabber.org/features/compress
  std::vector<std::string> other;            ///< other features as "{ns}local"
};

struct StartTls {};
struct Proceed {};
struct TlsFailure {};
struct SaslAuth {
  std::string mechanism;
};
struct SaslSuccess {};
struct SaslFailure {
  std::string condition;  ///< e.g. "not-authorized"
};

enum class DialbackType : std::uint8_t { kRequest, kValid, kInvalid, kError, kOther };

/// Fields shared by `<db:result>` and `<db:verify>` (XEP-0220).
struct DialbackElement {
  std::string from, to, id;
  DialbackType type = DialbackType::kRequest;  ///< no type attribute: a request
  std::string type_text;                       ///< the raw type attribute
  std::string error_condition;                 ///< type='error': the stanza error condition
  bool has_key = false;                        ///< non-whitespace text content
};
struct DialbackResult : DialbackElement {};
struct DialbackVerify : DialbackElement {};

/// `<stream:error>`.
struct StreamError {
  std::string condition;  ///< e.g. "host-unknown"
  std::string text;       ///< <text/> content, at most 1 KiB kept
};

enum class StanzaKind : std::uint8_t { kMessage, kPresence, kIq, kOther };

/// A top-level element: message, presence or iq in jabber:server/jabber:client, or any other
/// top-level element the events above do not cover (kOther, e.g. XEP-0198 `<r/>`).
struct Stanza {
  StanzaKind kind = StanzaKind::kOther;
  std::string name;  ///< "{ns}local" for kOther, "" otherwise
  std::string type, from, to, id;
  std::uint64_t size_bytes = 0;
  std::string error_condition;  ///< stanza error (<error><cond xmlns=...-stanzas/></error>)
  std::string error_type;       ///< <error type='...'>
};

/// `</stream:stream>`.
struct StreamClose {};

/// A run of whitespace between two top-level elements (keepalives; one run may hold several
/// keepalives sent apart: map begin/end to packets). Reported when the run ends: at the next
/// element, the stream close, a restart, a gap or end(). A run that also holds other text is
/// not reported (see xmpp.text_at_stream_level).
struct Whitespace {
  std::uint64_t bytes = 0;
};

/// TLS starts at @c offset in this direction (STARTTLS); see StreamParser::feed().
struct TlsHandoff {
  std::uint64_t offset = 0;
};

/// The direction starts with a TLS handshake record (XEP-0368 direct TLS): all of it is TLS.
/// Decided on the first byte (0x16), so that TlsHandoff semantics hold at offset 0.
struct DirectTls {};

/// The direction does not start like XML. Reported once 32 bytes are in, or at gap()/end().
struct NotXmpp {
  std::string kind;         ///< "http", "ssh", "tls", "binary" or "text"
  std::string first_bytes;  ///< up to 32 bytes, non-printable ones as '.'
};

/// Stream compression (XEP-0138) starts at @c offset: the rest of the direction is opaque.
struct CompressionHandoff {
  std::uint64_t offset = 0;
};

/// A defect. The same name is counted in StreamParser::anomalies().
struct Anomaly {
  std::string name;
  std::string detail;
};

using EventBody =
    std::variant<StreamOpen, StreamFeatures, StartTls, Proceed, TlsFailure, SaslAuth, SaslSuccess,
                 SaslFailure, DialbackResult, DialbackVerify, StreamError, Stanza, StreamClose,
                 Whitespace, TlsHandoff, DirectTls, NotXmpp, CompressionHandoff, Anomaly>;

/// One event. [begin, end) are byte offsets in this direction's stream (gaps included), so
/// the caller can map them to packets: for an element, from its `<` to one past its `>`.
struct Event {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  EventBody body;
};

/// One line describing @p e, e.g. "12-57 StreamOpen from=a.example to=b.example ...".
/// Stable: unit tests compare transcripts made of it.
std::string describe(const Event& e);
std::string_view to_string(DialbackType t);
std::string_view to_string(StanzaKind k);

// ---------------------------------------------------------------------------------------------
// The parser

enum class State : std::uint8_t {
  kStart,   ///< nothing decided yet (the first byte tells XML, direct TLS or something else)
  kXml,     ///< parsing XML
  kResync,  ///< skipping to a stanza boundary (midstream start, or after a gap)
  kTls,     ///< handed over to TLS (STARTTLS or direct TLS): feed() consumes nothing more
  kFailed,  ///< parsing stopped for good (fatal anomaly, or NotXmpp): see failure()
  kOpaque,  ///< stream compression started: feed() discards
  kEnded,   ///< end() was called
};
std::string_view to_string(State s);

class StreamParser {
 public:
  explicit StreamParser(Config config = {});
  ~StreamParser();
  StreamParser(StreamParser&&) noexcept;
  StreamParser& operator=(StreamParser&&) noexcept;
  StreamParser(const StreamParser&) = delete;
  StreamParser& operator=(const StreamParser&) = delete;

  /// Parses the next bytes of this direction (borrowed for the call only) and appends events.
  /// Returns how many of them belong to the XMPP layer: all of them, except after a TLS
  /// handoff, where the count stops at TlsHandoff::offset (the rest, and everything fed
  /// later, belongs to TLS; `bytes.subspan(n)` is where TLS starts). After the handoff feed()
  /// consumes nothing but still looks at the first two bytes after the handoff point and
  /// reports Anomaly{"xmpp.starttls_plaintext_after"} if they are not a TLS record header
  /// (type 0x14-0x17, version major 0x03): keep calling it with the same bytes you give the
  /// TLS decoder (it costs nothing). Direct TLS (first byte 0x16) hands off at offset 0.
  /// In states kFailed and kOpaque the bytes are consumed and ignored; after end() nothing is.
  std::size_t feed(std::span<const std::uint8_t> bytes);

  /// @p length bytes were lost. Inside XML the partial element in hand is dropped (never
  /// reported) and the parser skips to the next clear boundary (`<message`, `<presence`,
  /// `<iq`, `<db:result`, `<db:verify`, `<stream:features`, `<stream:error`,
  /// `</stream:stream>`, `<stream:stream`, `<?xml`), where it goes on inside a synthetic
  /// stream context (default namespace jabber:server, prefixes stream and db bound) and
  /// reports Anomaly{"xmpp.gap_resync"}. A boundary is only a guess: `<message` inside a
  /// forwarded message (XEP-0297) looks the same.
  void gap(std::uint64_t length);

  /// End of this direction: reports pending whitespace, a pending NotXmpp, and
  /// xmpp.truncated if it ends inside a stanza or a tag.
  void end();

  /// Events since the last clear_events()/take_events(), in stream order.
  const std::vector<Event>& events() const;
  void clear_events();
  std::vector<Event> take_events();

  State state() const;
  /// True while the parser wants more bytes (kStart, kXml, kResync).
  bool need_more() const;
  /// Parsing of this direction stopped for good (a fatal anomaly or NotXmpp).
  bool failed() const;
  /// Name of the anomaly that stopped parsing ("" unless failed()).
  std::string_view failure() const;
  /// Its detail (expat's error text for xml.not_well_formed).
  std::string_view failure_detail() const;

  /// Bytes seen so far, gaps included (the offset of the next byte).
  std::uint64_t offset() const;
  /// Where TLS starts (valid in state kTls).
  std::uint64_t tls_offset() const;
  /// Element depth as parsed so far (stream element = 1); meaningful in state kXml only.
  std::size_t depth() const;
  /// Input bytes the parser holds (unfinished tag, a stanza the fast path is still reading,
  /// resync window, first bytes); at most Limits::max_buffered_bytes (+ a few bytes).
  std::size_t buffered_bytes() const;
  /// Heap held by the parser for input: buffered_bytes() capacity plus expat's own heap
  /// (counted exactly through expat's memory-handling suite).
  std::size_t memory_bytes() const;
  /// Whether expat's reparse deferral could be turned off (expat with
  /// XML_SetReparseDeferralEnabled); without it expat delivers callbacks per chunk anyway.
  static bool reparse_deferral_disabled();

  const AnomalyCounters& anomalies() const;
  /// Stanzas that took the fast path (see Config::stanza_fast_path), for tests and benchmarks.
  std::uint64_t fast_path_stanzas() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedscope::xmpp
