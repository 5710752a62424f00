// CPU 2-D convolution kernels for the Plan's `conv2d` op (Conv2dParams): NHWC activations, filters
// (K, R, S, C), no bias, by im2col + GEMM per image. Square stride and zero padding on all sides.
#pragma once

#include <cstdint>

namespace clustersim::executor::cpu {

struct ConvShape {
  std::int64_t batch = 0, in_channels = 0, out_channels = 0, height = 0, width = 0;
  std::int64_t kernel_h = 1, kernel_w = 1, stride = 1, padding = 0;
  std::int64_t out_height() const { return (height + 2 * padding - kernel_h) / stride + 1; }
  std::int64_t out_width() const { return (width + 2 * padding - kernel_w) / stride + 1; }
};

// fp32 scratch the conv kernels need (one image's column matrix).
std::int64_t conv2d_workspace_elements(const ConvShape& shape);

// y(N,P,Q,K) = conv(x(N,H,W,C), w(K,R,S,C)); y overwritten.
void conv2d_forward(float* y, const float* x, const float* w, const ConvShape& shape, float* workspace);
// dx(N,H,W,C) overwritten.
void conv2d_backward_data(float* dx, const float* dy, const float* w, const ConvShape& shape, float* workspace);
// dw(K,R,S,C) accumulated (+=).
void conv2d_backward_filter(float* dw, const float* dy, const float* x, const ConvShape& shape, float* workspace);

}  // namespace clustersim::executor::cpu
