// The device model: local actions with a remaining amount of work and a speed that drops while the
// device communicates (see compute_model.hpp).
#include "compute_model.hpp"

#include <algorithm>
#include <cmath>

#include "clustersim/plan/error.hpp"

namespace clustersim::engine::detail {

namespace {

// std::llround for the non-negative durations of the hot path without the library call: the
// integer part plus one when the fraction is at least a half (exact below 2^52 ns).
TimeNs round_ns(double ns) {
  if (!(ns >= 0.0 && ns < 4.5e15)) [[unlikely]]
    return static_cast<TimeNs>(std::llround(ns));
  const auto whole = static_cast<TimeNs>(ns);
  return whole + (ns - static_cast<double>(whole) >= 0.5 ? 1 : 0);
}

}  // namespace

ComputeModel::ComputeModel(std::int32_t slots, double overlap_slowdown)
    : slowdown_(overlap_slowdown), rates_vary_(overlap_slowdown != 1.0) {
  require(overlap_slowdown >= 1.0, "overlap slowdown must be >= 1");
  transfers_.assign(static_cast<std::size_t>(slots), 0);
  if (rates_vary_) running_.resize(static_cast<std::size_t>(slots));
  queue_.reserve(static_cast<std::size_t>(slots) * 4);
}

void ComputeModel::start(TimeNs now_ns, std::int32_t slot, double work_ns, bool slowable, Token token) {
  if (!rates_vary_) {
    queue_.push(now_ns + round_ns(work_ns), token);
    return;
  }
  std::int32_t id;
  if (!free_actions_.empty()) {
    id = free_actions_.back();
    free_actions_.pop_back();
  } else {
    id = static_cast<std::int32_t>(actions_.size());
    actions_.emplace_back();
  }
  Action& a = actions_[static_cast<std::size_t>(id)];
  a.token = token;
  a.remaining_ns = work_ns;
  a.last_update_ns = now_ns;
  a.factor = slowable && transfers_[static_cast<std::size_t>(slot)] > 0 ? slowdown_ : 1.0;
  ++a.version;
  a.slot = slot;
  a.live = true;
  a.position = -1;
  if (slowable) {
    auto& running = running_[static_cast<std::size_t>(slot)];
    a.position = static_cast<std::int32_t>(running.size());
    running.push_back(id);
  }
  queue_.push(now_ns + round_ns(work_ns * a.factor), event_token(id, a.version));
}

void ComputeModel::rescale(TimeNs now_ns, std::int32_t id, double factor) {
  Action& a = actions_[static_cast<std::size_t>(id)];
  if (a.factor == factor) return;
  a.remaining_ns = std::max(0.0, a.remaining_ns - static_cast<double>(now_ns - a.last_update_ns) / a.factor);
  a.last_update_ns = now_ns;
  a.factor = factor;
  ++a.version;
  queue_.push(now_ns + round_ns(a.remaining_ns * factor), event_token(id, a.version));
}

void ComputeModel::transfer_started(TimeNs now_ns, std::int32_t slot) {
  if (++transfers_[static_cast<std::size_t>(slot)] != 1 || !rates_vary_) return;
  for (std::int32_t id : running_[static_cast<std::size_t>(slot)]) rescale(now_ns, id, slowdown_);
}

void ComputeModel::transfer_finished(TimeNs now_ns, std::int32_t slot) {
  auto& n = transfers_[static_cast<std::size_t>(slot)];
  require(n > 0, "a transfer finished that never started");
  if (--n != 0 || !rates_vary_) return;
  for (std::int32_t id : running_[static_cast<std::size_t>(slot)]) rescale(now_ns, id, 1.0);
}

void ComputeModel::drop_stale() const {
  if (!rates_vary_) return;
  while (!queue_.empty()) {
    const Event& e = queue_.top();
    const Action& a = actions_[static_cast<std::size_t>(e.token >> 32)];
    if (a.live && a.version == static_cast<std::uint32_t>(e.token & 0xffffffff)) return;
    queue_.pop();
  }
}

TimeNs ComputeModel::next_event_ns() const {
  drop_stale();
  return queue_.next_time_ns();
}

void ComputeModel::advance_to(TimeNs now_ns, std::vector<Token>& completed) {
  if (!rates_vary_) {
    while (!queue_.empty() && queue_.top().time_ns <= now_ns) completed.push_back(queue_.pop().token);
    return;
  }
  drop_stale();
  while (!queue_.empty() && queue_.top().time_ns <= now_ns) {
    const Event e = queue_.pop();
    const auto id = static_cast<std::int32_t>(e.token >> 32);
    Action& a = actions_[static_cast<std::size_t>(id)];
    a.live = false;
    if (a.position >= 0) {
      auto& running = running_[static_cast<std::size_t>(a.slot)];
      const std::int32_t moved = running.back();
      running[static_cast<std::size_t>(a.position)] = moved;
      actions_[static_cast<std::size_t>(moved)].position = a.position;
      running.pop_back();
    }
    free_actions_.push_back(id);
    completed.push_back(a.token);
    drop_stale();
  }
}

}  // namespace clustersim::engine::detail
