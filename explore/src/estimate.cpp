// Closed-form step estimate; see estimate.hpp for the formulas and their sources.
#include "clustersim/explore/estimate.hpp"

#include <algorithm>
#include <cmath>

#include "clustersim/models/formulas.hpp"

namespace clustersim::explore {

namespace {

double ring_all_reduce_s(int n, double bytes, double alpha_s, double bytes_per_s) {
  return models::formulas::ring_all_reduce_s(n, bytes, alpha_s, bytes_per_s);
}

}  // namespace

Estimate estimate_step(const models::Scenario& sc) {
  const models::ArchSpec& a = sc.model.arch;
  if (!a.is_transformer())
    throw InputError("model.architecture", "\"" + a.name + "\"", "a transformer for the estimate");
  const auto& par = sc.parallelism;
  const auto& tr = sc.training;
  const plan::Hardware hw = models::hardware_of(sc);
  Estimate e;

  const double B = static_cast<double>(tr.micro_batch), s = static_cast<double>(sc.model.seq_len);
  const double h = static_cast<double>(a.hidden), heads = static_cast<double>(a.heads);
  const double L = static_cast<double>(a.layers), V = static_cast<double>(a.vocab);
  const int t = par.tp, p = par.pp, d = par.dp;
  const int v = par.schedule == models::PipelineSchedule::interleaved_1f1b ? par.virtual_stages : 1;
  const double m = static_cast<double>(sc.accumulation_steps());
  const bool sp = par.sp && t > 1;
  const bool mixed = tr.precision != Precision::fp32 && tr.precision != Precision::tf32;
  const double act_scale = mixed ? 1.0 : 2.0;  // Korthikanti counts 16-bit activations

  // Parameters: per layer, and the embedding table(s) on the first / last stage.
  const double embedding = V * h + (a.positions == "learned" ? static_cast<double>(a.max_seq) * h : 0.0);
  const double head = a.tied_embeddings ? (p > 1 ? V * h : 0.0) : V * h;
  const double per_layer =
      (static_cast<double>(models::parameter_count(a)) - embedding - (a.tied_embeddings ? 0.0 : V * h)) / L;
  const double stage_layers = L / p;
  const double stage_params = std::max(stage_layers * per_layer + embedding, stage_layers * per_layer + head) / t;

  // Model states (bytes per parameter: weights, grads, master + optimizer).
  const int zero = d > 1 ? tr.zero_stage : 0;
  const double opt_bytes = (tr.optimizer == OptimizerKind::adamw ? 8.0 : 4.0) + (mixed ? 4.0 : 0.0);
  const double w = mixed ? 2.0 : 4.0, g = w;
  double states = 0.0;
  switch (zero) {
    case 0:
      states = (w + g + opt_bytes) * stage_params;
      break;
    case 1:
      states = (w + g) * stage_params + opt_bytes * stage_params / d;
      break;
    case 2:
      states = w * stage_params + (g + opt_bytes) * stage_params / d;
      break;
    default:
      states = (w + g + opt_bytes) * stage_params / d;
      break;
  }
  e.model_state_bytes = states;

  // Activations per layer and micro-batch (Korthikanti et al. Table 2); flash attention drops 5as/h.
  const double attn = tr.flash_attention ? 0.0 : 5.0 * heads * s / h;
  double per_layer_act = 0.0;
  switch (tr.recompute) {
    case Recompute::none:
      per_layer_act = sp ? s * B * h / t * (34.0 + attn) : s * B * h * (10.0 + 24.0 / t + attn / t);
      break;
    case Recompute::selective:
      per_layer_act = sp ? 34.0 * s * B * h / t : s * B * h * (10.0 + 24.0 / t);
      break;
    case Recompute::full:
      per_layer_act = 2.0 * s * B * h / (sp ? t : 1);
      break;
  }
  per_layer_act *= act_scale;
  double in_flight_layers = 0.0;  // layer-micro-batches alive on the first stage
  if (p == 1) {
    in_flight_layers = stage_layers;
  } else if (par.schedule == models::PipelineSchedule::gpipe) {
    in_flight_layers = m * stage_layers;
  } else if (v > 1) {
    const double warmup = std::min(m * v, (p - 1) * 2.0 + (v - 1) * p);
    in_flight_layers = (warmup + 1) * stage_layers / v;
  } else {
    in_flight_layers = std::min<double>(p, m) * stage_layers;
  }
  const double logits = B * s * V / t * (mixed ? 2.0 : 4.0) * 2.0;  // logits and their gradient
  e.activation_bytes = in_flight_layers * per_layer_act + logits;
  e.capacity_bytes = static_cast<double>(hw.usable_memory_bytes());
  e.peak_memory_bytes = states + e.activation_bytes;
  e.fits = e.peak_memory_bytes <= e.capacity_bytes;

  // Compute.
  const DType dt = compute_dtype(tr.precision);
  const auto eff_it = hw.gpu.efficiency.find("gemm");
  const double eff = eff_it == hw.gpu.efficiency.end() ? 0.7 : eff_it->second.max;
  const double rate = hw.gpu.peak_tflops_for(dt) * 1e12 * eff;
  const double layer_matmul_fwd = 2.0 * per_layer * B * s / t;  // 2 N_layer per token
  const double layer_attn_fwd = 4.0 * B * s * s * h / t;
  const double fwd = stage_layers * (layer_matmul_fwd + layer_attn_fwd) + 2.0 * B * s * h * V / t / p;
  double recompute = 0.0;
  if (tr.recompute == Recompute::full) recompute = stage_layers * (layer_matmul_fwd + layer_attn_fwd);
  if (tr.recompute == Recompute::selective && !tr.flash_attention) recompute = stage_layers * layer_attn_fwd;
  const double t_mb = (3.0 * fwd + recompute) / rate;

  // Tensor parallelism: 4 ring all-reduces of b s h per layer and micro-batch (6 with full recompute).
  double t_tp = 0.0;
  if (t > 1) {
    const double bytes = B * s * h * (mixed ? 2.0 : 4.0);
    const bool intra = t <= hw.gpus_per_node;
    const plan::LinkSpec& link = intra ? hw.intra_node : hw.inter_node.link;
    double bw = link.bytes_per_s();
    if (!intra) bw *= static_cast<double>(hw.inter_node.nics_per_node) / hw.gpus_per_node;
    const double per = ring_all_reduce_s(t, bytes, link.latency_us * 1e-6, bw);
    t_tp = stage_layers * per * (tr.recompute == Recompute::full ? 6.0 : 4.0) * (sp ? 1.25 : 1.0);
  }
  const double per_mb = t_mb + t_tp;
  e.compute_s = m * t_mb;
  e.tp_comm_s = m * t_tp;
  e.bubble_s = p > 1 ? (p - 1.0) / v * per_mb : 0.0;

  // Data parallelism: the gradient reduction overlaps the last micro-batch's backward.
  if (d > 1) {
    const double bytes = stage_params * g;
    const int inside = std::max(1, hw.gpus_per_node / std::max(1, t));  // dp ranks in a node (tp-dp-pp order)
    const bool crosses = d > inside;
    const plan::LinkSpec& link = crosses ? hw.inter_node.link : hw.intra_node;
    double bw = link.bytes_per_s();
    if (crosses) bw *= static_cast<double>(hw.inter_node.nics_per_node) / hw.gpus_per_node;
    double comm = ring_all_reduce_s(d, bytes, link.latency_us * 1e-6, bw);
    if (zero == 2) comm *= 0.5 * (m + 1.0);  // a reduce-scatter every micro-batch + one gather
    if (zero == 3) comm *= 1.5 * m;          // gathers forward and backward, reduce-scatter
    e.dp_comm_s = comm;
    const double overlap = zero >= 2 ? e.compute_s : 2.0 * fwd / rate;
    e.dp_exposed_s = std::max(0.0, comm - overlap);
  }
  const double state_bytes = zero >= 1 ? states : (w + g + opt_bytes) * stage_params;
  e.optimizer_s = 2.0 * state_bytes / (hw.gpu.memory_bandwidth_gbytes_s * 1e9);
  e.step_time_s = m * per_mb + e.bubble_s + e.dp_exposed_s + e.optimizer_s;
  return e;
}

}  // namespace clustersim::explore
