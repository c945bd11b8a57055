#pragma once
/// @file
/// The judging event vocabulary: what the judges say as evidence arrives, defined once for
/// every consumer (`fedscope report` folds it into a Result; the live capture, the TUI and the
/// relay serialise it). docs/events.schema.json is its JSON form; docs/architecture.md
/// ("Judging as events") describes the path.
///
/// A finding or an attempt is named by a stable key that stays the same while its facts are
/// judged again: "tcp-no-answer@flow:12#0" (code, the record it belongs to, its ordinal there),
/// "tls-cert-self-signed@cert:<sha256>" (one finding per certificate, whichever connections
/// showed it), "dns-srv-missing@dns:example.org#0", and for attempts "d:example.org" (a
/// domain) or "e:192.0.2.10:5269" (a server endpoint when no domain is known).
///
/// Events are values: each owns its strings. Applying the events of a run in order to an
/// EventFold gives the same findings and attempts as the run's final Result.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fedscope/report/findings.hpp"

namespace fedscope::report {

struct Attempt;

/// What happened to a finding or an attempt. to_string(): "raised", "updated", "folded",
/// "withdrawn" (the words of the JSON form).
enum class EventKind : std::uint8_t {
  kRaised,     ///< new: first seen
  kUpdated,    ///< more evidence, a count, or a changed summary or severity
  kFolded,     ///< now a consequence of another finding (EventFold keeps it under @c cause)
  kWithdrawn,  ///< no longer true: the context changed, or its record was judged again
};
std::string_view to_string(EventKind kind);

/// Why a finding or attempt was withdrawn. to_string(): "", "context-changed", "rejudged",
/// "expired".
enum class WithdrawReason : std::uint8_t {
  kNone,            ///< not withdrawn
  kContextChanged,  ///< what it depended on changed (vantage, our domains, inside networks)
  kRejudged,        ///< its record was judged again (it progressed or closed) without it
  kExpired,         ///< its records left a live run's bounded history (JudgeConfig::max_records)
};
std::string_view to_string(WithdrawReason reason);

/// A finding event. @c finding is the state after the event (absent for kWithdrawn).
struct FindingEvent {
  EventKind kind = EventKind::kRaised;
  std::uint64_t seq = 0;  ///< 1-based, increasing over a run, shared with attempt events
  std::string key;        ///< stable key (see the file comment)
  std::optional<Finding> finding;
  std::string cause;  ///< kFolded: the key of the finding it is folded under
  WithdrawReason reason = WithdrawReason::kNone;
};

/// An attempt as events carry it: records named by their stable ids, not by positions in a
/// Result (which a live run does not have).
struct AttemptState {
  std::string domain, originator, target;
  std::vector<std::uint64_t> dns;    ///< DnsTransaction::id of its lookups
  std::vector<std::uint32_t> flows;  ///< flow::Connection::id of its connections
  std::vector<std::string> roles;    ///< per flow: "stream", "dialback-verify", "multiplexed"
  std::string outcome;               ///< to_string(AttemptOutcome)
  std::string from_domain, to_domain;
  std::string auth_method, auth_result;  ///< to_string(AuthMethod / AuthResult)
  std::string reverse;                   ///< the other direction's attempt key, or ""
  friend bool operator==(const AttemptState&, const AttemptState&) = default;
};

struct AttemptEvent {
  EventKind kind = EventKind::kRaised;
  std::uint64_t seq = 0;
  std::string key;  ///< "d:" + domain key, or "e:" + endpoint
  std::optional<AttemptState> attempt;
  WithdrawReason reason = WithdrawReason::kNone;
};

/// A federation direction's verdict as events carry it (verdicts.cpp decides it; analysis.hpp
/// Verdict is the report's form). Strings are the report's words (to_string of VerdictStatus,
/// VerdictBasis, Stage); the root cause is the finding's stable key (its code is the part
/// before the '@'), the attempts are their keys.
struct VerdictState {
  std::string from, to;
  std::string status;          ///< "ok", "degraded", "failed", "not-observed", "not-determinable"
  std::string basis;           ///< "", "observed", "inferred"
  std::string stage;           ///< as the report writes it: "" (kNone), "dns", "tcp", ...
  std::string root_cause_key;  ///< stable key of the root-cause finding, or ""
  std::string why;
  std::vector<std::string> attempts;  ///< attempt keys
  friend bool operator==(const VerdictState&, const VerdictState&) = default;
};

/// A verdict event: raised when a direction first gets a verdict, updated when any part of it
/// changes (status, root cause, why), withdrawn when the direction is no longer judged (a
/// domain turned out to be an address, say). The key is "FROM>TO".
struct VerdictEvent {
  EventKind kind = EventKind::kRaised;
  std::uint64_t seq = 0;
  std::string key;
  std::optional<VerdictState> verdict;  ///< absent for kWithdrawn
  WithdrawReason reason = WithdrawReason::kNone;
};

/// Receives the events of a judging run, in order. Called on the judging thread.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void on_finding(const FindingEvent& e) = 0;
  virtual void on_attempt(const AttemptEvent& e) = 0;
  /// Verdicts are sent after the findings and attempts of the same flush.
  virtual void on_verdict(const VerdictEvent& e) { (void)e; }
};

/// The current state that a sequence of events describes: what a consumer that missed nothing
/// knows. Used by tests (the fold oracle) and by views that keep a state.
class EventFold : public EventSink {
 public:
  void on_finding(const FindingEvent& e) override;
  void on_attempt(const AttemptEvent& e) override;
  void on_verdict(const VerdictEvent& e) override;

  struct Entry {
    Finding finding;
    std::string folded_under;  ///< "" unless folded
    std::uint64_t raised_seq = 0;
  };
  const std::map<std::string, Entry>& findings() const { return findings_; }
  const std::map<std::string, AttemptState>& attempts() const { return attempts_; }
  const std::map<std::string, VerdictState>& verdicts() const { return verdicts_; }
  /// Events that did not fit the state (an update of an unknown key, a second raise): 0 for a
  /// well-formed log.
  std::uint64_t inconsistent() const { return inconsistent_; }

 private:
  std::map<std::string, Entry> findings_;
  std::map<std::string, AttemptState> attempts_;
  std::map<std::string, VerdictState> verdicts_;
  std::uint64_t inconsistent_ = 0;
  std::uint64_t last_seq_ = 0;
};

/// One event as a JSON object on one line (no newline), per docs/events.schema.json.
/// Message bodies never appear in findings, so nothing here needs hiding.
std::string event_json(const FindingEvent& e);
std::string event_json(const AttemptEvent& e);
std::string event_json(const VerdictEvent& e);

}  // namespace fedscope::report
