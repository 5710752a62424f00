// CUDA layer, RMS and batch normalisation (cuda/norm.hpp). Row statistics: one warp per row, lane
// partial sums in double combined by a fixed shuffle tree, the same formulas as cpu/norm.cpp.
// Column sums (dgamma, dbeta, batch statistics): per-chunk partials in double, summed in chunk
// order by a second kernel, so results do not depend on scheduling. Backward passes compute the
// column sums before dx, so dx may alias dy.
#include "clustersim/executor/cuda/norm.hpp"

#include "check.hpp"
#include "clustersim/executor/cuda/launch.hpp"
#include "device_info.hpp"
#include "device_math.cuh"

namespace clustersim::executor::cuda {

namespace {

using dev::i64;
using dev::load;
using dev::store;

constexpr int kWarps = 8;

__device__ __forceinline__ i64 warp_row() {
  return static_cast<i64>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
}

__global__ void k_layernorm_forward(void* y, DType ty, float* mean, float* rstd, const void* x, DType tx,
                                    const void* gamma, DType tg, const void* beta, DType tb, i64 rows, i64 cols,
                                    float eps) {
  const i64 r = warp_row();
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;
  const i64 base = r * cols;
  double s = 0.0;
  for (i64 c = lane; c < cols; c += 32) s += load(x, tx, base + c);
  const double mu = dev::warp_sum(s) / static_cast<double>(cols);
  double v = 0.0;
  for (i64 c = lane; c < cols; c += 32) {
    const double d = load(x, tx, base + c) - mu;
    v += d * d;
  }
  const double rs = 1.0 / sqrt(dev::warp_sum(v) / static_cast<double>(cols) + eps);
  for (i64 c = lane; c < cols; c += 32) {
    const float xhat = static_cast<float>((load(x, tx, base + c) - mu) * rs);
    store(y, ty, base + c, xhat * load(gamma, tg, c) + (beta != nullptr ? load(beta, tb, c) : 0.0f));
  }
  if (lane == 0) {
    mean[r] = static_cast<float>(mu);
    rstd[r] = static_cast<float>(rs);
  }
}

__global__ void k_rmsnorm_forward(void* y, DType ty, float* rstd, const void* x, DType tx, const void* gamma,
                                  DType tg, i64 rows, i64 cols, float eps) {
  const i64 r = warp_row();
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;
  const i64 base = r * cols;
  double ss = 0.0;
  for (i64 c = lane; c < cols; c += 32) {
    const double v = load(x, tx, base + c);
    ss += v * v;
  }
  const double rs = 1.0 / sqrt(dev::warp_sum(ss) / static_cast<double>(cols) + eps);
  for (i64 c = lane; c < cols; c += 32)
    store(y, ty, base + c, static_cast<float>(load(x, tx, base + c) * rs) * load(gamma, tg, c));
  if (lane == 0) rstd[r] = static_cast<float>(rs);
}

// dx for layernorm (mean != nullptr) and rmsnorm (mean == nullptr), one warp per row.
__global__ void k_rowwise_dx(void* dx, DType tdx, const void* dy, DType tdy, const void* x, DType tx,
                             const void* gamma, DType tg, const float* mean, const float* rstd, i64 rows, i64 cols,
                             bool accumulate) {
  const i64 r = warp_row();
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;
  const i64 base = r * cols;
  const float mu = mean != nullptr ? mean[r] : 0.0f, rs = rstd[r];
  double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
  for (i64 c = lane; c < cols; c += 32) {
    const float xhat = (load(x, tx, base + c) - mu) * rs;
    const float dxhat = load(dy, tdy, base + c) * load(gamma, tg, c);
    sum_dxhat += dxhat;
    sum_dxhat_xhat += static_cast<double>(dxhat) * xhat;
  }
  const float m1 = mean != nullptr ? static_cast<float>(dev::warp_sum(sum_dxhat) / static_cast<double>(cols)) : 0.0f;
  const float m2 = static_cast<float>(dev::warp_sum(sum_dxhat_xhat) / static_cast<double>(cols));
  for (i64 c = lane; c < cols; c += 32) {
    const float xhat = (load(x, tx, base + c) - mu) * rs;
    const float g = rs * (load(dy, tdy, base + c) * load(gamma, tg, c) - m1 - xhat * m2);
    store(dx, tdx, base + c, accumulate ? load(dx, tdx, base + c) + g : g);
  }
}

// What a column reduction sums per element (K values each), in double.
enum class ColumnSum : int {
  dgamma_dbeta,     // {dy * xhat, dy} with row statistics (layernorm; rmsnorm has no mean)
  batch_mean,       // {x}
  batch_var,        // {(x - mean_d)^2} with the double column means of batch_mean
  batch_backward,   // {dy, dy * xhat} with column statistics
};

struct ColumnArgs {
  const void* x = nullptr;
  DType tx = DType::fp32;
  const void* dy = nullptr;
  DType tdy = DType::fp32;
  const float* mean = nullptr;  // per row (dgamma_dbeta) or per column (batch_backward)
  const float* rstd = nullptr;
  const double* col_mean = nullptr;  // batch_var
};

// partials[(k * chunks + chunk) * cols + c]
template <ColumnSum What>
__global__ void k_column_sums(double* partials, ColumnArgs a, i64 rows, i64 cols, i64 rows_per_chunk) {
  const i64 c = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
  const i64 chunk = blockIdx.y, chunks = gridDim.y;
  if (c >= cols) return;
  const i64 r0 = chunk * rows_per_chunk, r1 = min(rows, r0 + rows_per_chunk);
  double s0 = 0.0, s1 = 0.0;
  for (i64 r = r0; r < r1; ++r) {
    const i64 e = r * cols + c;
    if constexpr (What == ColumnSum::dgamma_dbeta) {
      const float mu = a.mean != nullptr ? a.mean[r] : 0.0f;
      const float xhat = (load(a.x, a.tx, e) - mu) * a.rstd[r];
      const float d = load(a.dy, a.tdy, e);
      s0 += d * xhat;
      s1 += d;
    } else if constexpr (What == ColumnSum::batch_mean) {
      s0 += load(a.x, a.tx, e);
    } else if constexpr (What == ColumnSum::batch_var) {
      const double d = load(a.x, a.tx, e) - a.col_mean[c];
      s0 += d * d;
    } else {
      const float xhat = (load(a.x, a.tx, e) - a.mean[c]) * a.rstd[c];
      const float d = load(a.dy, a.tdy, e);
      s0 += d;
      s1 += static_cast<double>(d) * xhat;
    }
  }
  partials[chunk * cols + c] = s0;
  partials[(chunks + chunk) * cols + c] = s1;
}

// out0/out1[c] = sums of the chunks' partials, in chunk order.
__global__ void k_column_totals(double* out0, double* out1, const double* partials, i64 chunks, i64 cols) {
  CLUSTERSIM_GRID_LOOP(c, cols) {
    double s0 = 0.0, s1 = 0.0;
    for (i64 k = 0; k < chunks; ++k) {
      s0 += partials[k * cols + c];
      s1 += partials[(chunks + k) * cols + c];
    }
    out0[c] = s0;
    if (out1 != nullptr) out1[c] = s1;
  }
}

// layernorm/rmsnorm: dgamma[c] += float(sum dy*xhat); dbeta[c] += float(sum dy)
__global__ void k_add_column_totals(void* dgamma, DType tg, void* dbeta, DType tb, const double* s0, const double* s1,
                                    i64 cols) {
  CLUSTERSIM_GRID_LOOP(c, cols) {
    store(dgamma, tg, c, load(dgamma, tg, c) + static_cast<float>(s0[c]));
    if (dbeta != nullptr) store(dbeta, tb, c, load(dbeta, tb, c) + static_cast<float>(s1[c]));
  }
}

__global__ void k_batch_stats(float* mean, float* rstd, double* mean_d, const double* sum, const double* var_sum,
                              i64 rows, i64 cols, float eps, bool finish_var) {
  CLUSTERSIM_GRID_LOOP(c, cols) {
    if (!finish_var) {
      mean_d[c] = sum[c] / static_cast<double>(rows);
      mean[c] = static_cast<float>(mean_d[c]);
    } else {
      rstd[c] = static_cast<float>(1.0 / sqrt(var_sum[c] / static_cast<double>(rows) + eps));
    }
  }
}

__global__ void k_batch_normalize(void* y, DType ty, const void* x, DType tx, const float* mean, const float* rstd,
                                  const void* gamma, DType tg, const void* beta, DType tb, i64 rows, i64 cols) {
  CLUSTERSIM_GRID_LOOP(i, rows * cols) {
    const i64 c = i % cols;
    store(y, ty, i,
          (load(x, tx, i) - mean[c]) * rstd[c] * load(gamma, tg, c) + (beta != nullptr ? load(beta, tb, c) : 0.0f));
  }
}

// batchnorm backward: dgamma += float(sum_dy_xhat), dbeta += float(sum_dy), then dx.
__global__ void k_batch_dx(void* dx, DType tdx, const void* dy, DType tdy, const void* x, DType tx, const void* gamma,
                           DType tg, const float* mean, const float* rstd, const double* sum_dy,
                           const double* sum_dy_xhat, i64 rows, i64 cols, bool accumulate) {
  const double n = static_cast<double>(rows);
  CLUSTERSIM_GRID_LOOP(i, rows * cols) {
    const i64 c = i % cols;
    const float xhat = (load(x, tx, i) - mean[c]) * rstd[c];
    const float m1 = static_cast<float>(sum_dy[c] / n);
    const float m2 = static_cast<float>(sum_dy_xhat[c] / n);
    const float g = load(gamma, tg, c) * rstd[c] * (load(dy, tdy, i) - m1 - xhat * m2);
    store(dx, tdx, i, accumulate ? load(dx, tdx, i) + g : g);
  }
}

int sm_count() {
  return detail::current_device_info().sm_count;
}

// Runs a column reduction into totals t0, t1 (cols doubles each; t1 may be null) through scratch
// partials at `partials`.
template <ColumnSum What>
void column_sums(double* t0, double* t1, double* partials, const ColumnReduceConfig& c, const ColumnArgs& args,
                 i64 rows, i64 cols, DeviceStream stream) {
  k_column_sums<What><<<dim3(static_cast<unsigned>(c.column_tiles), static_cast<unsigned>(c.row_chunks)), c.threads,
                        0, stream>>>(partials, args, rows, cols, c.rows_per_chunk);
  CUDA_CHECK_LAUNCH();
  const LaunchConfig f = elementwise_launch(cols, sm_count());
  k_column_totals<<<static_cast<unsigned>(f.blocks), f.threads, 0, stream>>>(t0, t1, partials, c.row_chunks, cols);
  CUDA_CHECK_LAUNCH();
}

struct ColumnScratch {
  double *t0, *t1, *extra, *partials;
};

ColumnScratch column_scratch(DeviceScratch& scratch, const ColumnReduceConfig& c, i64 cols) {
  const std::size_t col_bytes = scratch_align(static_cast<std::size_t>(cols) * sizeof(double));
  const std::size_t partial_bytes = scratch_align(static_cast<std::size_t>(2 * c.row_chunks * cols) * sizeof(double));
  ScratchCarver carve(scratch.get(3 * col_bytes + partial_bytes));
  ColumnScratch s{};
  s.t0 = carve.take<double>(static_cast<std::size_t>(cols));
  s.t1 = carve.take<double>(static_cast<std::size_t>(cols));
  s.extra = carve.take<double>(static_cast<std::size_t>(cols));
  s.partials = carve.take<double>(static_cast<std::size_t>(2 * c.row_chunks * cols));
  return s;
}

void row_dgamma_dbeta(DeviceTensor dgamma, DeviceTensor dbeta, ConstDeviceTensor dy, ConstDeviceTensor x,
                      const float* mean, const float* rstd, i64 rows, i64 cols, DeviceScratch& scratch,
                      DeviceStream stream) {
  const ColumnReduceConfig c = column_reduce_launch(rows, cols, sm_count());
  const ColumnScratch s = column_scratch(scratch, c, cols);
  ColumnArgs a;
  a.x = x.data, a.tx = x.dtype, a.dy = dy.data, a.tdy = dy.dtype, a.mean = mean, a.rstd = rstd;
  column_sums<ColumnSum::dgamma_dbeta>(s.t0, s.t1, s.partials, c, a, rows, cols, stream);
  const LaunchConfig f = elementwise_launch(cols, sm_count());
  k_add_column_totals<<<static_cast<unsigned>(f.blocks), f.threads, 0, stream>>>(dgamma.data, dgamma.dtype,
                                                                                dbeta.data, dbeta.dtype, s.t0, s.t1,
                                                                                cols);
  CUDA_CHECK_LAUNCH();
}

void launch_rowwise_dx(DeviceTensor dx, ConstDeviceTensor dy, ConstDeviceTensor x, ConstDeviceTensor gamma,
                       const float* mean, const float* rstd, i64 rows, i64 cols, bool accumulate,
                       DeviceStream stream) {
  const LaunchConfig lc = row_launch(rows, kWarps);
  k_rowwise_dx<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(
      dx.data, dx.dtype, dy.data, dy.dtype, x.data, x.dtype, gamma.data, gamma.dtype, mean, rstd, rows, cols,
      accumulate);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void layernorm_forward(DeviceTensor y, float* mean, float* rstd, ConstDeviceTensor x, ConstDeviceTensor gamma,
                       ConstDeviceTensor beta, std::int64_t rows, std::int64_t cols, float eps, DeviceStream stream) {
  if (rows <= 0) return;
  const LaunchConfig lc = row_launch(rows, kWarps);
  k_layernorm_forward<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(
      y.data, y.dtype, mean, rstd, x.data, x.dtype, gamma.data, gamma.dtype, beta.data, beta.dtype, rows, cols, eps);
  CUDA_CHECK_LAUNCH();
}

void layernorm_backward(DeviceTensor dx, DeviceTensor dgamma, DeviceTensor dbeta, ConstDeviceTensor dy,
                        ConstDeviceTensor x, ConstDeviceTensor gamma, const float* mean, const float* rstd,
                        std::int64_t rows, std::int64_t cols, bool accumulate_dx, DeviceScratch& scratch,
                        DeviceStream stream) {
  if (rows <= 0) return;
  row_dgamma_dbeta(dgamma, dbeta, dy, x, mean, rstd, rows, cols, scratch, stream);
  launch_rowwise_dx(dx, dy, x, gamma, mean, rstd, rows, cols, accumulate_dx, stream);
}

void rmsnorm_forward(DeviceTensor y, float* rstd, ConstDeviceTensor x, ConstDeviceTensor gamma, std::int64_t rows,
                     std::int64_t cols, float eps, DeviceStream stream) {
  if (rows <= 0) return;
  const LaunchConfig lc = row_launch(rows, kWarps);
  k_rmsnorm_forward<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(
      y.data, y.dtype, rstd, x.data, x.dtype, gamma.data, gamma.dtype, rows, cols, eps);
  CUDA_CHECK_LAUNCH();
}

void rmsnorm_backward(DeviceTensor dx, DeviceTensor dgamma, ConstDeviceTensor dy, ConstDeviceTensor x,
                      ConstDeviceTensor gamma, const float* rstd, std::int64_t rows, std::int64_t cols,
                      bool accumulate_dx, DeviceScratch& scratch, DeviceStream stream) {
  if (rows <= 0) return;
  row_dgamma_dbeta(dgamma, DeviceTensor{nullptr, dgamma.dtype}, dy, x, nullptr, rstd, rows, cols, scratch, stream);
  launch_rowwise_dx(dx, dy, x, gamma, nullptr, rstd, rows, cols, accumulate_dx, stream);
}

void batchnorm_forward(DeviceTensor y, float* mean, float* rstd, ConstDeviceTensor x, ConstDeviceTensor gamma,
                       ConstDeviceTensor beta, std::int64_t rows, std::int64_t cols, float eps,
                       DeviceScratch& scratch, DeviceStream stream) {
  if (rows <= 0 || cols <= 0) return;
  const ColumnReduceConfig c = column_reduce_launch(rows, cols, sm_count());
  const ColumnScratch s = column_scratch(scratch, c, cols);
  ColumnArgs a;
  a.x = x.data, a.tx = x.dtype;
  column_sums<ColumnSum::batch_mean>(s.t0, nullptr, s.partials, c, a, rows, cols, stream);
  const LaunchConfig f = elementwise_launch(cols, sm_count());
  k_batch_stats<<<static_cast<unsigned>(f.blocks), f.threads, 0, stream>>>(mean, rstd, s.extra, s.t0, nullptr, rows,
                                                                          cols, eps, false);
  CUDA_CHECK_LAUNCH();
  a.col_mean = s.extra;
  column_sums<ColumnSum::batch_var>(s.t1, nullptr, s.partials, c, a, rows, cols, stream);
  k_batch_stats<<<static_cast<unsigned>(f.blocks), f.threads, 0, stream>>>(mean, rstd, s.extra, nullptr, s.t1, rows,
                                                                          cols, eps, true);
  CUDA_CHECK_LAUNCH();
  const LaunchConfig e = elementwise_launch(rows * cols, sm_count());
  k_batch_normalize<<<static_cast<unsigned>(e.blocks), e.threads, 0, stream>>>(
      y.data, y.dtype, x.data, x.dtype, mean, rstd, gamma.data, gamma.dtype, beta.data, beta.dtype, rows, cols);
  CUDA_CHECK_LAUNCH();
}

void batchnorm_backward(DeviceTensor dx, DeviceTensor dgamma, DeviceTensor dbeta, ConstDeviceTensor dy,
                        ConstDeviceTensor x, ConstDeviceTensor gamma, const float* mean, const float* rstd,
                        std::int64_t rows, std::int64_t cols, bool accumulate_dx, DeviceScratch& scratch,
                        DeviceStream stream) {
  if (rows <= 0 || cols <= 0) return;
  const ColumnReduceConfig c = column_reduce_launch(rows, cols, sm_count());
  const ColumnScratch s = column_scratch(scratch, c, cols);
  ColumnArgs a;
  a.x = x.data, a.tx = x.dtype, a.dy = dy.data, a.tdy = dy.dtype, a.mean = mean, a.rstd = rstd;
  column_sums<ColumnSum::batch_backward>(s.t0, s.t1, s.partials, c, a, rows, cols, stream);
  const LaunchConfig f = elementwise_launch(cols, sm_count());
  // dgamma += sum_dy_xhat (t1), dbeta += sum_dy (t0)
  k_add_column_totals<<<static_cast<unsigned>(f.blocks), f.threads, 0, stream>>>(dgamma.data, dgamma.dtype,
                                                                                dbeta.data, dbeta.dtype, s.t1, s.t0,
                                                                                cols);
  CUDA_CHECK_LAUNCH();
  const LaunchConfig e = elementwise_launch(rows * cols, sm_count());
  k_batch_dx<<<static_cast<unsigned>(e.blocks), e.threads, 0, stream>>>(
      dx.data, dx.dtype, dy.data, dy.dtype, x.data, x.dtype, gamma.data, gamma.dtype, mean, rstd, s.t0, s.t1, rows,
      cols, accumulate_dx);
  CUDA_CHECK_LAUNCH();
}

}  // namespace clustersim::executor::cuda
