// The TUI's event queue and model (model.hpp): events folded into what the view shows.

#include <algorithm>

#include "fedscope/base/domain.hpp"
#include "fedscope/tui/model.hpp"

namespace fedscope::tui {

// ---- EventQueue ------------------------------------------------------------------------------

void EventQueue::on_finding(const report::FindingEvent& e) {
  std::lock_guard lock(mutex_);
  pending_.events.emplace_back(e);
}

void EventQueue::on_attempt(const report::AttemptEvent& e) {
  std::lock_guard lock(mutex_);
  pending_.events.emplace_back(e);
}

void EventQueue::on_verdict(const report::VerdictEvent& e) {
  std::lock_guard lock(mutex_);
  pending_.events.emplace_back(e);
}

void EventQueue::on_session(const report::SessionEvent& e) {
  std::lock_guard lock(mutex_);
  if (auto it = session_at_.find(e.flow); it != session_at_.end()) {
    // Coalesce: the pending event takes the newer facts, and the new steps after its own.
    auto& p = std::get<report::SessionEvent>(pending_.events[it->second]);
    auto steps = std::move(p.steps);
    const auto opened = p.phase == report::SessionPhase::kOpened;
    p = e;
    if (opened && e.phase == report::SessionPhase::kProgress) p.phase = e.phase;
    steps.insert(steps.end(), e.steps.begin(), e.steps.end());
    p.steps = std::move(steps);
    ++pending_.coalesced;
    return;
  }
  session_at_.emplace(e.flow, pending_.events.size());
  pending_.events.emplace_back(e);
}

void EventQueue::on_dns(const report::DnsEvent& e) {
  std::lock_guard lock(mutex_);
  pending_.events.emplace_back(e);
}

void EventQueue::on_stats(const report::CaptureStatsEvent& e) {
  std::lock_guard lock(mutex_);
  status_.packets = e.packets;
  status_.bytes = e.bytes;
  status_.rate = e.rate;
  std::uint64_t dropped = 0;
  for (const auto& i : e.interfaces)
    dropped += i.dropped + i.if_dropped;
  status_.dropped = dropped;  // the time span is the source's to say (it knows the start)
  status_changed_ = true;
}

void EventQueue::set_status(const SourceStatus& s) {
  std::lock_guard lock(mutex_);
  status_ = s;
  status_changed_ = true;
}

void EventQueue::message(std::string text) {
  std::lock_guard lock(mutex_);
  pending_.messages.push_back(std::move(text));
}

bool EventQueue::take(Batch& out) {
  std::lock_guard lock(mutex_);
  out = Batch{};
  if (pending_.events.empty() && pending_.messages.empty() && !status_changed_) return false;
  std::swap(out, pending_);
  session_at_.clear();
  if (status_changed_) out.status = status_;
  status_changed_ = false;
  return true;
}

// ---- Model -----------------------------------------------------------------------------------

void Model::apply(const Batch& b) {
  for (const auto& e : b.events)
    apply(e);
  if (b.status) status_ = *b.status;
  for (const auto& m : b.messages)
    messages_.push_back(m);
  messages_total_ += b.messages.size();
  if (messages_.size() > 100) messages_.erase(messages_.begin(), messages_.end() - 100);
  ++version_;
}

void Model::apply(const QueuedEvent& e) {
  ++events_;
  ++version_;
  std::visit(
      [&](const auto& ev) {
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, report::SessionEvent>) {
          on_session(ev);
        } else if constexpr (std::is_same_v<T, report::DnsEvent>) {
          if (auto it = dns_at_.find(ev.id); it != dns_at_.end()) {
            dns_[it->second - dns_base_] = ev;
            return;
          }
          dns_at_.emplace(ev.id, dns_base_ + dns_.size());
          dns_.push_back(ev);
          if (dns_.size() > kMaxDns) {
            dns_at_.erase(dns_.front().id);
            dns_.pop_front();
            ++dns_base_;
          }
        } else if constexpr (std::is_same_v<T, report::FindingEvent>) {
          on_finding(ev);
        } else if constexpr (std::is_same_v<T, report::AttemptEvent>) {
          on_attempt(ev);
        } else {
          fold_.on_verdict(ev);
        }
      },
      e);
}

