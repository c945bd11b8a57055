// The XMPP stream parser: a small framer of our own in front of expat.
//
// The framer walks every byte once and knows just enough XML to find where markup tokens
// (`<...>`) start and end, the element depth, the start of each top-level element and the size
// of every token. With that it
//   * hands expat only complete markup: an unfinished tag is held in carry_ (bounded by
//     max_buffered_bytes) and given to expat once its `>` arrives. Expat therefore never
//     rescans a partial token (no quadratic work on a 1-byte drip) and delivers the same
//     callbacks whatever the split;
//   * decides every limit at an exact byte position, after handing expat exactly the bytes
//     before that position, so events and offsets never depend on the split;
//   * rejects restricted XML (comments, PIs, DOCTYPE and other `<!` declarations) as soon as the
//     first bytes of the token say what it is, before expat sees any of it;
//   * finds stream restarts (a new `<?xml` or `<stream:stream>` directly inside the stream, or
//     after it closed) and starts a fresh expat document (XML_ParserReset) at that byte.
// Expat does the real XML work (well-formedness, UTF-8, namespaces) and the callbacks below
// turn its elements into events. Offsets come from XML_GetCurrentByteIndex plus the offset at
// which the current expat document started (doc_base_).

#include <expat.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fedscope/xmpp/parser.hpp"

namespace fedscope::xmpp {
namespace {

constexpr XML_Char kNsSeparator[] = "\x01";
constexpr char kNsSep = '\x01';
/// Largest piece handed to expat in one XML_Parse call: bounds expat's own input buffer.
constexpr std::size_t kExpatSlice = 32 * 1024;
/// Text kept from <text/>, <mechanism/> and similar elements.
constexpr std::size_t kMaxKeptText = 1024;
constexpr std::size_t kFirstBytes = 32;
constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t kShrinkCarryAbove = 64 * 1024;

/// Root element of the synthetic stream context used after a midstream start or a gap.
constexpr std::string_view kSyntheticHeader =
    "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
    "xmlns:db='jabber:server:dialback'>";

// ---------------------------------------------------------------------------------------------
// Expat's heap, counted per parser. The memory-handling suite has no user pointer, so the
// account to charge is set (thread-locally) around every expat call that may allocate; each
// block remembers its account, so frees and reallocs need nothing.

struct MemAccount {
  std::size_t bytes = 0;
};

thread_local MemAccount* t_account = nullptr;

struct alignas(alignof(std::max_align_t)) AllocHeader {
  MemAccount* account;
  std::size_t size;
};

void* xml_malloc(std::size_t n) {
  auto* h = static_cast<AllocHeader*>(std::malloc(sizeof(AllocHeader) + n));
  if (h == nullptr) return nullptr;
  h->account = t_account;
  h->size = n;
  if (h->account != nullptr) h->account->bytes += n;
  return h + 1;
}

void xml_free(void* p) {
  if (p == nullptr) return;
  AllocHeader* h = static_cast<AllocHeader*>(p) - 1;
  if (h->account != nullptr) h->account->bytes -= h->size;
  std::free(h);
}

void* xml_realloc(void* p, std::size_t n) {
  if (p == nullptr) return xml_malloc(n);
  AllocHeader* h = static_cast<AllocHeader*>(p) - 1;
  MemAccount* account = h->account;
  const std::size_t old = h->size;
  auto* nh = static_cast<AllocHeader*>(std::realloc(h, sizeof(AllocHeader) + n));
  if (nh == nullptr) return nullptr;
  nh->size = n;
  if (account != nullptr) account->bytes = account->bytes - old + n;
  return nh + 1;
}

const XML_Memory_Handling_Suite kMemorySuite{xml_malloc, xml_realloc, xml_free};

class AccountScope {
 public:
  explicit AccountScope(MemAccount* a) : prev_(t_account) { t_account = a; }
  ~AccountScope() { t_account = prev_; }
  AccountScope(const AccountScope&) = delete;
  AccountScope& operator=(const AccountScope&) = delete;

 private:
  MemAccount* prev_;
};

// ---------------------------------------------------------------------------------------------
// Small helpers

bool is_xml_ws(std::uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool all_ws(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_xml_ws(static_cast<std::uint8_t>(c)); });
}

std::string_view trim_ws(std::string_view s) {
  while (!s.empty() && is_xml_ws(static_cast<std::uint8_t>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && is_xml_ws(static_cast<std::uint8_t>(s.back())))
    s.remove_suffix(1);
  return s;
}

struct QName {
  std::string_view ns;
  std::string_view local;
};

QName split_name(const XML_Char* name) {
  const std::string_view n(name);
  const std::size_t pos = n.find(kNsSep);
  if (pos == std::string_view::npos) return {{}, n};
  return {n.substr(0, pos), n.substr(pos + 1)};
}

std::string clark(QName q) {
  std::string s;
  s.reserve(q.ns.size() + q.local.size() + 2);
  s += '{';
  s += q.ns;
  s += '}';
  s += q.local;
  return s;
}

std::string_view attr(const XML_Char** atts, std::string_view name) {
  for (std::size_t i = 0; atts[i] != nullptr; i += 2)
    if (name == atts[i]) return atts[i + 1];
  return {};
}

/// The routing attributes of a top-level element, read in one pass.
struct Routing {
  std::string_view from, to, id, type;
};

Routing routing(const XML_Char** atts) {
  Routing r;
  for (std::size_t i = 0; atts[i] != nullptr; i += 2) {
    const std::string_view n(atts[i]);
    if (n == "from")
      r.from = atts[i + 1];
    else if (n == "to")
      r.to = atts[i + 1];
    else if (n == "id")
      r.id = atts[i + 1];
    else if (n == "type")
      r.type = atts[i + 1];
  }
  return r;
}

const std::string& xml_lang_name() {
  static const std::string name = std::string(kNsXml) + kNsSep + "lang";
  return name;
}

std::string printable(std::span<const std::uint8_t> b) {
  std::string s;
  s.reserve(b.size());
  for (std::uint8_t c : b)
    s += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
  return s;
}

std::string hex_byte(std::uint8_t c) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "0x";
  s += kHex[c >> 4];
  s += kHex[c & 0xf];
  return s;
}

bool is_tls_record_type(std::uint8_t c) {
  return c >= 0x14 && c <= 0x17;
}

/// Saturating a + b.
std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) {
  return a > kNoLimit - b ? kNoLimit : a + b;
}

// Resynchronisation boundaries: `<` + name + delimiter.
enum class Match : std::uint8_t { kNo, kNeedMore, kYes };

struct Boundary {
  std::string_view name;  ///< after '<'
  bool stream_header;     ///< starts a real stream document (no synthetic context)
  std::string_view delimiters;
};

constexpr std::string_view kNameDelims = " \t\r\n/>";
constexpr std::array<Boundary, 10> kBoundaries{{
    {"message", false, kNameDelims},
    {"presence", false, kNameDelims},
    {"iq", false, kNameDelims},
    {"db:result", false, kNameDelims},
    {"db:verify", false, kNameDelims},
    {"stream:features", false, kNameDelims},
    {"stream:error", false, kNameDelims},
    {"/stream:stream", false, " \t\r\n>"},
    {"stream:stream", true, kNameDelims},
    {"?xml", true, " \t\r\n"},
}};

/// @p p[0] == '<'. kYes sets @p stream_header.
Match match_boundary(const std::uint8_t* p, std::size_t n, bool& stream_header) {
  bool need_more = false;
  for (const Boundary& b : kBoundaries) {
    const std::size_t have = n - 1;
    const std::size_t cmp = std::min(have, b.name.size());
    if (std::memcmp(p + 1, b.name.data(), cmp) != 0) continue;
    if (have <= b.name.size()) {
      need_more = true;
      continue;
    }
    if (b.delimiters.find(static_cast<char>(p[1 + b.name.size()])) != std::string_view::npos) {
      stream_header = b.stream_header;
      return Match::kYes;
    }
  }
  return need_more ? Match::kNeedMore : Match::kNo;
}

/// Bytes that need attention inside a start tag (outside attribute values).
constexpr std::array<bool, 256> make_tag_special() {
  std::array<bool, 256> t{};
  t['>'] = t['"'] = t['\''] = t['='] = t['/'] = true;
  return t;
}
constexpr std::array<bool, 256> kTagSpecial = make_tag_special();

std::string not_xmpp_kind(std::span<const std::uint8_t> b) {
  const std::string_view s(reinterpret_cast<const char*>(b.data()), b.size());
  static constexpr std::array<std::string_view, 10> kHttp{
      "GET ",     "POST ",    "HEAD ",  "PUT ",   "DELETE ",
      "OPTIONS ", "CONNECT ", "PATCH ", "TRACE ", "HTTP/"};
  for (std::string_view m : kHttp)
    if (s.starts_with(m)) return "http";
  if (s.starts_with("SSH-")) return "ssh";
  if (b.size() >= 2 && is_tls_record_type(b[0]) && b[1] == 0x03) return "tls";
  const bool text = std::all_of(b.begin(), b.end(), [](std::uint8_t c) {
    return (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\r' || c == '\n';
  });
  return text ? "text" : "binary";
}

// ---------------------------------------------------------------------------------------------
// The stanza fast path (issue #12 item 4). PlainStanzaScanner reads one top-level element from
// its '<' and says whether it is a plain message/presence/iq whose Stanza event can be built
// without expat. It accepts only what expat surely accepts with the same result, and gives up
// (kDeclined) on anything else: giving up is always safe, since the stanza then goes through
// expat from its first byte. It never looks at a byte twice and can be resumed when the stanza
// continues in the next chunk (the caller keeps the bytes contiguous).

constexpr std::size_t kFastMaxStanza = 64 * 1024;
constexpr std::size_t kFastMaxAttrs = 16;

constexpr std::array<bool, 256> make_name_start() {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c)
    t[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c)
    t[static_cast<std::size_t>(c)] = true;
  t['_'] = true;
  return t;
}
constexpr std::array<bool, 256> kNameStart = make_name_start();

constexpr std::array<bool, 256> make_name_char() {
  std::array<bool, 256> t = make_name_start();
  for (int c = '0'; c <= '9'; ++c)
    t[static_cast<std::size_t>(c)] = true;
  t['.'] = t['-'] = true;
  return t;
}
constexpr std::array<bool, 256> kNameChar = make_name_char();

