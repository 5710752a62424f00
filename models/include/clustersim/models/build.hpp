// Workload builders: turn a validated Scenario into the Plan both interpreters run. The transformer
// builder emits Megatron-style per-layer forward and backward ops with real GEMM shapes, the
// optimizer step, gradient buckets and the parallelism's communication; MLP and ResNet builders
// cover non-token models.
#pragma once

#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/plan.hpp"

namespace clustersim::models {

// Builds the plan for one optimizer step. Deterministic: the same scenario gives the same plan.
plan::Plan build_plan(const Scenario& scenario);

// Useful model FLOPs per optimizer step (no recomputation): for transformers
// 6 N per token + attention 12 L h s per token (Narayanan et al. SC'21, eq. 3 without recompute);
// for other models, 3x the forward FLOPs.
double model_flops_per_step(const Scenario& scenario);

}  // namespace clustersim::models
