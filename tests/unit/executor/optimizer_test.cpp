// Tests for cpu/optimizer.hpp: AdamW and SGD steps against values worked out by hand from the
// published update rules.
#include <gtest/gtest.h>

#include <cmath>

#include "clustersim/executor/cpu/optimizer.hpp"

namespace clustersim::executor {
namespace {

TEST(Optimizer, AdamWTwoStepsByHand) {
  // w0 = 1, g = 0.5 (given as 1.0 with grad_scale 0.5), lr 0.1, b1 0.9, b2 0.99, eps 1e-8, wd 0.01.
  float w = 1.0f, m = 0.0f, v = 0.0f;
  const float grad = 1.0f;
  cpu::AdamWHyper h{
      .lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .weight_decay = 0.01f, .grad_scale = 0.5f, .step = 1};
  cpu::adamw_update(&w, &m, &v, &grad, 1, h);
  // step 1: m = 0.05, v = 0.0025, mhat = 0.5, vhat = 0.25 -> update 0.1 * 0.5 / 0.5 = 0.1
  // w = 1 * (1 - 0.001) - 0.1 = 0.899
  EXPECT_NEAR(m, 0.05, 1e-7);
  EXPECT_NEAR(v, 0.0025, 1e-8);
  EXPECT_NEAR(w, 0.899, 1e-6);
  h.step = 2;
  cpu::adamw_update(&w, &m, &v, &grad, 1, h);
  // step 2: m = 0.095, v = 0.004975; mhat = 0.095/0.19 = 0.5; vhat = 0.004975/0.0199 = 0.25
  // w = 0.899 * 0.999 - 0.1 = 0.798101
  EXPECT_NEAR(w, 0.798101, 1e-6);
}

TEST(Optimizer, SgdMomentumByHand) {
  float w[2] = {1.0f, -2.0f}, buf[2] = {0.0f, 0.0f};
  const float g[2] = {0.5f, 1.0f};
  cpu::SgdHyper h{.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.1f, .grad_scale = 2.0f};
  cpu::sgd_update(w, buf, g, 2, h);
  // g' = 2 g + 0.1 w = {1.1, 1.8}; buf = g'; w = {0.89, -2.18}
  EXPECT_NEAR(buf[0], 1.1, 1e-6);
  EXPECT_NEAR(w[0], 0.89, 1e-6);
  EXPECT_NEAR(w[1], -2.18, 1e-6);
  cpu::sgd_update(w, buf, g, 2, h);
  // g' = {1 + 0.089, 2 - 0.218} = {1.089, 1.782}; buf = 0.9*{1.1,1.8} + g' = {2.079, 3.402}
  EXPECT_NEAR(buf[0], 2.079, 1e-6);
  EXPECT_NEAR(buf[1], 3.402, 1e-6);
  EXPECT_NEAR(w[0], 0.89 - 0.2079, 1e-6);
}

}  // namespace
}  // namespace clustersim::executor
