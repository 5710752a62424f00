// TensorAllocator: aligned zeroed blocks keyed by tensor id, with live/peak accounting by role.
#include "clustersim/executor/allocator.hpp"

#include <cstdlib>
#include <cstring>
#include <string>

#include "clustersim/plan/error.hpp"

namespace clustersim::executor {

TensorAllocator::TensorAllocator(std::function<std::int64_t()> clock_ns) : clock_ns_(std::move(clock_ns)) {}

TensorAllocator::~TensorAllocator() {
  for (auto& [id, block] : blocks_) std::free(block.data);
}

std::byte* TensorAllocator::allocate(std::int32_t id, std::int64_t bytes, TensorRole role) {
  require(bytes >= 0, "negative allocation for tensor " + std::to_string(id));
  const std::size_t size = (static_cast<std::size_t>(bytes) + 63u) / 64u * 64u + 64u;
  auto* data = static_cast<std::byte*>(std::aligned_alloc(64, size));
  if (data == nullptr)
    throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes for tensor " + std::to_string(id));
  std::memset(data, 0, size);
  std::lock_guard lock(mu_);
  if (blocks_.count(id) != 0) {
    std::free(data);
    throw InternalError("internal error: tensor " + std::to_string(id) + " allocated twice");
  }
  blocks_[id] = Block{data, bytes, role};
  live_[role] += bytes;
  total_ += bytes;
  note_change_locked(role);
  return data;
}

void TensorAllocator::release(std::int32_t id) {
  std::lock_guard lock(mu_);
  auto it = blocks_.find(id);
  require(it != blocks_.end(), "tensor " + std::to_string(id) + " freed but not allocated");
  live_[it->second.role] -= it->second.bytes;
  total_ -= it->second.bytes;
  const TensorRole role = it->second.role;
  std::free(it->second.data);
  blocks_.erase(it);
  note_change_locked(role);
}

void TensorAllocator::note_change_locked(TensorRole role) {
  const std::int64_t now = clock_ns_ ? clock_ns_() : 0;
  samples_.push_back({now, total_});
  for (Stats* s : {&overall_, &window_}) {
    if (total_ > s->peak_bytes) {
      s->peak_bytes = total_;
      s->peak_time_ns = now;
      s->at_peak = live_;
    }
    std::int64_t& rp = s->role_peak[role];
    rp = std::max(rp, live_[role]);
  }
}

std::byte* TensorAllocator::data(std::int32_t id) const {
  std::lock_guard lock(mu_);
  auto it = blocks_.find(id);
  return it == blocks_.end() ? nullptr : it->second.data;
}

bool TensorAllocator::live(std::int32_t id) const {
  return data(id) != nullptr;
}

std::int64_t TensorAllocator::live_bytes() const {
  std::lock_guard lock(mu_);
  return total_;
}

std::map<TensorRole, std::int64_t> TensorAllocator::live_by_role() const {
  std::lock_guard lock(mu_);
  std::map<TensorRole, std::int64_t> out;
  for (const auto& [role, bytes] : live_)
    if (bytes != 0) out[role] = bytes;
  return out;
}

TensorAllocator::Stats TensorAllocator::overall() const {
  std::lock_guard lock(mu_);
  return overall_;
}

TensorAllocator::Stats TensorAllocator::window() const {
  std::lock_guard lock(mu_);
  return window_;
}

void TensorAllocator::reset_window() {
  std::lock_guard lock(mu_);
  window_ = Stats{};
  window_.peak_bytes = total_;
  window_.peak_time_ns = clock_ns_ ? clock_ns_() : 0;
  window_.at_peak = live_;
  window_.role_peak = live_;
}

std::vector<plan::MemorySample> TensorAllocator::take_samples() {
  std::lock_guard lock(mu_);
  std::vector<plan::MemorySample> out;
  out.swap(samples_);
  return out;
}

}  // namespace clustersim::executor
