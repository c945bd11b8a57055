#pragma once
/// @file
/// The capture -> engine -> findings pipeline that `fedscope report` runs (and the live view
/// will run): reads files, feeds the engine, keeps the closed records, judges them.

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fedscope/base/address.hpp"
#include "fedscope/capture/reader.hpp"
#include "fedscope/engine/engine.hpp"
#include "fedscope/report/events.hpp"
#include "fedscope/report/findings.hpp"
#include "fedscope/report/time_format.hpp"

namespace fedscope::report {

struct Options {
  std::vector<std::string> files;
  std::vector<Cidr> inside_nets;     ///< --inside-net
  std::vector<std::string> domains;  ///< --domain: "ours"
  engine::EngineConfig engine;
  /// Called now and then with the fraction of input read (0..1), when set.
  std::function<void(double)> progress;
  /// When set, the judging events (events.hpp) as a live run would send them: open
  /// connections reported every engine.progress_seconds (10 when 0) of packet time, the judges
  /// flushed as records arrive (one by one at first, then in batches of 1/8 of the records
  /// kept, so a large capture stays near-linear). The report is the same either way.
  EventSink* events = nullptr;
  /// With events: flush once the records that arrived since the last flush are 1/N of all
  /// kept (see analysis.cpp); 0 flushes after every record (tests: the most incremental run).
  std::uint32_t events_batch_share = 8;
  /// --tls-keylog files given (the secrets themselves reach the engine: engine.keylog).
  std::size_t keylog_files = 0;
};

/// What a connection is to an attempt. to_string(): "stream", "dialback-verify",
/// "multiplexed" (the words the reports write).
enum class AttemptRole : std::uint8_t {
  kStream,          ///< the attempt's own stream
  kDialbackVerify,  ///< the receiving server's check back to the authoritative server
  kMultiplexed,     ///< another pair's stream that also carried this pair's dialback
};
std::string_view to_string(AttemptRole role);

/// How an attempt ended. to_string(): "connected", "failed", "capture-ended", "dns-only",
/// "authenticated", "encrypted".
enum class AttemptOutcome : std::uint8_t {
  kConnected,      ///< every leg of a connection established (or data both ways mid-stream)
  kFailed,         ///< not connected, or connected with an error-level finding on a flow
  kCaptureEnded,   ///< a first SYN with no answer yet when the capture ended
  kDnsOnly,        ///< DNS lookups, no connection
  kAuthenticated,  ///< XMPP observed: dialback valid or SASL success
  kEncrypted,      ///< XMPP observed: TLS up, the inside unseen
};
std::string_view to_string(AttemptOutcome outcome);

/// How the originating server authenticated. to_string(): "" (kNoStream), "dialback",
/// "sasl-external", "sasl", "none", "unknown".
enum class AuthMethod : std::uint8_t {
  kNoStream,      ///< no XMPP stream seen at all: the reports write no authentication
  kDialback,      ///< XEP-0220
  kSaslExternal,  ///< SASL EXTERNAL (certificates)
  kSasl,          ///< another SASL mechanism
  kNone,          ///< a stream without authentication
  kUnknown,       ///< inside TLS
};
std::string_view to_string(AuthMethod method);

/// What the authentication came to. to_string(): "" (kNoStream), "valid", "invalid", "error",
/// "no-answer", "success", "failure", "pending", "not-observable", "none".
enum class AuthResult : std::uint8_t {
  kNoStream,       ///< no XMPP stream seen at all
  kValid,          ///< dialback
  kInvalid,        ///< dialback
  kError,          ///< dialback
  kNoAnswer,       ///< no answer before the stream ended
  kSuccess,        ///< SASL
  kFailure,        ///< SASL
  kPending,        ///< no answer yet when the capture ended
  kNotObservable,  ///< inside TLS
  kNone,           ///< no authentication
};
std::string_view to_string(AuthResult result);

/// A federation attempt: one target (a domain, or a server endpoint when no DNS was seen)
/// with its DNS lookups and connections, for the story.
struct Attempt {
  std::string key;                       ///< stable: "d:" + domain key, or "e:" + endpoint
  std::string domain;                    ///< "" when not known
  std::string originator;                ///< client address, when known
  std::string target;                    ///< domain or "ip:port"
  std::vector<std::size_t> dns;          ///< indexes into Result::dns
  std::vector<std::size_t> connections;  ///< indexes into Result::connections
  /// Per connection (parallel to @c connections).
  std::vector<AttemptRole> roles;
  /// Without connections, dns-only; otherwise set by the judges.
  AttemptOutcome outcome = AttemptOutcome::kDnsOnly;
  /// From the stream headers ("" when not seen), as written there: compare them with
  /// fedscope::domains_equal().
  std::string from_domain, to_domain;
  /// The most conclusive authentication seen on the attempt's streams.
  AuthMethod auth_method = AuthMethod::kNoStream;
  AuthResult auth_result = AuthResult::kNoStream;
  /// The attempt of the same domain pair in the other direction (to_domain -> from_domain):
  /// federation needs both, and dialback checks cross between them. Index into
  /// Result::attempts.
  std::optional<std::size_t> reverse;
};

/// What the capture says about one federation direction (from -> to). to_string(): "ok",
/// "degraded", "failed", "not-observed", "not-determinable".
enum class VerdictStatus : std::uint8_t {
  kOk,               ///< it worked (basis says how we know)
  kDegraded,         ///< it works, with a warning that matters (root_cause)
  kFailed,           ///< it does not work: stage and root_cause
  kNotObserved,      ///< nothing of that direction in the capture
  kNotDeterminable,  ///< seen, but the capture cannot show whether it worked (why)
};
std::string_view to_string(VerdictStatus status);

/// How an ok or degraded verdict is known. to_string(): "", "observed", "inferred".
enum class VerdictBasis : std::uint8_t {
  kNone,
  kObserved,  ///< the authentication result was seen (dialback valid, SASL success)
  kInferred,  ///< from the session's shape: TLS completed, data both ways, no early close
};
std::string_view to_string(VerdictBasis basis);

/// One federation direction's verdict (verdicts.cpp). The ends are domains; where the capture
/// names none for a peer, its address.
struct Verdict {
  std::string from, to;
  VerdictStatus status = VerdictStatus::kNotDeterminable;
  VerdictBasis basis = VerdictBasis::kNone;
  Stage stage = Stage::kNone;          ///< failed only
  std::string root_cause;              ///< key of the root-cause finding, or ""
  std::optional<std::size_t> finding;  ///< the root cause as an index into Result::findings
  std::string why;                     ///< one sentence: what the verdict rests on
  std::vector<std::size_t> attempts;   ///< indexes into Result::attempts
  friend bool operator==(const Verdict&, const Verdict&) = default;
};

struct Result {
  std::vector<capture::FileInfo> files;
  engine::EngineStats stats;
  AnomalyCounters anomalies;
  std::vector<engine::DnsTransaction> dns;
  std::vector<engine::ConnectionRecord> connections;
  std::vector<Finding> findings;
  std::vector<Attempt> attempts;
  /// One per federation direction, failed first (verdicts.cpp).
  std::vector<Verdict> verdicts;
  /// From --domain; judge() leaves each once, in its comparison form (fedscope::domain_key():
  /// "CUPDOMAIN.EXAMPLE." becomes "cupdomain.example", U-labels become A-labels).
  std::vector<std::string> our_domains;
  std::vector<std::string> our_domains_inferred;  ///< when --domain is absent: see judge_dns.cpp
  std::vector<Cidr> inside_nets;
  /// Addresses NAT pairing showed behind the firewall that no --inside-net covers (judged as
  /// inside, and shown in the header).
  std::vector<IpAddress> inside_learned;
  /// Wall-clock seconds analyze() spent reading and dissecting, and judging (for
  /// FEDSCOPE_TIMING and benchmarks; not part of any report).
  double read_seconds = 0, judge_seconds = 0;
  bool forwarding_vantage = false;  ///< evidence the capture was taken on a forwarding box
  /// --tls-keylog: the files given and the client randoms they hold (0 files: no key log).
  std::size_t keylog_files = 0, keylog_secrets = 0;
  std::size_t vantage_count = 0;
  /// A live run's bounded history (JudgeConfig::max_records): connections and DNS
  /// transactions left out of this result because newer ones replaced them. 0 for `report`.
  std::uint64_t history_expired = 0;

