// Transformer plans: structure, determinism, and the quantities the literature gives in closed form:
// stored activations per layer (Korthikanti et al. 2022, Table 2), tensor-parallel communication per
// layer (Shoeybi et al. 2019; Korthikanti et al. 2022 for sequence parallelism), pipeline transfers,
// data-parallel gradient volume and ZeRO model states (Rajbhandari et al. SC'20).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "clustersim/models/build.hpp"
#include "clustersim/models/formulas.hpp"
#include "clustersim/plan/json.hpp"
#include "test_scenarios.hpp"

namespace clustersim::models {
namespace {

using nlohmann::json;
using testing::parse;
using testing::small_gpt;

plan::Plan build(json j) { return testing::build_validated(parse(j)); }

// Bytes of activation tensors allocated in a forward pass and freed by the backward pass of `layer`
// (micro-batch 0, program 0): what the layer keeps for its backward.
double stored_activation_bytes(const plan::Plan& p, int layer, int program = 0) {
  std::set<plan::TensorId> forward_allocated;
  const auto& prog = p.programs[static_cast<std::size_t>(program)];
  for (const auto& op : prog.ops)
    if (op.tags.phase == Phase::forward && op.tags.microbatch == 0)
      for (auto t : op.allocs) forward_allocated.insert(t);
  double bytes = 0;
  for (const auto& op : prog.ops) {
    if (op.tags.phase != Phase::backward || op.tags.microbatch != 0 || op.tags.layer != layer) continue;
    for (auto t : op.frees) {
      const auto& tensor = p.tensors[static_cast<std::size_t>(t)];
      if (forward_allocated.count(t) && tensor.role == TensorRole::activation) bytes += static_cast<double>(tensor.bytes);
    }
  }
  return bytes;
}

struct Volume {
  int count = 0;
  double bytes = 0;
};
std::map<std::string, Volume> tp_volume(const plan::Plan& p, int layer, Phase phase) {
  std::map<std::string, Volume> out;
  for (const auto& op : p.programs[0].ops) {
    if (op.kind != OpKind::collective || op.tags.layer != layer || op.tags.microbatch != 0 || op.tags.phase != phase)
      continue;
    const auto& c = std::get<plan::CollectiveParams>(op.params);
    if (c.group != GroupKind::tp) continue;
    auto& v = out[std::string(to_string(c.type))];
    v.count++;
    v.bytes += static_cast<double>(c.bytes);
  }
  return out;
}

json korthikanti_gpt() {
  // GPT-3 style layer with dropout and unfused attention, as in Korthikanti et al.'s accounting.
  json j = small_gpt(1);
  j["model"]["architecture"] = {{"preset", "gpt3-125m"}, {"layers", 2}};
  j["model"]["seq_len"] = 512;
  j["training"]["dropout"] = 0.1;
  j["training"]["flash_attention"] = false;
  j["training"]["global_batch"] = 2;
  j["training"]["micro_batch"] = 2;
  return j;
}

TEST(TransformerPlan, ValidatesAcrossConfigurations) {
  struct Case {
    int gpus, tp, pp;
    bool sp;
    const char* schedule;
    int v, zero;
    const char* recompute;
    const char* precision;
    bool flash;
  };
  const Case cases[] = {
      {1, 1, 1, false, "1f1b", 1, 0, "none", "bf16", true},       {1, 1, 1, false, "1f1b", 1, 0, "full", "fp32", false},
      {4, 1, 1, false, "1f1b", 1, 1, "selective", "fp16", false}, {4, 1, 1, false, "1f1b", 1, 2, "none", "bf16", true},
      {4, 1, 1, false, "1f1b", 1, 3, "full", "bf16", true},       {2, 2, 1, false, "1f1b", 1, 0, "none", "bf16", true},
      {4, 2, 1, true, "1f1b", 1, 1, "selective", "bf16", false},  {4, 1, 2, false, "gpipe", 1, 0, "none", "bf16", true},
      {4, 1, 4, false, "1f1b", 1, 0, "full", "fp8", true},        {4, 1, 1, false, "1f1b", 1, 1, "none", "fp8", true},
      {4, 2, 1, true, "1f1b", 1, 2, "selective", "fp8", false},        {8, 2, 2, true, "interleaved-1f1b", 2, 1, "none", "bf16", true},
  };
  for (const auto& c : cases) {
    json j = small_gpt(c.gpus);
    j["parallelism"] = {{"tp", c.tp}, {"pp", c.pp}, {"sp", c.sp}, {"schedule", c.schedule}, {"virtual_stages", c.v}};
    j["training"]["zero_stage"] = c.zero;
    j["training"]["recompute"] = c.recompute;
    j["training"]["precision"] = c.precision;
    j["training"]["flash_attention"] = c.flash;
    j["training"]["global_batch"] = 16;
    j["training"]["micro_batch"] = 1;
    if (std::string(c.precision) == "fp8") j["cluster"]["gpu"] = "H100-SXM-80GB";
    SCOPED_TRACE(j.dump());
    plan::Plan p;
    ASSERT_NO_THROW(p = build(j));
    EXPECT_EQ(p.world_size, c.gpus);
    EXPECT_EQ(static_cast<int>(p.programs.size()), c.pp);
  }
}

TEST(TransformerPlan, IsDeterministic) {
  json j = small_gpt(4);
  j["parallelism"] = {{"tp", 2}, {"pp", 2}};
  j["training"]["global_batch"] = 8;
  j["training"]["micro_batch"] = 1;
  EXPECT_EQ(plan::to_json(build(j)).dump(), plan::to_json(build(j)).dump());
}

TEST(TransformerPlan, StoredActivationsMatchKorthikanti) {
  const json j = korthikanti_gpt();
  const Scenario sc = parse(j);
  const double s = sc.model.seq_len, b = sc.training.micro_batch, h = sc.model.arch.hidden, a = sc.model.arch.heads;
  const plan::Plan p = testing::build_validated(sc);
  const double expected = formulas::activation_bytes_per_layer(s, b, h, a);
  for (int layer : {0, 1}) EXPECT_NEAR(stored_activation_bytes(p, layer), expected, 0.02 * expected) << layer;
}

TEST(TransformerPlan, FullRecomputeStoresOnlyTheLayerInput) {
  json j = korthikanti_gpt();
  j["training"]["recompute"] = "full";
  const Scenario sc = parse(j);
  const plan::Plan p = testing::build_validated(sc);
  const double expected = formulas::activation_bytes_per_layer_full_recompute(
      sc.model.seq_len, sc.training.micro_batch, sc.model.arch.hidden);
  EXPECT_DOUBLE_EQ(stored_activation_bytes(p, 1), expected);
}

TEST(TransformerPlan, SelectiveRecomputeDropsTheAttentionCore) {
  json j = korthikanti_gpt();
  j["training"]["recompute"] = "selective";
  const Scenario sc = parse(j);
  const plan::Plan p = testing::build_validated(sc);
  const double expected =
      formulas::activation_bytes_per_layer_selective(sc.model.seq_len, sc.training.micro_batch, sc.model.arch.hidden, 1);
  EXPECT_NEAR(stored_activation_bytes(p, 1), expected, 0.02 * expected);
}

TEST(TransformerPlan, SelectiveRecomputeWithFlashKeepsTheLogSumExp) {
  // Regression: selective recomputation with flash attention used to free the log-sum-exp that the
  // flash backward needs. Flash stores no s^2 terms: 34 sbh plus the fp32 log-sum-exp (4 a s b).
  json j = korthikanti_gpt();
  j["training"]["recompute"] = "selective";
  j["training"]["flash_attention"] = true;
  const Scenario sc = parse(j);
  plan::Plan p;
  ASSERT_NO_THROW(p = testing::build_validated(sc));
  const double s = sc.model.seq_len, b = sc.training.micro_batch, h = sc.model.arch.hidden, a = sc.model.arch.heads;
  const double expected = formulas::activation_bytes_per_layer_selective(s, b, h, 1) + 4 * a * s * b;
  EXPECT_NEAR(stored_activation_bytes(p, 1), expected, 0.02 * expected);
}

TEST(TransformerPlan, TensorParallelActivationsMatchKorthikanti) {
  for (bool sp : {false, true}) {
    json j = korthikanti_gpt();
    j["cluster"]["gpus_per_node"] = 4;
    j["cluster"]["inter_node"]["nics_per_node"] = 4;
    j["parallelism"] = {{"tp", 4}, {"sp", sp}};
    const Scenario sc = parse(j);
    const double s = sc.model.seq_len, b = sc.training.micro_batch, h = sc.model.arch.hidden,
                 a = sc.model.arch.heads, t = 4;
    const plan::Plan p = testing::build_validated(sc);
    const double expected = sp ? formulas::activation_bytes_per_layer_tp_sp(s, b, h, a, t)
                               : formulas::activation_bytes_per_layer_tp(s, b, h, a, t);
    EXPECT_NEAR(stored_activation_bytes(p, 1), expected, 0.02 * expected) << "sp=" << sp;
  }
}

TEST(TransformerPlan, TensorParallelCommunicationPerLayer) {
  json j = small_gpt(4);
  j["parallelism"] = {{"tp", 4}};
  const Scenario sc = parse(j);
  const plan::Plan p = testing::build_validated(sc);
  // Megatron: 2 all-reduces of b*s*h (bf16) forward and 2 backward per layer and micro-batch.
  const double bsh = static_cast<double>(sc.training.micro_batch * sc.model.seq_len * sc.model.arch.hidden) * 2;
  auto fwd = tp_volume(p, 1, Phase::forward), bwd = tp_volume(p, 1, Phase::backward);
  EXPECT_EQ(fwd.size(), 1u);
  EXPECT_EQ(fwd["all_reduce"].count, 2);
  EXPECT_DOUBLE_EQ(fwd["all_reduce"].bytes, 2 * bsh);
  EXPECT_EQ(bwd.size(), 1u);
  EXPECT_EQ(bwd["all_reduce"].count, 2);
  EXPECT_DOUBLE_EQ(bwd["all_reduce"].bytes, 2 * bsh);
}

TEST(TransformerPlan, SequenceParallelCommunicationPerLayer) {
  json j = small_gpt(4);
  j["parallelism"] = {{"tp", 4}, {"sp", true}};
  const Scenario sc = parse(j);
  const plan::Plan p = testing::build_validated(sc);
  const double bsh = static_cast<double>(sc.training.micro_batch * sc.model.seq_len * sc.model.arch.hidden) * 2;
  // Each all-reduce becomes an all-gather + reduce-scatter pair of the same volume; backward also
  // re-gathers the two sequence-sharded GEMM inputs for the weight gradients (Korthikanti et al. 4.2.2).
  auto fwd = tp_volume(p, 1, Phase::forward), bwd = tp_volume(p, 1, Phase::backward);
  EXPECT_EQ(fwd["all_gather"].count, 2);
  EXPECT_EQ(fwd["reduce_scatter"].count, 2);
  EXPECT_DOUBLE_EQ(fwd["all_gather"].bytes + fwd["reduce_scatter"].bytes, 4 * bsh);
  EXPECT_EQ(fwd.count("all_reduce"), 0u);
  EXPECT_EQ(bwd["all_gather"].count, 4);
  EXPECT_EQ(bwd["reduce_scatter"].count, 2);
  EXPECT_DOUBLE_EQ(bwd["all_gather"].bytes, 4 * bsh);
}

TEST(TransformerPlan, PipelineSendsOneActivationPerMicrobatchAndBoundary) {
  json j = small_gpt(4);
  j["parallelism"] = {{"pp", 4}, {"schedule", "1f1b"}};
  j["training"]["global_batch"] = 8;
  j["training"]["micro_batch"] = 1;
  const Scenario sc = parse(j);
  const plan::Plan p = testing::build_validated(sc);
  const std::int64_t bsh = sc.training.micro_batch * sc.model.seq_len * sc.model.arch.hidden * 2;
  const int m = 8;
  for (int s = 0; s < 4; ++s) {
    int sends_act = 0, sends_grad = 0;
    for (const auto& op : p.programs[static_cast<std::size_t>(s)].ops) {
      if (op.kind != OpKind::send) continue;
      const auto& pp = std::get<plan::P2PParams>(op.params);
      EXPECT_EQ(pp.bytes, bsh);
      (pp.tag == 0 ? sends_act : sends_grad)++;
    }
    EXPECT_EQ(sends_act, s < 3 ? m : 0) << "stage " << s;
    EXPECT_EQ(sends_grad, s > 0 ? m : 0) << "stage " << s;
  }
}

TEST(TransformerPlan, DataParallelReducesEveryGradientOnceOnTheLastMicrobatch) {
  json j = small_gpt(4);
  j["training"]["global_batch"] = 16;
  j["training"]["micro_batch"] = 1;  // 4 accumulation steps
  j["training"]["bucket_mib"] = 1;
  const Scenario sc = parse(j);
  const plan::Plan p = testing::build_validated(sc);
  double reduced = 0;
  for (const auto& op : p.programs[0].ops)
    if (op.kind == OpKind::collective) {
      const auto& c = std::get<plan::CollectiveParams>(op.params);
      if (c.group == GroupKind::dp && c.type == CollectiveType::all_reduce && c.bytes > 4) {
        EXPECT_EQ(op.tags.microbatch, 3);
        EXPECT_LE(c.bytes, 1024 * 1024 + 2 * 768 * 50304 * 2);  // a bucket closes once it reaches 1 MiB
        reduced += static_cast<double>(c.bytes);
      }
    }
  const double params = static_cast<double>(p.meta.parameters);
  // Every parameter is reduced once (bf16 gradients); vocabulary padding and bucket padding add < 1%.
  EXPECT_GE(reduced, 2 * params);
  EXPECT_LE(reduced, 2 * params * 1.01);
}

TEST(TransformerPlan, ZeroModelStatesFollowRajbhandari) {
  // Persistent bytes by role, per rank, against 16 psi, 4 psi + 12 psi / N, 2 psi + 14 psi / N, 16 psi / N.
  for (int zero : {0, 1, 2, 3}) {
    json j = small_gpt(8);
    j["training"]["zero_stage"] = zero;
    j["training"]["global_batch"] = 8;
    j["training"]["micro_batch"] = 1;
    const Scenario sc = parse(j);
    const plan::Plan p = testing::build_validated(sc);
    double states = 0;
    for (auto t : p.programs[0].persistent) {
      const auto& tensor = p.tensors[static_cast<std::size_t>(t)];
      if (tensor.role == TensorRole::weight || tensor.role == TensorRole::grad ||
          tensor.role == TensorRole::master_weight || tensor.role == TensorRole::optimizer_state)
        states += static_cast<double>(tensor.bytes);
    }
    const double psi = static_cast<double>(p.meta.parameters);
    const double expected = formulas::zero_model_state_bytes(psi, zero, 8);
    EXPECT_NEAR(states, expected, 0.01 * expected) << "zero " << zero;
  }
}

TEST(TransformerPlan, FullRecomputeAddsOneForwardPass) {
  json j = small_gpt(1);
  const plan::Plan none = build(j);
  j["training"]["recompute"] = "full";
  const plan::Plan full = build(j);
  double forward_layers = 0;
  for (const auto& op : none.programs[0].ops)
    if (op.tags.phase == Phase::forward && op.tags.layer >= 0) forward_layers += plan::op_flops(op);
  EXPECT_NEAR(full.meta.hardware_flops_per_step - none.meta.hardware_flops_per_step, forward_layers,
              1e-9 * forward_layers);
  EXPECT_DOUBLE_EQ(full.meta.model_flops_per_step, none.meta.model_flops_per_step);
}

TEST(TransformerPlan, ModelFlopsFollowSixNPlusAttention) {
  const Scenario sc = parse(small_gpt(1));
  const plan::Plan p = testing::build_validated(sc);
  const auto& a = sc.model.arch;
  // Tied embeddings: the table is the LM head's matrix; learned positions are a lookup.
  const double n = static_cast<double>(parameter_count(a) - a.max_seq * a.hidden);
  const double expected = static_cast<double>(sc.training.global_batch * sc.model.seq_len) *
                          formulas::training_flops_per_token(n, a.layers, a.hidden, sc.model.seq_len);
  EXPECT_DOUBLE_EQ(p.meta.model_flops_per_step, expected);
}

TEST(TransformerPlan, LlamaWithGroupedQueryAttentionAndTensorParallelism) {
  json j = small_gpt(8);
  j["model"] = {{"architecture", {{"preset", "llama3-8b"}, {"layers", 2}}}, {"seq_len", 512}};
  j["parallelism"] = {{"tp", 8}, {"sp", true}};
  j["training"]["global_batch"] = 2;
  j["training"]["micro_batch"] = 1;
  const Scenario sc = parse(j);
  const plan::Plan p = testing::build_validated(sc);
  // The QKV GEMM has (32/8 query heads + 2 * 8/8 kv heads) * 128 outputs per rank.
  bool found = false;
  for (const auto& op : p.programs[0].ops)
    if (op.kind == OpKind::gemm && op.name == "qkv" && op.tags.layer == 0 && op.tags.microbatch == 0) {
      const auto& g = std::get<plan::GemmParams>(op.params);
      EXPECT_EQ(g.n, (4 + 2) * 128);
      EXPECT_EQ(g.k, 4096);
      EXPECT_EQ(g.m, 512);
      found = true;
    }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace clustersim::models
