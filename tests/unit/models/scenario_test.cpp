// Tests of scenario parsing and validation (models/scenario.hpp): presets with overrides, defaults,
// dp derivation, --set overrides and dot paths, scenario files, hardware_of, and a table of bad
// inputs, each of which must raise InputError naming the right JSON path and saying what is allowed.
// A sweep of odd values over every documented key checks that nothing but InputError escapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::models {
namespace {

using nlohmann::json;

// 2 nodes x 8 H100, Llama 3 8B, tp 2 x pp 2 (dp derived: 4).
json base() {
  return json::parse(R"({
    "name": "llama3-8b-16xH100",
    "description": "unit-test scenario",
    "cluster": {"nodes": 2, "gpus_per_node": 8, "gpu": "H100-SXM-80GB",
                "inter_node": {"link": "ib-ndr-400", "nics_per_node": 8, "topology": "rail-fat-tree"}},
    "model": {"architecture": "llama3-8b", "seq_len": 4096},
    "training": {"global_batch": 256, "micro_batch": 2, "precision": "bf16", "zero_stage": 1},
    "parallelism": {"tp": 2, "pp": 2},
    "simulation": {"network": "flow", "seed": 7}
  })");
}

template <typename F>
InputError input_error(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << "no InputError thrown";
  return InputError("", "", "");
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// --- valid scenarios ----------------------------------------------------------------------------

TEST(Scenario, ParsesPresetsAndDefaults) {
  const Scenario s = parse_scenario(base());
  EXPECT_EQ(s.name, "llama3-8b-16xH100");
  EXPECT_EQ(s.cluster.gpus(), 16);
  EXPECT_EQ(s.cluster.gpu.name, "H100-SXM-80GB");
  EXPECT_DOUBLE_EQ(s.cluster.gpu.memory_bandwidth_gbytes_s, 3350.0);
  // Defaults proposed by the H100 entry.
  EXPECT_EQ(s.cluster.intra_node.name, "nvswitch-h100");
  EXPECT_EQ(s.cluster.host_link.name, "pcie5-x16");
  EXPECT_EQ(s.cluster.inter_node.link.name, "ib-ndr-400");
  EXPECT_EQ(s.cluster.inter_node.topology, plan::FabricTopology::rail_fat_tree);
  EXPECT_EQ(s.cluster.inter_node.nodes_per_leaf, 32);
  EXPECT_DOUBLE_EQ(s.cluster.inter_node.oversubscription, 1.0);
  EXPECT_EQ(s.model.arch.name, "llama3-8b");
  EXPECT_EQ(s.model.seq_len, 4096);
  EXPECT_EQ(s.model.arch.published_parameters, 8'030'261'248);
  EXPECT_EQ(s.training.precision, Precision::bf16);
  EXPECT_EQ(s.training.optimizer, OptimizerKind::adamw);
  EXPECT_EQ(s.training.recompute, Recompute::none);
  EXPECT_DOUBLE_EQ(s.training.bucket_mib, 25.0);
  EXPECT_TRUE(s.training.flash_attention);
  EXPECT_EQ(s.training.data, "synthetic");
  // dp = 16 GPUs / (tp 2 x pp 2); accumulation = 256 / (2 x 4).
  EXPECT_EQ(s.parallelism.dp, 4);
  EXPECT_EQ(s.accumulation_steps(), 32);
  EXPECT_EQ(s.parallelism.schedule, PipelineSchedule::one_f_one_b);
  EXPECT_EQ(s.parallelism.placement, "tp-dp-pp");
  EXPECT_EQ(s.simulation.network, "flow");
  EXPECT_EQ(s.simulation.cost_model, "roofline");
  EXPECT_EQ(s.simulation.seed, 7);
  EXPECT_EQ(s.source, base());
}

TEST(Scenario, MinimalScenarioTakesEveryDefault) {
  const Scenario s = parse_scenario(json::parse(R"({"name": "m", "cluster": {"gpu": "A100-80GB"},
      "model": {"architecture": "gpt3-125m"}, "training": {"global_batch": 8}})"));
  EXPECT_EQ(s.cluster.nodes, 1);
  EXPECT_EQ(s.cluster.gpus_per_node, 1);
  EXPECT_EQ(s.model.seq_len, 2048);  // the architecture's max_seq
  EXPECT_EQ(s.training.micro_batch, 1);
  EXPECT_EQ(s.parallelism.dp, 1);
  EXPECT_EQ(s.accumulation_steps(), 8);
  EXPECT_EQ(s.cluster.intra_node.name, "nvswitch-a100");
  EXPECT_EQ(s.cluster.host_link.name, "pcie4-x16");
  EXPECT_EQ(s.simulation.seed, 1);
}

TEST(Scenario, DefaultPrecisionFollowsTheGpu) {
  json j = base();
  j["cluster"]["gpu"] = "V100-32GB";
  j["training"].erase("precision");
  const Scenario s = parse_scenario(j);
  EXPECT_EQ(s.training.precision, Precision::fp16);  // V100 has no bf16 rate
  EXPECT_EQ(s.cluster.intra_node.name, "nvlink2");
  j["cluster"]["gpu"] = "H100-SXM-80GB";
  EXPECT_EQ(parse_scenario(j).training.precision, Precision::bf16);
}

TEST(Scenario, PresetFieldOverrides) {
  json j = base();
  j["cluster"]["gpu"] = json::parse(R"({"preset": "H100-SXM-80GB", "memory_gib": 64,
                                        "peak_tflops": {"fp8_e4m3": null}, "efficiency": {"gemm": {"max": 0.6}}})");
  j["cluster"]["intra_node"] = json::parse(R"({"preset": "nvswitch-h100", "efficiency": 0.5})");
  const Scenario s = parse_scenario(j);
  EXPECT_EQ(s.cluster.gpu.name, "H100-SXM-80GB");
  EXPECT_DOUBLE_EQ(s.cluster.gpu.memory_gib, 64.0);
  EXPECT_DOUBLE_EQ(s.cluster.gpu.memory_bandwidth_gbytes_s, 3350.0);  // kept from the preset
  EXPECT_FALSE(s.cluster.gpu.peak_tflops.count(DType::fp8_e4m3));     // removed by null
  EXPECT_DOUBLE_EQ(s.cluster.gpu.efficiency.at("gemm").max, 0.6);
  EXPECT_DOUBLE_EQ(s.cluster.gpu.efficiency.at("gemm").half, 1.5e9);  // merge patch keeps the preset's half
  EXPECT_DOUBLE_EQ(s.cluster.intra_node.bandwidth_gbps, 3600.0);
  EXPECT_DOUBLE_EQ(s.cluster.intra_node.efficiency, 0.5);
  // With the fp8 rate removed, fp8 is refused.
  j["training"]["precision"] = "fp8";
  const InputError e = input_error([&] { (void)parse_scenario(j); });
  EXPECT_EQ(e.json_path(), "training.precision");
}

TEST(Scenario, ModelDirectOverrides) {
  json j = base();
  j["model"]["layers"] = 16;
  const Scenario s = parse_scenario(j);
  EXPECT_EQ(s.model.arch.layers, 16);
  EXPECT_EQ(s.model.arch.kv_heads, 8);              // the rest of the preset is kept
  EXPECT_EQ(s.model.arch.published_parameters, 0);  // no longer the published model
  // Llama 3 8B layer, by hand: q 4096^2 + k,v 2 x 4096 x 1024 + o 4096^2 + SwiGLU 3 x 4096 x 14336
  // + 2 RMSNorm x 4096 = 218,112,000. 16 of 32 layers removed from the published 8,030,261,248.
  EXPECT_EQ(parameter_count(s.model.arch), 8'030'261'248 - 16 * 218'112'000LL);
  // The same through {"preset": ...}.
  j = base();
  j["model"]["architecture"] = json::parse(R"({"preset": "llama3-8b", "layers": 16})");
  EXPECT_EQ(parse_scenario(j).model.arch.layers, 16);
  // Descriptive overrides keep the published size.
  j = base();
  j["model"]["description"] = "renamed";
  EXPECT_EQ(parse_scenario(j).model.arch.published_parameters, 8'030'261'248);
}

TEST(Scenario, FullObjectsWithoutPresets) {
  json j = base();
  j["cluster"]["gpu"] = json::parse(R"({"name": "toy-gpu", "memory_gib": 16, "memory_bandwidth_gbytes_s": 500,
                                        "peak_tflops": {"fp32": 10, "bf16": 100}})");
  j["cluster"]["intra_node"] = json::parse(R"({"bandwidth_gbps": 800, "latency_us": 2})");
  j["model"] = json::parse(R"({"architecture": {"family": "gpt", "layers": 4, "hidden": 256, "heads": 8,
                                                "vocab": 1000, "max_seq": 128}})");
  j["training"]["global_batch"] = 64;
  const Scenario s = parse_scenario(j);
  EXPECT_EQ(s.cluster.gpu.name, "toy-gpu");
  EXPECT_DOUBLE_EQ(s.cluster.gpu.efficiency.at("memory").max, 0.8);  // documented default
  EXPECT_EQ(s.cluster.gpu.kernel_launch_ns, 4000);
  EXPECT_EQ(s.cluster.intra_node.name, "custom-link");
  EXPECT_DOUBLE_EQ(s.cluster.intra_node.efficiency, 1.0);
  EXPECT_EQ(s.cluster.host_link.name, "pcie4-x16");  // a custom GPU names no default
  EXPECT_EQ(s.model.arch.name, "custom");
  EXPECT_EQ(s.model.arch.ffn_hidden, 1024);  // 4h for GELU
  EXPECT_TRUE(s.model.arch.tied_embeddings);
  EXPECT_EQ(s.model.seq_len, 128);
  // Llama family defaults: SwiGLU width 2/3 * 4h rounded up to a multiple of 256 (4096 -> 11008).
  j["model"] = json::parse(R"({"architecture": {"family": "llama", "layers": 2, "hidden": 4096, "heads": 32,
                                                "vocab": 32000, "max_seq": 4096}})");
  j["cluster"]["gpu"] = "H100-SXM-80GB";
  const Scenario l = parse_scenario(j);
  EXPECT_EQ(l.model.arch.ffn_hidden, 11008);  // Llama 2 7B's published width
  EXPECT_EQ(l.model.arch.positions, "rope");
  EXPECT_FALSE(l.model.arch.bias);
}

