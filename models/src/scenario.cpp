// Scenario parsing and validation: reads each section strictly (unknown keys get a "did you mean"),
// resolves presets from the catalog with per-field overrides, applies the documented defaults, then
// checks the cross-field rules (GPU count, batch divisibility, tensor/pipeline splits, precision
// support, ...). Every problem is an InputError naming the JSON path, the value and what is allowed.
// The keys, units and defaults are documented for users in docs/SCENARIO.md.
#include "clustersim/models/scenario.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <numeric>
#include <set>

#include "catalog_detail.hpp"
#include "clustersim/plan/json.hpp"
#include "clustersim/plan/json_reader.hpp"

namespace clustersim::models {

using nlohmann::json;

std::string_view schedule_name(PipelineSchedule schedule) {
  switch (schedule) {
    case PipelineSchedule::gpipe:
      return "gpipe";
    case PipelineSchedule::one_f_one_b:
      return "1f1b";
    case PipelineSchedule::interleaved_1f1b:
      return "interleaved-1f1b";
  }
  return "?";
}

namespace {

constexpr std::int64_t kMaxGpus = std::int64_t{1} << 24;
// Bounds that keep derived products (tokens per step = global_batch x seq_len, dp x tp x pp) far
// from 64-bit overflow.
constexpr std::int64_t kMaxCount = std::int64_t{1} << 31;
constexpr std::int64_t kMaxSeq = std::int64_t{1} << 24;

std::string str(std::int64_t v) {
  return std::to_string(v);
}
std::string num(double v) {
  return plan::describe_value(json(v));
}
std::string in_quotes(const std::string& s) {
  return "\"" + s + "\"";
}

// Reports unknown keys of a section before anything else is read, so a misspelt key is named as
// such rather than surfacing as a missing required key.
void check_keys(const json& j, const std::string& path, std::initializer_list<const char*> keys) {
  ObjectReader r(j, path);
  for (const char* k : keys) r.accept(k);
  r.finish();
}

// Throws a missing-key error that says what the key should hold.
void require_key(ObjectReader& r, std::string_view key, const std::string& allowed) {
  if (!r.has(key)) throw InputError(r.child_path(key), "nothing (the key is missing)", allowed);
}

// "a GPU", "an architecture".
std::string with_article(const std::string& noun) {
  return (std::string("aeiouAEIOU").find(noun.front()) != std::string::npos ? "an " : "a ") + noun;
}

// A number in (0, max].
double positive(ObjectReader& r, std::string_view key, double fallback, double max) {
  const json* v = r.find(key);
  if (v == nullptr) return fallback;
  const std::string allowed = "a number > 0 and <= " + num(max);
  if (!v->is_number()) throw InputError(r.child_path(key), plan::describe_value(*v), allowed);
  const double x = v->get<double>();
  if (!std::isfinite(x) || x <= 0.0 || x > max) throw InputError(r.child_path(key), plan::describe_value(*v), allowed);
  return x;
}

// A number in [min, max) (an open upper end: probabilities, Adam betas, momentum).
double half_open(ObjectReader& r, std::string_view key, double fallback, double min, double max) {
  const json* v = r.find(key);
  if (v == nullptr) return fallback;
  const std::string allowed = "a number >= " + num(min) + " and < " + num(max);
  if (!v->is_number()) throw InputError(r.child_path(key), plan::describe_value(*v), allowed);
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < min || x >= max) throw InputError(r.child_path(key), plan::describe_value(*v), allowed);
  return x;
}

// The divisors of n, for "allowed" texts ("1, 2, 4, 8").
std::string divisors_text(std::int64_t n, std::size_t limit = 12) {
  std::vector<std::int64_t> d;
  for (std::int64_t i = 1; i * i <= n; ++i)
    if (n % i == 0) {
      d.push_back(i);
      if (i != n / i) d.push_back(n / i);
    }
  std::sort(d.begin(), d.end());
  std::string out;
  for (std::size_t i = 0; i < d.size() && i < limit; ++i) out += (i ? ", " : "") + str(d[i]);
  if (d.size() > limit) out += ", ...";
  return out;
}

// --- presets with overrides -----------------------------------------------------------------------

using PresetLookup = std::function<const json&(const std::string& name, const std::string& path)>;

// Keys that describe an entry without changing what it computes.
bool descriptive_key(const std::string& key) {
  return key == "name" || key == "description" || key == "source" || key == "note" || key == "published_parameters";
}

struct ResolvedEntry {
  json entry;  // the entry's JSON, "name" included
  bool from_preset = false;
  bool modified = false;  // a preset with structural overrides
};

// A value that is a preset name, {"preset": name, ...overrides} (a JSON merge patch: null removes a
// field), or a full object.
ResolvedEntry resolve_entry(const json& v, const std::string& path, const std::string& what,
                            const std::vector<std::string>& names, const PresetLookup& lookup) {
  ResolvedEntry out;
  if (v.is_string()) {
    const std::string name = v.get<std::string>();
    out.entry = lookup(name, path);
    out.entry["name"] = name;
    out.from_preset = true;
    return out;
  }
  if (!v.is_object())
    throw InputError(path, plan::describe_value(v),
                     with_article(what) + " preset name (" + detail::quoted_list(names) +
                         "), {\"preset\": name, ...field overrides} or a full " + what + " object");
  if (!v.contains("preset")) {
    out.entry = v;
    return out;
  }
  const json& p = v.at("preset");
  if (!p.is_string())
    throw InputError(path + ".preset", plan::describe_value(p),
                     with_article(what) + " preset name: " + detail::one_of(names, ""));
  const std::string name = p.get<std::string>();
  out.entry = lookup(name, path + ".preset");
  out.entry["name"] = name;
  out.from_preset = true;
  json patch = v;
  patch.erase("preset");
  for (const auto& [key, value] : patch.items())
    if (!descriptive_key(key)) out.modified = true;
  out.entry.merge_patch(patch);
  return out;
}

ResolvedEntry resolve_link(const json& v, const std::string& path, const Catalog& catalog) {
  return resolve_entry(
      v, path, "link", catalog.link_names(),
      [&](const std::string& n, const std::string& p) -> const json& { return catalog.link_json(n, p); });
}

plan::LinkSpec read_link(const json& v, const std::string& path, const Catalog& catalog) {
  const ResolvedEntry e = resolve_link(v, path, catalog);
  return link_from_json(e.entry, path);
}

// --- cluster --------------------------------------------------------------------------------------

plan::FabricTopology parse_topology(const std::string& s) {
  if (s == "single-switch") return plan::FabricTopology::single_switch;
  if (s == "fat-tree") return plan::FabricTopology::fat_tree;
  return plan::FabricTopology::rail_fat_tree;
}

plan::LinkDegradation read_degradation(const json& j, const std::string& path, const ClusterSpec& c) {
  check_keys(j, path, {"where", "bandwidth_factor"});
  ObjectReader r(j, path);
  plan::LinkDegradation d;
  require_key(r, "where", "\"node:<n>\", \"leaf:<l>\" or \"intra:<n>\": the links that are degraded");
  d.where = r.string("where");
  const std::int64_t leaves = c.inter_node.topology == plan::FabricTopology::single_switch
                                  ? 1
                                  : (c.nodes + c.inter_node.nodes_per_leaf - 1) / c.inter_node.nodes_per_leaf;
  const std::string allowed = "\"node:<n>\" (the NICs of node n, 0.." + str(c.nodes - 1) +
                              "), \"leaf:<l>\" (the uplinks of leaf switch l, 0.." + str(leaves - 1) +
                              ") or \"intra:<n>\" (the intra-node fabric of node n, 0.." + str(c.nodes - 1) + ")";
  const auto colon = d.where.find(':');
  const std::string kind = colon == std::string::npos ? d.where : d.where.substr(0, colon);
  const std::string index = colon == std::string::npos ? "" : d.where.substr(colon + 1);
  const bool digits = !index.empty() && index.size() <= 9 &&
                      std::all_of(index.begin(), index.end(), [](unsigned char ch) { return std::isdigit(ch); });
  if (!digits || (kind != "node" && kind != "leaf" && kind != "intra"))
    throw InputError(r.child_path("where"), in_quotes(d.where), allowed);
  const std::int64_t n = std::stoll(index);
  if (n >= (kind == "leaf" ? leaves : c.nodes)) throw InputError(r.child_path("where"), in_quotes(d.where), allowed);
  d.bandwidth_factor = positive(r, "bandwidth_factor", -1.0, 1.0);
  if (d.bandwidth_factor < 0)
    throw InputError(r.child_path("bandwidth_factor"), "nothing (the key is missing)",
                     "a number > 0 and <= 1: the fraction of bandwidth that remains");
  return d;
}

ClusterSpec read_cluster(const json& j, const Catalog& catalog) {
  const std::string path = "cluster";
  check_keys(
      j, path,
      {"nodes", "gpus_per_node", "gpu", "intra_node", "inter_node", "host_link", "stragglers", "degraded_links"});
  ObjectReader r(j, path);
  ClusterSpec c;
  c.nodes = static_cast<std::int32_t>(r.integer_or("nodes", 1, 1, 1'000'000));
  c.gpus_per_node = static_cast<std::int32_t>(r.integer_or("gpus_per_node", 1, 1, 64));
  if (std::int64_t{c.nodes} * c.gpus_per_node > kMaxGpus)
    throw InputError(r.child_path("nodes"), str(c.nodes),
                     "at most " + str(kMaxGpus) + " GPUs in all (cluster.nodes x cluster.gpus_per_node)");

  if (!r.has("gpu"))
    throw InputError(r.child_path("gpu"), "nothing (the key is missing)",
                     "a GPU preset name (" + detail::quoted_list(catalog.gpu_names()) +
                         "), {\"preset\": name, ...field overrides} or a full GPU object");
  const ResolvedEntry gpu =
      resolve_entry(r.at("gpu"), r.child_path("gpu"), "GPU", catalog.gpu_names(),
                    [&](const std::string& n, const std::string& p) -> const json& { return catalog.gpu_json(n, p); });
  c.gpu = gpu_from_json(gpu.entry, r.child_path("gpu"));

  // Links the GPU's entry proposes (built-in GPUs all name theirs); PCIe 4 otherwise.
  auto default_link = [&](const char* key) {
    const auto it = gpu.entry.find(key);
    return it != gpu.entry.end() && it->is_string() ? it->get<std::string>() : std::string("pcie4-x16");
  };
  c.intra_node = r.has("intra_node")
                     ? read_link(r.at("intra_node"), r.child_path("intra_node"), catalog)
                     : catalog.link(default_link("default_intra_node"), "cluster.gpu.default_intra_node");
  c.host_link = r.has("host_link") ? read_link(r.at("host_link"), r.child_path("host_link"), catalog)
                                   : catalog.link(default_link("default_host_link"), "cluster.gpu.default_host_link");

  if (const json* inter = r.find("inter_node")) {
    const std::string ipath = r.child_path("inter_node");
    check_keys(*inter, ipath, {"link", "nics_per_node", "topology", "nodes_per_leaf", "oversubscription"});
    ObjectReader ir(*inter, ipath);
    require_key(ir, "link",
                "a network link preset name (" + detail::quoted_list(catalog.link_names()) + ") or a link object");
    c.inter_node.link = read_link(ir.at("link"), ir.child_path("link"), catalog);
    c.inter_node.nics_per_node = static_cast<std::int32_t>(ir.integer_or("nics_per_node", c.gpus_per_node, 1, 64));
    c.inter_node.topology =
        parse_topology(detail::pick(ir, "topology", "rail-fat-tree", {"single-switch", "fat-tree", "rail-fat-tree"}));
    c.inter_node.nodes_per_leaf = static_cast<std::int32_t>(ir.integer_or("nodes_per_leaf", 32, 1, 1'000'000));
    c.inter_node.oversubscription = ir.number_or("oversubscription", 1.0, 1.0, 1000.0);
    if (c.inter_node.topology == plan::FabricTopology::rail_fat_tree &&
        c.gpus_per_node % c.inter_node.nics_per_node != 0)
      throw InputError(ir.child_path("nics_per_node"), str(c.inter_node.nics_per_node),
                       "a divisor of cluster.gpus_per_node (" + str(c.gpus_per_node) +
                           "): " + divisors_text(c.gpus_per_node) +
                           "; in a rail-optimised fat tree each NIC serves the same number of local GPUs");
  } else if (c.nodes > 1) {
    throw InputError(r.child_path("inter_node"), "nothing (the key is missing)",
                     "an object with at least \"link\" (a network preset such as \"ib-ndr-400\" or \"roce-400g\") when "
                     "cluster.nodes > 1 (here " +
                         str(c.nodes) + ")");
  } else {
    // One node: no network is used; a placeholder keeps the hardware description complete.
    const auto names = catalog.link_names();
    if (std::find(names.begin(), names.end(), "ib-ndr-400") != names.end())
      c.inter_node.link = catalog.link("ib-ndr-400", r.child_path("inter_node"));
    c.inter_node.nics_per_node = c.gpus_per_node;
  }

  const std::int64_t gpus = c.gpus();
  if (const json* s = r.find("stragglers")) {
    const std::string spath = r.child_path("stragglers");
    if (!s->is_array())
      throw InputError(spath, plan::describe_value(*s),
                       "an array of {\"rank\": r, \"compute_factor\": f >= 1} objects");
    std::set<std::int64_t> seen;
    for (std::size_t i = 0; i < s->size(); ++i) {
      const std::string ep = spath + "[" + std::to_string(i) + "]";
      check_keys((*s)[i], ep, {"rank", "compute_factor"});
      ObjectReader er((*s)[i], ep);
      require_key(er, "rank", "the rank (0 to " + str(gpus - 1) + ") that runs slower");
      const json& rank = er.at("rank");
      const std::string rank_allowed = "a rank from 0 to " + str(gpus - 1) + " (the cluster has " + str(gpus) +
                                       " GPUs: cluster.nodes x cluster.gpus_per_node)";
      if (!rank.is_number_integer() || rank.get<std::int64_t>() < 0 || rank.get<std::int64_t>() >= gpus)
        throw InputError(er.child_path("rank"), plan::describe_value(rank), rank_allowed);
      if (!seen.insert(rank.get<std::int64_t>()).second)
        throw InputError(er.child_path("rank"), plan::describe_value(rank),
                         "a rank not already listed in cluster.stragglers");
      plan::RankSlowdown sd;
      sd.rank = static_cast<std::int32_t>(rank.get<std::int64_t>());
      require_key(er, "compute_factor", "a number >= 1: op durations on that rank are multiplied by it");
      sd.compute_factor = er.number("compute_factor", 1.0, 1e6);
      c.stragglers.push_back(sd);
    }
  }
  if (const json* d = r.find("degraded_links")) {
    const std::string dpath = r.child_path("degraded_links");
    if (!d->is_array())
      throw InputError(
          dpath, plan::describe_value(*d),
          "an array of {\"where\": \"node:<n>\" | \"leaf:<l>\" | \"intra:<n>\", \"bandwidth_factor\": f} objects");
    for (std::size_t i = 0; i < d->size(); ++i)
      c.degradations.push_back(read_degradation((*d)[i], dpath + "[" + std::to_string(i) + "]", c));
  }
  return c;
}

// --- model ----------------------------------------------------------------------------------------

ArchSpec read_architecture(const json& model, const Catalog& catalog) {
  const std::string path = "model.architecture";
  if (!model.contains("architecture"))
    throw InputError(path, "nothing (the key is missing)",
                     "an architecture preset name (" + detail::quoted_list(catalog.architecture_names()) +
                         "), {\"preset\": name, ...overrides} or a full architecture object");
  ResolvedEntry e = resolve_entry(
      model.at("architecture"), path, "architecture", catalog.architecture_names(),
      [&](const std::string& n, const std::string& p) -> const json& { return catalog.architecture_json(n, p); });
  // Direct overrides beside "architecture" ({"architecture": "llama3-8b", "layers": 16}).
  std::set<std::string> direct;
  json patch = json::object();
  for (const auto& [key, value] : model.items()) {
    if (key == "architecture" || key == "seq_len") continue;
    direct.insert(key);
    patch[key] = value;
    if (!descriptive_key(key)) e.modified = true;
  }
  if (!direct.empty()) e.entry.merge_patch(patch);
  // A modified preset no longer has its published size (unless the override states one).
  if (e.from_preset && e.modified && !patch.contains("published_parameters") &&
      !(model.at("architecture").is_object() && model.at("architecture").contains("published_parameters")))
    e.entry.erase("published_parameters");
  try {
    return architecture_from_json(e.entry, path);
  } catch (const InputError& err) {
    // Errors in a direct override are reported at the key the user wrote (model.<key>).
    const std::string prefix = path + ".";
    if (err.json_path().rfind(prefix, 0) == 0) {
      const std::string rest = err.json_path().substr(prefix.size());
      const std::string key = rest.substr(0, rest.find_first_of(".["));
      if (direct.count(key)) {
        std::string allowed = err.allowed();
        if (err.value() == "an unknown key")
          allowed += "; beside them the model section takes \"architecture\" and \"seq_len\"";
        throw InputError("model." + rest, err.value(), allowed);
      }
    }
    throw;
  }
}

ModelSpec read_model(const json& j, const Catalog& catalog) {
  ObjectReader r(j, "model");  // type check; keys beside architecture/seq_len are architecture overrides
  for (const auto& [key, value] : j.items()) r.accept(key);
  ModelSpec m;
  m.arch = read_architecture(j, catalog);
  if (m.arch.is_transformer()) {
    m.seq_len = r.integer_or("seq_len", std::min(m.arch.max_seq, kMaxSeq), 1, kMaxSeq);
    if (m.arch.positions == "learned" && m.seq_len > m.arch.max_seq)
      throw InputError("model.seq_len", str(m.seq_len),
                       "at most the architecture's max_seq (" + str(m.arch.max_seq) + "): \"" + m.arch.name +
                           "\" has learned position embeddings for that many positions only");
  } else if (r.has("seq_len")) {
    throw InputError("model.seq_len", plan::describe_value(r.at("seq_len")),
                     "no seq_len for the \"" + std::string(family_name(m.arch.family)) +
                         "\" family (it is not a sequence model): remove the key");
  }
  r.finish();
  return m;
}

// --- training -------------------------------------------------------------------------------------

const std::vector<std::string> kPrecisions = {"fp32", "tf32", "fp16", "bf16", "fp8"};

DType precision_dtype(Precision p) {
  switch (p) {
    case Precision::fp32:
      return DType::fp32;
    case Precision::tf32:
      return DType::tf32;
    case Precision::fp16:
      return DType::fp16;
    case Precision::bf16:
      return DType::bf16;
    case Precision::fp8:
      return DType::fp8_e4m3;
  }
  return DType::fp32;
}

bool gpu_has(const plan::GpuSpec& gpu, Precision p) {
  const auto it = gpu.peak_tflops.find(precision_dtype(p));
  return it != gpu.peak_tflops.end() && it->second > 0.0;
}

LossScaling read_loss_scaling(const json& j, const std::string& path) {
  check_keys(j, path, {"dynamic", "initial", "growth_interval", "growth_factor", "backoff_factor"});
  ObjectReader r(j, path);
  LossScaling ls;
  ls.dynamic = r.boolean_or("dynamic", ls.dynamic);
  ls.initial = positive(r, "initial", ls.initial, 1.8e19);
  ls.growth_interval = r.integer_or("growth_interval", ls.growth_interval, 1, 1'000'000'000);
  ls.growth_factor = r.number_or("growth_factor", ls.growth_factor, 1.0, 1000.0);
  if (ls.growth_factor == 1.0)
    throw InputError(r.child_path("growth_factor"), "1", "a number > 1 and <= 1000 (the scale grows by it)");
  ls.backoff_factor = half_open(r, "backoff_factor", ls.backoff_factor, 0.0, 1.0);
  if (ls.backoff_factor == 0.0)
    throw InputError(r.child_path("backoff_factor"), "0", "a number > 0 and < 1 (the scale shrinks by it)");
  return ls;
}

TrainingSpec read_training(const json& j, const plan::GpuSpec& gpu) {
  const std::string path = "training";
  check_keys(j, path, {"global_batch", "micro_batch",  "precision",    "optimizer",       "recompute",
                       "zero_stage",   "bucket_mib",   "dropout",      "flash_attention", "offload_optimizer",
                       "lr",           "weight_decay", "beta1",        "beta2",           "eps",
                       "momentum",     "grad_clip",    "loss_scaling", "steps",           "data"});
  ObjectReader r(j, path);
  TrainingSpec t;
  require_key(r, "global_batch", "an integer from 1 to " + str(kMaxCount) + ": samples per optimizer step (e.g. 256)");
  t.global_batch = r.integer("global_batch", 1, kMaxCount);
  t.micro_batch = r.integer_or("micro_batch", 1, 1, kMaxCount);
  // Default precision: bf16 where the GPU has a bf16 rate, else fp16, else fp32.
  const Precision fallback = gpu_has(gpu, Precision::bf16)   ? Precision::bf16
                             : gpu_has(gpu, Precision::fp16) ? Precision::fp16
                                                             : Precision::fp32;
  t.precision = r.has("precision")
                    ? parse_enum<Precision>(detail::pick(r, "precision", "", kPrecisions), r.child_path("precision"))
                    : fallback;
  t.optimizer =
      parse_enum<OptimizerKind>(detail::pick(r, "optimizer", "adamw", {"adamw", "sgd"}), r.child_path("optimizer"));
  t.recompute = parse_enum<Recompute>(detail::pick(r, "recompute", "none", {"none", "selective", "full"}),
                                      r.child_path("recompute"));
  t.zero_stage = static_cast<std::int32_t>(r.integer_or("zero_stage", 0, 0, 3));
  t.bucket_mib = positive(r, "bucket_mib", t.bucket_mib, 1e6);
  t.dropout = half_open(r, "dropout", 0.0, 0.0, 1.0);
  t.flash_attention = r.boolean_or("flash_attention", true);
  t.offload_optimizer = r.boolean_or("offload_optimizer", false);
  t.lr = r.number_or("lr", t.lr, 0.0, 100.0);
  t.weight_decay = r.number_or("weight_decay", t.weight_decay, 0.0, 100.0);
  t.beta1 = half_open(r, "beta1", t.beta1, 0.0, 1.0);
  t.beta2 = half_open(r, "beta2", t.beta2, 0.0, 1.0);
  t.eps = positive(r, "eps", t.eps, 1.0);
  t.momentum = half_open(r, "momentum", t.momentum, 0.0, 1.0);
  t.grad_clip = r.number_or("grad_clip", t.grad_clip, 0.0, 1e9);
  if (const json* ls = r.find("loss_scaling")) t.loss_scaling = read_loss_scaling(*ls, r.child_path("loss_scaling"));
  t.steps = r.integer_or("steps", 1, 1, 1'000'000'000);
  t.data = r.string_or("data", "synthetic");
  if (t.data.empty())
    throw InputError(r.child_path("data"), "\"\"", "\"synthetic\" or the path of a text file (byte tokens)");
  return t;
}

// --- parallelism, simulation ----------------------------------------------------------------------

ParallelismSpec read_parallelism(const json& j, bool* dp_given) {
  const std::string path = "parallelism";
  check_keys(j, path, {"dp", "tp", "pp", "sp", "schedule", "virtual_stages", "placement"});
  ObjectReader r(j, path);
  ParallelismSpec p;
  *dp_given = r.has("dp");
  p.dp = static_cast<std::int32_t>(r.integer_or("dp", 1, 1, kMaxGpus));
  p.tp = static_cast<std::int32_t>(r.integer_or("tp", 1, 1, kMaxGpus));
  p.pp = static_cast<std::int32_t>(r.integer_or("pp", 1, 1, kMaxGpus));
  p.sp = r.boolean_or("sp", false);
  const std::string schedule = detail::pick(r, "schedule", "1f1b", {"gpipe", "1f1b", "interleaved-1f1b"});
  p.schedule = schedule == "gpipe"  ? PipelineSchedule::gpipe
               : schedule == "1f1b" ? PipelineSchedule::one_f_one_b
                                    : PipelineSchedule::interleaved_1f1b;
  p.virtual_stages = static_cast<std::int32_t>(r.integer_or("virtual_stages", 1, 1, 1024));
  p.placement = r.string_or("placement", "tp-dp-pp");
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto dash = p.placement.find('-', start);
    parts.push_back(p.placement.substr(start, dash == std::string::npos ? std::string::npos : dash - start));
    if (dash == std::string::npos) break;
    start = dash + 1;
  }
  std::vector<std::string> sorted = parts;
  std::sort(sorted.begin(), sorted.end());
  if (sorted != std::vector<std::string>{"dp", "pp", "tp"})
    throw InputError(
        r.child_path("placement"), in_quotes(p.placement),
        "a permutation of tp, dp and pp joined by '-', fastest-varying first (adjacent ranks differ in "
        "the first): \"tp-dp-pp\", \"tp-pp-dp\", \"dp-tp-pp\", \"dp-pp-tp\", \"pp-tp-dp\" or \"pp-dp-tp\"");
  return p;
}

SimulationSpec read_simulation(const json& j) {
  const std::string path = "simulation";
  check_keys(j, path, {"network", "cost_model", "profile", "collective_algorithm", "rank_mode", "seed"});
  ObjectReader r(j, path);
  SimulationSpec s;
  s.network = detail::pick(r, "network", "analytical", {"analytical", "flow"});
  s.cost_model = detail::pick(r, "cost_model", "roofline", {"roofline", "calibrated"});
  s.profile = r.string_or("profile", "");
  s.collective_algorithm = detail::pick(r, "collective_algorithm", "auto",
                                        {"auto", "ring", "tree", "halving-doubling", "hierarchical", "direct"});
  s.rank_mode = detail::pick(r, "rank_mode", "auto", {"auto", "expanded", "symmetric"});
  s.seed = r.integer_or("seed", 1, 0, std::int64_t{1} << 53);
  return s;
}

// --- cross-field checks ---------------------------------------------------------------------------

void check_precision(const Scenario& s) {
  const plan::GpuSpec& gpu = s.cluster.gpu;
  if (gpu_has(gpu, s.training.precision)) return;
  std::string rates;
  std::vector<std::string> usable;
  for (const auto& name : kPrecisions) {
    const Precision p = parse_enum<Precision>(name, "training.precision");
    if (!gpu_has(gpu, p)) continue;
    if (!rates.empty()) rates += ", ";
    rates += name + " (" + num(gpu.peak_tflops.at(precision_dtype(p))) + " TFLOPS)";
    usable.push_back(name);
  }
  std::string allowed =
      "a precision GPU \"" + gpu.name + "\" has a rate for: " + rates + "; choose " + detail::quoted_list(usable);
  if (s.training.precision == Precision::fp8)
    allowed += " (fp8 needs an fp8_e4m3 tensor rate: Hopper, Ada, Blackwell, MI300X)";
  throw InputError("training.precision", in_quotes(std::string(to_string(s.training.precision))), allowed);
}

void check_parallelism(Scenario& s, bool dp_given) {
  ParallelismSpec& p = s.parallelism;
  const ArchSpec& a = s.model.arch;
  const std::int64_t gpus = s.cluster.gpus();
  const std::string gpu_text = str(gpus) + " GPUs (cluster.nodes " + str(s.cluster.nodes) +
                               " x cluster.gpus_per_node " + str(s.cluster.gpus_per_node) + ")";
  const std::string family = std::string(family_name(a.family));

  // Tensor and pipeline parallelism split transformer layers; other families replicate.
  if (!a.is_transformer()) {
    if (p.tp != 1)
      throw InputError("parallelism.tp", str(p.tp),
                       "1 for the \"" + family + "\" family: tensor parallelism applies to transformer models only");
    if (p.pp != 1)
      throw InputError("parallelism.pp", str(p.pp),
                       "1 for the \"" + family + "\" family: pipeline parallelism applies to transformer models only");
  }
  // tp, pp, dp <= 2^24 each, so tp x pp fits; dp x (tp x pp) is only formed when tp x pp <= GPUs.
  const std::int64_t tp_pp = std::int64_t{p.tp} * p.pp;
  if (!dp_given) {
    if (tp_pp > gpus || gpus % tp_pp != 0)
      throw InputError("parallelism", "tp " + str(p.tp) + " x pp " + str(p.pp) + " = " + str(tp_pp),
                       "tp x pp dividing the " + gpu_text +
                           ", so that dp = GPUs / (tp x pp) is a whole number; or set parallelism.dp");
    p.dp = static_cast<std::int32_t>(gpus / tp_pp);
  } else if (tp_pp > gpus || std::int64_t{p.dp} * tp_pp != gpus) {
    throw InputError("parallelism.dp",
                     "dp " + str(p.dp) + " x tp " + str(p.tp) + " x pp " + str(p.pp) + " = " +
                         num(static_cast<double>(p.dp) * static_cast<double>(tp_pp)),
                     "dp x tp x pp equal to the " + gpu_text +
                         (tp_pp <= gpus && gpus % tp_pp == 0
                              ? "; with this tp and pp: dp = " + str(gpus / tp_pp) + " (or omit dp to derive it)"
                              : ""));
  }

  if (a.is_transformer()) {
    // Megatron-LM's rules: attention heads, key/value groups and the MLP split evenly over tp.
    if (a.heads % p.tp != 0)
      throw InputError("parallelism.tp", str(p.tp),
                       "a divisor of the model's attention heads (" + str(a.heads) + "): " + divisors_text(a.heads));
    if (a.kv_heads % p.tp != 0)
      throw InputError("parallelism.tp", str(p.tp),
                       "a divisor of the model's key/value heads (kv_heads " + str(a.kv_heads) +
                           "): " + divisors_text(a.kv_heads) +
                           " (each tensor-parallel rank holds whole key/value groups, as Megatron-LM requires)");
    if (a.ffn_hidden % p.tp != 0)
      throw InputError(
          "parallelism.tp", str(p.tp),
          "a divisor of the model's ffn_hidden (" + str(a.ffn_hidden) + "): " + divisors_text(a.ffn_hidden));
  }
  if (p.sp && p.tp < 2)
    throw InputError(
        "parallelism.sp", "true",
        "false when parallelism.tp is 1: sequence parallelism splits the tensor-parallel group's activations");

  const bool interleaved = p.schedule == PipelineSchedule::interleaved_1f1b;
  if (p.virtual_stages > 1 && !interleaved)
    throw InputError("parallelism.virtual_stages", str(p.virtual_stages),
                     "1 unless parallelism.schedule is \"interleaved-1f1b\" (here \"" +
                         std::string(schedule_name(p.schedule)) + "\")");
  if (interleaved) {
    if (p.pp < 2)
      throw InputError("parallelism.pp", str(p.pp),
                       "at least 2 with the \"interleaved-1f1b\" schedule (or use \"1f1b\")");
    if (p.virtual_stages < 2)
      throw InputError("parallelism.virtual_stages", str(p.virtual_stages),
                       "at least 2 with the \"interleaved-1f1b\" schedule (model chunks per pipeline stage)");
  }
  if (a.is_transformer()) {
    const std::int64_t chunks = std::int64_t{p.pp} * (interleaved ? p.virtual_stages : 1);
    if (a.layers % chunks != 0) {
      if (interleaved)
        throw InputError("parallelism.virtual_stages", str(p.virtual_stages),
                         "a value with pp x virtual_stages (" + str(p.pp) + " x " + str(p.virtual_stages) +
                             ") dividing the model's " + str(a.layers) + " layers");
      throw InputError("parallelism.pp", str(p.pp),
                       "a divisor of the model's " + str(a.layers) + " layers: " + divisors_text(a.layers));
    }
  }

  // Batch: every data-parallel replica runs whole micro-batches.
  const TrainingSpec& t = s.training;
  // micro_batch, global_batch <= 2^31 and dp <= 2^24: the product fits in 64 bits.
  const std::int64_t per_step = t.micro_batch * std::int64_t{p.dp};
  if (t.global_batch % per_step != 0) {
    const std::int64_t below = t.global_batch / per_step * per_step;
    const std::int64_t above = below + per_step;
    throw InputError(
        "training.global_batch", str(t.global_batch),
        "a multiple of training.micro_batch x parallelism.dp = " + str(t.micro_batch) + " x " + str(p.dp) + " = " +
            str(per_step) +
            (below > 0 ? " (nearest: " + str(below) + " or " + str(above) + ")" : " (e.g. " + str(above) + ")"));
  }
  if (interleaved) {
    const std::int64_t micro_batches = t.global_batch / per_step;
    if (micro_batches % p.pp != 0)
      throw InputError("parallelism.schedule",
                       "\"interleaved-1f1b\" with " + str(micro_batches) + " micro-batches per step",
                       "micro-batches per step (training.global_batch / (training.micro_batch x parallelism.dp) = " +
                           str(micro_batches) + ") a multiple of parallelism.pp (" + str(p.pp) +
                           ") for the interleaved schedule, as Megatron-LM requires; or use \"1f1b\"");
  }
  if (t.zero_stage >= 2 && p.pp > 1)
    throw InputError("training.zero_stage", str(t.zero_stage),
                     "0 or 1 when parallelism.pp > 1 (here " + str(p.pp) +
                         "): ZeRO-2/3 partition gradients, which conflicts with gradient accumulation across pipeline "
                         "micro-batches (DeepSpeed rejects the combination)");
}

}  // namespace

Scenario parse_scenario(const json& j, const Catalog& catalog) {
  check_keys(j, "", {"name", "description", "cluster", "model", "training", "parallelism", "simulation"});
  ObjectReader top(j, "");
  Scenario s;
  if (!top.has("name")) throw InputError("name", "nothing (the key is missing)", "a non-empty scenario name string");
  s.name = top.string("name");
  if (s.name.empty()) throw InputError("name", "\"\"", "a non-empty scenario name");
  s.description = top.string_or("description", "");
  auto section = [&](const char* key, const std::string& needs) -> const json& {
    if (!top.has(key)) throw InputError(key, "nothing (the section is missing)", "an object with at least " + needs);
    return top.at(key);
  };
  s.cluster = read_cluster(
      section("cluster", "\"gpu\" (e.g. {\"nodes\": 1, \"gpus_per_node\": 8, \"gpu\": \"H100-SXM-80GB\"})"), catalog);
  s.model = read_model(section("model", "\"architecture\" (e.g. {\"architecture\": \"gpt3-1.3b\"})"), catalog);
  s.training = read_training(section("training", "\"global_batch\" (e.g. {\"global_batch\": 256, \"micro_batch\": 4})"),
                             s.cluster.gpu);
  bool dp_given = false;
  const json* par = top.find("parallelism");
  s.parallelism = read_parallelism(par ? *par : json::object(), &dp_given);
  const json* sim = top.find("simulation");
  s.simulation = read_simulation(sim ? *sim : json::object());

  check_precision(s);
  check_parallelism(s, dp_given);
  if (s.training.recompute == Recompute::selective && !s.model.arch.is_transformer())
    throw InputError("training.recompute", "\"selective\"",
                     "\"none\" or \"full\" for the \"" + std::string(family_name(s.model.arch.family)) +
                         "\" family: selective recomputation re-runs attention, which only transformers have");
  if (s.simulation.cost_model == "calibrated" && s.simulation.profile.empty())
    throw InputError(
        "simulation.profile", "nothing",
        "a calibration profile path (written by `clustersim calibrate`) when simulation.cost_model is \"calibrated\"");
  s.source = j;
  return s;
}

plan::Hardware hardware_of(const Scenario& scenario) {
  const ClusterSpec& c = scenario.cluster;
  plan::Hardware h;
  h.name = (c.nodes > 1 ? std::to_string(c.nodes) + " nodes x " : std::string()) + std::to_string(c.gpus_per_node) +
           " x " + c.gpu.name;
  h.gpu = c.gpu;
  h.nodes = c.nodes;
  h.gpus_per_node = c.gpus_per_node;
  h.intra_node = c.intra_node;
  h.inter_node = c.inter_node;
  h.host_link = c.host_link;
  h.slowdowns = c.stragglers;
  h.degradations = c.degradations;
  return h;
}

}  // namespace clustersim::models
