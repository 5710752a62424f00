// The catalogs of GPUs, links and architectures: strict entry parsers (shared with scenario
// overrides), the catalog documents' own checks (every entry cites a source and states every field),
// name lookups with "did you mean", and the built-in catalog parsed once from the embedded JSON.
#include "clustersim/models/catalog.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "catalog_detail.hpp"
#include "clustersim/plan/json.hpp"
#include "clustersim/plan/json_reader.hpp"

namespace clustersim::models {

using nlohmann::json;

// --- names ----------------------------------------------------------------------------------------

namespace detail {
namespace {
std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The '-'-separated parts of a name, sorted: "1f1b-interleaved" and "interleaved-1f1b" agree.
std::vector<std::string> sorted_parts(const std::string& s) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto dash = s.find('-', start);
    parts.push_back(s.substr(start, dash == std::string::npos ? std::string::npos : dash - start));
    if (dash == std::string::npos) break;
    start = dash + 1;
  }
  std::sort(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> suggestions(const std::string& given, const std::vector<std::string>& names) {
  const std::string want = lowercase(given);
  std::vector<std::string> lowered;
  for (const auto& n : names) {
    lowered.push_back(lowercase(n));
    if (lowered.back() == want) return {n};
  }
  // The same parts in another order.
  const auto want_parts = sorted_parts(want);
  if (want_parts.size() > 1) {
    for (std::size_t i = 0; i < names.size(); ++i)
      if (sorted_parts(lowered[i]) == want_parts) return {names[i]};
  }
  // Names containing what was typed ("H100" -> "H100-SXM-80GB") beat near misses by edit distance.
  std::vector<std::string> containing;
  if (want.size() >= 2) {
    for (std::size_t i = 0; i < names.size(); ++i)
      if (lowered[i].find(want) != std::string::npos) containing.push_back(names[i]);
  }
  if (containing.size() > 3) containing.resize(3);
  if (!containing.empty()) return containing;
  // Every name at the smallest edit distance (within the same limit as closest_match), so that
  // "nvswitch-h200" offers both "nvswitch-b200" and "nvswitch-h100".
  std::size_t best = std::numeric_limits<std::size_t>::max();
  std::vector<std::string> closest;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::size_t d = edit_distance(want, lowered[i]);
    if (d < best) {
      best = d;
      closest.clear();
    }
    if (d == best) closest.push_back(names[i]);
  }
  if (best > std::max<std::size_t>(2, want.size() / 3)) return {};
  if (closest.size() > 3) closest.resize(3);
  return closest;
}
}  // namespace

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += (i + 1 == names.size()) ? " or " : ", ";
    out += "\"" + names[i] + "\"";
  }
  return out;
}

std::string one_of(const std::vector<std::string>& names, const std::string& given) {
  std::string out = "one of " + quoted_list(names);
  const auto s = suggestions(given, names);
  if (!s.empty()) out += " (did you mean " + quoted_list(s) + "?)";
  return out;
}

std::string pick(ObjectReader& r, std::string_view key, const std::string& fallback,
                 const std::vector<std::string>& choices) {
  if (!r.has(key)) return fallback;
  const std::string s = r.string(key);
  if (std::find(choices.begin(), choices.end(), s) != choices.end()) return s;
  throw InputError(r.child_path(key), "\"" + s + "\"", one_of(choices, s));
}

}  // namespace detail

std::string_view family_name(ArchFamily family) {
  switch (family) {
    case ArchFamily::gpt:
      return "gpt";
    case ArchFamily::llama:
      return "llama";
    case ArchFamily::bert:
      return "bert";
    case ArchFamily::mlp:
      return "mlp";
    case ArchFamily::resnet:
      return "resnet";
  }
  return "?";
}

// --- value helpers --------------------------------------------------------------------------------

