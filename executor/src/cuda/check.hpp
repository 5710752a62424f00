// Internal: CUDA_CHECK, the CUDA runtime's check macro (file and line), and CUDA_CHECK_LAUNCH for
// the launch of a kernel just enqueued. Failures go through errors.hpp's classification; the status
// codes that classification knows by number are pinned here against the runtime's header.
#pragma once

#include <cuda_runtime.h>

#include "clustersim/executor/cuda/errors.hpp"

static_assert(cudaErrorInvalidValue == 1 && cudaErrorMemoryAllocation == 2 && cudaErrorInvalidConfiguration == 9 &&
                  cudaErrorInsufficientDriver == 35 && cudaErrorDevicesUnavailable == 46 &&
                  cudaErrorInvalidDeviceFunction == 98 && cudaErrorNoDevice == 100 && cudaErrorInvalidDevice == 101 &&
                  cudaErrorStartupFailure == 127 && cudaErrorNoKernelImageForDevice == 209 &&
                  cudaErrorUnsupportedPtxVersion == 222 && cudaErrorInvalidResourceHandle == 400 &&
                  cudaErrorNotSupported == 801 && cudaErrorSystemDriverMismatch == 803 &&
                  cudaErrorCompatNotSupportedOnDevice == 804,
              "cuda/errors.cpp classifies CUDA runtime status codes by these values");

namespace clustersim::executor::cuda::detail {

[[noreturn]] inline void fail_cuda(cudaError_t e, const char* expr, const char* file, int line) {
  throw_device_error(DeviceLibrary::cuda, static_cast<int>(e), cudaGetErrorName(e), cudaGetErrorString(e), expr, file,
                     line);
}

}  // namespace clustersim::executor::cuda::detail

#define CUDA_CHECK(expr)                                                                  \
  do {                                                                                    \
    const cudaError_t clustersim_cuda_status_ = (expr);                                   \
    if (clustersim_cuda_status_ != cudaSuccess)                                           \
      ::clustersim::executor::cuda::detail::fail_cuda(clustersim_cuda_status_, #expr, __FILE__, __LINE__); \
  } while (0)

#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
