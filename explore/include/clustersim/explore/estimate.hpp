// Closed-form estimate of a transformer training step: per-GPU memory and step time from the
// literature's formulas, in microseconds of CPU per configuration. It ranks and prunes the
// thousands of configurations a search enumerates; the candidates that survive are simulated,
// and the simulation, not this estimate, is what a search reports.
//  * memory: ZeRO model states (Rajbhandari et al. SC'20) + Korthikanti et al. (2022) activations
//    per layer times the micro-batches in flight on the first stage (GPipe m, 1F1B p, interleaved
//    Megatron's warm-up + 1 chunks) + the last stage's logits;
//  * time: forward 2 N_layer b s + 4 b s^2 h FLOPs per layer (Narayanan et al. SC'21) at the
//    GPU's large-GEMM efficiency, backward twice that, recomputation as configured; Megatron TP
//    all-reduces as ring collectives; the pipeline bubble (p-1)/(v m); the data-parallel gradient
//    reduction net of its overlap with the last micro-batch's backward; the optimizer as a
//    memory-bound pass over the states.
#pragma once

#include "clustersim/models/scenario.hpp"

namespace clustersim::explore {

struct Estimate {
  double step_time_s = 0.0;
  double compute_s = 0.0;     // forward + backward + recomputation, all micro-batches, one stage
  double tp_comm_s = 0.0;     // tensor-parallel collectives (treated as exposed)
  double bubble_s = 0.0;      // pipeline fill and drain
  double dp_comm_s = 0.0;     // data-parallel reduction (and ZeRO-3 gathers), overlapped or not
  double dp_exposed_s = 0.0;  // data-parallel reduction not hidden by the backward pass
  double optimizer_s = 0.0;
  double model_state_bytes = 0.0;
  double activation_bytes = 0.0;
  double peak_memory_bytes = 0.0;
  double capacity_bytes = 0.0;
  bool fits = true;
};

// Transformers only (InputError otherwise).
Estimate estimate_step(const models::Scenario& scenario);

}  // namespace clustersim::explore
