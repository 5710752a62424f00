// Transformer workload: one program per pipeline stage, Megatron-LM style. Per layer and
// micro-batch: norm, QKV GEMM, (rotary), attention, output projection, dropout + residual, norm,
// MLP GEMMs with GeLU or SwiGLU, dropout + residual; backward with data- and weight-gradient GEMMs;
// embedding, final norm, LM head and cross-entropy on the first/last stage. Tensor parallelism
// splits attention heads and the MLP (column/row parallel, Shoeybi et al. 2019) with 2 all-reduces
// per layer forward and 2 backward; sequence parallelism replaces each by an all-gather and a
// reduce-scatter and shards norms and dropout along the sequence (Korthikanti et al. 2022), storing
// sequence-sharded GEMM inputs that are re-gathered for the weight gradients. The tensors kept for
// the backward pass are exactly those of Korthikanti et al. Table 2 (sbh(34 + 5as/h) per layer with
// 16-bit activations, dropout and unfused attention), so memory follows from the plan.
// Private to the models library.
#pragma once

#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/plan.hpp"

namespace clustersim::models::build {

// Adds the programs, groups and rank mapping of a transformer scenario to `plan`.
void build_transformer(const Scenario& scenario, plan::Plan& plan);

// Vocabulary rows after Megatron's padding to a multiple of 128 * tp.
std::int64_t padded_vocab(std::int64_t vocab, std::int32_t tp);

}  // namespace clustersim::models::build
