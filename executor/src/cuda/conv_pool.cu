// CUDA data movement of convolution (im2col, and col2im as a gather) and the pooling kernels
// (cuda/conv_pool.hpp), NHWC as cpu/conv.cpp and cpu/pool.cpp. Max-pool backward gathers, for each
// input element, the gradients of the outputs whose argmax it is, in ascending output order: the
// CPU's scatter order, so the sums are bit-identical.
#include "clustersim/executor/cuda/conv_pool.hpp"

#include "check.hpp"
#include "clustersim/executor/cuda/launch.hpp"
#include "device_info.hpp"
#include "device_math.cuh"

namespace clustersim::executor::cuda {

namespace {

using dev::i64;
using dev::load;
using dev::store;

// cpu::ConvShape / cpu::PoolShape output sizes (their member functions are host code).
__host__ __device__ __forceinline__ i64 conv_out(i64 in, i64 kernel, i64 stride, i64 padding) {
  return (in + 2 * padding - kernel) / stride + 1;
}
__host__ __device__ __forceinline__ i64 pool_out(i64 in) {
  return (in + 2 - 3) / 2 + 1;
}

__global__ void k_im2col(void* col, DType tc, const void* x, DType tx, cpu::ConvShape s, i64 first, i64 images) {
  const i64 P = conv_out(s.height, s.kernel_h, s.stride, s.padding), Q = conv_out(s.width, s.kernel_w, s.stride, s.padding);
  const i64 C = s.in_channels, RSC = s.kernel_h * s.kernel_w * C;
  CLUSTERSIM_GRID_LOOP(i, images * P * Q * RSC) {
    const i64 pos = i / RSC, k = i % RSC;
    const i64 img = pos / (P * Q), pq = pos % (P * Q), p = pq / Q, q = pq % Q;
    const i64 c = k % C, rt = k / C, r = rt / s.kernel_w, t = rt % s.kernel_w;
    const i64 h = p * s.stride - s.padding + r, w = q * s.stride - s.padding + t;
    const bool inside = h >= 0 && h < s.height && w >= 0 && w < s.width;
    store(col, tc, i, inside ? load(x, tx, (((first + img) * s.height + h) * s.width + w) * C + c) : 0.0f);
  }
}

__global__ void k_col2im(void* dx, DType tdx, const float* dcol, cpu::ConvShape s, i64 first, i64 images) {
  const i64 P = conv_out(s.height, s.kernel_h, s.stride, s.padding), Q = conv_out(s.width, s.kernel_w, s.stride, s.padding);
  const i64 C = s.in_channels, RSC = s.kernel_h * s.kernel_w * C;
  CLUSTERSIM_GRID_LOOP(i, images * s.height * s.width * C) {
    const i64 c = i % C, hw = i / C, img = hw / (s.height * s.width);
    const i64 h = (hw / s.width) % s.height, w = hw % s.width;
    float acc = 0.0f;
    for (i64 r = 0; r < s.kernel_h; ++r) {
      const i64 ph = h + s.padding - r;
      if (ph < 0 || ph % s.stride != 0 || ph / s.stride >= P) continue;
      const i64 p = ph / s.stride;
      for (i64 t = 0; t < s.kernel_w; ++t) {
        const i64 qw = w + s.padding - t;
        if (qw < 0 || qw % s.stride != 0 || qw / s.stride >= Q) continue;
        const i64 q = qw / s.stride;
        acc += dcol[((img * P + p) * Q + q) * RSC + (r * s.kernel_w + t) * C + c];
      }
    }
    store(dx, tdx, (first * s.height * s.width * C) + i, acc);
  }
}

__global__ void k_maxpool(void* y, DType ty, std::int32_t* argmax, const void* x, DType tx, cpu::PoolShape s) {
  const i64 P = pool_out(s.height), Q = pool_out(s.width), C = s.channels;
  CLUSTERSIM_GRID_LOOP(o, s.batch * P * Q * C) {
    const i64 c = o % C, q = (o / C) % Q, p = (o / (C * Q)) % P, n = o / (C * Q * P);
    i64 best = -1;
    float best_v = 0.0f;
    for (i64 r = 0; r < 3; ++r)
      for (i64 t = 0; t < 3; ++t) {
        const i64 h = p * 2 - 1 + r, w = q * 2 - 1 + t;
        if (h < 0 || h >= s.height || w < 0 || w >= s.width) continue;
        const i64 idx = ((n * s.height + h) * s.width + w) * C + c;
        const float v = load(x, tx, idx);
        if (best < 0 || v > best_v) {
          best = idx;
          best_v = v;
        }
      }
    store(y, ty, o, best_v);
    argmax[o] = static_cast<std::int32_t>(best);
  }
}

__global__ void k_maxpool_backward(void* dx, DType tdx, const void* dy, DType tdy, const std::int32_t* argmax,
                                   cpu::PoolShape s) {
  const i64 P = pool_out(s.height), Q = pool_out(s.width), C = s.channels;
  CLUSTERSIM_GRID_LOOP(i, s.batch * s.height * s.width * C) {
    const i64 c = i % C, w = (i / C) % s.width, h = (i / (C * s.width)) % s.height, n = i / (C * s.width * s.height);
    // windows p with 2p - 1 <= h <= 2p + 1
    const i64 p0 = max(i64{0}, h / 2), p1 = min(P - 1, (h + 1) / 2);
    const i64 q0 = max(i64{0}, w / 2), q1 = min(Q - 1, (w + 1) / 2);
    float acc = 0.0f;
    for (i64 p = p0; p <= p1; ++p)
      for (i64 q = q0; q <= q1; ++q) {
        const i64 o = ((n * P + p) * Q + q) * C + c;
        if (argmax[o] == i) acc += load(dy, tdy, o);
      }
    store(dx, tdx, i, acc);
  }
}

__global__ void k_avgpool(void* y, DType ty, const void* x, DType tx, cpu::PoolShape s) {
  const i64 hw = s.height * s.width, C = s.channels;
  const float inv = 1.0f / static_cast<float>(hw);
  CLUSTERSIM_GRID_LOOP(o, s.batch * C) {
    const i64 n = o / C, c = o % C;
    float acc = 0.0f;
    for (i64 i = 0; i < hw; ++i) acc += load(x, tx, (n * hw + i) * C + c);
    store(y, ty, o, acc * inv);
  }
}

__global__ void k_avgpool_backward(void* dx, DType tdx, const void* dy, DType tdy, cpu::PoolShape s) {
  const i64 hw = s.height * s.width, C = s.channels;
  const float inv = 1.0f / static_cast<float>(hw);
  CLUSTERSIM_GRID_LOOP(i, s.batch * hw * C) {
    const i64 c = i % C, n = i / (hw * C);
    store(dx, tdx, i, load(dy, tdy, n * C + c) * inv);
  }
}

LaunchConfig grid_for(i64 n) {
  return elementwise_launch(n, detail::current_device_info().sm_count);
}

}  // namespace

void im2col(DeviceTensor col, ConstDeviceTensor x, const cpu::ConvShape& shape, std::int64_t first,
            std::int64_t images, DeviceStream stream) {
  const i64 n = images * shape.out_height() * shape.out_width() * shape.kernel_h * shape.kernel_w * shape.in_channels;
  if (n <= 0) return;
  const LaunchConfig lc = grid_for(n);
  k_im2col<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(col.data, col.dtype, x.data, x.dtype, shape,
                                                                        first, images);
  CUDA_CHECK_LAUNCH();
}

void col2im(DeviceTensor dx, const float* dcol, const cpu::ConvShape& shape, std::int64_t first, std::int64_t images,
            DeviceStream stream) {
  const i64 n = images * shape.height * shape.width * shape.in_channels;
  if (n <= 0) return;
  const LaunchConfig lc = grid_for(n);
  k_col2im<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(dx.data, dx.dtype, dcol, shape, first,
                                                                        images);
  CUDA_CHECK_LAUNCH();
}

void maxpool_forward(DeviceTensor y, std::int32_t* argmax, ConstDeviceTensor x, const cpu::PoolShape& shape,
                     DeviceStream stream) {
  const i64 n = shape.batch * shape.out_height() * shape.out_width() * shape.channels;
  if (n <= 0) return;
  const LaunchConfig lc = grid_for(n);
  k_maxpool<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(y.data, y.dtype, argmax, x.data, x.dtype,
                                                                         shape);
  CUDA_CHECK_LAUNCH();
}

void maxpool_backward(DeviceTensor dx, ConstDeviceTensor dy, const std::int32_t* argmax, const cpu::PoolShape& shape,
                      DeviceStream stream) {
  const i64 n = shape.batch * shape.height * shape.width * shape.channels;
  if (n <= 0) return;
  const LaunchConfig lc = grid_for(n);
  k_maxpool_backward<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(dx.data, dx.dtype, dy.data,
                                                                                  dy.dtype, argmax, shape);
  CUDA_CHECK_LAUNCH();
}

void global_avgpool_forward(DeviceTensor y, ConstDeviceTensor x, const cpu::PoolShape& shape, DeviceStream stream) {
  const i64 n = shape.batch * shape.channels;
  if (n <= 0) return;
  const LaunchConfig lc = grid_for(n);
  k_avgpool<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(y.data, y.dtype, x.data, x.dtype, shape);
  CUDA_CHECK_LAUNCH();
}

void global_avgpool_backward(DeviceTensor dx, ConstDeviceTensor dy, const cpu::PoolShape& shape, DeviceStream stream) {
  const i64 n = shape.batch * shape.height * shape.width * shape.channels;
  if (n <= 0) return;
  const LaunchConfig lc = grid_for(n);
  k_avgpool_backward<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(dx.data, dx.dtype, dy.data,
                                                                                  dy.dtype, shape);
  CUDA_CHECK_LAUNCH();
}

}  // namespace clustersim::executor::cuda
