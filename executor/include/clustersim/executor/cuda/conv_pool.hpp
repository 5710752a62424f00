// CUDA kernels for the Plan's `conv2d` op and the pooling names (mirrors cpu/conv.hpp and
// cpu/pool.hpp, NHWC, same shapes). Convolution is im2col + cuBLASLt GEMM over chunks of images
// (gemm.hpp does the products; these are the data movements); the backward data pass gathers its
// columns back (col2im as a gather: deterministic, no atomics). Max-pool backward is a gather too.
#pragma once

#include <cstdint>

#include "clustersim/executor/cpu/conv.hpp"
#include "clustersim/executor/cpu/pool.hpp"
#include "clustersim/executor/cuda/device.hpp"

namespace clustersim::executor::cuda {

// col(images*P*Q, R*S*C) of images [first, first + images) of x(N,H,W,C), in col's dtype.
void im2col(DeviceTensor col, ConstDeviceTensor x, const cpu::ConvShape& shape, std::int64_t first,
            std::int64_t images, DeviceStream stream);
// dx images [first, first + images) = gather of dcol(images*P*Q, R*S*C) (fp32), overwritten.
void col2im(DeviceTensor dx, const float* dcol, const cpu::ConvShape& shape, std::int64_t first, std::int64_t images,
            DeviceStream stream);

void maxpool_forward(DeviceTensor y, std::int32_t* argmax, ConstDeviceTensor x, const cpu::PoolShape& shape,
                     DeviceStream stream);
// dx overwritten: dx[i] = sum of dy over the outputs whose argmax is i.
void maxpool_backward(DeviceTensor dx, ConstDeviceTensor dy, const std::int32_t* argmax, const cpu::PoolShape& shape,
                      DeviceStream stream);
void global_avgpool_forward(DeviceTensor y, ConstDeviceTensor x, const cpu::PoolShape& shape, DeviceStream stream);
void global_avgpool_backward(DeviceTensor dx, ConstDeviceTensor dy, const cpu::PoolShape& shape, DeviceStream stream);

}  // namespace clustersim::executor::cuda
