// Dropout with a regenerable counter-based mask.
#include "clustersim/executor/cpu/dropout.hpp"

#include "clustersim/executor/rng.hpp"

namespace clustersim::executor::cpu {

void dropout_forward(float* y, std::uint8_t* mask, const float* x, std::int64_t n, float p, std::uint64_t key) {
  const float inv = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
  for (std::int64_t i = 0; i < n; ++i) {
    const bool kept = p <= 0.0f || dropout_keep(key, static_cast<std::uint64_t>(i), p);
    mask[i] = kept ? 1 : 0;
    y[i] = kept ? x[i] * inv : 0.0f;
  }
}

void dropout_backward(float* dx, const float* dy, const std::uint8_t* mask, std::int64_t n, float p) {
  const float inv = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
  for (std::int64_t i = 0; i < n; ++i) dx[i] = mask[i] != 0 ? dy[i] * inv : 0.0f;
}

}  // namespace clustersim::executor::cpu
