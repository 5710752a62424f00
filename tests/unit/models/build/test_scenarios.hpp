// Scenario JSON snippets shared by the builder tests.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "clustersim/models/build.hpp"
#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/hazards.hpp"

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

// Builds and checks the plan contract (interpreters do this before running a plan), and that no
// program of it races: every cross-stream use of shared storage is ordered by stream order and deps
// (checked on the first rank of each program).
inline plan::Plan build_validated(const Scenario& sc) {
  plan::Plan p = build_plan(sc);
  plan::validate(p);
  const plan::RankGroups groups(p);
  for (std::size_t prog = 0; prog < p.programs.size(); ++prog) {
    plan::Rank rank = 0;
    while (p.program_of_rank[static_cast<std::size_t>(rank)] != static_cast<std::int32_t>(prog)) ++rank;
    const auto hazards = plan::find_stream_hazards(p, groups, rank, static_cast<std::int32_t>(prog));
    if (!hazards.empty()) throw InternalError("plan races: " + hazards.front());
    // Everything a step allocates is freed by the end of the step.
    std::vector<int> live(p.tensors.size(), 0);
    for (const auto& op : p.programs[prog].ops) {
      for (auto t : op.allocs) live[static_cast<std::size_t>(t)]++;
      for (auto t : op.frees) live[static_cast<std::size_t>(t)]--;
    }
    for (std::size_t t = 0; t < live.size(); ++t)
      if (live[t] != 0) throw InternalError("plan leaks " + p.tensors[t].name + " in program " + std::to_string(prog));
  }
  return p;
}

}  // namespace clustersim::models::testing
