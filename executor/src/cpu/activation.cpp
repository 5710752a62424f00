// GELU (tanh), ReLU, SwiGLU and rotary embedding kernels, forward and backward.
#include "clustersim/executor/cpu/activation.hpp"

#include <cmath>
#include <vector>

#include "clustersim/plan/error.hpp"

namespace clustersim::executor::cpu {

namespace {
constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluA = 0.044715f;
}  // namespace

void gelu_forward(float* y, const float* x, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.0f + std::tanh(kGeluC * (v + kGeluA * v * v * v)));
  }
}

void gelu_backward(float* dx, const float* x, const float* dy, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float t = std::tanh(kGeluC * (v + kGeluA * v * v * v));
    const float d = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kGeluC * (1.0f + 3.0f * kGeluA * v * v);
    dx[i] = dy[i] * d;
  }
}

void relu_forward(float* y, const float* x, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_backward(float* dx, const float* y, const float* dy, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void swiglu_forward(float* y, const float* x, std::int64_t rows, std::int64_t f) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* a = x + r * 2 * f;
    const float* b = a + f;
    float* yr = y + r * f;
    for (std::int64_t j = 0; j < f; ++j) {
      const float sig = 1.0f / (1.0f + std::exp(-a[j]));
      yr[j] = a[j] * sig * b[j];
    }
  }
}

void swiglu_backward(float* dx, const float* x, const float* dy, std::int64_t rows, std::int64_t f) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* a = x + r * 2 * f;
    const float* b = a + f;
    const float* d = dy + r * f;
    float* da = dx + r * 2 * f;
    float* db = da + f;
    for (std::int64_t j = 0; j < f; ++j) {
      const float sig = 1.0f / (1.0f + std::exp(-a[j]));
      const float silu = a[j] * sig;
      const float dsilu = sig * (1.0f + a[j] * (1.0f - sig));
      da[j] = d[j] * b[j] * dsilu;
      db[j] = d[j] * silu;
    }
  }
}

namespace {

// Rotates (sign = +1) or counter-rotates (sign = -1) the query and key heads; value heads are copied.
void rope_apply(float* out, const float* in, const RopeShape& s, float sign) {
  require(s.head_dim % 2 == 0, "rope: head_dim must be even");
  const std::int64_t half = s.head_dim / 2;
  const std::int64_t width = (s.heads + 2 * s.kv_heads) * s.head_dim;
  const std::int64_t rotated = (s.heads + s.kv_heads) * s.head_dim;
  std::vector<float> cos_t(static_cast<std::size_t>(s.seq * half)), sin_t(cos_t.size());
  for (std::int64_t t = 0; t < s.seq; ++t)
    for (std::int64_t i = 0; i < half; ++i) {
      const double freq = std::pow(s.theta, -2.0 * static_cast<double>(i) / static_cast<double>(s.head_dim));
      const double angle = static_cast<double>(s.position_offset + t) * freq;
      cos_t[static_cast<std::size_t>(t * half + i)] = static_cast<float>(std::cos(angle));
      sin_t[static_cast<std::size_t>(t * half + i)] = static_cast<float>(std::sin(angle));
    }
  const std::int64_t shards = s.seq_shards > 1 ? s.seq_shards : 1, local = s.seq / shards;
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t t = 0; t < s.seq; ++t) {
      const std::int64_t row = ((t / local) * s.batch + b) * local + t % local;  // == b*T + t when unsharded
      const float* row_in = in + row * width;
      float* row_out = out + row * width;
      const float* c = cos_t.data() + t * half;
      const float* sn = sin_t.data() + t * half;
      for (std::int64_t h0 = 0; h0 < rotated; h0 += s.head_dim) {
        const float* x = row_in + h0;
        float* y = row_out + h0;
        for (std::int64_t i = 0; i < half; ++i) {
          const float x1 = x[i], x2 = x[i + half];
          const float si = sign * sn[i];
          y[i] = x1 * c[i] - x2 * si;
          y[i + half] = x2 * c[i] + x1 * si;
        }
      }
      if (row_out != row_in)
        for (std::int64_t e = rotated; e < width; ++e) row_out[e] = row_in[e];
    }
}

}  // namespace

void rope_forward(float* out, const float* qkv, const RopeShape& shape) {
  rope_apply(out, qkv, shape, 1.0f);
}

void rope_backward(float* dx, const float* dy, const RopeShape& shape) {
  rope_apply(dx, dy, shape, -1.0f);
}

}  // namespace clustersim::executor::cpu
