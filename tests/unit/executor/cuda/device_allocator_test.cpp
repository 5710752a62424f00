// Tests for cuda/device_allocator.hpp with a host-memory DeviceMemory: the CPU allocator's
// accounting contract (zeroed blocks, live bytes by role, peak and breakdown, role peaks, windows,
// samples), the replay of stream-ordered allocations in execution order, and the out-of-memory error
// naming the op, the rank, the tensor and the bytes asked. No device needed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <set>

#include "clustersim/executor/cuda/device_allocator.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::executor::cuda {
namespace {

// Host memory standing in for a device with `capacity` bytes.
class FakeMemory final : public DeviceMemory {
 public:
  explicit FakeMemory(std::int64_t capacity) : capacity_(capacity) {}
  ~FakeMemory() override { EXPECT_EQ(used_, 0) << "every block is released"; }
  void* allocate(std::int64_t bytes, DeviceStream) override {
    if (used_ + bytes > capacity_) return nullptr;
    used_ += bytes;
    void* p = std::malloc(static_cast<std::size_t>(bytes));
    std::memset(p, 0xAB, static_cast<std::size_t>(bytes));  // garbage until zeroed
    sizes_[p] = bytes;
    return p;
  }
  void release(void* p, DeviceStream) override {
    used_ -= sizes_.at(p);
    sizes_.erase(p);
    std::free(p);
  }
  void zero(void* p, std::int64_t bytes, DeviceStream) override { std::memset(p, 0, static_cast<std::size_t>(bytes)); }
  Info info() const override { return {capacity_ - used_, capacity_}; }

 private:
  std::int64_t capacity_, used_ = 0;
  std::map<void*, std::int64_t> sizes_;
};

std::int64_t time_of(std::int32_t op, bool at_end) {
  return 100 * op + (at_end ? 50 : 0);
}

TEST(DeviceAllocator, AccountsByRoleWithZeroedBlocks) {
  FakeMemory mem(1 << 20);
  DeviceAllocator a(mem);
  std::byte* w = a.allocate(0, 1000, TensorRole::weight, nullptr, LedgerAnchor::at(0), "setup", "w");
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(w[i], std::byte{0});
  a.allocate(1, 400, TensorRole::activation, nullptr, LedgerAnchor::op_start(1), "op 1", "h");
  EXPECT_EQ(a.live_bytes(), 1400);
  EXPECT_EQ(a.live_by_role().at(TensorRole::activation), 400);
  EXPECT_TRUE(a.live(1));
  EXPECT_EQ(a.data(7), nullptr);
  a.release(1, nullptr, LedgerAnchor::op_end(2));
  EXPECT_EQ(a.live_bytes(), 1000);
  EXPECT_TRUE(a.pending());
  a.settle(time_of);
  EXPECT_FALSE(a.pending());
  const auto s = a.overall();
  EXPECT_EQ(s.peak_bytes, 1400);
  EXPECT_EQ(s.peak_time_ns, 100);
  EXPECT_EQ(s.at_peak.at(TensorRole::weight), 1000);
  EXPECT_EQ(s.at_peak.at(TensorRole::activation), 400);
  EXPECT_EQ(s.role_peak.at(TensorRole::activation), 400);
  const auto samples = a.take_samples();
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[1].t_ns, 100);
  EXPECT_EQ(samples[1].bytes, 1400);
  EXPECT_EQ(samples[2].t_ns, 250);
  EXPECT_EQ(samples[2].bytes, 1000);
  EXPECT_TRUE(a.take_samples().empty());
  a.release(0, nullptr, LedgerAnchor::at(300));
}

TEST(DeviceAllocator, ReplaysInExecutionOrderNotEnqueueOrder) {
  // Enqueued: A alloc (op 1), A free (op 1 end), B alloc (op 5 on another stream). Executed: op 5
  // starts at 150, before op 1 ends at 150+: both live together, so the peak is A + B.
  FakeMemory mem(1 << 20);
  DeviceAllocator a(mem);
  a.allocate(1, 300, TensorRole::activation, nullptr, LedgerAnchor::op_start(1), "op 1", "A");
  a.release(1, nullptr, LedgerAnchor::op_end(1));
  a.allocate(2, 200, TensorRole::workspace, nullptr, LedgerAnchor::op_start(5), "op 5", "B");
  EXPECT_EQ(a.live_bytes(), 200);  // enqueue order
  a.settle([](std::int32_t op, bool at_end) -> std::int64_t {
    if (op == 1) return at_end ? 400 : 100;
    return 150;  // op 5 starts while op 1 runs
  });
  EXPECT_EQ(a.overall().peak_bytes, 500);
  EXPECT_EQ(a.overall().peak_time_ns, 150);
  EXPECT_EQ(a.overall().at_peak.at(TensorRole::workspace), 200);
  a.release(2, nullptr, LedgerAnchor::at(500));
}