TEST(Scenario, DataParallelNonTransformers) {
  json j = base();
  j["model"] = {{"architecture", "resnet-50"}};
  j["parallelism"] = json::object();
  j["training"]["global_batch"] = 512;
  j["training"]["micro_batch"] = 32;
  const Scenario s = parse_scenario(j);
  EXPECT_EQ(s.parallelism.dp, 16);
  EXPECT_EQ(s.model.seq_len, 0);
  EXPECT_EQ(s.accumulation_steps(), 1);
  j["model"] = {{"architecture", "mlp"}};
  EXPECT_EQ(parse_scenario(j).model.arch.mlp_dims.front(), 784);
}

TEST(Scenario, ExplicitDpAndInterleavedSchedule) {
  json j = base();
  j["model"]["architecture"] = "gpt3-1.3b";
  j["model"].erase("seq_len");
  j["parallelism"] = json::parse(R"({"dp": 2, "tp": 2, "pp": 4, "schedule": "interleaved-1f1b",
                                     "virtual_stages": 3, "sp": true, "placement": "tp-pp-dp"})");
  j["training"]["zero_stage"] = 1;
  const Scenario s = parse_scenario(j);  // 24 layers = 4 x 3 x 2; 256 / (2 x 2) = 64 micro-batches, 64 % 4 == 0
  EXPECT_EQ(s.parallelism.schedule, PipelineSchedule::interleaved_1f1b);
  EXPECT_EQ(s.parallelism.virtual_stages, 3);
  EXPECT_TRUE(s.parallelism.sp);
  EXPECT_EQ(schedule_name(s.parallelism.schedule), "interleaved-1f1b");
}

