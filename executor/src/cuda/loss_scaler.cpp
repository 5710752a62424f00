// The dynamic loss scaler's state machine (cuda/loss_scaler.hpp).
#include "clustersim/executor/cuda/loss_scaler.hpp"

#include <algorithm>

namespace clustersim::executor::cuda {

LossScalerConfig LossScalerConfig::from_plan(const plan::PlanMeta& meta) {
  LossScalerConfig c;
  c.dynamic = meta.dynamic_loss_scale;
  c.initial = meta.loss_scale_init;
  c.window = std::max<std::int64_t>(1, meta.loss_scale_window);
  c.growth = meta.loss_scale_growth;
  c.backoff = meta.loss_scale_backoff;
  return c;
}

DynamicLossScaler::DynamicLossScaler(const LossScalerConfig& config)
    : config_(config), scale_(config.dynamic ? config.initial : 1.0) {}

double DynamicLossScaler::update(bool found_inf) {
  if (found_inf) {
    ++skipped_;
    clean_ = 0;
    if (config_.dynamic) scale_ *= config_.backoff;
    return scale_;
  }
  if (++clean_ >= config_.window && config_.dynamic) {
    scale_ *= config_.growth;
    ++growths_;
    clean_ = 0;
  }
  return scale_;
}

}  // namespace clustersim::executor::cuda
