// Softmax cross-entropy: per-row log-sum-exp in double, fused gradient (softmax - onehot) * scale.
#include "clustersim/executor/cpu/softmax_xent.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace clustersim::executor::cpu {

namespace {
double row_lse(const float* row, std::int64_t vocab) {
  float mx = -std::numeric_limits<float>::infinity();
  for (std::int64_t j = 0; j < vocab; ++j) mx = std::max(mx, row[j]);
  double sum = 0.0;
  for (std::int64_t j = 0; j < vocab; ++j) sum += std::exp(static_cast<double>(row[j]) - mx);
  return mx + std::log(sum);
}
}  // namespace

void softmax_xent_forward(float* losses, const float* logits, const std::int32_t* targets, std::int64_t rows,
                          std::int64_t vocab) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = logits + r * vocab;
    losses[r] = targets[r] < 0 ? 0.0f : static_cast<float>(row_lse(row, vocab) - row[targets[r]]);
  }
}

void softmax_xent_backward(float* dlogits, const float* logits, const std::int32_t* targets, std::int64_t rows,
                           std::int64_t vocab, float grad_scale) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = logits + r * vocab;
    float* d = dlogits + r * vocab;
    if (targets[r] < 0) {
      std::fill(d, d + vocab, 0.0f);
      continue;
    }
    const double lse = row_lse(row, vocab);
    for (std::int64_t j = 0; j < vocab; ++j) {
      const double p = std::exp(static_cast<double>(row[j]) - lse);
      d[j] = static_cast<float>((p - (j == targets[r] ? 1.0 : 0.0)) * grad_scale);
    }
  }
}

void xent_parallel_max(float* max, const float* logits, std::int64_t rows, std::int64_t vocab_local) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = logits + r * vocab_local;
    float mx = -std::numeric_limits<float>::infinity();
    for (std::int64_t j = 0; j < vocab_local; ++j) mx = std::max(mx, row[j]);
    max[r] = mx;
  }
}

void xent_parallel_stats(float* stats, const float* logits, const float* max, const std::int32_t* targets,
                         std::int64_t rows, std::int64_t vocab_local, std::int64_t vocab_offset) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = logits + r * vocab_local;
    double sum = 0.0;
    for (std::int64_t j = 0; j < vocab_local; ++j) sum += std::exp(static_cast<double>(row[j]) - max[r]);
    stats[r] = static_cast<float>(sum);
    const std::int64_t local = static_cast<std::int64_t>(targets[r]) - vocab_offset;
    stats[rows + r] = targets[r] >= 0 && local >= 0 && local < vocab_local ? row[local] : 0.0f;
  }
}

void xent_parallel_loss(float* losses, const float* stats, const float* max, const std::int32_t* targets,
                        std::int64_t rows) {
  for (std::int64_t r = 0; r < rows; ++r)
    losses[r] = targets != nullptr && targets[r] < 0
                    ? 0.0f
                    : static_cast<float>(std::log(static_cast<double>(stats[r])) + max[r] - stats[rows + r]);
}

void xent_parallel_backward(float* dlogits, const float* logits, const std::int32_t* targets, const float* max,
                            const float* stats, std::int64_t rows, std::int64_t vocab_local, std::int64_t vocab_offset,
                            float grad_scale) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = logits + r * vocab_local;
    float* d = dlogits + r * vocab_local;
    if (targets[r] < 0) {
      std::fill(d, d + vocab_local, 0.0f);
      continue;
    }
    const double inv = 1.0 / static_cast<double>(stats[r]);
    const std::int64_t local = static_cast<std::int64_t>(targets[r]) - vocab_offset;
    for (std::int64_t j = 0; j < vocab_local; ++j) {
      const double p = std::exp(static_cast<double>(row[j]) - max[r]) * inv;
      d[j] = static_cast<float>((p - (j == local ? 1.0 : 0.0)) * grad_scale);
    }
  }
}

}  // namespace clustersim::executor::cpu
