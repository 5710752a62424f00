// Tests for cuda/loss_scaler.hpp: the dynamic loss scaling state machine of the CUDA worker, without a
// device: initial 2^16, x2 after `window` clean steps, x0.5 and a restarted window on an overflow,
// and a constant 1 without dynamic scaling.
#include <gtest/gtest.h>

#include "clustersim/executor/cuda/loss_scaler.hpp"

namespace clustersim::executor::cuda {
namespace {

TEST(LossScaler, StartsAtTwoToTheSixteenAndGrowsAfterTheWindow) {
  plan::PlanMeta meta;
  meta.dynamic_loss_scale = true;
  DynamicLossScaler s(LossScalerConfig::from_plan(meta));
  EXPECT_EQ(s.scale(), 65536.0);
  for (int i = 0; i < 1999; ++i) s.update(false);
  EXPECT_EQ(s.scale(), 65536.0);
  EXPECT_EQ(s.clean_steps(), 1999);
  EXPECT_EQ(s.update(false), 131072.0);  // the 2000th clean step doubles it
  EXPECT_EQ(s.clean_steps(), 0);
  EXPECT_EQ(s.growths(), 1);
}

TEST(LossScaler, OverflowHalvesAndRestartsTheWindow) {
  LossScalerConfig c;
  c.dynamic = true;
  c.initial = 1024.0;
  c.window = 3;
  DynamicLossScaler s(c);
  s.update(false);
  s.update(false);
  EXPECT_EQ(s.update(true), 512.0);  // skipped: backoff, counter restarts
  EXPECT_EQ(s.clean_steps(), 0);
  EXPECT_EQ(s.skipped_steps(), 1);
  s.update(false);
  s.update(false);
  EXPECT_EQ(s.scale(), 512.0);
  EXPECT_EQ(s.update(false), 1024.0);  // three clean steps after the skip
  EXPECT_EQ(s.update(true), 512.0);
  EXPECT_EQ(s.update(true), 256.0);  // consecutive overflows keep halving
}

TEST(LossScaler, ReplaysTheCpuWorkersRule) {
  // the same rule the CPU worker applies (worker.cpp), on a pattern of overflows
  LossScalerConfig c;
  c.dynamic = true;
  c.initial = 16777216.0;
  c.window = 3;
  DynamicLossScaler s(c);
  double expected = c.initial;
  int run = 0;
  const bool pattern[] = {true, false, false, false, true, false, false, false, false, false, false, true, true, false};
  for (bool overflow : pattern) {
    s.update(overflow);
    if (overflow) {
      expected *= 0.5;
      run = 0;
    } else if (++run == 3) {
      expected *= 2.0;
      run = 0;
    }
    EXPECT_EQ(s.scale(), expected);
  }
}

TEST(LossScaler, WithoutDynamicScalingTheScaleIsOne) {
  plan::PlanMeta meta;
  meta.dynamic_loss_scale = false;
  DynamicLossScaler s(LossScalerConfig::from_plan(meta));
  EXPECT_EQ(s.scale(), 1.0);
  s.update(true);
  for (int i = 0; i < 5000; ++i) s.update(false);
  EXPECT_EQ(s.scale(), 1.0);
  EXPECT_EQ(s.skipped_steps(), 1);
}

TEST(LossScaler, ConfigComesFromThePlan) {
  plan::PlanMeta meta;
  meta.dynamic_loss_scale = true;
  meta.loss_scale_init = 8.0;
  meta.loss_scale_window = 0;  // clamped to 1
  meta.loss_scale_growth = 4.0;
  meta.loss_scale_backoff = 0.25;
  const LossScalerConfig c = LossScalerConfig::from_plan(meta);
  EXPECT_EQ(c.window, 1);
  DynamicLossScaler s(c);
  EXPECT_EQ(s.update(false), 32.0);
  EXPECT_EQ(s.update(true), 8.0);
}

}  // namespace
}  // namespace clustersim::executor::cuda
