// Layer, RMS and batch normalisation, forward and backward, fp32 with double accumulators for the
// statistics and reductions.
#include "clustersim/executor/cpu/norm.hpp"

#include <cmath>
#include <vector>

namespace clustersim::executor::cpu {

void layernorm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma, const float* beta,
                       std::int64_t rows, std::int64_t cols, float eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    double s = 0.0;
    for (std::int64_t c = 0; c < cols; ++c) s += xr[c];
    const double mu = s / static_cast<double>(cols);
    double v = 0.0;
    for (std::int64_t c = 0; c < cols; ++c) v += (xr[c] - mu) * (xr[c] - mu);
    const double rs = 1.0 / std::sqrt(v / static_cast<double>(cols) + eps);
    float* yr = y + r * cols;
    for (std::int64_t c = 0; c < cols; ++c)
      yr[c] = static_cast<float>((xr[c] - mu) * rs) * gamma[c] + (beta != nullptr ? beta[c] : 0.0f);
    mean[r] = static_cast<float>(mu);
    rstd[r] = static_cast<float>(rs);
  }
}

void layernorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                        const float* mean, const float* rstd, std::int64_t rows, std::int64_t cols,
                        bool accumulate_dx) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const float* dyr = dy + r * cols;
    const float mu = mean[r], rs = rstd[r];
    double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
    for (std::int64_t c = 0; c < cols; ++c) {
      const float xhat = (xr[c] - mu) * rs;
      const float dxhat = dyr[c] * gamma[c];
      sum_dxhat += dxhat;
      sum_dxhat_xhat += static_cast<double>(dxhat) * xhat;
      dgamma[c] += dyr[c] * xhat;
      if (dbeta != nullptr) dbeta[c] += dyr[c];
    }
    const float m1 = static_cast<float>(sum_dxhat / static_cast<double>(cols));
    const float m2 = static_cast<float>(sum_dxhat_xhat / static_cast<double>(cols));
    float* dxr = dx + r * cols;
    for (std::int64_t c = 0; c < cols; ++c) {
      const float xhat = (xr[c] - mu) * rs;
      const float g = rs * (dyr[c] * gamma[c] - m1 - xhat * m2);
      dxr[c] = accumulate_dx ? dxr[c] + g : g;
    }
  }
}

void rmsnorm_forward(float* y, float* rstd, const float* x, const float* gamma, std::int64_t rows, std::int64_t cols,
                     float eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    double ss = 0.0;
    for (std::int64_t c = 0; c < cols; ++c) ss += static_cast<double>(xr[c]) * xr[c];
    const double rs = 1.0 / std::sqrt(ss / static_cast<double>(cols) + eps);
    float* yr = y + r * cols;
    for (std::int64_t c = 0; c < cols; ++c) yr[c] = static_cast<float>(xr[c] * rs) * gamma[c];
    rstd[r] = static_cast<float>(rs);
  }
}

void rmsnorm_backward(float* dx, float* dgamma, const float* dy, const float* x, const float* gamma, const float* rstd,
                      std::int64_t rows, std::int64_t cols, bool accumulate_dx) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const float* dyr = dy + r * cols;
    const float rs = rstd[r];
    double sum_dxhat_xhat = 0.0;
    for (std::int64_t c = 0; c < cols; ++c) {
      const float xhat = xr[c] * rs;
      sum_dxhat_xhat += static_cast<double>(dyr[c] * gamma[c]) * xhat;
      dgamma[c] += dyr[c] * xhat;
    }
    const float m2 = static_cast<float>(sum_dxhat_xhat / static_cast<double>(cols));
    float* dxr = dx + r * cols;
    for (std::int64_t c = 0; c < cols; ++c) {
      const float g = rs * (dyr[c] * gamma[c] - xr[c] * rs * m2);
      dxr[c] = accumulate_dx ? dxr[c] + g : g;
    }
  }
}

void batchnorm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma, const float* beta,
                       std::int64_t rows, std::int64_t cols, float eps) {
  std::vector<double> s(static_cast<std::size_t>(cols), 0.0), v(static_cast<std::size_t>(cols), 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) s[static_cast<std::size_t>(c)] += x[r * cols + c];
  for (std::int64_t c = 0; c < cols; ++c) s[static_cast<std::size_t>(c)] /= static_cast<double>(rows);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const double d = x[r * cols + c] - s[static_cast<std::size_t>(c)];
      v[static_cast<std::size_t>(c)] += d * d;
    }
  for (std::int64_t c = 0; c < cols; ++c) {
    mean[c] = static_cast<float>(s[static_cast<std::size_t>(c)]);
    rstd[c] = static_cast<float>(1.0 / std::sqrt(v[static_cast<std::size_t>(c)] / static_cast<double>(rows) + eps));
  }
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c)
      y[r * cols + c] = (x[r * cols + c] - mean[c]) * rstd[c] * gamma[c] + (beta != nullptr ? beta[c] : 0.0f);
}

void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                        const float* mean, const float* rstd, std::int64_t rows, std::int64_t cols,
                        bool accumulate_dx) {
  std::vector<double> sum_dy(static_cast<std::size_t>(cols), 0.0), sum_dy_xhat(static_cast<std::size_t>(cols), 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const float xhat = (x[r * cols + c] - mean[c]) * rstd[c];
      sum_dy[static_cast<std::size_t>(c)] += dy[r * cols + c];
      sum_dy_xhat[static_cast<std::size_t>(c)] += static_cast<double>(dy[r * cols + c]) * xhat;
    }
  const double n = static_cast<double>(rows);
  for (std::int64_t c = 0; c < cols; ++c) {
    dgamma[c] += static_cast<float>(sum_dy_xhat[static_cast<std::size_t>(c)]);
    if (dbeta != nullptr) dbeta[c] += static_cast<float>(sum_dy[static_cast<std::size_t>(c)]);
  }
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const float xhat = (x[r * cols + c] - mean[c]) * rstd[c];
      const float m1 = static_cast<float>(sum_dy[static_cast<std::size_t>(c)] / n);
      const float m2 = static_cast<float>(sum_dy_xhat[static_cast<std::size_t>(c)] / n);
      const float g = gamma[c] * rstd[c] * (dy[r * cols + c] - m1 - xhat * m2);
      dx[r * cols + c] = accumulate_dx ? dx[r * cols + c] + g : g;
    }
}

}  // namespace clustersim::executor::cpu
