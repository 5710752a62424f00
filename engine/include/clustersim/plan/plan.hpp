// The Plan IR: what one training step does on every rank. A scenario compiles (models::build_plan)
// into one Plan; two interpreters run it: the engine (engine::simulate) predicts a Trace, the
// executor runs it for real and measures a Trace in the same schema.
//
// Contract, shared by builders and both interpreters:
//  * A Program is an ordered list of ops over a few in-order streams. Ops on one stream run in
//    program order; `deps` name ops of the same program (usually on other streams) that must have
//    finished before the op may start. Ranks only synchronise through communication ops.
//  * Many ranks may share one program (data- and tensor-parallel replicas). Everything rank-specific
//    is derived from the rank's position in its groups: which group of each kind it is in, its index
//    there, and group-indexed views (Tensor::shard_group).
//  * Collectives match across the members of a group by order: the i-th collective a rank issues on
//    its group of kind K matches the i-th of every other member. All collectives on one group kind
//    are issued from one stream. The k-th send from rank a to rank b matches the k-th recv on b from a.
//  * Memory follows the plan: persistent tensors are allocated before the first op; an op allocates
//    its `allocs` when it starts and frees its `frees` when it ends. A tensor may be allocated again
//    after it was freed. Views (view_of >= 0) share their base's storage and are never allocated.
//  * Layout is row-major everywhere. The per-kind input/output lists are documented on each params
//    struct; executors rely on them exactly.
//  * The plan is deterministic: the same scenario gives a byte-identical plan.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "clustersim/plan/types.hpp"

namespace clustersim::plan {

using TensorId = std::int32_t;
using OpId = std::int32_t;
using StreamId = std::int16_t;
using Rank = std::int32_t;
inline constexpr std::int32_t kNone = -1;

struct Group {
  std::int32_t id = 0;
  GroupKind kind = GroupKind::world;
  std::vector<Rank> ranks;  // ranks[i] has index i in the group
};

// How the executor fills a tensor before the first step. Every allocation starts zeroed; then the
// inits of tensors and views are applied, copies last. `normal` values come from a counter-based
// generator keyed by (plan seed, seed_key, element index in the full, unsharded tensor), so a shard
// holds exactly the slice of what the unsharded tensor would hold: TP=2 trains like TP=1.
// `copy` fills the tensor from `source` (converting dtype); the source may be a group-indexed view,
// and may be an init-only tensor that no op allocates: the executor then materialises it (with its
// views' inits) just for the copy. ZeRO shards of master weights are initialised this way.
struct TensorInit {
  enum class Kind : std::uint8_t { none, zeros, ones, normal, copy };
  Kind kind = Kind::none;
  std::int32_t source = -1;  // TensorId, for copy
  double std = 0.02;
  std::int64_t seed_key = 0;               // distinct per logical parameter
  std::vector<std::int64_t> full_shape;    // unsharded shape; empty = same as the tensor's
  std::int32_t shard_dim = -1;             // dimension split across shard_group, -1 = not sharded
  GroupKind shard_group = GroupKind::tp;   // the group whose index selects the slice
};

struct Tensor {
  TensorId id = 0;
  std::string name;
  DType dtype = DType::fp32;
  std::vector<std::int64_t> shape;  // elements per dimension; product * dtype_bytes == bytes
  std::int64_t bytes = 0;
  TensorRole role = TensorRole::activation;
  bool persistent = false;  // allocated before the first op and kept for the whole run
  // A view shares storage with `view_of` starting at `offset_bytes`. When `shard_group` is set the
  // view is group-indexed: rank with index i in its group of that kind sees offset_bytes + i * bytes
  // (ZeRO shards, reduce-scatter outputs, in-place all-gather inputs).
  TensorId view_of = kNone;
  std::int64_t offset_bytes = 0;
  std::optional<GroupKind> shard_group;
  TensorInit init;

