#include "fedscope/base/describe.hpp"

namespace fedscope::describe {

void field(std::string& out, std::string_view key, std::string_view value, Escape escape) {
  if (value.empty()) return;
  out += ' ';
  out += key;
  out += "='";
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f || (escape == Escape::kNonAscii && u >= 0x80)) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  out += '\'';
}

void flag(std::string& out, std::string_view key, bool value) {
  if (!value) return;
  out += ' ';
  out += key;
}

void number(std::string& out, std::string_view key, std::uint64_t value) {
  out += ' ';
  out += key;
  out += '=';
  out += std::to_string(value);
}

void text(std::string& out, std::string_view key, std::string_view value) {
  out += ' ';
  out += key;
  out += '=';
  out += value;
}

}  // namespace fedscope::describe
