// The incremental judging driver (judge.hpp): records in, units judged at flush, the findings
// each unit says compared with what it said before, events out, and at the end the Result.
//
// A unit is the DNS records (one unit) or one connection (its TCP, then XMPP and TLS judges).
// Each finding a unit says gets a stable key; a key names one finding, or, for findings with a
// merge key (one certificate shown on many connections), the fold of every unit's say. For
// each key the driver keeps its contributors ordered by report order, so folding a key costs
// its contributor count's logarithm plus the evidence cap, not a scan.

#include "fedscope/report/judge.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "judge_context.hpp"
#include "judge_layers.hpp"

namespace fedscope::report {

using detail::Contribution;
using detail::OrderKey;

namespace {

// Unit 0 is the DNS records; unit id + 1 is connection id.
using UnitId = std::uint64_t;
constexpr UnitId kDnsUnit = 0;

// What a unit said (kept only for units that said something: most connections say nothing).
struct Unit {
  std::vector<Contribution> said;
  std::vector<std::string> keys;  // parallel to said
};

// What a key stands for now: its contributors in report order.
struct KeyState {
  std::map<std::pair<OrderKey, UnitId>, const Contribution*> parts;
};

struct Emitted {
  Finding finding;  // as the report has it: with its key and the verdicts' fold note
  OrderKey order;
  Severity base;  // as its judges said it (what the attempts and the verdicts read)
};

Finding fold(const KeyState& k) {
  auto it = k.parts.begin();
  Finding f = it->second->finding;
  for (++it; it != k.parts.end(); ++it) {
    const Finding& more = it->second->finding;
    // As one finding per certificate always said: a further sighting adds a count, its detail
    // and its evidence.
    ++f.count;
    f.detail = more.detail;
    for (const auto& e : more.evidence)
      if (f.evidence.size() < kMaxEvidence) f.evidence.push_back(e);
    f.evidence_total += more.evidence_total;
  }
  std::stable_sort(f.evidence.begin(), f.evidence.end(),
                   [](const Evidence& a, const Evidence& b) { return a.time < b.time; });
  return f;
}

}  // namespace

struct Judge::Impl {
  Impl(JudgeConfig c, EventSink* s) : config(std::move(c)), sink(s), ctx(records) {
    records.inside_nets = config.inside_nets;
    records.our_domains = config.domains;
    // The context normalises --domain; keep that for the report.
    detail::JudgeContext norm(records);
    explicit_ours = norm.ours;
    ctx.ours = explicit_ours;
  }

  JudgeConfig config;
  EventSink* sink;
  Result records;  // connections and DNS as they arrive; attempts of the last flush
  detail::JudgeContext ctx;
  std::set<std::string> explicit_ours;

  // Records: connection id -> position in records.connections (rebuilt after sorting).
  std::unordered_map<std::uint32_t, std::size_t> conn_pos;
  std::unordered_map<std::uint32_t, std::uint64_t> arrival;  // closing order; open: max
  std::uint64_t closed_count = 0;
  bool records_changed = false, dns_changed = false;
  std::set<std::uint32_t> dirty_conns;
  // History bounding: closed connections in closing order, and those already summaries.
  std::deque<std::uint32_t> closed_whole;
  std::deque<std::uint32_t> closed_all;  // every closed connection kept, closing order
  std::uint64_t expired = 0;             // records left out (JudgeConfig::max_records)
  std::unordered_set<UnitId> frozen;
  std::uint64_t summarised = 0;
  std::unordered_set<std::uint32_t> arrival_closed;  // in closed_all (a record closes once)

  // Context.
  std::set<std::tuple<std::uint16_t, std::int32_t, std::int32_t>> vantages;
  bool paired = false;
  std::size_t capture_points = 0;

