// Tests of gui/src/core/knobs.hpp: the knob list, JSON path lookup, value resolution and writing.
#include "core/knobs.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "clustersim/models/catalog.hpp"
#include "gui_test_support.hpp"

namespace clustersim::gui {
namespace {

using nlohmann::json;

TEST(Knobs, ListsEveryRequiredKnobWithCatalogChoices) {
  const auto knobs = scenario_knobs();
  for (const char* id :
       {"gpu",        "nodes",          "gpus_per_node", "dp",           "tp",         "pp",        "sp",
        "schedule",   "virtual_stages", "micro_batch",   "global_batch", "seq_len",    "precision", "recompute",
        "zero_stage", "bucket_mib",     "network",       "architecture", "intra_node", "inter_node"})
    EXPECT_NE(find_knob(knobs, id), nullptr) << id;
  const Knob* gpu = find_knob(knobs, "gpu");
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->choices, models::Catalog::builtin().gpu_names());
  EXPECT_EQ(find_knob(knobs, "architecture")->choices, models::Catalog::builtin().architecture_names());
  EXPECT_EQ(find_knob(knobs, "inter_node")->choices, models::Catalog::builtin().link_names());
  EXPECT_EQ(find_knob(knobs, "nope"), nullptr);
}

TEST(Knobs, ErrorPathsMapToTheirKnob) {
  const auto knobs = scenario_knobs();
  EXPECT_EQ(knob_for_error_path(knobs, "parallelism.tp")->id, "tp");
  EXPECT_EQ(knob_for_error_path(knobs, "cluster.gpu.memory_gib")->id, "gpu");
  EXPECT_EQ(knob_for_error_path(knobs, "cluster.inter_node.link.latency_us")->id, "inter_node");
  EXPECT_EQ(knob_for_error_path(knobs, "parallelism")->json_path.rfind("parallelism.", 0), 0u);
  EXPECT_EQ(knob_for_error_path(knobs, "training.lr"), nullptr);
  EXPECT_EQ(knob_for_error_path(knobs, ""), nullptr);
}

TEST(Knobs, JsonAtPathFollowsObjectsAndArrays) {
  const json j = json::parse(R"({"a": {"b": [10, {"c": 3}]}})");
  ASSERT_NE(json_at_path(j, "a.b.1.c"), nullptr);
  EXPECT_EQ(*json_at_path(j, "a.b.1.c"), 3);
  EXPECT_EQ(*json_at_path(j, "a.b.0"), 10);
  EXPECT_EQ(json_at_path(j, "a.b.2"), nullptr);
  EXPECT_EQ(json_at_path(j, "a.x"), nullptr);
  EXPECT_EQ(json_at_path(j, "a.b.0.z"), nullptr);
}

TEST(Knobs, ValuesComeFromTheJsonThenTheResolvedScenario) {
  const auto knobs = scenario_knobs();
  json j = testing::small_scenario();
  const models::Scenario s = models::parse_scenario(j);
  EXPECT_EQ(knob_value(*find_knob(knobs, "tp"), j, &s), 2);
  // Not in the JSON: the resolved value.
  EXPECT_EQ(knob_value(*find_knob(knobs, "zero_stage"), j, &s), 0);
  EXPECT_EQ(knob_value(*find_knob(knobs, "schedule"), j, &s), "1f1b");
  EXPECT_EQ(knob_value(*find_knob(knobs, "intra_node"), j, &s), s.cluster.intra_node.name);
  // dp is absent: "auto" (null), even though the scenario resolves it.
  EXPECT_TRUE(knob_value(*find_knob(knobs, "dp"), j, &s).is_null());
  // Without a resolved scenario, absent values are null.
  EXPECT_TRUE(knob_value(*find_knob(knobs, "zero_stage"), j, nullptr).is_null());
}

TEST(Knobs, CustomEntriesShowTheirResolvedName) {
  const auto knobs = scenario_knobs();
  const json j = models::load_scenario_json(testing::data_path("validation-cpu.json"));
  const models::Scenario s = models::parse_scenario(j);
  EXPECT_EQ(knob_value(*find_knob(knobs, "gpu"), j, &s), "cpu-1-thread");
  EXPECT_TRUE(knob_value(*find_knob(knobs, "gpu"), j, nullptr).is_null());
}

TEST(Knobs, ApplyKeepsPresetOverridesAndNullRemoves) {
  const auto knobs = scenario_knobs();
  json j = testing::small_scenario();
  j["cluster"]["gpu"] = json{{"preset", "A100-80GB"}, {"memory_gib", 40}};
  apply_knob(*find_knob(knobs, "gpu"), j, "H100-SXM-80GB");
  EXPECT_EQ(j["cluster"]["gpu"]["preset"], "H100-SXM-80GB");
  EXPECT_EQ(j["cluster"]["gpu"]["memory_gib"], 40);
  EXPECT_EQ(knob_value(*find_knob(knobs, "gpu"), j, nullptr), "H100-SXM-80GB");
  apply_knob(*find_knob(knobs, "dp"), j, 2);
  EXPECT_EQ(j["parallelism"]["dp"], 2);
  apply_knob(*find_knob(knobs, "dp"), j, nullptr);
  EXPECT_FALSE(j["parallelism"].contains("dp"));
}

TEST(Knobs, TextValuesParseByKind) {
  const auto knobs = scenario_knobs();
  EXPECT_EQ(knob_value_from_text(*find_knob(knobs, "tp"), " 4 "), 4);
  EXPECT_EQ(knob_value_from_text(*find_knob(knobs, "bucket_mib"), "12.5"), 12.5);
  EXPECT_EQ(knob_value_from_text(*find_knob(knobs, "sp"), "true"), true);
  EXPECT_TRUE(knob_value_from_text(*find_knob(knobs, "dp"), "auto").is_null());
  EXPECT_EQ(knob_value_from_text(*find_knob(knobs, "precision"), "fp16"), "fp16");
  EXPECT_EQ(knob_value_from_text(*find_knob(knobs, "gpu"), "1"), "1");
}

}  // namespace
}  // namespace clustersim::gui
