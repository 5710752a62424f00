// Tests for calibrate.hpp on one process: a quick calibration fills every section the single-rank
// case covers, with sizes that are the plan's own op_bytes for the memory-bound keys the engine
// looks up, and the profile survives the strict "clustersim.profile/1" reader.
#include <gtest/gtest.h>

#include "clustersim/executor/calibrate.hpp"
#include "clustersim/plan/profile.hpp"
#include "test_plans.hpp"

namespace clustersim::executor {
namespace {

TEST(Calibrate, QuickProfileIsCompleteAndReadable) {
  auto comms = make_local_communicators();
  CalibrationOptions o = CalibrationOptions::quick();
  int progress_calls = 0;
  o.progress = [&](const std::string&, double f) {
    EXPECT_GE(f, 0.0);
    EXPECT_LE(f, 1.0);
    ++progress_calls;
  };
  const plan::CalibrationProfile p = calibrate_cpu(*comms, o);
  EXPECT_GT(progress_calls, 0);
  EXPECT_EQ(p.schema, "clustersim.profile/1");
  EXPECT_EQ(p.backend, "cpu");
  EXPECT_FALSE(p.device.empty());
  EXPECT_EQ(p.gemm.size(), 2u * 8u);  // 2 dtypes x 2^3 shapes
  for (const auto& g : p.gemm) EXPECT_GT(g.time_ns, 0.0);
  EXPECT_EQ(p.attention.size(), 2u * 2u * 2u);  // seqs x flash/non-flash x fwd/bwd
  EXPECT_TRUE(p.collectives.empty());           // one process: nothing to measure
  EXPECT_TRUE(p.p2p.empty());
  EXPECT_GE(p.overlap_compute_slowdown, 1.0);
  EXPECT_GT(p.kernel_overhead_ns, 0.0);
  // the keys the engine derives from real ops are present
  const auto mlp = test::make_mlp_plan(test::MlpConfig{});
  for (const auto& op : mlp.plan.programs[0].ops) {
    const std::string key = plan::calibration_key(op);
    if (!key.empty() && key != "elementwise:zero") {
      ASSERT_TRUE(p.memory.count(key)) << key;
    }
  }
  for (const char* key : {"memory", "cast", "norm:layernorm:backward", "softmax_xent:forward", "embedding:backward",
                          "optimizer:sgd", "elementwise:rope", "elementwise:maxpool_backward"}) {
    ASSERT_TRUE(p.memory.count(key)) << key;
    EXPECT_EQ(p.memory.at(key).size(), 2u) << key;
    for (const auto& s : p.memory.at(key)) {
      EXPECT_GT(s.bytes, 0);
      EXPECT_GT(s.time_ns, 0.0);
    }
  }
  const plan::CalibrationProfile back = plan::profile_from_json(plan::to_json(p));
  EXPECT_EQ(back.gemm.size(), p.gemm.size());
  EXPECT_EQ(back.memory.size(), p.memory.size());
}

}  // namespace
}  // namespace clustersim::executor
