#pragma once
/// @file
/// The only ncurses user: paints a tui::Screen (model.hpp) and turns terminal keys into
/// KeyEvents. Everything shown is decided by the view model; this draws it.
///
/// Colour: on when the terminal has colours and NO_COLOR is unset or empty
/// (https://no-color.org); otherwise attributes only (reverse, bold, dim). UTF-8: when the
/// locale's character set is UTF-8 (setlocale(LC_ALL, "") must have run), else the view is
/// made with its ASCII fallback.

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "fedscope/tui/model.hpp"

namespace fedscope::tui {

class Terminal {
 public:
  /// Takes over the terminal (stdin and stdout must be terminals; with @p keys_from_tty the
  /// keys are read from /dev/tty instead, because standard input is the capture). nullptr
  /// with @p error when they are not, or when TERM names a terminal ncurses does not know.
  static std::unique_ptr<Terminal> open(std::string& error, bool keys_from_tty = false);
  /// Gives the terminal back as it was (also on the way out of a signal: see restore()).
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  /// Columns and lines now.
  std::pair<int, int> size() const;
  bool utf8() const { return utf8_; }
  bool color() const { return color_; }

  /// Paints @p screen (its size should be size()); only what changed reaches the terminal.
  void draw(const Screen& screen);
  /// Waits up to @p timeout_ms for a key. Key::kNone on timeout; @p resized is set when the
  /// terminal changed size.
  KeyEvent read_key(int timeout_ms, bool& resized);

  /// endwin() for a fatal signal handler's path (async-signal-unsafe, best effort).
  static void restore();

 private:
  Terminal() = default;
  bool utf8_ = false, color_ = false;
  std::FILE* tty_ = nullptr;  // /dev/tty when standard input is the capture
};

}  // namespace fedscope::tui
