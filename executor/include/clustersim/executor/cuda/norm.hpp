// CUDA normalisation kernels for the Plan's `norm` op (mirrors cpu/norm.hpp): layernorm and
// rmsnorm over each row (one warp per row, statistics accumulated in double as on the CPU),
// batchnorm over each column (training mode). Backward: dx per row, and dgamma/dbeta as
// deterministic column sums over row chunks, accumulated (+=) into their storage.
#pragma once

#include <cstdint>

#include "clustersim/executor/cuda/device.hpp"

namespace clustersim::executor::cuda {

void layernorm_forward(DeviceTensor y, float* mean, float* rstd, ConstDeviceTensor x, ConstDeviceTensor gamma,
                       ConstDeviceTensor beta, std::int64_t rows, std::int64_t cols, float eps, DeviceStream stream);
void layernorm_backward(DeviceTensor dx, DeviceTensor dgamma, DeviceTensor dbeta, ConstDeviceTensor dy,
                        ConstDeviceTensor x, ConstDeviceTensor gamma, const float* mean, const float* rstd,
                        std::int64_t rows, std::int64_t cols, bool accumulate_dx, DeviceScratch& scratch,
                        DeviceStream stream);
void rmsnorm_forward(DeviceTensor y, float* rstd, ConstDeviceTensor x, ConstDeviceTensor gamma, std::int64_t rows,
                     std::int64_t cols, float eps, DeviceStream stream);
void rmsnorm_backward(DeviceTensor dx, DeviceTensor dgamma, ConstDeviceTensor dy, ConstDeviceTensor x,
                      ConstDeviceTensor gamma, const float* rstd, std::int64_t rows, std::int64_t cols,
                      bool accumulate_dx, DeviceScratch& scratch, DeviceStream stream);
// mean and rstd have `cols` entries (NHWC: rows = N*H*W, cols = C). dbeta/beta may be null (.data).
void batchnorm_forward(DeviceTensor y, float* mean, float* rstd, ConstDeviceTensor x, ConstDeviceTensor gamma,
                       ConstDeviceTensor beta, std::int64_t rows, std::int64_t cols, float eps,
                       DeviceScratch& scratch, DeviceStream stream);
void batchnorm_backward(DeviceTensor dx, DeviceTensor dgamma, DeviceTensor dbeta, ConstDeviceTensor dy,
                        ConstDeviceTensor x, ConstDeviceTensor gamma, const float* mean, const float* rstd,
                        std::int64_t rows, std::int64_t cols, bool accumulate_dx, DeviceScratch& scratch,
                        DeviceStream stream);

}  // namespace clustersim::executor::cuda
