// Scenario JSON snippets shared by the builder tests.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "clustersim/models/build.hpp"
#include "clustersim/models/scenario.hpp"

namespace clustersim::models::testing {

// A small GPT-style transformer on `gpus` H100s; callers override fields with set_path.
inline nlohmann::json small_gpt(int gpus = 1) {
  return nlohmann::json::parse(R"({
    "name": "test",
    "cluster": {"nodes": 1, "gpus_per_node": )" + std::to_string(gpus) + R"(, "gpu": "H100-SXM-80GB",
                "intra_node": "nvswitch-h100",
                "inter_node": {"link": "ib-ndr-400", "nics_per_node": )" + std::to_string(gpus) + R"(, "topology": "rail-fat-tree"}},
    "model": {"architecture": {"preset": "gpt3-125m", "layers": 4}, "seq_len": 256},
    "training": {"global_batch": 8, "micro_batch": 2, "precision": "bf16"},
    "parallelism": {"tp": 1, "pp": 1}
  })");
}

inline Scenario parse(const nlohmann::json& j) { return parse_scenario(j); }

// Builds and checks the plan contract (interpreters do this before running a plan).
inline plan::Plan build_validated(const Scenario& sc) {
  plan::Plan p = build_plan(sc);
  plan::validate(p);
  return p;
}

}  // namespace clustersim::models::testing
