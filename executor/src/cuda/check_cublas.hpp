// Internal: CUBLAS_CHECK, the check macro of cuBLAS/cuBLASLt calls (file and line), through
// errors.hpp's classification; the status values it knows by number are pinned here.
#pragma once

#include <cublasLt.h>

#include "clustersim/executor/cuda/errors.hpp"

static_assert(CUBLAS_STATUS_NOT_INITIALIZED == 1 && CUBLAS_STATUS_ALLOC_FAILED == 3 &&
                  CUBLAS_STATUS_INVALID_VALUE == 7 && CUBLAS_STATUS_ARCH_MISMATCH == 8 &&
                  CUBLAS_STATUS_INTERNAL_ERROR == 14 && CUBLAS_STATUS_NOT_SUPPORTED == 15,
              "cuda/errors.cpp classifies cuBLAS status codes by these values");

namespace clustersim::executor::cuda::detail {

[[noreturn]] inline void fail_cublas(cublasStatus_t s, const char* expr, const char* file, int line) {
  throw_device_error(DeviceLibrary::cublas, static_cast<int>(s), cublasLtGetStatusName(s), cublasLtGetStatusString(s),
                     expr, file, line);
}

}  // namespace clustersim::executor::cuda::detail

#define CUBLAS_CHECK(expr)                                                                              \
  do {                                                                                                  \
    const cublasStatus_t clustersim_cublas_status_ = (expr);                                            \
    if (clustersim_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                             \
      ::clustersim::executor::cuda::detail::fail_cublas(clustersim_cublas_status_, #expr, __FILE__, __LINE__); \
  } while (0)
