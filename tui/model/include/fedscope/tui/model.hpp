#pragma once
/// @file
/// The TUI's view model, without ncurses: what `fedscope tui` shows, selects and filters.
///
/// Events in (the live pipeline's, report/live.hpp, from the analysis thread through an
/// EventQueue), a laid-out Screen out (lines of styled spans for a width and height), keys in
/// (KeyEvent), Actions out (quit, save a session's packets, follow). tui/screen only paints a
/// Screen and turns terminal keys into KeyEvents, so everything a person sees is decided here
/// and unit-tested (tests/unit/test_tui_model.cpp).
///
/// Threads: EventQueue is the only shared object (the analysis thread pushes, the UI thread
/// takes). Model and View belong to the UI thread. The queue coalesces session events per
/// session (a view may skip frames, never events: every step and every finding event arrives).
///
/// Ownership: everything is held by value; Screen text is UTF-8 (ASCII only when the view was
/// made with utf8 = false).

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "fedscope/base/time.hpp"
#include "fedscope/report/events.hpp"
#include "fedscope/report/live.hpp"

namespace fedscope::tui {

// ---- what the analysis side says about its input ------------------------------------------------

/// The state of the input, for the status bar.
enum class SourceState : std::uint8_t {
  kOpening,    ///< nothing read yet
  kReading,    ///< a saved capture being read (progress says how far)
  kFollowing,  ///< at the end of a growing file, waiting for more (like tail -f)
  kLive,       ///< capturing from interfaces
  kDone,       ///< the input is read and judged: what is shown is the report's result
  kFailed,     ///< reading stopped on an error (message says which)
};

struct SourceStatus {
  std::string name;  ///< "pcaps/lab/x.pcap" or "live: eth0, eth1"
  bool live = false;
  SourceState state = SourceState::kOpening;
  double progress = 0;  ///< 0..1 of the input bytes (saved captures)
  std::uint64_t packets = 0, bytes = 0, dropped = 0;
  double rate = 0;  ///< packets per second (live: from the capture's statistics)
  std::size_t files = 0;
  Timestamp first, last;  ///< packet time span
  std::string message;    ///< an error or a note ("device eth1 is down")
};

// ---- the queue between the analysis thread and the view -----------------------------------------

/// Everything the analysis thread says, in order.
using QueuedEvent = std::variant<report::SessionEvent, report::DnsEvent, report::FindingEvent,
                                 report::AttemptEvent, report::VerdictEvent>;

struct Batch {
  std::vector<QueuedEvent> events;
  std::optional<SourceStatus> status;  ///< the latest, when it changed
  std::vector<std::string> messages;   ///< one-line notes for the status bar, in order
  std::uint64_t coalesced = 0;         ///< session events merged into an earlier one
};

/// Thread-safe: the analysis thread calls the LiveSink methods, set_status() and message();
/// the UI thread calls take(). A session event is merged into a pending event of the same
/// session (its new ladder steps appended, everything else the latest), so a slow view costs
/// memory per session, not per packet. Statistics events update the status.
class EventQueue : public report::LiveSink {
 public:
  void on_finding(const report::FindingEvent& e) override;
  void on_attempt(const report::AttemptEvent& e) override;
  void on_verdict(const report::VerdictEvent& e) override;
  void on_session(const report::SessionEvent& e) override;
  void on_dns(const report::DnsEvent& e) override;
  void on_stats(const report::CaptureStatsEvent& e) override;

  void set_status(const SourceStatus& s);
  /// Applies @p f to the pending status (a copy of the last set) and marks it changed.
  template <class F>
  void update_status(F&& f) {
    std::lock_guard lock(mutex_);
    f(status_);
    status_changed_ = true;
  }
  void message(std::string text);

  /// Moves what is pending into @p out (replacing its contents). False when nothing was.
  bool take(Batch& out);

 private:
  std::mutex mutex_;
  Batch pending_;
  std::unordered_map<std::uint32_t, std::size_t> session_at_;  // flow -> index in pending_
  SourceStatus status_;
  bool status_changed_ = false;
};

// ---- the model ---------------------------------------------------------------------------------

/// One TCP session as the view shows it.
struct Session {
  std::uint32_t flow = 0;
  report::SessionPhase phase = report::SessionPhase::kOpened;
  Timestamp first, last;
  std::string client, server;
  std::vector<report::SessionLeg> legs;
  std::string state, history;
  std::uint64_t packets = 0, client_bytes = 0, server_bytes = 0;
  bool expired_idle = false;
  std::string stream, from_domain, to_domain, tls;
  std::deque<report::SessionStep> steps;  ///< at most Model::kMaxSteps, the first ones
  std::uint64_t steps_dropped = 0;        ///< over the engine's ladder limit or ours
  std::uint64_t order = 0;                ///< arrival order (the default sort)
};

class Model {
 public:
  static constexpr std::size_t kMaxSteps = 400;
  /// Closed sessions kept; older ones leave the view (counted in sessions_expired()).
  static constexpr std::size_t kMaxClosedSessions = 200'000;
  static constexpr std::size_t kMaxDns = 100'000;

