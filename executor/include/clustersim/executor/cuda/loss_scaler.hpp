// Dynamic loss scaling (Micikevicius et al., "Mixed Precision Training", ICLR'18; PyTorch's
// GradScaler rule), the host-side state machine of the CUDA worker. The device never decides: the
// check_finite op writes a flag, the optimizer kernels skip their update when it is set, and after
// the step the worker tells the scaler whether any rank saw a non-finite gradient:
//   skipped step: scale *= backoff (0.5), the clean-step counter restarts;
//   clean step:   after `window` (2000) consecutive clean steps, scale *= growth (2), counter restarts.
// Initial scale 2^16 (PlanMeta::loss_scale_init). Without dynamic scaling the scale stays 1 and
// update() only counts. softmax_xent backward's grad_scale (and xent_parallel_backward's scalar) is
// multiplied by scale(), the optimizer's grad_scale by 1/scale(): the CPU worker's convention.
#pragma once

#include <cstdint>

#include "clustersim/plan/plan.hpp"

namespace clustersim::executor::cuda {

struct LossScalerConfig {
  bool dynamic = false;
  double initial = 65536.0;
  std::int64_t window = 2000;
  double growth = 2.0;
  double backoff = 0.5;
  static LossScalerConfig from_plan(const plan::PlanMeta& meta);
};

class DynamicLossScaler {
 public:
  explicit DynamicLossScaler(const LossScalerConfig& config);
  // The scale in effect for the next step (1 when not dynamic).
  double scale() const { return scale_; }
  // Records the outcome of a step: `found_inf` when any rank saw a non-finite gradient (the step was
  // skipped). Returns the scale in effect for the next step.
  double update(bool found_inf);
  std::int64_t clean_steps() const { return clean_; }
  std::int64_t skipped_steps() const { return skipped_; }
  std::int64_t growths() const { return growths_; }

 private:
  LossScalerConfig config_;
  double scale_ = 1.0;
  std::int64_t clean_ = 0, skipped_ = 0, growths_ = 0;
};

}  // namespace clustersim::executor::cuda
