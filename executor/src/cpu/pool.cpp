// Max pooling 3x3/2/1 with argmax, and global average pooling, NHWC.
#include "clustersim/executor/cpu/pool.hpp"

#include <algorithm>

namespace clustersim::executor::cpu {

void maxpool_forward(float* y, std::int32_t* argmax, const float* x, const PoolShape& s) {
  const std::int64_t P = s.out_height(), Q = s.out_width(), C = s.channels;
  for (std::int64_t n = 0; n < s.batch; ++n)
    for (std::int64_t p = 0; p < P; ++p)
      for (std::int64_t q = 0; q < Q; ++q)
        for (std::int64_t c = 0; c < C; ++c) {
          std::int64_t best = -1;
          for (std::int64_t r = 0; r < 3; ++r)
            for (std::int64_t t = 0; t < 3; ++t) {
              const std::int64_t h = p * 2 - 1 + r, w = q * 2 - 1 + t;
              if (h < 0 || h >= s.height || w < 0 || w >= s.width) continue;
              const std::int64_t idx = ((n * s.height + h) * s.width + w) * C + c;
              if (best < 0 || x[idx] > x[best]) best = idx;
            }
          const std::int64_t o = ((n * P + p) * Q + q) * C + c;
          y[o] = x[best];
          argmax[o] = static_cast<std::int32_t>(best);
        }
}

void maxpool_backward(float* dx, const float* dy, const std::int32_t* argmax, const PoolShape& s) {
  const std::int64_t in = s.batch * s.height * s.width * s.channels;
  const std::int64_t out = s.batch * s.out_height() * s.out_width() * s.channels;
  std::fill(dx, dx + in, 0.0f);
  for (std::int64_t i = 0; i < out; ++i) dx[argmax[i]] += dy[i];
}

void global_avgpool_forward(float* y, const float* x, const PoolShape& s) {
  const std::int64_t hw = s.height * s.width, C = s.channels;
  for (std::int64_t n = 0; n < s.batch; ++n) {
    float* yn = y + n * C;
    std::fill(yn, yn + C, 0.0f);
    for (std::int64_t i = 0; i < hw; ++i)
      for (std::int64_t c = 0; c < C; ++c) yn[c] += x[(n * hw + i) * C + c];
    const float inv = 1.0f / static_cast<float>(hw);
    for (std::int64_t c = 0; c < C; ++c) yn[c] *= inv;
  }
}

void global_avgpool_backward(float* dx, const float* dy, const PoolShape& s) {
  const std::int64_t hw = s.height * s.width, C = s.channels;
  const float inv = 1.0f / static_cast<float>(hw);
  for (std::int64_t n = 0; n < s.batch; ++n)
    for (std::int64_t i = 0; i < hw; ++i)
      for (std::int64_t c = 0; c < C; ++c) dx[(n * hw + i) * C + c] = dy[n * C + c] * inv;
}

}  // namespace clustersim::executor::cpu
