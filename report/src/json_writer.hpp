#pragma once
// Internal to fedscope_report (not installed): the streaming JSON writer that the report
// (render_json.cpp) and the event log (events.cpp) write with. RapidJSON's Writer (compact) or
// PrettyWriter (2-space indent, `"key": value`) writes token by token into a buffered adapter
// over a std::ostream (or a std::string), so no document tree and no whole-report string is
// ever built.
//
// Formatting (docs/cli.md, "JSON output"):
// - integers as written by RapidJSON (decimal, no exponent);
// - doubles with RapidJSON's Grisu2 shortest round-trip form ("0.25", "8.6e-5", "1.0"); a
//   non-finite double is written as null (as nlohmann::json did);
// - strings as UTF-8, '"' and '\\' escaped, control characters below U+0020 as \b \t \n \f \r
//   or \u00XX; nothing else is escaped (no \/, no \uXXXX for non-ASCII);
// - bytes that are no well-formed UTF-8 (names and texts come off the wire) are replaced by
//   U+FFFD, one per maximal ill-formed subpart (Unicode §3.9, "U+FFFD substitution of maximal
//   subparts"): exactly what nlohmann's dump with error_handler_t::replace wrote before, so
//   the output is always valid JSON and never throws.

#include <rapidjson/prettywriter.h>
#include <rapidjson/writer.h>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>

namespace fedscope::report::detail {

/// Bytes that are no well-formed UTF-8 in @p s replaced by U+FFFD (one per maximal ill-formed
/// subpart). Returns @p s itself when it is well-formed (the usual case, no copy); otherwise
/// the sanitised text, in @p scratch.
std::string_view utf8_sanitize(std::string_view s, std::string& scratch);

/// A RapidJSON output stream (Put/Flush) that buffers and writes to a std::ostream or appends
/// to a std::string. Flushed by RapidJSON at the end of each top-level value, by Flush() and
/// on destruction. RapidJSON reserves room before it writes a token (PutReserve, below), so
/// most bytes go in without a bounds check.
class JsonSink {
 public:
  using Ch = char;
  explicit JsonSink(std::ostream& os) : os_(&os), cap_(65536), buf_(new char[cap_]) {}
  explicit JsonSink(std::string& s) : str_(&s), cap_(1024), buf_(new char[cap_]) {}
  ~JsonSink() { Flush(); }
  JsonSink(const JsonSink&) = delete;
  JsonSink& operator=(const JsonSink&) = delete;

  void Put(char c) {
    if (n_ == cap_) Flush();
    buf_[n_++] = c;
  }
  void Flush() {
    if (n_ == 0) return;
    if (os_)
      os_->write(buf_.get(), static_cast<std::streamsize>(n_));
    else
      str_->append(buf_.get(), n_);
    n_ = 0;
  }
  /// Room for @p count more bytes: then put_unsafe() may write them.
  void reserve(std::size_t count) {
    if (cap_ - n_ >= count) return;
    Flush();
    if (count > cap_) {  // a long string (RapidJSON reserves 6 bytes a byte for escapes)
      cap_ = count;
      buf_.reset(new char[cap_]);
    }
  }
  void put_unsafe(char c) { buf_[n_++] = c; }

 private:
  std::ostream* os_ = nullptr;
  std::string* str_ = nullptr;
  std::size_t cap_;
  std::unique_ptr<char[]> buf_;
  std::size_t n_ = 0;
};

// Found by argument-dependent lookup from RapidJSON's writers, preferred to its generic
// versions (which check the bounds on every byte).
inline void PutReserve(JsonSink& sink, std::size_t count) {
  sink.reserve(count);
}
inline void PutUnsafe(JsonSink& sink, char c) {
  sink.put_unsafe(c);
}

/// The type RapidJSON's writers over JsonSink push on their level stack (protected there).
struct RapidJsonLevel : rapidjson::Writer<JsonSink> {
  using Type = rapidjson::Writer<JsonSink>::Level;
};

}  // namespace fedscope::report::detail

