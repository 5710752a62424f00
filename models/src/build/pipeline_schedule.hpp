// Pipeline schedules: the order in which one stage runs the forward and backward passes of its
// micro-batches (and model chunks). GPipe (Huang et al. 2019): all forwards, then all backwards in
// reverse order. 1F1B (PipeDream-Flush, Narayanan et al. 2021): p - s - 1 warm-up forwards, then one
// forward / one backward, then the cool-down backwards. Interleaved 1F1B (Narayanan et al. SC'21,
// Megatron-LM's forward_backward_pipelining_with_interleaving): v model chunks per stage, micro-batches
// in groups of p.
#pragma once

#include <cstdint>
#include <vector>

#include "clustersim/models/scenario.hpp"

namespace clustersim::models::build {

struct PipelineStep {
  bool forward = true;
  std::int32_t microbatch = 0;
  std::int32_t chunk = 0;  // local model chunk on this stage, 0..v-1 (model chunk = chunk * p + stage)
};

// The steps of `stage` (0..stages-1) for `microbatches` micro-batches and `chunks` model chunks per stage.
std::vector<PipelineStep> pipeline_schedule(PipelineSchedule schedule, std::int32_t stages, std::int32_t stage,
                                            std::int32_t microbatches, std::int32_t chunks);

}  // namespace clustersim::models::build
