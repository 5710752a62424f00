// A step model between the closed-form estimate (estimate.hpp, microseconds) and a simulation
// (a whole plan and discrete-event step, up to seconds): the compute is costed op by op, the rest
// comes from the closed forms.
//  * compute: the plan of ONE micro-batch per pipeline (global batch = micro-batch x dp; p for
//    interleaved schedules, the smallest count they accept) is built by the same builder, and every
//    compute-stream op is timed by the cost model the simulation would use (roofline or
//    calibrated). The slowest pipeline program's forward + backward + recompute is the time of a
//    micro-batch; its optimizer ops, the update. This is what the closed form gets wrong most: it
//    runs every GEMM at the large-GEMM efficiency and has no memory-bound kernels or launch
//    overheads (off by up to 29% on GPT-3 350M across single knob changes).
//  * tensor parallelism: the estimate's Megatron all-reduces per micro-batch, exposed;
//  * pipeline: the bubble (p - 1) / v micro-batch times (Narayanan et al. SC'21);
//  * data parallelism: the estimate's reduction time net of the compute it hides behind: the last
//    micro-batch's backward (DDP buckets), or every micro-batch under ZeRO-2/3, which reduce (and
//    gather) every micro-batch.
// Costs milliseconds (a plan of one micro-batch); the search re-ranks its survivors with it, and
// the dashboard previews a knob change with it.
#pragma once

#include <memory>
#include <string_view>

#include "clustersim/explore/estimate.hpp"
#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/profile.hpp"

namespace clustersim::explore {

struct StepModel {
  double step_time_s = 0.0;
  double compute_s = 0.0;     // forward + backward + recompute of all micro-batches, slowest stage
  double tp_comm_s = 0.0;     // tensor-parallel collectives, exposed
  double bubble_s = 0.0;      // pipeline fill and drain
  double dp_exposed_s = 0.0;  // data-parallel reduction not hidden by backward compute
  double optimizer_s = 0.0;
  bool costed = false;  // compute costed from the one-micro-batch plan; false: the estimate's own terms
};

// `estimate` is estimate_step(scenario). When the one-micro-batch plan cannot be built or costed
// (an InputError from the builder or the cost model), the estimate's terms are returned with
// costed = false.
StepModel step_model(const models::Scenario& scenario, const Estimate& estimate,
                     std::string_view cost_model = "roofline",
                     std::shared_ptr<const plan::CalibrationProfile> profile = nullptr);

}  // namespace clustersim::explore