TEST(Scenario, SingleNodeNeedsNoNetwork) {
  json j = base();
  j["cluster"].erase("inter_node");
  j["cluster"]["nodes"] = 1;
  j["parallelism"] = {{"tp", 8}};
  const Scenario s = parse_scenario(j);
  EXPECT_EQ(s.parallelism.dp, 1);
  EXPECT_EQ(s.cluster.inter_node.nics_per_node, 8);
}

TEST(Scenario, StragglersAndDegradedLinksReachTheHardware) {
  json j = base();
  j["cluster"]["stragglers"] =
      json::parse(R"([{"rank": 3, "compute_factor": 1.5}, {"rank": 15, "compute_factor": 2}])");
  j["cluster"]["degraded_links"] =
      json::parse(R"([{"where": "node:1", "bandwidth_factor": 0.5}, {"where": "leaf:0", "bandwidth_factor": 0.25},
                      {"where": "intra:0", "bandwidth_factor": 1}])");
  const Scenario s = parse_scenario(j);
  const plan::Hardware h = hardware_of(s);
  EXPECT_EQ(h.name, "2 nodes x 8 x H100-SXM-80GB");
  EXPECT_EQ(h.world_size(), 16);
  EXPECT_EQ(h.gpu.name, "H100-SXM-80GB");
  EXPECT_EQ(h.intra_node.name, "nvswitch-h100");
  EXPECT_EQ(h.inter_node.link.name, "ib-ndr-400");
  ASSERT_EQ(h.slowdowns.size(), 2u);
  EXPECT_EQ(h.slowdowns[1].rank, 15);
  EXPECT_DOUBLE_EQ(h.slowdowns[0].compute_factor, 1.5);
  ASSERT_EQ(h.degradations.size(), 3u);
  EXPECT_EQ(h.degradations[1].where, "leaf:0");
  EXPECT_DOUBLE_EQ(h.degradations[1].bandwidth_factor, 0.25);
  j["cluster"]["nodes"] = 1;
  j["cluster"].erase("stragglers");
  j["cluster"].erase("degraded_links");
  j["parallelism"] = {{"tp", 2}, {"pp", 2}};
  EXPECT_EQ(hardware_of(parse_scenario(j)).name, "8 x H100-SXM-80GB");
}

// --- overrides ----------------------------------------------------------------------------------

TEST(Overrides, ValuesParseAsJsonElseAsStrings) {
  json j = base();
  apply_override(j, "training.micro_batch=4");
  apply_override(j, "parallelism.sp=true");
  apply_override(j, "training.precision=fp16");
  apply_override(j, "cluster.gpu=A100-80GB");
  apply_override(j, "simulation.profile=/tmp/a=b.json");  // only the first '=' splits
  apply_override(j, "model.layers=16");
  apply_override(j, "training.lr = 1e-4");
  EXPECT_EQ(j["training"]["micro_batch"], 4);
  EXPECT_EQ(j["parallelism"]["sp"], true);
  EXPECT_EQ(j["training"]["precision"], "fp16");
  EXPECT_EQ(j["cluster"]["gpu"], "A100-80GB");
  EXPECT_EQ(j["simulation"]["profile"], "/tmp/a=b.json");
  EXPECT_EQ(j["model"]["layers"], 16);
  EXPECT_DOUBLE_EQ(j["training"]["lr"].get<double>(), 1e-4);
  apply_override(j, "cluster.inter_node={\"link\": \"ib-hdr-200\"}");
  EXPECT_EQ(j["cluster"]["inter_node"]["link"], "ib-hdr-200");
  const Scenario s = parse_scenario(j);
  EXPECT_EQ(s.training.micro_batch, 4);
  EXPECT_EQ(s.model.arch.layers, 16);
}

TEST(Overrides, DescendingIntoAPresetNameMakesAnOverrideObject) {
  json j = base();
  apply_override(j, "cluster.gpu.memory_gib=40");
  EXPECT_EQ(j["cluster"]["gpu"], json::parse(R"({"preset": "H100-SXM-80GB", "memory_gib": 40})"));
  apply_override(j, "model.architecture.layers=8");
  EXPECT_EQ(j["model"]["architecture"]["preset"], "llama3-8b");
  const Scenario s = parse_scenario(j);
  EXPECT_DOUBLE_EQ(s.cluster.gpu.memory_gib, 40.0);
  EXPECT_EQ(s.model.arch.layers, 8);
}

TEST(Overrides, ArraysAndRemoval) {
  json j = base();
  apply_override(j, "cluster.stragglers.0.rank=3");
  apply_override(j, "cluster.stragglers.0.compute_factor=2");
  apply_override(j, "cluster.stragglers.1={\"rank\": 4, \"compute_factor\": 1.2}");
  ASSERT_TRUE(j["cluster"]["stragglers"].is_array());
  EXPECT_EQ(j["cluster"]["stragglers"].size(), 2u);
  EXPECT_EQ(parse_scenario(j).cluster.stragglers.size(), 2u);
  apply_override(j, "cluster.stragglers.0=null");
  EXPECT_EQ(j["cluster"]["stragglers"].size(), 1u);
  EXPECT_EQ(j["cluster"]["stragglers"][0]["rank"], 4);
  apply_override(j, "training.precision=null");  // back to the default
  EXPECT_FALSE(j["training"].contains("precision"));
  EXPECT_EQ(parse_scenario(j).training.precision, Precision::bf16);
  set_path(j, "simulation.seed", 99);
  EXPECT_EQ(parse_scenario(j).simulation.seed, 99);
}

