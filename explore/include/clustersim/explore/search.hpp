// Search: which parallel configuration trains this model fastest on this cluster (or with the least
// memory, or at the lowest cost), and why.
//  1. Enumerate every valid (tp, pp, dp, sp, micro-batch, schedule, virtual stages, recompute, ZeRO
//     stage) for the cluster: tp a power of two within a node dividing heads, kv heads and the FFN;
//     pp dividing the layers; dp the rest of the GPUs; the scenario parser rejects the rest.
//  2. Prune what does not fit: a closed-form memory estimate (estimate.hpp) with a margin.
//  3. Rank the rest by the closed-form step estimate, re-rank the best `refine` of them (default:
//     all) by the step model with costed compute (step_model.hpp: milliseconds each), and simulate
//     the best `simulate` (a full plan and discrete-event step each), in parallel.
//  4. Report the top K by the simulated objective, with why each wins: its time breakdown and how it
//     differs from the next one.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/explore/estimate.hpp"
#include "clustersim/explore/step_model.hpp"

namespace clustersim::explore {

enum class Objective : std::uint8_t { throughput, memory, cost };
Objective parse_objective(const std::string& name);  // InputError listing the names

struct Config {
  std::int32_t nodes = 0, tp = 1, pp = 1, dp = 1, micro_batch = 1, virtual_stages = 1, zero = 0;
  bool sp = false;
  std::string schedule = "1f1b";
  std::string recompute = "none";
  std::string describe() const;  // "tp 8 pp 16 dp 8 sp mb 1 1f1b recompute selective zero 1"
};

struct Candidate {
  Config config;
  nlohmann::json scenario;
  Estimate estimate;
  StepModel model;  // when refined (model.costed tells whether the compute was costed)
  bool refined = false;
  bool simulated = false;
  plan::Summary summary;   // when simulated
  double objective = 0.0;  // lower is better (seconds per step, bytes, dollars per million tokens)
  std::string why;         // explanation, for the reported ones
};

struct SearchOptions {
  Objective objective = Objective::throughput;
  int top = 5;
  int simulate = 24;  // candidates simulated after the estimate ranking
  // Survivors of the memory pruning re-ranked by the costed step model before simulation, best
  // estimates first: -1 all of them, 0 none (the closed form alone ranks). The memory objective
  // is not re-ranked (the step model does not change the memory estimate).
  std::int64_t refine = -1;
  int jobs = 0;                     // threads, 0 = all cores
  std::vector<std::int32_t> nodes;  // cluster sizes to consider (cost objective); empty: the scenario's
  double memory_margin = 1.05;      // prune when the estimate exceeds capacity by more than this
  engine::SimulationOptions simulation;
  std::function<void(const std::string& stage, std::int64_t done, std::int64_t total)> progress;
};

struct SearchResult {
  std::int64_t enumerated = 0, invalid = 0, pruned_memory = 0, estimated = 0, refined = 0, simulated = 0,
               simulated_not_fitting = 0;
  std::vector<Candidate> ranked;  // top K, best first
  std::string objective_unit;
};

// Searches around `base` (a scenario JSON; its parallelism and training knobs are replaced).
SearchResult search(const nlohmann::json& base, const SearchOptions& options);

// The scenario JSON of one configuration.
nlohmann::json apply_config(const nlohmann::json& base, const Config& c);

}  // namespace clustersim::explore
