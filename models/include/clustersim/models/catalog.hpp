// Catalogs of hardware and model architectures, read from the JSON data files in models/catalog/
// (embedded into the library at build time, so the binary needs no data path). A scenario names a
// preset ("gpu": "H100-SXM-80GB") and may override any field of it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustersim/plan/hardware.hpp"
#include "clustersim/plan/types.hpp"

namespace clustersim::models {

enum class ArchFamily : std::uint8_t { gpt, llama, bert, mlp, resnet };

// "gpt", "llama", "bert", "mlp", "resnet": the names used in the catalog and in scenarios.
std::string_view family_name(ArchFamily family);

// A model architecture. Transformer fields apply to gpt/llama/bert; mlp_dims to mlp; the image
// fields to resnet. Structure by family (what parameter_count counts):
//  * gpt:   pre-norm decoder; embeddings (+ learned positions), per layer norm-attention-norm-MLP,
//           final norm, output head tied to the embedding unless tied_embeddings is false.
//  * llama: the same skeleton with RMSNorm, SwiGLU (three matrices), RoPE, no biases, untied head.
//  * bert:  post-norm encoder; embeddings + token types + embedding LayerNorm, pooler, masked-LM
//           transform (dense + LayerNorm) with output bias and decoder tied to the embedding,
//           next-sentence head (2 classes).
// In JSON the MLP widths are "dims" and the ResNet stages "blocks"; see docs/SCENARIO.md.
struct ArchSpec {
  std::string name;
  ArchFamily family = ArchFamily::gpt;
  std::string description;
  std::string source;  // citation of the published configuration and parameter count
  std::int64_t published_parameters = 0;

  // Transformers.
  std::int64_t layers = 0, hidden = 0, heads = 0, kv_heads = 0, ffn_hidden = 0, vocab = 0, max_seq = 0;
  NormType norm = NormType::layernorm;
  std::string activation = "gelu";   // transformers: "gelu" or "swiglu"; mlp: "relu" or "gelu"
  std::string positions = "learned";  // "learned" or "rope"
  bool tied_embeddings = true;
  bool bias = true;  // biases in linear layers and LayerNorm betas
  bool causal = true;
  double rope_theta = 10000.0;
  std::int64_t type_vocab = 0;  // BERT token-type embeddings
  double norm_eps = 1e-5;

  // MLP: input width, hidden widths..., number of classes.
  std::vector<std::int64_t> mlp_dims;

  // ResNet (He et al. 2016, bottleneck blocks).
  std::int64_t image_size = 224, image_channels = 3, classes = 1000, base_width = 64;
  std::vector<std::int64_t> resnet_blocks;  // blocks per stage, e.g. {3, 4, 6, 3} for ResNet-50

  std::int64_t head_dim() const { return heads > 0 ? hidden / heads : 0; }
  bool is_transformer() const {
    return family == ArchFamily::gpt || family == ArchFamily::llama || family == ArchFamily::bert;
  }
};

// Exact parameter count from the architecture's structure (embeddings, every weight and bias, norms).
std::int64_t parameter_count(const ArchSpec& arch);

class Catalog {
 public:
  // The built-in catalog (the embedded models/catalog/*.json).
  static const Catalog& builtin();
  // Parses catalog documents; throws InputError with the JSON path on a bad entry.
  static Catalog from_json(const nlohmann::json& gpus, const nlohmann::json& links, const nlohmann::json& architectures);

  // Lookups throw InputError(json_path, name, "one of ...", with "did you mean") for unknown names.
  const plan::GpuSpec& gpu(const std::string& name, const std::string& json_path) const;
  const plan::LinkSpec& link(const std::string& name, const std::string& json_path) const;
  const ArchSpec& architecture(const std::string& name, const std::string& json_path) const;

  // The raw JSON entry of a preset, for per-field overrides.
  const nlohmann::json& gpu_json(const std::string& name, const std::string& json_path) const;
  const nlohmann::json& link_json(const std::string& name, const std::string& json_path) const;
  const nlohmann::json& architecture_json(const std::string& name, const std::string& json_path) const;

  std::vector<std::string> gpu_names() const;
  std::vector<std::string> link_names() const;
  std::vector<std::string> architecture_names() const;

 private:
  std::map<std::string, plan::GpuSpec> gpus_;
  std::map<std::string, plan::LinkSpec> links_;
  std::map<std::string, ArchSpec> archs_;
  std::map<std::string, nlohmann::json> gpu_json_, link_json_, arch_json_;
};

// Entry parsers, shared with scenario overrides: read one entry strictly (unknown keys are errors).
// Every entry accepts optional "name", "source" and "note" strings.
// GPU: required memory_gib, memory_bandwidth_gbytes_s, peak_tflops {fp32 required; tf32, fp16, bf16,
//      fp8_e4m3 optional}; optional with defaults: sm_count 0, tdp_w 0, price_usd_per_hour 0,
//      efficiency {gemm 0.7, attention 0.5, conv 0.5, memory 0.8; half 0}, usable_memory_fraction 0.95,
//      kernel_launch_ns 4000, default_intra_node / default_host_link (link preset names).
// Link: required bandwidth_gbps, latency_us; optional efficiency (default 1).
// Architecture: required family; the rest by family, with family defaults (docs/SCENARIO.md).
// The built-in catalog is stricter: every field is stated and every entry has a "source".
plan::GpuSpec gpu_from_json(const nlohmann::json& j, const std::string& json_path);
plan::LinkSpec link_from_json(const nlohmann::json& j, const std::string& json_path);
ArchSpec architecture_from_json(const nlohmann::json& j, const std::string& json_path);

}  // namespace clustersim::models