  // Units, keys, what was sent.
  std::unordered_map<UnitId, Unit> units;
  // Units that read a context decision, whatever they said (re-judged when it flips).
  std::unordered_set<UnitId> read_vantage, read_ours, read_inside;
  // Inside addresses NAT pairing showed, not yet in the context (applied at the next flush).
  std::set<IpAddress> learned_pending, public_pending;
  std::unordered_map<std::string, KeyState> keys;
  std::unordered_map<std::string, Emitted> emitted;
  std::unordered_map<std::uint32_t, std::uint32_t> error_count;  // flow -> error findings
  std::map<std::string, AttemptState> attempts_sent;
  std::map<std::string, VerdictState> verdicts_sent;        // by "FROM>TO"; only with a sink
  std::unordered_map<std::string, detail::FoldNote> notes;  // the verdicts' say, by key
  std::uint64_t seq = 0;

  void note_vantages(const engine::ConnectionRecord& c) {
    for (const auto& l : c.conn.legs)
      vantages.insert({l.vantage.file, l.vantage.interface, l.vantage.ifindex});
    if (c.conn.legs.size() > 1) paired = true;
    learn_inside(c.conn);
  }

  // NAT pairing shows which side is inside: a source NAT rewrote the source of the leg seen
  // first (the packet crosses the inside interface first), a destination NAT the destination
  // of the legs seen after it.
  void learn_inside(const flow::Connection& c) {
    if (c.legs.size() < 2) return;
    const flow::Leg* first = &c.legs.front();
    for (const auto& l : c.legs)
      if (l.start < first->start) first = &l;
    for (const auto& l : c.legs) {
      if (&l == first) continue;
      if (!(l.orig.addr == first->orig.addr)) {
        learned_pending.insert(first->orig.addr);
        public_pending.insert(l.orig.addr);
      }
      if (!(l.resp.addr == first->resp.addr)) {
        learned_pending.insert(l.resp.addr);
        public_pending.insert(first->resp.addr);
      }
    }
  }

  void put_connection(engine::ConnectionRecord&& c, bool closed) {
    note_vantages(c);
    const std::uint32_t id = c.conn.id;
    if (closed) {
      arrival[id] = closed_count++;
      if (config.max_full_records > 0) closed_whole.push_back(id);
      if (config.max_records > 0 && arrival_closed.insert(id).second) closed_all.push_back(id);
    } else {
      arrival.emplace(id, UINT64_MAX);
    }
    // An a-fallback connection counts in the DNS judge's "the fallback worked/failed".
    for (const auto& l : c.dns)
      if (l.via == engine::LinkVia::kAFallback) dns_changed = true;
    if (auto it = conn_pos.find(id); it != conn_pos.end()) {
      records.connections[it->second] = std::move(c);
    } else {
      conn_pos[id] = records.connections.size();
      records.connections.push_back(std::move(c));
    }
    dirty_conns.insert(id);
    records_changed = true;
  }

  // Sorts the records into report order (start time; closing order among equals) and
  // re-indexes them. Nearly sorted already, and once per flush.
  void sort_records() {
    auto& cs = records.connections;
    std::stable_sort(cs.begin(), cs.end(),
                     [&](const engine::ConnectionRecord& a, const engine::ConnectionRecord& b) {
                       auto sa = a.conn.primary().start, sb = b.conn.primary().start;
                       if (sa != sb) return sa < sb;
                       return arrival[a.conn.id] < arrival[b.conn.id];
                     });
    conn_pos.clear();
    for (std::size_t i = 0; i < cs.size(); ++i)
      conn_pos[cs[i].conn.id] = i;
    if (dns_changed) {
      std::stable_sort(records.dns.begin(), records.dns.end(),
                       [](const engine::DnsTransaction& a, const engine::DnsTransaction& b) {
                         return a.query.time < b.query.time;
                       });
      ctx.index_dns();
    }
  }

