// CPU normalisation kernels for the Plan's `norm` op (NormParams): layernorm and rmsnorm normalise
// each of `rows` rows over `cols`; batchnorm (training mode, batch statistics, NHWC with rows =
// N*H*W, cols = C) normalises each column over the rows. Statistics are fp32: mean and rstd =
// 1/sqrt(var + eps) with the biased variance, per row (layer/rms) or per column (batch).
// Backward: dgamma and dbeta are accumulated (+=); dx is accumulated when accumulate_dx, else
// overwritten.
#pragma once

#include <cstdint>

namespace clustersim::executor::cpu {

void layernorm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma, const float* beta,
                       std::int64_t rows, std::int64_t cols, float eps);
void layernorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                        const float* mean, const float* rstd, std::int64_t rows, std::int64_t cols, bool accumulate_dx);

// y = x * rstd * gamma with rstd = 1/sqrt(mean(x^2) + eps).
void rmsnorm_forward(float* y, float* rstd, const float* x, const float* gamma, std::int64_t rows, std::int64_t cols,
                     float eps);
void rmsnorm_backward(float* dx, float* dgamma, const float* dy, const float* x, const float* gamma, const float* rstd,
                      std::int64_t rows, std::int64_t cols, bool accumulate_dx);

// mean and rstd have `cols` entries.
void batchnorm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma, const float* beta,
                       std::int64_t rows, std::int64_t cols, float eps);
void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                        const float* mean, const float* rstd, std::int64_t rows, std::int64_t cols, bool accumulate_dx);

}  // namespace clustersim::executor::cpu