TEST(Overrides, MalformedOverridesNameTheText) {
  json j = base();
  InputError e = input_error([&] { apply_override(j, "training.micro_batch"); });
  EXPECT_EQ(e.json_path(), "--set");
  EXPECT_TRUE(contains(e.what(), "training.micro_batch")) << e.what();
  EXPECT_TRUE(contains(e.allowed(), "path=value")) << e.what();
  e = input_error([&] { apply_override(j, "=3"); });
  EXPECT_EQ(e.json_path(), "--set");
  e = input_error([&] { apply_override(j, "training..micro_batch=3"); });
  EXPECT_EQ(e.json_path(), "training..micro_batch");
  EXPECT_TRUE(contains(e.what(), "training..micro_batch=3")) << e.what();
  // Through a number.
  e = input_error([&] { apply_override(j, "training.global_batch.x=1"); });
  EXPECT_EQ(e.json_path(), "training.global_batch");
  EXPECT_TRUE(contains(e.what(), "training.global_batch.x=1")) << e.what();
  // A number no double can hold.
  e = input_error([&] { apply_override(j, "training.lr=1e999"); });
  EXPECT_EQ(e.json_path(), "training.lr");
  EXPECT_TRUE(contains(e.what(), "training.lr=1e999")) << e.what();
  // A key where an array index is needed, and an index past the end.
  j["cluster"]["stragglers"] = json::array();
  e = input_error([&] { apply_override(j, "cluster.stragglers.first.rank=1"); });
  EXPECT_EQ(e.json_path(), "cluster.stragglers.first");
  e = input_error([&] { apply_override(j, "cluster.stragglers.5.rank=1"); });
  EXPECT_EQ(e.json_path(), "cluster.stragglers.5");
  EXPECT_TRUE(contains(e.allowed(), "from 0 to 0")) << e.what();
}

// --- files --------------------------------------------------------------------------------------

std::string scratch_file(const std::string& tag, const std::string& text) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path p =
      std::filesystem::temp_directory_path() / ("clustersim_" + std::string(info->name()) + "_" + tag + ".json");
  std::ofstream(p) << text;
  return p.string();
}

TEST(ScenarioFiles, CommentsAreAllowed) {
  const std::string path = scratch_file("ok", R"(// a scenario
{
  "name": "from-file", /* inline */
  "cluster": {"gpu": "L4"},
  "model": {"architecture": "gpt-tiny"},
  "training": {"global_batch": 4}
})");
  const Scenario s = parse_scenario(load_scenario_json(path));
  EXPECT_EQ(s.name, "from-file");
  EXPECT_EQ(s.model.seq_len, 256);
  std::filesystem::remove(path);
}

TEST(ScenarioFiles, MissingFileAndParseErrors) {
  InputError e = input_error([] { (void)load_scenario_json("/nonexistent/dir/scenario.json"); });
  EXPECT_EQ(e.json_path(), "/nonexistent/dir/scenario.json");
  EXPECT_TRUE(contains(e.value(), "does not exist")) << e.what();
  e = input_error([] { (void)load_scenario_json(std::filesystem::temp_directory_path().string()); });
  EXPECT_TRUE(contains(e.value(), "directory")) << e.what();
  const std::string huge = scratch_file("huge", "{\"name\": 1e999}");
  e = input_error([&] { (void)load_scenario_json(huge); });
  EXPECT_EQ(e.json_path(), huge);
  std::filesystem::remove(huge);
  const std::string path = scratch_file("bad", "{\n  \"name\": \"x\",\n  \"cluster\": {\"gpu\" \"L4\"}\n}\n");
  e = input_error([&] { (void)load_scenario_json(path); });
  EXPECT_EQ(e.json_path(), path);
  EXPECT_TRUE(contains(e.value(), "line 3")) << e.what();
  EXPECT_TRUE(contains(e.value(), "column")) << e.what();
  std::filesystem::remove(path);
}

// --- the documented example ---------------------------------------------------------------------

TEST(ScenarioDocs, EveryFullExampleInScenarioMdParses) {
  std::ifstream in(std::string(CLUSTERSIM_SOURCE_DIR) + "/docs/SCENARIO.md");
  ASSERT_TRUE(in) << "docs/SCENARIO.md is missing";
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  int examples = 0;
  for (std::size_t at = text.find("```json"); at != std::string::npos; at = text.find("```json", at + 1)) {
    const std::size_t start = text.find('\n', at) + 1;
    const std::size_t end = text.find("```", start);
    ASSERT_NE(end, std::string::npos);
    const json j = json::parse(text.substr(start, end - start), nullptr, true, true);
    if (!j.is_object() || !j.contains("name")) continue;  // a fragment, not a whole scenario
    ++examples;
    SCOPED_TRACE(j.at("name").get<std::string>());
    EXPECT_NO_THROW((void)parse_scenario(j));
  }
  EXPECT_GE(examples, 2);
}

// --- bad input ----------------------------------------------------------------------------------

struct BadInput {
  const char* what;
  std::function<void(json&)> mutate;
  std::string path;                // expected json_path()
  std::vector<std::string> hints;  // each must appear in the message
};

