// The TUI's view (model.hpp): selection, filter, sort, keys, and the screen laid out as text.

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "fedscope/base/domain.hpp"
#include "fedscope/report/findings.hpp"
#include "fedscope/tui/model.hpp"

namespace fedscope::tui {

// ---- text helpers ---------------------------------------------------------------------------

std::size_t columns(const std::string& text) {
  std::size_t n = 0;
  for (unsigned char c : text)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

namespace {

// Byte offset of the column @p col in UTF-8 @p text (text.size() when shorter).
std::size_t offset_of_column(const std::string& text, std::size_t col) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (n == col) return i;
      ++n;
    }
  }
  return text.size();
}

}  // namespace

std::string fit(const std::string& text, std::size_t width, bool utf8) {
  const auto n = columns(text);
  if (n <= width) return text + std::string(width - n, ' ');
  if (width == 0) return "";
  return text.substr(0, offset_of_column(text, width - 1)) + (utf8 ? "\xE2\x80\xA6" : "~");
}

std::string Screen::text() const {
  std::string out;
  for (const auto& l : lines) {
    std::string row;
    for (const auto& s : l.spans)
      row += s.text;
    while (!row.empty() && row.back() == ' ')
      row.pop_back();
    out += row;
    out += '\n';
  }
  return out;
}

