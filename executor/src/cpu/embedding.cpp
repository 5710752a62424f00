// Token (+ learned position) embedding lookup, vocabulary-parallel shards, the scatter-add
// backward, and the standalone position add used after a vocabulary-parallel reduction.
#include "clustersim/executor/cpu/embedding.hpp"

namespace clustersim::executor::cpu {

namespace {

// Position of row `row` under the shard-major layout.
std::int64_t position_of(std::int64_t row, const EmbeddingShape& s) {
  if (s.seq_shards <= 1) return row % s.seq;
  const std::int64_t local = s.seq / s.seq_shards;
  const std::int64_t shard = row / (s.batch * local);
  return shard * local + row % local;
}

}  // namespace

void embedding_forward(float* x, const std::int32_t* tokens, const float* wte, const float* wpe,
                       const EmbeddingShape& s) {
  const std::int64_t rows = s.batch * s.seq;
  for (std::int64_t r = 0; r < rows; ++r) {
    float* out = x + r * s.dim;
    const std::int64_t tok = static_cast<std::int64_t>(tokens[r]) - s.vocab_offset;
    const bool here = tok >= 0 && tok < s.vocab;
    const float* e = here ? wte + tok * s.dim : nullptr;
    const float* p = wpe != nullptr ? wpe + position_of(r, s) * s.dim : nullptr;
    for (std::int64_t c = 0; c < s.dim; ++c) out[c] = (here ? e[c] : 0.0f) + (p != nullptr ? p[c] : 0.0f);
  }
}

void embedding_backward(float* dwte, float* dwpe, const float* dx, const std::int32_t* tokens,
                        const EmbeddingShape& s) {
  const std::int64_t rows = s.batch * s.seq;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* d = dx + r * s.dim;
    const std::int64_t tok = static_cast<std::int64_t>(tokens[r]) - s.vocab_offset;
    if (tok >= 0 && tok < s.vocab) {
      float* e = dwte + tok * s.dim;
      for (std::int64_t c = 0; c < s.dim; ++c) e[c] += d[c];
    }
    if (dwpe != nullptr) {
      float* p = dwpe + position_of(r, s) * s.dim;
      for (std::int64_t c = 0; c < s.dim; ++c) p[c] += d[c];
    }
  }
}

void position_add_forward(float* x, const float* wpe, std::int64_t batch, std::int64_t seq, std::int64_t dim,
                          std::int64_t position_offset) {
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < seq; ++t) {
      float* row = x + (b * seq + t) * dim;
      const float* p = wpe + (position_offset + t) * dim;
      for (std::int64_t c = 0; c < dim; ++c) row[c] += p[c];
    }
}

void position_add_backward(float* dwpe, const float* dx, std::int64_t batch, std::int64_t seq, std::int64_t dim,
                           std::int64_t position_offset) {
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < seq; ++t) {
      const float* row = dx + (b * seq + t) * dim;
      float* p = dwpe + (position_offset + t) * dim;
      for (std::int64_t c = 0; c < dim; ++c) p[c] += row[c];
    }
}

}  // namespace clustersim::executor::cpu
