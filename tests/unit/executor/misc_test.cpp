// Tests for cpu/misc.hpp and cpu/dropout.hpp: the small elementwise kernels against float64
// arithmetic, dropout determinism (same key, same mask; different key, different mask), its keep
// rate and its backward against finite differences with the mask fixed.
#include <gtest/gtest.h>

#include <cmath>

#include "clustersim/executor/cpu/dropout.hpp"
#include "clustersim/executor/cpu/misc.hpp"
#include "clustersim/executor/rng.hpp"
#include "kernel_test_util.hpp"

namespace clustersim::executor {
namespace {

using test::fd_gradient;
using test::random_floats;
using test::rel_error;
using test::to_double;

TEST(Misc, AddsBiasScaleAndReductions) {
  const auto a = random_floats(12, 1), b = random_floats(12, 2);
  std::vector<float> out(12);
  cpu::residual_add(out.data(), a.data(), b.data(), 12);
  for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(out[i], a[i] + b[i]);
  cpu::add_inplace(out.data(), a.data(), 12);
  for (std::size_t i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(out[i], 2 * a[i] + b[i]);
  std::vector<float> dbias = {1, 1, 1, 1};
  cpu::bias_grad(dbias.data(), a.data(), 3, 4);
  for (std::size_t j = 0; j < 4; ++j) EXPECT_FLOAT_EQ(dbias[j], 1 + a[j] + a[4 + j] + a[8 + j]);
  auto x = a;
  const std::vector<float> bias = {1, 2, 3, 4};
  cpu::bias_add(x.data(), bias.data(), 3, 4);
  EXPECT_FLOAT_EQ(x[9], a[9] + 2);
  cpu::scale_inplace(x.data(), 12, -0.5f);
  EXPECT_FLOAT_EQ(x[9], -0.5f * (a[9] + 2));
  double ss = 0.0;
  for (float v : a) ss += static_cast<double>(v) * v;
  EXPECT_NEAR(cpu::sum_of_squares(a.data(), 12), ss, 1e-12);
  EXPECT_FALSE(cpu::has_nonfinite(a.data(), 12));
  x[3] = NAN;
  EXPECT_TRUE(cpu::has_nonfinite(x.data(), 12));
  x[3] = -INFINITY;
  EXPECT_TRUE(cpu::has_nonfinite(x.data(), 12));
  EXPECT_FLOAT_EQ(cpu::clip_factor(16.0, 1.0), 0.25f);
  EXPECT_FLOAT_EQ(cpu::clip_factor(0.25, 1.0), 1.0f);
  EXPECT_FLOAT_EQ(cpu::clip_factor(INFINITY, 1.0), 1.0f);
}

TEST(Dropout, DeterministicMaskRateAndBackward) {
  const std::int64_t n = 20000;
  const auto x = random_floats(static_cast<std::size_t>(n), 3);
  std::vector<float> y1(x.size()), y2(x.size()), y3(x.size());
  std::vector<std::uint8_t> m1(x.size()), m2(x.size()), m3(x.size());
  const float p = 0.25f;
  cpu::dropout_forward(y1.data(), m1.data(), x.data(), n, p, derive_key(1, 2));
  cpu::dropout_forward(y2.data(), m2.data(), x.data(), n, p, derive_key(1, 2));
  cpu::dropout_forward(y3.data(), m3.data(), x.data(), n, p, derive_key(1, 3));
  EXPECT_EQ(m1, m2);
  EXPECT_EQ(y1, y2);
  EXPECT_NE(m1, m3);
  double kept = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    kept += m1[static_cast<std::size_t>(i)];
    EXPECT_FLOAT_EQ(y1[static_cast<std::size_t>(i)],
                    m1[static_cast<std::size_t>(i)] ? x[static_cast<std::size_t>(i)] / 0.75f : 0.0f);
  }
  EXPECT_NEAR(kept / n, 0.75, 5.0 * std::sqrt(0.75 * 0.25 / n));
  // backward with the mask fixed: y = x * m / (1-p) is linear
  const std::vector<float> dy = random_floats(64, 4);
  std::vector<float> dx(64);
  cpu::dropout_backward(dx.data(), dy.data(), m1.data(), 64, p);
  auto ref = [&](const std::vector<double>& v) {
    std::vector<double> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = m1[i] ? v[i] / (1.0 - p) : 0.0;
    return out;
  };
  const std::vector<float> x64(x.begin(), x.begin() + 64);
  EXPECT_LT(rel_error(dx, fd_gradient(ref, to_double(x64), to_double(dy))), 1e-6);
}

}  // namespace
}  // namespace clustersim::executor
