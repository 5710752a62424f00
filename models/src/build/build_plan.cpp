// build_plan: scenario -> Plan dispatch by architecture family, plus the plan's metadata (batch,
// tokens, model FLOPs for MFU, hardware FLOPs from the emitted ops) and a structural validation.
#include "clustersim/models/build.hpp"

#include "transformer.hpp"
#include "vision.hpp"

namespace clustersim::models {

namespace {

// Parameters that take part in matrix multiplications: everything but lookup tables (the input
// embedding when untied, learned positions, token types). With tied embeddings the table is the
// LM head's matrix and counts once.
double matmul_parameters(const ArchSpec& a) {
  double n = static_cast<double>(parameter_count(a));
  if (!a.tied_embeddings) n -= static_cast<double>(a.vocab * a.hidden);
  if (a.positions == "learned") n -= static_cast<double>(a.max_seq * a.hidden);
  n -= static_cast<double>(a.type_vocab * a.hidden);
  return n;
}

}  // namespace

double model_flops_per_step(const Scenario& sc) {
  const ArchSpec& a = sc.model.arch;
  if (!a.is_transformer()) return 0.0;  // set by the builders from their forward FLOPs
  const double tokens = static_cast<double>(sc.training.global_batch) * static_cast<double>(sc.model.seq_len);
  // 6 N per token for the forward and backward GEMMs, plus attention 12 L h s per token
  // (Kaplan et al. 2020; Narayanan et al. SC'21, eq. 3 without recomputation).
  const double per_token = 6.0 * matmul_parameters(a) + 12.0 * static_cast<double>(a.layers) *
                                                            static_cast<double>(a.hidden) *
                                                            static_cast<double>(sc.model.seq_len);
  return tokens * per_token;
}

plan::Plan build_plan(const Scenario& sc) {
  plan::Plan plan;
  auto& m = plan.meta;
  m.scenario = sc.name;
  m.model = sc.model.arch.name;
  m.global_batch = sc.training.global_batch;
  m.micro_batch = sc.training.micro_batch;
  m.num_microbatches = sc.accumulation_steps();
  m.parameters = parameter_count(sc.model.arch);
  m.dp = sc.parallelism.dp, m.tp = sc.parallelism.tp, m.pp = sc.parallelism.pp;
  m.precision = sc.training.precision;
  m.zero_stage = sc.parallelism.dp > 1 ? sc.training.zero_stage : 0;
  m.seed = sc.simulation.seed;
  m.dynamic_loss_scale = sc.training.precision == Precision::fp16 && sc.training.loss_scaling.dynamic;
  m.loss_scale_init = sc.training.loss_scaling.initial;
  m.loss_scale_window = sc.training.loss_scaling.growth_interval;
  m.loss_scale_growth = sc.training.loss_scaling.growth_factor;
  m.loss_scale_backoff = sc.training.loss_scaling.backoff_factor;

  const ArchSpec& a = sc.model.arch;
  if (a.is_transformer()) {
    build::build_transformer(sc, plan);
    m.seq_len = sc.model.seq_len;
    m.tokens_per_step = sc.training.global_batch * sc.model.seq_len;
    m.model_flops_per_step = model_flops_per_step(sc);
  } else {
    const double forward_per_sample =
        a.family == ArchFamily::mlp ? build::build_mlp(sc, plan) : build::build_resnet(sc, plan);
    m.model_flops_per_step = 3.0 * forward_per_sample * static_cast<double>(sc.training.global_batch);
  }
  // Hardware FLOPs (for HFU): the model FLOPs plus what recomputation adds, counted from the
  // recompute-phase ops every rank runs (Korthikanti et al. 2022, section 5).
  std::vector<double> recompute_flops(plan.programs.size(), 0.0);
  for (std::size_t p = 0; p < plan.programs.size(); ++p)
    for (const auto& op : plan.programs[p].ops)
      if (op.tags.phase == Phase::recompute) recompute_flops[p] += plan::op_flops(op);
  m.hardware_flops_per_step = m.model_flops_per_step;
  for (std::int32_t prog : plan.program_of_rank) m.hardware_flops_per_step += recompute_flops[static_cast<std::size_t>(prog)];
  // Interpreters validate what they run (engine::simulate, the executor), plans read from files
  // included, so the builder does not pay for a second pass here.
  return plan;
}

}  // namespace clustersim::models
