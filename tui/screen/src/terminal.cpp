// ncurses drawing and keys (terminal.hpp).

#include "fedscope/tui/terminal.hpp"

#include <curses.h>
#include <langinfo.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace fedscope::tui {
namespace {

SCREEN* g_screen = nullptr;

// Colour pairs per style (pair numbers are the style's value + 1).
struct Look {
  short fg, bg;
  attr_t attr;       // with colour
  attr_t mono_attr;  // without colour
};

Look look(Style s) {
  switch (s) {
    case Style::kNormal:
      return {-1, -1, A_NORMAL, A_NORMAL};
    case Style::kDim:
      return {-1, -1, A_DIM, A_DIM};
    case Style::kBold:
      return {-1, -1, A_BOLD, A_BOLD};
    case Style::kTitle:
      return {COLOR_WHITE, COLOR_BLUE, A_BOLD, A_REVERSE | A_BOLD};
    case Style::kHeader:
      return {COLOR_CYAN, -1, A_BOLD, A_BOLD};
    case Style::kSelected:
      return {COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE};
    case Style::kOk:
      return {COLOR_GREEN, -1, A_BOLD, A_NORMAL};
    case Style::kDegraded:
      return {COLOR_YELLOW, -1, A_BOLD, A_BOLD};
    case Style::kFailed:
      return {COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD};
    case Style::kUnknown:
      return {COLOR_MAGENTA, -1, A_BOLD, A_DIM};
    case Style::kInfo:
      return {COLOR_BLUE, -1, A_NORMAL, A_NORMAL};
    case Style::kWarning:
      return {COLOR_YELLOW, -1, A_BOLD, A_BOLD};
    case Style::kError:
      return {COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE};
    case Style::kStatus:
      return {COLOR_BLACK, COLOR_WHITE, A_NORMAL, A_REVERSE};
    case Style::kInput:
      return {COLOR_BLACK, COLOR_YELLOW, A_NORMAL, A_REVERSE};
  }
  return {-1, -1, A_NORMAL, A_NORMAL};
}

constexpr int kStyles = static_cast<int>(Style::kInput) + 1;

}  // namespace

std::unique_ptr<Terminal> Terminal::open(std::string& error, bool keys_from_tty) {
  std::FILE* in = stdin;
  std::FILE* tty = nullptr;
  if (keys_from_tty && isatty(STDOUT_FILENO)) {
    tty = std::fopen("/dev/tty", "r");
    if (!tty) {
      error =
          "fedscope tui: standard input is the capture, and /dev/tty cannot be opened "
          "for the keys";
      return nullptr;
    }
    in = tty;
  }
  if (!isatty(fileno(in)) || !isatty(STDOUT_FILENO)) {
    if (tty) std::fclose(tty);
    error =
        "fedscope tui needs a terminal (standard input and output are not one); for a report "
        "in a pipe or a file use `fedscope report`";
    return nullptr;
  }
  const char* term = std::getenv("TERM");
  if (!term || !*term || std::strcmp(term, "dumb") == 0) {
    if (tty) std::fclose(tty);
    error = std::string("fedscope tui needs a terminal that can address the screen (TERM is ") +
            (term && *term ? "'dumb'" : "not set") + "); for a report use `fedscope report`";
    return nullptr;
  }
  g_screen = newterm(nullptr, stdout, in);
  if (!g_screen) {
    if (tty) std::fclose(tty);
    error = std::string("fedscope tui: the terminal type '") + term +
            "' is unknown to ncurses (is the terminfo entry installed?)";
    return nullptr;
  }
  std::unique_ptr<Terminal> t(new Terminal());
  t->tty_ = tty;
  const char* cs = nl_langinfo(CODESET);
  t->utf8_ = cs && (std::strcmp(cs, "UTF-8") == 0 || std::strcmp(cs, "utf8") == 0);
  const char* no_color = std::getenv("NO_COLOR");
  t->color_ = has_colors() && !(no_color && *no_color);
  cbreak();
  noecho();
  nonl();
  keypad(stdscr, TRUE);
  set_escdelay(25);
  curs_set(0);
  if (t->color_) {
    start_color();
    use_default_colors();
    for (int i = 0; i < kStyles; ++i) {
      const auto l = look(static_cast<Style>(i));
      init_pair(static_cast<short>(i + 1), l.fg, l.bg);
    }
  }
  return t;
}

