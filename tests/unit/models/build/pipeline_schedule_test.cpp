// Pipeline schedules: every micro-batch runs forward then backward once per chunk, and the number of
// micro-batches in flight (forwards not yet matched by their backward) follows the schedules'
// definitions: m for GPipe, p - s for 1F1B on stage s (Narayanan et al. 2021, PipeDream-Flush), and
// for interleaved 1F1B at most (p - s - 1) * 2 + (v - 1) * p + 1 chunk-forwards (Megatron-LM's
// warm-up count plus the one in steady state).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "build/pipeline_schedule.hpp"

namespace clustersim::models::build {
namespace {

int max_in_flight(const std::vector<PipelineStep>& steps) {
  int live = 0, peak = 0;
  for (const auto& s : steps) {
    live += s.forward ? 1 : -1;
    peak = std::max(peak, live);
  }
  return peak;
}

void expect_complete(const std::vector<PipelineStep>& steps, int m, int v) {
  std::set<std::pair<int, int>> fwd, bwd;
  for (const auto& s : steps) {
    auto& set = s.forward ? fwd : bwd;
    EXPECT_TRUE(set.insert({s.microbatch, s.chunk}).second) << "duplicate step";
    if (!s.forward) {
      EXPECT_TRUE(fwd.count({s.microbatch, s.chunk})) << "backward before forward";
    }
  }
  EXPECT_EQ(static_cast<int>(fwd.size()), m * v);
  EXPECT_EQ(static_cast<int>(bwd.size()), m * v);
}

TEST(PipelineSchedule, GPipeKeepsAllMicrobatchesInFlight) {
  for (int p : {2, 4}) {
    for (int s = 0; s < p; ++s) {
      const auto steps = pipeline_schedule(PipelineSchedule::gpipe, p, s, 8, 1);
      expect_complete(steps, 8, 1);
      EXPECT_EQ(max_in_flight(steps), 8);
    }
  }
}

TEST(PipelineSchedule, OneForwardOneBackwardBoundsInFlightByStagesLeft) {
  const int p = 4, m = 8;
  for (int s = 0; s < p; ++s) {
    const auto steps = pipeline_schedule(PipelineSchedule::one_f_one_b, p, s, m, 1);
    expect_complete(steps, m, 1);
    EXPECT_EQ(max_in_flight(steps), p - s) << "stage " << s;
  }
}

TEST(PipelineSchedule, OneForwardOneBackwardWithFewMicrobatches) {
  const auto steps = pipeline_schedule(PipelineSchedule::one_f_one_b, 8, 0, 3, 1);
  expect_complete(steps, 3, 1);
  EXPECT_EQ(max_in_flight(steps), 3);
}

TEST(PipelineSchedule, InterleavedRunsEveryChunk) {
  const int p = 4, m = 8, v = 2;
  for (int s = 0; s < p; ++s) {
    const auto steps = pipeline_schedule(PipelineSchedule::interleaved_1f1b, p, s, m, v);
    expect_complete(steps, m, v);
    const int warmup = (p - s - 1) * 2 + (v - 1) * p;
    EXPECT_LE(max_in_flight(steps), warmup + 1);
    // The first forward runs chunk 0, the last backward chunk 0 (Megatron's chunk order).
    EXPECT_EQ(steps.front().chunk, 0);
    EXPECT_TRUE(steps.front().forward);
    EXPECT_EQ(steps.back().chunk, 0);
    EXPECT_FALSE(steps.back().forward);
  }
}

}  // namespace
}  // namespace clustersim::models::build