  // Judges one unit afresh; returns the keys whose say changed (old and new).
  void rejudge(UnitId id, std::set<std::string>& affected) {
    std::deque<Contribution> said;  // stable references while the judges add and fill in
    ctx.out = &said;
    ctx.read_vantage = ctx.read_ours = ctx.read_inside = false;
    if (id == kDnsUnit) {
      ctx.order = OrderKey{0, {}, 0, 0};
      detail::judge_dns(ctx);
    } else {
      auto pos = conn_pos.find(static_cast<std::uint32_t>(id - 1));
      if (pos != conn_pos.end()) {
        const auto& rec = records.connections[pos->second];
        const OrderKey base{1, rec.conn.primary().start, arrival[rec.conn.id], 0};
        ctx.order = base;
        detail::judge_connection(ctx, rec);
        ctx.order = base;
        ctx.order.phase = 2;
        detail::judge_xmpp(ctx, rec);
      }
    }
    ctx.out = nullptr;
    if (ctx.read_inside)
      read_inside.insert(id);
    else
      read_inside.erase(id);
    if (ctx.read_vantage)
      read_vantage.insert(id);
    else
      read_vantage.erase(id);
    if (ctx.read_ours)
      read_ours.insert(id);
    else
      read_ours.erase(id);
    Unit fresh;
    fresh.said.reserve(said.size());
    for (auto& c : said)
      fresh.said.push_back(std::move(c));
    // Keys: the merge key, or code@unit#ordinal (per code and domain within the unit).
    const std::string unit_name = id == kDnsUnit ? "dns" : "flow:" + std::to_string(id - 1);
    std::map<std::string, int> ordinal;
    for (const auto& c : fresh.said) {
      if (!c.merge_key.empty()) {
        fresh.keys.push_back(c.merge_key);
        continue;
      }
      std::string base = std::string(to_string(c.finding.code)) + "@" + unit_name;
      if (id == kDnsUnit) base += ":" + (c.finding.domain.empty() ? "-" : c.finding.domain);
      fresh.keys.push_back(base + "#" + std::to_string(ordinal[base]++));
    }
    // Replace the unit's say in the key index.
    if (auto it = units.find(id); it != units.end()) {
      const Unit& old = it->second;
      for (std::size_t i = 0; i < old.said.size(); ++i) {
        keys[old.keys[i]].parts.erase({old.said[i].order, id});
        affected.insert(old.keys[i]);
      }
      units.erase(it);
    }
    if (fresh.said.empty()) return;
    Unit& now = units[id] = std::move(fresh);
    for (std::size_t i = 0; i < now.said.size(); ++i) {
      keys[now.keys[i]].parts[{now.said[i].order, id}] = &now.said[i];
      affected.insert(now.keys[i]);
    }
  }

  // Counted on the severity the judges said (a fold note does not change what a flow is).
  void count_error(const Finding& f, Severity base, int delta) {
    if (!f.flow || base != Severity::kError) return;
    auto& n = error_count[*f.flow];
    n = static_cast<std::uint32_t>(static_cast<int>(n) + delta);
    if (n == 0) {
      error_count.erase(*f.flow);
      ctx.error_flows.erase(*f.flow);
    } else {
      ctx.error_flows.insert(*f.flow);
    }
  }

  void send_findings(const std::set<std::string>& affected, WithdrawReason why) {
    // Report order of the events: by the finding's place (new, else old), what goes before
    // what comes in its place, then key.
    std::vector<std::tuple<OrderKey, bool, std::string>> order;
    for (const auto& key : affected) {
      auto kit = keys.find(key);
      if (kit != keys.end() && !kit->second.parts.empty())
        order.emplace_back(kit->second.parts.begin()->first.first, true, key);
      else if (auto eit = emitted.find(key); eit != emitted.end())
        order.emplace_back(eit->second.order, false, key);
    }
    std::sort(order.begin(), order.end());
    for (const auto& [o, present, key] : order) {
      auto kit = keys.find(key);
      auto eit = emitted.find(key);
      const bool now = kit != keys.end() && !kit->second.parts.empty();
      FindingEvent e;
      e.key = key;
      if (!now) {
        if (kit != keys.end()) keys.erase(kit);
        if (eit == emitted.end()) continue;
        count_error(eit->second.finding, eit->second.base, -1);
        emitted.erase(eit);
        e.kind = EventKind::kWithdrawn;
        e.reason = why;
      } else {
        Finding f = fold(kit->second);
        f.key = key;
        const Severity base = f.severity;
        apply_note(f);
        const OrderKey first = kit->second.parts.begin()->first.first;
        if (eit != emitted.end()) {
          eit->second.order = first;
          if (eit->second.finding == f) continue;
          count_error(eit->second.finding, eit->second.base, -1);
          e.kind = EventKind::kUpdated;
          eit->second.finding = f;
          eit->second.base = base;
        } else {
          e.kind = EventKind::kRaised;
          emitted.emplace(key, Emitted{f, first, base});
        }
        count_error(f, base, +1);
        e.finding = std::move(f);
      }
      e.seq = ++seq;
      if (sink) sink->on_finding(e);
    }
  }

