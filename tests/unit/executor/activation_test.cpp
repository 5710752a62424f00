// Tests for cpu/activation.hpp: gelu, relu, swiglu and rope forward against float64 formulas,
// backward against float64 central differences (rope also: rotation preserves norms, the inverse
// undoes it, sharded row order).
#include <gtest/gtest.h>

#include <cmath>

#include "clustersim/executor/cpu/activation.hpp"
#include "kernel_test_util.hpp"

namespace clustersim::executor {
namespace {

using test::fd_gradient;
using test::random_floats;
using test::rel_error;
using test::to_double;

std::vector<double> gelu_ref(const std::vector<double>& x) {
  std::vector<double> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    y[i] = 0.5 * x[i] * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x[i] + 0.044715 * x[i] * x[i] * x[i])));
  return y;
}

std::vector<double> swiglu_ref(const std::vector<double>& x, std::int64_t rows, std::int64_t f) {
  std::vector<double> y(static_cast<std::size_t>(rows * f));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < f; ++j) {
      const double a = x[static_cast<std::size_t>(r * 2 * f + j)], b = x[static_cast<std::size_t>(r * 2 * f + f + j)];
      y[static_cast<std::size_t>(r * f + j)] = a / (1.0 + std::exp(-a)) * b;
    }
  return y;
}

std::vector<double> rope_ref(const std::vector<double>& x, const cpu::RopeShape& s) {
  std::vector<double> y = x;
  const std::int64_t W = (s.heads + 2 * s.kv_heads) * s.head_dim, half = s.head_dim / 2;
  const std::int64_t local = s.seq / s.seq_shards;
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t t = 0; t < s.seq; ++t) {
      const std::int64_t row = ((t / local) * s.batch + b) * local + t % local;
      for (std::int64_t h = 0; h < s.heads + s.kv_heads; ++h)
        for (std::int64_t i = 0; i < half; ++i) {
          const double angle = static_cast<double>(t + s.position_offset) * std::pow(s.theta, -2.0 * i / s.head_dim);
          const std::size_t a = static_cast<std::size_t>(row * W + h * s.head_dim + i),
                            b2 = a + static_cast<std::size_t>(half);
          y[a] = x[a] * std::cos(angle) - x[b2] * std::sin(angle);
          y[b2] = x[b2] * std::cos(angle) + x[a] * std::sin(angle);
        }
    }
  return y;
}

TEST(Activation, GeluForwardAndBackward) {
  const auto x = random_floats(50, 1, -4.0f, 4.0f);
  std::vector<float> y(x.size()), dx(x.size());
  cpu::gelu_forward(y.data(), x.data(), 50);
  EXPECT_LT(rel_error(y, gelu_ref(to_double(x))), 1e-6);
  const auto dy = random_floats(50, 2);
  cpu::gelu_backward(dx.data(), x.data(), dy.data(), 50);
  EXPECT_LT(rel_error(dx, fd_gradient(gelu_ref, to_double(x), to_double(dy))), 1e-5);
}

TEST(Activation, ReluForwardAndBackward) {
  auto x = random_floats(50, 3);
  std::vector<float> y(x.size()), dx(x.size());
  cpu::relu_forward(y.data(), x.data(), 50);
  const auto dy = random_floats(50, 4);
  cpu::relu_backward(dx.data(), y.data(), dy.data(), 50);
  auto relu = [](const std::vector<double>& v) {
    std::vector<double> r(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) r[i] = v[i] > 0 ? v[i] : 0.0;
    return r;
  };
  EXPECT_LT(rel_error(y, relu(to_double(x))), 1e-7);
  EXPECT_LT(rel_error(dx, fd_gradient(relu, to_double(x), to_double(dy))), 1e-6);  // no x within h of 0
}

TEST(Activation, SwigluForwardAndBackward) {
  const std::int64_t rows = 3, f = 4;
  const auto x = random_floats(static_cast<std::size_t>(rows * 2 * f), 5, -3.0f, 3.0f);
  std::vector<float> y(static_cast<std::size_t>(rows * f)), dx(x.size());
  cpu::swiglu_forward(y.data(), x.data(), rows, f);
  auto ref = [&](const std::vector<double>& v) { return swiglu_ref(v, rows, f); };
  EXPECT_LT(rel_error(y, ref(to_double(x))), 1e-6);
  const auto dy = random_floats(y.size(), 6);
  cpu::swiglu_backward(dx.data(), x.data(), dy.data(), rows, f);
  EXPECT_LT(rel_error(dx, fd_gradient(ref, to_double(x), to_double(dy))), 1e-5);
}

TEST(Activation, RopeForwardBackwardAndInverse) {
  for (std::int64_t shards : {1, 2}) {
    cpu::RopeShape s{.batch = 2,
                     .seq = 4,
                     .heads = 2,
                     .kv_heads = 1,
                     .head_dim = 4,
                     .theta = 100.0,
                     .position_offset = 3,
                     .seq_shards = shards};
    const std::int64_t W = (s.heads + 2 * s.kv_heads) * s.head_dim;
    const auto x = random_floats(static_cast<std::size_t>(s.batch * s.seq * W), 7);
    std::vector<float> y(x.size()), back(x.size());
    cpu::rope_forward(y.data(), x.data(), s);
    auto ref = [&](const std::vector<double>& v) { return rope_ref(v, s); };
    EXPECT_LT(rel_error(y, ref(to_double(x))), 1e-6);
    // value heads untouched
    for (std::int64_t r = 0; r < s.batch * s.seq; ++r)
      for (std::int64_t e = (s.heads + s.kv_heads) * s.head_dim; e < W; ++e)
        EXPECT_EQ(y[static_cast<std::size_t>(r * W + e)], x[static_cast<std::size_t>(r * W + e)]);
    const auto dy = random_floats(x.size(), 8);
    std::vector<float> dx(x.size());
    cpu::rope_backward(dx.data(), dy.data(), s);
    EXPECT_LT(rel_error(dx, fd_gradient(ref, to_double(x), to_double(dy))), 1e-5);
    // the backward is the inverse rotation: applying it to y gives x back (in place)
    back = y;
    cpu::rope_backward(back.data(), back.data(), s);
    EXPECT_LT(rel_error(back, to_double(x)), 1e-6);
  }
}

}  // namespace
}  // namespace clustersim::executor
