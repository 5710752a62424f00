// The dashboard's instant answer to a knob change. A full prediction of a large step (GPT-3 175B on
// 1,024 GPUs: 7*10^5 ops) takes seconds to build and simulate; the headline figures should not.
// On every valid edit the dashboard computes, on the GUI thread and in milliseconds, a preview of
// the new configuration: the step model of explore/step_model.hpp (compute costed op by op from a
// plan of one micro-batch with the scenario's own cost model; tensor-parallel, pipeline and
// data-parallel terms in closed form), anchored to the last simulated prediction: step time and
// peak memory are multiplied by the ratio simulated / modelled of the prediction on display, so
// what the model leaves out (contention, scheduling gaps, buffers) is carried over from the
// simulation of a neighbouring configuration instead of ignored. Throughput and MFU follow from the
// step time.
// The simulation still runs and replaces the preview whole. Transformers only (the estimate's
// domain); other models get no preview (their steps simulate in milliseconds anyway).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "clustersim/explore/estimate.hpp"
#include "clustersim/explore/step_model.hpp"
#include "clustersim/models/scenario.hpp"

namespace clustersim::gui {

struct PredictionResult;

// What a preview needs to know about one scenario: its closed-form estimate and the scale of its
// throughput figures.
struct EstimateFacts {
  explore::Estimate estimate;
  explore::StepModel model;           // explore::step_model with the scenario's cost model
  double model_flops_per_step = 0.0;  // models::model_flops_per_step, as the plan's meta counts them
  double peak_flops = 0.0;            // GPUs x dense peak of the compute dtype
  std::int64_t tokens_per_step = 0;
  std::int64_t samples_per_step = 0;
  std::int64_t capacity_bytes = 0;  // usable memory of one GPU
  std::int32_t gpus = 0;
};
// nullopt for scenarios the estimate does not cover (non-transformers).
std::optional<EstimateFacts> estimate_facts(const models::Scenario& scenario);

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
