// Internal, device side: reading and writing elements of any float storage dtype as fp32 with the
// rounding of numeric.hpp (so device results equal the CPU staging bit for bit), warp and block
// reductions, and the grid-stride loop. Included by the .cu files only.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "clustersim/executor/numeric.hpp"
#include "clustersim/plan/types.hpp"

namespace clustersim::executor::cuda::dev {

using i64 = std::int64_t;

// Element i of a buffer stored as `t`, as fp32 (narrow formats decode exactly).
__device__ __forceinline__ float load(const void* p, DType t, i64 i) {
  switch (t) {
    case DType::bf16:
      return bf16_to_float(static_cast<const std::uint16_t*>(p)[i]);
    case DType::fp16:
      return fp16_to_float(static_cast<const std::uint16_t*>(p)[i]);
    case DType::fp8_e4m3:
      return fp8_e4m3_to_float(static_cast<const std::uint8_t*>(p)[i]);
    case DType::fp8_e5m2:
      return fp8_e5m2_to_float(static_cast<const std::uint8_t*>(p)[i]);
    default:
      return static_cast<const float*>(p)[i];
  }
}

// fp32 -> fp16, round to nearest even: the hardware conversion for numbers (IEEE, like numeric.hpp),
// numeric.hpp's encoding for NaN so that NaN payloads match too.
__device__ __forceinline__ std::uint16_t to_fp16_bits(float v) {
  if (isnan(v)) return float_to_fp16(v);
  return __half_as_ushort(__float2half_rn(v));
}

// Stores v into element i of a buffer stored as `t`, rounding as numeric.hpp does.
__device__ __forceinline__ void store(void* p, DType t, i64 i, float v) {
  switch (t) {
    case DType::bf16:
      static_cast<std::uint16_t*>(p)[i] = float_to_bf16(v);
      return;
    case DType::fp16:
      static_cast<std::uint16_t*>(p)[i] = to_fp16_bits(v);
      return;
    case DType::fp8_e4m3:
      static_cast<std::uint8_t*>(p)[i] = float_to_fp8_e4m3(v);
      return;
    case DType::fp8_e5m2:
      static_cast<std::uint8_t*>(p)[i] = float_to_fp8_e5m2(v);
      return;
    default:
      static_cast<float*>(p)[i] = v;
  }
}

// The value v takes after a round trip through storage type t (what the CPU's commit would leave).
__device__ __forceinline__ float round_to(DType t, float v) {
  switch (t) {
    case DType::bf16:
      return bf16_to_float(float_to_bf16(v));
    case DType::fp16:
      return fp16_to_float(to_fp16_bits(v));
    case DType::fp8_e4m3:
      return fp8_e4m3_to_float(float_to_fp8_e4m3(v));
    case DType::fp8_e5m2:
      return fp8_e5m2_to_float(float_to_fp8_e5m2(v));
    default:
      return v;
  }
}

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// `shared` holds 32 values of T. Deterministic: a fixed tree.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  T total = lane < warps ? shared[lane] : T(0);
  total = warp_sum(total);
  return total;
}

__device__ __forceinline__ float block_max(float v, float* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float total = lane < warps ? shared[lane] : -INFINITY;
  return warp_max(total);
}

__device__ __forceinline__ i64 global_thread() {
  return static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ i64 grid_threads() {
  return static_cast<i64>(gridDim.x) * blockDim.x;
}

}  // namespace clustersim::executor::cuda::dev

// for (i64 i = first; i < n; i += stride) over the whole grid
#define CLUSTERSIM_GRID_LOOP(i, n) \
  for (::clustersim::executor::cuda::dev::i64 i = ::clustersim::executor::cuda::dev::global_thread(); i < (n); \
       i += ::clustersim::executor::cuda::dev::grid_threads())
