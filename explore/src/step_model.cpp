// Step model with costed compute; see step_model.hpp for the method and its sources.
#include "clustersim/explore/step_model.hpp"

#include <algorithm>
#include <optional>

#include "clustersim/engine/cost_model.hpp"
#include "clustersim/models/build.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::explore {

namespace {

struct MicroBatchCompute {
  double microbatch_s = 0.0;  // forward + backward + recompute of one micro-batch
  double backward_s = 0.0;    // its backward + recompute part
  double optimizer_s = 0.0;
};

std::optional<MicroBatchCompute> cost_one_microbatch(const models::Scenario& sc, std::string_view cost_model,
                                                     std::shared_ptr<const plan::CalibrationProfile> profile) {
  const auto& par = sc.parallelism;
  const std::int64_t per_pipeline =
      par.schedule == models::PipelineSchedule::interleaved_1f1b && par.pp > 1 ? par.pp : 1;
  models::Scenario probe = sc;
  probe.training.global_batch = sc.training.micro_batch * par.dp * per_pipeline;
  try {
    const plan::Plan plan = models::build_plan(probe);
    const auto cost = engine::make_cost_model(cost_model, models::hardware_of(sc), std::move(profile));
    MicroBatchCompute worst;
    const double n = static_cast<double>(per_pipeline);
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

StepModel step_model(const models::Scenario& sc, const Estimate& e, std::string_view cost_model,
                     std::shared_ptr<const plan::CalibrationProfile> profile) {
  StepModel s;
  const std::optional<MicroBatchCompute> mb = cost_one_microbatch(sc, cost_model, std::move(profile));
  if (!mb) {
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
  const double per_mb = mb->microbatch_s + e.tp_comm_s / m;
  s.costed = true;
  s.compute_s = m * mb->microbatch_s;
  s.tp_comm_s = e.tp_comm_s;
  s.bubble_s = par.pp > 1 ? (par.pp - 1.0) / v * per_mb : 0.0;
  const double hidden_behind = zero >= 2 ? s.compute_s : mb->backward_s;
  s.dp_exposed_s = std::max(0.0, e.dp_comm_s - hidden_behind);
  s.optimizer_s = mb->optimizer_s;
  s.step_time_s = m * per_mb + s.bubble_s + s.dp_exposed_s + s.optimizer_s;
  return s;
}

}  // namespace clustersim::explore
