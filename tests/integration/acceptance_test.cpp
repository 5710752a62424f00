// Acceptance checks through the whole pipeline: the numbers come from the engine's simulated
// allocation timeline; the literature's closed forms are the oracles.
#include <gtest/gtest.h>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/models/build.hpp"
#include "clustersim/models/formulas.hpp"

namespace clustersim {
namespace {

using nlohmann::json;

plan::Trace predict(const json& j) {
  const models::Scenario sc = models::parse_scenario(j);
  engine::SimulationOptions o;
  o.record_ops = false;
  return engine::simulate(models::build_plan(sc), models::hardware_of(sc), o);
}

double model_state_bytes(const plan::RankMemory& m) {
  double b = 0;
  for (auto role : {TensorRole::weight, TensorRole::master_weight, TensorRole::grad, TensorRole::optimizer_state}) {
    const auto it = m.at_peak.find(role);
    if (it != m.at_peak.end()) b += static_cast<double>(it->second);
  }
  return b;
}

// Rajbhandari et al., "ZeRO", SC'20, Figure 1: Psi = 7.5B parameters, Adam with mixed precision
// (K = 12), N_d = 64: 120 GB per GPU without ZeRO, 31.4 GB with stage 1, 16.6 GB with stage 2.
TEST(Acceptance, ZeroFigureOneModelStates) {
  // A GPT with 36 layers of width 4096: 7.46e9 parameters, Figure 1's 7.5B within 0.5%.
  json j = {{"name", "zero-figure-1"},
            {"cluster",
             {{"nodes", 8},
              {"gpus_per_node", 8},
              {"gpu", "A100-80GB"},
              {"inter_node", {{"link", "ib-hdr-200"}, {"nics_per_node", 8}}}}},
            {"model", {{"architecture", {{"preset", "gpt3-6.7b"}, {"layers", 36}, {"hidden", 4096}, {"heads", 32}}},
                       {"seq_len", 512}}},
            {"training", {{"global_batch", 64}, {"micro_batch", 1}, {"precision", "fp16"}, {"recompute", "full"}}},
            {"parallelism", {{"dp", 64}}}};
  const double expected_gb[] = {120.0, 31.4, 16.6};
  for (int stage : {0, 1, 2}) {
    j["training"]["zero_stage"] = stage;
    const plan::Trace t = predict(j);
    ASSERT_FALSE(t.memory.empty());
    const double gb = model_state_bytes(t.memory.front()) / 1e9;
    EXPECT_NEAR(gb, expected_gb[stage], 0.01 * expected_gb[stage]) << "ZeRO stage " << stage;
  }
}

// Korthikanti et al., "Reducing Activation Recomputation in Large Transformer Models", 2022:
// a GPT-3 layer stores sbh(34 + 5as/h) bytes of 16-bit activations (with dropout, unfused
// attention), and 2sbh under full recomputation. One layer's share is the difference between the
// engine's activation peaks for models of L and L+1 layers.
double activation_peak(json j, int layers) {
  j["model"]["architecture"]["layers"] = layers;
  const plan::Trace t = predict(j);
  return static_cast<double>(t.memory.front().role_peak.at(TensorRole::activation));
}

json gpt3_layer_scenario(const char* recompute) {
  return {{"name", "gpt3-layer"},
          {"cluster", {{"gpu", "H100-SXM-80GB"}}},
          {"model", {{"architecture", {{"preset", "gpt3-175b"}, {"layers", 2}}}, {"seq_len", 2048}}},
          {"training",
           {{"global_batch", 1}, {"micro_batch", 1}, {"precision", "bf16"}, {"dropout", 0.1},
            {"flash_attention", false}, {"recompute", recompute}}}};
}

TEST(Acceptance, KorthikantiActivationsPerLayer) {
  const json j = gpt3_layer_scenario("none");
  const double per_layer = activation_peak(j, 3) - activation_peak(j, 2);
  // GPT-3 175B: s = 2048, b = 1, h = 12288, a = 96.
  const double expected = models::formulas::activation_bytes_per_layer(2048, 1, 12288, 96);
  EXPECT_NEAR(per_layer, expected, 0.02 * expected);
}

TEST(Acceptance, KorthikantiFullRecomputeKeepsTwoSbhPerLayer) {
  const json j = gpt3_layer_scenario("full");
  const double per_layer = activation_peak(j, 3) - activation_peak(j, 2);
  const double expected = models::formulas::activation_bytes_per_layer_full_recompute(2048, 1, 12288);
  EXPECT_NEAR(per_layer, expected, 0.02 * expected);
}

}  // namespace
}  // namespace clustersim
