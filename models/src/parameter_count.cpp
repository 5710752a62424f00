// Exact parameter counts from an architecture's structure: every weight, bias and norm parameter,
// counted tensor by tensor the way the reference implementations define them (GPT-2/Megatron for
// gpt, the Llama reference code for llama, BERT's pre-training model, torchvision's ResNet, dense
// MLP layers). Buffers that are not trained (batch-norm running statistics, RoPE tables) are not
// parameters. The unit tests compare these counts with published ones.
#include <cstdint>

#include "clustersim/models/catalog.hpp"

namespace clustersim::models {

namespace {

// Parameters of one normalisation over `width` features: LayerNorm has a gain and, with biases, a
// shift; RMSNorm only a gain.
std::int64_t norm_params(const ArchSpec& a, std::int64_t width) {
  return (a.norm == NormType::layernorm && a.bias) ? 2 * width : width;
}

std::int64_t transformer_layer_params(const ArchSpec& a) {
  const std::int64_t h = a.hidden;
  const std::int64_t q_width = a.heads * a.head_dim();
  const std::int64_t kv_width = a.kv_heads * a.head_dim();
  // Attention: query, key and value projections (grouped-query: kv_heads key/value heads), output.
  std::int64_t attention = h * q_width + 2 * h * kv_width + q_width * h;
  if (a.bias) attention += q_width + 2 * kv_width + h;
  // MLP: GELU has an up and a down projection; SwiGLU a gate, an up and a down projection.
  const std::int64_t f = a.ffn_hidden;
  std::int64_t mlp = 0;
  if (a.activation == "swiglu") {
    mlp = 3 * h * f + (a.bias ? 2 * f + h : 0);
  } else {
    mlp = 2 * h * f + (a.bias ? f + h : 0);
  }
  return attention + mlp + 2 * norm_params(a, h);
}

std::int64_t transformer_params(const ArchSpec& a) {
  const std::int64_t h = a.hidden;
  std::int64_t p = a.vocab * h;                      // token embedding
  if (a.positions == "learned") p += a.max_seq * h;  // learned positions
  p += a.type_vocab * h;                             // token types (BERT)
  p += a.layers * transformer_layer_params(a);
  if (a.family == ArchFamily::bert) {
    // Post-norm encoder: LayerNorm after the embeddings, no final norm.
    p += norm_params(a, h);
    p += h * h + (a.bias ? h : 0);                      // pooler (dense + tanh on [CLS])
    p += h * h + (a.bias ? h : 0) + norm_params(a, h);  // masked-LM transform: dense + LayerNorm
    p += a.bias ? a.vocab : 0;                          // masked-LM output bias
    if (!a.tied_embeddings) p += a.vocab * h;           // masked-LM decoder when untied
    p += 2 * h + (a.bias ? 2 : 0);                      // next-sentence classifier
  } else {
    // Pre-norm decoder: final norm, then the output head (no bias), shared with the embedding when tied.
    p += norm_params(a, h);
    if (!a.tied_embeddings) p += a.vocab * h;
  }
  return p;
}

std::int64_t mlp_params(const ArchSpec& a) {
  std::int64_t p = 0;
  for (std::size_t i = 0; i + 1 < a.mlp_dims.size(); ++i) p += a.mlp_dims[i] * a.mlp_dims[i + 1] + a.mlp_dims[i + 1];
  return p;
}

// Bottleneck ResNet (He et al. 2016, Table 1; torchvision layout): 7x7 stem conv + batch norm, four
// stages of [1x1, 3x3, 1x1 x4] blocks with batch norm after every conv, a 1x1 projection (+ batch
// norm) on each stage's first block, global pooling and a fully connected classifier with bias.
// Convolutions have no bias; each batch norm has a gain and a shift.
std::int64_t resnet_params(const ArchSpec& a) {
  const std::int64_t base = a.base_width;
  std::int64_t p = 7 * 7 * a.image_channels * base + 2 * base;
  std::int64_t in = base;
  for (std::size_t stage = 0; stage < a.resnet_blocks.size(); ++stage) {
    const std::int64_t planes = base << stage;
    const std::int64_t out = planes * 4;
    for (std::int64_t block = 0; block < a.resnet_blocks[stage]; ++block) {
      p += in * planes + 2 * planes;            // 1x1 reduce
      p += 9 * planes * planes + 2 * planes;    // 3x3
      p += planes * out + 2 * out;              // 1x1 expand
      if (block == 0) p += in * out + 2 * out;  // projection shortcut
      in = out;
    }
  }
  return p + in * a.classes + a.classes;
}

}  // namespace

std::int64_t parameter_count(const ArchSpec& arch) {
  switch (arch.family) {
    case ArchFamily::gpt:
    case ArchFamily::llama:
    case ArchFamily::bert:
      return transformer_params(arch);
    case ArchFamily::mlp:
      return mlp_params(arch);
    case ArchFamily::resnet:
      return resnet_params(arch);
  }
  return 0;
}

}  // namespace clustersim::models