namespace {

std::string number_text(double x) {
  return plan::describe_value(json(x));
}

// A number in (0, max].
double positive(ObjectReader& r, std::string_view key, double max) {
  const std::string path = r.child_path(key);
  const std::string allowed = "a number > 0 and <= " + number_text(max);
  const json& v = r.at(key);
  if (!v.is_number()) throw InputError(path, plan::describe_value(v), allowed);
  const double x = v.get<double>();
  if (!std::isfinite(x) || x <= 0.0 || x > max) throw InputError(path, plan::describe_value(v), allowed);
  return x;
}

double positive_or(ObjectReader& r, std::string_view key, double fallback, double max) {
  return r.has(key) ? positive(r, key, max) : fallback;
}

// Optional free text ("source", "note", ...): must be a string when present.
void optional_text(ObjectReader& r, std::string_view key) {
  if (r.has(key)) (void)r.string(key);
}

plan::EfficiencyCurve curve_from_json(const json& j, const std::string& path) {
  ObjectReader r(j, path);
  plan::EfficiencyCurve c;
  c.max = positive(r, "max", 1.0);
  c.half = r.number_or("half", 0.0, 0.0, 1e21);
  r.finish();
  return c;
}

constexpr const char* kEfficiencyClasses[] = {"gemm", "attention", "conv", "memory"};
constexpr double kDefaultEfficiency[] = {0.7, 0.5, 0.5, 0.8};

// Peak-rate keys and the dtype each stands for.
struct RateKey {
  const char* key;
  DType dtype;
};
constexpr RateKey kRateKeys[] = {{"fp32", DType::fp32},
                                 {"tf32", DType::tf32},
                                 {"fp16", DType::fp16},
                                 {"bf16", DType::bf16},
                                 {"fp8_e4m3", DType::fp8_e4m3}};

}  // namespace

// --- entry parsers --------------------------------------------------------------------------------

