// CPU softmax cross-entropy kernels for the Plan's `softmax_xent` op: per-row losses forward, and
// the fused softmax-minus-one-hot gradient backward. A negative target marks an ignored row (loss 0,
// gradient 0); targets must be < vocab (the interpreter checks).
#pragma once

#include <cstdint>

namespace clustersim::executor::cpu {

// losses[r] = logsumexp(logits[r, :]) - logits[r, targets[r]].
void softmax_xent_forward(float* losses, const float* logits, const std::int32_t* targets, std::int64_t rows,
                          std::int64_t vocab);
// dlogits = (softmax(logits) - onehot(targets)) * grad_scale. dlogits may equal logits (in place).
void softmax_xent_backward(float* dlogits, const float* logits, const std::int32_t* targets, std::int64_t rows,
                           std::int64_t vocab, float grad_scale);

// Vocabulary-parallel cross-entropy (Megatron): each tensor-parallel rank holds logits(rows, V_local)
// for the full-vocabulary columns [vocab_offset, vocab_offset + V_local). The plan reduces between
// the steps: max over ranks (all_reduce max) after step 1, stats summed over ranks after step 2.
// 1. max[r] = max_j logits[r, j]
void xent_parallel_max(float* max, const float* logits, std::int64_t rows, std::int64_t vocab_local);
// 2. stats(2, rows): stats[r] = sum_j exp(logits[r, j] - max[r]); stats[rows + r] = logits[r, target - offset]
//    when the target falls in this shard, else 0.
void xent_parallel_stats(float* stats, const float* logits, const float* max, const std::int32_t* targets,
                         std::int64_t rows, std::int64_t vocab_local, std::int64_t vocab_offset);
// 3. losses[r] = log(stats[r]) + max[r] - stats[rows + r]; 0 for ignored rows (target < 0) when targets is
//    not null (the plan's op has no targets input: it passes null and every row counts).
void xent_parallel_loss(float* losses, const float* stats, const float* max, const std::int32_t* targets,
                        std::int64_t rows);
// 4. dlogits = (exp(logits - max) / stats - onehot) * grad_scale; may alias logits.
void xent_parallel_backward(float* dlogits, const float* logits, const std::int32_t* targets, const float* max,
                            const float* stats, std::int64_t rows, std::int64_t vocab_local, std::int64_t vocab_offset,
                            float grad_scale);

}  // namespace clustersim::executor::cpu
