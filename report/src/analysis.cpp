#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "fedscope/report/analysis.hpp"

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

std::size_t Result::errors() const {
  return static_cast<std::size_t>(
      std::count_if(findings.begin(), findings.end(),
                    [](const Finding& f) { return f.severity == Severity::kError; }));
}

std::size_t Result::warnings() const {
  return static_cast<std::size_t>(
      std::count_if(findings.begin(), findings.end(),
                    [](const Finding& f) { return f.severity == Severity::kWarning; }));
}

namespace {

class Collector : public engine::Observer {
 public:
  explicit Collector(Result& r) : r_(r) {}
  void on_connection(engine::ConnectionRecord&& c) override {
    r_.connections.push_back(std::move(c));
  }
  void on_dns(engine::DnsTransaction&& t) override { r_.dns.push_back(std::move(t)); }

 private:
  Result& r_;
};

}  // namespace

bool analyze(const Options& options, Result& result, std::string& error) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  capture::MergedReader reader;
  if (!reader.open(options.files, error)) return false;
  Collector collector(result);
  engine::Engine eng(options.engine, collector);
  Frame frame;
  std::uint64_t n = 0;
  while (reader.next(frame)) {
    eng.on_frame(frame);
    if (options.progress && (++n & 0xffff) == 0) options.progress(reader.progress());
  }
  eng.finish();
  if (options.progress) options.progress(1.0);
  result.files = reader.files();
  result.stats = eng.stats();
  result.anomalies = reader.anomalies();
  result.anomalies.merge(eng.anomalies());
  result.inside_nets = options.inside_nets;
  result.our_domains = options.domains;
  // Records come out in closing order; the report reads best in start order.
  std::stable_sort(result.connections.begin(), result.connections.end(),
                   [](const engine::ConnectionRecord& a, const engine::ConnectionRecord& b) {
                     return a.conn.primary().start < b.conn.primary().start;
                   });
  std::stable_sort(result.dns.begin(), result.dns.end(),
                   [](const engine::DnsTransaction& a, const engine::DnsTransaction& b) {
                     return a.query.time < b.query.time;
                   });
  const auto t1 = Clock::now();
  judge(result);
  result.read_seconds = std::chrono::duration<double>(t1 - t0).count();
  result.judge_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return true;
}

}  // namespace fedscope::report
