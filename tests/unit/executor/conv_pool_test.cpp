// Tests for cpu/conv.hpp and cpu/pool.hpp: convolution forward against a direct float64 loop and
// both backward passes against central differences; max pooling (argmax, backward) and global
// average pooling against float64 references and finite differences.
#include <gtest/gtest.h>

#include "clustersim/executor/cpu/conv.hpp"
#include "clustersim/executor/cpu/pool.hpp"
#include "kernel_test_util.hpp"

namespace clustersim::executor {
namespace {

using test::fd_gradient;
using test::random_floats;
using test::rel_error;
using test::to_double;

// y from packed (x, w).
std::vector<double> conv_ref(const std::vector<double>& p, const cpu::ConvShape& s) {
  const std::int64_t P = s.out_height(), Q = s.out_width();
  const double* x = p.data();
  const double* w = x + s.batch * s.height * s.width * s.in_channels;
  std::vector<double> y(static_cast<std::size_t>(s.batch * P * Q * s.out_channels), 0.0);
  for (std::int64_t n = 0; n < s.batch; ++n)
    for (std::int64_t pp = 0; pp < P; ++pp)
      for (std::int64_t q = 0; q < Q; ++q)
        for (std::int64_t k = 0; k < s.out_channels; ++k) {
          double acc = 0.0;
          for (std::int64_t r = 0; r < s.kernel_h; ++r)
            for (std::int64_t t = 0; t < s.kernel_w; ++t) {
              const std::int64_t h = pp * s.stride - s.padding + r, ww = q * s.stride - s.padding + t;
              if (h < 0 || h >= s.height || ww < 0 || ww >= s.width) continue;
              for (std::int64_t c = 0; c < s.in_channels; ++c)
                acc += x[((n * s.height + h) * s.width + ww) * s.in_channels + c] *
                       w[((k * s.kernel_h + r) * s.kernel_w + t) * s.in_channels + c];
            }
          y[static_cast<std::size_t>(((n * P + pp) * Q + q) * s.out_channels + k)] = acc;
        }
  return y;
}

TEST(Conv2d, ForwardAndBothBackwardPasses) {
  const std::vector<cpu::ConvShape> shapes = {
      {.batch = 2,
       .in_channels = 3,
       .out_channels = 4,
       .height = 5,
       .width = 6,
       .kernel_h = 3,
       .kernel_w = 3,
       .stride = 2,
       .padding = 1},
      {.batch = 1,
       .in_channels = 2,
       .out_channels = 3,
       .height = 4,
       .width = 4,
       .kernel_h = 1,
       .kernel_w = 1,
       .stride = 1,
       .padding = 0},
      {.batch = 1,
       .in_channels = 2,
       .out_channels = 2,
       .height = 5,
       .width = 5,
       .kernel_h = 3,
       .kernel_w = 2,
       .stride = 1,
       .padding = 0},
  };
  int seed = 1;
  for (const auto& s : shapes) {
    const std::size_t nx = static_cast<std::size_t>(s.batch * s.height * s.width * s.in_channels);
    const std::size_t nw = static_cast<std::size_t>(s.out_channels * s.kernel_h * s.kernel_w * s.in_channels);
    const std::size_t ny = static_cast<std::size_t>(s.batch * s.out_height() * s.out_width() * s.out_channels);
    const auto x = random_floats(nx, seed++), w = random_floats(nw, seed++), dy = random_floats(ny, seed++);
    std::vector<float> ws(static_cast<std::size_t>(cpu::conv2d_workspace_elements(s)) + 1), y(ny);
    cpu::conv2d_forward(y.data(), x.data(), w.data(), s, ws.data());
    std::vector<double> packed = to_double(x);
    packed.insert(packed.end(), w.begin(), w.end());
    auto ref = [&](const std::vector<double>& p) { return conv_ref(p, s); };
    EXPECT_LT(rel_error(y, ref(packed)), 1e-6);
    const auto g = fd_gradient(ref, packed, to_double(dy));
    std::vector<float> dx(nx, 5.0f), dw(nw, 1.0f);
    cpu::conv2d_backward_data(dx.data(), dy.data(), w.data(), s, ws.data());
    cpu::conv2d_backward_filter(dw.data(), dy.data(), x.data(), s, ws.data());
    std::vector<double> gx(g.begin(), g.begin() + static_cast<std::ptrdiff_t>(nx)),
        gw(g.begin() + static_cast<std::ptrdiff_t>(nx), g.end());
    for (auto& v : gw) v += 1.0;  // dw accumulates
    EXPECT_LT(rel_error(dx, gx), 1e-5);
    EXPECT_LT(rel_error(dw, gw), 1e-5);
  }
}

std::vector<double> maxpool_ref(const std::vector<double>& x, const cpu::PoolShape& s) {
  std::vector<double> y;
  for (std::int64_t n = 0; n < s.batch; ++n)
    for (std::int64_t p = 0; p < s.out_height(); ++p)
      for (std::int64_t q = 0; q < s.out_width(); ++q)
        for (std::int64_t c = 0; c < s.channels; ++c) {
          double best = -INFINITY;
          for (std::int64_t r = 0; r < 3; ++r)
            for (std::int64_t t = 0; t < 3; ++t) {
              const std::int64_t h = 2 * p - 1 + r, w = 2 * q - 1 + t;
              if (h >= 0 && h < s.height && w >= 0 && w < s.width)
                best = std::max(best, x[static_cast<std::size_t>(((n * s.height + h) * s.width + w) * s.channels + c)]);
            }
          y.push_back(best);
        }
  return y;
}

TEST(Pool, MaxpoolForwardArgmaxAndBackward) {
  const cpu::PoolShape s{.batch = 2, .height = 5, .width = 6, .channels = 3};
  const auto x = random_floats(static_cast<std::size_t>(2 * 5 * 6 * 3), 9);  // distinct values
  const std::size_t ny = static_cast<std::size_t>(s.batch * s.out_height() * s.out_width() * s.channels);
  EXPECT_EQ(s.out_height(), 3);
  EXPECT_EQ(s.out_width(), 3);
  std::vector<float> y(ny);
  std::vector<std::int32_t> argmax(ny);
  cpu::maxpool_forward(y.data(), argmax.data(), x.data(), s);
  auto ref = [&](const std::vector<double>& v) { return maxpool_ref(v, s); };
  EXPECT_LT(rel_error(y, ref(to_double(x))), 1e-7);
  for (std::size_t i = 0; i < ny; ++i) EXPECT_EQ(x[static_cast<std::size_t>(argmax[i])], y[i]);
  const auto dy = random_floats(ny, 10);
  std::vector<float> dx(x.size(), 3.0f);
  cpu::maxpool_backward(dx.data(), dy.data(), argmax.data(), s);
  EXPECT_LT(rel_error(dx, fd_gradient(ref, to_double(x), to_double(dy))), 1e-6);
}

TEST(Pool, GlobalAvgpoolForwardAndBackward) {
  const cpu::PoolShape s{.batch = 2, .height = 3, .width = 2, .channels = 4};
  const auto x = random_floats(48, 11);
  auto ref = [&](const std::vector<double>& v) {
    std::vector<double> y(8, 0.0);
    for (std::int64_t n = 0; n < 2; ++n)
      for (std::int64_t i = 0; i < 6; ++i)
        for (std::int64_t c = 0; c < 4; ++c)
          y[static_cast<std::size_t>(n * 4 + c)] += v[static_cast<std::size_t>((n * 6 + i) * 4 + c)] / 6.0;
    return y;
  };
  std::vector<float> y(8), dx(48);
  cpu::global_avgpool_forward(y.data(), x.data(), s);
  EXPECT_LT(rel_error(y, ref(to_double(x))), 1e-6);
  const auto dy = random_floats(8, 12);
  cpu::global_avgpool_backward(dx.data(), dy.data(), s);
  EXPECT_LT(rel_error(dx, fd_gradient(ref, to_double(x), to_double(dy))), 1e-6);
}

}  // namespace
}  // namespace clustersim::executor
