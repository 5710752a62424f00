// The dashboard's instant answer to a knob change. A full prediction of a large step (GPT-3 175B on
// 1,024 GPUs: 7*10^5 ops) takes seconds to build and simulate; the headline figures should not.
// On every valid edit the dashboard computes, on the GUI thread and in milliseconds, a preview of
// the new configuration:
//  1. a step model whose compute is costed op by op: the plan of ONE micro-batch (the same builder,
//     global batch = micro-batch x dp) is built and every compute-stream op is timed by the
//     scenario's own cost model (roofline or calibrated), per pipeline program; the slowest stage's
//     forward + backward (+ recompute) is the time of a micro-batch, its optimizer ops the update.
//     This is what the closed form (explore::estimate_step) gets wrong most: kernel efficiency by
//     shape, memory-bound ops and launch overheads.
//  2. communication and the pipeline from the closed form: Megatron TP all-reduces per micro-batch,
//     the bubble (p-1)/v micro-batch times, the data-parallel reduction net of the last backward
//     (all micro-batches' compute under ZeRO-2/3, whose reductions run every micro-batch);
//  3. anchored to the last simulated prediction: step time and peak memory are multiplied by the
//     ratio simulated / modelled of the prediction on display, so what the model leaves out
//     (contention, scheduling gaps, buffers) is carried over from the simulation of a neighbouring
//     configuration instead of ignored. Throughput and MFU follow from the step time.
// The simulation still runs and replaces the preview whole. Transformers only (the estimate's
// domain); other models get no preview (their steps simulate in milliseconds anyway).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "clustersim/explore/estimate.hpp"
#include "clustersim/models/scenario.hpp"

namespace clustersim::gui {

struct PredictionResult;

// What a preview needs to know about one scenario: its closed-form estimate and the scale of its
// throughput figures.
struct StepModel {
  double step_time_s = 0.0;
  double compute_s = 0.0;     // forward + backward + recompute of all micro-batches, slowest stage
  double tp_comm_s = 0.0;     // tensor-parallel collectives, exposed
  double bubble_s = 0.0;      // pipeline fill and drain
  double dp_exposed_s = 0.0;  // data-parallel reduction not hidden by backward compute
  double optimizer_s = 0.0;
  bool costed = false;  // compute from the one-micro-batch plan (false: closed form only)
};

struct EstimateFacts {
  explore::Estimate estimate;
  StepModel model;
  double model_flops_per_step = 0.0;  // models::model_flops_per_step, as the plan's meta counts them
  double peak_flops = 0.0;            // GPUs x dense peak of the compute dtype
  std::int64_t tokens_per_step = 0;
  std::int64_t samples_per_step = 0;
  std::int64_t capacity_bytes = 0;  // usable memory of one GPU
  std::int32_t gpus = 0;
};
// nullopt for scenarios the estimate does not cover (non-transformers).
std::optional<EstimateFacts> estimate_facts(const models::Scenario& scenario);

// The step model of point 1-2 above, from the closed-form estimate and, when the one-micro-batch
// plan builds, its costed compute. Exposed for tests.
StepModel step_model(const models::Scenario& scenario, const explore::Estimate& estimate);

struct Preview {
  std::uint64_t revision = 0;         // document revision it describes
  std::uint64_t anchor_revision = 0;  // revision of the simulated prediction it is scaled by; 0: none
  double step_ratio = 1.0;            // simulated / modelled step time of the anchor
  double memory_ratio = 1.0;          // simulated / estimated peak memory of the anchor
  double step_time_s = 0.0;
  // The step model's parts, scaled like the step time (they add up to it).
  double compute_s = 0.0, exposed_comm_s = 0.0, bubble_s = 0.0, other_s = 0.0;
  double tokens_per_s = 0.0;
  double samples_per_s = 0.0;
  double mfu = 0.0;
  std::int64_t peak_memory_bytes = 0;
  std::int64_t capacity_bytes = 0;
  bool fits = true;
  std::int32_t gpus = 0;
  EstimateFacts facts;
};
using PreviewPtr = std::shared_ptr<const Preview>;

// The preview of `scenario`, anchored to `anchor` when it is a simulated transformer prediction
// with its facts; null when the scenario has no estimate.
PreviewPtr make_preview(const models::Scenario& scenario, std::uint64_t revision, const PredictionResult* anchor);

}  // namespace clustersim::gui
