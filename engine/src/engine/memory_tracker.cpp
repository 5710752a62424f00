// Per-rank device-memory accounting along the simulated timeline (see memory_tracker.hpp).
#include "clustersim/engine/memory_tracker.hpp"

#include <algorithm>

#include "clustersim/plan/error.hpp"

namespace clustersim::engine {

MemoryTracker::MemoryTracker(std::int32_t max_samples) : max_samples_(max_samples) {}

void MemoryTracker::change(std::int64_t t_ns, TensorRole role, std::int64_t bytes) {
  const auto r = static_cast<std::size_t>(role);
  by_role_[r] += bytes;
  current_ += bytes;
  require(by_role_[r] >= 0 && current_ >= 0, "memory of a rank went negative (a tensor freed twice)");
  if (by_role_[r] > role_peak_[r]) role_peak_[r] = by_role_[r];
  if (current_ > peak_) {
    peak_ = current_;
    peak_time_ns_ = t_ns;
    at_peak_ = by_role_;
  }
}

void MemoryTracker::sample(std::int64_t t_ns) {
  if (max_samples_ <= 0) return;
  timeline_.push_back({t_ns, current_});
  // Bounded memory on long runs: halve by keeping the larger of each pair once the buffer is 4x
  // the requested resolution (the final down-sampling works on what is left).
  if (timeline_.size() >= static_cast<std::size_t>(std::max(max_samples_, 256)) * 4) compact();
}

void MemoryTracker::compact() {
  std::size_t out = 0;
  for (std::size_t i = 0; i < timeline_.size(); i += 2) {
    const bool pair = i + 1 < timeline_.size();
    timeline_[out++] = pair && timeline_[i + 1].bytes > timeline_[i].bytes ? timeline_[i + 1] : timeline_[i];
  }
  timeline_.resize(out);
}

std::vector<plan::MemorySample> MemoryTracker::downsample(const std::vector<plan::MemorySample>& timeline,
                                                          std::int32_t max_samples) {
  if (max_samples <= 0) return {};
  const std::size_t n = timeline.size(), k = static_cast<std::size_t>(max_samples);
  if (n <= k) return timeline;
  std::vector<plan::MemorySample> out;
  out.reserve(k);
  for (std::size_t b = 0; b < k; ++b) {
    const std::size_t lo = b * n / k, hi = (b + 1) * n / k;
    std::size_t best = lo;
    for (std::size_t i = lo + 1; i < hi; ++i)
      if (timeline[i].bytes > timeline[best].bytes) best = i;
    out.push_back(timeline[best]);
  }
  return out;
}

plan::RankMemory MemoryTracker::result(std::int32_t rank, std::int64_t persistent_bytes,
                                       std::int64_t capacity_bytes) const {
  plan::RankMemory m;
  m.rank = rank;
  m.peak_bytes = peak_;
  m.peak_time_ns = peak_time_ns_;
  for (std::size_t r = 0; r < kRoles; ++r) {
    if (at_peak_[r] > 0) m.at_peak[static_cast<TensorRole>(r)] = at_peak_[r];
    if (role_peak_[r] > 0) m.role_peak[static_cast<TensorRole>(r)] = role_peak_[r];
  }
  m.persistent_bytes = persistent_bytes;
  m.capacity_bytes = capacity_bytes;
  m.fits = capacity_bytes <= 0 || peak_ <= capacity_bytes;
  m.timeline = downsample(timeline_, max_samples_);
  return m;
}

}  // namespace clustersim::engine
