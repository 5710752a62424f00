// CUDA softmax cross-entropy (cuda/softmax_xent.hpp): one block per row. Each thread keeps an online
// (max, sum of exponentials) over its columns; the block combines them with a fixed tree (sums in
// double), as cpu/softmax_xent.cpp's log-sum-exp. The backward pass reads each logit once more and
// writes its gradient in place when dlogits aliases logits (same thread, same element).
#include "clustersim/executor/cuda/softmax_xent.hpp"

#include "check.hpp"
#include "device_math.cuh"

namespace clustersim::executor::cuda {

namespace {

using dev::i64;
using dev::load;
using dev::store;

constexpr int kThreads = 256;

// log-sum-exp of row r (every thread gets it).
__device__ double row_lse(const void* logits, DType t, i64 base, i64 vocab, float* smax, double* ssum) {
  float m = -INFINITY;
  float s = 0.0f;
  for (i64 j = threadIdx.x; j < vocab; j += blockDim.x) {
    const float x = load(logits, t, base + j);
    if (x > m) {
      s = s * expf(m - x) + 1.0f;
      m = x;
    } else if (x != -INFINITY) {
      s += expf(x - m);
    }
  }
  const float mx = dev::block_max(m, smax);
  const double part = m == -INFINITY ? 0.0 : static_cast<double>(s) * exp(static_cast<double>(m) - mx);
  const double sum = dev::block_sum(part, ssum);
  return static_cast<double>(mx) + log(sum);
}

__global__ void k_xent_forward(float* losses, const void* logits, DType t, const std::int32_t* targets, i64 vocab) {
  __shared__ float smax[32];
  __shared__ double ssum[32];
  const i64 r = blockIdx.x;
  const std::int32_t target = targets[r];
  if (target < 0 || target >= vocab) {
    if (threadIdx.x == 0) losses[r] = 0.0f;
    return;
  }
  const double lse = row_lse(logits, t, r * vocab, vocab, smax, ssum);
  if (threadIdx.x == 0) losses[r] = static_cast<float>(lse - load(logits, t, r * vocab + target));
}

__global__ void k_xent_backward(void* dlogits, DType td, const void* logits, DType t, const std::int32_t* targets,
                                i64 vocab, float grad_scale) {
  __shared__ float smax[32];
  __shared__ double ssum[32];
  const i64 r = blockIdx.x, base = r * vocab;
  const std::int32_t target = targets[r];
  if (target < 0 || target >= vocab) {
    for (i64 j = threadIdx.x; j < vocab; j += blockDim.x) store(dlogits, td, base + j, 0.0f);
    return;
  }
  const double lse = row_lse(logits, t, base, vocab, smax, ssum);
  for (i64 j = threadIdx.x; j < vocab; j += blockDim.x) {
    const double p = exp(static_cast<double>(load(logits, t, base + j)) - lse);
    store(dlogits, td, base + j, static_cast<float>((p - (j == target ? 1.0 : 0.0)) * grad_scale));
  }
}

__global__ void k_parallel_max(float* max, const void* logits, DType t, i64 vocab) {
  __shared__ float smax[32];
  const i64 r = blockIdx.x;
  float m = -INFINITY;
  for (i64 j = threadIdx.x; j < vocab; j += blockDim.x) m = fmaxf(m, load(logits, t, r * vocab + j));
  m = dev::block_max(m, smax);
  if (threadIdx.x == 0) max[r] = m;
}

__global__ void k_parallel_stats(float* stats, const void* logits, DType t, const float* max,
                                 const std::int32_t* targets, i64 rows, i64 vocab, i64 offset) {
  __shared__ double ssum[32];
  const i64 r = blockIdx.x;
  const double mx = max[r];
  double s = 0.0;
  for (i64 j = threadIdx.x; j < vocab; j += blockDim.x) s += exp(static_cast<double>(load(logits, t, r * vocab + j)) - mx);
  s = dev::block_sum(s, ssum);
  if (threadIdx.x == 0) {
    stats[r] = static_cast<float>(s);
    const i64 local = static_cast<i64>(targets[r]) - offset;
    stats[rows + r] = targets[r] >= 0 && local >= 0 && local < vocab ? load(logits, t, r * vocab + local) : 0.0f;
  }
}

__global__ void k_parallel_loss(float* losses, const float* stats, const float* max, const std::int32_t* targets,
                                i64 rows) {
  CLUSTERSIM_GRID_LOOP(r, rows) {
    losses[r] = targets != nullptr && targets[r] < 0
                    ? 0.0f
                    : static_cast<float>(log(static_cast<double>(stats[r])) + max[r] - stats[rows + r]);
  }
}

__global__ void k_parallel_backward(void* dlogits, DType td, const void* logits, DType t, const std::int32_t* targets,
                                    const float* max, const float* stats, i64 vocab, i64 offset, float grad_scale) {
  const i64 r = blockIdx.x, base = r * vocab;
  if (targets[r] < 0) {
    for (i64 j = threadIdx.x; j < vocab; j += blockDim.x) store(dlogits, td, base + j, 0.0f);
    return;
  }
  const double inv = 1.0 / static_cast<double>(stats[r]);
  const double mx = max[r];
  const i64 local = static_cast<i64>(targets[r]) - offset;
  for (i64 j = threadIdx.x; j < vocab; j += blockDim.x) {
    const double p = exp(static_cast<double>(load(logits, t, base + j)) - mx) * inv;
    store(dlogits, td, base + j, static_cast<float>((p - (j == local ? 1.0 : 0.0)) * grad_scale));
  }
}

unsigned rows_grid(i64 rows) {
  return static_cast<unsigned>(rows);
}

}  // namespace

void softmax_xent_forward(float* losses, ConstDeviceTensor logits, const std::int32_t* targets, std::int64_t rows,
                          std::int64_t vocab, DeviceStream stream) {
  if (rows <= 0) return;
  k_xent_forward<<<rows_grid(rows), kThreads, 0, stream>>>(losses, logits.data, logits.dtype, targets, vocab);
  CUDA_CHECK_LAUNCH();
}

void softmax_xent_backward(DeviceTensor dlogits, ConstDeviceTensor logits, const std::int32_t* targets,
                           std::int64_t rows, std::int64_t vocab, float grad_scale, DeviceStream stream) {
  if (rows <= 0) return;
  k_xent_backward<<<rows_grid(rows), kThreads, 0, stream>>>(dlogits.data, dlogits.dtype, logits.data, logits.dtype,
                                                            targets, vocab, grad_scale);
  CUDA_CHECK_LAUNCH();
}

void xent_parallel_max(float* max, ConstDeviceTensor logits, std::int64_t rows, std::int64_t vocab_local,
                       DeviceStream stream) {
  if (rows <= 0) return;
  k_parallel_max<<<rows_grid(rows), kThreads, 0, stream>>>(max, logits.data, logits.dtype, vocab_local);
  CUDA_CHECK_LAUNCH();
}

void xent_parallel_stats(float* stats, ConstDeviceTensor logits, const float* max, const std::int32_t* targets,
                         std::int64_t rows, std::int64_t vocab_local, std::int64_t vocab_offset, DeviceStream stream) {
  if (rows <= 0) return;
  k_parallel_stats<<<rows_grid(rows), kThreads, 0, stream>>>(stats, logits.data, logits.dtype, max, targets, rows,
                                                             vocab_local, vocab_offset);
  CUDA_CHECK_LAUNCH();
}

void xent_parallel_loss(float* losses, const float* stats, const float* max, const std::int32_t* targets,
                        std::int64_t rows, DeviceStream stream) {
  if (rows <= 0) return;
  const unsigned blocks = static_cast<unsigned>((rows + kThreads - 1) / kThreads);
  k_parallel_loss<<<blocks, kThreads, 0, stream>>>(losses, stats, max, targets, rows);
  CUDA_CHECK_LAUNCH();
}

void xent_parallel_backward(DeviceTensor dlogits, ConstDeviceTensor logits, const std::int32_t* targets,
                            const float* max, const float* stats, std::int64_t rows, std::int64_t vocab_local,
                            std::int64_t vocab_offset, float grad_scale, DeviceStream stream) {
  if (rows <= 0) return;
  k_parallel_backward<<<rows_grid(rows), kThreads, 0, stream>>>(dlogits.data, dlogits.dtype, logits.data,
                                                                logits.dtype, targets, max, stats, vocab_local,
                                                                vocab_offset, grad_scale);
  CUDA_CHECK_LAUNCH();
}

}  // namespace clustersim::executor::cuda
