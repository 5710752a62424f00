// The CUDA backend's GEMM: the Plan's `gemm` op (mirrors cpu/gemm.hpp, same GemmShape, row-major,
// batch strides m*k, k*n, m*n) through cuBLASLt with fp32 accumulation:
//   fp32 operands: fp32 math (CUBLAS_COMPUTE_32F), or TF32 tensor cores when the op's dtype is tf32;
//   bf16/fp16 operands: tensor cores, output in C's dtype (bf16/fp16, or fp32);
//   fp8 e4m3/e5m2 operands: fp8 tensor cores on compute capability >= 8.9 (cuBLASLt's "TN" layout:
//     other layouts are transposed into scratch first), output bf16/fp16/fp32; below 8.9, or for a
//     combination cuBLASLt has no kernel for, the operands are widened to bf16 in scratch (exact).
// Row-major C = A B is computed as column-major C^T = B^T A^T (no copies). The bias is a cuBLASLt
// epilogue when its dtype is C's, else a pre-fill of C. Operands of different dtypes, or a C dtype
// cuBLASLt cannot write for them, are staged through scratch. Descriptors and the heuristic's
// algorithm are cached per shape and dtype combination. One engine per device and thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "clustersim/executor/cpu/gemm.hpp"
#include "clustersim/executor/cuda/device.hpp"

namespace clustersim::executor::cuda {

struct GemmOperands {
  ConstDeviceTensor a, b;
  ConstDeviceTensor bias;  // data == nullptr: no bias
  DeviceTensor c;
};

class GemmEngine {
 public:
  GemmEngine();
  ~GemmEngine();
  GemmEngine(const GemmEngine&) = delete;
  GemmEngine& operator=(const GemmEngine&) = delete;

  // C (+)= op(A) op(B) (+ bias). `math` is the op's dtype (the precision that sets the rate: tf32
  // selects TF32 for fp32 operands; otherwise the operands' storage decides).
  void run(const cpu::GemmShape& shape, DType math, const GemmOperands& operands, DeviceScratch& scratch,
           DeviceStream stream);

  bool fp8_supported() const;
  struct Stats {
    std::int64_t calls = 0, cache_misses = 0, staged = 0, fp8_widened = 0, bias_prefills = 0;
  };
  Stats stats() const;
  // cuBLASLt version and the device, for the trace's extra facts.
  std::string describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace clustersim::executor::cuda
