// CUDA embedding kernels for the Plan's `embedding` op and the position_add(_backward) names
// (mirrors cpu/embedding.hpp, same EmbeddingShape). The backward scatter-add is deterministic: the
// rows are sorted by token (CUB radix sort), each token's rows summed in row order by one thread
// per column, then added once into the table in its storage dtype: no atomics, no full-table
// fp32 copy.
#pragma once

#include <cstdint>

#include "clustersim/executor/cpu/embedding.hpp"
#include "clustersim/executor/cuda/device.hpp"

namespace clustersim::executor::cuda {

// wpe.data == nullptr: no positions.
void embedding_forward(DeviceTensor x, const std::int32_t* tokens, ConstDeviceTensor wte, ConstDeviceTensor wpe,
                       const cpu::EmbeddingShape& shape, DeviceStream stream);
// dwpe.data == nullptr: no position gradient.
void embedding_backward(DeviceTensor dwte, DeviceTensor dwpe, ConstDeviceTensor dx, const std::int32_t* tokens,
                        const cpu::EmbeddingShape& shape, DeviceScratch& scratch, DeviceStream stream);

void position_add_forward(DeviceTensor x, ConstDeviceTensor wpe, std::int64_t batch, std::int64_t seq,
                          std::int64_t dim, std::int64_t position_offset, DeviceStream stream);
void position_add_backward(DeviceTensor dwpe, ConstDeviceTensor dx, std::int64_t batch, std::int64_t seq,
                           std::int64_t dim, std::int64_t position_offset, DeviceStream stream);

}  // namespace clustersim::executor::cuda
