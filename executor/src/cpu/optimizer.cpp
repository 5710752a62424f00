// AdamW and SGD-with-momentum updates over fp32 master weights.
#include "clustersim/executor/cpu/optimizer.hpp"

#include <cmath>

namespace clustersim::executor::cpu {

void adamw_update(float* master, float* m, float* v, const float* grad, std::int64_t n, const AdamWHyper& h) {
  const double t = static_cast<double>(h.step);
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(h.beta1), t));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(h.beta2), t));
  const float decay = 1.0f - h.lr * h.weight_decay;
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = grad[i] * h.grad_scale;
    m[i] = h.beta1 * m[i] + (1.0f - h.beta1) * g;
    v[i] = h.beta2 * v[i] + (1.0f - h.beta2) * g * g;
    const float mhat = m[i] / bc1;
    const float vhat = v[i] / bc2;
    master[i] = master[i] * decay - h.lr * mhat / (std::sqrt(vhat) + h.eps);
  }
}

void sgd_update(float* master, float* momentum_buf, const float* grad, std::int64_t n, const SgdHyper& h) {
  for (std::int64_t i = 0; i < n; ++i) {
    float g = grad[i] * h.grad_scale + h.weight_decay * master[i];
    if (momentum_buf != nullptr && h.momentum != 0.0f) {
      momentum_buf[i] = h.momentum * momentum_buf[i] + g;
      g = momentum_buf[i];
    }
    master[i] -= h.lr * g;
  }
}

}  // namespace clustersim::executor::cpu
