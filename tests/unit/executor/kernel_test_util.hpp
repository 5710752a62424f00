// Helpers for the executor kernel tests: seeded random inputs, float64 central-difference
// gradients, and a norm-wise relative error for comparing fp32 kernels with float64 references.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace clustersim::executor::test {

inline std::vector<float> random_floats(std::size_t n, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

inline std::vector<double> to_double(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

// Gradient of L(x) = sum_i w[i] * f(x)[i] by central differences in float64.
inline std::vector<double> fd_gradient(const std::function<std::vector<double>(const std::vector<double>&)>& f,
                                       std::vector<double> x, const std::vector<double>& w, double h = 1e-6) {
  std::vector<double> g(x.size());
  auto loss = [&](const std::vector<double>& at) {
    const std::vector<double> y = f(at);
    double s = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) s += w[i] * y[i];
    return s;
  };
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double up = loss(x);
    x[i] = keep - h;
    const double down = loss(x);
    x[i] = keep;
    g[i] = (up - down) / (2.0 * h);
  }
  return g;
}

// max_i |a_i - e_i| / max(max_i |e_i|, floor): a norm-wise relative error.
template <typename A>
double rel_error(const std::vector<A>& actual, const std::vector<double>& expected, double floor = 1e-12) {
  double diff = 0.0, scale = floor;
  const std::size_t n = std::min(actual.size(), expected.size());
  for (std::size_t i = 0; i < n; ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(actual[i]) - expected[i]));
    scale = std::max(scale, std::abs(expected[i]));
  }
  if (actual.size() != expected.size()) return INFINITY;
  return diff / scale;
}

}  // namespace clustersim::executor::test
