// CPU attention kernels: scaled dot-product attention over the packed projection of the Plan's
// `attention` op (AttentionParams), forward and backward, flash (store lse, recompute the
// probabilities in the backward pass) and non-flash (store the probabilities) variants.
//
// Layout (row-major): qkv(B, T, (H + 2*KV) * D) holds, per token, the H query heads, then the KV key
// heads, then the KV value heads, each D wide. Query head h reads key/value head h / (H / KV)
// (grouped-query attention; H must be a multiple of KV). out(B, T, H*D); lse(B, H, T);
// probs/mask/dropped(B, H, T, T). Scores are scaled by 1/sqrt(D). Causal masking lets query i see
// keys j <= i (T_q == T_kv is required by the packed layout).
//
// Dropout with probability p (0 <= p < 1) acts on the probabilities: dropped = probs * keep / (1-p).
// Element (b, h, i, j) is kept when dropout_keep(key, ((b * heads_total + head_offset + h) * T + i)
// * T + j, p) (rng.hpp), where heads_total/head_offset place this rank's heads among all heads
// (tensor parallelism), so the mask is the slice the unsharded computation would use. The flash
// backward regenerates the mask from the same key; the non-flash variant stores it.
//
// Sequence parallelism (seq_shards = s > 1): the row-indexed buffers qkv, out, dout and dqkv hold
// their B*T rows in shard-major order, row = (shard * B + b) * (T / s) + t_local with
// t = shard * (T / s) + t_local; lse, probs, mask and dropped keep the natural (b, h, t) order.
#pragma once

#include <cstdint>

namespace clustersim::executor::cpu {

struct AttentionShape {
  std::int64_t batch = 0, heads = 0, kv_heads = 0, seq = 0, head_dim = 0;
  bool causal = true;
  float dropout = 0.0f;
  std::uint64_t dropout_key = 0;  // Philox key of this attention call (see rng.hpp)
  std::int64_t heads_total = 0;   // all query heads across tensor-parallel ranks (0 = heads)
  std::int64_t head_offset = 0;   // index of this rank's first head among them
  std::int64_t seq_shards = 1;    // row order of qkv/out (see above)
  std::int64_t qkv_width() const { return (heads + 2 * kv_heads) * head_dim; }
};

// Flash variant. out: (B,T,H*D) overwritten; lse: (B,H,T) log-sum-exp of the scaled, masked scores.
void attention_forward_flash(float* out, float* lse, const float* qkv, const AttentionShape& shape);
// dqkv overwritten (same layout as qkv). Needs the forward's out and lse.
void attention_backward_flash(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                              const AttentionShape& shape);

// Non-flash variant. probs: softmax probabilities (B,H,T,T), masked entries 0. When shape.dropout > 0,
// mask (uint8, 1 = kept) and dropped (probs * mask / (1-p)) are written too; otherwise both may be null.
void attention_forward(float* out, float* probs, std::uint8_t* mask, float* dropped, const float* qkv,
                       const AttentionShape& shape);
// dqkv overwritten. mask/dropped are read only when shape.dropout > 0.
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* probs, const std::uint8_t* mask,
                        const float* dropped, const AttentionShape& shape);

}  // namespace clustersim::executor::cpu