Terminal::~Terminal() {
  restore();
  if (g_screen) {
    delscreen(g_screen);
    g_screen = nullptr;
  }
  if (tty_) std::fclose(tty_);
}

void Terminal::restore() {
  if (g_screen && !isendwin()) endwin();
}

std::pair<int, int> Terminal::size() const {
  int h = 0, w = 0;
  getmaxyx(stdscr, h, w);
  return {w, h};
}

void Terminal::draw(const Screen& screen) {
  const auto [w, h] = size();
  for (int row = 0; row < h && row < static_cast<int>(screen.lines.size()); ++row) {
    move(row, 0);
    int col = 0;
    for (const auto& span : screen.lines[static_cast<std::size_t>(row)].spans) {
      const auto l = look(span.style);
      const attr_t a =
          color_ ? (l.attr | COLOR_PAIR(static_cast<int>(span.style) + 1)) : l.mono_attr;
      attrset(a);
      // The last cell of the last line cannot be written without scrolling in some
      // terminals: stop one short there.
      const int room = (row == h - 1 ? w - 1 : w) - col;
      if (room <= 0) break;
      const auto n = static_cast<int>(columns(span.text));
      if (n <= room) {
        addstr(span.text.c_str());
        col += n;
      } else {
        std::string cut = span.text;
        // Cut at a code point boundary.
        int seen = 0;
        std::size_t i = 0;
        for (; i < cut.size(); ++i)
          if ((static_cast<unsigned char>(cut[i]) & 0xC0) != 0x80 && seen++ == room) break;
        cut.resize(i);
        addstr(cut.c_str());
        col += room;
      }
    }
    attrset(A_NORMAL);
    if (col < w) clrtoeol();
  }
  if (screen.cursor) {
    curs_set(1);
    move(screen.cursor->first, screen.cursor->second);
  } else {
    curs_set(0);
  }
  refresh();
}

KeyEvent Terminal::read_key(int timeout_ms, bool& resized) {
  resized = false;
  timeout(timeout_ms);
  wint_t ch = 0;
  const int r = get_wch(&ch);
  if (r == ERR) return {};
  if (r == KEY_CODE_YES) {
    switch (ch) {
      case KEY_RESIZE:
        resized = true;
        return {};
      case KEY_UP:
        return {Key::kUp, 0};
      case KEY_DOWN:
        return {Key::kDown, 0};
      case KEY_LEFT:
        return {Key::kLeft, 0};
      case KEY_RIGHT:
        return {Key::kRight, 0};
      case KEY_PPAGE:
        return {Key::kPageUp, 0};
      case KEY_NPAGE:
        return {Key::kPageDown, 0};
      case KEY_HOME:
        return {Key::kHome, 0};
      case KEY_END:
        return {Key::kEnd, 0};
      case KEY_ENTER:
        return {Key::kEnter, 0};
      case KEY_BTAB:
        return {Key::kBackTab, 0};
      case KEY_BACKSPACE:
        return {Key::kBackspace, 0};
      default:
        return {};
    }
  }
  switch (ch) {
    case '\n':
    case '\r':
      return {Key::kEnter, 0};
    case '\t':
      return {Key::kTab, 0};
    case 27:
      return {Key::kEscape, 0};
    case 127:
    case 8:
      return {Key::kBackspace, 0};
    default:
      return KeyEvent::character(static_cast<char32_t>(ch));
  }
}

}  // namespace fedscope::tui
