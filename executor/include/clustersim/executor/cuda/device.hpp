// Vocabulary shared by the CUDA backend's kernel headers (cuda/*.hpp): a device buffer with its
// storage dtype, the stream a kernel is enqueued on, and per-stream scratch memory. The headers of
// the CUDA backend never include CUDA, cuBLAS or NCCL headers, so the CLI and the tests can include
// them; `DeviceStream` is the same type as CUDA's `cudaStream_t` (a pointer to the opaque CUstream_st).
//
// Conventions of every kernel function declared under cuda/ (they mirror the CPU kernels of cpu/):
//  * pointers are device pointers; a kernel is enqueued on `stream` and returns at once (no host
//    synchronisation); errors of the launch itself throw (check.hpp maps them), errors while the
//    kernel runs surface at the next synchronisation.
//  * "float slots" take a DeviceTensor of any float storage dtype (fp32, tf32, bf16, fp16, fp8_e4m3,
//    fp8_e5m2): values are read as fp32, computed in fp32 and rounded back on store exactly as the
//    CPU staging does (numeric.hpp), so an op on narrow storage equals the CPU op on the same values.
//  * statistics slots (lse, mean, rstd, losses, flags, norms) are plain fp32 pointers.
//  * sizes are element counts.
#pragma once

#include <cstddef>
#include <cstdint>

#include "clustersim/plan/types.hpp"

struct CUstream_st;

namespace clustersim::executor::cuda {

using DeviceStream = CUstream_st*;

// A device buffer and how its elements are stored.
struct DeviceTensor {
  void* data = nullptr;
  DType dtype = DType::fp32;
};

struct ConstDeviceTensor {
  const void* data = nullptr;
  DType dtype = DType::fp32;
  ConstDeviceTensor() = default;
  ConstDeviceTensor(const void* d, DType t) : data(d), dtype(t) {}
  ConstDeviceTensor(const DeviceTensor& t) : data(t.data), dtype(t.dtype) {}  // NOLINT: implicit by design
};

inline DeviceTensor f32(float* p) {
  return {p, DType::fp32};
}
inline ConstDeviceTensor f32(const float* p) {
  return {p, DType::fp32};
}

// Scratch memory of one stream: `get` returns a buffer of at least `bytes` bytes, 256-byte aligned,
// valid for work enqueued on that stream until the next `get` on the same object (it may reuse or
// replace the previous buffer in stream order). Kernels that need several scratch arrays take one
// buffer and carve it (see carve()).
class DeviceScratch {
 public:
  virtual ~DeviceScratch() = default;
  virtual void* get(std::size_t bytes) = 0;
};

// Bytes `n` rounded up to the carving alignment.
constexpr std::size_t scratch_align(std::size_t n) {
  return (n + 255u) / 256u * 256u;
}

// Hands out consecutive aligned pieces of one scratch buffer.
class ScratchCarver {
 public:
  explicit ScratchCarver(void* base) : base_(static_cast<std::byte*>(base)) {}
  template <typename T>
  T* take(std::size_t count) {
    T* p = reinterpret_cast<T*>(base_ + used_);
    used_ += scratch_align(count * sizeof(T));
    return p;
  }

 private:
  std::byte* base_;
  std::size_t used_ = 0;
};

}  // namespace clustersim::executor::cuda
