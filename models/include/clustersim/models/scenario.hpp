// The scenario: what the user wants to train, on what, and how. Parsed from JSON with presets
// resolved from the catalogs and every field validated: an error names the JSON path, the value and
// what is allowed; unknown keys get a "did you mean"; cross-field consistency is checked
// (GPUs = dp x tp x pp, batch divisibility, heads by tp, layers by pp, ...).
//
// Sections: name, description, cluster, model, training, parallelism, simulation.
// See docs/SCENARIO.md for every key, its unit, default and allowed values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustersim/models/catalog.hpp"
#include "clustersim/plan/hardware.hpp"
#include "clustersim/plan/types.hpp"

namespace clustersim::models {

struct ClusterSpec {
  std::int32_t nodes = 1;
  std::int32_t gpus_per_node = 1;
  plan::GpuSpec gpu;
  plan::LinkSpec intra_node;
  plan::InterNode inter_node;
  plan::LinkSpec host_link;
  std::vector<plan::RankSlowdown> stragglers;
  std::vector<plan::LinkDegradation> degradations;
  std::int32_t gpus() const { return nodes * gpus_per_node; }
};

struct ModelSpec {
  ArchSpec arch;
  std::int64_t seq_len = 0;  // transformers only
};

struct LossScaling {
  bool dynamic = true;          // fp16 only
  double initial = 65536.0;     // 2^16
  std::int64_t growth_interval = 2000;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
};

struct TrainingSpec {
  std::int64_t global_batch = 0;  // samples per optimizer step
  std::int64_t micro_batch = 1;
  Precision precision = Precision::bf16;
  OptimizerKind optimizer = OptimizerKind::adamw;
  Recompute recompute = Recompute::none;
  std::int32_t zero_stage = 0;  // 0..3 (3 = FSDP-style parameter sharding)
  double bucket_mib = 25.0;     // DDP gradient bucket size
  double dropout = 0.0;
  bool flash_attention = true;
  bool offload_optimizer = false;  // ZeRO-Offload: optimizer states and step on the host
  double lr = 3e-4, weight_decay = 0.1, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, momentum = 0.9;
  double grad_clip = 1.0;  // 0 disables clipping
  LossScaling loss_scaling;
  std::int64_t steps = 1;       // executor: optimizer steps to run
  std::string data = "synthetic";  // executor: "synthetic" or a text file (byte tokens)
};

enum class PipelineSchedule : std::uint8_t { gpipe, one_f_one_b, interleaved_1f1b };

// "gpipe", "1f1b", "interleaved-1f1b": the names used in scenarios.
std::string_view schedule_name(PipelineSchedule schedule);

struct ParallelismSpec {
  std::int32_t dp = 1, tp = 1, pp = 1;
  bool sp = false;
  PipelineSchedule schedule = PipelineSchedule::one_f_one_b;
  std::int32_t virtual_stages = 1;
  std::string placement = "tp-dp-pp";  // rank order, fastest-varying first
};

struct SimulationSpec {
  std::string network = "analytical";  // "analytical" or "flow"
  std::string cost_model = "roofline";  // "roofline" or "calibrated"
  std::string profile;                  // calibration profile path, for "calibrated"
  std::string collective_algorithm = "auto";
  std::string rank_mode = "auto";  // "auto", "expanded", "symmetric"
  std::int64_t seed = 1;
};

struct Scenario {
  std::string name;
  std::string description;
  ClusterSpec cluster;
  ModelSpec model;
  TrainingSpec training;
  ParallelismSpec parallelism;
  SimulationSpec simulation;
  nlohmann::json source;  // the JSON it was parsed from, after overrides

  // Gradient accumulation steps: global_batch / (micro_batch * dp).
  std::int64_t accumulation_steps() const {
    return training.global_batch / (training.micro_batch * parallelism.dp);
  }
};

// Parses and validates. Throws InputError (path, value, allowed) on the first problem.
Scenario parse_scenario(const nlohmann::json& j, const Catalog& catalog = Catalog::builtin());

// Reads a scenario file (JSON, comments allowed). InputError naming the file for a missing or
// unreadable file, and the line and column for a parse error.
nlohmann::json load_scenario_json(const std::string& path);

// Applies "a.b.c=value" to the JSON (value parsed as JSON when it parses, else taken as a string).
// Creates missing objects on the way; InputError on a malformed override or a path through a non-object.
// Errors name the override text.
void apply_override(nlohmann::json& j, const std::string& assignment);

// Sets a dot path to a value (used by sweeps and the GUI). Rules, shared with apply_override:
//  * a numeric segment indexes an array (index == size appends; a missing array is created);
//  * a missing object on the way is created;
//  * a preset given as a string (cluster.gpu, cluster.intra_node, cluster.host_link,
//    cluster.inter_node.link, model.architecture) becomes {"preset": name} when the path goes
//    below it, so "cluster.gpu.memory_gib=40" overrides one field of the preset;
//  * a null value removes the key (or array element), restoring its default.
void set_path(nlohmann::json& j, const std::string& dot_path, const nlohmann::json& value);

// The resolved hardware of the scenario.
plan::Hardware hardware_of(const Scenario& scenario);

}  // namespace clustersim::models