  std::int64_t elements() const;
};

// --- op parameters -------------------------------------------------------------------------------

// C(m x n) = op(A)(m x k) * op(B)(k x n) [+ bias] [+ C if accumulate], `batch` independent products of
// contiguous matrices. A is stored (m x k), or (k x m) when trans_a; B is (k x n), or (n x k) when trans_b.
// inputs: [A, B] or [A, B, bias(n)]; outputs: [C]. Accumulation is in fp32, output in C's dtype.
// `dtype` is the operand precision that sets the rate (fp8 operands are cast by preceding cast ops).
struct GemmParams {
  std::int64_t m = 0, n = 0, k = 0, batch = 1;
  DType dtype = DType::fp32;
  bool trans_a = false, trans_b = false;
  bool accumulate = false;
  bool bias = false;
};

// Scaled dot-product attention over a packed projection qkv(B, T, (heads + 2*kv_heads) * head_dim):
// query heads first, then key heads, then value heads (grouped-query attention when kv_heads < heads).
// forward,  flash:     inputs [qkv]                         outputs [out(B,T,heads*head_dim), lse(B,heads,T) fp32]
// forward,  non-flash: inputs [qkv]                         outputs [out, probs(B,heads,T,T)]
//                      with dropout > 0 also                       [.., mask(B,heads,T,T) uint8, dropped(B,heads,T,T)]
// backward, flash:     inputs [dout, qkv, out, lse]         outputs [dqkv]
// backward, non-flash: inputs [dout, qkv, probs(, mask, dropped)] outputs [dqkv]
// Flash attention with dropout regenerates the mask from (seed, op tags); it is not stored.
// With seq_shards > 1 (sequence parallelism) rows are in shard-major order (see IoParams).
struct AttentionParams {
  std::int64_t batch = 0, heads = 0, kv_heads = 0, seq_q = 0, seq_kv = 0, head_dim = 0;
  bool causal = true;
  bool flash = true;
  double dropout = 0.0;
  Direction direction = Direction::forward;
  DType dtype = DType::bf16;
  std::int32_t seq_shards = 1;
};

enum class ConvPass : std::uint8_t { forward, backward_data, backward_filter };

// 2-D convolution, NHWC activations, filters (out_channels, kernel_h, kernel_w, in_channels), no bias.
// forward:         inputs [x(N,H,W,C), w]     outputs [y(N,P,Q,K)]
// backward_data:   inputs [dy, w]             outputs [dx]
// backward_filter: inputs [dy, x]             outputs [dw] (accumulated)
struct Conv2dParams {
  std::int64_t batch = 0, in_channels = 0, out_channels = 0, height = 0, width = 0;
  std::int64_t kernel_h = 1, kernel_w = 1, stride = 1, padding = 0;
  ConvPass pass = ConvPass::forward;
  DType dtype = DType::fp32;
  std::int64_t out_height() const { return (height + 2 * padding - kernel_h) / stride + 1; }
  std::int64_t out_width() const { return (width + 2 * padding - kernel_w) / stride + 1; }
};

// A named memory-bound op. The engine costs it from bytes and flops; the executor looks `name` up in
// its kernel registry. Names and their tensor lists:
//   residual_add        [a, b] -> [out]             out = a + b
//   add_inplace         [a] -> [out]                out += a
//   copy                [a] -> [out]                out = a
//   gelu                [x] -> [y]                  tanh approximation
//   gelu_backward       [x, dy] -> [dx]
//   relu                [x] -> [y]
//   relu_backward       [y, dy] -> [dx]             (uses the output)
//   swiglu              [x(..,2F)] -> [y(..,F)]     y = silu(x[:, :F]) * x[:, F:]
//   swiglu_backward     [x, dy] -> [dx]
//   dropout             [x] -> [y, mask]            p = scalar; mask uint8
//   dropout_backward    [dy, mask] -> [dx]
//   rope                [qkv] -> [qkv_out]          rotary embedding on query and key heads (scalar = theta)
//   rope_backward       [dqkv] -> [dqkv_out]
//   bias_grad           [dy(rows, n)] -> [dbias(n)] accumulated column sums
//   bias_add            [x(rows, n), bias(n)] -> [x] in place (row-parallel linear: bias after the reduction)
//   position_add        [x(B,T,C), wpe(maxT,C)] -> [x] in place, x[b,t] += wpe[t + seq_offset] (scalar = seq_offset)
//   position_add_backward [dx(B,T,C)] -> [dwpe] accumulated (scalar = seq_offset)
//   xent_parallel_max   [logits(rows, V/t)] -> [max(rows) fp32]          vocab-parallel cross-entropy, step 1
//   xent_parallel_stats [logits, max, targets] -> [stats(2, rows) fp32]  row 0: sum exp(logit - max), row 1: the
//                       target's logit when it falls in this rank's vocab shard (tp index * V/t ...), else 0
//   xent_parallel_loss  [stats, max] -> [losses(rows) fp32]             after stats are summed over tp
//   xent_parallel_backward [logits, targets, max, stats] -> [dlogits]   (softmax - onehot) * scalar, may alias logits
//   scale               [x] -> [x]                  x *= scalar (in place)
//   zero                [] -> [x...]                every output set to 0
//   check_finite        [x...] -> [flag]            flag(fp32) = 1 if any non-finite element, else 0
//   grad_norm_sq        [x...] -> [acc]             acc(fp32) += scalar * sum of squares (scalar 0 counts as 1);
//                                                   the weight counts replicated gradients once
//   clip_by_norm        [norm_sq] -> [x...]         scale x by min(1, scalar / sqrt(norm_sq)) in place
//   maxpool             [x] -> [y, argmax]          3x3 stride 2 pad 1 (ResNet stem)
//   maxpool_backward    [dy, argmax] -> [dx]
//   global_avgpool      [x(N,H,W,C)] -> [y(N,C)]
//   global_avgpool_backward [dy] -> [dx]
// `elements` is the element count of the main operand.
// `dims` carries structure for ops that need it: rope {B, T, heads, kv_heads, head_dim, seq_shards};
// position_add(_backward) {B, T_local, C, seq_shards} (with seq_shards > 1 the rows are the rank's
// sequence shard: positions start at tp_index * T_local); maxpool {N, H, W, C}; global_avgpool {N, H, W, C}.
struct ElementwiseParams {
  std::string name;
  std::int64_t elements = 0;
  std::int64_t bytes_read = 0, bytes_written = 0;
  double flops = 0.0;
  double scalar = 0.0;
  DType dtype = DType::fp32;
  std::vector<std::int64_t> dims;
};

// Normalisation over `cols` for each of `rows` (layernorm, rmsnorm) or over `rows` for each column
// (batchnorm, NHWC: rows = N*H*W, cols = C).
// forward:  layernorm/batchnorm [x, gamma, beta] -> [y, mean(fp32), rstd(fp32)];  rmsnorm [x, gamma] -> [y, rstd]
// backward: layernorm/batchnorm [dy, x, gamma, mean, rstd] -> [dx, dgamma, dbeta]; rmsnorm [dy, x, gamma, rstd] -> [dx, dgamma]
// dgamma/dbeta are accumulated; dx is accumulated when accumulate_dx (residual stream), else overwritten.
struct NormParams {
  NormType type = NormType::layernorm;
  std::int64_t rows = 0, cols = 0;
  Direction direction = Direction::forward;
  bool accumulate_dx = false;
  double eps = 1e-5;
  DType dtype = DType::fp32;
};

// Softmax cross-entropy over `vocab` classes for `rows` targets.
// forward:  [logits(rows, vocab), targets(rows) int32] -> [losses(rows) fp32]
// backward: [logits, targets] -> [dlogits]   dlogits = (softmax - onehot) * grad_scale; may alias logits.
// grad_scale folds the mean over the global batch and the loss scale.
struct SoftmaxXentParams {
  std::int64_t rows = 0, vocab = 0;
  Direction direction = Direction::forward;
  double grad_scale = 1.0;
  DType dtype = DType::fp32;
};

// Token (and learned position) embedding.
// forward:  [tokens(B,T) int32, wte(V,C)] or [.., wpe(maxT,C)] -> [x(B,T,C)]
// backward: [dx, tokens] -> [dwte] or [dwte, dwpe]   (accumulated)
// vocab_parallel: wte holds rows [i*V, (i+1)*V) of the full table (V = `vocab` = local rows, i = the
// rank's tp index); tokens outside the shard give zero rows (the tp all-reduce completes them) and
// positions are never added here (position_add follows the reduction).
struct EmbeddingParams {
  std::int64_t vocab = 0, dim = 0, batch = 0, seq = 0;
  bool learned_positions = true;
  bool vocab_parallel = false;
  std::int32_t seq_shards = 1;  // output rows in shard-major order when > 1 (see IoParams)
  Direction direction = Direction::forward;
  DType dtype = DType::fp32;
};

// One optimizer step over `params` elements (a bucket, or the rank's shard of it).
// inputs: [grad]; outputs: [weight, master, state1, state2] updated in place. `master` equals
// `weight` when training in fp32 (no separate master copy). adamw: state1 = m, state2 = v;
// sgd: state1 = momentum, no state2. The gradient is multiplied by grad_scale (1/loss scale)
// before use; a non-finite flag (when found_inf is set, inputs[1]) skips the update.
struct OptimizerParams {
  OptimizerKind kind = OptimizerKind::adamw;
  std::int64_t params = 0;
  double lr = 3e-4, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1, momentum = 0.9;
  double grad_scale = 1.0;
  bool found_inf = false;  // inputs[1] is the fp32 non-finite flag of this step
};

// [x] -> [y]: elementwise conversion.
struct CastParams {
  DType from = DType::fp32, to = DType::bf16;
  std::int64_t elements = 0;
};

// A collective on the rank's group of kind `group`. `bytes` is the full buffer size: the gathered
// size for all_gather, the input size for reduce_scatter.
//   all_reduce     [buf] -> [buf] (in place)
//   reduce_scatter [full] -> [shard]   (shard += when accumulate)
//   all_gather     [shard] -> [full]   (in place when shard is the group-indexed view of full)
//   broadcast      [buf] -> [buf]      from group index `root`
//   reduce         [buf] -> [buf]      to group index `root`
//   all_to_all     [in] -> [out]
enum class ReduceOp : std::uint8_t { sum, max };

struct CollectiveParams {
  CollectiveType type = CollectiveType::all_reduce;
  GroupKind group = GroupKind::dp;
  std::int64_t bytes = 0;
  DType dtype = DType::bf16;
  bool accumulate = false;
  std::int32_t root = 0;
  ReduceOp reduce = ReduceOp::sum;  // all_reduce, reduce_scatter, reduce
};

// Point-to-point within the rank's group of kind `group`: the peer is the member at
// (my index + peer_offset) mod group size. send: [buf] -> []; recv: [] -> [buf].
// Matching is per (source, destination, tag) in issue order: the k-th send a->b with tag g
// matches the k-th recv on b from a with tag g (tags separate forward activations from backward
// gradients between the same two stages).
struct P2PParams {
  GroupKind group = GroupKind::pp;
  std::int32_t peer_offset = 1;
  std::int64_t bytes = 0;
  std::int32_t tag = 0;
};

// Data movement outside the device: host to device input, storage reads, PCIe offload.
// inputs/outputs: the tensors filled or drained. medium: "host", "storage", "pcie".
// `content` tells the executor's data loader what to produce for each output: "tokens", "targets"
// (next tokens, int32), "features" (fp32), "labels" (int32 classes), "images" (NHWC) or "" (a plain
// transfer, e.g. offload). With sequence parallelism (seq_shards > 1) full-sequence tensors hold rows in
// shard-major order: row = (shard * B + b) * (T / seq_shards) + t_local.
struct IoParams {
  std::int64_t bytes = 0;
  std::string medium = "host";
  std::string content;
  std::int32_t seq_shards = 1;
};

// A fixed delay (client think time, emulated straggling).
struct DelayParams {
  std::int64_t ns = 0;
  std::string reason;
};

using OpParams = std::variant<GemmParams, AttentionParams, Conv2dParams, ElementwiseParams, NormParams,
                              SoftmaxXentParams, EmbeddingParams, OptimizerParams, CastParams, CollectiveParams,
                              P2PParams, IoParams, DelayParams>;

struct OpTags {
  std::int16_t layer = -1;       // transformer layer / network block, -1 when none
  std::int32_t microbatch = -1;  // micro-batch within the step
  Phase phase = Phase::other;
  std::int16_t stage = -1;  // pipeline stage
  std::int16_t chunk = -1;  // virtual pipeline chunk (interleaved schedules)
  std::int32_t round = -1;  // federated round
  std::int32_t client = -1;
};

struct Op {
  OpId id = 0;
  std::string name;
  OpKind kind = OpKind::delay;  // must match the alternative held by params
  StreamId stream = 0;
  OpParams params = DelayParams{};
  std::vector<TensorId> inputs, outputs, allocs, frees;
  std::vector<OpId> deps;
  OpTags tags;
};

struct Stream {
  StreamId id = 0;
  std::string name;
  StreamKind kind = StreamKind::compute;
};

struct Program {
  std::int32_t id = 0;
  std::string name;
  std::vector<Stream> streams;
  std::vector<TensorId> persistent;  // allocated before the first op
  std::vector<Op> ops;               // program order; ops[i].id == i
};

// Facts about the step that reports need (FLOPs for MFU, tokens for throughput).
struct PlanMeta {
  std::string scenario;
  std::string model;                 // architecture name
  std::int64_t global_batch = 0;     // samples per optimizer step
  std::int64_t micro_batch = 0;
  std::int64_t num_microbatches = 0;  // gradient accumulation steps (per pipeline: micro-batches)
  std::int64_t seq_len = 0;           // 0 for non-token models
  std::int64_t tokens_per_step = 0;   // 0 for non-token models
  std::int64_t parameters = 0;        // total model parameters
  double model_flops_per_step = 0.0;  // useful FLOPs (6N per token + attention), no recompute
  double hardware_flops_per_step = 0.0;  // including recomputation
  std::int32_t dp = 1, tp = 1, pp = 1, cp = 1, ep = 1;
  Precision precision = Precision::fp32;
  std::int32_t zero_stage = 0;
  std::int64_t seed = 1;
  // Dynamic loss scaling (fp16): the executor multiplies softmax_xent backward's grad_scale by the
  // current scale and optimizer grad_scale by its inverse; init 2^16, x growth after `window` clean
  // steps, x backoff and skip the step on a non-finite gradient.
  bool dynamic_loss_scale = false;
  double loss_scale_init = 65536.0;
  std::int64_t loss_scale_window = 2000;
  double loss_scale_growth = 2.0;
  double loss_scale_backoff = 0.5;
};

struct Plan {
  std::int32_t world_size = 1;
  std::vector<Group> groups;
  std::vector<Tensor> tensors;  // tensors[i].id == i
  std::vector<Program> programs;
  std::vector<std::int32_t> program_of_rank;  // size world_size
  PlanMeta meta;
};

// Which group of each kind a rank belongs to, and its index there; derived from Plan::groups.
class RankGroups {
 public:
  explicit RankGroups(const Plan& plan);
  // Group id of `rank` for `kind`, or kNone.
  std::int32_t group_of(Rank rank, GroupKind kind) const;
  // Index of `rank` inside its group of `kind` (0 when it has none).
  std::int32_t index_in_group(Rank rank, GroupKind kind) const;

