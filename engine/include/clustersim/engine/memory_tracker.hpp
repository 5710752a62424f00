// Device-memory accounting of one simulated rank along the simulated timeline: persistent tensors at
// t = 0, an op's allocs when it starts, its frees when it ends (views are never allocated; the plan
// validator forbids allocating or freeing them). Tracks the peak, when it happened, the breakdown by
// role at the peak, each role's own maximum, and a timeline of total bytes that is compacted on the
// fly and down-sampled at the end (keeping the peak sample). Overcommitting never stops the run:
// fits says whether the peak stayed within capacity.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "clustersim/plan/trace.hpp"
#include "clustersim/plan/types.hpp"

namespace clustersim::engine {

class MemoryTracker {
 public:
  // `max_samples` <= 0 disables the timeline.
  explicit MemoryTracker(std::int32_t max_samples = 4096);

  // Adds (`bytes` > 0) or removes (`bytes` < 0) bytes of `role` at `t_ns` (non-decreasing).
  void change(std::int64_t t_ns, TensorRole role, std::int64_t bytes);
  // Records one timeline sample of the current total (call after a group of changes at `t_ns`).
  void sample(std::int64_t t_ns);

  std::int64_t current_bytes() const { return current_; }
  std::int64_t peak_bytes() const { return peak_; }

  // The trace record; capacity 0 means unknown (fits stays true).
  plan::RankMemory result(std::int32_t rank, std::int64_t persistent_bytes, std::int64_t capacity_bytes) const;

  // Reduces `timeline` to at most `max_samples` by keeping the largest sample of each of
  // `max_samples` equal runs of samples (the peak sample always survives).
  static std::vector<plan::MemorySample> downsample(const std::vector<plan::MemorySample>& timeline,
                                                    std::int32_t max_samples);

 private:
  static constexpr std::size_t kRoles = enum_count<TensorRole>();
  void compact();

  std::int32_t max_samples_;
  std::int64_t current_ = 0;
  std::int64_t peak_ = 0;
  std::int64_t peak_time_ns_ = 0;
  std::array<std::int64_t, kRoles> by_role_{};
  std::array<std::int64_t, kRoles> at_peak_{};
  std::array<std::int64_t, kRoles> role_peak_{};
  std::vector<plan::MemorySample> timeline_;
};

}  // namespace clustersim::engine
