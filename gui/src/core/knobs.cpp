// The scenario panel's knob list and the JSON plumbing between form controls and the scenario:
// reading a knob's current value (explicit JSON first, then the resolved scenario) and writing it
// back through models::set_path.
#include "core/knobs.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace clustersim::gui {

using nlohmann::json;

namespace {

Knob make(std::string id, std::string label, std::string path, std::string section, KnobKind kind, double min = 0,
          double max = 0, std::string tooltip = {}) {
  Knob k;
  k.id = std::move(id);
  k.label = std::move(label);
  k.json_path = std::move(path);
  k.section = std::move(section);
  k.kind = kind;
  k.min = min;
  k.max = max;
  k.tooltip = std::move(tooltip);
  return k;
}

Knob choice(std::string id, std::string label, std::string path, std::string section, std::vector<std::string> choices,
            std::string tooltip = {}) {
  Knob k = make(std::move(id), std::move(label), std::move(path), std::move(section), KnobKind::choice, 0, 0,
                std::move(tooltip));
  k.choices = std::move(choices);
  return k;
}

bool is_index(const std::string& s) {
  return !s.empty() && s.size() <= 9 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool starts_with_path(const std::string& path, const std::string& prefix) {
  return path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 && path[prefix.size()] == '.';
}

// The resolved value of a knob from a parsed scenario.
json resolved_value(const Knob& knob, const models::Scenario& s) {
  const std::string& p = knob.json_path;
  if (p == "cluster.gpu") return s.cluster.gpu.name;
  if (p == "cluster.nodes") return s.cluster.nodes;
  if (p == "cluster.gpus_per_node") return s.cluster.gpus_per_node;
  if (p == "cluster.intra_node") return s.cluster.intra_node.name;
  if (p == "cluster.inter_node.link") return s.cluster.inter_node.link.name;
  if (p == "model.architecture") return s.model.arch.name;
  if (p == "model.seq_len") return s.model.seq_len;
  if (p == "parallelism.dp") return s.parallelism.dp;
  if (p == "parallelism.tp") return s.parallelism.tp;
  if (p == "parallelism.pp") return s.parallelism.pp;
  if (p == "parallelism.sp") return s.parallelism.sp;
  if (p == "parallelism.schedule") return std::string(models::schedule_name(s.parallelism.schedule));
  if (p == "parallelism.virtual_stages") return s.parallelism.virtual_stages;
  if (p == "training.micro_batch") return s.training.micro_batch;
  if (p == "training.global_batch") return s.training.global_batch;
  if (p == "training.precision") return std::string(to_string(s.training.precision));
  if (p == "training.recompute") return std::string(to_string(s.training.recompute));
  if (p == "training.zero_stage") return s.training.zero_stage;
  if (p == "training.bucket_mib") return s.training.bucket_mib;
  if (p == "simulation.network") return s.simulation.network;
  if (p == "simulation.cost_model") return s.simulation.cost_model;
  return nullptr;
}

}  // namespace

std::vector<Knob> scenario_knobs(const models::Catalog& catalog) {
  std::vector<Knob> k;
  k.push_back(choice("gpu", "GPU type", "cluster.gpu", "Cluster", catalog.gpu_names(), "GPU preset from the catalog"));
  k.push_back(make("nodes", "Nodes", "cluster.nodes", "Cluster", KnobKind::integer, 1, 1000000));
  k.push_back(make("gpus_per_node", "GPUs per node", "cluster.gpus_per_node", "Cluster", KnobKind::integer, 1, 64));
  k.push_back(choice("intra_node", "Intra-node link", "cluster.intra_node", "Cluster", catalog.link_names(),
                     "Fabric inside a node (per-GPU bandwidth)"));
  k.push_back(choice("inter_node", "Inter-node link", "cluster.inter_node.link", "Cluster", catalog.link_names(),
                     "One NIC port between nodes"));
  k.push_back(choice("architecture", "Architecture", "model.architecture", "Model", catalog.architecture_names()));
  Knob seq = make("seq_len", "Sequence length", "model.seq_len", "Model", KnobKind::integer, 0, 1 << 24,
                  "Tokens per sample; auto = the architecture's max_seq");
  seq.has_auto = true;
  k.push_back(seq);
  Knob dp = make("dp", "Data parallel (dp)", "parallelism.dp", "Parallelism", KnobKind::integer, 0, 1 << 24,
                 "auto = GPUs / (tp x pp)");
  dp.has_auto = true;
  k.push_back(dp);
  k.push_back(make("tp", "Tensor parallel (tp)", "parallelism.tp", "Parallelism", KnobKind::integer, 1, 1 << 24));
  k.push_back(make("pp", "Pipeline stages (pp)", "parallelism.pp", "Parallelism", KnobKind::integer, 1, 1 << 24));
  k.push_back(make("sp", "Sequence parallel (sp)", "parallelism.sp", "Parallelism", KnobKind::boolean));
  k.push_back(
      choice("schedule", "Schedule", "parallelism.schedule", "Parallelism", {"gpipe", "1f1b", "interleaved-1f1b"}));
  k.push_back(make("virtual_stages", "Virtual stages", "parallelism.virtual_stages", "Parallelism", KnobKind::integer,
                   1, 1024, "Model chunks per stage (interleaved-1f1b)"));
  k.push_back(make("micro_batch", "Micro batch", "training.micro_batch", "Training", KnobKind::integer, 1, 1LL << 31));
  k.push_back(
      make("global_batch", "Global batch", "training.global_batch", "Training", KnobKind::integer, 1, 1LL << 31));
  k.push_back(
      choice("precision", "Precision", "training.precision", "Training", {"fp32", "tf32", "fp16", "bf16", "fp8"}));
  k.push_back(choice("recompute", "Recompute", "training.recompute", "Training", {"none", "selective", "full"}));
  k.push_back(make("zero_stage", "ZeRO stage", "training.zero_stage", "Training", KnobKind::integer, 0, 3));
  k.push_back(make("bucket_mib", "Bucket size (MiB)", "training.bucket_mib", "Training", KnobKind::number, 0.01, 1e6,
                   "Gradient all-reduce bucket size"));
  k.push_back(choice("network", "Network tier", "simulation.network", "Simulation", {"analytical", "flow"}));
  return k;
}

const Knob* find_knob(const std::vector<Knob>& knobs, const std::string& id) {
  for (const auto& k : knobs)
    if (k.id == id) return &k;
  return nullptr;
}

const Knob* knob_for_error_path(const std::vector<Knob>& knobs, const std::string& error_path) {
  if (error_path.empty()) return nullptr;
  const Knob* best = nullptr;
  for (const auto& k : knobs) {
    if (k.json_path == error_path) return &k;
    if (starts_with_path(error_path, k.json_path) && (!best || k.json_path.size() > best->json_path.size())) best = &k;
  }
  if (best) return best;
  // The error names an object above a knob ("parallelism" for a cross-field rule): its first knob.
  for (const auto& k : knobs)
    if (starts_with_path(k.json_path, error_path)) return &k;
  return nullptr;
}

const json* json_at_path(const json& j, const std::string& dot_path) {
  const json* cur = &j;
  std::size_t start = 0;
  while (true) {
    const auto dot = dot_path.find('.', start);
    const std::string key = dot_path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (cur->is_object()) {
      const auto it = cur->find(key);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array() && is_index(key)) {
      const auto i = static_cast<std::size_t>(std::strtoul(key.c_str(), nullptr, 10));
      if (i >= cur->size()) return nullptr;
      cur = &(*cur)[i];
    } else {
      return nullptr;
    }
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

json knob_value(const Knob& knob, const json& scenario_json, const models::Scenario* resolved) {
  if (const json* v = json_at_path(scenario_json, knob.json_path)) {
    if (v->is_object() && v->contains("preset")) return (*v)["preset"];
    // A custom entry written out in full: its resolved name.
    if (v->is_object()) return resolved ? resolved_value(knob, *resolved) : json(nullptr);
    if (!v->is_null()) return *v;
  }
  if (knob.has_auto) return nullptr;
  if (resolved) return resolved_value(knob, *resolved);
  return nullptr;
}

void apply_knob(const Knob& knob, json& scenario_json, const json& value) {
  if (knob.kind == KnobKind::choice) {
    if (const json* v = json_at_path(scenario_json, knob.json_path); v && v->is_object() && v->contains("preset")) {
      models::set_path(scenario_json, knob.json_path + ".preset", value);
      return;
    }
  }
  models::set_path(scenario_json, knob.json_path, value);
}

json knob_value_from_text(const Knob& knob, const std::string& text) {
  std::string t = text;
  t.erase(0, t.find_first_not_of(" \t"));
  t.erase(t.find_last_not_of(" \t") + 1);
  if (knob.has_auto && t == "auto") return nullptr;
  if (knob.kind == KnobKind::choice) return t;
  try {
    json v = json::parse(t);
    if (v.is_primitive()) return v;
  } catch (const json::exception&) {
  }
  return t;
}

}  // namespace clustersim::gui
