// Preview: closed-form estimate anchored to the last simulation (see preview.hpp).
#include "core/preview.hpp"

#include <algorithm>
#include <cmath>

#include "clustersim/engine/cost_model.hpp"
#include "clustersim/models/build.hpp"
#include "clustersim/plan/error.hpp"
#include "core/prediction.hpp"

namespace clustersim::gui {

namespace {

// Compute of one micro-batch on the slowest pipeline program, from the scenario's plan with one
// micro-batch per pipeline (interleaved schedules: p, the smallest count they accept).
struct ProbeCompute {
  double microbatch_s = 0.0;  // forward + backward + recompute per micro-batch
  double backward_s = 0.0;    // its backward + recompute part
  double optimizer_s = 0.0;
};

std::optional<ProbeCompute> probe_compute(const models::Scenario& sc) {
  models::Scenario probe = sc;
  const auto& par = sc.parallelism;
  const std::int64_t per_pipeline =
      par.schedule == models::PipelineSchedule::interleaved_1f1b && par.pp > 1 ? par.pp : 1;
  probe.training.global_batch = sc.training.micro_batch * par.dp * per_pipeline;
  try {
    const plan::Plan plan = models::build_plan(probe);
    const engine::SimulationOptions options = simulation_options_for(sc);
    const auto cost = engine::make_cost_model(options.cost_model, models::hardware_of(sc), options.profile);
    ProbeCompute worst;
    for (const plan::Program& program : plan.programs) {
      double fwd = 0.0, bwd = 0.0, opt = 0.0;
      for (const plan::Op& op : program.ops) {
        if (program.streams[static_cast<std::size_t>(op.stream)].kind != StreamKind::compute) continue;
        const double s = static_cast<double>(cost->op_cost(plan, op).time_ns) * 1e-9;
        switch (op.tags.phase) {
          case Phase::forward:
            fwd += s;
            break;
          case Phase::backward:
          case Phase::recompute:
            bwd += s;
            break;
          case Phase::optimizer:
            opt += s;
            break;
          default:
            break;
        }
      }
      const double n = static_cast<double>(per_pipeline);
      if ((fwd + bwd) / n > worst.microbatch_s) {
        worst.microbatch_s = (fwd + bwd) / n;
        worst.backward_s = bwd / n;
      }
      worst.optimizer_s = std::max(worst.optimizer_s, opt);
    }
    if (!(worst.microbatch_s > 0.0)) return std::nullopt;
    return worst;
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

StepModel step_model(const models::Scenario& sc, const explore::Estimate& e) {
  StepModel s;
  const std::optional<ProbeCompute> probe = probe_compute(sc);
  if (!probe) {
    s.step_time_s = e.step_time_s;
    s.compute_s = e.compute_s;
    s.tp_comm_s = e.tp_comm_s;
    s.bubble_s = e.bubble_s;
    s.dp_exposed_s = e.dp_exposed_s;
    s.optimizer_s = e.optimizer_s;
    return s;
  }
  const auto& par = sc.parallelism;
  const double m = static_cast<double>(sc.accumulation_steps());
  const int v = par.schedule == models::PipelineSchedule::interleaved_1f1b ? par.virtual_stages : 1;
  const int zero = par.dp > 1 ? sc.training.zero_stage : 0;
  const double tp_mb = e.tp_comm_s / m;
  const double per_mb = probe->microbatch_s + tp_mb;
  s.costed = true;
  s.compute_s = m * probe->microbatch_s;
  s.tp_comm_s = e.tp_comm_s;
  s.bubble_s = par.pp > 1 ? (par.pp - 1.0) / v * per_mb : 0.0;
  // Buckets reduce behind the last micro-batch's backward; ZeRO-2/3 reduce (and gather) every
  // micro-batch, behind all of them.
  const double overlap = zero >= 2 ? s.compute_s : probe->backward_s;
  s.dp_exposed_s = std::max(0.0, e.dp_comm_s - overlap);
  s.optimizer_s = probe->optimizer_s;
  s.step_time_s = m * per_mb + s.bubble_s + s.dp_exposed_s + s.optimizer_s;
  return s;
}

std::optional<EstimateFacts> estimate_facts(const models::Scenario& sc) {
  if (!sc.model.arch.is_transformer()) return std::nullopt;
  EstimateFacts f;
  try {
    f.estimate = explore::estimate_step(sc);
  } catch (const Error&) {
    return std::nullopt;
  }
  const plan::Hardware hw = models::hardware_of(sc);
  f.gpus = sc.cluster.gpus();
  f.peak_flops = static_cast<double>(f.gpus) * hw.gpu.peak_tflops_for(compute_dtype(sc.training.precision)) * 1e12;
  f.model_flops_per_step = models::model_flops_per_step(sc);
  f.samples_per_step = sc.training.global_batch;
  f.tokens_per_step = sc.training.global_batch * sc.model.seq_len;
  f.capacity_bytes = hw.usable_memory_bytes();
  f.model = step_model(sc, f.estimate);
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
  const StepModel& sm = facts->model;
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