  /// Root causes and independent findings by severity (folded consequences not counted).
  std::size_t errors() const;
  std::size_t warnings() const;
  /// The exit status of `fedscope report`: 1 when a direction failed or an error-level root
  /// cause is present, 3 when there is no federation traffic to judge, else 0.
  int exit_status() const;
};

/// Runs the whole pipeline. Returns false (with @p error) only when an input cannot be read
/// at all; damaged records are anomalies in the result.
bool analyze(const Options& options, Result& result, std::string& error);

/// The judges alone, over records already collected in @p result (by tests): the records go
/// through a report::Judge (judge.hpp) and come back with the findings and attempts.
void judge(Result& result);

/// How the text report is written (JSON has no such choices: it is the contract).
struct TextOptions {
  TimeFormat time;  ///< UTC unless --time says otherwise
  /// --summary: the header, the verdicts and the root causes only (no folded consequences,
  /// no stories, no counts).
  bool summary = false;
};

/// Names that tell input files apart in evidence ("outside/capture.pcap#12"): for each path the
/// shortest trailing run of path components that no other path ends with; "stdin" for "-".
/// Parallel to @p paths.
std::vector<std::string> distinct_file_names(const std::vector<std::string>& paths);

/// How the JSON report is written; the content is the same either way.
struct JsonOptions {
  /// --compact: one line without spaces (for machines); else indented by 2 (the default).
  bool compact = false;
};

/// Renderers. Each writes the whole report. JSON is streamed token by token with RapidJSON's
/// writer (no document tree; docs/cli.md says how numbers and strings are written).
std::string render_text(const Result& r, const TextOptions& options = {});
void render_json(const Result& r, std::ostream& os, const JsonOptions& options = {});

}  // namespace fedscope::report