plan::GpuSpec gpu_from_json(const json& j, const std::string& path) {
  ObjectReader r(j, path);
  plan::GpuSpec g;
  g.name = r.string_or("name", "custom-gpu");
  optional_text(r, "source");
  optional_text(r, "note");
  optional_text(r, "default_intra_node");
  optional_text(r, "default_host_link");
  g.memory_gib = positive(r, "memory_gib", 1e6);
  g.memory_bandwidth_gbytes_s = positive(r, "memory_bandwidth_gbytes_s", 1e6);
  {
    ObjectReader p(r.at("peak_tflops"), r.child_path("peak_tflops"));
    for (const auto& rate : kRateKeys)
      if (p.has(rate.key)) g.peak_tflops[rate.dtype] = positive(p, rate.key, 1e6);
    p.finish();
    if (!g.peak_tflops.count(DType::fp32))
      throw InputError(p.child_path("fp32"), "nothing (the key is missing)",
                       "every GPU needs an fp32 rate in TFLOPS (the non-tensor rate)");
  }
  g.sm_count = static_cast<std::int32_t>(r.integer_or("sm_count", 0, 0, 1'000'000));
  g.tdp_w = r.number_or("tdp_w", 0.0, 0.0, 1e6);
  g.price_usd_per_hour = r.number_or("price_usd_per_hour", 0.0, 0.0, 1e6);
  for (std::size_t i = 0; i < std::size(kEfficiencyClasses); ++i)
    g.efficiency[kEfficiencyClasses[i]] = plan::EfficiencyCurve{kDefaultEfficiency[i], 0.0};
  if (const json* e = r.find("efficiency")) {
    ObjectReader er(*e, r.child_path("efficiency"));
    for (const char* cls : kEfficiencyClasses)
      if (er.has(cls)) g.efficiency[cls] = curve_from_json(er.at(cls), er.child_path(cls));
    er.finish();
  }
  g.usable_memory_fraction = positive_or(r, "usable_memory_fraction", 0.95, 1.0);
  g.kernel_launch_ns = r.integer_or("kernel_launch_ns", 4000, 0, 1'000'000'000);
  r.finish();
  return g;
}

plan::LinkSpec link_from_json(const json& j, const std::string& path) {
  ObjectReader r(j, path);
  plan::LinkSpec l;
  l.name = r.string_or("name", "custom-link");
  optional_text(r, "source");
  optional_text(r, "note");
  l.bandwidth_gbps = positive(r, "bandwidth_gbps", 1e8);
  l.latency_us = r.number("latency_us", 0.0, 1e9);
  l.efficiency = positive_or(r, "efficiency", 1.0, 1.0);
  r.finish();
  return l;
}

namespace {

ArchFamily parse_family(ObjectReader& r) {
  if (!r.has("family"))
    throw InputError(r.child_path("family"), "nothing (the key is missing)",
                     "one of \"gpt\", \"llama\", \"bert\", \"mlp\" or \"resnet\"");
  const std::string f = detail::pick(r, "family", "", {"gpt", "llama", "bert", "mlp", "resnet"});
  if (f == "gpt") return ArchFamily::gpt;
  if (f == "llama") return ArchFamily::llama;
  if (f == "bert") return ArchFamily::bert;
  if (f == "mlp") return ArchFamily::mlp;
  return ArchFamily::resnet;
}

std::vector<std::int64_t> int_array(const json& v, const std::string& path, std::size_t min_size, std::size_t max_size,
                                    std::int64_t min, std::int64_t max, const std::string& what) {
  const std::string allowed = "an array of " + std::to_string(min_size) +
                              (max_size == min_size ? "" : " to " + std::to_string(max_size)) + " integers from " +
                              std::to_string(min) + " to " + std::to_string(max) + " (" + what + ")";
  if (!v.is_array() || v.size() < min_size || v.size() > max_size)
    throw InputError(path, plan::describe_value(v), allowed);
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < v.size(); ++i)
    out.push_back(as_integer(v[i], path + "[" + std::to_string(i) + "]", min, max));
  return out;
}

void read_transformer(ObjectReader& r, ArchSpec& a) {
  // Family defaults (docs/SCENARIO.md, "model.architecture").
  const bool llama = a.family == ArchFamily::llama;
  const bool bert = a.family == ArchFamily::bert;
  a.layers = r.integer("layers", 1, 10'000);
  a.hidden = r.integer("hidden", 1, 1'000'000);
  a.heads = r.integer("heads", 1, a.hidden);
  if (a.hidden % a.heads != 0)
    throw InputError(
        r.child_path("heads"), std::to_string(a.heads),
        "a divisor of hidden (" + std::to_string(a.hidden) + "), so that every head has hidden/heads dims");
  a.kv_heads = r.integer_or("kv_heads", a.heads, 1, a.heads);
  if (a.heads % a.kv_heads != 0)
    throw InputError(
        r.child_path("kv_heads"), std::to_string(a.kv_heads),
        "a divisor of heads (" + std::to_string(a.heads) + "): each key/value head serves heads/kv_heads query heads");
  a.vocab = r.integer("vocab", 1, 100'000'000);
  a.max_seq = r.integer("max_seq", 1, std::int64_t{1} << 24);
  const std::string norm = detail::pick(r, "norm", llama ? "rmsnorm" : "layernorm", {"layernorm", "rmsnorm"});
  a.norm = norm == "rmsnorm" ? NormType::rmsnorm : NormType::layernorm;
  a.activation = detail::pick(r, "activation", llama ? "swiglu" : "gelu", {"gelu", "swiglu"});
  a.positions = detail::pick(r, "positions", llama ? "rope" : "learned", {"learned", "rope"});
  a.tied_embeddings = r.boolean_or("tied_embeddings", !llama);
  a.bias = r.boolean_or("bias", !llama);
  a.causal = r.boolean_or("causal", !bert);
  a.rope_theta = positive_or(r, "rope_theta", 10000.0, 1e12);
  a.type_vocab = r.integer_or("type_vocab", bert ? 2 : 0, 0, 1'000'000);
  a.norm_eps = positive_or(r, "norm_eps", bert ? 1e-12 : 1e-5, 1.0);
  // SwiGLU default width: 2/3 of 4h rounded up to a multiple of 256 (the Llama reference code's
  // multiple_of rule, Touvron et al. 2023); GELU: 4h (Vaswani et al. 2017).
  const std::int64_t swiglu_default = (8 * a.hidden / 3 + 255) / 256 * 256;
  a.ffn_hidden = r.integer_or("ffn_hidden", a.activation == "swiglu" ? swiglu_default : 4 * a.hidden, 1, 10'000'000);
  if (a.positions == "rope" && a.head_dim() % 2 != 0)
    throw InputError(r.child_path("heads"), std::to_string(a.heads),
                     "a head count giving an even head_dim (hidden/heads = " + std::to_string(a.head_dim()) +
                         "): rotary embeddings rotate pairs of dimensions");
}

}  // namespace

ArchSpec architecture_from_json(const json& j, const std::string& path) {
  ObjectReader r(j, path);
  ArchSpec a;
  a.name = r.string_or("name", "custom");
  a.family = parse_family(r);
  a.description = r.string_or("description", "");
  a.source = r.string_or("source", "");
  optional_text(r, "note");
  a.published_parameters = r.integer_or("published_parameters", 0, 0, std::int64_t{1} << 53);
  switch (a.family) {
    case ArchFamily::gpt:
    case ArchFamily::llama:
    case ArchFamily::bert:
      read_transformer(r, a);
      break;
    case ArchFamily::mlp:
      a.mlp_dims = int_array(r.at("dims"), r.child_path("dims"), 2, 1000, 1, 10'000'000,
                             "input width, hidden widths..., classes");
      a.activation = detail::pick(r, "activation", "relu", {"relu", "gelu"});
      break;
    case ArchFamily::resnet:
      a.resnet_blocks = int_array(r.at("blocks"), r.child_path("blocks"), 4, 4, 1, 1000,
                                  "bottleneck blocks per stage, e.g. [3, 4, 6, 3] for ResNet-50");
      a.base_width = r.integer_or("base_width", 64, 1, 4096);
      a.image_size = r.integer_or("image_size", 224, 32, 8192);
      a.image_channels = r.integer_or("image_channels", 3, 1, 1024);
      a.classes = r.integer_or("classes", 1000, 1, 1'000'000);
      a.activation = "relu";
      a.norm = NormType::batchnorm;
      break;
  }
  r.finish();
  return a;
}

// --- the catalog ----------------------------------------------------------------------------------

namespace {

// Keys every built-in entry must state explicitly (the parsers would otherwise apply defaults).
void require_keys(const json& entry, const std::string& path, std::initializer_list<const char*> keys) {
  for (const char* key : keys)
    if (!entry.contains(key))
      throw InputError(path + "." + key, "nothing (the key is missing)",
                       std::string("catalog entries state every field explicitly: add \"") + key + "\"");
}

void check_catalog_entry(const json& entry, const std::string& path) {
  if (!entry.is_object()) throw InputError(path, plan::describe_value(entry), "an object (one catalog entry)");
  if (entry.contains("name"))
    throw InputError(path + ".name", plan::describe_value(entry.at("name")),
                     "no \"name\" key in a catalog entry: the entry's key is its name");
  const auto it = entry.find("source");
  if (it == entry.end() || !it->is_string() || it->get<std::string>().empty())
    throw InputError(path + ".source", it == entry.end() ? "nothing (the key is missing)" : plan::describe_value(*it),
                     "a non-empty citation string (datasheet, paper or model card the numbers come from)");
}

bool valid_entry_name(const std::string& name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_' || c == '.'; });
}

// Reads {"description": "...", "<key>": {name: entry}} and calls add(name, entry, path) per entry.
template <typename Add>
void read_document(const json& doc, const std::string& key, Add add) {
  if (!doc.is_object())
    throw InputError(key, plan::describe_value(doc),
                     "a catalog document {\"description\": \"...\", \"" + key + "\": {\"<name>\": {...}}}");
  ObjectReader d(doc, "");
  (void)d.string_or("description", "");
  const json& entries = d.at(key);
  if (!entries.is_object()) throw InputError(key, plan::describe_value(entries), "an object of named entries");
  d.finish();
  for (const auto& [name, entry] : entries.items()) {
    const std::string path = key + "." + name;
    if (!valid_entry_name(name))
      throw InputError(path, "\"" + name + "\"", "an entry name of letters, digits, '-', '_' and '.'");
    check_catalog_entry(entry, path);
    add(name, entry, path);
  }
}

template <typename Map>
std::vector<std::string> keys_of(const Map& m) {
  std::vector<std::string> out;
  out.reserve(m.size());
  for (const auto& kv : m) out.push_back(kv.first);
  return out;
}

template <typename Map>
const typename Map::mapped_type& lookup(const Map& m, const std::string& name, const std::string& path,
                                        const std::string& what) {
  const auto it = m.find(name);
  if (it == m.end()) throw InputError(path, "\"" + name + "\"", what + " preset: " + detail::one_of(keys_of(m), name));
  return it->second;
}

}  // namespace

Catalog Catalog::from_json(const json& gpus, const json& links, const json& architectures) {
  Catalog c;
  read_document(links, "links", [&](const std::string& name, const json& entry, const std::string& path) {
    require_keys(entry, path, {"note", "efficiency"});
    plan::LinkSpec l = link_from_json(entry, path);
    l.name = name;
    c.links_.emplace(name, std::move(l));
    c.link_json_.emplace(name, entry);
  });
  read_document(gpus, "gpus", [&](const std::string& name, const json& entry, const std::string& path) {
    require_keys(entry, path,
                 {"note", "sm_count", "tdp_w", "price_usd_per_hour", "efficiency", "usable_memory_fraction",
                  "kernel_launch_ns", "default_intra_node", "default_host_link"});
    if (entry.at("efficiency").is_object())
      require_keys(entry.at("efficiency"), path + ".efficiency", {"gemm", "attention", "conv", "memory"});
    plan::GpuSpec g = gpu_from_json(entry, path);
    g.name = name;
    for (const char* key : {"default_intra_node", "default_host_link"}) {
      const std::string link = entry.at(key).get<std::string>();
      if (!c.links_.count(link))
        throw InputError(path + "." + key, "\"" + link + "\"",
                         "a link preset of the catalog: " + detail::one_of(keys_of(c.links_), link));
    }
    c.gpus_.emplace(name, std::move(g));
    c.gpu_json_.emplace(name, entry);
  });
  read_document(architectures, "architectures",
                [&](const std::string& name, const json& entry, const std::string& path) {
                  require_keys(entry, path, {"description", "published_parameters"});
                  ArchSpec a = architecture_from_json(entry, path);
                  a.name = name;
                  c.archs_.emplace(name, std::move(a));
                  c.arch_json_.emplace(name, entry);
                });
  return c;
}

const Catalog& Catalog::builtin() {
  // Function-local static: initialised once, thread-safe (C++11 magic statics).
  static const Catalog catalog = [] {
    auto parse = [](std::string_view name) {
      try {
        return json::parse(embedded_catalog(name), nullptr, true, /*ignore_comments=*/true);
      } catch (const json::exception& e) {
        throw InternalError("internal error: the embedded catalog " + std::string(name) +
                            ".json is not valid JSON: " + e.what());
      }
    };
    return from_json(parse("gpus"), parse("links"), parse("architectures"));
  }();
  return catalog;
}

const plan::GpuSpec& Catalog::gpu(const std::string& name, const std::string& path) const {
  return lookup(gpus_, name, path, "a GPU");
}
const plan::LinkSpec& Catalog::link(const std::string& name, const std::string& path) const {
  return lookup(links_, name, path, "a link");
}
const ArchSpec& Catalog::architecture(const std::string& name, const std::string& path) const {
  return lookup(archs_, name, path, "an architecture");
}
const json& Catalog::gpu_json(const std::string& name, const std::string& path) const {
  return lookup(gpu_json_, name, path, "a GPU");
}
const json& Catalog::link_json(const std::string& name, const std::string& path) const {
  return lookup(link_json_, name, path, "a link");
}
const json& Catalog::architecture_json(const std::string& name, const std::string& path) const {
  return lookup(arch_json_, name, path, "an architecture");
}

std::vector<std::string> Catalog::gpu_names() const {
  return keys_of(gpus_);
}
std::vector<std::string> Catalog::link_names() const {
  return keys_of(links_);
}
std::vector<std::string> Catalog::architecture_names() const {
  return keys_of(archs_);
}

}  // namespace clustersim::models
