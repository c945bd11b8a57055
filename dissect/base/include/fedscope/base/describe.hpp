#pragma once
/// @file
/// Building blocks of the one-line event descriptions the decoders print (`describe()` in
/// dissect/xmpp and dissect/tls): stable text that unit tests compare as transcripts.
/// Each appends to @p out; nothing is kept.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fedscope::describe {

/// Which bytes of a value are written as \xNN besides quotes, backslashes and control bytes.
enum class Escape : std::uint8_t {
  kControl,   ///< control bytes and DEL: UTF-8 text stays readable
  kNonAscii,  ///< also every byte >= 0x80 (raw protocol bytes)
};

/// " key='value'", quotes and backslashes escaped; nothing when @p value is empty.
void field(std::string& out, std::string_view key, std::string_view value,
           Escape escape = Escape::kControl);
/// " key" when @p value is true.
void flag(std::string& out, std::string_view key, bool value);
/// " key=N".
void number(std::string& out, std::string_view key, std::uint64_t value);
/// " key=value" as is.
void text(std::string& out, std::string_view key, std::string_view value);

/// " key=[a,b,c]" with each element turned into text by @p to_text; nothing when empty.
template <typename T, typename F>
void list(std::string& out, std::string_view key, const std::vector<T>& values, F&& to_text) {
  if (values.empty()) return;
  out += ' ';
  out += key;
  out += "=[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += to_text(values[i]);
  }
  out += ']';
}

}  // namespace fedscope::describe