 private:
  std::vector<std::array<std::int32_t, kGroupKindCount>> group_;
  std::vector<std::array<std::int32_t, kGroupKindCount>> index_;
};

// Kind that `params` holds, for checking Op::kind.
OpKind kind_of(const OpParams& params);

// Checks the structural invariants above (ids, kinds, stream order, tensor references, view bounds,
// alloc/free balance, group coverage). Throws InternalError naming the first violation.
void validate(const Plan& plan);

// FLOPs an op performs (for MFU accounting and the roofline), 0 for communication.
double op_flops(const Op& op);

// Bytes an op moves through device memory: each input tensor read once, each output written once
// (read and written when accumulated into or updated in place: gemm/conv accumulate, optimizer,
// norm accumulate_dx); elementwise ops use their declared bytes_read + bytes_written; communication
// ops the bytes communicated.
std::int64_t op_bytes(const Plan& plan, const Op& op);

// The class an op is reported under, identical in predicted and measured traces:
// "gemm", "attention", "conv", "memory" (elementwise, norm, softmax, embedding, cast), "optimizer",
// "comm:<group>:<collective>", "p2p:<group>", "io", "delay".
std::string op_class(const Op& op);
// The same name without building a string: a view of storage that lives as long as the program.
std::string_view op_class_name(const Op& op);

}  // namespace clustersim::plan
