// Tests for cpu/gemm.hpp against a float64 triple loop: transposes, batch, bias, accumulate.
#include <gtest/gtest.h>

#include "clustersim/executor/cpu/gemm.hpp"
#include "kernel_test_util.hpp"

namespace clustersim::executor {
namespace {

using test::random_floats;
using test::rel_error;

std::vector<double> gemm_reference(const std::vector<float>& a, const std::vector<float>& b,
                                   const std::vector<float>* bias, const std::vector<float>& c0,
                                   const cpu::GemmShape& s) {
  std::vector<double> c(static_cast<std::size_t>(s.batch * s.m * s.n));
  for (std::int64_t bi = 0; bi < s.batch; ++bi)
    for (std::int64_t i = 0; i < s.m; ++i)
      for (std::int64_t j = 0; j < s.n; ++j) {
        double acc = 0.0;
        for (std::int64_t p = 0; p < s.k; ++p) {
          const double av = s.trans_a ? a[static_cast<std::size_t>(bi * s.m * s.k + p * s.m + i)]
                                      : a[static_cast<std::size_t>(bi * s.m * s.k + i * s.k + p)];
          const double bv = s.trans_b ? b[static_cast<std::size_t>(bi * s.k * s.n + j * s.k + p)]
                                      : b[static_cast<std::size_t>(bi * s.k * s.n + p * s.n + j)];
          acc += av * bv;
        }
        const auto idx = static_cast<std::size_t>(bi * s.m * s.n + i * s.n + j);
        if (bias != nullptr) acc += (*bias)[static_cast<std::size_t>(j)];
        if (s.accumulate) acc += c0[idx];
        c[idx] = acc;
      }
  return c;
}

TEST(Gemm, MatchesFloat64ReferenceForEveryFlagCombination) {
  int seed = 1;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (int acc = 0; acc < 2; ++acc)
        for (int use_bias = 0; use_bias < 2; ++use_bias) {
          cpu::GemmShape s{
              .m = 7, .n = 5, .k = 9, .batch = 3, .trans_a = ta == 1, .trans_b = tb == 1, .accumulate = acc == 1};
          const auto a = random_floats(static_cast<std::size_t>(s.batch * s.m * s.k), seed++);
          const auto b = random_floats(static_cast<std::size_t>(s.batch * s.k * s.n), seed++);
          const auto bias = random_floats(static_cast<std::size_t>(s.n), seed++);
          auto c = random_floats(static_cast<std::size_t>(s.batch * s.m * s.n), seed++);
          const auto c0 = c;
          cpu::gemm_forward(c.data(), a.data(), b.data(), use_bias ? bias.data() : nullptr, s);
          const auto expected = gemm_reference(a, b, use_bias ? &bias : nullptr, c0, s);
          EXPECT_LT(rel_error(c, expected), 1e-6)
              << "ta=" << ta << " tb=" << tb << " acc=" << acc << " bias=" << use_bias;
        }
}

TEST(Gemm, ZeroInnerDimensionGivesBiasOrZero) {
  cpu::GemmShape s{.m = 2, .n = 3, .k = 0};
  std::vector<float> c(6, 5.0f), bias = {1, 2, 3};
  cpu::gemm_forward(c.data(), nullptr, nullptr, nullptr, s);
  for (float v : c) EXPECT_EQ(v, 0.0f);
  cpu::gemm_forward(c.data(), nullptr, nullptr, bias.data(), s);
  EXPECT_EQ(c[4], 2.0f);
}

TEST(Gemm, ThreadCountIsConfigurable) {
  cpu::gemm_set_threads(1);
  EXPECT_EQ(cpu::gemm_threads(), 1);
}

}  // namespace
}  // namespace clustersim::executor
