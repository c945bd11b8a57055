#pragma once
/// @file
/// The capture -> engine -> findings pipeline that `fedscope report` runs (and the live view
/// will run): reads files, feeds the engine, keeps the closed records, judges them.

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "fedscope/base/address.hpp"
#include "fedscope/capture/reader.hpp"
#include "fedscope/engine/engine.hpp"
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
};

/// A federation attempt: one target (a domain, or a server endpoint when no DNS was seen)
/// with its DNS lookups and connections, for the story.
struct Attempt {
  std::string domain;                    ///< "" when not known
  std::string originator;                ///< client address, when known
  std::string target;                    ///< domain or "ip:port"
  std::vector<std::size_t> dns;          ///< indexes into Result::dns
  std::vector<std::size_t> connections;  ///< indexes into Result::connections
  /// Per connection (parallel to @c connections): "stream" (the attempt's own),
  /// "dialback-verify" (the receiving server's check back to the authoritative server), or
  /// "multiplexed" (another pair's stream that also carried this pair's dialback).
  std::vector<std::string> roles;
  /// "connected", "failed", "capture-ended", "dns-only"; with XMPP observed also
  /// "authenticated" (dialback valid / SASL success) and "encrypted" (TLS up, inside unseen).
  std::string outcome;
  /// From the stream headers ("" when not seen), as written there: compare them with
  /// fedscope::domains_equal().
  std::string from_domain, to_domain;
  /// "dialback", "sasl-external", "sasl" (another mechanism), "none", "unknown" (inside TLS),
  /// or "" when no XMPP stream was seen at all.
  std::string auth_method;
  /// "valid", "invalid", "error", "no-answer", "success", "failure", "pending" (capture ended),
  /// "not-observable", "none", or "".
  std::string auth_result;
  /// The attempt of the same domain pair in the other direction (to_domain -> from_domain):
  /// federation needs both, and dialback checks cross between them. Index into
  /// Result::attempts.
  std::optional<std::size_t> reverse;
};

struct Result {
  std::vector<capture::FileInfo> files;
  engine::EngineStats stats;
  AnomalyCounters anomalies;
  std::vector<engine::DnsTransaction> dns;
  std::vector<engine::ConnectionRecord> connections;
  std::vector<Finding> findings;
  std::vector<Attempt> attempts;
  /// From --domain; judge() leaves each once, in its comparison form (fedscope::domain_key():
  /// "CUPDOMAIN.EXAMPLE." becomes "cupdomain.example", U-labels become A-labels).
  std::vector<std::string> our_domains;
  std::vector<std::string> our_domains_inferred;  ///< when --domain is absent: see judge_dns.cpp
  std::vector<Cidr> inside_nets;
  /// Wall-clock seconds analyze() spent reading and dissecting, and judging (for
  /// FEDSCOPE_TIMING and benchmarks; not part of any report).
  double read_seconds = 0, judge_seconds = 0;
  bool forwarding_vantage = false;  ///< evidence the capture was taken on a forwarding box
  std::size_t vantage_count = 0;

  std::size_t errors() const;
  std::size_t warnings() const;
};

/// Runs the whole pipeline. Returns false (with @p error) only when an input cannot be read
/// at all; damaged records are anomalies in the result.
bool analyze(const Options& options, Result& result, std::string& error);

/// The judges alone, over records already collected (used by analyze(), and by tests).
void judge(Result& result);

/// How the text report is written (JSON has no such choices: it is the contract).
struct TextOptions {
  TimeFormat time;  ///< UTC unless --time says otherwise
};

/// Names that tell input files apart in evidence ("outside/capture.pcap#12"): for each path the
/// shortest trailing run of path components that no other path ends with; "stdin" for "-".
/// Parallel to @p paths.
std::vector<std::string> distinct_file_names(const std::vector<std::string>& paths);

/// Renderers. Each writes the whole report. JSON is streamed record by record (memory holds
/// one record's JSON at a time, whatever the number of flows).
std::string render_text(const Result& r, const TextOptions& options = {});
void render_json(const Result& r, std::ostream& os);

}  // namespace fedscope::report
