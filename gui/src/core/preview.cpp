// Preview: the step model of a knob change anchored to the last simulation (see preview.hpp).
#include "core/preview.hpp"

#include <cmath>

#include "clustersim/models/build.hpp"
#include "clustersim/plan/error.hpp"
#include "core/prediction.hpp"

namespace clustersim::gui {

std::optional<EstimateFacts> estimate_facts(const models::Scenario& sc) {
  if (!sc.model.arch.is_transformer()) return std::nullopt;
  EstimateFacts f;
  try {
    f.estimate = explore::estimate_step(sc);
    const plan::Hardware hw = models::hardware_of(sc);
    f.gpus = sc.cluster.gpus();
    f.peak_flops = static_cast<double>(f.gpus) * hw.gpu.peak_tflops_for(compute_dtype(sc.training.precision)) * 1e12;
    f.model_flops_per_step = models::model_flops_per_step(sc);
    f.samples_per_step = sc.training.global_batch;
    f.tokens_per_step = sc.training.global_batch * sc.model.seq_len;
    f.capacity_bytes = hw.usable_memory_bytes();
    const engine::SimulationOptions options = simulation_options_for(sc);
    f.model = explore::step_model(sc, f.estimate, options.cost_model, options.profile);
  } catch (const Error&) {
    return std::nullopt;  // e.g. no rate for the precision on this GPU: the simulation says why
  }
  return f;
}

PreviewPtr make_preview(const models::Scenario& scenario, std::uint64_t revision, const PredictionResult* anchor) {
  std::optional<EstimateFacts> facts = estimate_facts(scenario);
  if (!facts || !(facts->model.step_time_s > 0.0)) return nullptr;
  auto p = std::make_shared<Preview>();
  p->revision = revision;
  p->facts = *facts;
  p->gpus = facts->gpus;
  if (anchor && anchor->facts && anchor->trace.summary.step_time_s > 0.0 && anchor->facts->model.step_time_s > 0.0 &&
      anchor->facts->estimate.peak_memory_bytes > 0.0) {
    p->anchor_revision = anchor->revision;
    p->step_ratio = anchor->trace.summary.step_time_s / anchor->facts->model.step_time_s;
    p->memory_ratio =
        static_cast<double>(anchor->trace.summary.peak_memory_bytes) / anchor->facts->estimate.peak_memory_bytes;
  }
  const explore::Estimate& e = facts->estimate;
  const explore::StepModel& sm = facts->model;
  p->step_time_s = sm.step_time_s * p->step_ratio;
  p->compute_s = sm.compute_s * p->step_ratio;
  p->exposed_comm_s = (sm.tp_comm_s + sm.dp_exposed_s) * p->step_ratio;
  p->bubble_s = sm.bubble_s * p->step_ratio;
  p->other_s = sm.optimizer_s * p->step_ratio;
  p->samples_per_s = static_cast<double>(facts->samples_per_step) / p->step_time_s;
  p->tokens_per_s = static_cast<double>(facts->tokens_per_step) / p->step_time_s;
  p->mfu = facts->peak_flops > 0.0 ? facts->model_flops_per_step / (p->step_time_s * facts->peak_flops) : 0.0;
  p->peak_memory_bytes = static_cast<std::int64_t>(std::llround(e.peak_memory_bytes * p->memory_ratio));
  p->capacity_bytes = facts->capacity_bytes;
  p->fits = p->peak_memory_bytes <= p->capacity_bytes;
  return p;
}

}  // namespace clustersim::gui
