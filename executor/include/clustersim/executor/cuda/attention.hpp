// CUDA attention kernels for the Plan's `attention` op (mirrors cpu/attention.hpp: same packed qkv
// layout, grouped-query heads, causal masking, dropout mask indexing with heads_total/head_offset,
// shard-major rows when seq_shards > 1 while lse/probs/mask stay in natural order).
//
// Flash variant (Dao et al., FlashAttention-2, 2023): one fused kernel per direction, tiled over
// query rows (forward) or key rows (backward, recomputing the probabilities from lse). The forward
// keeps a running max and sum per row (online softmax) and writes out and lse; the backward
// accumulates dK and dV of its key tile over every query head of the group and query tile in
// shared memory and adds dQ with fp32 atomics into a scratch accumulator (the one order-dependent
// sum of the backend: dQ may differ in the last bits between runs). bf16/fp16 storage with head_dim a
// multiple of 16 uses tensor cores (WMMA, fp32 accumulation); fp32 and other shapes use the same
// tiles with fp32 arithmetic. Other storage mixes are staged through fp32 scratch.
//
// Non-flash variant: the same forward writes out and lse, then a second kernel materialises probs
// (softmax, masked entries 0), and with dropout the uint8 mask and the dropped probabilities. Its
// backward reads the stored probs and mask instead of recomputing them.
#pragma once

#include <cstdint>

#include "clustersim/executor/cpu/attention.hpp"
#include "clustersim/executor/cuda/device.hpp"

namespace clustersim::executor::cuda {

void attention_forward_flash(DeviceTensor out, float* lse, ConstDeviceTensor qkv, const cpu::AttentionShape& shape,
                             DeviceScratch& scratch, DeviceStream stream);
// dqkv overwritten.
void attention_backward_flash(DeviceTensor dqkv, ConstDeviceTensor dout, ConstDeviceTensor qkv, ConstDeviceTensor out,
                              const float* lse, const cpu::AttentionShape& shape, DeviceScratch& scratch,
                              DeviceStream stream);
// mask and dropped.data may be null when shape.dropout == 0.
void attention_forward(DeviceTensor out, DeviceTensor probs, std::uint8_t* mask, DeviceTensor dropped,
                       ConstDeviceTensor qkv, const cpu::AttentionShape& shape, DeviceScratch& scratch,
                       DeviceStream stream);
void attention_backward(DeviceTensor dqkv, ConstDeviceTensor dout, ConstDeviceTensor qkv, ConstDeviceTensor probs,
                        const std::uint8_t* mask, ConstDeviceTensor dropped, const cpu::AttentionShape& shape,
                        DeviceScratch& scratch, DeviceStream stream);

}  // namespace clustersim::executor::cuda
