// Device tensor storage for one rank of the CUDA backend, with the accounting contract of the CPU
// TensorAllocator (allocator.hpp): zero-filled blocks keyed by tensor id, live bytes by TensorRole,
// the peak and its breakdown, each role's own peak, the peak since reset_window(), and a timeline of
// (time, total bytes) samples.
//
// What differs on a device is *when* things happen. The worker enqueues a whole step ahead of the
// device, so an op's allocations are made (stream-ordered, cudaMallocAsync) when the op is enqueued,
// but they take effect when the op starts on its stream, and its frees when it ends. The allocator
// therefore keeps a ledger: every allocate/release names an anchor (the op, at its start or end;
// or an explicit time for tensors made outside ops), and settle() turns the anchors into the
// measured times after the step, orders the changes by (time, enqueue order) and replays them, so
// the peak and the timeline follow the device's real execution order, streams overlapping included.
// live_bytes() and live_by_role() follow enqueue order at once (they agree whenever nothing is
// pending, e.g. between steps).
//
// Raw memory comes from a DeviceMemory: the CUDA build's implementation uses the device's
// stream-ordered pool; tests use a host-memory fake, so the accounting is tested without a device.
// A request the device cannot satisfy ends with CheckFailed naming the op, the rank, the tensor and
// the bytes asked (errors.hpp out_of_memory_message), never with a crash.
// Not thread-safe: one enqueueing thread per rank uses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "clustersim/executor/cuda/device.hpp"
#include "clustersim/plan/trace.hpp"
#include "clustersim/plan/types.hpp"

namespace clustersim::executor::cuda {

class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  // Stream-ordered allocation; nullptr when the device is out of memory (other failures throw).
  virtual void* allocate(std::int64_t bytes, DeviceStream stream) = 0;
  virtual void release(void* p, DeviceStream stream) = 0;
  // Zero-fills in stream order.
  virtual void zero(void* p, std::int64_t bytes, DeviceStream stream) = 0;
  struct Info {
    std::int64_t free_bytes = 0, total_bytes = 0;
  };
  virtual Info info() const = 0;
};

// When a ledger entry takes effect: at the start or the end of an op, or at a known time.
struct LedgerAnchor {
  std::int32_t op = -1;  // -1: `time_ns` is the time
  bool at_end = false;
  std::int64_t time_ns = 0;
  static LedgerAnchor op_start(std::int32_t op) { return {op, false, 0}; }
  static LedgerAnchor op_end(std::int32_t op) { return {op, true, 0}; }
  static LedgerAnchor at(std::int64_t t_ns) { return {-1, false, t_ns}; }
};

class DeviceAllocator {
 public:
  explicit DeviceAllocator(DeviceMemory& memory);
  ~DeviceAllocator();
  DeviceAllocator(const DeviceAllocator&) = delete;
  DeviceAllocator& operator=(const DeviceAllocator&) = delete;

  struct Stats {
    std::int64_t peak_bytes = 0;
    std::int64_t peak_time_ns = 0;
    std::map<TensorRole, std::int64_t> at_peak;
    std::map<TensorRole, std::int64_t> role_peak;
  };

  // Allocates and zero-fills `bytes` for tensor `id` on `stream`. InternalError when `id` is live;
  // CheckFailed (out_of_memory_message with `where` and `name`) when the device cannot supply it.
  std::byte* allocate(std::int32_t id, std::int64_t bytes, TensorRole role, DeviceStream stream, LedgerAnchor when,
                      const std::string& where, const std::string& name);
  // Frees tensor `id` in the order of `stream`; InternalError when it is not live.
  void release(std::int32_t id, DeviceStream stream, LedgerAnchor when);
  std::byte* data(std::int32_t id) const;
  bool live(std::int32_t id) const;
  std::int64_t live_bytes() const;
  std::map<TensorRole, std::int64_t> live_by_role() const;

  // Resolves pending anchors to times (op start and end in ns, same clock as explicit times) and
  // replays them in time order. Entries anchored at an op the function cannot time (it returns a
  // negative value) take the time of the previous entry.
  void settle(const std::function<std::int64_t(std::int32_t op, bool at_end)>& op_time_ns);
  bool pending() const { return !pending_.empty(); }

  Stats overall() const { return overall_; }  // settled changes since construction
  Stats window() const { return window_; }    // since the last reset_window()
  void reset_window(std::int64_t t_ns);       // call when nothing is pending
  std::vector<plan::MemorySample> take_samples();

  // Bytes outside plan tensors that the rank holds (scratch arenas, library workspaces), for the
  // out-of-memory message and the trace.
  void set_other_bytes(std::int64_t bytes) { other_bytes_ = bytes; }
  DeviceMemory& memory() { return memory_; }

 private:
  struct Block {
    std::byte* data = nullptr;
    std::int64_t bytes = 0;
    TensorRole role = TensorRole::activation;
  };
  struct Entry {
    LedgerAnchor anchor;
    std::int64_t delta = 0;
    TensorRole role = TensorRole::activation;
    std::int64_t sequence = 0;
  };
  void apply(std::int64_t t, std::int64_t delta, TensorRole role);

  DeviceMemory& memory_;
  std::unordered_map<std::int32_t, Block> blocks_;
  std::map<TensorRole, std::int64_t> live_;          // enqueue order
  std::int64_t total_ = 0;                           // enqueue order
  std::map<TensorRole, std::int64_t> settled_live_;  // time order
  std::int64_t settled_total_ = 0;
  std::int64_t last_time_ = 0;
  std::vector<Entry> pending_;
  std::int64_t sequence_ = 0;
  Stats overall_, window_;
  std::vector<plan::MemorySample> samples_;
  std::int64_t other_bytes_ = 0;
};

}  // namespace clustersim::executor::cuda
