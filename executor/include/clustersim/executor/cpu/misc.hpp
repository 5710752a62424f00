// CPU kernels for the small elementwise names of the Plan: residual_add, add_inplace, bias_grad,
// bias_add, scale, zero, check_finite, grad_norm_sq, clip_by_norm. fp32 buffers.
#pragma once

#include <cstdint>

namespace clustersim::executor::cpu {

// out = a + b (out may alias a or b).
void residual_add(float* out, const float* a, const float* b, std::int64_t n);
// out += a.
void add_inplace(float* out, const float* a, std::int64_t n);
// dbias[j] += sum over rows of dy[r, j].
void bias_grad(float* dbias, const float* dy, std::int64_t rows, std::int64_t n);
// x[r, j] += bias[j] (in place).
void bias_add(float* x, const float* bias, std::int64_t rows, std::int64_t n);
// x *= s.
void scale_inplace(float* x, std::int64_t n, float s);
// true when any element is inf or NaN.
bool has_nonfinite(const float* x, std::int64_t n);
// Sum of squares, accumulated in double.
double sum_of_squares(const float* x, std::int64_t n);
// The factor clip_by_norm scales by: min(1, max_norm / sqrt(norm_sq)); 1 when norm_sq is 0 or not
// finite (a non-finite gradient is left for the found_inf skip).
float clip_factor(double norm_sq, double max_norm);

}  // namespace clustersim::executor::cpu
