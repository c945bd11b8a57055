#pragma once
/// @file
/// Incremental judging: records in (from the engine, as connections progress and close and as
/// DNS transactions finish), events out (events.hpp), and at the end the same Result that
/// `fedscope report` renders.
///
/// The judges run per *unit*: each connection (its TCP/NAT/firewall, XMPP and TLS judges) and
/// the DNS records. flush() judges the units that changed since the last flush — a new or
/// progressed record, or context a unit read that changed (whether the capture was taken on
/// a forwarding box, which domains are ours) — and compares what they say now with what they
/// said: findings that appear are raised, that change are updated, that disappear are
/// withdrawn. Findings are indexed by stable key and by the units that contribute to them;
/// nothing scans all findings per record. The DNS unit, the inferred domains and the attempts
/// are rebuilt per flush over the records kept (O(records) per flush): `report` flushes once, a
/// live user flushes on a timer.
///
/// **Ownership**: records are moved in and kept (a report needs them); events are passed by
/// reference for the duration of the sink call.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "fedscope/base/address.hpp"
#include "fedscope/engine/engine.hpp"
#include "fedscope/report/analysis.hpp"
#include "fedscope/report/events.hpp"

namespace fedscope::report {

struct JudgeConfig {
  std::vector<Cidr> inside_nets;     ///< --inside-net
  std::vector<std::string> domains;  ///< --domain (empty: inferred, and re-inferred per flush)
  /// History bounding for long-running users (live capture, relay): keep at most this many
  /// closed connections whole; older ones become summaries — the ladder, stanza-error samples,
  /// certificate chains and first bytes are released, what the attempts read is kept — and
  /// their findings are frozen as last said (a context change no longer re-judges them).
  /// 0 (`report`): every record stays whole.
  std::size_t max_full_records = 0;
  /// History bound: keep at most this many closed connections (and as many DNS
  /// transactions) at all; older ones leave the history, and findings only they supported are
  /// withdrawn with reason "expired". 0 (`report`): keep everything.
  std::size_t max_records = 0;
};

/// @p a as events carry it (AttemptState): its records by their stable ids, the other
/// direction by its key. @p r holds the records @p a indexes.
AttemptState attempt_state(const Result& r, const Attempt& a);

class Judge : public engine::Observer {
 public:
  /// @p sink (may be null) receives the events; it must outlive the Judge.
  explicit Judge(JudgeConfig config, EventSink* sink = nullptr);
  ~Judge() override;
  Judge(const Judge&) = delete;
  Judge& operator=(const Judge&) = delete;

  /// A closed connection: it replaces the connection's progress snapshot, if any.
  void on_connection(engine::ConnectionRecord&& c) override;
  void on_dns(engine::DnsTransaction&& t) override;
  /// A snapshot of a connection still open; judged provisionally, re-judged when it closes.
  void on_progress(engine::ConnectionRecord&& snapshot) override;

  /// Context: how many capture points there are (a file's interfaces each count; several
  /// points mean the capture was taken around a forwarding box). May grow while reading.
  void set_capture_points(std::size_t n);

  /// Judges what changed since the last flush and sends the events, in a deterministic order.
  void flush();
  /// Flushes, then moves the records, the findings (errors first, then warnings, then info;
  /// within a severity DNS, then each connection's TCP in start order, then each connection's
  /// XMPP and TLS) and the attempts into @p result, with our domains and the vantage facts.
  /// The Judge is empty afterwards.
  void finish(Result& result);

  /// Events sent so far.
  std::uint64_t events() const;
  /// Closed connections turned into summaries so far (JudgeConfig::max_full_records).
  std::uint64_t summarised() const;
  /// Connections and DNS transactions left out of the history so far (max_records).
  std::uint64_t expired() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedscope::report
