// CPU embedding kernels for the Plan's `embedding` op and the elementwise names position_add and
// position_add_backward: token embedding lookup with an optional learned position embedding, the
// vocabulary-parallel variant, and the scatter-add backward passes.
#pragma once

#include <cstdint>

namespace clustersim::executor::cpu {

// Rows: B*T token rows of width `dim`. With seq_shards = s > 1 the rows (and tokens) are in
// shard-major order, row = (shard * B + b) * (T/s) + t_local, position t = shard * (T/s) + t_local.
// Vocabulary parallelism: the table holds rows [vocab_offset, vocab_offset + vocab) of the full
// table; tokens outside give zero rows forward and no gradient backward.
struct EmbeddingShape {
  std::int64_t batch = 0, seq = 0, dim = 0;
  std::int64_t vocab = 0;         // rows of the (local) table
  std::int64_t vocab_offset = 0;  // first full-table row held here
  std::int64_t seq_shards = 1;
};

// x(B*T, C) = wte[token - vocab_offset] (+ wpe[t] when wpe is not null).
void embedding_forward(float* x, const std::int32_t* tokens, const float* wte, const float* wpe,
                       const EmbeddingShape& shape);
// dwte[token - vocab_offset] += dx[row]; dwpe[t] += dx[row] when dwpe is not null (accumulated).
void embedding_backward(float* dwte, float* dwpe, const float* dx, const std::int32_t* tokens,
                        const EmbeddingShape& shape);

// position_add: x[b, t] += wpe[position_offset + t] for x(B, T, C) rows in natural order, in place.
void position_add_forward(float* x, const float* wpe, std::int64_t batch, std::int64_t seq, std::int64_t dim,
                          std::int64_t position_offset);
// position_add_backward: dwpe[position_offset + t] += sum over b of dx[b, t] (accumulated).
void position_add_backward(float* dwpe, const float* dx, std::int64_t batch, std::int64_t seq, std::int64_t dim,
                           std::int64_t position_offset);

}  // namespace clustersim::executor::cpu