  void apply_note(Finding& f) const {
    auto it = notes.find(f.key);
    if (it == notes.end()) return;
    f.cause = it->second.cause;
    f.severity = it->second.severity;
    if (!it->second.remedy.empty()) f.remedy = it->second.remedy;
  }

  // The verdicts over the findings as said and the attempts; findings whose fold note
  // changed are sent again (folded, or updated when they come out from under a cause).
  void send_verdicts() {
    std::vector<detail::VerdictInput> in;
    in.reserve(emitted.size());
    for (const auto& [key, e] : emitted) {
      detail::VerdictInput v{&key, &e.finding, e.base, {}, e.order};
      if (auto kit = keys.find(key); kit != keys.end())
        for (const auto& [part, c] : kit->second.parts)
          if (part.second != kDnsUnit)
            v.flows.push_back(static_cast<std::uint32_t>(part.second - 1));
      in.push_back(std::move(v));
    }
    std::sort(in.begin(), in.end(),
              [](const detail::VerdictInput& a, const detail::VerdictInput& b) {
                return std::tie(a.order, *a.key) < std::tie(b.order, *b.key);
              });
    // The verdicts read each finding as said (its base severity), never an old note.
    std::unordered_map<std::string, detail::FoldNote> fresh;
    detail::judge_verdicts(ctx, in, fresh);
    std::vector<std::tuple<OrderKey, std::string>> changed;
    for (auto& [key, e] : emitted) {
      Finding f = e.finding;
      // Out from under a cause: its own remedy again (folded anew from its contributors).
      if (!f.cause.empty())
        if (auto kit = keys.find(key); kit != keys.end() && !kit->second.parts.empty())
          f.remedy = fold(kit->second).remedy;
      f.cause.clear();
      f.severity = e.base;
      if (auto it = fresh.find(key); it != fresh.end()) {
        f.cause = it->second.cause;
        f.severity = it->second.severity;
        if (!it->second.remedy.empty()) f.remedy = it->second.remedy;
      }
      if (f == e.finding) continue;
      e.finding = std::move(f);
      changed.emplace_back(e.order, key);
    }
    notes = std::move(fresh);
    std::sort(changed.begin(), changed.end());
    for (const auto& [o, key] : changed) {
      const auto& e = emitted.at(key);
      FindingEvent ev;
      ev.key = key;
      ev.kind = e.finding.cause.empty() ? EventKind::kUpdated : EventKind::kFolded;
      ev.cause = e.finding.cause;
      ev.finding = e.finding;
      ev.seq = ++seq;
      if (sink) sink->on_finding(ev);
    }
    send_verdict_events();
  }

  // The verdicts as they now stand against what was last sent: a live view follows a
  // direction from "not yet" to its answer without re-deriving it from findings.
  void send_verdict_events() {
    if (!sink) return;
    std::map<std::string, VerdictState> now;
    std::vector<std::string> order;
    for (const auto& v : records.verdicts) {
      VerdictState st;
      st.from = v.from;
      st.to = v.to;
      st.status = std::string(to_string(v.status));
      st.basis = std::string(to_string(v.basis));
      st.stage = std::string(to_string(v.stage));
      st.root_cause_key = v.root_cause;
      st.why = v.why;
      for (auto i : v.attempts)
        if (i < records.attempts.size()) st.attempts.push_back(records.attempts[i].key);
      std::string key = v.from + ">" + v.to;
      if (now.emplace(key, std::move(st)).second) order.push_back(std::move(key));
    }
    send_changes<VerdictEvent>(order, now, verdicts_sent, &VerdictEvent::verdict,
                               [&](const VerdictEvent& e) { sink->on_verdict(e); });
    verdicts_sent = std::move(now);
  }

