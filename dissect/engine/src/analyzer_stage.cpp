#include "analyzer_stage.hpp"

namespace fedscope::engine::detail {

AnalyzerStage::AnalyzerStage() : current_(std::make_unique<Batch>()) {
  worker_ = std::thread([this] { run(); });
}

AnalyzerStage::~AnalyzerStage() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  space_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void AnalyzerStage::push(Item item) {
  current_->items.push_back(item);
  if (current_->items.size() >= kBatchItems || current_->bytes.size() >= kBatchBytes) hand_over();
}

void AnalyzerStage::create(std::uint32_t id, const s2s::Config& config) {
  current_->configs.push_back(config);
  push(Item{id, Op::kCreate, true, static_cast<std::uint32_t>(current_->configs.size() - 1), 0,
            EvidenceRef{}});
}

void AnalyzerStage::data(std::uint32_t id, bool from_orig, std::span<const std::uint8_t> bytes,
                         const EvidenceRef& at) {
  if (bytes.empty()) return;
  auto& arena = current_->bytes;
  const std::uint64_t pos = arena.size();
  arena.insert(arena.end(), bytes.begin(), bytes.end());
  push(Item{id, Op::kData, from_orig, static_cast<std::uint32_t>(bytes.size()), pos, at});
}

void AnalyzerStage::gap(std::uint32_t id, bool from_orig, std::uint64_t length,
                        const EvidenceRef& at) {
  push(Item{id, Op::kGap, from_orig, 0, length, at});
}

void AnalyzerStage::end(std::uint32_t id, bool from_orig, const EvidenceRef& at) {
  push(Item{id, Op::kEnd, from_orig, 0, 0, at});
}

void AnalyzerStage::finish(std::uint32_t id, const EvidenceRef& at) {
  push(Item{id, Op::kFinish, true, 0, 0, at});
}

void AnalyzerStage::hand_over() {
  if (current_->items.empty()) return;
  std::unique_lock lock(mu_);
  space_cv_.wait(lock, [this] { return stop_ || queue_.size() < kMaxBatchesInFlight; });
  if (stop_) return;
  queue_.push_back(std::move(current_));
  if (!spare_.empty()) {
    current_ = std::move(spare_.back());
    spare_.pop_back();
  } else {
    current_ = std::make_unique<Batch>();
  }
  lock.unlock();
  work_cv_.notify_one();
}

bool AnalyzerStage::ready() const {
  return done_count_.load(std::memory_order_acquire) > 0;
}

std::vector<std::pair<std::uint32_t, s2s::ConnectionFacts>> AnalyzerStage::take() {
  std::vector<std::pair<std::uint32_t, s2s::ConnectionFacts>> out;
  std::lock_guard lock(mu_);
  out.swap(done_);
  done_count_.store(0, std::memory_order_release);
  return out;
}

void AnalyzerStage::drain() {
  hand_over();
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return stop_ || (queue_.empty() && !busy_); });
}

void AnalyzerStage::run() {
  while (true) {
    std::unique_ptr<Batch> b;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      b = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    space_cv_.notify_one();
    apply(*b);
    b->items.clear();
    b->bytes.clear();
    b->configs.clear();
    {
      std::lock_guard lock(mu_);
      busy_ = false;
      if (spare_.size() < kMaxBatchesInFlight) spare_.push_back(std::move(b));
    }
    idle_cv_.notify_all();
  }
}

void AnalyzerStage::apply(const Batch& b) {
  std::vector<std::pair<std::uint32_t, s2s::ConnectionFacts>> finished;
  for (const Item& it : b.items) {
    if (it.op == Op::kCreate) {
      live_[it.id] = std::make_unique<s2s::ConnectionAnalyzer>(anomalies_, b.configs[it.size]);
      continue;
    }
    auto a = live_.find(it.id);
    if (a == live_.end()) continue;  // cannot happen: the engine creates before it feeds
    switch (it.op) {
      case Op::kData:
        a->second->on_data(it.from_orig,
                           std::span<const std::uint8_t>(b.bytes).subspan(it.position, it.size),
                           it.at);
        break;
      case Op::kGap:
        a->second->on_gap(it.from_orig, it.position, it.at);
        break;
      case Op::kEnd:
        a->second->on_end(it.from_orig, it.at);
        break;
      case Op::kFinish:
        finished.emplace_back(it.id, a->second->finish(it.at));
        live_.erase(a);
        break;
      case Op::kCreate:
        break;
    }
  }
  if (finished.empty()) return;
  std::lock_guard lock(mu_);
  for (auto& f : finished)
    done_.push_back(std::move(f));
  done_count_.store(done_.size(), std::memory_order_release);
}

}  // namespace fedscope::engine::detail
