// Tests for cpu/norm.hpp: layernorm, rmsnorm and batchnorm forward against float64 references and
// backward (dx, dgamma, dbeta, accumulate_dx) against float64 central differences.
#include <gtest/gtest.h>

#include <cmath>

#include "clustersim/executor/cpu/norm.hpp"
#include "kernel_test_util.hpp"

namespace clustersim::executor {
namespace {

using test::fd_gradient;
using test::random_floats;
using test::rel_error;
using test::to_double;

enum class Kind { layer, rms, batch };

// y from (x, gamma, beta) packed in one vector: x (R*C), gamma (C), beta (C).
std::vector<double> norm_reference(const std::vector<double>& p, Kind kind, std::int64_t R, std::int64_t C,
                                   double eps) {
  const double* x = p.data();
  const double* g = x + R * C;
  const double* be = g + C;
  std::vector<double> y(static_cast<std::size_t>(R * C));
  if (kind == Kind::batch) {
    for (std::int64_t c = 0; c < C; ++c) {
      double mu = 0.0, var = 0.0;
      for (std::int64_t r = 0; r < R; ++r) mu += x[r * C + c];
      mu /= static_cast<double>(R);
      for (std::int64_t r = 0; r < R; ++r) var += (x[r * C + c] - mu) * (x[r * C + c] - mu);
      var /= static_cast<double>(R);
      for (std::int64_t r = 0; r < R; ++r)
        y[static_cast<std::size_t>(r * C + c)] = (x[r * C + c] - mu) / std::sqrt(var + eps) * g[c] + be[c];
    }
    return y;
  }
  for (std::int64_t r = 0; r < R; ++r) {
    double mu = 0.0, ms = 0.0;
    for (std::int64_t c = 0; c < C; ++c) {
      mu += x[r * C + c];
      ms += x[r * C + c] * x[r * C + c];
    }
    mu /= static_cast<double>(C);
    ms /= static_cast<double>(C);
    if (kind == Kind::rms) {
      for (std::int64_t c = 0; c < C; ++c)
        y[static_cast<std::size_t>(r * C + c)] = x[r * C + c] / std::sqrt(ms + eps) * g[c];
    } else {
      double var = 0.0;
      for (std::int64_t c = 0; c < C; ++c) var += (x[r * C + c] - mu) * (x[r * C + c] - mu);
      var /= static_cast<double>(C);
      for (std::int64_t c = 0; c < C; ++c)
        y[static_cast<std::size_t>(r * C + c)] = (x[r * C + c] - mu) / std::sqrt(var + eps) * g[c] + be[c];
    }
  }
  return y;
}

class NormTest : public ::testing::TestWithParam<Kind> {};

TEST_P(NormTest, ForwardAndBackwardMatchFloat64) {
  const Kind kind = GetParam();
  const std::int64_t R = 6, C = 5;
  const float eps = 1e-5f;
  const auto x = random_floats(static_cast<std::size_t>(R * C), 1, -2.0f, 2.0f);
  const auto gamma = random_floats(static_cast<std::size_t>(C), 2, 0.5f, 1.5f);
  auto beta = random_floats(static_cast<std::size_t>(C), 3);
  if (kind == Kind::rms) std::fill(beta.begin(), beta.end(), 0.0f);
  std::vector<double> packed = to_double(x);
  packed.insert(packed.end(), gamma.begin(), gamma.end());
  packed.insert(packed.end(), beta.begin(), beta.end());
  const auto y_ref = norm_reference(packed, kind, R, C, eps);

  const std::size_t stats = static_cast<std::size_t>(kind == Kind::batch ? C : R);
  std::vector<float> y(x.size()), mean(stats), rstd(stats);
  if (kind == Kind::layer)
    cpu::layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), gamma.data(), beta.data(), R, C, eps);
  if (kind == Kind::rms) cpu::rmsnorm_forward(y.data(), rstd.data(), x.data(), gamma.data(), R, C, eps);
  if (kind == Kind::batch)
    cpu::batchnorm_forward(y.data(), mean.data(), rstd.data(), x.data(), gamma.data(), beta.data(), R, C, eps);
  EXPECT_LT(rel_error(y, y_ref), 1e-6);

  const auto dy = random_floats(x.size(), 4);
  const auto grad = fd_gradient([&](const std::vector<double>& p) { return norm_reference(p, kind, R, C, eps); },
                                packed, to_double(dy));
  for (bool accumulate : {false, true}) {
    std::vector<float> dx(x.size(), accumulate ? 0.25f : 99.0f), dgamma(static_cast<std::size_t>(C), 1.0f),
        dbeta(static_cast<std::size_t>(C), -1.0f);
    if (kind == Kind::layer)
      cpu::layernorm_backward(dx.data(), dgamma.data(), dbeta.data(), dy.data(), x.data(), gamma.data(), mean.data(),
                              rstd.data(), R, C, accumulate);
    if (kind == Kind::rms)
      cpu::rmsnorm_backward(dx.data(), dgamma.data(), dy.data(), x.data(), gamma.data(), rstd.data(), R, C, accumulate);
    if (kind == Kind::batch)
      cpu::batchnorm_backward(dx.data(), dgamma.data(), dbeta.data(), dy.data(), x.data(), gamma.data(), mean.data(),
                              rstd.data(), R, C, accumulate);
    std::vector<double> dx_ref(grad.begin(), grad.begin() + R * C);
    if (accumulate)
      for (auto& v : dx_ref) v += 0.25;
    std::vector<double> dg_ref(grad.begin() + R * C, grad.begin() + R * C + C);
    for (auto& v : dg_ref) v += 1.0;  // accumulated onto 1
    EXPECT_LT(rel_error(dx, dx_ref), 1e-4) << "accumulate_dx=" << accumulate;
    EXPECT_LT(rel_error(dgamma, dg_ref), 1e-4);
    if (kind != Kind::rms) {
      std::vector<double> db_ref(grad.begin() + R * C + C, grad.end());
      for (auto& v : db_ref) v -= 1.0;
      EXPECT_LT(rel_error(dbeta, db_ref), 1e-4);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllNorms, NormTest, ::testing::Values(Kind::layer, Kind::rms, Kind::batch), [](const auto& info) {
      return std::string(info.param == Kind::layer ? "layernorm" : info.param == Kind::rms ? "rmsnorm" : "batchnorm");
    });

}  // namespace
}  // namespace clustersim::executor
