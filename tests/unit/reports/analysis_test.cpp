// Trace metrics shared by the renderers (reports/analysis.hpp), on the hand-made traces of
// sample_traces.hpp.
#include "clustersim/reports/analysis.hpp"

#include <gtest/gtest.h>

#include "clustersim/plan/error.hpp"
#include "sample_traces.hpp"

namespace clustersim::reports {
namespace {

using testing::measured_trace;
using testing::predicted_trace;

TEST(Analysis, UnionLengthMergesOverlaps) {
  std::vector<Interval> v{{10, 20}, {0, 5}, {15, 30}, {40, 40}, {29, 31}};
  EXPECT_EQ(union_length(v), 5 + 21);  // [0,5] and [10,31]
}

TEST(Analysis, ComputeStreamByName) {
  plan::ProgramInfo p;
  p.streams = {"comm_dp", "compute"};
  EXPECT_EQ(compute_stream(p), 1);
  p.streams = {"comm_dp", "compute_main"};
  EXPECT_EQ(compute_stream(p), 1);
  p.streams = {"a", "b"};
  EXPECT_EQ(compute_stream(p), 0);
}

TEST(Analysis, CommClasses) {
  EXPECT_TRUE(is_comm_class("comm:dp:all_reduce"));
  EXPECT_TRUE(is_comm_class("p2p:pp"));
  EXPECT_FALSE(is_comm_class("gemm"));
  EXPECT_EQ(comm_group_of_class("comm:tp:all_gather"), GroupKind::tp);
  EXPECT_EQ(comm_group_of_class("p2p:pp"), GroupKind::pp);
  EXPECT_EQ(comm_group_of_class("memory"), std::nullopt);
}

TEST(Analysis, StepWindows) {
  const auto w = step_windows(measured_trace());
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].start_ns, 0);
  EXPECT_EQ(w[0].end_ns, 4700);
  EXPECT_EQ(w[1].end_ns - w[1].start_ns, 470);
  EXPECT_EQ(w[2].end_ns - w[2].start_ns, 490);
  EXPECT_EQ(trace_steps(measured_trace()), (std::vector<std::int32_t>{0, 1, 2}));
}

TEST(Analysis, RankActivityOfThePrediction) {
  const auto a = rank_activity(predicted_trace());
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].program_name, "stage0");
  EXPECT_EQ(a[0].op_spans, 6);
  EXPECT_NEAR(a[0].step_window_s, 400e-9, 1e-15);
  EXPECT_NEAR(a[0].compute_busy_s, 350e-9, 1e-15);  // [0,300] + [350,400]
  EXPECT_NEAR(a[0].idle_s, 50e-9, 1e-15);
  EXPECT_NEAR(a[0].comm_time_s, 100e-9, 1e-15);
  EXPECT_NEAR(a[0].exposed_comm_s, 50e-9, 1e-15);  // [300,350]
  EXPECT_NEAR(a[0].class_time_s.at("gemm"), 230e-9, 1e-15);
  EXPECT_NEAR(a[0].comm_group_time_s.at("dp"), 100e-9, 1e-15);
}

TEST(Analysis, RankActivityAveragesTheChosenSteps) {
  const auto a = rank_activity(measured_trace(), {1, 2});
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].steps, 2);
  EXPECT_NEAR(a[0].step_window_s, 480e-9, 1e-15);   // (470 + 490) / 2
  EXPECT_NEAR(a[0].compute_busy_s, 390e-9, 1e-15);  // (380 + 400) / 2
  EXPECT_NEAR(a[1].compute_busy_s, 430e-9, 1e-15);  // (420 + 440) / 2
  EXPECT_NEAR(a[0].idle_s, 90e-9, 1e-15);
  EXPECT_NEAR(a[0].exposed_comm_s, 90e-9, 1e-15);
  EXPECT_NEAR(a[1].exposed_comm_s, 50e-9, 1e-15);
  EXPECT_NEAR(a[1].class_time_s.at("gemm"), 300e-9, 1e-15);  // (130 + 160 + 150 + 160) / 2
}

TEST(Analysis, CommTableDerivedFromSpansWhenTheSummaryHasNone) {
  const auto comm = comm_by_group_type(predicted_trace());
  ASSERT_EQ(comm.size(), 1u);
  EXPECT_EQ(comm[0].group, GroupKind::dp);
  EXPECT_EQ(comm[0].type, "all_reduce");
  EXPECT_EQ(comm[0].count, 1);
  EXPECT_EQ(comm[0].bytes, 4096);
  EXPECT_NEAR(comm[0].time_s, 100e-9, 1e-15);
  EXPECT_NEAR(comm[0].exposed_s, 50e-9, 1e-15);

  plan::Trace t = predicted_trace();
  t.summary.comm = {{GroupKind::tp, "all_gather", 7, 123, 1.0, 0.5}};
  ASSERT_EQ(comm_by_group_type(t).size(), 1u);
  EXPECT_EQ(comm_by_group_type(t)[0].count, 7);
}

TEST(Analysis, PeakMemoryRank) {
  EXPECT_EQ(peak_memory_rank(measured_trace())->rank, 1);
  EXPECT_EQ(peak_memory_rank(plan::Trace{}), nullptr);
}

TEST(Analysis, MalformedSpansAreInputErrors) {
  plan::Trace t = predicted_trace();
  t.ops[2].rank = 9;  // not recorded
  EXPECT_THROW(rank_activity(t), InputError);
  t = predicted_trace();
  t.ops[2].op = 42;  // not in the program
  try {
    rank_activity(t);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "trace.ops[2].op");
  }
  t = predicted_trace();
  t.program_of_rank.clear();
  EXPECT_THROW(rank_activity(t), InputError);
}

}  // namespace
}  // namespace clustersim::reports
