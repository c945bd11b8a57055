#include <algorithm>
#include <chrono>
#include <optional>

#include "fedscope/report/analysis.hpp"
#include "fedscope/report/judge.hpp"

namespace fedscope::report {

// The words the reports write (docs/report.schema.json): changing one changes the contract.
std::string_view to_string(AttemptRole role) {
  switch (role) {
    case AttemptRole::kStream:
      return "stream";
    case AttemptRole::kDialbackVerify:
      return "dialback-verify";
    case AttemptRole::kMultiplexed:
      return "multiplexed";
  }
  return "";
}

std::string_view to_string(AttemptOutcome outcome) {
  switch (outcome) {
    case AttemptOutcome::kConnected:
      return "connected";
    case AttemptOutcome::kFailed:
      return "failed";
    case AttemptOutcome::kCaptureEnded:
      return "capture-ended";
    case AttemptOutcome::kDnsOnly:
      return "dns-only";
    case AttemptOutcome::kAuthenticated:
      return "authenticated";
    case AttemptOutcome::kEncrypted:
      return "encrypted";
  }
  return "";
}

std::string_view to_string(AuthMethod method) {
  switch (method) {
    case AuthMethod::kNoStream:
      return "";
    case AuthMethod::kDialback:
      return "dialback";
    case AuthMethod::kSaslExternal:
      return "sasl-external";
    case AuthMethod::kSasl:
      return "sasl";
    case AuthMethod::kNone:
      return "none";
    case AuthMethod::kUnknown:
      return "unknown";
  }
  return "";
}

std::string_view to_string(AuthResult result) {
  switch (result) {
    case AuthResult::kNoStream:
      return "";
    case AuthResult::kValid:
      return "valid";
    case AuthResult::kInvalid:
      return "invalid";
    case AuthResult::kError:
      return "error";
    case AuthResult::kNoAnswer:
      return "no-answer";
    case AuthResult::kSuccess:
      return "success";
    case AuthResult::kFailure:
      return "failure";
    case AuthResult::kPending:
      return "pending";
    case AuthResult::kNotObservable:
      return "not-observable";
    case AuthResult::kNone:
      return "none";
  }
  return "";
}

std::string_view to_string(VerdictStatus status) {
  switch (status) {
    case VerdictStatus::kOk:
      return "ok";
    case VerdictStatus::kDegraded:
      return "degraded";
    case VerdictStatus::kFailed:
      return "failed";
    case VerdictStatus::kNotObserved:
      return "not-observed";
    case VerdictStatus::kNotDeterminable:
      return "not-determinable";
  }
  return "";
}

std::string_view to_string(VerdictBasis basis) {
  switch (basis) {
    case VerdictBasis::kNone:
      return "";
    case VerdictBasis::kObserved:
      return "observed";
    case VerdictBasis::kInferred:
      return "inferred";
  }
  return "";
}

std::size_t Result::errors() const {
  return static_cast<std::size_t>(std::count_if(
      findings.begin(), findings.end(),
      [](const Finding& f) { return f.cause.empty() && f.severity == Severity::kError; }));
}

std::size_t Result::warnings() const {
  return static_cast<std::size_t>(std::count_if(
      findings.begin(), findings.end(),
      [](const Finding& f) { return f.cause.empty() && f.severity == Severity::kWarning; }));
}

int Result::exit_status() const {
  const bool failed = std::any_of(verdicts.begin(), verdicts.end(), [](const Verdict& v) {
    return v.status == VerdictStatus::kFailed;
  });
  if (failed || errors() > 0) return 1;
  if (attempts.empty()) return 3;
  return 0;
}

namespace {

// The cadence for --events: records are judged as they arrive. A flush rebuilds the DNS
// unit, the inferred domains and the attempts over all records kept (judge.hpp), so flushing
// after every record of a large capture would be quadratic. Instead a flush waits until the
// records that arrived since the last one are at least 1/N of all kept (N =
// Options::events_batch_share, 8): the first records are judged one by one, later ones in
// batches; the sizes grow geometrically, so all flushes together go over about (N + 1) * n
// records: O(n log n) in all. N = 0 flushes after every record.
class Replay : public engine::Observer {
 public:
  Replay(Judge& j, const capture::MergedReader& r, std::uint32_t share)
      : j_(j), r_(r), share_(share) {}
  void on_connection(engine::ConnectionRecord&& c) override {
    j_.on_connection(std::move(c));
    arrived(true);
  }
  void on_dns(engine::DnsTransaction&& t) override {
    j_.on_dns(std::move(t));
    arrived(true);
  }
  void on_progress(engine::ConnectionRecord&& c) override {
    j_.on_progress(std::move(c));
    arrived(false);
  }

 private:
  void arrived(bool kept) {
    if (kept) ++kept_;
    ++pending_;
    if (share_ != 0 && pending_ * share_ < kept_) return;
    pending_ = 0;
    // Capture points appear as files and pcapng interfaces are read.
    std::size_t n = 0;
    for (const auto& f : r_.files())
      n += std::max<std::size_t>(1, f.interfaces.size());
    j_.set_capture_points(n);
    j_.flush();
  }
  Judge& j_;
  const capture::MergedReader& r_;
  std::uint64_t share_;
  std::uint64_t kept_ = 0, pending_ = 0;
};

}  // namespace

bool analyze(const Options& options, Result& result, std::string& error) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  capture::MergedReader reader;
  if (!reader.open(options.files, error)) return false;
  JudgeConfig jc;
  jc.inside_nets = options.inside_nets;
  jc.domains = options.domains;
  // The report is the event path run to the end of the input: records are judged as one
  // flush when the input ends, and the fold of that is the Result.
  Judge judge(std::move(jc), options.events);
  Replay live(judge, reader, options.events_batch_share);
  engine::EngineConfig ec = options.engine;
  if (options.events && ec.progress_seconds <= 0) ec.progress_seconds = 10;
  engine::Engine eng(ec, options.events ? static_cast<engine::Observer&>(live)
                                        : static_cast<engine::Observer&>(judge));
  Frame frame;
  std::uint64_t n = 0;
  while (reader.next(frame)) {
    eng.on_frame(frame);
    if (options.progress && (++n & 0xffff) == 0) options.progress(reader.progress());
  }
  // A live capture's file says when it ended (pcapng isb_endtime): the timers run to then, as
  // they did live, so a query unanswered for 5 s before the end is "no response" here too.
  std::optional<Timestamp> end;
  for (const auto& f : reader.files())
    if (f.end_time && (!end || *f.end_time > *end)) end = f.end_time;
  if (end) eng.advance(*end);
  eng.finish();
  if (options.progress) options.progress(1.0);
  result.files = reader.files();
  result.keylog_files = options.keylog_files;
  result.keylog_secrets = options.engine.keylog ? options.engine.keylog->size() : 0;
  result.stats = eng.stats();
  result.anomalies = reader.anomalies();
  result.anomalies.merge(eng.anomalies());
  std::size_t points = 0;
  for (const auto& f : result.files)
    points += std::max<std::size_t>(1, f.interfaces.size());
  judge.set_capture_points(points);
  const auto t1 = Clock::now();
  judge.finish(result);
  result.read_seconds = std::chrono::duration<double>(t1 - t0).count();
  result.judge_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return true;
}

}  // namespace fedscope::report