  // Compares what is said now with what was sent, by key: raised or updated in @p order,
  // then withdrawn (rejudged) for the keys that are gone. Attempts and verdicts share it.
  template <class Event, class State, class Send>
  void send_changes(const std::vector<std::string>& order, const std::map<std::string, State>& now,
                    const std::map<std::string, State>& sent, std::optional<State> Event::*state,
                    Send&& send) {
    for (const auto& key : order) {
      const State& st = now.at(key);
      auto it = sent.find(key);
      if (it != sent.end() && it->second == st) continue;
      Event e;
      e.kind = it == sent.end() ? EventKind::kRaised : EventKind::kUpdated;
      e.key = key;
      e.*state = st;
      e.seq = ++seq;
      send(e);
    }
    for (const auto& [key, st] : sent) {
      if (now.count(key)) continue;
      Event e;
      e.kind = EventKind::kWithdrawn;
      e.key = key;
      e.reason = WithdrawReason::kRejudged;
      e.seq = ++seq;
      send(e);
    }
  }

  void send_attempts() {
    records.attempts.clear();
    detail::build_attempts(ctx);
    // Without a listener (`report`) there is nothing to compare with: the attempts are in
    // records, and keeping their last sent state would cost memory per attempt for nothing.
    if (!sink) return;
    std::map<std::string, AttemptState> now;
    for (const auto& a : records.attempts)
      now.emplace(a.key, attempt_state(records, a));
    // Attempts in report order (their position), then the ones that are gone.
    std::vector<std::string> order;
    order.reserve(records.attempts.size());
    for (const auto& a : records.attempts)
      order.push_back(a.key);
    send_changes<AttemptEvent>(order, now, attempts_sent, &AttemptEvent::attempt,
                               [&](const AttemptEvent& e) { sink->on_attempt(e); });
    attempts_sent = std::move(now);
  }

  // Beyond max_records closed connections (and as many DNS transactions), the oldest leave
  // the history: their records go, and what only they said is withdrawn ("expired"). A live
  // run's memory then follows its open sessions plus a bounded history.
  std::vector<UnitId> expire() {
    std::vector<UnitId> gone;
    if (config.max_records == 0) return gone;
    std::unordered_set<std::uint32_t> out;
    while (closed_all.size() > config.max_records) {
      const std::uint32_t id = closed_all.front();
      closed_all.pop_front();
      arrival_closed.erase(id);
      out.insert(id);
    }
    if (!out.empty()) {
      auto& cs = records.connections;
      cs.erase(std::remove_if(
                   cs.begin(), cs.end(),
                   [&](const engine::ConnectionRecord& r) { return out.count(r.conn.id) > 0; }),
               cs.end());
      conn_pos.clear();
      for (std::size_t i = 0; i < cs.size(); ++i)
        conn_pos[cs[i].conn.id] = i;
      for (auto id : out) {
        const UnitId unit = UnitId{id} + 1;
        frozen.erase(unit);
        arrival.erase(id);
        dirty_conns.erase(id);
        read_vantage.erase(unit);
        read_ours.erase(unit);
        read_inside.erase(unit);
        gone.push_back(unit);
      }
      std::sort(gone.begin(), gone.end());
      expired += out.size();
      records_changed = true;
    }
    if (records.dns.size() > config.max_records) {
      // Oldest first: records.dns is in query-time order after each flush.
      const std::size_t n = records.dns.size() - config.max_records;
      records.dns.erase(records.dns.begin(), records.dns.begin() + static_cast<std::ptrdiff_t>(n));
      expired += n;
      dns_changed = records_changed = true;
      ctx.index_dns();
    }
    return gone;
  }

