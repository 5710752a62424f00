// ParameterSet: the parameters of one program (a pipeline stage) and everything data parallelism
// does with them: flat weight/gradient/optimizer buffers laid out in backward-production order,
// gradient buckets (DDP, 25 MiB by default) reduced on the data-parallel stream as soon as their last
// gradient is produced (only on the last micro-batch unless ZeRO-2/3 reduces every micro-batch),
// ZeRO-1/2 sharded optimizer states with a parameter all-gather after the step (Rajbhandari et al.,
// SC'20), ZeRO-3/FSDP per-unit parameter gathers with prefetch and per-unit gradient
// reduce-scatters, the tensor-parallel reduction of replicated parameters' gradients under sequence
// parallelism (Korthikanti et al. 2022), the embedding-group reduction of tied embeddings across
// pipeline stages (Megatron-LM), loss-scale checks, gradient clipping and the optimizer step.
// Private to the models library.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "program_builder.hpp"

namespace clustersim::models::build {

struct ParamDecl {
  std::string name;
  std::vector<std::int64_t> shape;  // local (this rank's shard)
  plan::TensorInit init;            // normal / zeros / ones, with full_shape and shard_dim under TP
  bool replicated = false;          // identical on every tp rank (norms, row-parallel biases, positions)
  bool embedding_shared = false;    // tied embedding held by the first and the last stage (pp > 1)
  std::int32_t unit = 0;            // bucket group (model chunk) or, under ZeRO-3, the FSDP unit
  std::int32_t writes_per_microbatch = 1;  // gradient writes per micro-batch (2 for a tied embedding)
};

struct ParamOptions {
  std::int32_t zero_stage = 0;  // effective: 0 when dp == 1
  std::int32_t dp = 1, tp = 1, pp = 1;
  bool sequence_parallel = false;
  bool master_weights = false;  // fp32 master copy (mixed precision)
  DType param_dtype = DType::fp32;
  bool fp8_weight_cache = false;  // keep an fp8 copy of the weights, refreshed after the step
  double bucket_bytes = 25.0 * 1024 * 1024;
  OptimizerKind optimizer = OptimizerKind::adamw;
  double lr = 3e-4, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1, momentum = 0.9;
  double grad_clip = 1.0;
  bool check_finite = false;  // fp16 dynamic loss scaling
  bool offload_optimizer = false;
  std::int16_t stage = -1;
};

class ParameterSet {
 public:
  ParameterSet(ProgramBuilder& b, ParamOptions options);

  // Declare in backward-production order (the order gradients are produced in the backward pass).
  std::int32_t declare(ParamDecl decl);
  // A handle covering consecutive declared params (e.g. q, k, v weights used by one GEMM).
  std::int32_t span(const std::vector<std::int32_t>& params, const std::string& name);
  // Lays out the buffers and buckets; call once, after every declare/span.
  void finalize();

  std::int32_t zero_stage() const { return opt_.zero_stage; }

  // Tensor to read a weight from (ZeRO-3: a view of the unit's gathered buffer, gather() first).
  TensorId weight(std::int32_t handle);
  // fp8 copy of a weight (fp8 weight cache), for fp8 GEMMs.
  TensorId weight_fp8(std::int32_t handle);
  // Tensor to accumulate a gradient into, for micro-batch `mb`.
  TensorId grad(std::int32_t handle, std::int32_t mb);
  // Reports that `op` wrote the gradient of `handle`; reduces buckets that became complete.
  // `last` marks the final micro-batch of the param's unit in this step.
  void grad_written(std::int32_t handle, OpId op, std::int32_t mb, bool last, const plan::OpTags& tags);

  // ZeRO-3: all-gather a unit's parameters (no-op otherwise); release frees the gathered buffer once
  // every op that read it has finished.
  void gather(std::int32_t unit, const plan::OpTags& tags);
  void release(std::int32_t unit);
  bool gathered(std::int32_t unit) const;

  // Emits the end-of-step work: loss-scale check, clipping, optimizer, parameter all-gathers,
  // fp8 cache refresh, gradient zeroing.
  void optimizer_step(const plan::OpTags& tags);

  std::int64_t local_parameter_count() const;

 private:
  struct Param {
    ParamDecl decl;
    std::int64_t elements = 0;
    std::int64_t offset = 0;  // elements from the start of the flat buffer
    std::int32_t bucket = -1;
    TensorId weight_view = -1, grad_view = -1, master_view = -1, fp8_view = -1;
  };
  struct Span {
    std::vector<std::int32_t> params;
    std::string name;
    std::int64_t offset = 0, elements = 0;
    TensorId weight_view = -1, grad_view = -1, fp8_view = -1;
  };
  struct Bucket {
    std::int32_t unit = 0;
    std::int64_t begin = 0, end = 0;  // elements in the flat buffer, [begin, end) holds params
    std::int64_t padded = 0;          // size rounded up to a multiple of dp
    std::int64_t rep_begin = 0, rep_end = 0;  // replicated sub-range (offsets in the flat buffer)
    bool embedding = false;
    std::int32_t expected_writes = 0;
    std::int64_t shard_offset = 0;  // elements from the start of the shard buffers
    // per micro-batch state
    std::map<std::int32_t, std::int32_t> writes;  // mb -> writes seen
    std::map<std::int32_t, TensorId> buffer;      // mb -> transient gradient buffer (ZeRO-2/3)
    std::map<std::int32_t, std::map<std::int32_t, TensorId>> buffer_views;  // mb -> handle -> view
    OpId last_write = -1;
    std::vector<OpId> reductions;
    // tensors
    TensorId weight = -1, grad = -1, master = -1, state1 = -1, state2 = -1, fp8 = -1;
    TensorId weight_shard = -1, grad_shard = -1;  // group-indexed / shard-buffer views
    // ZeRO-3
    TensorId gathered = -1;
    OpId gather_op = -1;
    std::map<std::int32_t, TensorId> gathered_views;  // handle -> view of `gathered`
    std::int32_t gather_count = 0;
  };

  std::vector<std::int32_t> handle_params(std::int32_t handle) const;
  Bucket& bucket_of(std::int32_t handle);
  void layout_buckets();
  void create_buffers();
  void reduce_bucket(Bucket& bucket, std::int32_t mb, const plan::OpTags& tags);
  TensorId view_in(TensorId base, std::int32_t handle, std::int64_t base_offset, DType dtype, const std::string& tag);
  std::string bucket_name(const Bucket& bucket) const;

  ProgramBuilder& b_;
  ParamOptions opt_;
  std::vector<Param> params_;
  std::vector<Span> spans_;
  std::vector<Bucket> buckets_;
  std::int64_t flat_elements_ = 0, shard_elements_ = 0;
  TensorId weights_ = -1, grads_ = -1, master_ = -1, state1_ = -1, state2_ = -1, fp8_ = -1;
  TensorId grad_shards_ = -1, master_shards_ = -1, master_image_ = -1, weight_image_ = -1;
  StreamId compute_ = 0, dp_stream_ = -1, tp_stream_ = -1, pp_stream_ = -1, emb_stream_ = -1;
  bool finalized_ = false;
};

// Handles at or above this value name spans, below it params.
inline constexpr std::int32_t kSpanBase = 1 << 24;

}  // namespace clustersim::models::build