void set(json& j, const std::string& dot_path, const json& v) {
  set_path(j, dot_path, v);
}
// Sets a raw JSON value (null stays null, unlike set_path which removes).
void put(json& j, const std::string& pointer, const json& v) {
  j[json::json_pointer(pointer)] = v;
}

const std::vector<BadInput>& bad_inputs() {
  static const std::vector<BadInput> cases = {
      // Document and sections.
      {"document is an array", [](json& j) { j = json::array(); }, "(top level)", {"an object"}},
      {"misspelt section",
       [](json& j) {
         j["trainig"] = j["training"];
         j.erase("training");
       },
       "trainig",
       {"did you mean \"training\""}},
      {"missing name", [](json& j) { j.erase("name"); }, "name", {"scenario name"}},
      {"name is a number", [](json& j) { j["name"] = 5; }, "name", {"a string"}},
      {"missing training section", [](json& j) { j.erase("training"); }, "training", {"global_batch"}},
      {"cluster is an array", [](json& j) { j["cluster"] = json::array(); }, "cluster", {"an object"}},
      {"model is a string", [](json& j) { j["model"] = "gpt3-125m"; }, "model", {"an object"}},
      // Cluster.
      {"zero nodes", [](json& j) { set(j, "cluster.nodes", 0); }, "cluster.nodes", {"from 1"}},
      {"nodes as a string", [](json& j) { set(j, "cluster.nodes", "2"); }, "cluster.nodes", {"integer"}},
      {"nodes fractional", [](json& j) { set(j, "cluster.nodes", 1.5); }, "cluster.nodes", {"integer"}},
      {"too many GPUs per node",
       [](json& j) { set(j, "cluster.gpus_per_node", 65); },
       "cluster.gpus_per_node",
       {"to 64"}},
      {"too many GPUs in all",
       [](json& j) {
         set(j, "cluster.nodes", 1000000);
         set(j, "cluster.gpus_per_node", 64);
       },
       "cluster.nodes",
       {"at most"}},
      {"unknown GPU",
       [](json& j) { set(j, "cluster.gpu", "H100"); },
       "cluster.gpu",
       {"did you mean \"H100-SXM-80GB\"", "\"MI300X\""}},
      {"GPU is a number", [](json& j) { set(j, "cluster.gpu", 42); }, "cluster.gpu", {"preset name"}},
      {"missing GPU", [](json& j) { j["cluster"].erase("gpu"); }, "cluster.gpu", {"preset name"}},
      {"preset name not a string",
       [](json& j) {
         set(j, "cluster.gpu", json{{"preset", 5}});
       },
       "cluster.gpu.preset",
       {"GPU preset"}},
      {"negative memory override",
       [](json& j) { set(j, "cluster.gpu.memory_gib", -1); },
       "cluster.gpu.memory_gib",
       {"> 0"}},
      {"misspelt GPU field",
       [](json& j) { set(j, "cluster.gpu.memroy_gib", 40); },
       "cluster.gpu.memroy_gib",
       {"did you mean \"memory_gib\""}},
      {"unknown rate key",
       [](json& j) { set(j, "cluster.gpu.peak_tflops.int8", 100); },
       "cluster.gpu.peak_tflops.int8",
       {"known keys"}},
      {"custom GPU without rates",
       [](json& j) {
         set(j, "cluster.gpu", json{{"memory_gib", 16}, {"memory_bandwidth_gbytes_s", 100}});
       },
       "cluster.gpu.peak_tflops",
       {"required"}},
      {"efficiency max above one",
       [](json& j) { set(j, "cluster.gpu.efficiency.gemm.max", 1.5); },
       "cluster.gpu.efficiency.gemm.max",
       {"<= 1"}},
      {"unknown intra-node link",
       [](json& j) { set(j, "cluster.intra_node", "nvswitch-h200"); },
       "cluster.intra_node",
       {"did you mean \"nvswitch-b200\" or \"nvswitch-h100\"?"}},
      {"link without latency",
       [](json& j) {
         set(j, "cluster.host_link", json{{"bandwidth_gbps", 100}});
       },
       "cluster.host_link.latency_us",
       {"required"}},
      {"multi-node without network",
       [](json& j) { j["cluster"].erase("inter_node"); },
       "cluster.inter_node",
       {"\"link\"", "ib-ndr-400"}},
      {"network without link",
       [](json& j) { j["cluster"]["inter_node"].erase("link"); },
       "cluster.inter_node.link",
       {"ib-ndr-400"}},
      {"unknown topology",
       [](json& j) { set(j, "cluster.inter_node.topology", "dragonfly"); },
       "cluster.inter_node.topology",
       {"\"fat-tree\""}},
      {"oversubscription below one",
       [](json& j) { set(j, "cluster.inter_node.oversubscription", 0.5); },
       "cluster.inter_node.oversubscription",
       {"from 1"}},
      {"NICs not dividing GPUs",
       [](json& j) { set(j, "cluster.inter_node.nics_per_node", 3); },
       "cluster.inter_node.nics_per_node",
       {"divisor of cluster.gpus_per_node (8)"}},
      {"stragglers not an array",
       [](json& j) { set(j, "cluster.stragglers", json::object()); },
       "cluster.stragglers",
       {"an array"}},
      {"straggler rank out of range",
       [](json& j) { set(j, "cluster.stragglers", json::parse(R"([{"rank": 99, "compute_factor": 2}])")); },
       "cluster.stragglers[0].rank",
       {"from 0 to 15", "16 GPUs"}},
      {"straggler faster than normal",
       [](json& j) { set(j, "cluster.stragglers", json::parse(R"([{"rank": 1, "compute_factor": 0.5}])")); },
       "cluster.stragglers[0].compute_factor",
       {"from 1"}},
      {"duplicate straggler",
       [](json& j) {
         set(j, "cluster.stragglers",
             json::parse(R"([{"rank": 1, "compute_factor": 2}, {"rank": 1, "compute_factor": 3}])"));
       },
       "cluster.stragglers[1].rank",
       {"not already listed"}},
      {"unknown degraded place",
       [](json& j) {
         set(j, "cluster.degraded_links", json::parse(R"([{"where": "rack:1", "bandwidth_factor": 0.5}])"));
       },
       "cluster.degraded_links[0].where",
       {"node:<n>"}},
      {"degraded node out of range",
       [](json& j) {
         set(j, "cluster.degraded_links", json::parse(R"([{"where": "node:2", "bandwidth_factor": 0.5}])"));
       },
       "cluster.degraded_links[0].where",
       {"0..1"}},
      {"degradation above one",
       [](json& j) {
         set(j, "cluster.degraded_links", json::parse(R"([{"where": "node:0", "bandwidth_factor": 1.5}])"));
       },
       "cluster.degraded_links[0].bandwidth_factor",
       {"<= 1"}},
      {"degradation to zero",
       [](json& j) {
         set(j, "cluster.degraded_links", json::parse(R"([{"where": "node:0", "bandwidth_factor": 0}])"));
       },
       "cluster.degraded_links[0].bandwidth_factor",
       {"> 0"}},
      // Model.
      {"missing architecture", [](json& j) { j["model"].erase("architecture"); }, "model.architecture", {"llama3-8b"}},
      {"architecture case",
       [](json& j) { set(j, "model.architecture", "Llama3-8B"); },
       "model.architecture",
       {"did you mean \"llama3-8b\""}},
      {"zero layers override", [](json& j) { set(j, "model.layers", 0); }, "model.layers", {"from 1"}},
      {"misspelt model key",
       [](json& j) { set(j, "model.layerz", 16); },
       "model.layerz",
       {"did you mean \"layers\"", "seq_len"}},
      {"kv_heads not dividing heads",
       [](json& j) { set(j, "model.kv_heads", 3); },
       "model.kv_heads",
       {"divisor of heads (32)"}},
      {"heads not dividing hidden",
       [](json& j) {
         set(j, "model.architecture", json{{"preset", "gpt3-125m"}, {"heads", 7}});
         j["model"].erase("seq_len");
       },
       "model.architecture.heads",
       {"divisor of hidden (768)"}},
      {"sequence beyond learned positions",
       [](json& j) { set(j, "model.architecture", "gpt3-125m"); },
       "model.seq_len",
       {"2048", "learned position"}},
      {"sequence length for an image model",
       [](json& j) {
         set(j, "model.architecture", "resnet-50");
         j["parallelism"] = json::object();
       },
       "model.seq_len",
       {"not a sequence model"}},
      {"zero sequence length", [](json& j) { set(j, "model.seq_len", 0); }, "model.seq_len", {"from 1"}},
      {"architecture preset not a string",
       [](json& j) {
         set(j, "model.architecture", json{{"preset", 5}});
       },
       "model.architecture.preset",
       {"architecture preset"}},
      // Training.
      {"missing global batch",
       [](json& j) { j["training"].erase("global_batch"); },
       "training.global_batch",
       {"samples per optimizer step"}},
      {"batch not divisible",
       [](json& j) { set(j, "training.global_batch", 100); },
       "training.global_batch",
       {"multiple of training.micro_batch x parallelism.dp = 2 x 4 = 8", "96 or 104"}},
      {"negative micro batch", [](json& j) { set(j, "training.micro_batch", -1); }, "training.micro_batch", {"from 1"}},
      {"huge global batch",
       [](json& j) { set(j, "training.global_batch", 1e300); },
       "training.global_batch",
       {"integer"}},
      {"misspelt precision",
       [](json& j) { set(j, "training.precision", "bf61"); },
       "training.precision",
       {"did you mean \"bf16\""}},
      {"bf16 on V100",
       [](json& j) { set(j, "cluster.gpu", "V100-32GB"); },
       "training.precision",
       {"V100-32GB", "fp16 (125 TFLOPS)"}},
      {"fp8 on A100",
       [](json& j) {
         set(j, "cluster.gpu", "A100-80GB");
         set(j, "training.precision", "fp8");
       },
       "training.precision",
       {"A100-80GB", "fp8_e4m3"}},
      {"zero stage 4", [](json& j) { set(j, "training.zero_stage", 4); }, "training.zero_stage", {"from 0 to 3"}},
      {"ZeRO-2 with pipeline",
       [](json& j) { set(j, "training.zero_stage", 2); },
       "training.zero_stage",
       {"parallelism.pp", "DeepSpeed"}},
      {"dropout of one", [](json& j) { set(j, "training.dropout", 1.0); }, "training.dropout", {"< 1"}},
      {"misspelt optimizer",
       [](json& j) { set(j, "training.optimizer", "adam"); },
       "training.optimizer",
       {"did you mean \"adamw\""}},
      {"selective recompute for an MLP",
       [](json& j) {
         set(j, "model", json{{"architecture", "mlp"}});
         j["parallelism"] = json::object();
         set(j, "training.recompute", "selective");
       },
       "training.recompute",
       {"transformers"}},
      {"NaN learning rate", [](json& j) { set(j, "training.lr", "NaN"); }, "training.lr", {"a number"}},
      {"null bucket size", [](json& j) { put(j, "/training/bucket_mib", nullptr); }, "training.bucket_mib", {"> 0"}},
      {"beta2 of one", [](json& j) { set(j, "training.beta2", 1); }, "training.beta2", {"< 1"}},
      {"growth factor of one",
       [](json& j) { set(j, "training.loss_scaling.growth_factor", 1); },
       "training.loss_scaling.growth_factor",
       {"> 1"}},
      {"backoff above one",
       [](json& j) { set(j, "training.loss_scaling.backoff_factor", 2); },
       "training.loss_scaling.backoff_factor",
       {"< 1"}},
      {"loss scaling misspelt key",
       [](json& j) { set(j, "training.loss_scaling.inital", 1024); },
       "training.loss_scaling.inital",
       {"did you mean \"initial\""}},
      {"empty data path", [](json& j) { set(j, "training.data", ""); }, "training.data", {"synthetic"}},
      // Parallelism.
      {"tp x pp not dividing GPUs",
       [](json& j) { set(j, "parallelism.tp", 3); },
       "parallelism",
       {"16 GPUs", "set parallelism.dp"}},
      {"explicit dp mismatch",
       [](json& j) { set(j, "parallelism.dp", 3); },
       "parallelism.dp",
       {"equal to the 16 GPUs", "dp = 4"}},
      {"tp beyond kv heads",
       [](json& j) {
         set(j, "parallelism.tp", 16);
         set(j, "parallelism.pp", 1);
       },
       "parallelism.tp",
       {"key/value heads", "Megatron"}},
      {"tp not dividing attention heads",
       [](json& j) {
         set(j, "model.architecture", "gpt3-13b");
         j["model"].erase("seq_len");
         set(j, "parallelism.tp", 16);
         set(j, "parallelism.pp", 1);
       },
       "parallelism.tp",
       {"attention heads (40)", "1, 2, 4, 5, 8"}},
      {"pp not dividing layers",
       [](json& j) {
         set(j, "cluster.nodes", 1);
         set(j, "cluster.gpus_per_node", 3);
         set(j, "parallelism.tp", 1);
         set(j, "parallelism.pp", 3);
         set(j, "cluster.inter_node.nics_per_node", 1);
         set(j, "training.global_batch", 6);
       },
       "parallelism.pp",
       {"32 layers"}},
      {"sp without tp",
       [](json& j) {
         set(j, "parallelism.tp", 1);
         set(j, "parallelism.sp", true);
       },
       "parallelism.sp",
       {"tp is 1"}},
      {"misspelt schedule",
       [](json& j) { set(j, "parallelism.schedule", "interleaved"); },
       "parallelism.schedule",
       {"did you mean \"interleaved-1f1b\""}},
      {"schedule parts swapped",
       [](json& j) { set(j, "parallelism.schedule", "1f1b-interleaved"); },
       "parallelism.schedule",
       {"did you mean \"interleaved-1f1b\""}},
      {"virtual stages without interleaving",
       [](json& j) { set(j, "parallelism.virtual_stages", 2); },
       "parallelism.virtual_stages",
       {"interleaved-1f1b"}},
      {"interleaved without pipeline",
       [](json& j) {
         set(j, "parallelism.pp", 1);
         set(j, "parallelism.schedule", "interleaved-1f1b");
         set(j, "parallelism.virtual_stages", 2);
       },
       "parallelism.pp",
       {"at least 2"}},
      {"interleaved with one chunk",
       [](json& j) { set(j, "parallelism.schedule", "interleaved-1f1b"); },
       "parallelism.virtual_stages",
       {"at least 2"}},
      {"interleaved micro-batches",
       [](json& j) {
         set(j, "parallelism.pp", 4);
         set(j, "parallelism.tp", 1);
         set(j, "parallelism.schedule", "interleaved-1f1b");
         set(j, "parallelism.virtual_stages", 2);
         set(j, "training.global_batch", 24);
         set(j, "training.micro_batch", 1);
       },
       "parallelism.schedule",
       {"6", "multiple of parallelism.pp (4)"}},
      {"interleaved layers",
       [](json& j) {
         set(j, "parallelism.schedule", "interleaved-1f1b");
         set(j, "parallelism.virtual_stages", 3);
       },
       "parallelism.virtual_stages",
       {"32 layers"}},
      {"bad placement",
       [](json& j) { set(j, "parallelism.placement", "tp-dp"); },
       "parallelism.placement",
       {"permutation"}},
      {"tensor parallel image model",
       [](json& j) {
         set(j, "model", json{{"architecture", "resnet-50"}});
       },
       "parallelism.tp",
       {"transformer models only"}},
      {"tp as a boolean", [](json& j) { set(j, "parallelism.tp", true); }, "parallelism.tp", {"integer"}},
      {"unknown parallelism key", [](json& j) { set(j, "parallelism.cp", 2); }, "parallelism.cp", {"known keys"}},
      // Simulation.
      {"unknown network model",
       [](json& j) { set(j, "simulation.network", "packet"); },
       "simulation.network",
       {"\"analytical\"", "\"flow\""}},
      {"calibrated without profile",
       [](json& j) { set(j, "simulation.cost_model", "calibrated"); },
       "simulation.profile",
       {"clustersim calibrate"}},
      {"misspelt algorithm",
       [](json& j) { set(j, "simulation.collective_algorithm", "rings"); },
       "simulation.collective_algorithm",
       {"did you mean \"ring\""}},
      {"negative seed", [](json& j) { set(j, "simulation.seed", -1); }, "simulation.seed", {"from 0"}},
      {"unknown rank mode",
       [](json& j) { set(j, "simulation.rank_mode", "all"); },
       "simulation.rank_mode",
       {"\"symmetric\""}},
  };
  return cases;
}

