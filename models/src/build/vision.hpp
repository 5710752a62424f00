// Non-token workloads: a plain MLP classifier and ResNet (He et al. 2016, bottleneck blocks, NHWC,
// batch norm over the local batch), data parallel with the same gradient machinery as transformers.
// Private to the models library.
#pragma once

#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/plan.hpp"

namespace clustersim::models::build {

// Each adds its programs, groups and rank mapping to `plan` and returns the forward FLOPs of one
// sample (model FLOPs per sample are 3x that: forward, and backward with data and weight gradients).
double build_mlp(const Scenario& scenario, plan::Plan& plan);
double build_resnet(const Scenario& scenario, plan::Plan& plan);

}  // namespace clustersim::models::build
