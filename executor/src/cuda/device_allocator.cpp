// DeviceAllocator: device blocks by tensor id, and the anchored ledger that replays allocations and
// frees in the device's execution order (cuda/device_allocator.hpp).
#include "clustersim/executor/cuda/device_allocator.hpp"

#include <algorithm>
#include <string>

#include "clustersim/executor/cuda/errors.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::executor::cuda {

DeviceAllocator::DeviceAllocator(DeviceMemory& memory) : memory_(memory) {}

DeviceAllocator::~DeviceAllocator() {
  for (auto& [id, block] : blocks_) memory_.release(block.data, nullptr);
}

std::byte* DeviceAllocator::allocate(std::int32_t id, std::int64_t bytes, TensorRole role, DeviceStream stream,
                                     LedgerAnchor when, const std::string& where, const std::string& name) {
  require(bytes >= 0, "negative allocation for tensor " + std::to_string(id));
  if (blocks_.count(id) != 0) throw InternalError("internal error: tensor " + std::to_string(id) + " allocated twice");
  // Round up so that vectorised kernels may touch a whole last 16-byte word.
  const std::int64_t size = std::max<std::int64_t>(256, (bytes + 255) / 256 * 256);
  void* p = memory_.allocate(size, stream);
  if (p == nullptr) {
    const DeviceMemory::Info info = memory_.info();
    throw CheckFailed(out_of_memory_message(where, bytes, name, to_string(role), total_, other_bytes_,
                                            info.free_bytes, info.total_bytes));
  }
  memory_.zero(p, size, stream);
  blocks_[id] = Block{static_cast<std::byte*>(p), bytes, role};
  live_[role] += bytes;
  total_ += bytes;
  pending_.push_back({when, bytes, role, sequence_++});
  return static_cast<std::byte*>(p);
}

void DeviceAllocator::release(std::int32_t id, DeviceStream stream, LedgerAnchor when) {
  auto it = blocks_.find(id);
  require(it != blocks_.end(), "tensor " + std::to_string(id) + " freed but not allocated");
  memory_.release(it->second.data, stream);
  live_[it->second.role] -= it->second.bytes;
  total_ -= it->second.bytes;
  pending_.push_back({when, -it->second.bytes, it->second.role, sequence_++});
  blocks_.erase(it);
}

std::byte* DeviceAllocator::data(std::int32_t id) const {
  auto it = blocks_.find(id);
  return it == blocks_.end() ? nullptr : it->second.data;
}

bool DeviceAllocator::live(std::int32_t id) const {
  return blocks_.count(id) != 0;
}

std::int64_t DeviceAllocator::live_bytes() const {
  return total_;
}

std::map<TensorRole, std::int64_t> DeviceAllocator::live_by_role() const {
  std::map<TensorRole, std::int64_t> out;
  for (const auto& [role, bytes] : live_)
    if (bytes != 0) out[role] = bytes;
  return out;
}

void DeviceAllocator::apply(std::int64_t t, std::int64_t delta, TensorRole role) {
  settled_live_[role] += delta;
  settled_total_ += delta;
  samples_.push_back({t, settled_total_});
  for (Stats* s : {&overall_, &window_}) {
    if (settled_total_ > s->peak_bytes) {
      s->peak_bytes = settled_total_;
      s->peak_time_ns = t;
      s->at_peak.clear();
      for (const auto& [r, b] : settled_live_)
        if (b != 0) s->at_peak[r] = b;
    }
    std::int64_t& rp = s->role_peak[role];
    rp = std::max(rp, settled_live_[role]);
  }
}

void DeviceAllocator::settle(const std::function<std::int64_t(std::int32_t, bool)>& op_time_ns) {
  struct Timed {
    std::int64_t t, sequence, delta;
    TensorRole role;
  };
  std::vector<Timed> timed;
  timed.reserve(pending_.size());
  std::int64_t previous = last_time_;
  for (const Entry& e : pending_) {
    std::int64_t t = e.anchor.op < 0 ? e.anchor.time_ns : op_time_ns(e.anchor.op, e.anchor.at_end);
    if (t < 0) t = previous;
    previous = t;
    timed.push_back({t, e.sequence, e.delta, e.role});
  }
  pending_.clear();
  std::sort(timed.begin(), timed.end(),
            [](const Timed& a, const Timed& b) { return a.t != b.t ? a.t < b.t : a.sequence < b.sequence; });
  for (const Timed& e : timed) {
    apply(e.t, e.delta, e.role);
    last_time_ = std::max(last_time_, e.t);
  }
}

void DeviceAllocator::reset_window(std::int64_t t_ns) {
  window_ = Stats{};
  window_.peak_bytes = settled_total_;
  window_.peak_time_ns = t_ns;
  for (const auto& [r, b] : settled_live_)
    if (b != 0) {
      window_.at_peak[r] = b;
      window_.role_peak[r] = b;
    }
}

std::vector<plan::MemorySample> DeviceAllocator::take_samples() {
  std::vector<plan::MemorySample> out;
  out.swap(samples_);
  return out;
}

}  // namespace clustersim::executor::cuda
