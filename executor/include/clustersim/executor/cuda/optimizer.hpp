// Fused CUDA optimizer kernels for the Plan's `optimizer` op (mirrors cpu/optimizer.hpp, same
// order of floating-point operations): one pass reads the gradient (any float dtype, multiplied by
// grad_scale = 1/loss scale and any averaging), updates the master weights and moments (fp32 in
// mixed precision) and writes the compute-precision weights. A non-finite-gradient flag, read on the
// device, skips the whole update and leaves the step count unchanged, without a host round trip.
#pragma once

#include <cstdint>

#include "clustersim/executor/cpu/optimizer.hpp"
#include "clustersim/executor/cuda/device.hpp"

namespace clustersim::executor::cuda {

// How the update learns its 1-based step (bias correction) and whether to skip.
struct OptimizerStep {
  const float* found_inf = nullptr;   // skip when *found_inf != 0 (null: never skip)
  std::int64_t* counter = nullptr;    // device count of applied updates: step = *counter + 1, then
                                      // bump_step_counter() advances it (null: use host_step)
  std::int64_t host_step = 1;
};

// weight.data == master.data when there is no separate master copy (fp32 training).
void adamw_update(DeviceTensor weight, DeviceTensor master, DeviceTensor m, DeviceTensor v, ConstDeviceTensor grad,
                  std::int64_t n, const cpu::AdamWHyper& hyper, const OptimizerStep& step, DeviceStream stream);
// momentum.data may be null (no momentum buffer).
void sgd_update(DeviceTensor weight, DeviceTensor master, DeviceTensor momentum, ConstDeviceTensor grad,
                std::int64_t n, const cpu::SgdHyper& hyper, const OptimizerStep& step, DeviceStream stream);
// *counter += 1 unless *found_inf != 0 (found_inf may be null). Enqueue after the update.
void bump_step_counter(std::int64_t* counter, const float* found_inf, DeviceStream stream);
// stats->found_inf = 1 when *found_inf != 0: the worker's note that the step was skipped.
void note_found_inf(float* stats_found_inf, const float* found_inf, DeviceStream stream);

}  // namespace clustersim::executor::cuda
