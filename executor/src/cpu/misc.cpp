// Small elementwise kernels: adds, bias gradient, scaling, finiteness and norm reductions.
#include "clustersim/executor/cpu/misc.hpp"

#include <algorithm>
#include <cmath>

namespace clustersim::executor::cpu {

void residual_add(float* out, const float* a, const float* b, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void add_inplace(float* out, const float* a, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] += a[i];
}

void bias_grad(float* dbias, const float* dy, std::int64_t rows, std::int64_t n) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = dy + r * n;
    for (std::int64_t j = 0; j < n; ++j) dbias[j] += row[j];
  }
}

void bias_add(float* x, const float* bias, std::int64_t rows, std::int64_t n) {
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    for (std::int64_t j = 0; j < n; ++j) row[j] += bias[j];
  }
}

void scale_inplace(float* x, std::int64_t n, float s) {
  for (std::int64_t i = 0; i < n; ++i) x[i] *= s;
}

bool has_nonfinite(const float* x, std::int64_t n) {
  bool bad = false;
  for (std::int64_t i = 0; i < n; ++i) bad |= !std::isfinite(x[i]);
  return bad;
}

double sum_of_squares(const float* x, std::int64_t n) {
  double s = 0.0;
  for (std::int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

float clip_factor(double norm_sq, double max_norm) {
  if (!(norm_sq > 0.0) || !std::isfinite(norm_sq)) return 1.0f;
  return static_cast<float>(std::min(1.0, max_norm / std::sqrt(norm_sq)));
}

}  // namespace clustersim::executor::cpu
