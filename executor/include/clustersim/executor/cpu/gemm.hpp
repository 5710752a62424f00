// CPU GEMM kernel: the `gemm` op of the Plan (GemmParams), on fp32 buffers through OpenBLAS
// cblas_sgemm. Other storage dtypes are converted to fp32 at the op boundary by the interpreter.
#pragma once

#include <cstdint>

namespace clustersim::executor::cpu {

// Matches plan::GemmParams: C(m x n) = op(A) * op(B) [+ bias] [+ C], `batch` independent products.
// A is stored (m x k) or, when trans_a, (k x m); B is (k x n) or, when trans_b, (n x k); all
// row-major and contiguous, batch strides m*k, k*n and m*n. bias has n elements and is added to
// every row of every product.
struct GemmShape {
  std::int64_t m = 0, n = 0, k = 0, batch = 1;
  bool trans_a = false, trans_b = false;
  bool accumulate = false;  // C += product (+ bias); otherwise C is overwritten
};

// c, a, b: fp32; bias: fp32 (n) or nullptr. c must not overlap a or b.
void gemm_forward(float* c, const float* a, const float* b, const float* bias, const GemmShape& shape);

// Threads OpenBLAS may use in this process (default 1: one rank per core). Not thread-local.
void gemm_set_threads(int threads);
int gemm_threads();

}  // namespace clustersim::executor::cpu
