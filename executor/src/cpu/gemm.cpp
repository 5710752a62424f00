// GEMM through OpenBLAS cblas_sgemm: one call per batch entry, bias folded in by pre-filling C.
#include "clustersim/executor/cpu/gemm.hpp"

#include <cblas.h>

#include <algorithm>
#include <limits>
#include <string>

#include "clustersim/plan/error.hpp"

namespace clustersim::executor::cpu {

namespace {

blasint blas_int(std::int64_t v, const char* what) {
  require(v >= 0 && v <= std::numeric_limits<blasint>::max(),
          std::string("gemm ") + what + " = " + std::to_string(v) + " is out of the BLAS integer range");
  return static_cast<blasint>(v);
}

}  // namespace

void gemm_forward(float* c, const float* a, const float* b, const float* bias, const GemmShape& s) {
  const blasint m = blas_int(s.m, "m"), n = blas_int(s.n, "n"), k = blas_int(s.k, "k");
  const std::int64_t stride_a = s.m * s.k, stride_b = s.k * s.n, stride_c = s.m * s.n;
  for (std::int64_t bi = 0; bi < s.batch; ++bi) {
    float* cb = c + bi * stride_c;
    float beta = s.accumulate ? 1.0f : 0.0f;
    if (bias != nullptr) {
      for (std::int64_t r = 0; r < s.m; ++r) {
        float* row = cb + r * s.n;
        if (s.accumulate) {
          for (std::int64_t j = 0; j < s.n; ++j) row[j] += bias[j];
        } else {
          std::copy(bias, bias + s.n, row);
        }
      }
      beta = 1.0f;
    }
    if (s.m == 0 || s.n == 0) continue;
    if (s.k == 0) {
      if (beta == 0.0f) std::fill(cb, cb + stride_c, 0.0f);
      continue;
    }
    cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans, s.trans_b ? CblasTrans : CblasNoTrans, m, n, k,
                1.0f, a + bi * stride_a, s.trans_a ? m : k, b + bi * stride_b, s.trans_b ? k : n, beta, cb, n);
  }
}

void gemm_set_threads(int threads) {
  openblas_set_num_threads(std::max(1, threads));
}

int gemm_threads() {
  return openblas_get_num_threads();
}

}  // namespace clustersim::executor::cpu
