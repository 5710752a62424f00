// Real tensor storage for one rank, with the accounting the Plan's memory model uses: bytes live
// per TensorRole, the peak and its breakdown, each role's own peak, and a timeline of (time, total
// bytes) samples. The worker allocates persistent tensors before the first op, an op's `allocs`
// when it starts and frees its `frees` when it ends; views never pass through here.
// Thread-safe: the stream threads of one rank share one allocator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "clustersim/plan/trace.hpp"
#include "clustersim/plan/types.hpp"

namespace clustersim::executor {

class TensorAllocator {
 public:
  // `clock_ns` stamps timeline samples (nanoseconds since the start of the run).
  explicit TensorAllocator(std::function<std::int64_t()> clock_ns);
  ~TensorAllocator();
  TensorAllocator(const TensorAllocator&) = delete;
  TensorAllocator& operator=(const TensorAllocator&) = delete;

  struct Stats {
    std::int64_t peak_bytes = 0;
    std::int64_t peak_time_ns = 0;
    std::map<TensorRole, std::int64_t> at_peak;    // live bytes by role at the peak
    std::map<TensorRole, std::int64_t> role_peak;  // each role's own maximum
  };

  // Allocates `bytes` for tensor `id`: zero-filled, 64-byte aligned, accounted under `role`.
  // Throws InternalError when `id` is already live.
  std::byte* allocate(std::int32_t id, std::int64_t bytes, TensorRole role);
  // Frees tensor `id`; throws InternalError when it is not live.
  void release(std::int32_t id);
  // Storage of a live tensor, nullptr when not live.
  std::byte* data(std::int32_t id) const;
  bool live(std::int32_t id) const;

  std::int64_t live_bytes() const;
  std::map<TensorRole, std::int64_t> live_by_role() const;
  // Peak since construction.
  Stats overall() const;
  // Peak since the last reset_window() (which starts the window at the current live bytes).
  Stats window() const;
  void reset_window();
  // Samples recorded since the previous call (one per allocation or free).
  std::vector<plan::MemorySample> take_samples();

 private:
  struct Block {
    std::byte* data = nullptr;
    std::int64_t bytes = 0;
    TensorRole role = TensorRole::activation;
  };
  void note_change_locked(TensorRole role);

  std::function<std::int64_t()> clock_ns_;
  mutable std::mutex mu_;
  std::unordered_map<std::int32_t, Block> blocks_;
  std::map<TensorRole, std::int64_t> live_;
  std::int64_t total_ = 0;
  Stats overall_, window_;
  std::vector<plan::MemorySample> samples_;
};

}  // namespace clustersim::executor