TEST(ScenarioBadInput, EachNamesItsPathAndWhatIsAllowed) {
  EXPECT_GE(bad_inputs().size(), 30u);
  for (const auto& c : bad_inputs()) {
    SCOPED_TRACE(c.what);
    json j = base();
    c.mutate(j);
    try {
      (void)parse_scenario(j);
      ADD_FAILURE() << "accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(e.json_path(), c.path) << e.what();
      const std::string message = e.what();
      EXPECT_TRUE(contains(message, c.path)) << message;
      EXPECT_FALSE(e.allowed().empty()) << message;
      for (const auto& hint : c.hints)
        EXPECT_TRUE(contains(message, hint)) << "missing \"" << hint << "\" in: " << message;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not an InputError: " << e.what();
    }
  }
}

TEST(ScenarioBadInput, BaseScenarioIsValid) {
  EXPECT_NO_THROW((void)parse_scenario(base()));
}

// Odd values at every documented key: the parser may accept some, but must never throw anything
// other than InputError (no type errors, no crashes, no internal errors).
TEST(ScenarioBadInput, OddValuesEverywhereRaiseOnlyInputErrors) {
  const std::vector<std::string> paths = {"name",
                                          "description",
                                          "cluster",
                                          "cluster.nodes",
                                          "cluster.gpus_per_node",
                                          "cluster.gpu",
                                          "cluster.gpu.memory_gib",
                                          "cluster.gpu.peak_tflops",
                                          "cluster.gpu.peak_tflops.bf16",
                                          "cluster.gpu.efficiency",
                                          "cluster.gpu.efficiency.gemm",
                                          "cluster.gpu.efficiency.gemm.half",
                                          "cluster.gpu.default_host_link",
                                          "cluster.intra_node",
                                          "cluster.intra_node.bandwidth_gbps",
                                          "cluster.inter_node",
                                          "cluster.inter_node.link",
                                          "cluster.inter_node.link.latency_us",
                                          "cluster.inter_node.nics_per_node",
                                          "cluster.inter_node.topology",
                                          "cluster.inter_node.nodes_per_leaf",
                                          "cluster.inter_node.oversubscription",
                                          "cluster.host_link",
                                          "cluster.stragglers",
                                          "cluster.stragglers.0",
                                          "cluster.stragglers.0.rank",
                                          "cluster.stragglers.0.compute_factor",
                                          "cluster.degraded_links",
                                          "cluster.degraded_links.0",
                                          "cluster.degraded_links.0.where",
                                          "cluster.degraded_links.0.bandwidth_factor",
                                          "model",
                                          "model.architecture",
                                          "model.architecture.preset",
                                          "model.seq_len",
                                          "model.layers",
                                          "model.hidden",
                                          "model.heads",
                                          "model.kv_heads",
                                          "model.ffn_hidden",
                                          "model.vocab",
                                          "model.max_seq",
                                          "model.family",
                                          "model.norm",
                                          "model.activation",
                                          "model.positions",
                                          "model.tied_embeddings",
                                          "model.rope_theta",
                                          "model.dims",
                                          "model.blocks",
                                          "training",
                                          "training.global_batch",
                                          "training.micro_batch",
                                          "training.precision",
                                          "training.optimizer",
                                          "training.recompute",
                                          "training.zero_stage",
                                          "training.bucket_mib",
                                          "training.dropout",
                                          "training.flash_attention",
                                          "training.offload_optimizer",
                                          "training.lr",
                                          "training.weight_decay",
                                          "training.beta1",
                                          "training.beta2",
                                          "training.eps",
                                          "training.momentum",
                                          "training.grad_clip",
                                          "training.loss_scaling",
                                          "training.loss_scaling.dynamic",
                                          "training.loss_scaling.initial",
                                          "training.loss_scaling.growth_interval",
                                          "training.steps",
                                          "training.data",
                                          "parallelism",
                                          "parallelism.dp",
                                          "parallelism.tp",
                                          "parallelism.pp",
                                          "parallelism.sp",
                                          "parallelism.schedule",
                                          "parallelism.virtual_stages",
                                          "parallelism.placement",
                                          "simulation",
                                          "simulation.network",
                                          "simulation.cost_model",
                                          "simulation.profile",
                                          "simulation.collective_algorithm",
                                          "simulation.rank_mode",
                                          "simulation.seed"};
  const std::vector<json> values = {"abc",
                                    "",
                                    "NaN",
                                    "Infinity",
                                    -1,
                                    0,
                                    1,
                                    0.5,
                                    -0.0,
                                    1e300,
                                    -1e300,
                                    json(std::numeric_limits<std::int64_t>::max()),
                                    json(std::numeric_limits<std::uint64_t>::max()),
                                    true,
                                    json::array(),
                                    json::array({1, 2}),
                                    json::object(),
                                    json{{"preset", 5}},
                                    json{{"x", 1}}};
  int accepted = 0, rejected = 0;
  for (const auto& path : paths) {
    for (const auto& value : values) {
      json j = base();
      j["cluster"]["stragglers"] = json::parse(R"([{"rank": 1, "compute_factor": 2}])");
      j["cluster"]["degraded_links"] = json::parse(R"([{"where": "node:0", "bandwidth_factor": 0.5}])");
      try {
        set_path(j, path, value);
        (void)parse_scenario(j);
        ++accepted;
      } catch (const InputError&) {
        ++rejected;
      } catch (const std::exception& e) {
        ADD_FAILURE() << path << " = " << value.dump() << ": not an InputError: " << e.what();
      }
    }
    // A raw null (set_path would remove the key instead).
    json j = base();
    std::string pointer = "/" + path;
    std::replace(pointer.begin(), pointer.end(), '.', '/');
    try {
      j[json::json_pointer(pointer)] = nullptr;
    } catch (const json::exception&) {
      continue;  // the path goes through a string preset: nothing to set
    }
    try {
      (void)parse_scenario(j);
    } catch (const InputError&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << path << " = null: not an InputError: " << e.what();
    }
  }
  EXPECT_GT(rejected, accepted);
}

}  // namespace
}  // namespace clustersim::models