namespace {

std::string clock_text(Timestamp t) {
  if (t.ns == 0) return "--:--:--";
  std::int64_t s = t.ns / 1'000'000'000;
  if (t.ns < 0 && t.ns % 1'000'000'000) --s;
  s %= 86400;
  if (s < 0) s += 86400;
  char b[16];
  std::snprintf(b, sizeof b, "%02d:%02d:%02d", static_cast<int>(s / 3600),
                static_cast<int>(s / 60 % 60), static_cast<int>(s % 60));
  return b;
}

std::string rel_text(Timestamp t, Timestamp base) {
  const double d = (t - base).seconds();
  char b[24];
  std::snprintf(b, sizeof b, "%+8.3f", d);
  return b;
}

std::string count_text(std::uint64_t n) {
  // Built from the right, three digits at a time (no insert into a string: GCC 12 warns).
  char b[32];
  int i = static_cast<int>(sizeof b);
  b[--i] = 0;
  int digits = 0;
  do {
    if (digits && digits % 3 == 0) b[--i] = ',';
    b[--i] = static_cast<char>('0' + n % 10);
    n /= 10;
    ++digits;
  } while (n);
  return std::string(b + i);
}

std::string bytes_text(std::uint64_t n) {
  char b[32];
  if (n < 10'000)
    std::snprintf(b, sizeof b, "%" PRIu64 " B", n);
  else if (n < 10'000'000)
    std::snprintf(b, sizeof b, "%.1f kB", static_cast<double>(n) / 1e3);
  else
    std::snprintf(b, sizeof b, "%.1f MB", static_cast<double>(n) / 1e6);
  return b;
}

Style severity_style(report::Severity s) {
  switch (s) {
    case report::Severity::kError:
      return Style::kError;
    case report::Severity::kWarning:
      return Style::kWarning;
    default:
      return Style::kInfo;
  }
}

std::string severity_word(report::Severity s) {
  switch (s) {
    case report::Severity::kError:
      return "ERROR";
    case report::Severity::kWarning:
      return "WARN ";
    default:
      return "info ";
  }
}

Style verdict_style(const std::string& status) {
  if (status == "ok") return Style::kOk;
  if (status == "degraded") return Style::kDegraded;
  if (status == "failed") return Style::kFailed;
  return Style::kUnknown;
}

int verdict_rank(const std::string& status) {
  if (status == "failed") return 0;
  if (status == "degraded") return 1;
  if (status == "not-determinable") return 2;
  if (status == "ok") return 3;
  return 4;
}

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

bool contains_ci(const std::string& hay, const std::string& needle_lower) {
  return lower(hay).find(needle_lower) != std::string::npos;
}

// Words of @p text wrapped to @p width columns, the first line after @p first_indent columns
// already used, the others indented by @p indent.
std::vector<std::string> wrap(const std::string& text, std::size_t width, std::size_t indent) {
  std::vector<std::string> out;
  std::string cur;
  std::size_t start = 0;
  const std::size_t w = width > indent + 10 ? width - indent : 10;
  while (start < text.size()) {
    auto end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    std::string word = text.substr(start, end - start);
    start = end + 1;
    if (word.empty()) continue;
    while (columns(word) > w) {  // a word longer than a line is cut
      if (!cur.empty()) out.push_back(std::move(cur)), cur.clear();
      auto cut = offset_of_column(word, w);
      out.push_back(word.substr(0, cut));
      word = word.substr(cut);
    }
    if (!cur.empty() && columns(cur) + 1 + columns(word) > w) {
      out.push_back(std::move(cur));
      cur.clear();
    }
    if (!cur.empty()) cur += ' ';
    cur += word;
  }
  if (!cur.empty() || out.empty()) out.push_back(cur);
  return out;
}

// The attempt's authentication in a column's width: "dialback valid", "SASL-EXT ok", "in TLS".
std::string auth_text(const report::AttemptState& a) {
  if (a.auth_method.empty()) return "";
  if (a.auth_result == "not-observable") return "in TLS";
  std::string m = a.auth_method == "sasl-external" ? "SASL-EXT"
                  : a.auth_method == "sasl"        ? "SASL"
                                                   : a.auth_method;
  std::string r = a.auth_result == "success"   ? "ok"
                  : a.auth_result == "failure" ? "failed"
                                               : a.auth_result;
  return m == "none" ? "none" : m + " " + r;
}

// The report's words for a verdict: "FAILED", "OK (inferred)", "NOT OBSERVED".
std::string verdict_word(const report::VerdictState& v) {
  std::string s;
  for (char c : v.status)
    s += c == '-' ? ' ' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  if ((v.status == "ok" || v.status == "degraded") && !v.basis.empty()) s += " (" + v.basis + ")";
  return s;
}

Action quit_action() {
  Action a;
  a.kind = Action::Kind::kQuit;
  return a;
}

Line line_of(std::string text, Style style = Style::kNormal) {
  Line l;
  l.spans.push_back({std::move(text), style});
  return l;
}

// Fits a line to exactly @p width columns (cutting the spans at the edge, padding the last).
Line fit_line(Line l, int width, bool utf8, Style pad = Style::kNormal) {
  Line out;
  std::size_t used = 0;
  const auto w = static_cast<std::size_t>(std::max(0, width));
  for (auto& s : l.spans) {
    if (used >= w) break;
    const auto n = columns(s.text);
    if (used + n > w) {
      out.spans.push_back({fit(s.text, w - used, utf8), s.style});
      used = w;
      break;
    }
    used += n;
    out.spans.push_back(std::move(s));
  }
  if (used < w) out.spans.push_back({std::string(w - used, ' '), pad});
  return out;
}

}  // namespace

// ---- View ------------------------------------------------------------------------------------

View::View(const Model& model, ViewOptions options)
    : model_(model), options_(options), follow_(options.follow) {}

std::string View::arrow() const {
  return options_.utf8 ? " \xE2\x86\x92 " : " -> ";
}

std::string View::show(const std::string& text) const {
  // Untrusted text (domains, stanza names) without control characters; non-ASCII kept in a
  // UTF-8 terminal, '?' in an ASCII one.
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      out += '?';
    } else if (c >= 0x80 && !options_.utf8) {
      if ((c & 0xC0) != 0x80) out += '?';
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool View::session_matches(const Session& s, const std::string& f) const {
  if (f.empty()) return true;
  if (contains_ci(s.from_domain, f) || contains_ci(s.to_domain, f) || contains_ci(s.client, f) ||
      contains_ci(s.server, f) || contains_ci(s.state, f) || contains_ci(s.stream, f) ||
      contains_ci(std::to_string(s.flow), f))
    return true;
  for (const auto& l : s.legs)
    if (contains_ci(l.client.to_string(), f) || contains_ci(l.server.to_string(), f) ||
        contains_ci(l.vantage, f))
      return true;
  for (const auto& k : model_.findings_of(s.flow))
    if (contains_ci(k, f)) return true;
  return false;
}

void View::refresh() {
  if (seen_version_ == model_.version() && seen_filter_ == filter_ && seen_sort_ == sort_ &&
      seen_reverse_ == reverse_)
    return;
  // Keep the selection on the same session / finding across a re-sort.
  const auto keep_flow =
      sessions_.empty() || selected_[0] >= sessions_.size() ? 0u : sessions_[selected_[0]];
  const auto keep_finding = findings_.empty() || selected_[1] >= findings_.size()
                                ? std::string()
                                : findings_[selected_[1]];
  seen_version_ = model_.version();
  verdict_of_attempt_.clear();
  for (const auto& [key, v] : model_.fold().verdicts())
    for (const auto& a : v.attempts)
      verdict_of_attempt_.emplace(a, &v);
  seen_filter_ = filter_;
  seen_sort_ = sort_;
  seen_reverse_ = reverse_;

  const auto fl = lower(filter_);
  // Sessions.
  struct Row {
    const Session* s;
    int worst;
    std::size_t nfind;
  };
  std::vector<Row> rows;
  rows.reserve(model_.sessions().size());
  for (const auto& [flow, s] : model_.sessions()) {
    if (!session_matches(s, fl)) continue;
    const auto [worst, n] = severity_of(flow);
    rows.push_back({&s, worst, n});
  }
  auto peers = [](const Session& s) {
    return s.from_domain.empty() && s.to_domain.empty() ? s.client + " " + s.server
                                                        : s.from_domain + " " + s.to_domain;
  };
  std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    switch (sort_) {
      case SortBy::kPeers: {
        auto pa = peers(*a.s), pb = peers(*b.s);
        if (pa != pb) return pa < pb;
        break;
      }
      case SortBy::kState:
        if (a.s->state != b.s->state) return a.s->state < b.s->state;
        break;
      case SortBy::kFindings:
        if (a.worst != b.worst) return a.worst > b.worst;
        if (a.nfind != b.nfind) return a.nfind > b.nfind;
        break;
      case SortBy::kLast:
        if (a.s->last != b.s->last) return a.s->last > b.s->last;
        break;
      case SortBy::kArrival:
        break;
    }
    return a.s->order < b.s->order;
  });
  if (reverse_) std::reverse(rows.begin(), rows.end());
  sessions_.clear();
  for (const auto& r : rows)
    sessions_.push_back(r.s->flow);

  // Findings: root causes and independent findings by severity, each cause's consequences
  // under it; in raise order within a severity.
  findings_.clear();
  std::vector<std::pair<std::tuple<int, std::uint64_t>, std::string>> roots;
  std::map<std::string, std::vector<std::pair<std::uint64_t, std::string>>> folded;
  for (const auto& [key, e] : model_.fold().findings()) {
    if (!filter_.empty() && !contains_ci(key, fl) && !contains_ci(e.finding.summary, fl) &&
        !contains_ci(e.finding.domain, fl))
      continue;
    if (!e.folded_under.empty() && model_.fold().findings().count(e.folded_under))
      folded[e.folded_under].push_back({e.raised_seq, key});
    else
      roots.push_back({{-static_cast<int>(e.finding.severity), e.raised_seq}, key});
  }
  std::sort(roots.begin(), roots.end());
  for (const auto& [order, key] : roots) {
    findings_.push_back(key);
    if (auto it = folded.find(key); it != folded.end()) {
      std::sort(it->second.begin(), it->second.end());
      for (const auto& [seq, k] : it->second)
        findings_.push_back(k);
      folded.erase(it);
    }
  }
  for (auto& [cause, list] : folded) {  // folded under a cause the filter hid
    std::sort(list.begin(), list.end());
    for (const auto& [seq, k] : list)
      findings_.push_back(k);
  }

  // DNS.
  dns_rows_.clear();
  for (std::size_t i = 0; i < model_.dns().size(); ++i) {
    const auto& d = model_.dns()[i];
    if (!filter_.empty() && !contains_ci(d.query, fl) && !contains_ci(d.client, fl) &&
        !contains_ci(d.server, fl) && !contains_ci(d.outcome, fl))
      continue;
    dns_rows_.push_back(i);
  }

  if (follow_ && !sessions_.empty()) {
    std::size_t best = 0;
    for (std::size_t i = 0; i < sessions_.size(); ++i)
      if (model_.session(sessions_[i])->order > model_.session(sessions_[best])->order) best = i;
    selected_[0] = best;
    if (!dns_rows_.empty()) selected_[2] = dns_rows_.size() - 1;
  } else {
    if (keep_flow)
      if (auto it = std::find(sessions_.begin(), sessions_.end(), keep_flow); it != sessions_.end())
        selected_[0] = static_cast<std::size_t>(it - sessions_.begin());
    if (!keep_finding.empty())
      if (auto it = std::find(findings_.begin(), findings_.end(), keep_finding);
          it != findings_.end())
        selected_[1] = static_cast<std::size_t>(it - findings_.begin());
  }
  clamp();
}

const std::vector<std::uint32_t>& View::visible_sessions() {
  refresh();
  return sessions_;
}

const std::vector<std::string>& View::visible_findings() {
  refresh();
  return findings_;
}

std::pair<std::size_t, std::size_t> View::scroll_into_view(int pane) {
  const auto sel = selected_[pane];
  auto& first = top_[pane];
  if (sel < first) first = sel;
  if (list_height_ > 0 && sel >= first + static_cast<std::size_t>(list_height_))
    first = sel - static_cast<std::size_t>(list_height_) + 1;
  return {sel, first};
}

std::pair<int, std::size_t> View::severity_of(std::uint32_t flow) const {
  int worst = -1;
  std::size_t n = 0;
  for (const auto& k : model_.findings_of(flow))
    if (auto it = model_.fold().findings().find(k); it != model_.fold().findings().end()) {
      worst = std::max(worst, static_cast<int>(it->second.finding.severity));
      ++n;
    }
  return {worst, n};
}

std::size_t View::rows() const {
  switch (pane_) {
    case Pane::kSessions:
      return sessions_.size();
    case Pane::kFindings:
      return findings_.size();
    case Pane::kDns:
      return dns_rows_.size();
  }
  return 0;
}

void View::clamp() {
  for (int p = 0; p < 3; ++p) {
    const std::size_t n = p == 0 ? sessions_.size() : p == 1 ? findings_.size() : dns_rows_.size();
    if (selected_[p] >= n) selected_[p] = n ? n - 1 : 0;
  }
}

void View::move(long delta) {
  auto& sel = selected_[static_cast<int>(pane_)];
  const auto n = static_cast<long>(rows());
  if (n == 0) return;
  long v = static_cast<long>(sel) + delta;
  v = std::clamp(v, 0L, n - 1);
  sel = static_cast<std::size_t>(v);
  if (follow_ && delta != 0) follow_ = false;  // moving by hand stops following
}

std::uint32_t View::selected_flow() const {
  if (pane_ == Pane::kFindings) {
    if (selected_[1] >= findings_.size()) return 0;
    auto it = model_.fold().findings().find(findings_[selected_[1]]);
    return it != model_.fold().findings().end() && it->second.finding.flow
               ? *it->second.finding.flow
               : 0;
  }
  if (pane_ == Pane::kSessions && selected_[0] < sessions_.size()) return sessions_[selected_[0]];
  return 0;
}

void View::open_detail() {
  if (pane_ == Pane::kFindings) {
    const auto flow = selected_flow();
    if (flow && model_.session(flow)) {
      // A finding of a session: show that session.
      pane_ = Pane::kSessions;
      if (!filter_.empty() &&
          std::find(sessions_.begin(), sessions_.end(), flow) == sessions_.end())
        filter_.clear(), refresh();
      if (auto it = std::find(sessions_.begin(), sessions_.end(), flow); it != sessions_.end())
        selected_[0] = static_cast<std::size_t>(it - sessions_.begin());
    } else if (selected_[1] >= findings_.size()) {
      return;
    }
  }
  if (pane_ == Pane::kDns) return;
  if (pane_ == Pane::kSessions && sessions_.empty()) return;
  detail_ = true;
  detail_top_ = 0;
  follow_ = false;
}

Action View::handle(const KeyEvent& k) {
  refresh();
  note_.clear();
  flash_.clear();
  if (input_ != Input::kNone) {
    switch (k.key) {
      case Key::kEscape:
        input_ = Input::kNone;
        break;
      case Key::kBackspace:
        if (!input_text_.empty()) {
          // Remove one UTF-8 code point.
          auto i = input_text_.size() - 1;
          while (i > 0 && (static_cast<unsigned char>(input_text_[i]) & 0xC0) == 0x80)
            --i;
          input_text_.erase(i);
        }
        break;
      case Key::kEnter: {
        const auto which = input_;
        input_ = Input::kNone;
        if (which == Input::kFilter) {
          filter_ = input_text_;
          for (auto& s : selected_)
            s = 0;
          refresh();
        } else if (!input_text_.empty() && selected_flow()) {
          return Action{Action::Kind::kSave, selected_flow(), input_text_, false};
        }
        break;
      }
      case Key::kChar:
        if (k.ch >= 0x20 && k.ch != 0x7F && input_text_.size() < 256) {
          // UTF-8 encode.
          char32_t c = k.ch;
          if (c < 0x80) {
            input_text_ += static_cast<char>(c);
          } else if (c < 0x800) {
            input_text_ += static_cast<char>(0xC0 | (c >> 6));
            input_text_ += static_cast<char>(0x80 | (c & 0x3F));
          } else if (c < 0x10000) {
            input_text_ += static_cast<char>(0xE0 | (c >> 12));
            input_text_ += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            input_text_ += static_cast<char>(0x80 | (c & 0x3F));
          } else if (c < 0x110000) {
            input_text_ += static_cast<char>(0xF0 | (c >> 18));
            input_text_ += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
            input_text_ += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            input_text_ += static_cast<char>(0x80 | (c & 0x3F));
          }
        }
        break;
      default:
        break;
    }
    return {};
  }
  if (help_) {  // any key closes the help; q still quits
    help_ = false;
    if (k.key == Key::kChar && k.ch == 'q') return quit_action();
    return {};
  }
  const bool in_detail = detail_;
  const long page = std::max(1, (in_detail ? detail_height_ : list_height_) - 1);
  auto scroll_detail = [&](long d) {
    long v = static_cast<long>(detail_top_) + d;
    const long max = std::max(0L, static_cast<long>(detail_lines_count_) - detail_height_);
    detail_top_ = static_cast<std::size_t>(std::clamp(v, 0L, max));
  };
  switch (k.key) {
    case Key::kUp:
      in_detail ? scroll_detail(-1) : move(-1);
      return {};
    case Key::kDown:
      in_detail ? scroll_detail(1) : move(1);
      return {};
    case Key::kPageUp:
      in_detail ? scroll_detail(-page) : move(-page);
      return {};
    case Key::kPageDown:
      in_detail ? scroll_detail(page) : move(page);
      return {};
    case Key::kHome:
      in_detail ? scroll_detail(-(1L << 30)) : move(-(1L << 30));
      return {};
    case Key::kEnd:
      in_detail ? scroll_detail(1L << 30) : move(1L << 30);
      return {};
    case Key::kEnter:
      if (in_detail)
        detail_ = false;
      else
        open_detail();
      return {};
    case Key::kEscape:
    case Key::kLeft:
      detail_ = false;
      return {};
    case Key::kRight:
      if (!in_detail) open_detail();
      return {};
    case Key::kTab:
    case Key::kBackTab: {
      detail_ = false;
      int p = static_cast<int>(pane_) + (k.key == Key::kTab ? 1 : 2);
      pane_ = static_cast<Pane>(p % 3);
      return {};
    }
    case Key::kBackspace:
      detail_ = false;
      return {};
    case Key::kChar:
      break;
    default:
      return {};
  }
  switch (k.ch) {
    case 'q':
      return quit_action();
    case 'k':
      in_detail ? scroll_detail(-1) : move(-1);
      return {};
    case 'j':
      in_detail ? scroll_detail(1) : move(1);
      return {};
    case 'g':
      in_detail ? scroll_detail(-(1L << 30)) : move(-(1L << 30));
      return {};
    case 'G':
      in_detail ? scroll_detail(1L << 30) : move(1L << 30);
      return {};
    case ' ':
      in_detail ? scroll_detail(page) : move(page);
      return {};
    case '?':
    case 'h':
      help_ = true;
      return {};
    case '/':
      input_ = Input::kFilter;
      input_text_ = filter_;
      return {};
    case 'f':
      follow_ = !follow_;
      if (follow_) {
        detail_ = false;
        pane_ = Pane::kSessions;
        seen_version_ = ~0ull;
        refresh();
      }
      note_ = follow_ ? "following: the newest session is selected as sessions arrive"
                      : "not following";
      return Action{Action::Kind::kFollow, 0, std::string(), follow_};
    case 's': {
      const auto flow = selected_flow();
      if (!flow) {
        note_ = "select a session to save its packets";
        return {};
      }
      input_ = Input::kSavePath;
      input_text_ = "fedscope-flow-" + std::to_string(flow) + ".pcapng";
      return {};
    }
    case '<':
    case '>': {
      int s = static_cast<int>(sort_) + (k.ch == '>' ? 1 : 4);
      sort_ = static_cast<SortBy>(s % 5);
      pane_ = Pane::kSessions;
      return {};
    }
    case 'r':
      reverse_ = !reverse_;
      return {};
    case 'p':
      paused_ = !paused_;
      note_ = paused_ ? "screen frozen, events wait (p resumes)" : "resumed";
      return {};
    default:
      return {};
  }
}

// ---- drawing ---------------------------------------------------------------------------------

void View::draw_title(Screen& sc) const {
  Line l;
  l.spans.push_back({" fedscope tui  ", Style::kTitle});
  l.spans.push_back({show(model_.status().name) + "   ", Style::kTitle});
  sc.lines[0] = fit_line(std::move(l), sc.width, options_.utf8, Style::kTitle);
  // Right-aligned hint.
  const std::string hint = "? help  q quit ";
  if (static_cast<int>(columns(hint)) + 20 < sc.width) {
    auto& spans = sc.lines[0].spans;
    std::string all;
    for (const auto& s : spans)
      all += s.text;
    const auto keep = offset_of_column(all, static_cast<std::size_t>(sc.width) - columns(hint));
    std::string left = all.substr(0, keep);
    spans.clear();
    spans.push_back({left, Style::kTitle});
    spans.push_back({hint, Style::kTitle});
  }
}

int View::draw_verdicts(Screen& sc, int top, int max_lines) const {
  std::vector<const report::VerdictState*> vs;
  for (const auto& [key, v] : model_.fold().verdicts())
    vs.push_back(&v);
  std::stable_sort(vs.begin(), vs.end(), [](const auto* a, const auto* b) {
    return verdict_rank(a->status) < verdict_rank(b->status);
  });
  int row = top;
  if (vs.empty()) {
    const char* what = model_.status().state == SourceState::kDone
                           ? " No federation direction in this capture (no XMPP server-to-server "
                             "traffic or lookups seen)."
                           : " No federation direction judged yet.";
    sc.lines[static_cast<std::size_t>(row++)] =
        fit_line(line_of(what, Style::kDim), sc.width, options_.utf8);
    return row - top;
  }
  const int room = std::max(1, max_lines);
  const bool more = static_cast<int>(vs.size()) > room;
  const int show_n = more ? room - 1 : static_cast<int>(vs.size());
  for (int i = 0; i < show_n; ++i) {
    const auto& v = *vs[static_cast<std::size_t>(i)];
    Line l;
    const auto st = verdict_style(v.status);
    l.spans.push_back({" " + fit(verdict_word(v), 18) + " ", st});
    l.spans.push_back({show(v.from) + arrow() + show(v.to), Style::kBold});
    std::string rest;
    if (!v.stage.empty()) rest += "  at " + v.stage;
    if (!v.root_cause_key.empty()) {
      auto it = model_.fold().findings().find(v.root_cause_key);
      rest += (v.stage.empty() ? "  " : ": ");
      if (it != model_.fold().findings().end())
        rest += std::string(report::to_string(it->second.finding.code)) + " " +
                (options_.utf8 ? "\xE2\x80\x94 " : "- ") + show(it->second.finding.summary);
      else
        rest += v.root_cause_key.substr(0, v.root_cause_key.find('@'));
    } else if (!v.why.empty()) {
      rest += "  " + show(v.why);
    }
    l.spans.push_back({rest, Style::kNormal});
    sc.lines[static_cast<std::size_t>(row++)] = fit_line(std::move(l), sc.width, options_.utf8);
  }
  if (more)
    sc.lines[static_cast<std::size_t>(row++)] =
        fit_line(line_of(" ... " + std::to_string(vs.size() - static_cast<std::size_t>(show_n)) +
                             " more directions (Tab: the Findings pane lists every root cause)",
                         Style::kDim),
                 sc.width, options_.utf8);
  return row - top;
}

void View::draw_sessions(Screen& sc, int top, int height) {
  list_height_ = height - 1;
  const int w = sc.width;
  // FLOW PEERS STATE TLS AUTH FIND LAST
  const int fixed = 6 + 1 + 5 + 1 + 8 + 1 + 15 + 1 + 5 + 1 + 8;
  const int peers_w = std::max(10, w - fixed - 1);
  auto row_text = [&](const std::string& flow, const std::string& peers, const std::string& state,
                      const std::string& tls, const std::string& auth, const std::string& find,
                      const std::string& last) {
    return fit(flow, 6) + " " + fit(peers, static_cast<std::size_t>(peers_w), options_.utf8) + " " +
           fit(state, 5) + " " + fit(tls, 8) + " " + fit(auth, 15) + " " + fit(find, 5) + " " +
           fit(last, 8);
  };
  std::string head =
      row_text(" FLOW", "PEERS (from" + arrow() + "to)", "STATE", "TLS", "AUTH", "FIND", "LAST");
  sc.lines[static_cast<std::size_t>(top)] =
      fit_line(line_of(head, Style::kHeader), w, options_.utf8, Style::kHeader);
  const auto [sel, first] = scroll_into_view(0);
  for (int i = 0; i < list_height_; ++i) {
    const auto idx = first + static_cast<std::size_t>(i);
    auto& out = sc.lines[static_cast<std::size_t>(top + 1 + i)];
    if (idx >= sessions_.size()) {
      if (i == 0 && sessions_.empty())
        out = fit_line(
            line_of(filter_.empty() ? "  (no sessions yet)"
                                    : "  (no session matches the filter '" + show(filter_) + "')",
                    Style::kDim),
            w, options_.utf8);
      else
        out = fit_line({}, w, options_.utf8);
      continue;
    }
    const auto* s = model_.session(sessions_[idx]);
    if (!s) continue;
    std::string peers = s->from_domain.empty() && s->to_domain.empty()
                            ? s->client + arrow() + s->server
                            : (s->from_domain.empty() ? "?" : show(s->from_domain)) + arrow() +
                                  (s->to_domain.empty() ? "?" : show(s->to_domain));
    if (s->from_domain.empty() && s->to_domain.empty()) {
      // No stream header to name the domains: the verdict this session counts for does.
      if (auto v = verdict_of_attempt_.find(model_.attempt_of(s->flow));
          v != verdict_of_attempt_.end())
        peers = show(v->second->from) + arrow() + show(v->second->to);
    }
    if (!s->stream.empty() && s->stream != "xmpp")
      peers += " (" + (s->stream == "no-data" ? std::string("no data") : s->stream) + ")";
    std::string auth;
    if (auto a = model_.attempt_of(s->flow); !a.empty())
      if (auto it = model_.fold().attempts().find(a); it != model_.fold().attempts().end())
        auth = auth_text(it->second);
    const auto [worst, n] = severity_of(s->flow);
    std::string find = n ? std::to_string(n) + (worst == 2 ? " E" : worst == 1 ? " W" : " i") : "";
    std::string tls = s->tls.rfind("TLS ", 0) == 0 ? s->tls.substr(4) : s->tls;
    if (!tls.empty() && tls != "started") tls = "TLS " + tls;
    std::string state = s->state + (s->phase == report::SessionPhase::kClosed ? "" : "+");
    const bool is_sel = idx == sel;
    const std::string mark = is_sel ? (options_.utf8 ? "\xE2\x96\xB6" : ">") : " ";
    Line l;
    const Style base = is_sel                                      ? Style::kSelected
                       : s->phase == report::SessionPhase::kClosed ? Style::kNormal
                                                                   : Style::kBold;
    l.spans.push_back({mark + fit(std::to_string(s->flow), 5) + " " +
                           fit(peers, static_cast<std::size_t>(peers_w), options_.utf8) + " " +
                           fit(state, 5) + " " + fit(tls, 8) + " " +
                           fit(show(auth), 15, options_.utf8) + " ",
                       base});
    l.spans.push_back({fit(find, 5), is_sel       ? Style::kSelected
                                     : worst == 2 ? Style::kError
                                     : worst == 1 ? Style::kWarning
                                                  : Style::kInfo});
    l.spans.push_back({" " + clock_text(s->last), base});
    out = fit_line(std::move(l), w, options_.utf8, is_sel ? Style::kSelected : Style::kNormal);
  }
}

std::vector<Line> View::finding_lines(const std::string& key, int width) const {
  std::vector<Line> out;
  auto it = model_.fold().findings().find(key);
  if (it == model_.fold().findings().end()) return out;
  const auto& f = it->second.finding;
  const auto w = static_cast<std::size_t>(width);
  Line head;
  head.spans.push_back({"  " + severity_word(f.severity) + " ", severity_style(f.severity)});
  head.spans.push_back({std::string(report::to_string(f.code)), Style::kBold});
  if (f.count > 1) head.spans.push_back({" (x" + std::to_string(f.count) + ")", Style::kNormal});
  if (!it->second.folded_under.empty())
    head.spans.push_back(
        {"  folded under " + it->second.folded_under.substr(0, it->second.folded_under.find('@')),
         Style::kDim});
  out.push_back(std::move(head));
  for (const auto& s : wrap(show(f.summary), w, 8))
    out.push_back(line_of("        " + s));
  if (!f.detail.empty())
    for (const auto& s : wrap(show(f.detail), w, 8))
      out.push_back(line_of("        " + s, Style::kDim));
  bool first = true;
  for (const auto& s :
       wrap(show(f.remedy.empty() ? std::string(report::entry(f.code).remedy) : f.remedy), w, 16)) {
    out.push_back(line_of((first ? "        remedy: " : "                ") + s, Style::kOk));
    first = false;
  }
  if (!f.evidence.empty()) {
    std::string ev = "        evidence:";
    for (const auto& e : f.evidence)
      ev += e.is_packet()
                ? " #" + std::to_string(e.number)
                : " conn " + std::to_string(e.connection) + "@" + std::to_string(e.offset());
    if (f.evidence_total > f.evidence.size())
      ev += " (" + std::to_string(f.evidence_total) + " in all)";
    out.push_back(line_of(ev, Style::kDim));
  }
  return out;
}

std::vector<Line> View::detail_lines(const Session& s) const {
  std::vector<Line> out;
  const std::string dot = options_.utf8 ? " \xC2\xB7 " : " | ";
  Line h;
  h.spans.push_back({" Session " + std::to_string(s.flow), Style::kHeader});
  h.spans.push_back({dot + s.client + arrow() + s.server + dot + s.state +
                         (s.phase == report::SessionPhase::kClosed
                              ? (s.expired_idle ? " (idle, expired)" : " (closed)")
                              : " (open)"),
                     Style::kBold});
  out.push_back(std::move(h));
  std::string stream = " Stream: ";
  if (s.stream.empty())
    stream += "not analysed (not a federation port)";
  else if (s.stream == "no-data")
    stream += "no payload either way";
  else
    stream += s.stream + "  " + (s.from_domain.empty() ? "?" : show(s.from_domain)) + arrow() +
              (s.to_domain.empty() ? "?" : show(s.to_domain));
  stream += dot + (s.tls.empty() ? "no TLS" : s.tls == "started" ? "TLS started" : s.tls);
  const auto akey = model_.attempt_of(s.flow);
  const report::AttemptState* att = nullptr;
  if (!akey.empty())
    if (auto it = model_.fold().attempts().find(akey); it != model_.fold().attempts().end())
      att = &it->second;
  if (att && !att->auth_method.empty())
    stream += dot + (att->auth_result == "not-observable"
                         ? std::string("authentication not observable (inside TLS)")
                         : "authentication " + att->auth_method + ": " + att->auth_result);
  out.push_back(line_of(stream));
  if (att) {
    std::string a = " Attempt " + show(att->target) + ": " + att->outcome;
    if (!att->reverse.empty()) a += dot + "other direction " + show(att->reverse.substr(2));
    out.push_back(line_of(a, Style::kDim));
    // The verdict of the direction this attempt belongs to.
    for (const auto& [key, v] : model_.fold().verdicts())
      if (std::find(v.attempts.begin(), v.attempts.end(), akey) != v.attempts.end()) {
        Line vl;
        vl.spans.push_back({" Verdict ", Style::kNormal});
        vl.spans.push_back({verdict_word(v), verdict_style(v.status)});
        vl.spans.push_back({" " + show(v.from) + arrow() + show(v.to) +
                                (v.stage.empty() ? "" : " at " + v.stage) +
                                (v.why.empty() ? "" : ": " + show(v.why)),
                            Style::kNormal});
        out.push_back(std::move(vl));
      }
  }
  // Legs side by side (one row each).
  out.push_back(
      line_of(" Legs (one per capture point; NAT shows as different addresses):", Style::kHeader));
  for (const auto& l : s.legs)
    out.push_back(line_of("   " + fit(show(l.vantage), 18) + " " + l.client.to_string() + arrow() +
                          l.server.to_string() + "  " + l.state));
  if (s.legs.empty()) out.push_back(line_of("   (not known yet)", Style::kDim));

  // The ladder: DNS, then TCP, then the stream's steps, times relative to the first packet.
  out.push_back(line_of(" Ladder (seconds from the first packet; " + arrow().substr(1) +
                            "client to server; #frame as Wireshark counts):",
                        Style::kHeader));
  const Timestamp base = s.first;
  if (att)
    for (auto id : att->dns)
      if (const auto* d = model_.dns_by_id(id)) {
        std::string t = " DNS  " + rel_text(d->time, base) + "  " + show(d->query) + " " + d->type +
                        ": " + d->outcome + (d->rcode.empty() ? "" : " " + d->rcode);
        for (const auto& a : d->answers)
          t += "; " + show(a);
        out.push_back(line_of(t, Style::kDim));
      }
  out.push_back(line_of(" TCP  " + rel_text(base, base) + "  " + s.client + arrow() + s.server +
                        "  history " + s.history + ", " + count_text(s.packets) + " packets, " +
                        bytes_text(s.client_bytes) + " / " + bytes_text(s.server_bytes)));
  const std::string to_srv = options_.utf8 ? "\xE2\x86\x92" : ">";
  const std::string to_cli = options_.utf8 ? "\xE2\x86\x90" : "<";
  for (const auto& st : s.steps) {
    std::string t = " XMPP " + rel_text(st.time, base) + "  " + (st.from_client ? to_srv : to_cli) +
                    " " + show(st.text);
    if (st.repeat > 1) t += "  (x" + std::to_string(st.repeat) + ")";
    if (st.ref.is_packet() && st.ref.number) t += "  #" + std::to_string(st.ref.number);
    out.push_back(line_of(t));
  }
  if (s.steps_dropped)
    out.push_back(line_of("      ... " + std::to_string(s.steps_dropped) + " more steps not kept",
                          Style::kDim));
  if (s.steps.empty() && !s.stream.empty())
    out.push_back(line_of("      (no stream steps seen)", Style::kDim));
  out.push_back(line_of(" Stanza bodies are never kept or shown; the ladder names elements only.",
                        Style::kDim));

  // Findings with remedies: the session's own, then its domain's (DNS).
  auto keys = model_.findings_of(s.flow);
  if (att && !att->domain.empty())
    for (const auto& k : model_.domain_findings(domain_key(att->domain)))
      keys.push_back(k);
  out.push_back(line_of(" Findings (" + std::to_string(keys.size()) + "):", Style::kHeader));
  if (keys.empty()) out.push_back(line_of("   none", Style::kDim));
  for (const auto& k : keys)
    for (auto& l : finding_lines(k, width_))
      out.push_back(std::move(l));
  return out;
}

void View::draw_detail(Screen& sc, int top, int height) {
  detail_height_ = height;
  std::vector<Line> lines;
  const auto flow =
      pane_ == Pane::kSessions && selected_[0] < sessions_.size() ? sessions_[selected_[0]] : 0;
  if (const auto* s = flow ? model_.session(flow) : nullptr) {
    lines = detail_lines(*s);
  } else if (pane_ == Pane::kFindings && selected_[1] < findings_.size()) {
    lines.push_back(line_of(" Finding " + findings_[selected_[1]], Style::kHeader));
    for (auto& l : finding_lines(findings_[selected_[1]], sc.width))
      lines.push_back(std::move(l));
  }
  // Wrap long lines to the width (continuations indented).
  std::vector<Line> wrapped;
  for (auto& l : lines) {
    std::size_t n = 0;
    for (const auto& s : l.spans)
      n += columns(s.text);
    if (n <= static_cast<std::size_t>(sc.width) || l.spans.size() != 1) {
      wrapped.push_back(std::move(l));
      continue;
    }
    // Cut at the last space that fits, keeping the line's own spacing; continuations are
    // indented by 16 (under the ladder's text).
    std::string rest = l.spans[0].text;
    const auto w = static_cast<std::size_t>(sc.width);
    bool first = true;
    for (int guard = 0; columns(rest) > w && guard < 1000; ++guard) {
      std::size_t cut = offset_of_column(rest, w);
      const auto space = rest.rfind(' ', cut);
      const auto indent_end = rest.find_first_not_of(' ');
      if (space != std::string::npos && space > indent_end && space > cut / 2) cut = space;
      wrapped.push_back(line_of(rest.substr(0, cut), l.spans[0].style));
      const auto next = rest.find_first_not_of(' ', cut);
      rest = std::string(16, ' ') + (next == std::string::npos ? "" : rest.substr(next));
      first = false;
    }
    if (!first || !rest.empty()) wrapped.push_back(line_of(rest, l.spans[0].style));
  }
  detail_lines_count_ = wrapped.size();
  const auto max_top = wrapped.size() > static_cast<std::size_t>(height)
                           ? wrapped.size() - static_cast<std::size_t>(height)
                           : 0;
  if (detail_top_ > max_top) detail_top_ = max_top;
  for (int i = 0; i < height; ++i) {
    const auto idx = detail_top_ + static_cast<std::size_t>(i);
    sc.lines[static_cast<std::size_t>(top + i)] =
        idx < wrapped.size() ? fit_line(wrapped[idx], sc.width, options_.utf8)
                             : fit_line({}, sc.width, options_.utf8);
  }
}

void View::draw_findings(Screen& sc, int top, int height) {
  list_height_ = height - 1;
  sc.lines[static_cast<std::size_t>(top)] =
      fit_line(line_of("  SEVERITY CODE                         FLOW   SUMMARY", Style::kHeader),
               sc.width, options_.utf8, Style::kHeader);
  const auto [sel, first] = scroll_into_view(1);
  for (int i = 0; i < list_height_; ++i) {
    const auto idx = first + static_cast<std::size_t>(i);
    auto& out = sc.lines[static_cast<std::size_t>(top + 1 + i)];
    if (idx >= findings_.size()) {
      out = fit_line(i == 0 && findings_.empty() ? line_of("  (no findings)", Style::kDim) : Line{},
                     sc.width, options_.utf8);
      continue;
    }
    const auto& e = model_.fold().findings().at(findings_[idx]);
    const auto& f = e.finding;
    const bool folded = !e.folded_under.empty();
    Line l;
    const bool is_sel = idx == sel;
    std::string mark = is_sel ? (options_.utf8 ? "\xE2\x96\xB6" : ">") : " ";
    l.spans.push_back({mark + (folded ? (options_.utf8 ? "  \xE2\x94\x94 " : "  + ") : " ") +
                           severity_word(f.severity) + (folded ? "" : "   "),
                       is_sel ? Style::kSelected : severity_style(f.severity)});
    l.spans.push_back({fit(std::string(report::to_string(f.code)), 28) + " " +
                           fit(f.flow ? std::to_string(*f.flow) : "-", 6) + " " + show(f.summary),
                       is_sel   ? Style::kSelected
                       : folded ? Style::kDim
                                : Style::kNormal});
    out =
        fit_line(std::move(l), sc.width, options_.utf8, is_sel ? Style::kSelected : Style::kNormal);
  }
}

void View::draw_dns(Screen& sc, int top, int height) {
  list_height_ = height - 1;
  sc.lines[static_cast<std::size_t>(top)] =
      fit_line(line_of("  TIME     QUERY                               TYPE  OUTCOME       ANSWERS",
                       Style::kHeader),
               sc.width, options_.utf8, Style::kHeader);
  const auto [sel, first] = scroll_into_view(2);
  for (int i = 0; i < list_height_; ++i) {
    const auto idx = first + static_cast<std::size_t>(i);
    auto& out = sc.lines[static_cast<std::size_t>(top + 1 + i)];
    if (idx >= dns_rows_.size()) {
      out = fit_line(
          i == 0 && dns_rows_.empty() ? line_of("  (no DNS transactions)", Style::kDim) : Line{},
          sc.width, options_.utf8);
      continue;
    }
    const auto& d = model_.dns()[dns_rows_[idx]];
    std::string answers;
    for (const auto& a : d.answers)
      answers += (answers.empty() ? "" : "; ") + show(a);
    const bool bad = d.outcome != "answered" || (!d.rcode.empty() && d.rcode != "NOERROR");
    const bool is_sel = idx == sel;
    Line l;
    l.spans.push_back({(is_sel ? (options_.utf8 ? "\xE2\x96\xB6" : ">") : " ") + std::string(" ") +
                           clock_text(d.time) + " " + fit(show(d.query), 35, options_.utf8) + " " +
                           fit(d.type, 5) + " ",
                       is_sel ? Style::kSelected : Style::kNormal});
    l.spans.push_back(
        {fit(d.outcome + (d.rcode.empty() || d.rcode == "NOERROR" ? "" : " " + d.rcode), 13) + " ",
         is_sel ? Style::kSelected
         : bad  ? Style::kWarning
                : Style::kNormal});
    l.spans.push_back({answers.empty() ? "-" : answers, is_sel ? Style::kSelected : Style::kDim});
    out =
        fit_line(std::move(l), sc.width, options_.utf8, is_sel ? Style::kSelected : Style::kNormal);
  }
}

void View::draw_status(Screen& sc) const {
  const auto& st = model_.status();
  std::string state;
  switch (st.state) {
    case SourceState::kOpening:
      state = "opening";
      break;
    case SourceState::kReading: {
      char b[32];
      std::snprintf(b, sizeof b, "reading %.0f%%", st.progress * 100);
      state = b;
      break;
    }
    case SourceState::kFollowing:
      state = "following: waiting for more packets";
      break;
    case SourceState::kLive:
      state = "live";
      break;
    case SourceState::kDone:
      state = "done";
      break;
    case SourceState::kFailed:
      state = "FAILED";
      break;
  }
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.0f/s", st.rate);
  std::string s = " " + std::string(paused_ ? "PAUSED | " : "") + state + " | " +
                  count_text(st.packets) + " pkts";
  if (st.live) s += " " + std::string(rate);
  s += " | drops " + count_text(st.dropped);
  if (!st.live) s += " | " + std::to_string(st.files) + (st.files == 1 ? " file" : " files");
  if (st.first.ns) s += " | " + clock_text(st.first) + "-" + clock_text(st.last);
  s += " | " + std::to_string(model_.sessions().size()) + " sessions";
  if (follow_) s += " | FOLLOW";

  if (!filter_.empty()) s += " | filter: " + show(filter_);
  const auto last = sc.lines.size() - 1;
  if (input_ != Input::kNone) {
    const std::string prompt = input_ == Input::kFilter
                                   ? " filter (domain, address, finding code; Enter applies, Esc "
                                     "cancels): "
                                   : " save packets to (Enter saves, Esc cancels): ";
    Line l;
    l.spans.push_back({prompt, Style::kInput});
    l.spans.push_back({show(input_text_), Style::kInput});
    sc.lines[last] = fit_line(std::move(l), sc.width, options_.utf8, Style::kInput);
    return;
  }
  // A message that came since the last key leads (a save's result, a device going down);
  // the next key puts the counters back in front.
  std::string note = !note_.empty()                     ? note_
                     : !flash_.empty()                  ? flash_
                     : st.state == SourceState::kFailed ? st.message
                                                        : "";
  Line l;
  if (!note.empty()) l.spans.push_back({" " + show(note) + " |", Style::kInput});
  l.spans.push_back(
      {s, st.dropped || st.state == SourceState::kFailed ? Style::kError : Style::kStatus});
  sc.lines[last] = fit_line(std::move(l), sc.width, options_.utf8, Style::kStatus);
}

void View::draw_help(Screen& sc) const {
  static const char* const kHelp[] = {
      "Keys",
      "  Up/Down, j/k    move in the list (in a session: scroll)",
      "  PgUp/PgDn, Space  a page;  Home/End, g/G  first / last",
      "  Enter, Right    open the selected session (its ladder, findings and remedies);",
      "                  on a finding: open its session. Enter/Esc/Left closes it",
      "  Tab, Shift-Tab  next / previous pane: Sessions, Findings, DNS",
      "  /               filter by domain, address, flow or finding code (empty: all)",
      "  < >  r          sort sessions by arrival, peers, state, findings, last; reverse",
      "  f               follow: select the newest session as sessions arrive, and read a",
      "                  growing capture file on (like tail -f)",
      "  s               save the selected session's packets to a pcapng file",
      "  p               pause: freeze the screen (events wait, none is lost); p resumes",
      "  ?               this help (any key closes it);  q  quit",
      "",
      "Verdicts at the top are per federation direction (from -> to), failed first, with",
      "the root cause. STATE is Zeek's conn_state ('+' while open); FIND counts the",
      "session's findings (E error, W warning, i info).",
  };
  const int n = static_cast<int>(std::size(kHelp));
  const int top = std::max(1, (sc.height - n) / 2 - 1);
  for (int i = 0; i < n && top + i < sc.height - 1; ++i) {
    std::string t = kHelp[i];
    sc.lines[static_cast<std::size_t>(top + i)] =
        fit_line(line_of("  " + t, i == 0 ? Style::kHeader : Style::kInput), sc.width,
                 options_.utf8, Style::kInput);
  }
}

Screen View::render(int width, int height) {
  refresh();
  if (model_.messages_total() != messages_seen_) {
    messages_seen_ = model_.messages_total();
    if (!model_.messages().empty()) flash_ = model_.messages().back();
  }
  width_ = width;
  Screen sc;
  sc.width = width;
  sc.height = height;
  sc.lines.resize(static_cast<std::size_t>(std::max(0, height)));
  if (width < kMinWidth || height < kMinHeight) {
    const std::string msg = "terminal too small: " + std::to_string(width) + "x" +
                            std::to_string(height) + ", fedscope tui needs at least " +
                            std::to_string(kMinWidth) + "x" + std::to_string(kMinHeight);
    for (int i = 0; i < height; ++i)
      sc.lines[static_cast<std::size_t>(i)] =
          fit_line(i == height / 2 ? line_of(msg) : Line{}, width, options_.utf8);
    // Narrow terminals: the message wrapped.
    if (width > 0 && static_cast<int>(msg.size()) > width) {
      auto parts = wrap(msg, static_cast<std::size_t>(width), 0);
      for (std::size_t i = 0; i < parts.size() && static_cast<int>(i) < height; ++i)
        sc.lines[i] = fit_line(line_of(parts[i]), width, options_.utf8);
    }
    return sc;
  }
  draw_title(sc);
  const int max_verdicts = std::max(2, (height - 12) / 3);
  int row = 1 + draw_verdicts(sc, 1, max_verdicts);
  // The pane tabs.
  {
    Line l;
    const std::string rule = options_.utf8 ? "\xE2\x94\x80" : "-";
    l.spans.push_back({rule + " ", Style::kHeader});
    const Pane panes[] = {Pane::kSessions, Pane::kFindings, Pane::kDns};
    const std::string names[] = {"Sessions " + std::to_string(sessions_.size()),
                                 "Findings " + std::to_string(findings_.size()),
                                 "DNS " + std::to_string(dns_rows_.size())};
    for (int i = 0; i < 3; ++i) {
      const bool on = pane_ == panes[i];
      l.spans.push_back({on ? "[" + names[i] + "]" : " " + names[i] + " ",
                         on ? Style::kSelected : Style::kHeader});
      l.spans.push_back({" ", Style::kHeader});
    }
    static const char* const kSortNames[] = {"arrival", "peers", "state", "findings", "last"};
    if (pane_ == Pane::kSessions)
      l.spans.push_back({std::string(" sort: ") + kSortNames[static_cast<int>(sort_)] +
                             (reverse_ ? " (reversed)" : ""),
                         Style::kHeader});
    sc.lines[static_cast<std::size_t>(row++)] =
        fit_line(std::move(l), width, options_.utf8, Style::kHeader);
  }
  const int avail = height - 1 - row;  // the status bar takes the last line
  if (detail_) {
    const int list = pane_ == Pane::kSessions ? std::max(4, avail / 3) : 0;
    if (list) draw_sessions(sc, row, list);
    const std::string rule = options_.utf8 ? "\xE2\x94\x80" : "-";
    std::string bar;
    for (int i = 0; i < 3; ++i)
      bar += rule;
    sc.lines[static_cast<std::size_t>(row + list)] = fit_line(
        line_of(bar + " details (Up/Down/PgUp/PgDn scroll, s saves packets, Enter/Esc closes) ",
                Style::kHeader),
        width, options_.utf8, Style::kHeader);
    draw_detail(sc, row + list + 1, avail - list - 1);
  } else {
    switch (pane_) {
      case Pane::kSessions:
        draw_sessions(sc, row, avail);
        break;
      case Pane::kFindings:
        draw_findings(sc, row, avail);
        break;
      case Pane::kDns:
        draw_dns(sc, row, avail);
        break;
    }
  }
  if (help_) draw_help(sc);
  draw_status(sc);
  if (input_ != Input::kNone)
    sc.cursor = std::make_pair(
        height - 1, std::min(width - 1, static_cast<int>(columns(sc.lines.back().spans[0].text) +
                                                         columns(input_text_))));
  return sc;
}

}  // namespace fedscope::tui