void Model::on_session(const report::SessionEvent& e) {
  auto [it, fresh] = sessions_.try_emplace(e.flow);
  auto& s = it->second;
  if (fresh) {
    s.flow = e.flow;
    s.first = e.time;
    s.order = ++order_;
  } else if (s.phase == report::SessionPhase::kClosed) {
    return;  // a closed session does not reopen (flow ids are not reused)
  }
  if (e.phase == report::SessionPhase::kOpened && !fresh) return;
  s.phase = e.phase;
  if (e.time > s.last) s.last = e.time;
  if (!e.legs.empty() && e.legs.front().start.ns &&
      (s.first.ns == 0 || e.legs.front().start < s.first))
    s.first = e.legs.front().start;
  s.client = e.client;
  s.server = e.server;
  if (!e.legs.empty()) s.legs = e.legs;
  s.state = e.state;
  s.history = e.history;
  s.packets = e.packets;
  s.client_bytes = e.client_bytes;
  s.server_bytes = e.server_bytes;
  s.expired_idle = e.expired_idle;
  if (!e.stream.empty()) s.stream = e.stream;
  if (!e.from_domain.empty()) s.from_domain = e.from_domain;
  if (!e.to_domain.empty()) s.to_domain = e.to_domain;
  if (!e.tls.empty()) s.tls = e.tls;
  for (const auto& st : e.steps) {
    if (s.steps.size() >= kMaxSteps) {
      ++s.steps_dropped;
      continue;
    }
    s.steps.push_back(st);
  }
  s.steps_dropped = std::max<std::uint64_t>(s.steps_dropped, e.steps_dropped);
  if (e.phase == report::SessionPhase::kClosed) {
    closed_order_.push_back(e.flow);
    while (closed_order_.size() > kMaxClosedSessions) {
      const auto old = closed_order_.front();
      closed_order_.pop_front();
      sessions_.erase(old);
      ++sessions_expired_;
    }
  }
}

void Model::on_finding(const report::FindingEvent& e) {
  fold_.on_finding(e);
  // Index by flow (the session's findings) and by domain (flowless findings: DNS).
  if (auto it = finding_flow_.find(e.key); it != finding_flow_.end()) {
    if (auto f = findings_by_flow_.find(it->second); f != findings_by_flow_.end()) {
      f->second.erase(e.key);
      if (f->second.empty()) findings_by_flow_.erase(f);
    }
    finding_flow_.erase(it);
  }
  if (auto it = finding_domain_.find(e.key); it != finding_domain_.end()) {
    if (auto f = findings_by_domain_.find(it->second); f != findings_by_domain_.end()) {
      f->second.erase(e.key);
      if (f->second.empty()) findings_by_domain_.erase(f);
    }
    finding_domain_.erase(it);
  }
  if (e.kind == report::EventKind::kWithdrawn || !e.finding) return;
  if (e.finding->flow) {
    findings_by_flow_[*e.finding->flow].insert(e.key);
    finding_flow_[e.key] = *e.finding->flow;
  } else if (!e.finding->domain.empty()) {
    auto d = domain_key(e.finding->domain);
    findings_by_domain_[d].insert(e.key);
    finding_domain_[e.key] = std::move(d);
  }
}

void Model::on_attempt(const report::AttemptEvent& e) {
  if (auto it = fold_.attempts().find(e.key); it != fold_.attempts().end())
    for (auto f : it->second.flows)
      if (auto a = attempt_by_flow_.find(f); a != attempt_by_flow_.end() && a->second == e.key)
        attempt_by_flow_.erase(a);
  fold_.on_attempt(e);
  if (e.kind == report::EventKind::kWithdrawn || !e.attempt) return;
  for (auto f : e.attempt->flows)
    attempt_by_flow_[f] = e.key;
}

const Session* Model::session(std::uint32_t flow) const {
  auto it = sessions_.find(flow);
  return it == sessions_.end() ? nullptr : &it->second;
}

const report::DnsEvent* Model::dns_by_id(std::uint64_t id) const {
  auto it = dns_at_.find(id);
  return it == dns_at_.end() ? nullptr : &dns_[it->second - dns_base_];
}

std::vector<std::string> Model::findings_of(std::uint32_t flow) const {
  auto it = findings_by_flow_.find(flow);
  if (it == findings_by_flow_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

std::string Model::attempt_of(std::uint32_t flow) const {
  auto it = attempt_by_flow_.find(flow);
  return it == attempt_by_flow_.end() ? std::string() : it->second;
}

std::vector<std::string> Model::domain_findings(const std::string& key) const {
  auto it = findings_by_domain_.find(key);
  if (it == findings_by_domain_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

}  // namespace fedscope::tui
