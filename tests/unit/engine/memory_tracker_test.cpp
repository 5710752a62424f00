// Tests of engine::MemoryTracker: peak, breakdown at the peak, role peaks, down-sampling.
#include <gtest/gtest.h>

#include "clustersim/engine/memory_tracker.hpp"

namespace clustersim::engine {
namespace {

TEST(MemoryTracker, PeakBreakdownAndRolePeaks) {
  MemoryTracker m;
  m.change(0, TensorRole::weight, 100);
  m.change(1, TensorRole::workspace, 50);   // 150
  m.change(2, TensorRole::workspace, -50);  // 100
  m.change(3, TensorRole::activation, 80);  // 180: the peak
  m.change(4, TensorRole::activation, -80);
  const plan::RankMemory r = m.result(3, 100, 170);
  EXPECT_EQ(r.rank, 3);
  EXPECT_EQ(r.peak_bytes, 180);
  EXPECT_EQ(r.peak_time_ns, 3);
  EXPECT_EQ(r.at_peak, (std::map<TensorRole, std::int64_t>{{TensorRole::weight, 100}, {TensorRole::activation, 80}}));
  EXPECT_EQ(r.role_peak, (std::map<TensorRole, std::int64_t>{
                             {TensorRole::weight, 100}, {TensorRole::workspace, 50}, {TensorRole::activation, 80}}));
  EXPECT_FALSE(r.fits);                   // 180 > 170
  EXPECT_TRUE(m.result(3, 100, 0).fits);  // unknown capacity
}

TEST(MemoryTracker, FreeingMoreThanAllocatedIsAnInternalError) {
  MemoryTracker m;
  m.change(0, TensorRole::grad, 10);
  EXPECT_THROW(m.change(1, TensorRole::grad, -20), InternalError);
}

TEST(MemoryTracker, DownsampleKeepsTheMaximumOfEachRun) {
  std::vector<plan::MemorySample> t;
  for (std::int64_t i = 0; i < 100; ++i) t.push_back({i, i == 37 ? 1000 : i % 10});
  const auto d = MemoryTracker::downsample(t, 10);
  ASSERT_EQ(d.size(), 10u);
  EXPECT_EQ(d[3].t_ns, 37);  // runs of 10 samples: the 4th holds the peak
  EXPECT_EQ(d[3].bytes, 1000);
  for (std::size_t b = 0; b < d.size(); ++b)
    if (b != 3) {
      EXPECT_EQ(d[b].bytes, 9);
    }
  EXPECT_EQ(MemoryTracker::downsample(t, 200).size(), 100u);
  EXPECT_TRUE(MemoryTracker::downsample(t, 0).empty());
}

TEST(MemoryTracker, LongTimelinesStayBoundedAndKeepThePeak) {
  MemoryTracker m(64);
  for (std::int64_t i = 0; i < 100'000; ++i) {
    const std::int64_t bytes = i == 54'321 ? 5000 : 1 + i % 13;
    m.change(2 * i, TensorRole::activation, bytes);
    m.sample(2 * i);
    m.change(2 * i + 1, TensorRole::activation, -bytes);
    m.sample(2 * i + 1);
  }
  const auto r = m.result(0, 0, 0);
  EXPECT_LE(r.timeline.size(), 64u);
  EXPECT_EQ(r.peak_bytes, 5000);
  bool found = false;
  for (const auto& s : r.timeline) found |= s.bytes == 5000 && s.t_ns == 2 * 54'321;
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace clustersim::engine