// RapidJSON 1.1.0 (Debian 12) allocates a writer's level stack on the first push and computes
// `nullptr + n` before it does: undefined behaviour that clang's UBSan reports (the fuzz
// build stops on it). Fixed upstream after 1.1.0 by comparing the room left instead; the same
// check here, for the one type our writers push (Writer and PrettyWriter over JsonSink share
// it). An explicit specialization is a member, so it may call the private Expand().
namespace rapidjson::internal {
template <>
template <>
inline void Stack<CrtAllocator>::Reserve<fedscope::report::detail::RapidJsonLevel::Type>(
    size_t count) {
  using Level = fedscope::report::detail::RapidJsonLevel::Type;
  if (RAPIDJSON_UNLIKELY(static_cast<std::ptrdiff_t>(sizeof(Level) * count) >
                         stackEnd_ - stackTop_))
    Expand<Level>(count);
}
}  // namespace rapidjson::internal

namespace fedscope::report::detail {

/// The writer: pretty (the report's default) or compact (--compact, the event log's lines).
/// Every string goes through utf8_sanitize() first.
class JsonWriter {
 public:
  JsonWriter(JsonSink& sink, bool pretty) : pretty_(pretty), compact_(sink), pretty_writer_(sink) {
    pretty_writer_.SetIndent(' ', 2);
  }

  void begin_object() { pretty_ ? pretty_writer_.StartObject() : compact_.StartObject(); }
  void end_object() { pretty_ ? pretty_writer_.EndObject() : compact_.EndObject(); }
  void begin_array() { pretty_ ? pretty_writer_.StartArray() : compact_.StartArray(); }
  void end_array() { pretty_ ? pretty_writer_.EndArray() : compact_.EndArray(); }

  void key(std::string_view k) {
    const std::string_view s = utf8_sanitize(k.data() ? k : std::string_view(""), scratch_);
    const auto n = static_cast<rapidjson::SizeType>(s.size());
    pretty_ ? pretty_writer_.Key(s.data(), n) : compact_.Key(s.data(), n);
  }

  void null() { pretty_ ? pretty_writer_.Null() : compact_.Null(); }
  void value(std::nullptr_t) { null(); }
  void value(bool b) { pretty_ ? pretty_writer_.Bool(b) : compact_.Bool(b); }
  template <std::integral T>
  requires(!std::same_as<T, bool>) void value(T v) {
    if constexpr (std::is_signed_v<T>) {
      const auto i = static_cast<std::int64_t>(v);
      pretty_ ? pretty_writer_.Int64(i) : compact_.Int64(i);
    } else {
      const auto u = static_cast<std::uint64_t>(v);
      pretty_ ? pretty_writer_.Uint64(u) : compact_.Uint64(u);
    }
  }
  void value(double d) {
    if (!std::isfinite(d)) return null();  // RapidJSON refuses NaN and infinities
    pretty_ ? pretty_writer_.Double(d) : compact_.Double(d);
  }
  void value(std::string_view v) {
    // RapidJSON asserts a non-null pointer, which a default std::string_view does not have.
    const std::string_view s = utf8_sanitize(v.data() ? v : std::string_view(""), scratch_);
    const auto n = static_cast<rapidjson::SizeType>(s.size());
    pretty_ ? pretty_writer_.String(s.data(), n) : compact_.String(s.data(), n);
  }
  void value(const char* v) { value(std::string_view(v)); }
  void value(const std::string& v) { value(std::string_view(v)); }
  /// A list (std::vector<std::string>, of numbers, ...) as an array.
  template <std::ranges::input_range R>
  requires(!std::convertible_to<const R&, std::string_view>) void value(const R& r) {
    begin_array();
    for (const auto& x : r)
      value(x);
    end_array();
  }
  /// @p v, or null when it is empty.
  void value_or_null(std::string_view v) { v.empty() ? null() : value(v); }

  /// `"k": v`
  template <class T>
  void member(std::string_view k, const T& v) {
    key(k);
    value(v);
  }
  void member_or_null(std::string_view k, std::string_view v) {
    key(k);
    value_or_null(v);
  }

  /// Ready for another top-level value (JSON lines).
  void reset(JsonSink& sink) {
    compact_.Reset(sink);
    pretty_writer_.Reset(sink);
  }

 private:
  bool pretty_;
  rapidjson::Writer<JsonSink> compact_;
  rapidjson::PrettyWriter<JsonSink> pretty_writer_;
  std::string scratch_;
};

}  // namespace fedscope::report::detail
