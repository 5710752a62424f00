// Internal: NCCL_CHECK, the check macro of NCCL calls (file and line), through errors.hpp's
// classification; the result values it knows by number are pinned here.
#pragma once

#include <nccl.h>

#include "clustersim/executor/cuda/errors.hpp"

static_assert(ncclUnhandledCudaError == 1 && ncclSystemError == 2 && ncclInternalError == 3 &&
                  ncclInvalidArgument == 4 && ncclInvalidUsage == 5 && ncclRemoteError == 6,
              "cuda/errors.cpp classifies NCCL results by these values");

namespace clustersim::executor::cuda::detail {

[[noreturn]] inline void fail_nccl(ncclResult_t r, const char* expr, const char* file, int line) {
  static const char* const names[] = {"ncclSuccess",        "ncclUnhandledCudaError", "ncclSystemError",
                                      "ncclInternalError",  "ncclInvalidArgument",    "ncclInvalidUsage",
                                      "ncclRemoteError",    "ncclInProgress"};
  const int code = static_cast<int>(r);
  const char* name = code >= 0 && code < 8 ? names[code] : "ncclResult";
  throw_device_error(DeviceLibrary::nccl, code, name, ncclGetErrorString(r), expr, file, line);
}

}  // namespace clustersim::executor::cuda::detail

#define NCCL_CHECK(expr)                                                                              \
  do {                                                                                                \
    const ncclResult_t clustersim_nccl_result_ = (expr);                                              \
    if (clustersim_nccl_result_ != ncclSuccess)                                                       \
      ::clustersim::executor::cuda::detail::fail_nccl(clustersim_nccl_result_, #expr, __FILE__, __LINE__); \
  } while (0)