  void apply(const Batch& b);
  void apply(const QueuedEvent& e);

  const std::unordered_map<std::uint32_t, Session>& sessions() const { return sessions_; }
  const Session* session(std::uint32_t flow) const;
  const std::deque<report::DnsEvent>& dns() const { return dns_; }
  const report::DnsEvent* dns_by_id(std::uint64_t id) const;
  const report::EventFold& fold() const { return fold_; }
  const SourceStatus& status() const { return status_; }
  /// The latest messages (at most 100) and how many there were in all.
  const std::vector<std::string>& messages() const { return messages_; }
  std::uint64_t messages_total() const { return messages_total_; }

  /// Finding keys that name @p flow (in key order); the attempt key of @p flow, or "".
  std::vector<std::string> findings_of(std::uint32_t flow) const;
  std::string attempt_of(std::uint32_t flow) const;
  /// Findings that name no flow but the attempt's domain (DNS findings), for the detail.
  std::vector<std::string> domain_findings(const std::string& domain_key) const;

  /// Bumped whenever anything shown may have changed (the view re-sorts only then).
  std::uint64_t version() const { return version_; }
  std::uint64_t sessions_expired() const { return sessions_expired_; }
  std::uint64_t events() const { return events_; }

 private:
  void on_session(const report::SessionEvent& e);
  void on_finding(const report::FindingEvent& e);
  void on_attempt(const report::AttemptEvent& e);

  std::unordered_map<std::uint32_t, Session> sessions_;
  std::deque<std::uint32_t> closed_order_;  // closed sessions, oldest first (eviction)
  std::deque<report::DnsEvent> dns_;
  std::unordered_map<std::uint64_t, std::size_t> dns_at_;  // id -> dns_base_ + index
  std::uint64_t dns_base_ = 0;
  report::EventFold fold_;
  std::unordered_map<std::uint32_t, std::set<std::string>> findings_by_flow_;
  std::map<std::string, std::set<std::string>> findings_by_domain_;  // flowless, by domain key
  std::unordered_map<std::string, std::uint32_t> finding_flow_;      // key -> flow
  std::unordered_map<std::string, std::string> finding_domain_;      // key -> domain key
  std::unordered_map<std::uint32_t, std::string> attempt_by_flow_;
  SourceStatus status_;
  std::vector<std::string> messages_;
  std::uint64_t version_ = 0, sessions_expired_ = 0, events_ = 0, order_ = 0;
  std::uint64_t messages_total_ = 0;
};

// ---- the view ----------------------------------------------------------------------------------

enum class Style : std::uint8_t {
  kNormal,
  kDim,
  kBold,
  kTitle,     ///< the top bar
  kHeader,    ///< column headers, section titles
  kSelected,  ///< the selected row
  kOk,
  kDegraded,
  kFailed,
  kUnknown,  ///< not determinable / not observed
  kInfo,
  kWarning,
  kError,
  kStatus,  ///< the bottom bar
  kInput,   ///< the filter or file name being typed
};

struct Span {
  std::string text;
  Style style = Style::kNormal;
};
struct Line {
  std::vector<Span> spans;
};
/// A laid-out screen: exactly height lines, each at most width columns (one column per code
/// point: the model writes no wide characters of its own).
struct Screen {
  int width = 0, height = 0;
  std::vector<Line> lines;
  /// Where the terminal cursor goes (the filter being typed), if shown.
  std::optional<std::pair<int, int>> cursor;  ///< (row, column)
  /// The whole screen as plain text, one line each (tests, and `tui --dump`).
  std::string text() const;
};

enum class Key : std::uint8_t {
  kNone,
  kChar,  ///< KeyEvent::ch
  kUp,
  kDown,
  kLeft,
  kRight,
  kPageUp,
  kPageDown,
  kHome,
  kEnd,
  kEnter,
  kTab,
  kBackTab,
  kEscape,
  kBackspace,
};
struct KeyEvent {
  Key key = Key::kNone;
  char32_t ch = 0;
  static KeyEvent character(char32_t c) { return {Key::kChar, c}; }
};

/// What the UI loop must do after a key.
struct Action {
  enum class Kind : std::uint8_t {
    kNone,
    kQuit,
    kSave,    ///< save @c flow's packets to @c path
    kFollow,  ///< follow turned on or off (@c follow): a growing file is read on
  };
  Kind kind = Kind::kNone;
  std::uint32_t flow = 0;
  std::string path;
  bool follow = false;
};

enum class Pane : std::uint8_t { kSessions, kFindings, kDns };

/// Columns the session list sorts by (`<` and `>` move, `r` reverses).
enum class SortBy : std::uint8_t { kArrival, kPeers, kState, kFindings, kLast };

struct ViewOptions {
  bool utf8 = true;  ///< arrows and rules in UTF-8; else ASCII, and other text's non-ASCII as '?'
  bool follow = false;  ///< start following (the newest session is selected as they arrive)
};

class View {
 public:
  View(const Model& model, ViewOptions options);

