// Deterministic CUDA reductions (cuda/reduce.hpp): column sums over row chunks for bias_grad,
// two-level sums of squares for grad_norm_sq, the non-finite flag of check_finite, clipping by a
// norm read on the device, and the step's loss statistics.
#include "clustersim/executor/cuda/reduce.hpp"

#include <algorithm>

#include "check.hpp"
#include "clustersim/executor/cuda/launch.hpp"
#include "device_info.hpp"
#include "device_math.cuh"

namespace clustersim::executor::cuda {

namespace {

using dev::i64;
using dev::load;
using dev::store;

constexpr int kSumBlocksMax = 1024;

// partials[chunk * cols + c] = sum over the chunk's rows of dy[r, c]
__global__ void k_column_partials(double* partials, const void* dy, DType t, i64 rows, i64 cols, i64 rows_per_chunk) {
  const i64 c = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
  const i64 chunk = blockIdx.y;
  if (c >= cols) return;
  const i64 r0 = chunk * rows_per_chunk, r1 = min(rows, r0 + rows_per_chunk);
  double acc = 0.0;
  for (i64 r = r0; r < r1; ++r) acc += load(dy, t, r * cols + c);
  partials[chunk * cols + c] = acc;
}

__global__ void k_column_finish(void* dbias, DType t, const double* partials, i64 chunks, i64 cols) {
  CLUSTERSIM_GRID_LOOP(c, cols) {
    double s = 0.0;
    for (i64 k = 0; k < chunks; ++k) s += partials[k * cols + c];
    store(dbias, t, c, static_cast<float>(load(dbias, t, c) + s));
  }
}

__global__ void k_mark_nonfinite(float* flag, const void* x, DType t, i64 n) {
  bool bad = false;
  CLUSTERSIM_GRID_LOOP(i, n) bad |= !isfinite(load(x, t, i));
  if (__syncthreads_or(bad) && threadIdx.x == 0) *flag = 1.0f;
}

__global__ void k_squares_partials(double* partials, const void* x, DType t, i64 n) {
  __shared__ double shared[32];
  double acc = 0.0;
  CLUSTERSIM_GRID_LOOP(i, n) {
    const double v = load(x, t, i);
    acc += v * v;
  }
  acc = dev::block_sum(acc, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

// acc = float(double(acc) + weight * sum of partials[0, count)), in a fixed order.
__global__ void k_squares_finish(float* acc, const double* partials, i64 count, double weight) {
  __shared__ double shared[32];
  double s = 0.0;
  for (i64 i = threadIdx.x; i < count; i += blockDim.x) s += partials[i];
  s = dev::block_sum(s, shared);
  if (threadIdx.x == 0) *acc = static_cast<float>(static_cast<double>(*acc) + weight * s);
}

__global__ void k_clip(void* x, DType t, i64 n, const float* norm_sq, double loss_scale_sq, double max_norm) {
  const double ns = static_cast<double>(*norm_sq) / loss_scale_sq;
  if (!(ns > 0.0) || !isfinite(ns)) return;  // cpu::clip_factor: factor 1
  const float f = static_cast<float>(fmin(1.0, max_norm / sqrt(ns)));
  if (f == 1.0f) return;
  CLUSTERSIM_GRID_LOOP(i, n) store(x, t, i, load(x, t, i) * f);
}

__global__ void k_losses(LossStats* stats, const float* losses, const std::int32_t* targets, i64 rows) {
  __shared__ double shared[32];
  __shared__ unsigned long long shared_count[32];
  double sum = 0.0;
  unsigned long long count = 0;
  for (i64 r = threadIdx.x; r < rows; r += blockDim.x) {
    if (targets != nullptr && targets[r] < 0) continue;
    sum += losses[r];
    ++count;
  }
  sum = dev::block_sum(sum, shared);
  count = dev::block_sum(count, shared_count);
  if (threadIdx.x == 0) {
    atomicAdd(&stats->sum, sum);
    atomicAdd(&stats->count, count);
  }
}

}  // namespace

void bias_grad(DeviceTensor dbias, ConstDeviceTensor dy, std::int64_t rows, std::int64_t n, DeviceScratch& scratch,
               DeviceStream stream) {
  if (rows <= 0 || n <= 0) return;
  const ColumnReduceConfig c = column_reduce_launch(rows, n, detail::current_device_info().sm_count);
  auto* partials = static_cast<double*>(scratch.get(static_cast<std::size_t>(c.row_chunks * n) * sizeof(double)));
  k_column_partials<<<dim3(static_cast<unsigned>(c.column_tiles), static_cast<unsigned>(c.row_chunks)), c.threads, 0,
                      stream>>>(partials, dy.data, dy.dtype, rows, n, c.rows_per_chunk);
  CUDA_CHECK_LAUNCH();
  const LaunchConfig f = elementwise_launch(n, detail::current_device_info().sm_count);
  k_column_finish<<<static_cast<unsigned>(f.blocks), f.threads, 0, stream>>>(dbias.data, dbias.dtype, partials,
                                                                            c.row_chunks, n);
  CUDA_CHECK_LAUNCH();
}

void mark_nonfinite(float* flag, ConstDeviceTensor x, std::int64_t n, DeviceStream stream) {
  if (n <= 0) return;
  const LaunchConfig lc = elementwise_launch(n, detail::current_device_info().sm_count);
  k_mark_nonfinite<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(flag, x.data, x.dtype, n);
  CUDA_CHECK_LAUNCH();
}

void grad_norm_sq(float* acc, const ConstDeviceTensor* inputs, const std::int64_t* counts, std::size_t n_inputs,
                  double weight, DeviceScratch& scratch, DeviceStream stream) {
  const std::size_t slots = std::max<std::size_t>(1, n_inputs) * kSumBlocksMax;
  auto* partials = static_cast<double*>(scratch.get(slots * sizeof(double)));
  CUDA_CHECK(cudaMemsetAsync(partials, 0, slots * sizeof(double), stream));
  for (std::size_t k = 0; k < n_inputs; ++k) {
    if (counts[k] <= 0) continue;
    LaunchConfig lc = elementwise_launch(counts[k], detail::current_device_info().sm_count);
    lc.blocks = std::min<std::int64_t>(lc.blocks, kSumBlocksMax);
    k_squares_partials<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(
        partials + k * kSumBlocksMax, inputs[k].data, inputs[k].dtype, counts[k]);
    CUDA_CHECK_LAUNCH();
  }
  k_squares_finish<<<1, 1024, 0, stream>>>(acc, partials, static_cast<i64>(slots), weight);
  CUDA_CHECK_LAUNCH();
}

void clip_by_norm(DeviceTensor x, std::int64_t n, const float* norm_sq, double loss_scale_sq, double max_norm,
                  DeviceStream stream) {
  if (n <= 0) return;
  const LaunchConfig lc = elementwise_launch(n, detail::current_device_info().sm_count);
  k_clip<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(x.data, x.dtype, n, norm_sq,
                                                                      loss_scale_sq, max_norm);
  CUDA_CHECK_LAUNCH();
}

void accumulate_losses(LossStats* stats, const float* losses, const std::int32_t* targets, std::int64_t rows,
                       DeviceStream stream) {
  if (rows <= 0) return;
  k_losses<<<1, 1024, 0, stream>>>(stats, losses, targets, rows);
  CUDA_CHECK_LAUNCH();
}

}  // namespace clustersim::executor::cuda