  void flush() {
    const std::vector<UnitId> gone = expire();
    if (!records_changed && dirty_conns.empty() && !dns_changed) return;
    if (records_changed || dns_changed) sort_records();
    // Context, from everything so far.
    const bool was_forwarding = records.forwarding_vantage;
    records.vantage_count = vantages.size();
    records.forwarding_vantage = paired || capture_points > 1;
    const bool vantage_changed = was_forwarding != records.forwarding_vantage;
    // Inside addresses learned since the last flush (those --inside-net covers add nothing).
    bool inside_changed = false;
    for (const auto& a : learned_pending)
      if (!ctx.inside_by_option(a) && ctx.learned_inside.insert(a).second) inside_changed = true;
    learned_pending.clear();
    for (const auto& a : public_pending)
      if (!ctx.inside(a) && ctx.our_public.insert(a).second) inside_changed = true;
    public_pending.clear();
    bool ours_changed = false;
    if (config.domains.empty() || explicit_ours.empty()) {
      auto before = ctx.ours;
      ctx.ours.clear();
      records.our_domains_inferred.clear();
      detail::infer_ours(ctx);
      ours_changed = before != ctx.ours;
    }
    // Units to judge: new or progressed records, and those whose context changed.
    std::set<UnitId> todo;
    std::set<UnitId> by_context;
    for (auto id : dirty_conns)
      if (!frozen.count(UnitId{id} + 1)) todo.insert(UnitId{id} + 1);
    if (dns_changed) todo.insert(kDnsUnit);
    if (vantage_changed)
      for (auto id : read_vantage)
        if (!todo.count(id)) by_context.insert(id);
    if (ours_changed) {
      for (auto id : read_ours)
        if (!todo.count(id)) by_context.insert(id);
      if (!todo.count(kDnsUnit)) by_context.insert(kDnsUnit);
    }
    if (inside_changed)
      for (auto id : read_inside)
        if (!todo.count(id)) by_context.insert(id);
    std::set<std::string> affected, affected_by_context, affected_expired;
    for (auto id : gone)
      rejudge(id, affected_expired);  // no record any more: what it said is withdrawn
    for (auto it = affected_expired.begin(); it != affected_expired.end();) {
      auto k = keys.find(*it);
      if (k != keys.end() && !k->second.parts.empty()) {  // still said by other records
        affected.insert(*it);
        it = affected_expired.erase(it);
      } else {
        ++it;
      }
    }
    for (auto id : todo)
      rejudge(id, affected);
    for (auto id : by_context)
      rejudge(id, affected_by_context);
    for (const auto& k : affected)
      affected_by_context.erase(k);
    send_findings(affected_expired, WithdrawReason::kExpired);
    send_findings(affected, WithdrawReason::kRejudged);
    send_findings(affected_by_context, WithdrawReason::kContextChanged);
    send_attempts();
    send_verdicts();
    dirty_conns.clear();
    records_changed = dns_changed = false;
    summarise();
  }

