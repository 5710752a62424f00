// CPU pooling kernels for the Plan's elementwise names maxpool (3x3, stride 2, padding 1: the ResNet
// stem), maxpool_backward, global_avgpool and global_avgpool_backward. NHWC layout.
#pragma once

#include <cstdint>

namespace clustersim::executor::cpu {

struct PoolShape {
  std::int64_t batch = 0, height = 0, width = 0, channels = 0;
  std::int64_t out_height() const { return (height + 2 - 3) / 2 + 1; }
  std::int64_t out_width() const { return (width + 2 - 3) / 2 + 1; }
};

// y(N,P,Q,C); argmax(N,P,Q,C) holds the flat index into x (int32) of each maximum (first on ties;
// padding never wins).
void maxpool_forward(float* y, std::int32_t* argmax, const float* x, const PoolShape& shape);
// dx(N,H,W,C) overwritten: zero, then dx[argmax[i]] += dy[i].
void maxpool_backward(float* dx, const float* dy, const std::int32_t* argmax, const PoolShape& shape);

// y(N,C) = mean over H*W of x(N,H,W,C).
void global_avgpool_forward(float* y, const float* x, const PoolShape& shape);
// dx(N,H,W,C) = dy(N,C) / (H*W), overwritten.
void global_avgpool_backward(float* dx, const float* dy, const PoolShape& shape);

}  // namespace clustersim::executor::cpu
