// CPU activation kernels for the Plan's elementwise names gelu, relu, swiglu and rope (and their
// backward names). Backward kernels overwrite dx.
#pragma once

#include <cstdint>

namespace clustersim::executor::cpu {

// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
void gelu_forward(float* y, const float* x, std::int64_t n);
void gelu_backward(float* dx, const float* x, const float* dy, std::int64_t n);

void relu_forward(float* y, const float* x, std::int64_t n);
// Uses the forward output y: dx = dy where y > 0, else 0.
void relu_backward(float* dx, const float* y, const float* dy, std::int64_t n);

// x(rows, 2F) -> y(rows, F): y = silu(x[:, :F]) * x[:, F:], silu(a) = a * sigmoid(a).
void swiglu_forward(float* y, const float* x, std::int64_t rows, std::int64_t f);
void swiglu_backward(float* dx, const float* x, const float* dy, std::int64_t rows, std::int64_t f);

// Rotary position embedding (Su et al., RoFormer) on the packed qkv(B, T, (H + 2*KV) * D) layout of
// attention.hpp: query and key heads are rotated, value heads copied unchanged.
// Pairing convention: "rotate half" (GPT-NeoX, Hugging Face LLaMA): element i < D/2 of a head pairs
// with element i + D/2. With angle a = (position_offset + t) * theta^(-2i/D):
//   out[i]       = x[i] cos a - x[i + D/2] sin a
//   out[i + D/2] = x[i + D/2] cos a + x[i] sin a
// D must be even. out may alias the input. With seq_shards = s > 1 the B*T rows are in shard-major
// order (attention.hpp) and row (shard * B + b) * (T/s) + t_local has position shard * (T/s) + t_local.
struct RopeShape {
  std::int64_t batch = 0, seq = 0, heads = 0, kv_heads = 0, head_dim = 0;
  double theta = 10000.0;
  std::int64_t position_offset = 0;  // position of token 0 (context-parallel chunks)
  std::int64_t seq_shards = 1;
};
void rope_forward(float* out, const float* qkv, const RopeShape& shape);
// The transpose (inverse) rotation: dqkv_in = R^T dqkv_out; value heads pass through.
void rope_backward(float* dx, const float* dy, const RopeShape& shape);

}  // namespace clustersim::executor::cpu