TEST(DeviceAllocator, WindowsStartFromTheLiveBytes) {
  FakeMemory mem(1 << 20);
  DeviceAllocator a(mem);
  a.allocate(0, 1000, TensorRole::weight, nullptr, LedgerAnchor::at(0), "setup", "w");
  a.allocate(1, 5000, TensorRole::activation, nullptr, LedgerAnchor::at(1), "op", "big");
  a.release(1, nullptr, LedgerAnchor::at(2));
  a.settle(time_of);
  a.reset_window(10);
  EXPECT_EQ(a.window().peak_bytes, 1000);
  a.allocate(2, 100, TensorRole::activation, nullptr, LedgerAnchor::op_start(3), "op 3", "small");
  a.release(2, nullptr, LedgerAnchor::op_end(3));
  a.settle(time_of);
  EXPECT_EQ(a.window().peak_bytes, 1100);
  EXPECT_EQ(a.overall().peak_bytes, 6000);
  a.release(0, nullptr, LedgerAnchor::at(400));
}

TEST(DeviceAllocator, UntimedEntriesTakeThePreviousTime) {
  FakeMemory mem(1 << 20);
  DeviceAllocator a(mem);
  a.allocate(0, 10, TensorRole::weight, nullptr, LedgerAnchor::at(70), "setup", "w");
  a.allocate(1, 10, TensorRole::weight, nullptr, LedgerAnchor::op_start(9), "op", "x");
  a.settle([](std::int32_t, bool) { return std::int64_t{-1}; });
  const auto samples = a.take_samples();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[1].t_ns, 70);
  a.release(0, nullptr, LedgerAnchor::at(80));
  a.release(1, nullptr, LedgerAnchor::at(80));
}

TEST(DeviceAllocator, OutOfMemoryNamesOpRankTensorAndBytes) {
  FakeMemory mem(4096);
  DeviceAllocator a(mem);
  a.allocate(0, 1024, TensorRole::weight, nullptr, LedgerAnchor::at(0), "setup", "w");
  a.set_other_bytes(512);
  try {
    a.allocate(1, 8192, TensorRole::activation, nullptr, LedgerAnchor::op_start(4), "rank 3, program 0 op 4 (fc1)",
               "layer0.h");
    FAIL() << "no exception";
  } catch (const CheckFailed& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("rank 3, program 0 op 4 (fc1)"), std::string::npos) << m;
    EXPECT_NE(m.find("8192 bytes"), std::string::npos) << m;
    EXPECT_NE(m.find("layer0.h (activation)"), std::string::npos) << m;
    EXPECT_NE(m.find("holds 1024 bytes"), std::string::npos) << m;
    EXPECT_NE(m.find("512 bytes"), std::string::npos) << m;
  }
  EXPECT_FALSE(a.live(1));
  EXPECT_EQ(a.live_bytes(), 1024);
  a.release(0, nullptr, LedgerAnchor::at(1));
}

TEST(DeviceAllocator, MisuseIsAnInternalError) {
  FakeMemory mem(1 << 20);
  DeviceAllocator a(mem);
  a.allocate(0, 8, TensorRole::weight, nullptr, LedgerAnchor::at(0), "setup", "w");
  EXPECT_THROW(a.allocate(0, 8, TensorRole::weight, nullptr, LedgerAnchor::at(0), "setup", "w"), InternalError);
  EXPECT_THROW(a.release(5, nullptr, LedgerAnchor::at(0)), InternalError);
  a.release(0, nullptr, LedgerAnchor::at(0));
}

TEST(DeviceAllocator, DestructionReleasesWhatIsLive) {
  FakeMemory mem(1 << 20);  // its destructor checks that nothing is left
  DeviceAllocator a(mem);
  a.allocate(0, 64, TensorRole::weight, nullptr, LedgerAnchor::at(0), "setup", "w");
}

}  // namespace
}  // namespace clustersim::executor::cuda