/// Printable ASCII (0x20-0x7e, so never DEL) except @p except; with @p tab_lf_cr also those.
constexpr std::array<bool, 256> make_plain(std::string_view except, bool tab_lf_cr) {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c)
    t[static_cast<std::size_t>(c)] = except.find(static_cast<char>(c)) == std::string_view::npos;
  t['\t'] = t['\n'] = t['\r'] = tab_lf_cr;
  return t;
}
/// Character data that needs no attention.
constexpr std::array<bool, 256> kPlainText = make_plain("<&]>", true);
/// Attribute value bytes that need no attention (tab, LF and CR would be normalised by expat:
/// given up on).
constexpr std::array<bool, 256> kPlainValue = make_plain("<&\"'", false);

/// The first byte in s[p, lim) that kPlainText (or, with @p value, kPlainValue) does not
/// cover; 16 bytes a step where SSE2 is there. May stop early at a tab, LF or CR, which the
/// caller takes as plain.
template <bool value>
std::size_t skip_plain(const std::uint8_t* s, std::size_t p, std::size_t lim) {
#if defined(__SSE2__)
  const __m128i c1 = _mm_set1_epi8('<');
  const __m128i c2 = _mm_set1_epi8('&');
  const __m128i c3 = _mm_set1_epi8(value ? '"' : ']');
  const __m128i c4 = _mm_set1_epi8(value ? '\'' : '>');
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i space = _mm_set1_epi8(0x20);
  while (p + 16 <= lim) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + p));
    __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, c1), _mm_cmpeq_epi8(v, c2));
    m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, c3), _mm_cmpeq_epi8(v, c4)));
    // Signed compare: below 0x20, and every byte from 0x80 up (non-ASCII), in one go.
    m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, del), _mm_cmplt_epi8(v, space)));
    const int bits = _mm_movemask_epi8(m);
    if (bits != 0) return p + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(bits)));
    p += 16;
  }
#endif
  const std::array<bool, 256>& plain = value ? kPlainValue : kPlainText;
  while (p < lim && plain[s[p]])
    ++p;
  return p;
}

bool is_xml_char(std::uint32_t v) {
  return v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) ||
         (v >= 0xE000 && v <= 0xFFFD) || (v >= 0x10000 && v <= 0x10FFFF);
}

class PlainStanzaScanner {
 public:
  enum class Result : std::uint8_t { kAccepted, kDeclined, kIncomplete };
  /// Stays this far below the parser's limits, so that the framer's limit checks can never
  /// fire inside an accepted stanza.
  struct Bounds {
    std::size_t max_len = 0;      ///< bytes of the whole stanza
    std::size_t max_run = 0;      ///< one attribute value or one run of character data
    std::size_t max_attrs = 0;    ///< attributes in one start tag
    std::size_t max_nesting = 0;  ///< open elements, the stanza itself counting as 1
  };
  struct Slice {
    std::uint32_t off = 0, len = 0;
  };

  void reset(const Bounds& b) {
    bounds_ = b;
    st_ = St::kInit;
    pos_ = 0;
    stack_.clear();
    top_open_ = false;
    kind_ = StanzaKind::kOther;
    from_ = to_ = id_ = type_ = Slice{};
    u8_need_ = 0;
  }

  /// @p s holds the stanza's first @p n bytes (s[0] is its '<'); scanning resumes where the
  /// previous call stopped. kAccepted: length() is the stanza's size.
  Result scan(const std::uint8_t* s, std::size_t n);

  std::size_t length() const { return pos_; }
  /// The stanza's start tag is complete (expat would have reported its start by now).
  bool top_open() const { return top_open_; }
  /// Elements open (the framer's depth minus the stream element).
  std::size_t nesting() const { return stack_.size(); }
  StanzaKind kind() const { return kind_; }
  Slice from() const { return from_; }
  Slice to() const { return to_; }
  Slice id() const { return id_; }
  Slice type() const { return type_; }

 private:
  enum class St : std::uint8_t {
    kInit,  // expects the stanza's '<'
    kLt,    // after '<': a name, or '/' for an end tag
    kName,  // element name of a start tag
    kTag,   // inside a start tag, after the name or an attribute value
    kAttrName,
    kEq,     // after an attribute name: spaces, then '='
    kQuote,  // after '=': spaces, then the opening quote
    kValue,
    kEmpty,    // after '/' in a start tag: '>'
    kEndName,  // after "</"
    kEndTail,  // after an end tag's name: spaces, then '>'
    kText,
    kRef,  // after '&' in character data
  };

  Result decline() { return Result::kDeclined; }
  bool start_element(const std::uint8_t* s, std::size_t end);
  bool end_attribute_name(const std::uint8_t* s, std::size_t end);
  bool end_attribute_value(const std::uint8_t* s, std::size_t end);
  bool end_reference();
  bool utf8_lead(std::uint8_t c);
  bool utf8_next(std::uint8_t c);

  Bounds bounds_{};
  St st_ = St::kInit;
  std::size_t pos_ = 0;
  std::vector<Slice> stack_;  // names of the open elements
  bool top_open_ = false;
  StanzaKind kind_ = StanzaKind::kOther;
  Slice from_, to_, id_, type_;
  // current tag
  Slice name_;
  std::array<Slice, kFastMaxAttrs> attrs_{};
  std::size_t attrs_n_ = 0;
  bool ws_seen_ = false;
  std::uint8_t quote_ = 0;
  std::size_t value_start_ = 0;
  // character data
  std::size_t text_start_ = 0;
  std::uint8_t rsqb_ = 0;  // ']' just before (for "]]>")
  std::array<char, 10> ref_{};
  std::size_t ref_n_ = 0;
  // UTF-8 sequence in progress
  std::uint8_t u8_need_ = 0;
  std::uint8_t u8_lo_ = 0x80, u8_hi_ = 0xBF;
  bool u8_ef_ = false;  // lead byte 0xEF: U+FFFE and U+FFFF are not XML characters
};

std::string_view slice_view(const std::uint8_t* s, PlainStanzaScanner::Slice x) {
  return {reinterpret_cast<const char*>(s) + x.off, x.len};
}

bool PlainStanzaScanner::utf8_lead(std::uint8_t c) {
  u8_lo_ = 0x80;
  u8_hi_ = 0xBF;
  u8_ef_ = false;
  if (c >= 0xC2 && c <= 0xDF) {
    u8_need_ = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    u8_need_ = 2;
    if (c == 0xE0) u8_lo_ = 0xA0;
    if (c == 0xED) u8_hi_ = 0x9F;  // no surrogates
    u8_ef_ = c == 0xEF;
  } else if (c >= 0xF0 && c <= 0xF4) {
    u8_need_ = 3;
    if (c == 0xF0) u8_lo_ = 0x90;
    if (c == 0xF4) u8_hi_ = 0x8F;
  } else {
    return false;
  }
  return true;
}

bool PlainStanzaScanner::utf8_next(std::uint8_t c) {
  if (c < u8_lo_ || c > u8_hi_) return false;
  --u8_need_;
  u8_lo_ = 0x80;
  u8_hi_ = 0xBF;
  if (u8_ef_) {
    u8_ef_ = false;
    if (c == 0xBF) u8_hi_ = 0xBD;
  }
  return true;
}

bool PlainStanzaScanner::start_element(const std::uint8_t* s, std::size_t end) {
  name_ = Slice{static_cast<std::uint32_t>(name_.off), static_cast<std::uint32_t>(end - name_.off)};
  const std::string_view name = slice_view(s, name_);
  if (stack_.size() + 1 > bounds_.max_nesting) return false;
  if (stack_.empty() && !top_open_) {
    if (name == "message")
      kind_ = StanzaKind::kMessage;
    else if (name == "presence")
      kind_ = StanzaKind::kPresence;
    else if (name == "iq")
      kind_ = StanzaKind::kIq;
    else
      return false;
  } else if (name == "error") {
    return false;  // a stanza error: the slow path reads its condition
  }
  attrs_n_ = 0;
  ws_seen_ = false;
  return true;
}

bool PlainStanzaScanner::end_attribute_name(const std::uint8_t* s, std::size_t end) {
  const Slice a{attrs_[attrs_n_].off, static_cast<std::uint32_t>(end - attrs_[attrs_n_].off)};
  const std::string_view name = slice_view(s, a);
  if (name.find(':') != std::string_view::npos && name != "xml:lang") return false;
  for (std::size_t i = 0; i < attrs_n_; ++i)
    if (slice_view(s, attrs_[i]) == name) return false;  // duplicate
  attrs_[attrs_n_++] = a;
  return true;
}

bool PlainStanzaScanner::end_attribute_value(const std::uint8_t* s, std::size_t end) {
  const std::string_view name = slice_view(s, attrs_[attrs_n_ - 1]);
  const Slice v{static_cast<std::uint32_t>(value_start_),
                static_cast<std::uint32_t>(end - value_start_)};
  const std::string_view value = slice_view(s, v);
  const bool top_tag = stack_.empty() && !top_open_;
  if (name == "xmlns") {
    if (top_tag) return value == kNsServer || value == kNsClient;
    return value != kNsXml && value != "http://www.w3.org/2000/xmlns/";
  }
  if (!top_tag) return true;
  if (name == "from") {
    from_ = v;
  } else if (name == "to") {
    to_ = v;
  } else if (name == "id") {
    id_ = v;
  } else if (name == "type") {
    if (value == "error") return false;
    type_ = v;
  }
  return true;
}

bool PlainStanzaScanner::end_reference() {
  const std::string_view r(ref_.data(), ref_n_);
  if (r == "amp" || r == "lt" || r == "gt" || r == "quot" || r == "apos") return true;
  if (r.size() < 2 || r[0] != '#') return false;
  const bool hex = r[1] == 'x';
  const std::string_view digits = r.substr(hex ? 2 : 1);
  if (digits.empty() || digits.size() > (hex ? 6u : 7u)) return false;
  std::uint32_t v = 0;
  for (char ch : digits) {
    std::uint32_t d = 0;
    if (ch >= '0' && ch <= '9')
      d = static_cast<std::uint32_t>(ch - '0');
    else if (hex && ch >= 'a' && ch <= 'f')
      d = static_cast<std::uint32_t>(ch - 'a' + 10);
    else if (hex && ch >= 'A' && ch <= 'F')
      d = static_cast<std::uint32_t>(ch - 'A' + 10);
    else
      return false;
    v = v * (hex ? 16u : 10u) + d;
  }
  return is_xml_char(v);
}