  Action handle(const KeyEvent& k);
  Screen render(int width, int height);

  /// Minimum size the layout needs; smaller terminals get a message instead.
  static constexpr int kMinWidth = 80, kMinHeight = 24;

  Pane pane() const { return pane_; }
  bool detail_open() const { return detail_; }
  /// The flow of the selected session (or of the selected finding), 0 when none.
  std::uint32_t selected_flow() const;
  const std::string& filter() const { return filter_; }
  bool following() const { return follow_; }
  /// `p` freezes the display: the UI stops taking events (they wait in the queue, merged per
  /// session, none lost) until `p` again.
  bool paused() const { return paused_; }
  /// Sessions shown in the list (after the filter), in order.
  const std::vector<std::uint32_t>& visible_sessions();
  /// Finding keys shown in the findings pane (after the filter), in order.
  const std::vector<std::string>& visible_findings();

 private:
  enum class Input : std::uint8_t { kNone, kFilter, kSavePath };

  void refresh();
  /// @p filter_lower: the filter in lower case (made once per refresh, not per session).
  bool session_matches(const Session& s, const std::string& filter_lower) const;
  std::size_t rows() const;
  /// The worst severity of @p flow's findings (-1 for none, else Severity as int) and their
  /// number.
  std::pair<int, std::size_t> severity_of(std::uint32_t flow) const;
  void move(long delta);
  /// The selected row of @p pane and the first row shown, scrolled so the selection shows.
  std::pair<std::size_t, std::size_t> scroll_into_view(int pane);
  void clamp();
  void open_detail();

  void draw_title(Screen& sc) const;
  int draw_verdicts(Screen& sc, int top, int max_lines) const;
  void draw_sessions(Screen& sc, int top, int height);
  void draw_findings(Screen& sc, int top, int height);
  void draw_dns(Screen& sc, int top, int height);
  void draw_detail(Screen& sc, int top, int height);
  void draw_status(Screen& sc) const;
  void draw_help(Screen& sc) const;
  std::vector<Line> detail_lines(const Session& s) const;
  std::vector<Line> finding_lines(const std::string& key, int width) const;

  std::string arrow() const;
  std::string show(const std::string& text) const;  // ASCII fallback for untrusted text

  const Model& model_;
  ViewOptions options_;
  Pane pane_ = Pane::kSessions;
  bool detail_ = false, help_ = false, follow_ = false, paused_ = false;
  SortBy sort_ = SortBy::kArrival;
  bool reverse_ = false;
  std::string filter_;
  Input input_ = Input::kNone;
  std::string input_text_;
  std::string note_;   // a transient line for the status bar (set by keys)
  std::string flash_;  // the latest message, until the next key
  std::uint64_t messages_seen_ = 0;
  std::size_t selected_[3] = {0, 0, 0};
  std::size_t top_[3] = {0, 0, 0};
  std::size_t detail_top_ = 0;
  int list_height_ = 10, detail_height_ = 10, width_ = 80;
  std::uint64_t seen_version_ = ~0ull;
  std::string seen_filter_;
  SortBy seen_sort_ = SortBy::kArrival;
  bool seen_reverse_ = false;
  std::vector<std::uint32_t> sessions_;
  std::vector<std::string> findings_;
  std::vector<std::size_t> dns_rows_;
  std::unordered_map<std::string, const report::VerdictState*> verdict_of_attempt_;
  std::size_t detail_lines_count_ = 0;
};

/// Display width of @p text in columns (code points; the model writes no wide characters).
std::size_t columns(const std::string& text);
/// @p text cut or padded to exactly @p width columns (cut text ends in "…" or "~").
std::string fit(const std::string& text, std::size_t width, bool utf8 = true);

}  // namespace fedscope::tui
