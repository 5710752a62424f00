// CUDA softmax cross-entropy kernels for the Plan's `softmax_xent` op and the vocabulary-parallel
// steps (mirrors cpu/softmax_xent.hpp). One block per row; the row's max and sum of exponentials in
// one online pass (sum in double), a negative target marks an ignored row. Targets are not range-checked
// on the device (that would need a host round trip): a target outside [0, vocab) counts as ignored.
#pragma once

#include <cstdint>

#include "clustersim/executor/cuda/device.hpp"

namespace clustersim::executor::cuda {

void softmax_xent_forward(float* losses, ConstDeviceTensor logits, const std::int32_t* targets, std::int64_t rows,
                          std::int64_t vocab, DeviceStream stream);
// dlogits may alias logits.
void softmax_xent_backward(DeviceTensor dlogits, ConstDeviceTensor logits, const std::int32_t* targets,
                           std::int64_t rows, std::int64_t vocab, float grad_scale, DeviceStream stream);

void xent_parallel_max(float* max, ConstDeviceTensor logits, std::int64_t rows, std::int64_t vocab_local,
                       DeviceStream stream);
void xent_parallel_stats(float* stats, ConstDeviceTensor logits, const float* max, const std::int32_t* targets,
                         std::int64_t rows, std::int64_t vocab_local, std::int64_t vocab_offset, DeviceStream stream);
void xent_parallel_loss(float* losses, const float* stats, const float* max, const std::int32_t* targets,
                        std::int64_t rows, DeviceStream stream);
void xent_parallel_backward(DeviceTensor dlogits, ConstDeviceTensor logits, const std::int32_t* targets,
                            const float* max, const float* stats, std::int64_t rows, std::int64_t vocab_local,
                            std::int64_t vocab_offset, float grad_scale, DeviceStream stream);

}  // namespace clustersim::executor::cuda