PlainStanzaScanner::Result PlainStanzaScanner::scan(const std::uint8_t* s, std::size_t n) {
  // Bytes past max_len are never accepted: reaching the bound without the end tag gives up.
  const bool capped = n > bounds_.max_len;
  if (capped) n = bounds_.max_len;
  std::size_t p = pos_;
  while (p < n) {
    const std::uint8_t c = s[p];
    switch (st_) {
      case St::kInit:
        if (c != '<') return decline();
        st_ = St::kLt;
        ++p;
        break;
      case St::kLt:
        if (c == '/') {
          if (stack_.empty()) return decline();
          st_ = St::kEndName;
          name_.off = static_cast<std::uint32_t>(p + 1);
          ++p;
        } else if (kNameStart[c]) {
          st_ = St::kName;
          name_.off = static_cast<std::uint32_t>(p);
          ++p;
        } else {
          return decline();  // comment, CDATA, PI, or not XML
        }
        break;
      case St::kName:
        while (p < n && kNameChar[s[p]])
          ++p;
        if (p == n) break;
        if (!start_element(s, p)) return decline();
        st_ = St::kTag;
        break;
      case St::kTag:
        if (is_xml_ws(c)) {
          ws_seen_ = true;
          ++p;
        } else if (c == '>') {
          if (stack_.empty()) top_open_ = true;
          stack_.push_back(name_);
          st_ = St::kText;
          text_start_ = ++p;
          rsqb_ = 0;
        } else if (c == '/') {
          st_ = St::kEmpty;
          ++p;
        } else if (kNameStart[c] && ws_seen_) {
          if (attrs_n_ + 1 > bounds_.max_attrs) return decline();
          attrs_[attrs_n_].off = static_cast<std::uint32_t>(p);
          st_ = St::kAttrName;
          ++p;
        } else {
          return decline();
        }
        break;
      case St::kAttrName:
        while (p < n && (kNameChar[s[p]] || s[p] == ':'))
          ++p;
        if (p == n) break;
        if (!end_attribute_name(s, p)) return decline();
        st_ = St::kEq;
        break;
      case St::kEq:
        if (c == '=') {
          st_ = St::kQuote;
        } else if (!is_xml_ws(c)) {
          return decline();
        }
        ++p;
        break;
      case St::kQuote:
        if (c == '"' || c == '\'') {
          quote_ = c;
          value_start_ = p + 1;
          st_ = St::kValue;
        } else if (!is_xml_ws(c)) {
          return decline();
        }
        ++p;
        break;
      case St::kValue: {
        const std::size_t lim = std::min(n, value_start_ + bounds_.max_run);
        while (p < lim) {
          if (u8_need_ == 0) {
            p = skip_plain<true>(s, p, lim);
            if (p == lim) break;
          }
          const std::uint8_t b = s[p];
          if (u8_need_ != 0) {
            if (!utf8_next(b)) return decline();
            ++p;
          } else if (kPlainValue[b]) {
            ++p;
          } else if (b >= 0x80) {
            if (!utf8_lead(b)) return decline();
            ++p;
          } else {
            break;
          }
        }
        if (p >= value_start_ + bounds_.max_run) return decline();
        if (p == n) break;
        if (s[p] != quote_ || u8_need_ != 0) return decline();
        if (!end_attribute_value(s, p)) return decline();
        st_ = St::kTag;
        ws_seen_ = false;
        ++p;
        break;
      }
      case St::kEmpty:
        if (c != '>') return decline();
        ++p;
        if (stack_.empty()) {  // <presence .../>
          top_open_ = true;
          pos_ = p;
          return Result::kAccepted;
        }
        st_ = St::kText;
        text_start_ = p;
        rsqb_ = 0;
        break;
      case St::kEndName:
        while (p < n && kNameChar[s[p]])
          ++p;
        if (p == n) break;
        if (slice_view(s, Slice{name_.off, static_cast<std::uint32_t>(p - name_.off)}) !=
            slice_view(s, stack_.back()))
          return decline();
        st_ = St::kEndTail;
        break;
      case St::kEndTail:
        if (c == '>') {
          stack_.pop_back();
          ++p;
          if (stack_.empty()) {
            pos_ = p;
            return Result::kAccepted;
          }
          st_ = St::kText;
          text_start_ = p;
          rsqb_ = 0;
        } else if (is_xml_ws(c)) {
          ++p;
        } else {
          return decline();
        }
        break;
      case St::kText: {
        const std::size_t lim = std::min(n, text_start_ + bounds_.max_run);
        while (p < lim) {
          if (u8_need_ == 0) {
            const std::size_t q = skip_plain<false>(s, p, lim);
            if (q != p) {
              rsqb_ = 0;
              p = q;
              if (p == lim) break;
            }
          }
          const std::uint8_t b = s[p];
          if (u8_need_ != 0) {
            if (!utf8_next(b)) return decline();
            ++p;
            continue;
          }
          if (kPlainText[b]) {
            rsqb_ = 0;
            ++p;
            continue;
          }
          if (b == ']') {
            if (rsqb_ < 2) ++rsqb_;
          } else if (b == '>') {
            if (rsqb_ >= 2) return decline();  // "]]>" is not allowed in character data
            rsqb_ = 0;
          } else if (b >= 0x80) {
            rsqb_ = 0;
            if (!utf8_lead(b)) return decline();
          } else {
            break;  // '<', '&' or a control character
          }
          ++p;
        }
        if (p >= text_start_ + bounds_.max_run) return decline();
        if (p == n) break;
        if (u8_need_ != 0) return decline();
        if (s[p] == '<') {
          st_ = St::kLt;
        } else if (s[p] == '&') {
          st_ = St::kRef;
          ref_n_ = 0;
        } else {
          return decline();
        }
        ++p;
        break;
      }
      case St::kRef: {
        // Expat reads character data as it comes, so a bad reference must be given up on at
        // the byte where expat reports it, never later: '&' then a name or '#', digits (or
        // 'x' and hex digits), ';'.
        if (p >= text_start_ + bounds_.max_run) return decline();
        if (c == ';') {
          if (!end_reference()) return decline();
          st_ = St::kText;
          rsqb_ = 0;
          ++p;
          break;
        }
        bool ok = false;
        if (ref_n_ == 0) {
          ok = kNameStart[c] || c == '#';
        } else if (ref_[0] != '#') {
          ok = kNameChar[c];
        } else if (ref_n_ == 1) {
          ok = c == 'x' || (c >= '0' && c <= '9');
        } else if (ref_[1] == 'x') {
          ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        } else {
          ok = c >= '0' && c <= '9';
        }
        if (!ok || ref_n_ == ref_.size()) return decline();
        ref_[ref_n_++] = static_cast<char>(c);
        ++p;
        break;
      }
    }
  }
  pos_ = p;
  return capped ? Result::kDeclined : Result::kIncomplete;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

class StreamParser::Impl {
 public:
  explicit Impl(Config config);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  std::size_t feed(std::span<const std::uint8_t> bytes);
  std::size_t feed_loop(std::span<const std::uint8_t> bytes);
  void release_buffers();
  void gap(std::uint64_t length);
  void end();

  // expat callbacks
  void on_start(const XML_Char* name, const XML_Char** atts);
  void on_end(const XML_Char* name);
  void on_chars(const XML_Char* s, int len);
  void on_ns_decl(const XML_Char* prefix, const XML_Char* uri);
  void on_restricted(std::string_view what);

  std::vector<Event> events_;
  AnomalyCounters counters_;
  State state_ = State::kStart;
  std::string failure_;
  std::string failure_detail_;
  std::uint64_t offset_ = 0;
  std::uint64_t tls_offset_ = 0;
  std::size_t depth_ = 0;  // framer depth (stream element = 1)
  std::vector<std::uint8_t> carry_;
  std::vector<std::uint8_t> hold_;
  std::vector<std::uint8_t> first_bytes_;
  MemAccount mem_;
  // The stanza fast path: a stanza the scanner is still reading (from its '<').
  std::vector<std::uint8_t> fast_buf_;
  bool fast_pending_ = false;
  PlainStanzaScanner scanner_;
  std::uint64_t fast_stanzas_ = 0;

 private:
  enum class Lex : std::uint8_t {
    kText,
    kLt,
    kStartTag,
    kAttrValue,
    kStartTagSlash,
    kEndTag,
    kBang,
    kPi,
    kXmlDecl,
    kXmlDeclQ,
    kCdata,
  };
  enum class Top : std::uint8_t {
    kNone,
    kFeatures,
    kStreamError,
    kStartTls,
    kProceed,
    kTlsFailure,
    kSaslAuth,
    kSaslSuccess,
    kSaslFailure,
    kDbResult,
    kDbVerify,
    kStanza,
    kCompress,
    kCompressed,
    kOther,
  };
  enum class Child : std::uint8_t { kNone, kStartTls, kMechanisms, kDialback, kError };
  enum class Collect : std::uint8_t { kNone, kMechanism, kStreamErrorText };
  enum class ResyncReason : std::uint8_t { kMidstream, kGap };

  // emission
  void emit(std::uint64_t begin, std::uint64_t end, EventBody body);
  void anomaly(std::string_view name, std::string detail, std::uint64_t begin, std::uint64_t end);
  void fail(std::string_view name, std::string detail, std::uint64_t begin, std::uint64_t end);
  void flush_ws();

  // expat plumbing
  void setup_expat();
  void reset_doc(std::int64_t base, bool synthetic);
  bool make_expat();
  void free_expat();
  bool feed_expat(const std::uint8_t* d, std::size_t n);
  void stop_expat();
  std::uint64_t cur_begin() const;
  std::uint64_t cur_end() const;

  // modes
  std::size_t start(const std::uint8_t* d, std::size_t n);
  std::size_t parse_xml(const std::uint8_t* d, std::size_t n, std::uint64_t abs);
  std::size_t resync(const std::uint8_t* d, std::size_t n);
  void enter_resync(ResyncReason reason);
  void start_at_boundary(std::uint64_t at, bool stream_header);
  void tls_peek(const std::uint8_t* d, std::size_t n);
  void collect_first_bytes(const std::uint8_t* d, std::size_t n);
  void emit_not_xmpp();
  void handoff_tls(std::uint64_t at);
  void handoff_compression(std::uint64_t at);

  // stanza fast path
  enum class FastStep : std::uint8_t { kAccepted, kDeclined, kPending };
  bool fast_ready() const;
  FastStep fast_start(const std::uint8_t* d, std::size_t n, std::uint64_t at, std::size_t& len);
  FastStep fast_resume(const std::uint8_t* d, std::size_t n, std::size_t& used);
  void fast_emit(const std::uint8_t* s, std::size_t len);
  void fast_replay();

  // element handling
  void on_stream_start(QName q, const XML_Char** atts);
  void on_top_start(QName q, const XML_Char** atts);
  void on_child_start(QName q, const XML_Char** atts);
  void on_top_end();

  Config cfg_;

  // expat
  XML_Parser xp_ = nullptr;
  std::int64_t doc_base_ = 0;  // stream offset of the current document's byte 0
  bool stopped_ = false;       // a handler stopped expat for good (this document)
  bool synthetic_root_ = false;
  int xdepth_ = 0;  // expat-side depth
  std::string pending_default_ns_;
  std::string pending_db_ns_;
  std::uint64_t streams_seen_ = 0;
  bool text_at_stream_reported_ = false;
  bool stream_ns_content_ = false;  // the stream's default namespace is jabber:server/client
  std::uint8_t last_fed_ = '>';     // the last byte handed to expat in this document
  // The current run of character data directly inside the stream element.
  bool run_active_ = false;
  bool run_text_ = false;  // it holds something other than whitespace
  std::uint64_t run_begin_ = 0, run_end_ = 0;
  bool compress_watch_ = false;
  std::uint64_t compress_at_ = 0;

  // current top-level element
  Top top_ = Top::kNone;
  std::uint64_t top_begin_ = 0;
  Child child_ = Child::kNone;
  Collect collect_ = Collect::kNone;
  int collect_depth_ = 0;
  std::string text_;
  StreamFeatures features_;
  StreamError stream_error_;
  Stanza stanza_;
  DialbackElement db_;
  std::string sasl_value_;

  // framer
  Lex lex_ = Lex::kText;
  bool in_markup_ = false;
  std::uint64_t token_start_ = 0;  // '<' of the current markup token
  std::uint64_t text_start_ = 0;   // first byte of the current text run
  std::uint64_t value_start_ = 0;  // first byte of the current attribute value
  std::uint8_t quote_ = 0;
  std::uint8_t match_ = 0;
  std::uint8_t cdata_match_ = 0;
  std::size_t attrs_ = 0;
  bool root_opened_ = false;
  bool root_closed_ = false;
  bool stanza_open_ = false;
  std::uint64_t stanza_start_ = 0;

  // resync
  ResyncReason resync_reason_ = ResyncReason::kMidstream;
  std::uint64_t resync_from_ = 0;
  std::uint64_t hold_offset_ = 0;

  // after the TLS handoff
  std::array<std::uint8_t, 2> tls_peek_{};
  std::size_t tls_peek_n_ = 0;
  bool tls_checked_ = false;

  bool not_xmpp_pending_ = false;

  // stanza fast path
  PlainStanzaScanner::Bounds fast_bounds_{};
  std::uint64_t fast_at_ = 0;  // stream offset of the pending stanza's '<'
  bool fast_flushed_ = false;  // its start tag is complete and flush_ws() was done
  bool replaying_ = false;     // fast_replay() is feeding the framer
};

// ---------------------------------------------------------------------------------------------
// expat trampolines

namespace {

using Impl = StreamParser::Impl;

void XMLCALL cb_start(void* ud, const XML_Char* name, const XML_Char** atts) {
  static_cast<Impl*>(ud)->on_start(name, atts);
}
void XMLCALL cb_end(void* ud, const XML_Char* name) {
  static_cast<Impl*>(ud)->on_end(name);
}
void XMLCALL cb_chars(void* ud, const XML_Char* s, int len) {
  static_cast<Impl*>(ud)->on_chars(s, len);
}
void XMLCALL cb_ns_decl(void* ud, const XML_Char* prefix, const XML_Char* uri) {
  static_cast<Impl*>(ud)->on_ns_decl(prefix, uri);
}
void XMLCALL cb_comment(void* ud, const XML_Char*) {
  static_cast<Impl*>(ud)->on_restricted("comment");
}
void XMLCALL cb_pi(void* ud, const XML_Char*, const XML_Char*) {
  static_cast<Impl*>(ud)->on_restricted("processing instruction");
}
void XMLCALL cb_doctype(void* ud, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  static_cast<Impl*>(ud)->on_restricted("DOCTYPE");
}
void XMLCALL cb_entity_decl(void* ud, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                            const XML_Char*, const XML_Char*, const XML_Char*) {
  static_cast<Impl*>(ud)->on_restricted("entity declaration");
}
int XMLCALL cb_external_entity(XML_Parser, const XML_Char*, const XML_Char*, const XML_Char*,
                               const XML_Char*) {
  return XML_STATUS_ERROR;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// construction, expat plumbing

// The expat parser (about 11 KB with its buffers) exists only while the direction is parsed as
// XML: made at the first byte that starts a document, freed once the direction is handed to
// TLS, becomes opaque, fails or ends (issue #12 item 5: a SYN scan costs no parsers).
StreamParser::Impl::Impl(Config config) : cfg_(config) {
  if (cfg_.midstream) enter_resync(ResyncReason::kMidstream);
  // The fast path stays two bytes inside every limit, and holds a pending stanza within
  // max_buffered_bytes (the bound on what the parser keeps of its input).
  const Limits& lim = cfg_.limits;
  const auto below = [](std::size_t v) -> std::size_t { return v > 2 ? v - 2 : 0; };
  fast_bounds_.max_len =
      std::min({kFastMaxStanza, below(lim.max_stanza_bytes), below(lim.max_buffered_bytes)});
  fast_bounds_.max_run = below(lim.max_token_bytes);
  fast_bounds_.max_attrs =
      std::min(kFastMaxAttrs, lim.max_attributes > 0 ? lim.max_attributes - 1 : 0);
  fast_bounds_.max_nesting = below(lim.max_depth);
  if (fast_bounds_.max_len < 8 || fast_bounds_.max_run == 0 || fast_bounds_.max_nesting == 0)
    cfg_.stanza_fast_path = false;
}

StreamParser::Impl::~Impl() {
  free_expat();
}

bool StreamParser::Impl::make_expat() {
  if (xp_ != nullptr) return true;
  {
    AccountScope scope(&mem_);
    xp_ = XML_ParserCreate_MM("UTF-8", &kMemorySuite, kNsSeparator);
  }
  if (xp_ == nullptr) {  // out of memory: this direction cannot be parsed at all
    state_ = State::kFailed;
    failure_ = std::string(kAnomalyParserUnavailable);
    counters_.add(kAnomalyParserUnavailable);
    return false;
  }
  setup_expat();
  return true;
}

void StreamParser::Impl::free_expat() {
  if (xp_ == nullptr) return;
  AccountScope scope(&mem_);
  XML_ParserFree(xp_);
  xp_ = nullptr;
}

void StreamParser::Impl::setup_expat() {
  if (xp_ == nullptr) return;
  XML_SetUserData(xp_, this);
  XML_SetElementHandler(xp_, cb_start, cb_end);
  XML_SetCharacterDataHandler(xp_, cb_chars);
  XML_SetStartNamespaceDeclHandler(xp_, cb_ns_decl);
  XML_SetCommentHandler(xp_, cb_comment);
  XML_SetProcessingInstructionHandler(xp_, cb_pi);
  XML_SetStartDoctypeDeclHandler(xp_, cb_doctype);
  XML_SetEntityDeclHandler(xp_, cb_entity_decl);
  XML_SetExternalEntityRefHandler(xp_, cb_external_entity);
  XML_SetParamEntityParsing(xp_, XML_PARAM_ENTITY_PARSING_NEVER);
#ifdef FEDSCOPE_HAVE_XML_SET_REPARSE_DEFERRAL
  XML_SetReparseDeferralEnabled(xp_, XML_FALSE);
#endif
}

void StreamParser::Impl::reset_doc(std::int64_t base, bool synthetic) {
  if (xp_ == nullptr) {
    if (!make_expat()) return;
  } else {
    {
      AccountScope scope(&mem_);
      XML_ParserReset(xp_, "UTF-8");
    }
    setup_expat();
  }
  stopped_ = false;
  xdepth_ = 0;
  stream_ns_content_ = false;
  last_fed_ = '>';
  pending_default_ns_.clear();
  pending_db_ns_.clear();
  run_active_ = false;
  compress_watch_ = false;
  top_ = Top::kNone;
  collect_ = Collect::kNone;
  text_at_stream_reported_ = false;
  synthetic_root_ = synthetic;
  if (synthetic) {
    doc_base_ = base - static_cast<std::int64_t>(kSyntheticHeader.size());
    feed_expat(reinterpret_cast<const std::uint8_t*>(kSyntheticHeader.data()),
               kSyntheticHeader.size());
  } else {
    doc_base_ = base;
  }
}

std::uint64_t StreamParser::Impl::cur_begin() const {
  return static_cast<std::uint64_t>(doc_base_ +
                                    static_cast<std::int64_t>(XML_GetCurrentByteIndex(xp_)));
}

std::uint64_t StreamParser::Impl::cur_end() const {
  return cur_begin() + static_cast<std::uint64_t>(XML_GetCurrentByteCount(xp_));
}

void StreamParser::Impl::stop_expat() {
  if (!stopped_ && xp_ != nullptr) {
    stopped_ = true;
    XML_StopParser(xp_, XML_FALSE);
  }
}

bool StreamParser::Impl::feed_expat(const std::uint8_t* d, std::size_t n) {
  if (xp_ == nullptr) return false;  // make_expat() failed: the direction has failed
  if (n > 0) last_fed_ = d[n - 1];
  AccountScope scope(&mem_);
  while (n > 0) {
    const std::size_t k = std::min(n, kExpatSlice);
    if (XML_Parse(xp_, reinterpret_cast<const char*>(d), static_cast<int>(k), XML_FALSE) !=
        XML_STATUS_OK) {
      if (stopped_ || state_ != State::kXml) return false;  // a handler stopped it
      const XML_Error code = XML_GetErrorCode(xp_);
      const std::uint64_t at = cur_begin();
      if (compress_watch_ && at == compress_at_) {
        handoff_compression(at);
        return false;
      }
      const bool restricted =
          code == XML_ERROR_UNDEFINED_ENTITY || code == XML_ERROR_RECURSIVE_ENTITY_REF ||
          code == XML_ERROR_EXTERNAL_ENTITY_HANDLING || code == XML_ERROR_ENTITY_DECLARED_IN_PE ||
          code == XML_ERROR_NOT_STANDALONE;
      const XML_LChar* text = XML_ErrorString(code);
      fail(restricted ? kAnomalyRestricted : kAnomalyNotWellFormed,
           text != nullptr ? text : "expat error", at, at + 1);
      return false;
    }
    d += k;
    n -= k;
  }
  return state_ == State::kXml;
}

// ---------------------------------------------------------------------------------------------
// emission

void StreamParser::Impl::emit(std::uint64_t begin, std::uint64_t end, EventBody body) {
  // Brace-initialised: clang 14 has no parenthesised aggregate initialisation.
  events_.push_back(Event{begin, end, std::move(body)});
}

void StreamParser::Impl::anomaly(std::string_view name, std::string detail, std::uint64_t begin,
                                 std::uint64_t end) {
  counters_.add(name);
  emit(begin, end, Anomaly{std::string(name), std::move(detail)});
}

void StreamParser::Impl::fail(std::string_view name, std::string detail, std::uint64_t begin,
                              std::uint64_t end) {
  failure_ = std::string(name);
  failure_detail_ = detail;
  anomaly(name, std::move(detail), begin, end);
  state_ = State::kFailed;
  stop_expat();
}

// Whitespace is reported only for a run that is whitespace from one markup token to the next,
// so that the event does not depend on how expat cut the run into callbacks.
void StreamParser::Impl::flush_ws() {
  if (run_active_ && !run_text_ && run_end_ > run_begin_)
    emit(run_begin_, run_end_, Whitespace{run_end_ - run_begin_});
  run_active_ = false;
}

// ---------------------------------------------------------------------------------------------
// public entry points

std::size_t StreamParser::Impl::feed(std::span<const std::uint8_t> in) {
  const std::size_t consumed = feed_loop(in);
  if (state_ != State::kXml && state_ != State::kResync) {
    release_buffers();
    // Not freed while resyncing: a resync resets the same parser at the next stanza.
    if (state_ != State::kStart) free_expat();
  }
  return consumed;
}

// Input held for later is useless once parsing stopped (never freed from inside an expat
// callback: expat may still be reading carry_).
void StreamParser::Impl::release_buffers() {
  std::vector<std::uint8_t>().swap(carry_);
  std::vector<std::uint8_t>().swap(hold_);
  std::vector<std::uint8_t>().swap(fast_buf_);
  fast_pending_ = false;
  in_markup_ = false;
}

std::size_t StreamParser::Impl::feed_loop(std::span<const std::uint8_t> in) {
  std::size_t i = 0;
  while (true) {
    const std::uint8_t* d = in.data() + i;
    const std::size_t n = in.size() - i;
    switch (state_) {
      case State::kStart:
        if (n == 0) return i;
        start(d, n);
        break;
      case State::kXml: {
        if (n == 0) return i;
        const std::size_t c = parse_xml(d, n, offset_);
        i += c;
        offset_ += c;
        if (state_ == State::kXml) return i;
        break;
      }
      case State::kResync: {
        if (n == 0) return i;
        const std::size_t c = resync(d, n);
        i += c;
        offset_ += c;
        if (state_ == State::kResync) return i;
        break;
      }
      case State::kTls:
        tls_peek(d, n);
        return i;
      case State::kFailed:
        if (not_xmpp_pending_) collect_first_bytes(d, n);
        offset_ += n;
        return in.size();
      case State::kOpaque:
        offset_ += n;
        return in.size();
      case State::kEnded:
        return i;
    }
  }
}

void StreamParser::Impl::gap(std::uint64_t length) {
  if (length == 0) return;
  if (fast_pending_) fast_replay();  // what the slow path would have done with those bytes
  switch (state_) {
    case State::kStart:
      enter_resync(ResyncReason::kGap);
      break;
    case State::kXml:
      flush_ws();
      carry_.clear();
      in_markup_ = false;
      enter_resync(ResyncReason::kGap);
      break;
    case State::kResync:
      hold_.clear();
      break;
    case State::kTls:
      tls_checked_ = true;  // the bytes after the handoff are unknown
      return;               // offsets after the handoff belong to TLS
    case State::kFailed:
      if (not_xmpp_pending_) emit_not_xmpp();
      break;
    case State::kOpaque:
    case State::kEnded:
      break;
  }
  offset_ += length;
}

void StreamParser::Impl::end() {
  if (fast_pending_) fast_replay();
  switch (state_) {
    case State::kXml:
      flush_ws();
      if (in_markup_ || depth_ >= 2 || lex_ == Lex::kCdata)
        anomaly(kAnomalyTruncated,
                in_markup_ ? "end of stream inside a tag" : "end of stream inside an element",
                stanza_open_ ? stanza_start_ : (in_markup_ ? token_start_ : text_start_), offset_);
      break;
    case State::kFailed:
      if (not_xmpp_pending_) emit_not_xmpp();
      break;
    default:
      break;
  }
  state_ = State::kEnded;
  release_buffers();
  free_expat();
}

// ---------------------------------------------------------------------------------------------
// start of stream

std::size_t StreamParser::Impl::start(const std::uint8_t* d, std::size_t n) {
  (void)n;
  const std::uint8_t c = d[0];
  if (c == '<' || is_xml_ws(c) || c == 0xEF) {  // 0xEF: UTF-8 byte order mark
    if (!make_expat()) return 0;
    state_ = State::kXml;
  } else if (c == 0x16) {  // TLS handshake record
    emit(offset_, offset_, DirectTls{});
    state_ = State::kTls;
    tls_offset_ = offset_;
    tls_checked_ = true;
  } else {
    state_ = State::kFailed;
    failure_ = std::string(kAnomalyNotXmpp);
    not_xmpp_pending_ = true;
  }
  return 0;
}

void StreamParser::Impl::collect_first_bytes(const std::uint8_t* d, std::size_t n) {
  const std::size_t take = std::min(n, kFirstBytes - first_bytes_.size());
  first_bytes_.insert(first_bytes_.end(), d, d + take);
  if (first_bytes_.size() >= kFirstBytes) emit_not_xmpp();
}

void StreamParser::Impl::emit_not_xmpp() {
  not_xmpp_pending_ = false;
  NotXmpp nx{not_xmpp_kind(first_bytes_), printable(first_bytes_)};
  failure_detail_ = nx.kind;
  counters_.add(kAnomalyNotXmpp);
  emit(0, first_bytes_.size(), std::move(nx));
  first_bytes_.clear();
  first_bytes_.shrink_to_fit();
}

// ---------------------------------------------------------------------------------------------
// after the TLS handoff

void StreamParser::Impl::tls_peek(const std::uint8_t* d, std::size_t n) {
  if (tls_checked_) return;
  while (tls_peek_n_ < 2 && n > 0) {
    tls_peek_[tls_peek_n_++] = *d++;
    --n;
  }
  if (tls_peek_n_ == 0) return;
  const std::uint8_t b0 = tls_peek_[0];
  if (!is_tls_record_type(b0)) {
    tls_checked_ = true;
    anomaly(kAnomalyStartTlsPlaintextAfter,
            "first byte " + hex_byte(b0) + " '" + printable({&b0, 1}) + "' is not a TLS record",
            tls_offset_, tls_offset_ + 1);
    return;
  }
  if (tls_peek_n_ < 2) return;
  tls_checked_ = true;
  if (tls_peek_[1] != 0x03)
    anomaly(kAnomalyStartTlsPlaintextAfter,
            "record version byte " + hex_byte(tls_peek_[1]) + " is not 0x03", tls_offset_,
            tls_offset_ + 2);
}

void StreamParser::Impl::handoff_tls(std::uint64_t at) {
  emit(at, at, TlsHandoff{at});
  state_ = State::kTls;
  tls_offset_ = at;
  stop_expat();
}

void StreamParser::Impl::handoff_compression(std::uint64_t at) {
  counters_.add(kAnomalyCompressed);
  emit(at, at, CompressionHandoff{at});
  state_ = State::kOpaque;
  stop_expat();
}

// ---------------------------------------------------------------------------------------------
// resynchronisation

void StreamParser::Impl::enter_resync(ResyncReason reason) {
  // A gap during the midstream search keeps reporting "midstream".
  if (state_ != State::kResync || reason == ResyncReason::kMidstream) resync_reason_ = reason;
  state_ = State::kResync;
  resync_from_ = offset_;
  hold_.clear();
}

void StreamParser::Impl::start_at_boundary(std::uint64_t at, bool stream_header) {
  anomaly(resync_reason_ == ResyncReason::kMidstream ? kAnomalyMidstreamResync : kAnomalyGapResync,
          "skipped " + std::to_string(at - resync_from_) + " bytes", resync_from_, at);
  state_ = State::kXml;
  lex_ = Lex::kText;
  in_markup_ = false;
  carry_.clear();
  stanza_open_ = false;
  text_start_ = at;
  reset_doc(static_cast<std::int64_t>(at), !stream_header);
  depth_ = stream_header ? 0 : 1;
  root_opened_ = !stream_header;
  root_closed_ = false;
}

std::size_t StreamParser::Impl::resync(const std::uint8_t* d, std::size_t n) {
  std::size_t i = 0;
  bool header = false;
  // A possible boundary cut by the end of the previous chunk.
  while (!hold_.empty()) {
    const Match m = match_boundary(hold_.data(), hold_.size(), header);
    if (m == Match::kYes) {
      std::vector<std::uint8_t> held;
      held.swap(hold_);
      start_at_boundary(hold_offset_, header);
      if (state_ == State::kXml) parse_xml(held.data(), held.size(), hold_offset_);
      return i;
    }
    if (m == Match::kNo) {
      auto next = std::find(hold_.begin() + 1, hold_.end(), std::uint8_t{'<'});
      hold_offset_ += static_cast<std::uint64_t>(next - hold_.begin());
      hold_.erase(hold_.begin(), next);
      continue;
    }
    if (i == n) return i;
    hold_.push_back(d[i++]);
  }
  std::size_t p = i;
  while (p < n) {
    const void* lt = std::memchr(d + p, '<', n - p);
    if (lt == nullptr) break;
    const std::size_t q = static_cast<std::size_t>(static_cast<const std::uint8_t*>(lt) - d);
    const Match m = match_boundary(d + q, n - q, header);
    if (m == Match::kYes) {
      start_at_boundary(offset_ + q, header);
      return q;
    }
    if (m == Match::kNeedMore) {
      hold_.assign(d + q, d + n);
      hold_offset_ = offset_ + q;
      return n;
    }
    p = q + 1;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// the framer

std::size_t StreamParser::Impl::parse_xml(const std::uint8_t* d, std::size_t n, std::uint64_t abs) {
  const Limits& lim = cfg_.limits;
  std::size_t p = 0;
  if (fast_pending_) {  // a stanza the fast path began in an earlier chunk
    const FastStep r = fast_resume(d, n, p);
    if (r == FastStep::kPending) return n;
    if (state_ != State::kXml) return n;  // the replay failed (fast_resume gave up)
    if (r == FastStep::kAccepted) text_start_ = abs + p;
  }
  std::size_t fed = p;  // d[fed, p) is scanned and waits to be handed to expat
  // Where the current markup token starts in d; only meaningful while carry_ is empty (a token
  // that started in an earlier chunk lives in carry_).
  std::size_t mstart = 0;

  const auto local = [&](std::uint64_t a) -> std::size_t {
    if (a <= abs) return 0;
    if (a - abs >= n) return n;
    return static_cast<std::size_t>(a - abs);
  };
  // Hands expat d[fed, q).
  const auto flush_to = [&](std::size_t q) -> bool {
    if (q <= fed) return true;
    const std::size_t from = fed;
    fed = q;
    return feed_expat(d + from, q - from);
  };
  // Hands expat everything before the current markup token.
  const auto flush_before_markup = [&]() -> bool {
    return carry_.empty() ? flush_to(mstart) : true;
  };
  // Consumed count when parsing stopped inside this call.
  const auto stopped = [&]() -> std::size_t {
    if (state_ == State::kTls) return static_cast<std::size_t>(tls_offset_ - abs);
    return n;
  };
  const auto fail_markup = [&](std::string_view name, std::string detail, std::uint64_t at) {
    if (flush_before_markup()) fail(name, std::move(detail), token_start_, at + 1);
  };
  // The complete markup token ends at d[e]: its bytes, and carry_ completed if needed.
  const auto markup_bytes = [&](std::size_t e) -> std::span<const std::uint8_t> {
    if (carry_.empty()) return {d + mstart, e + 1 - mstart};
    carry_.insert(carry_.end(), d, d + e + 1);
    return carry_;
  };
  const auto finish_markup = [&](std::size_t e) -> bool {
    in_markup_ = false;
    lex_ = Lex::kText;
    text_start_ = abs + e + 1;
    if (carry_.empty()) return true;
    const bool ok = feed_expat(carry_.data(), carry_.size());
    carry_.clear();
    if (carry_.capacity() > kShrinkCarryAbove) carry_.shrink_to_fit();
    fed = e + 1;
    return ok;
  };
  // A new document starts at the current markup token.
  const auto restart_here = [&]() -> bool {
    if (!flush_before_markup()) return false;
    flush_ws();
    reset_doc(static_cast<std::int64_t>(token_start_), false);
    depth_ = 0;
    root_opened_ = false;
    root_closed_ = false;
    stanza_open_ = false;
    return state_ == State::kXml;
  };
  const auto complete_start = [&](std::size_t e, bool empty) -> bool {
    const std::span<const std::uint8_t> tag = markup_bytes(e);
    if (depth_ + 1 > lim.max_depth) {
      if (flush_before_markup())
        fail(kAnomalyTooDeep, "element depth " + std::to_string(depth_ + 1), token_start_,
             abs + e + 1);
      return false;
    }
    if (root_opened_ && (depth_ == 1 || (depth_ == 0 && root_closed_))) {
      std::size_t k = 1;
      while (k < tag.size() && !is_xml_ws(tag[k]) && tag[k] != '/' && tag[k] != '>')
        ++k;
      std::string_view name(reinterpret_cast<const char*>(tag.data()) + 1, k - 1);
      const std::size_t colon = name.rfind(':');
      if (colon != std::string_view::npos) name.remove_prefix(colon + 1);
      if (name == "stream" && !restart_here()) return false;
    }
    if (depth_ == 0) root_opened_ = true;
    if (!empty) {
      ++depth_;
    } else if (depth_ == 1) {
      stanza_open_ = false;
    } else if (depth_ == 0) {
      root_closed_ = true;
    }
    return finish_markup(e);
  };
  const auto complete_end = [&](std::size_t e) -> bool {
    markup_bytes(e);
    if (depth_ > 0) --depth_;
    if (depth_ <= 1) stanza_open_ = false;
    if (depth_ == 0) root_closed_ = true;
    return finish_markup(e);
  };

  while (p < n) {
    if (in_markup_) {
      // Limits on markup: the token itself, and the stanza it belongs to.
      const std::uint64_t lb = sat_add(token_start_, lim.max_buffered_bytes);
      const std::uint64_t ls =
          stanza_open_ ? sat_add(stanza_start_, lim.max_stanza_bytes) : kNoLimit;
      const std::uint64_t mlim = std::min(lb, ls);
      if (abs + p >= mlim) {
        if (ls <= lb) {
          if (flush_before_markup())
            fail(kAnomalyStanzaTooLarge,
                 "top-level element larger than " + std::to_string(lim.max_stanza_bytes),
                 stanza_start_, mlim + 1);
        } else {
          fail_markup(kAnomalyBufferLimit,
                      "unfinished tag larger than " + std::to_string(lim.max_buffered_bytes), mlim);
        }
        return stopped();
      }
      const std::size_t mend = local(mlim);
      switch (lex_) {
        case Lex::kLt: {
          const std::uint8_t c = d[p];
          if (c == '/') {
            lex_ = Lex::kEndTag;
            ++p;
          } else if (c == '!') {
            lex_ = Lex::kBang;
            match_ = 0;
            ++p;
          } else if (c == '?') {
            lex_ = Lex::kPi;
            match_ = 0;
            ++p;
          } else {
            lex_ = Lex::kStartTag;
            attrs_ = 0;
            if (depth_ == 1) {
              stanza_open_ = true;
              stanza_start_ = token_start_;
            }
          }
          break;
        }
        case Lex::kStartTag: {
          for (; p < mend; ++p) {
            const std::uint8_t c = d[p];
            if (!kTagSpecial[c]) continue;
            if (c == '>') break;
            if (c == '/') break;
            if (c == '"' || c == '\'') break;
            // '='
            if (++attrs_ > lim.max_attributes) {
              fail_markup(kAnomalyTooManyAttributes,
                          "more than " + std::to_string(lim.max_attributes) + " attributes",
                          abs + p);
              return stopped();
            }
          }
          if (p == mend) break;
          const std::uint8_t c = d[p];
          if (c == '>') {
            if (!complete_start(p, false)) return stopped();
            ++p;
          } else if (c == '/') {
            lex_ = Lex::kStartTagSlash;
            ++p;
          } else {
            quote_ = c;
            value_start_ = abs + p + 1;
            lex_ = Lex::kAttrValue;
            ++p;
          }
          break;
        }
        case Lex::kAttrValue: {
          // The closing quote may sit at value_start_ + max_token_bytes, no later.
          const std::uint64_t lv = sat_add(value_start_, lim.max_token_bytes);
          const std::size_t search_end = std::min(mend, local(sat_add(lv, 1)));
          const void* q = std::memchr(d + p, quote_, search_end - p);
          if (q != nullptr) {
            p = static_cast<std::size_t>(static_cast<const std::uint8_t*>(q) - d) + 1;
            lex_ = Lex::kStartTag;
            break;
          }
          p = search_end;
          if (abs + search_end == sat_add(lv, 1)) {
            fail_markup(kAnomalyTokenTooLarge,
                        "attribute value longer than " + std::to_string(lim.max_token_bytes), lv);
            return stopped();
          }
          break;
        }
        case Lex::kStartTagSlash:
          if (d[p] == '>') {
            if (!complete_start(p, true)) return stopped();
            ++p;
          } else {
            lex_ = Lex::kStartTag;
          }
          break;
        case Lex::kEndTag: {
          const void* q = std::memchr(d + p, '>', mend - p);
          if (q == nullptr) {
            p = mend;
            break;
          }
          const std::size_t e = static_cast<std::size_t>(static_cast<const std::uint8_t*>(q) - d);
          if (!complete_end(e)) return stopped();
          p = e + 1;
          break;
        }
        case Lex::kBang: {
          static constexpr std::string_view kCdataOpen = "[CDATA[";
          const std::uint8_t c = d[p];
          if (c != static_cast<std::uint8_t>(kCdataOpen[match_])) {
            fail_markup(kAnomalyRestricted,
                        match_ == 0 && c == '-'               ? "comment"
                        : match_ == 0 && c >= 'A' && c <= 'Z' ? "markup declaration (DOCTYPE, "
                                                                "ENTITY, ...)"
                                                              : "<! markup",
                        abs + p);
            return stopped();
          }
          ++p;
          if (++match_ == kCdataOpen.size()) {
            markup_bytes(p - 1);
            if (!finish_markup(p - 1)) return stopped();
            lex_ = Lex::kCdata;
            cdata_match_ = 0;
          }
          break;
        }
        case Lex::kPi: {
          static constexpr std::string_view kXml = "xml";
          const std::uint8_t c = d[p];
          if (match_ < kXml.size()) {
            if (c != static_cast<std::uint8_t>(kXml[match_])) {
              fail_markup(kAnomalyRestricted, "processing instruction", abs + p);
              return stopped();
            }
            ++match_;
            ++p;
            break;
          }
          if (!is_xml_ws(c)) {
            fail_markup(kAnomalyRestricted, "processing instruction", abs + p);
            return stopped();
          }
          ++p;
          lex_ = Lex::kXmlDecl;
          // An XML declaration directly inside the stream (or after it closed) starts a new
          // document: a stream restart.
          if (root_opened_ && depth_ <= 1 && !restart_here()) return stopped();
          break;
        }
        case Lex::kXmlDecl: {
          const void* q = std::memchr(d + p, '?', mend - p);
          if (q == nullptr) {
            p = mend;
            break;
          }
          p = static_cast<std::size_t>(static_cast<const std::uint8_t*>(q) - d) + 1;
          lex_ = Lex::kXmlDeclQ;
          break;
        }
        case Lex::kXmlDeclQ:
          if (d[p] == '>') {
            markup_bytes(p);
            if (!finish_markup(p)) return stopped();
            ++p;
          } else if (d[p] == '?') {
            ++p;
          } else {
            lex_ = Lex::kXmlDecl;
          }
          break;
        default:
          break;
      }
      continue;
    }

    // Character data (kText) or CDATA content (kCdata). The run is limited inside a stanza,
    // and outside the stream element (expat holds prolog/epilog whitespace as one token until
    // it ends); directly inside the stream element (keepalives) it is not. Its terminator
    // ('<', or the '>' of "]]>") may sit at text_start_ + max_token_bytes.
    const std::uint64_t lt = depth_ != 1 ? sat_add(text_start_, lim.max_token_bytes) : kNoLimit;
    const std::uint64_t ls = stanza_open_ ? sat_add(stanza_start_, lim.max_stanza_bytes) : kNoLimit;
    const std::size_t search_end = std::min(local(sat_add(lt, 1)), local(ls));
    bool done = false;  // the run ended inside [p, search_end)
    if (lex_ == Lex::kText) {
      const void* q = std::memchr(d + p, '<', search_end - p);
      if (q != nullptr) {
        const std::size_t e = static_cast<std::size_t>(static_cast<const std::uint8_t*>(q) - d);
        // Keep expat close behind on large inputs, while the bytes are still in cache.
        if (e - fed >= kExpatSlice && !flush_to(e)) return stopped();
        if (depth_ == 1 && cfg_.stanza_fast_path && !replaying_) {
          // A top-level element: expat gets everything before it, then the fast path may
          // take the element whole.
          if (!flush_to(e)) return stopped();
          if (fast_ready()) {
            std::size_t len = 0;
            const FastStep r = fast_start(d + e, n - e, abs + e, len);
            if (r == FastStep::kAccepted) {
              p = e + len;
              fed = p;
              text_start_ = abs + p;
              continue;
            }
            if (r == FastStep::kPending) return n;
          }
        }
        in_markup_ = true;
        lex_ = Lex::kLt;
        mstart = e;
        token_start_ = abs + e;
        p = e + 1;
        done = true;
      }
    } else {  // kCdata: look for "]]>"
      for (; p < search_end; ++p) {
        const std::uint8_t c = d[p];
        if (c == ']') {
          if (cdata_match_ < 2) ++cdata_match_;
        } else if (c == '>' && cdata_match_ == 2) {
          lex_ = Lex::kText;
          text_start_ = abs + p + 1;
          ++p;
          done = true;
          break;
        } else {
          cdata_match_ = 0;
        }
      }
    }
    if (done) continue;
    p = search_end;
    const bool token_hit = abs + search_end == sat_add(lt, 1) && sat_add(lt, 1) <= ls;
    const bool stanza_hit = abs + search_end == ls && search_end < n;
    if (!token_hit && !stanza_hit) break;  // end of this piece
    if (!flush_to(search_end)) return stopped();
    if (token_hit)
      fail(kAnomalyTokenTooLarge, "text longer than " + std::to_string(lim.max_token_bytes),
           text_start_, lt + 1);
    else
      fail(kAnomalyStanzaTooLarge,
           "top-level element larger than " + std::to_string(lim.max_stanza_bytes), stanza_start_,
           ls + 1);
    return stopped();
  }

  // End of this piece: hand expat everything but an unfinished markup token, which is kept.
  if (in_markup_) {
    if (carry_.empty()) {
      if (!flush_to(mstart)) return stopped();
      carry_.assign(d + mstart, d + n);
    } else {
      carry_.insert(carry_.end(), d, d + n);
    }
  } else if (!flush_to(n)) {
    return stopped();
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// the stanza fast path
//
// The framer offers it every top-level element, after handing expat everything before it.
// While the scanner reads a stanza, expat sees none of it; once accepted, the Stanza event is
// emitted and expat's byte count falls behind by the stanza's size (doc_base_ moves up by as
// much): between top-level elements expat's state does not depend on what they contained.
// When the scanner gives up on a stanza that began in an earlier chunk, fast_replay() hands
// the bytes held so far to the framer, exactly as they would have come.

bool StreamParser::Impl::fast_ready() const {
  // Expat must hold nothing back: after '>' or a space, tab or LF it has reported every byte it
  // was given (a trailing CR, ']', partial reference or partial UTF-8 character would wait for
  // the next byte, and the next byte must then be the one that really follows).
  const bool settled =
      last_fed_ == '>' || last_fed_ == ' ' || last_fed_ == '\n' || last_fed_ == '\t';
  return settled && xp_ != nullptr && !stopped_ && state_ == State::kXml && xdepth_ == 1 &&
         stream_ns_content_ && !compress_watch_ && top_ == Top::kNone;
}

StreamParser::Impl::FastStep StreamParser::Impl::fast_start(const std::uint8_t* d, std::size_t n,
                                                            std::uint64_t at, std::size_t& len) {
  scanner_.reset(fast_bounds_);
  const PlainStanzaScanner::Result r = scanner_.scan(d, n);
  if (r == PlainStanzaScanner::Result::kDeclined) return FastStep::kDeclined;
  // Expat would have reported the start tag by now: the whitespace run before it ends here.
  fast_flushed_ = scanner_.top_open();
  if (fast_flushed_) flush_ws();
  fast_at_ = at;
  if (r == PlainStanzaScanner::Result::kAccepted) {
    len = scanner_.length();
    fast_emit(d, len);
    return FastStep::kAccepted;
  }
  fast_buf_.assign(d, d + n);  // n <= max_len: the scanner gives up beyond it
  fast_pending_ = true;
  return FastStep::kPending;
}

StreamParser::Impl::FastStep StreamParser::Impl::fast_resume(const std::uint8_t* d, std::size_t n,
                                                             std::size_t& used) {
  const std::size_t old = fast_buf_.size();
  // One byte past the bound is enough for the scanner to give up at the bound.
  const std::size_t take =
      std::min(n, fast_bounds_.max_len + 1 - std::min(old, fast_bounds_.max_len));
  fast_buf_.insert(fast_buf_.end(), d, d + take);
  const PlainStanzaScanner::Result r = scanner_.scan(fast_buf_.data(), fast_buf_.size());
  if (r == PlainStanzaScanner::Result::kDeclined) {
    fast_buf_.resize(old);
    fast_replay();
    used = 0;
    return FastStep::kDeclined;
  }
  if (!fast_flushed_ && scanner_.top_open()) {
    fast_flushed_ = true;
    flush_ws();
  }
  if (r == PlainStanzaScanner::Result::kIncomplete) {
    used = n;
    return FastStep::kPending;
  }
  const std::size_t len = scanner_.length();
  used = len - old;
  fast_emit(fast_buf_.data(), len);
  fast_pending_ = false;
  fast_buf_.clear();
  if (fast_buf_.capacity() > kShrinkCarryAbove) fast_buf_.shrink_to_fit();
  return FastStep::kAccepted;
}

void StreamParser::Impl::fast_emit(const std::uint8_t* s, std::size_t len) {
  const auto text = [&](PlainStanzaScanner::Slice x) { return std::string(slice_view(s, x)); };
  Stanza st;
  st.kind = scanner_.kind();
  st.type = text(scanner_.type());
  st.from = text(scanner_.from());
  st.to = text(scanner_.to());
  st.id = text(scanner_.id());
  st.size_bytes = len;
  emit(fast_at_, fast_at_ + len, std::move(st));
  doc_base_ += static_cast<std::int64_t>(len);  // expat never sees these bytes
  ++fast_stanzas_;
}

void StreamParser::Impl::fast_replay() {
  std::vector<std::uint8_t> held;
  held.swap(fast_buf_);
  fast_pending_ = false;
  replaying_ = true;
  parse_xml(held.data(), held.size(), fast_at_);
  replaying_ = false;
}

// ---------------------------------------------------------------------------------------------
// expat callbacks

void StreamParser::Impl::on_restricted(std::string_view what) {
  if (stopped_) return;
  const std::uint64_t at = cur_begin();
  fail(kAnomalyRestricted, std::string(what), at, cur_end());
}

void StreamParser::Impl::on_ns_decl(const XML_Char* prefix, const XML_Char* uri) {
  if (stopped_ || xdepth_ != 0) return;  // only the stream element's declarations
  const std::string_view u = uri != nullptr ? std::string_view(uri) : std::string_view();
  if (prefix == nullptr) {
    pending_default_ns_ = std::string(u);
    stream_ns_content_ = u == kNsServer || u == kNsClient;
  } else if (std::string_view(prefix) == "db")
    pending_db_ns_ = std::string(u);
}

void StreamParser::Impl::on_start(const XML_Char* name, const XML_Char** atts) {
  if (stopped_) return;
  ++xdepth_;
  const QName q = split_name(name);
  if (xdepth_ == 1)
    on_stream_start(q, atts);
  else if (xdepth_ == 2)
    on_top_start(q, atts);
  else
    on_child_start(q, atts);
}

void StreamParser::Impl::on_stream_start(QName q, const XML_Char** atts) {
  if (synthetic_root_) return;
  const std::uint64_t b = cur_begin();
  const std::uint64_t e = cur_end();
  if (q.ns != kNsStreams || q.local != "stream") {
    fail(kAnomalyBadStreamHeader, "root element " + clark(q), b, e);
    return;
  }
  StreamOpen so;
  so.from = attr(atts, "from");
  so.to = attr(atts, "to");
  so.id = attr(atts, "id");
  so.version = attr(atts, "version");
  so.lang = attr(atts, xml_lang_name());
  so.default_ns = std::move(pending_default_ns_);
  so.xmlns_db = std::move(pending_db_ns_);
  so.restart = streams_seen_ > 0;
  ++streams_seen_;
  emit(b, e, std::move(so));
}

void StreamParser::Impl::on_top_start(QName q, const XML_Char** atts) {
  flush_ws();
  compress_watch_ = false;
  top_begin_ = cur_begin();
  child_ = Child::kNone;
  collect_ = Collect::kNone;
  top_ = Top::kOther;
  if (q.ns == kNsStreams) {
    if (q.local == "features") {
      top_ = Top::kFeatures;
      features_ = StreamFeatures{};
    } else if (q.local == "error") {
      top_ = Top::kStreamError;
      stream_error_ = StreamError{};
    }
  } else if (q.ns == kNsTls) {
    if (q.local == "starttls") top_ = Top::kStartTls;
    if (q.local == "proceed") top_ = Top::kProceed;
    if (q.local == "failure") top_ = Top::kTlsFailure;
  } else if (q.ns == kNsSasl) {
    sasl_value_.clear();
    if (q.local == "auth") {
      top_ = Top::kSaslAuth;
      sasl_value_ = attr(atts, "mechanism");
    }
    if (q.local == "success") top_ = Top::kSaslSuccess;
    if (q.local == "failure") top_ = Top::kSaslFailure;
  } else if (q.ns == kNsDialback && (q.local == "result" || q.local == "verify")) {
    top_ = q.local == "result" ? Top::kDbResult : Top::kDbVerify;
    db_ = DialbackElement{};
    const Routing r = routing(atts);
    db_.from = r.from;
    db_.to = r.to;
    db_.id = r.id;
    db_.type_text = r.type;
  } else if (q.ns == kNsCompress && q.local == "compress") {
    top_ = Top::kCompress;
  } else if (q.ns == kNsCompress && q.local == "compressed") {
    top_ = Top::kCompressed;
  }
  if (top_ == Top::kOther || top_ == Top::kCompress || top_ == Top::kCompressed) {
    stanza_ = Stanza{};
    const bool content_ns = q.ns == kNsServer || q.ns == kNsClient;
    if (content_ns && q.local == "message") {
      top_ = Top::kStanza;
      stanza_.kind = StanzaKind::kMessage;
    } else if (content_ns && q.local == "presence") {
      top_ = Top::kStanza;
      stanza_.kind = StanzaKind::kPresence;
    } else if (content_ns && q.local == "iq") {
      top_ = Top::kStanza;
      stanza_.kind = StanzaKind::kIq;
    } else {
      stanza_.name = clark(q);
    }
    const Routing r = routing(atts);
    stanza_.type = r.type;
    stanza_.from = r.from;
    stanza_.to = r.to;
    stanza_.id = r.id;
  }
}

void StreamParser::Impl::on_child_start(QName q, const XML_Char** atts) {
  switch (top_) {
    case Top::kFeatures:
      if (xdepth_ == 3) {
        child_ = Child::kNone;
        if (q.ns == kNsTls && q.local == "starttls") {
          features_.starttls.offered = true;
          child_ = Child::kStartTls;
        } else if (q.ns == kNsSasl && q.local == "mechanisms") {
          child_ = Child::kMechanisms;
        } else if (q.ns == kNsDialbackFeature && q.local == "dialback") {
          features_.dialback = true;
          child_ = Child::kDialback;
        } else if ((q.ns == kNsBidiFeature || q.ns == kNsBidi) && q.local == "bidi") {
          features_.bidi = true;
        } else if (q.ns == kNsCompressFeature && q.local == "compression") {
          features_.compression_offered = true;
        } else {
          features_.other.push_back(clark(q));
        }
      } else if (xdepth_ == 4) {
        if (child_ == Child::kStartTls && q.local == "required") features_.starttls.required = true;
        if (child_ == Child::kDialback && q.local == "errors") features_.dialback_errors = true;
        if (child_ == Child::kMechanisms && q.ns == kNsSasl && q.local == "mechanism") {
          collect_ = Collect::kMechanism;
          collect_depth_ = xdepth_;
          text_.clear();
        }
      }
      break;
    case Top::kStreamError:
      if (xdepth_ == 3 && q.ns == kNsStreamErrors) {
        if (q.local == "text") {
          collect_ = Collect::kStreamErrorText;
          collect_depth_ = xdepth_;
          text_.clear();
        } else if (stream_error_.condition.empty()) {
          stream_error_.condition = q.local;
        }
      }
      break;
    case Top::kSaslFailure:
      if (xdepth_ == 3 && q.ns == kNsSasl && q.local != "text" && sasl_value_.empty())
        sasl_value_ = q.local;
      break;
    case Top::kDbResult:
    case Top::kDbVerify:
      if (xdepth_ == 3) child_ = q.local == "error" ? Child::kError : Child::kNone;
      if (xdepth_ == 4 && child_ == Child::kError && q.ns == kNsStanzaErrors && q.local != "text" &&
          db_.error_condition.empty())
        db_.error_condition = q.local;
      break;
    case Top::kStanza:
      if (xdepth_ == 3) {
        child_ = Child::kNone;
        if (q.local == "error" && (q.ns == kNsServer || q.ns == kNsClient)) {
          child_ = Child::kError;
          stanza_.error_type = attr(atts, "type");
        }
      }
      if (xdepth_ == 4 && child_ == Child::kError && q.ns == kNsStanzaErrors && q.local != "text" &&
          stanza_.error_condition.empty())
        stanza_.error_condition = q.local;
      break;
    default:
      break;
  }
}

void StreamParser::Impl::on_end(const XML_Char*) {
  if (stopped_) return;
  if (xdepth_ == 2) {
    on_top_end();
  } else if (xdepth_ == 1) {
    flush_ws();
    emit(cur_begin(), cur_end(), StreamClose{});
  } else if (collect_ != Collect::kNone && xdepth_ == collect_depth_) {
    if (collect_ == Collect::kMechanism)
      features_.sasl_mechanisms.emplace_back(trim_ws(text_));
    else
      stream_error_.text = text_;
    collect_ = Collect::kNone;
  }
  --xdepth_;
}

void StreamParser::Impl::on_top_end() {
  const std::uint64_t b = top_begin_;
  const std::uint64_t e = cur_end();
  const Role role = cfg_.role;
  switch (top_) {
    case Top::kFeatures:
      emit(b, e, std::move(features_));
      break;
    case Top::kStreamError:
      emit(b, e, std::move(stream_error_));
      break;
    case Top::kStartTls:
      emit(b, e, StartTls{});
      if (role == Role::kReceiver)
        anomaly(kAnomalyTlsWrongDirection, "<starttls/> from the receiving side", b, e);
      else
        handoff_tls(e);
      break;
    case Top::kProceed:
      emit(b, e, Proceed{});
      if (role == Role::kInitiator)
        anomaly(kAnomalyTlsWrongDirection, "<proceed/> from the initiating side", b, e);
      else
        handoff_tls(e);
      break;
    case Top::kTlsFailure:
      emit(b, e, TlsFailure{});
      break;
    case Top::kSaslAuth:
      emit(b, e, SaslAuth{std::move(sasl_value_)});
      break;
    case Top::kSaslSuccess:
      emit(b, e, SaslSuccess{});
      break;
    case Top::kSaslFailure:
      emit(b, e, SaslFailure{std::move(sasl_value_)});
      break;
    case Top::kDbResult:
    case Top::kDbVerify: {
      const std::string_view t = db_.type_text;
      db_.type = t.empty()        ? DialbackType::kRequest
                 : t == "valid"   ? DialbackType::kValid
                 : t == "invalid" ? DialbackType::kInvalid
                 : t == "error"   ? DialbackType::kError
                                  : DialbackType::kOther;
      if (top_ == Top::kDbResult)
        emit(b, e, DialbackResult{std::move(db_)});
      else
        emit(b, e, DialbackVerify{std::move(db_)});
      break;
    }
    case Top::kStanza:
    case Top::kOther:
    case Top::kCompress:
    case Top::kCompressed:
      stanza_.size_bytes = e - b;
      emit(b, e, std::move(stanza_));
      if (top_ == Top::kCompressed && role != Role::kInitiator) {
        handoff_compression(e);
      } else if (top_ == Top::kCompress && role != Role::kReceiver) {
        // The initiator compresses right after <compress/> once the receiver said
        // <compressed/>; a non-markup byte right there means it did.
        compress_watch_ = true;
        compress_at_ = e;
      }
      break;
    case Top::kNone:
      break;
  }
  top_ = Top::kNone;
  collect_ = Collect::kNone;
}

void StreamParser::Impl::on_chars(const XML_Char* s, int len) {
  if (stopped_ || len <= 0) return;
  const std::string_view text(s, static_cast<std::size_t>(len));
  if (xdepth_ == 1) {
    const std::uint64_t b = cur_begin();
    const std::uint64_t e = cur_end();
    if (compress_watch_) {
      compress_watch_ = false;
      if (b == compress_at_ && !is_xml_ws(static_cast<std::uint8_t>(text.front()))) {
        handoff_compression(b);
        return;
      }
    }
    if (!run_active_) {
      run_active_ = true;
      run_text_ = false;
      run_begin_ = b;
    }
    run_end_ = e;
    if (!run_text_) {
      const std::size_t k =
          std::find_if(text.begin(), text.end(),
                       [](char c) { return !is_xml_ws(static_cast<std::uint8_t>(c)); }) -
          text.begin();
      if (k < text.size()) {
        run_text_ = true;
        // Raw bytes equal the text except in one-character tokens (references, CR LF), where
        // k is 0: b + k is the first non-whitespace byte either way.
        if (!text_at_stream_reported_) {
          text_at_stream_reported_ = true;
          anomaly(kAnomalyTextAtStreamLevel, "character data between top-level elements", b + k,
                  b + k + 1);
        }
      }
    }
    return;
  }
  if (xdepth_ == 2 && (top_ == Top::kDbResult || top_ == Top::kDbVerify)) {
    if (!db_.has_key && !all_ws(text)) db_.has_key = true;
    return;
  }
  if (collect_ != Collect::kNone && xdepth_ == collect_depth_ && text_.size() < kMaxKeptText)
    text_.append(text.substr(0, kMaxKeptText - text_.size()));
}

// ---------------------------------------------------------------------------------------------
// StreamParser

StreamParser::StreamParser(Config config) : impl_(std::make_unique<Impl>(config)) {}
StreamParser::~StreamParser() = default;
StreamParser::StreamParser(StreamParser&&) noexcept = default;
StreamParser& StreamParser::operator=(StreamParser&&) noexcept = default;

std::size_t StreamParser::feed(std::span<const std::uint8_t> bytes) {
  return impl_->feed(bytes);
}
void StreamParser::gap(std::uint64_t length) {
  impl_->gap(length);
}
void StreamParser::end() {
  impl_->end();
}
const std::vector<Event>& StreamParser::events() const {
  return impl_->events_;
}
void StreamParser::clear_events() {
  impl_->events_.clear();
}
std::vector<Event> StreamParser::take_events() {
  std::vector<Event> out;
  out.swap(impl_->events_);
  return out;
}
State StreamParser::state() const {
  return impl_->state_;
}
bool StreamParser::need_more() const {
  const State s = impl_->state_;
  return s == State::kStart || s == State::kXml || s == State::kResync;
}
bool StreamParser::failed() const {
  return !impl_->failure_.empty();
}
std::string_view StreamParser::failure() const {
  return impl_->failure_;
}
std::string_view StreamParser::failure_detail() const {
  return impl_->failure_detail_;
}
std::uint64_t StreamParser::offset() const {
  return impl_->offset_;
}
std::uint64_t StreamParser::tls_offset() const {
  return impl_->tls_offset_;
}
std::size_t StreamParser::depth() const {
  return impl_->depth_ + (impl_->fast_pending_ ? impl_->scanner_.nesting() : 0);
}
std::size_t StreamParser::buffered_bytes() const {
  return impl_->carry_.size() + impl_->hold_.size() + impl_->first_bytes_.size() +
         impl_->fast_buf_.size();
}
std::size_t StreamParser::memory_bytes() const {
  return impl_->carry_.capacity() + impl_->hold_.capacity() + impl_->first_bytes_.capacity() +
         impl_->fast_buf_.capacity() + impl_->mem_.bytes;
}
bool StreamParser::reparse_deferral_disabled() {
#ifdef FEDSCOPE_HAVE_XML_SET_REPARSE_DEFERRAL
  return true;
#else
  return false;
#endif
}
const AnomalyCounters& StreamParser::anomalies() const {
  return impl_->counters_;
}
std::uint64_t StreamParser::fast_path_stanzas() const {
  return impl_->fast_stanzas_;
}

}  // namespace fedscope::xmpp
