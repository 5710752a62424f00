// CUDA reductions for the Plan's bias_grad, check_finite, grad_norm_sq and clip_by_norm names and
// for the step's loss statistics (mirrors cpu/misc.hpp). Every reduction is deterministic: partial
// results of fixed chunks combined in a fixed order, never float atomics, so a step's gradient norm
// and loss are the same on every run.
#pragma once

#include <cstdint>

#include "clustersim/executor/cuda/device.hpp"

namespace clustersim::executor::cuda {

// dbias[j] += sum over rows of dy[r, j].
void bias_grad(DeviceTensor dbias, ConstDeviceTensor dy, std::int64_t rows, std::int64_t n, DeviceScratch& scratch,
               DeviceStream stream);

// *flag = 1.0f when any of x[0, n) is inf or NaN; never clears it (zero it first for check_finite).
void mark_nonfinite(float* flag, ConstDeviceTensor x, std::int64_t n, DeviceStream stream);

// grad_norm_sq: *acc = float(double(*acc) + weight * S), S = the sum over every input of the sum of
// its squared elements, accumulated in double (fixed per-block partials, summed in order).
void grad_norm_sq(float* acc, const ConstDeviceTensor* inputs, const std::int64_t* counts, std::size_t n_inputs,
                  double weight, DeviceScratch& scratch, DeviceStream stream);

// x *= cpu::clip_factor(*norm_sq / loss_scale_sq, max_norm), the norm read on the device (no host sync).
void clip_by_norm(DeviceTensor x, std::int64_t n, const float* norm_sq, double loss_scale_sq, double max_norm,
                  DeviceStream stream);

// Loss statistics of a step, on the device: the sum (double) and count of the loss rows whose target
// is not negative (all rows when targets is null), accumulated into stats.
struct LossStats {
  double sum = 0.0;
  unsigned long long count = 0;
  float found_inf = 0.0f;  // set by optimizer ops that skipped on a non-finite flag
};
void accumulate_losses(LossStats* stats, const float* losses, const std::int32_t* targets, std::int64_t rows,
                       DeviceStream stream);

}  // namespace clustersim::executor::cuda
