// CPU optimizer kernels for the Plan's `optimizer` op: AdamW (Loshchilov & Hutter, ICLR'19,
// decoupled weight decay, bias-corrected moments, PyTorch's order of operations) and SGD with
// momentum (PyTorch's formulation, L2 weight decay added to the gradient). Both update an fp32
// master copy in place; the gradient is multiplied by grad_scale (1 / loss scale, and any
// averaging) before use. Skipping on a non-finite gradient is the caller's decision.
#pragma once

#include <cstdint>

namespace clustersim::executor::cpu {

struct AdamWHyper {
  float lr = 3e-4f, beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, weight_decay = 0.1f;
  float grad_scale = 1.0f;
  std::int64_t step = 1;  // 1-based count of applied updates, for bias correction
};
// g = grad * grad_scale; w *= 1 - lr * wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// w -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps).
void adamw_update(float* master, float* m, float* v, const float* grad, std::int64_t n, const AdamWHyper& hyper);

struct SgdHyper {
  float lr = 0.1f, momentum = 0.9f, weight_decay = 0.0f;
  float grad_scale = 1.0f;
};
// g = grad * grad_scale + wd * w; buf = momentum * buf + g; w -= lr * buf. (buf starts at 0, so the
// first step's buf equals g, as in PyTorch.) momentum_buf may be null when momentum == 0.
void sgd_update(float* master, float* momentum_buf, const float* grad, std::int64_t n, const SgdHyper& hyper);

}  // namespace clustersim::executor::cpu
