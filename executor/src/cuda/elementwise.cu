// CUDA elementwise kernels (cuda/elementwise.hpp): grid-stride loops over elements of any float
// storage dtype, the same arithmetic as the CPU kernels of cpu/activation.cpp, cpu/dropout.cpp,
// cpu/misc.cpp and cpu/cast.cpp, plus fills, normal initialisation, rotary embedding, the device
// delay and small helpers of the GEMM and collective paths.
#include "clustersim/executor/cuda/elementwise.hpp"

#include <cmath>

#include "check.hpp"
#include "clustersim/executor/cuda/launch.hpp"
#include "clustersim/executor/rng.hpp"
#include "device_info.hpp"
#include "device_math.cuh"

namespace clustersim::executor::cuda {

namespace {

using dev::i64;
using dev::load;
using dev::store;

constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluA = 0.044715f;

LaunchConfig grid_for(i64 n) {
  return elementwise_launch(n, detail::current_device_info().sm_count);
}

#define CLUSTERSIM_LAUNCH(kernel, n, stream, ...)                                                            \
  do {                                                                                                     \
    const LaunchConfig lc_ = grid_for(n);                                                                  \
    kernel<<<static_cast<unsigned>(lc_.blocks), lc_.threads, 0, stream>>>(__VA_ARGS__);                   \
    CUDA_CHECK_LAUNCH();                                                                                   \
  } while (0)

__global__ void k_residual_add(void* out, DType to, const void* a, DType ta, const void* b, DType tb, i64 n) {
  CLUSTERSIM_GRID_LOOP(i, n) store(out, to, i, load(a, ta, i) + load(b, tb, i));
}

__global__ void k_add_inplace(void* out, DType to, const void* a, DType ta, i64 n) {
  CLUSTERSIM_GRID_LOOP(i, n) store(out, to, i, load(out, to, i) + load(a, ta, i));
}

__global__ void k_scale(void* x, DType t, i64 n, float s) {
  CLUSTERSIM_GRID_LOOP(i, n) store(x, t, i, load(x, t, i) * s);
}

__global__ void k_bias_add(void* x, DType tx, const void* bias, DType tb, i64 rows, i64 n) {
  CLUSTERSIM_GRID_LOOP(i, rows * n) store(x, tx, i, load(x, tx, i) + load(bias, tb, i % n));
}

__global__ void k_bias_fill(void* y, DType ty, const void* bias, DType tb, i64 rows, i64 n, bool accumulate) {
  CLUSTERSIM_GRID_LOOP(i, rows * n) {
    const float b = load(bias, tb, i % n);
    store(y, ty, i, accumulate ? load(y, ty, i) + b : b);
  }
}

__global__ void k_convert(void* y, DType ty, const void* x, DType tx, i64 n) {
  CLUSTERSIM_GRID_LOOP(i, n) store(y, ty, i, load(x, tx, i));
}

__global__ void k_fill_float(void* y, DType t, i64 n, float v) {
  CLUSTERSIM_GRID_LOOP(i, n) store(y, t, i, v);
}

template <typename T>
__global__ void k_fill_int(T* y, i64 n, T v) {
  CLUSTERSIM_GRID_LOOP(i, n) y[i] = v;
}

__global__ void k_normal_init(void* y, DType t, NormalInit in, i64 n) {
  CLUSTERSIM_GRID_LOOP(i, n) {
    const i64 k = i % in.inner;
    const i64 rest = i / in.inner;
    const i64 j = rest % in.mid;
    const i64 o = rest / in.mid;
    const i64 full = (o * in.full_mid + in.shard * in.mid + j) * in.inner + k;
    store(y, t, i, static_cast<float>(in.std * normal01(in.key, static_cast<std::uint64_t>(full))));
  }
}

__global__ void k_gelu(void* y, DType ty, const void* x, DType tx, i64 n) {
  CLUSTERSIM_GRID_LOOP(i, n) {
    const float v = load(x, tx, i);
    store(y, ty, i, 0.5f * v * (1.0f + tanhf(kGeluC * (v + kGeluA * v * v * v))));
  }
}

__global__ void k_gelu_backward(void* dx, DType tdx, const void* x, DType tx, const void* dy, DType tdy, i64 n) {
  CLUSTERSIM_GRID_LOOP(i, n) {
    const float v = load(x, tx, i);
    const float t = tanhf(kGeluC * (v + kGeluA * v * v * v));
    const float d = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kGeluC * (1.0f + 3.0f * kGeluA * v * v);
    store(dx, tdx, i, load(dy, tdy, i) * d);
  }
}

__global__ void k_relu(void* y, DType ty, const void* x, DType tx, i64 n) {
  CLUSTERSIM_GRID_LOOP(i, n) {
    const float v = load(x, tx, i);
    store(y, ty, i, v > 0.0f ? v : 0.0f);
  }
}

__global__ void k_relu_backward(void* dx, DType tdx, const void* y, DType ty, const void* dy, DType tdy, i64 n) {
  CLUSTERSIM_GRID_LOOP(i, n) store(dx, tdx, i, load(y, ty, i) > 0.0f ? load(dy, tdy, i) : 0.0f);
}

__global__ void k_swiglu(void* y, DType ty, const void* x, DType tx, i64 rows, i64 f) {
  CLUSTERSIM_GRID_LOOP(i, rows * f) {
    const i64 r = i / f, j = i % f;
    const float a = load(x, tx, r * 2 * f + j), b = load(x, tx, r * 2 * f + f + j);
    const float sig = 1.0f / (1.0f + expf(-a));
    store(y, ty, i, a * sig * b);
  }
}

__global__ void k_swiglu_backward(void* dx, DType tdx, const void* x, DType tx, const void* dy, DType tdy, i64 rows,
                                  i64 f) {
  CLUSTERSIM_GRID_LOOP(i, rows * f) {
    const i64 r = i / f, j = i % f;
    const float a = load(x, tx, r * 2 * f + j), b = load(x, tx, r * 2 * f + f + j);
    const float d = load(dy, tdy, i);
    const float sig = 1.0f / (1.0f + expf(-a));
    const float silu = a * sig;
    const float dsilu = sig * (1.0f + a * (1.0f - sig));
    store(dx, tdx, r * 2 * f + j, d * b * dsilu);
    store(dx, tdx, r * 2 * f + f + j, d * silu);
  }
}

__global__ void k_dropout(void* y, DType ty, std::uint8_t* mask, const void* x, DType tx, i64 n, float p, float inv,
                          std::uint64_t key) {
  CLUSTERSIM_GRID_LOOP(i, n) {
    const bool kept = p <= 0.0f || dropout_keep(key, static_cast<std::uint64_t>(i), p);
    mask[i] = kept ? 1 : 0;
    store(y, ty, i, kept ? load(x, tx, i) * inv : 0.0f);
  }
}

__global__ void k_dropout_backward(void* dx, DType tdx, const void* dy, DType tdy, const std::uint8_t* mask, i64 n,
                                   float inv) {
  CLUSTERSIM_GRID_LOOP(i, n) store(dx, tdx, i, mask[i] != 0 ? load(dy, tdy, i) * inv : 0.0f);
}

// cos/sin table (T x half) in double, rounded to float: cpu/activation.cpp's rope_apply.
__global__ void k_rope_table(float* cos_t, float* sin_t, i64 seq, i64 half, i64 head_dim, double theta, i64 offset) {
  CLUSTERSIM_GRID_LOOP(idx, seq * half) {
    const i64 t = idx / half, i = idx % half;
    const double freq = pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    const double angle = static_cast<double>(offset + t) * freq;
    cos_t[idx] = static_cast<float>(cos(angle));
    sin_t[idx] = static_cast<float>(sin(angle));
  }
}

// One thread per rotated pair (element i < D/2 of a query or key head with element i + D/2), so the
// rotation may run in place.
__global__ void k_rope_rotate(void* out, DType to, const void* in, DType ti, const float* cos_t, const float* sin_t,
                              i64 batch, i64 seq, i64 shards, i64 width, i64 rotated_heads, i64 head_dim, float sign) {
  const i64 half = head_dim / 2, pairs = rotated_heads * half, local = seq / shards;
  CLUSTERSIM_GRID_LOOP(idx, batch * seq * pairs) {
    const i64 row = idx / pairs, pr = idx % pairs;
    const i64 shard = row / (batch * local), t = shard * local + row % local;
    const i64 h0 = (pr / half) * head_dim, i = pr % half;
    const i64 e1 = row * width + h0 + i, e2 = e1 + half;
    const float x1 = load(in, ti, e1), x2 = load(in, ti, e2);
    const float c = cos_t[t * half + i], si = sign * sin_t[t * half + i];
    store(out, to, e1, x1 * c - x2 * si);
    store(out, to, e2, x2 * c + x1 * si);
  }
}

// Copies the value heads (columns [rotated, width) of every row).
__global__ void k_copy_columns(void* out, DType to, const void* in, DType ti, i64 rows, i64 width, i64 first) {
  const i64 cols = width - first;
  CLUSTERSIM_GRID_LOOP(idx, rows * cols) {
    const i64 e = (idx / cols) * width + first + idx % cols;
    store(out, to, e, load(in, ti, e));
  }
}

__global__ void k_delay(std::int64_t ns) {
  std::uint64_t start = 0, now = 0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    __nanosleep(1000);
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (static_cast<std::int64_t>(now - start) < ns);
}

template <typename T>
__global__ void k_add_integers(T* dst, const T* src, i64 n) {
  CLUSTERSIM_GRID_LOOP(i, n) dst[i] += src[i];
}

__global__ void k_transpose_bytes(std::uint8_t* out, const std::uint8_t* in, i64 rows, i64 cols, i64 batch) {
  CLUSTERSIM_GRID_LOOP(idx, rows * cols * batch) {
    const i64 mat = idx / (rows * cols), rem = idx % (rows * cols);
    const i64 c = rem / rows, r = rem % rows;  // output (cols x rows), row c, column r: coalesced writes
    out[idx] = in[mat * rows * cols + r * cols + c];
  }
}

}  // namespace

void residual_add(DeviceTensor out, ConstDeviceTensor a, ConstDeviceTensor b, std::int64_t n, DeviceStream stream) {
  CLUSTERSIM_LAUNCH(k_residual_add, n, stream, out.data, out.dtype, a.data, a.dtype, b.data, b.dtype, n);
}

void add_inplace(DeviceTensor out, ConstDeviceTensor a, std::int64_t n, DeviceStream stream) {
  CLUSTERSIM_LAUNCH(k_add_inplace, n, stream, out.data, out.dtype, a.data, a.dtype, n);
}

void scale_inplace(DeviceTensor x, std::int64_t n, float s, DeviceStream stream) {
  CLUSTERSIM_LAUNCH(k_scale, n, stream, x.data, x.dtype, n, s);
}

void bias_add(DeviceTensor x, ConstDeviceTensor bias, std::int64_t rows, std::int64_t n, DeviceStream stream) {
  CLUSTERSIM_LAUNCH(k_bias_add, rows * n, stream, x.data, x.dtype, bias.data, bias.dtype, rows, n);
}

void bias_fill(DeviceTensor y, ConstDeviceTensor bias, std::int64_t rows, std::int64_t n, bool accumulate,
               DeviceStream stream) {
  CLUSTERSIM_LAUNCH(k_bias_fill, rows * n, stream, y.data, y.dtype, bias.data, bias.dtype, rows, n, accumulate);
}

void convert(DeviceTensor y, ConstDeviceTensor x, std::int64_t n, DeviceStream stream) {
  if (n <= 0) return;
  const bool same = y.dtype == x.dtype || ((y.dtype == DType::fp32 || y.dtype == DType::tf32) &&
                                           (x.dtype == DType::fp32 || x.dtype == DType::tf32));
  if (same) {
    if (y.data != x.data)
      CUDA_CHECK(cudaMemcpyAsync(y.data, x.data, static_cast<std::size_t>(n * dtype_bytes(x.dtype)),
                                 cudaMemcpyDeviceToDevice, stream));
    return;
  }
  CLUSTERSIM_LAUNCH(k_convert, n, stream, y.data, y.dtype, x.data, x.dtype, n);
}

void fill(DeviceTensor y, std::int64_t n, double value, DeviceStream stream) {
  switch (y.dtype) {
    case DType::int32:
      CLUSTERSIM_LAUNCH(k_fill_int<std::int32_t>, n, stream, static_cast<std::int32_t*>(y.data), n,
                        static_cast<std::int32_t>(value));
      return;
    case DType::int64:
      CLUSTERSIM_LAUNCH(k_fill_int<std::int64_t>, n, stream, static_cast<std::int64_t*>(y.data), n,
                        static_cast<std::int64_t>(value));
      return;
    case DType::uint8:
      CLUSTERSIM_LAUNCH(k_fill_int<std::uint8_t>, n, stream, static_cast<std::uint8_t*>(y.data), n,
                        static_cast<std::uint8_t>(value));
      return;
    default:
      CLUSTERSIM_LAUNCH(k_fill_float, n, stream, y.data, y.dtype, n, static_cast<float>(value));
  }
}

void normal_init(DeviceTensor y, const NormalInit& init, DeviceStream stream) {
  NormalInit in = init;
  in.inner = in.inner > 0 ? in.inner : 1;
  in.mid = in.mid > 0 ? in.mid : 1;
  const i64 n = in.outer * in.mid * in.inner;
  CLUSTERSIM_LAUNCH(k_normal_init, n, stream, y.data, y.dtype, in, n);
}

void gelu_forward(DeviceTensor y, ConstDeviceTensor x, std::int64_t n, DeviceStream stream) {
  CLUSTERSIM_LAUNCH(k_gelu, n, stream, y.data, y.dtype, x.data, x.dtype, n);
}

void gelu_backward(DeviceTensor dx, ConstDeviceTensor x, ConstDeviceTensor dy, std::int64_t n, DeviceStream stream) {
  CLUSTERSIM_LAUNCH(k_gelu_backward, n, stream, dx.data, dx.dtype, x.data, x.dtype, dy.data, dy.dtype, n);
}

void relu_forward(DeviceTensor y, ConstDeviceTensor x, std::int64_t n, DeviceStream stream) {
  CLUSTERSIM_LAUNCH(k_relu, n, stream, y.data, y.dtype, x.data, x.dtype, n);
}

void relu_backward(DeviceTensor dx, ConstDeviceTensor y, ConstDeviceTensor dy, std::int64_t n, DeviceStream stream) {
  CLUSTERSIM_LAUNCH(k_relu_backward, n, stream, dx.data, dx.dtype, y.data, y.dtype, dy.data, dy.dtype, n);
}

void swiglu_forward(DeviceTensor y, ConstDeviceTensor x, std::int64_t rows, std::int64_t f, DeviceStream stream) {
  CLUSTERSIM_LAUNCH(k_swiglu, rows * f, stream, y.data, y.dtype, x.data, x.dtype, rows, f);
}

void swiglu_backward(DeviceTensor dx, ConstDeviceTensor x, ConstDeviceTensor dy, std::int64_t rows, std::int64_t f,
                     DeviceStream stream) {
  CLUSTERSIM_LAUNCH(k_swiglu_backward, rows * f, stream, dx.data, dx.dtype, x.data, x.dtype, dy.data, dy.dtype, rows,
                    f);
}

void dropout_forward(DeviceTensor y, std::uint8_t* mask, ConstDeviceTensor x, std::int64_t n, float p,
                     std::uint64_t key, DeviceStream stream) {
  const float inv = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
  CLUSTERSIM_LAUNCH(k_dropout, n, stream, y.data, y.dtype, mask, x.data, x.dtype, n, p, inv, key);
}

void dropout_backward(DeviceTensor dx, ConstDeviceTensor dy, const std::uint8_t* mask, std::int64_t n, float p,
                      DeviceStream stream) {
  const float inv = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
  CLUSTERSIM_LAUNCH(k_dropout_backward, n, stream, dx.data, dx.dtype, dy.data, dy.dtype, mask, n, inv);
}

namespace {

void rope_apply(DeviceTensor out, ConstDeviceTensor in, const cpu::RopeShape& s, float sign, DeviceScratch& scratch,
                DeviceStream stream) {
  const i64 half = s.head_dim / 2, shards = s.seq_shards > 1 ? s.seq_shards : 1;
  const i64 width = (s.heads + 2 * s.kv_heads) * s.head_dim, rotated = s.heads + s.kv_heads;
  ScratchCarver carve(scratch.get(2 * scratch_align(static_cast<std::size_t>(s.seq * half) * sizeof(float))));
  float* cos_t = carve.take<float>(static_cast<std::size_t>(s.seq * half));
  float* sin_t = carve.take<float>(static_cast<std::size_t>(s.seq * half));
  CLUSTERSIM_LAUNCH(k_rope_table, s.seq * half, stream, cos_t, sin_t, s.seq, half, s.head_dim, s.theta,
                    s.position_offset);
  CLUSTERSIM_LAUNCH(k_rope_rotate, s.batch * s.seq * rotated * half, stream, out.data, out.dtype, in.data, in.dtype,
                    cos_t, sin_t, s.batch, s.seq, shards, width, rotated, s.head_dim, sign);
  if (out.data != in.data || out.dtype != in.dtype)
    CLUSTERSIM_LAUNCH(k_copy_columns, s.batch * s.seq * s.kv_heads * s.head_dim, stream, out.data, out.dtype, in.data,
                      in.dtype, s.batch * s.seq, width, rotated * s.head_dim);
}

}  // namespace

void rope_forward(DeviceTensor out, ConstDeviceTensor qkv, const cpu::RopeShape& shape, DeviceScratch& scratch,
                  DeviceStream stream) {
  rope_apply(out, qkv, shape, 1.0f, scratch, stream);
}

void rope_backward(DeviceTensor dx, ConstDeviceTensor dy, const cpu::RopeShape& shape, DeviceScratch& scratch,
                   DeviceStream stream) {
  rope_apply(dx, dy, shape, -1.0f, scratch, stream);
}

void device_delay(std::int64_t ns, DeviceStream stream) {
  if (ns <= 0) return;
  k_delay<<<1, 1, 0, stream>>>(ns);
  CUDA_CHECK_LAUNCH();
}

void add_integers(void* dst, const void* src, DType dtype, std::int64_t n, DeviceStream stream) {
  if (dtype == DType::int64)
    CLUSTERSIM_LAUNCH(k_add_integers<std::int64_t>, n, stream, static_cast<std::int64_t*>(dst),
                      static_cast<const std::int64_t*>(src), n);
  else
    CLUSTERSIM_LAUNCH(k_add_integers<std::int32_t>, n, stream, static_cast<std::int32_t*>(dst),
                      static_cast<const std::int32_t*>(src), n);
}

void transpose_bytes(void* out, const void* in, std::int64_t rows, std::int64_t cols, std::int64_t batch,
                     DeviceStream stream) {
  CLUSTERSIM_LAUNCH(k_transpose_bytes, rows * cols * batch, stream, static_cast<std::uint8_t*>(out),
                    static_cast<const std::uint8_t*>(in), rows, cols, batch);
}

}  // namespace clustersim::executor::cuda