  // Beyond max_full_records closed connections, the oldest become summaries: what only the
  // story needs is released, what the attempts read stays, and their findings are frozen.
  void summarise() {
    while (config.max_full_records > 0 && closed_whole.size() > config.max_full_records) {
      const std::uint32_t id = closed_whole.front();
      closed_whole.pop_front();
      auto pos = conn_pos.find(id);
      if (pos == conn_pos.end()) continue;
      auto& rec = records.connections[pos->second];
      // Facts are shared and immutable, except that the record that alone holds its facts
      // (made non-const by the engine) may release what only its story needs. Shared facts
      // are the empty ones of connections that carried no byte: nothing to release.
      if (rec.xmpp && rec.xmpp.use_count() == 1) {
        auto* x = const_cast<s2s::ConnectionFacts*>(rec.xmpp.get());
        x->ladder_dropped += x->ladder.size();
        std::vector<s2s::LadderStep>().swap(x->ladder);
        for (auto* side : {&x->orig, &x->resp}) {
          if (!side->extra.present()) continue;
          std::vector<s2s::StanzaErrorFact>().swap(side->extra.mut().stanza_error_samples);
          std::string().swap(side->extra.mut().not_xmpp_bytes);
        }
        if (x->tls.present()) {
          std::vector<tls::CertificateInfo>().swap(x->tls.mut().chain);
          std::vector<tls::CertificateInfo>().swap(x->tls.mut().client_chain);
        }
      }
      const UnitId unit = UnitId{id} + 1;
      frozen.insert(unit);
      read_vantage.erase(unit);
      read_ours.erase(unit);
      read_inside.erase(unit);
      ++summarised;
    }
  }
};

AttemptState attempt_state(const Result& r, const Attempt& a) {
  AttemptState s;
  s.domain = a.domain;
  s.originator = a.originator;
  s.target = a.target;
  for (auto i : a.dns)
    s.dns.push_back(r.dns[i].id);
  for (auto i : a.connections)
    s.flows.push_back(r.connections[i].conn.id);
  for (auto role : a.roles)
    s.roles.emplace_back(to_string(role));
  s.outcome = to_string(a.outcome);
  s.from_domain = a.from_domain;
  s.to_domain = a.to_domain;
  s.auth_method = to_string(a.auth_method);
  s.auth_result = to_string(a.auth_result);
  if (a.reverse) s.reverse = r.attempts[*a.reverse].key;
  return s;
}

Judge::Judge(JudgeConfig config, EventSink* sink)
    : impl_(std::make_unique<Impl>(std::move(config), sink)) {}

Judge::~Judge() = default;

void Judge::on_connection(engine::ConnectionRecord&& c) {
  impl_->put_connection(std::move(c), true);
}

void Judge::on_progress(engine::ConnectionRecord&& snapshot) {
  impl_->put_connection(std::move(snapshot), false);
}

void Judge::on_dns(engine::DnsTransaction&& t) {
  if (t.copies > 0) impl_->paired = true;
  impl_->records.dns.push_back(std::move(t));
  impl_->dns_changed = true;
  impl_->records_changed = true;
}

void Judge::set_capture_points(std::size_t n) {
  impl_->capture_points = n;
  // Re-deciding the vantage at the next flush is enough: mark nothing dirty unless it flips.
  if ((impl_->paired || n > 1) != impl_->records.forwarding_vantage) impl_->records_changed = true;
}

void Judge::flush() {
  impl_->flush();
}

std::uint64_t Judge::events() const {
  return impl_->seq;
}

std::uint64_t Judge::expired() const {
  return impl_->expired;
}

std::uint64_t Judge::summarised() const {
  return impl_->summarised;
}

void Judge::finish(Result& result) {
  auto& im = *impl_;
  im.flush();
  result.connections = std::move(im.records.connections);
  result.dns = std::move(im.records.dns);
  result.attempts = std::move(im.records.attempts);
  result.our_domains = im.records.our_domains;
  result.our_domains_inferred = im.records.our_domains_inferred;
  result.inside_nets = im.records.inside_nets;
  result.verdicts = std::move(im.records.verdicts);
  result.history_expired = im.expired;
  result.inside_learned.assign(im.ctx.learned_inside.begin(), im.ctx.learned_inside.end());
  result.forwarding_vantage = im.records.forwarding_vantage;
  result.vantage_count = im.records.vantage_count;
  // Errors first, then warnings, then info; report order within a severity.
  std::vector<std::pair<OrderKey, Finding*>> order;
  order.reserve(im.emitted.size());
  for (auto& [key, e] : im.emitted)
    order.emplace_back(e.order, &e.finding);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    if (a.second->severity != b.second->severity)
      return static_cast<int>(a.second->severity) > static_cast<int>(b.second->severity);
    return a.first < b.first;
  });
  result.findings.clear();
  result.findings.reserve(order.size());
  for (auto& [o, f] : order)
    result.findings.push_back(std::move(*f));
  std::unordered_map<std::string, std::size_t> by_key;
  for (std::size_t i = 0; i < result.findings.size(); ++i)
    by_key.emplace(result.findings[i].key, i);
  for (auto& v : result.verdicts)
    if (auto it = by_key.find(v.root_cause); it != by_key.end()) v.finding = it->second;
  impl_ = std::make_unique<Impl>(im.config, im.sink);
}

void judge(Result& result) {
  JudgeConfig config;
  config.inside_nets = result.inside_nets;
  config.domains = result.our_domains;
  Judge j(std::move(config));
  std::size_t points = 0;
  for (const auto& f : result.files)
    points += std::max<std::size_t>(1, f.interfaces.size());
  j.set_capture_points(points);
  for (auto& t : result.dns)
    j.on_dns(std::move(t));
  for (auto& c : result.connections)
    j.on_connection(std::move(c));
  result.dns.clear();
  result.connections.clear();
  j.finish(result);
}

}  // namespace fedscope::report
