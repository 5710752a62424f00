// Transformer workload builder; see transformer.hpp for the model and its sources.
#include "transformer.hpp"

#include <cmath>
#include <map>
#include <string>

#include "layout.hpp"
#include "parameters.hpp"
#include "pipeline_schedule.hpp"
#include "program_builder.hpp"

namespace clustersim::models::build {

std::int64_t padded_vocab(std::int64_t vocab, std::int32_t tp) {
  const std::int64_t multiple = 128 * static_cast<std::int64_t>(tp);
  return (vocab + multiple - 1) / multiple * multiple;
}

namespace {

using plan::TensorInit;

struct Dims {
  std::int64_t B = 0, T = 0, Tl = 0, C = 0, H = 0, KV = 0, D = 0, F = 0, V = 0, Vl = 0, L = 0, max_seq = 0;
  std::int32_t t = 1, p = 1, v = 1, m = 1, dp = 1;
  std::int64_t Hl = 0, KVl = 0, Fl = 0, fc_out = 0, qkv_out = 0, layers_per_chunk = 0;
  bool swiglu = false, rope = false, learned_pos = true, tied = true, bias = true, causal = true, sp = false;
  bool flash = true, rms = false, fp8 = false;
  double dropout = 0.0, eps = 1e-5, theta = 10000.0, grad_scale = 1.0;
  DType adt = DType::bf16, gdt = DType::bf16, pdt = DType::bf16;
  Recompute recompute = Recompute::none;
  std::int64_t rows() const { return B * T; }         // tokens of a micro-batch
  std::int64_t rows_local() const { return B * Tl; }  // tokens this rank holds in the residual stream
};

Dims dims_of(const Scenario& sc) {
  const ArchSpec& a = sc.model.arch;
  const auto& par = sc.parallelism;
  Dims d;
  d.B = sc.training.micro_batch;
  d.T = sc.model.seq_len;
  d.t = par.tp;
  d.p = par.pp;
  d.v = par.schedule == PipelineSchedule::interleaved_1f1b ? par.virtual_stages : 1;
  d.dp = par.dp;
  d.m = static_cast<std::int32_t>(sc.accumulation_steps());
  d.sp = par.sp && par.tp > 1;
  d.Tl = d.sp ? d.T / d.t : d.T;
  d.C = a.hidden;
  d.H = a.heads;
  d.KV = a.kv_heads > 0 ? a.kv_heads : a.heads;
  d.D = a.head_dim();
  d.F = a.ffn_hidden;
  d.V = padded_vocab(a.vocab, d.t);
  d.Vl = d.V / d.t;
  d.L = a.layers;
  d.max_seq = a.max_seq;
  d.Hl = d.H / d.t;
  d.KVl = d.KV >= d.t ? d.KV / d.t : 1;
  d.Fl = d.F / d.t;
  d.swiglu = a.activation == "swiglu";
  d.fc_out = d.swiglu ? 2 * d.Fl : d.Fl;
  d.qkv_out = (d.Hl + 2 * d.KVl) * d.D;
  d.layers_per_chunk = d.L / (static_cast<std::int64_t>(d.p) * d.v);
  d.rope = a.positions == "rope";
  d.learned_pos = a.positions == "learned";
  d.tied = a.tied_embeddings;
  d.bias = a.bias;
  d.causal = a.causal;
  d.rms = a.norm == NormType::rmsnorm;
  d.eps = a.norm_eps;
  d.theta = a.rope_theta;
  d.dropout = sc.training.dropout;
  d.flash = sc.training.flash_attention;
  d.recompute = sc.training.recompute;
  switch (sc.training.precision) {
    case Precision::fp32:
      d.adt = d.gdt = d.pdt = DType::fp32;
      break;
    case Precision::tf32:
      d.adt = d.pdt = DType::fp32;
      d.gdt = DType::tf32;
      break;
    case Precision::fp16:
      d.adt = d.gdt = d.pdt = DType::fp16;
      break;
    case Precision::bf16:
      d.adt = d.gdt = d.pdt = DType::bf16;
      break;
    case Precision::fp8:
      d.adt = d.pdt = DType::bf16;
      d.gdt = DType::fp8_e4m3;
      d.fp8 = true;
      break;
  }
  // Mean over every token of the global batch; the dp all-reduce sums the ranks' contributions.
  d.grad_scale = 1.0 / (static_cast<double>(sc.training.global_batch) * static_cast<double>(d.T));
  return d;
}

struct LayerParams {
  std::int32_t ln1_g = -1, ln1_b = -1, qkv_w = -1, qkv_b = -1, proj_w = -1, proj_b = -1;
  std::int32_t ln2_g = -1, ln2_b = -1, fc_w = -1, fc_b = -1, fcp_w = -1, fcp_b = -1;
  std::int32_t unit = 0;
};

// Tensors a layer keeps from its forward pass for its backward pass.
struct LayerSaved {
  TensorId x = -1, ln1 = -1, mean1 = -1, rstd1 = -1, qkv = -1, atty = -1, lse = -1, probs = -1, amask = -1,
           dropped = -1, proj_mask = -1, r1 = -1, ln2 = -1, mean2 = -1, rstd2 = -1, fch = -1, fca = -1,
           fc_mask = -1;
};

struct HeadSaved {
  TensorId x = -1, lnf = -1, mean = -1, rstd = -1, logits = -1, targets = -1, losses = -1, mx = -1, stats = -1;
};

class StageBuilder {
 public:
  StageBuilder(const Scenario& sc, plan::Plan& plan, const Dims& d, std::int32_t stage)
      : sc_(sc), d_(d), stage_(stage), b_(plan, "stage" + std::to_string(stage)), params_(b_, param_options(sc, d, stage)) {
    compute_ = b_.stream("compute", StreamKind::compute);
    if (d_.t > 1) tp_ = b_.stream("tp_comm", StreamKind::comm);
    data_ = b_.stream("data", StreamKind::copy);
    if (d_.p > 1) {
      recv_act_ = b_.stream("pp_recv_act", StreamKind::comm);
      recv_grad_ = b_.stream("pp_recv_grad", StreamKind::comm);
      send_act_ = b_.stream("pp_send_act", StreamKind::comm);
      send_grad_ = b_.stream("pp_send_grad", StreamKind::comm);
    }
  }

  void build() {
    declare_parameters();
    params_.finalize();
    const auto steps = pipeline_schedule(sc_.parallelism.schedule, d_.p, stage_, d_.m, d_.v);
    std::map<std::int32_t, std::int32_t> last_backward;  // chunk -> micro-batch of its final backward
    for (const auto& st : steps)
      if (!st.forward) last_backward[st.chunk] = st.microbatch;
    for (const auto& st : steps) {
      if (st.forward) forward_chunk(st.microbatch, st.chunk);
      else backward_chunk(st.microbatch, st.chunk, last_backward[st.chunk] == st.microbatch);
    }
    plan::OpTags tags;
    tags.stage = static_cast<std::int16_t>(stage_);
    params_.optimizer_step(tags);
  }

 private:
  static ParamOptions param_options(const Scenario& sc, const Dims& d, std::int32_t stage) {
    ParamOptions o;
    o.zero_stage = sc.training.zero_stage;
    o.dp = d.dp, o.tp = d.t, o.pp = d.p;
    o.sequence_parallel = d.sp;
    o.master_weights = d.pdt != DType::fp32;
    o.param_dtype = d.pdt;
    o.fp8_weight_cache = d.fp8 && sc.training.zero_stage != 3;
    o.bucket_bytes = sc.training.bucket_mib * 1024.0 * 1024.0;
    o.optimizer = sc.training.optimizer;
    o.lr = sc.training.lr, o.beta1 = sc.training.beta1, o.beta2 = sc.training.beta2, o.eps = sc.training.eps;
    o.weight_decay = sc.training.weight_decay, o.momentum = sc.training.momentum;
    o.grad_clip = sc.training.grad_clip;
    o.check_finite = sc.training.precision == Precision::fp16 && sc.training.loss_scaling.dynamic;
    o.offload_optimizer = sc.training.offload_optimizer;
    o.stage = static_cast<std::int16_t>(stage);
    return o;
  }

  // --- parameters ------------------------------------------------------------------------------

  static TensorInit normal(double std, std::int64_t key, std::vector<std::int64_t> full = {}, std::int32_t dim = -1) {
    TensorInit i;
    i.kind = TensorInit::Kind::normal;
    i.std = std;
    i.seed_key = key;
    i.full_shape = std::move(full);
    i.shard_dim = dim;
    return i;
  }
  static TensorInit constant(bool one, std::int64_t key, std::vector<std::int64_t> full = {}, std::int32_t dim = -1) {
    TensorInit i;
    i.kind = one ? TensorInit::Kind::ones : TensorInit::Kind::zeros;
    i.seed_key = key;
    i.full_shape = std::move(full);
    i.shard_dim = dim;
    return i;
  }

  std::int32_t param(const std::string& name, std::vector<std::int64_t> shape, TensorInit init, bool replicated,
                     std::int32_t unit, std::int32_t writes = 1, bool shared = false) {
    ParamDecl p;
    p.name = "s" + std::to_string(stage_) + "." + name;
    p.shape = std::move(shape);
    p.init = std::move(init);
    p.replicated = replicated;
    p.unit = unit;
    p.writes_per_microbatch = writes;
    p.embedding_shared = shared;
    return params_.declare(std::move(p));
  }

  std::int32_t unit_for(std::int32_t chunk, std::int32_t fsdp_unit) const {
    return params_.zero_stage() == 3 ? fsdp_unit : chunk;
  }

  void declare_parameters() {
    const Dims& d = d_;
    const bool sharded = d.t > 1;
    auto tp_dim = [&](std::int32_t dim) { return sharded ? dim : -1; };
    const double std = 0.02;
    const double out_std = std / std::sqrt(2.0 * static_cast<double>(d.L));
    // Local chunks in reverse, so the first gradients produced come first.
    for (std::int32_t j = d.v - 1; j >= 0; --j) {
      const std::int32_t c = j * d.p + stage_;
      const bool first = c == 0, last = c == d.p * d.v - 1;
      if (last) {
        const std::int32_t u = unit_for(j, kHeadUnit);
        if (!d.tied || d.p > 1) {
          // Untied head, or the last stage's copy of a tied embedding (same init as wte).
          head_w_ = param(d.tied ? "lm_head(tied)" : "lm_head", {d.Vl, d.C}, normal(std, d.tied ? 1 : 3, {d.V, d.C}, tp_dim(0)),
                          false, d.tied ? unit_for(j, kHeadUnit + 1) : u, 1, d.tied);
        }
        final_g_ = param("final_norm.weight", {d.C}, constant(true, 4), true, u);
        if (!d.rms) final_b_ = param("final_norm.bias", {d.C}, constant(false, 5), true, u);
      }
      for (std::int64_t l = (c + 1) * d.layers_per_chunk - 1; l >= c * d.layers_per_chunk; --l) {
        LayerParams lp;
        lp.unit = unit_for(j, static_cast<std::int32_t>(l));
        const std::string n = "L" + std::to_string(l) + ".";
        const std::int64_t key = 100 + 32 * l;
        const std::int64_t fc_full_rows = d.swiglu ? 2 : 1;
        lp.fcp_w = param(n + "mlp.proj.weight", {d.C, d.Fl}, normal(out_std, key + 1, {d.C, d.F}, tp_dim(1)), false, lp.unit);
        if (d.bias) lp.fcp_b = param(n + "mlp.proj.bias", {d.C}, constant(false, key + 2), true, lp.unit);
        lp.fc_w = param(n + "mlp.fc.weight", {fc_full_rows, d.Fl, d.C},
                        normal(std, key + 3, {fc_full_rows, d.F, d.C}, tp_dim(1)), false, lp.unit);
        if (d.bias)
          lp.fc_b = param(n + "mlp.fc.bias", {fc_full_rows, d.Fl}, constant(false, key + 4, {fc_full_rows, d.F}, tp_dim(1)),
                          false, lp.unit);
        lp.ln2_g = param(n + "ln2.weight", {d.C}, constant(true, key + 5), true, lp.unit);
        if (!d.rms) lp.ln2_b = param(n + "ln2.bias", {d.C}, constant(false, key + 6), true, lp.unit);
        lp.proj_w = param(n + "attn.proj.weight", {d.C, d.Hl * d.D}, normal(out_std, key + 7, {d.C, d.H * d.D}, tp_dim(1)),
                          false, lp.unit);
        if (d.bias) lp.proj_b = param(n + "attn.proj.bias", {d.C}, constant(false, key + 8), true, lp.unit);
        // Q, K and V as separate parameters (each sharded by heads) used through one span.
        const std::int32_t q = param(n + "attn.q.weight", {d.Hl * d.D, d.C}, normal(std, key + 9, {d.H * d.D, d.C}, tp_dim(0)),
                                     false, lp.unit);
        const std::int32_t k = param(n + "attn.k.weight", {d.KVl * d.D, d.C},
                                     normal(std, key + 10, {d.KV * d.D, d.C}, tp_dim(0)), false, lp.unit);
        const std::int32_t vv = param(n + "attn.v.weight", {d.KVl * d.D, d.C},
                                      normal(std, key + 11, {d.KV * d.D, d.C}, tp_dim(0)), false, lp.unit);
        lp.qkv_w = params_.span({q, k, vv}, "s" + std::to_string(stage_) + "." + n + "attn.qkv.weight");
        if (d.bias) {
          const std::int32_t qb = param(n + "attn.q.bias", {d.Hl * d.D}, constant(false, key + 12, {d.H * d.D}, tp_dim(0)),
                                        false, lp.unit);
          const std::int32_t kb = param(n + "attn.k.bias", {d.KVl * d.D},
                                        constant(false, key + 13, {d.KV * d.D}, tp_dim(0)), false, lp.unit);
          const std::int32_t vb = param(n + "attn.v.bias", {d.KVl * d.D},
                                        constant(false, key + 14, {d.KV * d.D}, tp_dim(0)), false, lp.unit);
          lp.qkv_b = params_.span({qb, kb, vb}, "s" + std::to_string(stage_) + "." + n + "attn.qkv.bias");
        }
        lp.ln1_g = param(n + "ln1.weight", {d.C}, constant(true, key + 15), true, lp.unit);
        if (!d.rms) lp.ln1_b = param(n + "ln1.bias", {d.C}, constant(false, key + 16), true, lp.unit);
        layers_[l] = lp;
      }
      if (first) {
        const std::int32_t u = unit_for(j, kEmbeddingUnit);
        const std::int32_t writes = (d.tied && d.p == 1) ? 2 : 1;
        wte_ = param("wte", {d.Vl, d.C}, normal(std, 1, {d.V, d.C}, tp_dim(0)), false,
                     (d.tied && d.p > 1) ? unit_for(j, kEmbeddingUnit + 1) : u, writes, d.tied && d.p > 1);
        if (d.learned_pos) wpe_ = param("wpe", {d.max_seq, d.C}, normal(std, 2), true, u);
        if (d.tied && d.p == 1) head_w_ = wte_;
      }
    }
  }

  // --- emission helpers -------------------------------------------------------------------------

  // Tensor names carry the layer (their micro-batch shows in the ops that use them); op names are
  // just `what`: the op's tags hold its micro-batch and layer, and traces report them.
  std::string tname(const std::string& what) const {
    if (tags_.layer < 0) return what;
    std::string n;
    n.reserve(what.size() + 7);
    n += 'L';
    n += std::to_string(tags_.layer);
    n += '.';
    n += what;
    return n;
  }

  TensorId act(const std::string& what, std::vector<std::int64_t> shape, TensorRole role = TensorRole::activation,
               DType dtype = DType::bf16, bool use_adt = true) {
    return b_.tensor(tname(what), use_adt ? d_.adt : dtype, std::move(shape), role);
  }
  TensorId stats(const std::string& what, std::int64_t rows) {
    return b_.tensor(tname(what), DType::fp32, {rows}, TensorRole::activation);
  }

  OpId emit(const std::string& what, OpKind kind, StreamId stream, plan::OpParams params, std::vector<TensorId> in,
            std::vector<TensorId> out, std::vector<TensorId> allocs = {}, std::vector<TensorId> frees = {}) {
    OpSpec s;
    s.name = what;
    s.kind = kind;
    s.stream = stream;
    s.params = std::move(params);
    s.inputs = std::move(in);
    s.outputs = std::move(out);
    s.allocs = std::move(allocs);
    s.frees = std::move(frees);
    s.tags = tags_;
    return b_.add(std::move(s));
  }

  // GEMM with optional fp8 operand casts (the casts are transient tensors freed by the GEMM).
  OpId gemm(const std::string& what, TensorId a, TensorId bm, TensorId c, std::int64_t m, std::int64_t n,
            std::int64_t k, bool ta, bool tb, bool accumulate, TensorId bias, std::vector<TensorId> allocs,
            std::vector<TensorId> frees, std::int32_t weight_handle = -1, bool weight_is_b = true) {
    std::vector<TensorId> casts;
    if (d_.fp8) {
      auto cast = [&](TensorId t, DType to) {
        // Copy what is needed first: adding a tensor may move the tensor table.
        const std::vector<std::int64_t> shape = b_.tensor_info(t).shape;
        plan::CastParams cp;
        cp.from = b_.tensor_info(t).dtype;
        cp.to = to;
        cp.elements = b_.tensor_info(t).elements();
        const TensorId out = b_.tensor(tname(what + ".fp8in"), to, shape, TensorRole::workspace);
        emit(what + ".cast", OpKind::cast, compute_, cp, {t}, {out}, {out});
        casts.push_back(out);
        return out;
      };
      const DType grad8 = tags_.phase == Phase::backward ? DType::fp8_e5m2 : DType::fp8_e4m3;
      if (weight_handle >= 0 && params_.zero_stage() != 3) {
        const TensorId w8 = params_.weight_fp8(weight_handle);
        if (weight_is_b) bm = w8, a = cast(a, grad8);
        else a = w8, bm = cast(bm, grad8);
      } else {
        a = cast(a, grad8);
        bm = cast(bm, DType::fp8_e4m3);
      }
    }
    plan::GemmParams g;
    g.m = m, g.n = n, g.k = k;
    g.dtype = d_.gdt;
    g.trans_a = ta, g.trans_b = tb;
    g.accumulate = accumulate;
    g.bias = bias >= 0;
    std::vector<TensorId> in{a, bm};
    if (bias >= 0) in.push_back(bias);
    for (TensorId t : casts) frees.push_back(t);
    return emit(what, OpKind::gemm, compute_, g, std::move(in), {c}, std::move(allocs), std::move(frees));
  }

  OpId collective(const std::string& what, CollectiveType type, std::int64_t elements, TensorId in, TensorId out,
                  std::vector<TensorId> allocs = {}, std::vector<TensorId> frees = {}, DType dtype = DType::bf16,
                  bool use_adt = true, plan::ReduceOp reduce = plan::ReduceOp::sum) {
    plan::CollectiveParams c;
    c.type = type;
    c.group = GroupKind::tp;
    c.dtype = use_adt ? d_.adt : dtype;
    c.bytes = elements * dtype_bytes(c.dtype);
    c.reduce = reduce;
    return emit(what, OpKind::collective, tp_, c, {in}, {out}, std::move(allocs), std::move(frees));
  }

  OpId elementwise_op(const std::string& what, const std::string& name, std::int64_t elements, double reads,
                      double writes, double flops, std::vector<TensorId> in, std::vector<TensorId> out,
                      std::vector<TensorId> allocs = {}, std::vector<TensorId> frees = {}, double scalar = 0.0,
                      std::vector<std::int64_t> dims = {}, DType dtype = DType::bf16, bool use_adt = true) {
    auto p = elementwise(name, elements, use_adt ? d_.adt : dtype, reads, writes, flops, scalar);
    p.dims = std::move(dims);
    return emit(what, OpKind::elementwise, compute_, p, std::move(in), std::move(out), std::move(allocs),
                std::move(frees));
  }

  OpId norm_forward(const std::string& what, TensorId x, std::int32_t g, std::int32_t bta, TensorId y, TensorId mean,
                    TensorId rstd, std::vector<TensorId> frees = {}) {
    plan::NormParams n;
    n.type = d_.rms ? NormType::rmsnorm : NormType::layernorm;
    n.rows = d_.rows_local();
    n.cols = d_.C;
    n.direction = Direction::forward;
    n.eps = d_.eps;
    n.dtype = d_.adt;
    std::vector<TensorId> in{x, params_.weight(g)};
    if (!d_.rms) in.push_back(params_.weight(bta));
    std::vector<TensorId> out{y};
    std::vector<TensorId> allocs{y};
    if (!d_.rms) out.push_back(mean), allocs.push_back(mean);
    out.push_back(rstd), allocs.push_back(rstd);
    return emit(what, OpKind::norm, compute_, n, std::move(in), std::move(out), std::move(allocs), std::move(frees));
  }

  // dx is accumulated into `dres` unless `fresh` (then dres is allocated by this op).
  void norm_backward(const std::string& what, TensorId dy, TensorId x, std::int32_t g, std::int32_t bta, TensorId mean,
                     TensorId rstd, TensorId dres, bool fresh, std::int32_t mb, bool last,
                     std::vector<TensorId> frees) {
    plan::NormParams n;
    n.type = d_.rms ? NormType::rmsnorm : NormType::layernorm;
    n.rows = d_.rows_local();
    n.cols = d_.C;
    n.direction = Direction::backward;
    n.accumulate_dx = !fresh;
    n.eps = d_.eps;
    n.dtype = d_.adt;
    const TensorId dg = params_.grad(g, mb);
    const TensorId db = d_.rms ? -1 : params_.grad(bta, mb);
    std::vector<TensorId> in{dy, x, params_.weight(g)};
    if (!d_.rms) in.push_back(mean);
    in.push_back(rstd);
    std::vector<TensorId> out{dres, dg};
    if (!d_.rms) out.push_back(db);
    std::vector<TensorId> allocs;
    if (fresh) allocs.push_back(dres);
    const OpId op = emit(what, OpKind::norm, compute_, n, std::move(in), std::move(out), std::move(allocs), std::move(frees));
    params_.grad_written(g, op, mb, last, tags_);
    if (!d_.rms) params_.grad_written(bta, op, mb, last, tags_);
  }

  // Tensor-parallel all-gather of a sequence shard (B, Tl, C) into (B, T, C), shard-major.
  TensorId gather_sequence(const std::string& what, TensorId local, TensorRole role) {
    const TensorId full = act(what, {d_.B * d_.T, d_.C}, role);
    collective(what + ".allgather", CollectiveType::all_gather, d_.rows() * d_.C, local, full, {full});
    return full;
  }

  // Completes a row-parallel GEMM output: all-reduce (in place) or reduce-scatter to the sequence shard.
  TensorId reduce_partial(const std::string& what, TensorId partial, TensorRole role) {
    if (d_.t == 1) return partial;
    if (!d_.sp) {
      collective(what + ".allreduce", CollectiveType::all_reduce, d_.rows() * d_.C, partial, partial);
      return partial;
    }
    const TensorId local = act(what + ".local", {d_.B, d_.Tl, d_.C}, role);
    collective(what + ".reducescatter", CollectiveType::reduce_scatter, d_.rows() * d_.C, partial, local, {local},
               {partial});
    return local;
  }

  TensorId attention_forward(TensorId qkv, LayerSaved& s, bool store_core, bool keep_out) {
    plan::AttentionParams a;
    a.batch = d_.B, a.heads = d_.Hl, a.kv_heads = d_.KVl, a.seq_q = d_.T, a.seq_kv = d_.T, a.head_dim = d_.D;
    a.causal = d_.causal, a.flash = d_.flash, a.dropout = d_.dropout, a.direction = Direction::forward;
    a.dtype = d_.adt;
    a.seq_shards = d_.sp ? d_.t : 1;
    const TensorId out = act("atty", {d_.B * d_.T, d_.Hl * d_.D});
    std::vector<TensorId> outs{out}, allocs{out}, frees;
    if (!keep_out) frees.push_back(out);
    if (d_.flash) {
      s.lse = b_.tensor(tname("lse"), DType::fp32, {d_.B, d_.Hl, d_.T}, TensorRole::activation);
      outs.push_back(s.lse), allocs.push_back(s.lse);
      if (!store_core) frees.push_back(s.lse);
    } else {
      const TensorRole core_role = store_core ? TensorRole::activation : TensorRole::workspace;
      s.probs = act("attn.probs", {d_.B, d_.Hl, d_.T, d_.T}, core_role);
      outs.push_back(s.probs), allocs.push_back(s.probs);
      if (d_.dropout > 0.0) {
        s.amask = b_.tensor(tname("attn.mask"), DType::uint8, {d_.B, d_.Hl, d_.T, d_.T}, core_role);
        s.dropped = act("attn.dropped", {d_.B, d_.Hl, d_.T, d_.T}, core_role);
        outs.push_back(s.amask), outs.push_back(s.dropped);
        allocs.push_back(s.amask), allocs.push_back(s.dropped);
      }
      if (!store_core) {
        frees.push_back(s.probs);
        if (s.amask >= 0) frees.push_back(s.amask), frees.push_back(s.dropped);
        s.probs = s.amask = s.dropped = -1;
      }
    }
    emit("attention", OpKind::attention, compute_, a, {qkv}, std::move(outs), std::move(allocs), std::move(frees));
    if (!store_core && d_.flash) s.lse = -1;
    return out;
  }

  // --- one layer --------------------------------------------------------------------------------

  // Runs layer `l` forward on input x. `keep` stores what the backward pass needs (Korthikanti's
  // set); otherwise every intermediate is freed as soon as the forward pass is done with it (the
  // first pass of full recomputation). Returns the layer output (x_next) unless `discard_output`.
  TensorId layer_forward(std::int64_t l, TensorId x, LayerSaved& s, bool keep, bool discard_output) {
    const Dims& d = d_;
    const LayerParams& lp = layers_.at(l);
    // Selective recomputation drops the unfused attention core (probabilities, masks); flash
    // attention keeps only its small log-sum-exp, which selective recomputation leaves in place.
    const bool store_core =
        keep && (d.flash || d.recompute == Recompute::none || tags_.phase == Phase::recompute);
    s.x = x;
    auto drop = [&](std::vector<TensorId>& frees, TensorId t) {
      if (!keep && t >= 0) frees.push_back(t);
    };

    // Attention block.
    s.ln1 = act("ln1", {d.B, d.Tl, d.C});
    s.mean1 = d.rms ? -1 : stats("ln1.mean", d.rows_local());
    s.rstd1 = stats("ln1.rstd", d.rows_local());
    norm_forward("ln1", x, lp.ln1_g, lp.ln1_b, s.ln1, s.mean1, s.rstd1);
    TensorId ln1_in = s.ln1;
    if (d.sp) ln1_in = gather_sequence("ln1.full", s.ln1, TensorRole::activation);
    s.qkv = act("qkv", {d.B * d.T, d.qkv_out});
    {
      std::vector<TensorId> frees;
      if (d.sp) frees.push_back(ln1_in);
      drop(frees, s.ln1);
      gemm("qkv", ln1_in, params_.weight(lp.qkv_w), s.qkv, d.rows(), d.qkv_out, d.C, false, true, false,
           d.bias ? params_.weight(lp.qkv_b) : -1, {s.qkv}, std::move(frees), lp.qkv_w, true);
      if (!keep) s.ln1 = -1;
    }
    if (d.rope) {
      const TensorId rotated = act("qkv.rope", {d.B * d.T, d.qkv_out});
      elementwise_op("rope", "rope", d.rows() * d.qkv_out, 1, 1, 3, {s.qkv}, {rotated}, {rotated}, {s.qkv}, d.theta,
                     {d.B, d.T, d.Hl, d.KVl, d.D, d.sp ? d.t : 1});
      s.qkv = rotated;
    }
    s.atty = attention_forward(s.qkv, s, store_core, true);
    const TensorId proj = act("attn.proj", {d.B * d.T, d.C});
    {
      std::vector<TensorId> frees;
      drop(frees, s.atty);
      drop(frees, s.qkv);
      drop(frees, s.lse);
      gemm("attn.proj", s.atty, params_.weight(lp.proj_w), proj, d.rows(), d.C, d.Hl * d.D, false, true, false,
           (d.bias && d.t == 1) ? params_.weight(lp.proj_b) : -1, {proj}, std::move(frees), lp.proj_w, true);
      if (!keep) s.atty = s.qkv = s.lse = -1;
    }
    TensorId branch = reduce_partial("attn.proj", proj, TensorRole::activation);
    if (d.bias && d.t > 1)
      elementwise_op("attn.proj.bias_add", "bias_add", d.rows_local() * d.C, 1, 1, 1,
                     {branch, params_.weight(lp.proj_b)}, {branch});
    if (d.dropout > 0.0) {
      const TensorId y = act("attn.proj.dropout", {d.B, d.Tl, d.C});
      s.proj_mask = b_.tensor(tname("attn.proj.mask"), DType::uint8, {d.B, d.Tl, d.C}, TensorRole::activation);
      elementwise_op("attn.dropout", "dropout", d.rows_local() * d.C, 1, 1.5, 2, {branch}, {y, s.proj_mask},
                     {y, s.proj_mask}, {branch}, d.dropout);
      branch = y;
    }
    s.r1 = act("resid1", {d.B, d.Tl, d.C});
    {
      std::vector<TensorId> frees{branch};
      elementwise_op("resid1", "residual_add", d.rows_local() * d.C, 2, 1, 1, {x, branch}, {s.r1}, {s.r1},
                     std::move(frees));
    }

    // MLP block.
    s.ln2 = act("ln2", {d.B, d.Tl, d.C});
    s.mean2 = d.rms ? -1 : stats("ln2.mean", d.rows_local());
    s.rstd2 = stats("ln2.rstd", d.rows_local());
    norm_forward("ln2", s.r1, lp.ln2_g, lp.ln2_b, s.ln2, s.mean2, s.rstd2);
    TensorId ln2_in = s.ln2;
    if (d.sp) ln2_in = gather_sequence("ln2.full", s.ln2, TensorRole::activation);
    s.fch = act("mlp.fc", {d.B * d.T, d.fc_out});
    {
      std::vector<TensorId> frees;
      if (d.sp) frees.push_back(ln2_in);
      drop(frees, s.ln2);
      gemm("mlp.fc", ln2_in, params_.weight(lp.fc_w), s.fch, d.rows(), d.fc_out, d.C, false, true, false,
           d.bias ? params_.weight(lp.fc_b) : -1, {s.fch}, std::move(frees), lp.fc_w, true);
      if (!keep) s.ln2 = -1;
    }
    s.fca = act("mlp.act", {d.B * d.T, d.Fl});
    {
      std::vector<TensorId> frees;
      drop(frees, s.fch);
      if (d.swiglu)
        elementwise_op("mlp.swiglu", "swiglu", d.rows() * d.Fl, 2, 1, 8, {s.fch}, {s.fca}, {s.fca}, std::move(frees));
      else
        elementwise_op("mlp.gelu", "gelu", d.rows() * d.Fl, 1, 1, 10, {s.fch}, {s.fca}, {s.fca}, std::move(frees));
      if (!keep) s.fch = -1;
    }
    const TensorId fcp = act("mlp.proj", {d.B * d.T, d.C});
    {
      std::vector<TensorId> frees;
      drop(frees, s.fca);
      gemm("mlp.proj", s.fca, params_.weight(lp.fcp_w), fcp, d.rows(), d.C, d.Fl, false, true, false,
           (d.bias && d.t == 1) ? params_.weight(lp.fcp_b) : -1, {fcp}, std::move(frees), lp.fcp_w, true);
      if (!keep) s.fca = -1;
    }
    branch = reduce_partial("mlp.proj", fcp, TensorRole::activation);
    if (d.bias && d.t > 1)
      elementwise_op("mlp.proj.bias_add", "bias_add", d.rows_local() * d.C, 1, 1, 1, {branch, params_.weight(lp.fcp_b)},
                     {branch});
    if (d.dropout > 0.0) {
      const TensorId y = act("mlp.proj.dropout", {d.B, d.Tl, d.C});
      s.fc_mask = b_.tensor(tname("mlp.proj.mask"), DType::uint8, {d.B, d.Tl, d.C}, TensorRole::activation);
      elementwise_op("mlp.dropout", "dropout", d.rows_local() * d.C, 1, 1.5, 2, {branch}, {y, s.fc_mask},
                     {y, s.fc_mask}, {branch}, d.dropout);
      branch = y;
    }
    const TensorId out = act("resid2", {d.B, d.Tl, d.C});
    std::vector<TensorId> frees{branch};
    drop(frees, s.r1);
    drop(frees, s.proj_mask);
    drop(frees, s.fc_mask);
    drop(frees, s.mean1);
    drop(frees, s.rstd1);
    drop(frees, s.mean2);
    drop(frees, s.rstd2);
    if (discard_output) frees.push_back(out);
    elementwise_op("resid2", "residual_add", d.rows_local() * d.C, 2, 1, 1, {s.r1, branch}, {out}, {out},
                   std::move(frees));
    if (!keep) s.r1 = s.proj_mask = s.fc_mask = s.mean1 = s.rstd1 = s.mean2 = s.rstd2 = -1;
    return discard_output ? -1 : out;
  }

  // Weight-gradient GEMM into a parameter's gradient, reported to the parameter set.
  void weight_grad(const std::string& what, std::int32_t handle, TensorId dy, TensorId x, std::int64_t m,
                   std::int64_t n, std::int64_t k, std::int32_t mb, bool last, std::vector<TensorId> frees) {
    const TensorId g = params_.grad(handle, mb);
    const OpId op = gemm(what, dy, x, g, m, n, k, true, false, true, -1, {}, std::move(frees));
    params_.grad_written(handle, op, mb, last, tags_);
  }
  void bias_grad(const std::string& what, std::int32_t handle, TensorId dy, std::int64_t rows, std::int64_t cols,
                 std::int32_t mb, bool last, std::vector<TensorId> frees) {
    const TensorId g = params_.grad(handle, mb);
    const OpId op = elementwise_op(what, "bias_grad", rows * cols, 1, 0, 1, {dy}, {g}, {}, std::move(frees));
    params_.grad_written(handle, op, mb, last, tags_);
  }

  // Backward of layer l; `dres` holds dL/d(output) and is updated in place to dL/d(input).
  void layer_backward(std::int64_t l, TensorId dres, LayerSaved& s, std::int32_t mb, bool last) {
    const Dims& d = d_;
    const LayerParams& lp = layers_.at(l);
    if (d.recompute == Recompute::full) {
      tags_.phase = Phase::recompute;
      LayerSaved full;
      layer_forward(l, s.x, full, true, true);
      s = full;
    } else if (d.recompute == Recompute::selective && !d.flash) {
      // Recompute the attention core (Q K^T, softmax, dropout) from the stored qkv.
      tags_.phase = Phase::recompute;
      LayerSaved core;
      attention_forward(s.qkv, core, true, false);
      s.probs = core.probs, s.amask = core.amask, s.dropped = core.dropped;
    }
    tags_.phase = Phase::backward;

    // MLP block.
    TensorId dbranch = dres;
    if (d.dropout > 0.0) {
      dbranch = act("mlp.proj.dropout.grad", {d.B, d.Tl, d.C}, TensorRole::activation_grad);
      elementwise_op("mlp.dropout.bwd", "dropout_backward", d.rows_local() * d.C, 1.5, 1, 1, {dres, s.fc_mask},
                     {dbranch}, {dbranch}, {s.fc_mask}, d.dropout);
    }
    TensorId dfcp = dbranch;
    if (d.sp) dfcp = gather_sequence("mlp.proj.grad.full", dbranch, TensorRole::activation_grad);
    const TensorId dfca = act("mlp.act.grad", {d.B * d.T, d.Fl}, TensorRole::activation_grad);
    gemm("mlp.proj.dgrad", dfcp, params_.weight(lp.fcp_w), dfca, d.rows(), d.Fl, d.C, false, false, false, -1, {dfca},
         {}, lp.fcp_w, true);
    {
      // The bias sits after the reduction: its gradient is the column sum of this rank's rows.
      std::vector<TensorId> frees{s.fca};
      if (d.sp) frees.push_back(dfcp);
      weight_grad("mlp.proj.wgrad", lp.fcp_w, dfcp, s.fca, d.C, d.Fl, d.rows(), mb, last, std::move(frees));
      std::vector<TensorId> bfrees;
      if (dbranch != dres) bfrees.push_back(dbranch);
      if (d.bias) bias_grad("mlp.proj.bgrad", lp.fcp_b, dbranch, d.rows_local(), d.C, mb, last, std::move(bfrees));
      else if (!bfrees.empty()) b_.free_at_last_op(dbranch);
    }
    const TensorId dfch = act("mlp.fc.grad", {d.B * d.T, d.fc_out}, TensorRole::activation_grad);
    if (d.swiglu)
      elementwise_op("mlp.swiglu.bwd", "swiglu_backward", d.rows() * d.Fl, 3, 2, 12, {s.fch, dfca}, {dfch}, {dfch},
                     {s.fch, dfca});
    else
      elementwise_op("mlp.gelu.bwd", "gelu_backward", d.rows() * d.Fl, 2, 1, 14, {s.fch, dfca}, {dfch}, {dfch},
                     {s.fch, dfca});
    const TensorId dln2_part = act("ln2.grad.partial", {d.B * d.T, d.C}, TensorRole::activation_grad);
    gemm("mlp.fc.dgrad", dfch, params_.weight(lp.fc_w), dln2_part, d.rows(), d.C, d.fc_out, false, false, false, -1,
         {dln2_part}, {}, lp.fc_w, true);
    const TensorId dln2 = reduce_partial("ln2.grad", dln2_part, TensorRole::activation_grad);
    {
      TensorId ln2_in = s.ln2;
      if (d.sp) ln2_in = gather_sequence("ln2.regather", s.ln2, TensorRole::activation);
      std::vector<TensorId> frees;
      if (d.sp) frees.push_back(ln2_in);
      else frees.push_back(s.ln2);
      weight_grad("mlp.fc.wgrad", lp.fc_w, dfch, ln2_in, d.fc_out, d.C, d.rows(), mb, last, std::move(frees));
      if (d.bias) bias_grad("mlp.fc.bgrad", lp.fc_b, dfch, d.rows(), d.fc_out, mb, last, {dfch});
      else b_.free_at_last_op(dfch);
    }
    std::vector<TensorId> nfrees{dln2, s.r1, s.rstd2};
    if (s.mean2 >= 0) nfrees.push_back(s.mean2);
    if (d.sp) nfrees.push_back(s.ln2);
    norm_backward("ln2.bwd", dln2, s.r1, lp.ln2_g, lp.ln2_b, s.mean2, s.rstd2, dres, false, mb, last, std::move(nfrees));

    // Attention block.
    dbranch = dres;
    if (d.dropout > 0.0) {
      dbranch = act("attn.proj.dropout.grad", {d.B, d.Tl, d.C}, TensorRole::activation_grad);
      elementwise_op("attn.dropout.bwd", "dropout_backward", d.rows_local() * d.C, 1.5, 1, 1, {dres, s.proj_mask},
                     {dbranch}, {dbranch}, {s.proj_mask}, d.dropout);
    }
    TensorId dproj = dbranch;
    if (d.sp) dproj = gather_sequence("attn.proj.grad.full", dbranch, TensorRole::activation_grad);
    const TensorId datty = act("atty.grad", {d.B * d.T, d.Hl * d.D}, TensorRole::activation_grad);
    gemm("attn.proj.dgrad", dproj, params_.weight(lp.proj_w), datty, d.rows(), d.Hl * d.D, d.C, false, false, false, -1,
         {datty}, {}, lp.proj_w, true);
    {
      std::vector<TensorId> frees;
      if (d.sp) frees.push_back(dproj);
      weight_grad("attn.proj.wgrad", lp.proj_w, dproj, s.atty, d.C, d.Hl * d.D, d.rows(), mb, last, std::move(frees));
      std::vector<TensorId> bfrees;
      if (dbranch != dres) bfrees.push_back(dbranch);
      if (d.bias) bias_grad("attn.proj.bgrad", lp.proj_b, dbranch, d.rows_local(), d.C, mb, last, std::move(bfrees));
      else if (!bfrees.empty()) b_.free_at_last_op(dbranch);
    }
    TensorId dqkv = act("qkv.grad", {d.B * d.T, d.qkv_out}, TensorRole::activation_grad);
    {
      plan::AttentionParams a;
      a.batch = d.B, a.heads = d.Hl, a.kv_heads = d.KVl, a.seq_q = d.T, a.seq_kv = d.T, a.head_dim = d.D;
      a.causal = d.causal, a.flash = d.flash, a.dropout = d.dropout, a.direction = Direction::backward;
      a.dtype = d.adt;
      a.seq_shards = d.sp ? d.t : 1;
      std::vector<TensorId> in{datty, s.qkv};
      std::vector<TensorId> frees{datty, s.atty};
      if (d.flash) {
        in.push_back(s.atty), in.push_back(s.lse);
        frees.push_back(s.lse);
      } else {
        in.push_back(s.probs);
        frees.push_back(s.probs);
        if (s.amask >= 0) {
          in.push_back(s.amask), in.push_back(s.dropped);
          frees.push_back(s.amask), frees.push_back(s.dropped);
        }
      }
      emit("attention.bwd", OpKind::attention, compute_, a, std::move(in), {dqkv}, {dqkv}, std::move(frees));
    }
    if (d.rope) {
      const TensorId unrotated = act("qkv.grad.rope", {d.B * d.T, d.qkv_out}, TensorRole::activation_grad);
      elementwise_op("rope.bwd", "rope_backward", d.rows() * d.qkv_out, 1, 1, 3, {dqkv}, {unrotated}, {unrotated},
                     {dqkv}, d.theta, {d.B, d.T, d.Hl, d.KVl, d.D, d.sp ? d.t : 1});
      dqkv = unrotated;
    }
    const TensorId dln1_part = act("ln1.grad.partial", {d.B * d.T, d.C}, TensorRole::activation_grad);
    gemm("qkv.dgrad", dqkv, params_.weight(lp.qkv_w), dln1_part, d.rows(), d.C, d.qkv_out, false, false, false, -1,
         {dln1_part}, {}, lp.qkv_w, true);
    const TensorId dln1 = reduce_partial("ln1.grad", dln1_part, TensorRole::activation_grad);
    {
      TensorId ln1_in = s.ln1;
      if (d.sp) ln1_in = gather_sequence("ln1.regather", s.ln1, TensorRole::activation);
      std::vector<TensorId> frees{s.qkv};
      if (d.sp) frees.push_back(ln1_in);
      else frees.push_back(s.ln1);
      weight_grad("qkv.wgrad", lp.qkv_w, dqkv, ln1_in, d.qkv_out, d.C, d.rows(), mb, last, std::move(frees));
      if (d.bias) bias_grad("qkv.bgrad", lp.qkv_b, dqkv, d.rows(), d.qkv_out, mb, last, {dqkv});
      else b_.free_at_last_op(dqkv);
    }
    std::vector<TensorId> frees{dln1, s.x, s.rstd1};
    if (s.mean1 >= 0) frees.push_back(s.mean1);
    if (d.sp) frees.push_back(s.ln1);
    norm_backward("ln1.bwd", dln1, s.x, lp.ln1_g, lp.ln1_b, s.mean1, s.rstd1, dres, false, mb, last, std::move(frees));
  }

  // --- embedding and head -----------------------------------------------------------------------

  TensorId load(const std::string& what, const std::string& content) {
    const TensorId t = b_.tensor(tname(what), DType::int32, {d_.B, d_.T}, TensorRole::input);
    plan::IoParams io;
    io.bytes = d_.B * d_.T * 4;
    io.medium = "host";
    io.content = content;
    io.seq_shards = d_.sp ? d_.t : 1;
    const Phase phase = tags_.phase;
    tags_.phase = Phase::data;
    emit("load." + content, OpKind::io, data_, io, {}, {t}, {t});
    tags_.phase = phase;
    return t;
  }

  TensorId embedding_forward(std::int32_t mb) {
    const Dims& d = d_;
    tokens_[mb] = load("tokens", "tokens");
    plan::EmbeddingParams e;
    e.vocab = d.Vl, e.dim = d.C, e.batch = d.B, e.seq = d.T;
    e.learned_positions = d.learned_pos && d.t == 1;
    e.vocab_parallel = d.t > 1;
    e.seq_shards = d.sp ? d.t : 1;
    e.direction = Direction::forward;
    e.dtype = d.adt;
    const TensorId full = act("embedding", {d.B * d.T, d.C});
    std::vector<TensorId> in{tokens_[mb], params_.weight(wte_)};
    if (e.learned_positions) in.push_back(params_.weight(wpe_));
    emit("embedding", OpKind::embedding, compute_, e, std::move(in), {full}, {full});
    TensorId x = full;
    if (d.t > 1) {
      x = reduce_partial("embedding", full, TensorRole::activation);
      if (d.learned_pos)
        elementwise_op("position_add", "position_add", d.rows_local() * d.C, 2, 1, 1, {x, params_.weight(wpe_)}, {x}, {},
                       {}, 0.0, {d.B, d.Tl, d.C, d.sp ? d.t : 1});
    }
    if (d.dropout > 0.0) {
      const TensorId y = act("embedding.dropout", {d.B, d.Tl, d.C});
      embedding_mask_[mb] = b_.tensor(tname("embedding.mask"), DType::uint8, {d.B, d.Tl, d.C}, TensorRole::activation);
      elementwise_op("embedding.dropout", "dropout", d.rows_local() * d.C, 1, 1.5, 2, {x}, {y, embedding_mask_[mb]},
                     {y, embedding_mask_[mb]}, {x}, d.dropout);
      x = y;
    }
    return x;
  }

  void embedding_backward(std::int32_t mb, TensorId dres, bool last) {
    const Dims& d = d_;
    TensorId dx = dres;
    if (d.dropout > 0.0) {
      dx = act("embedding.dropout.grad", {d.B, d.Tl, d.C}, TensorRole::activation_grad);
      elementwise_op("embedding.dropout.bwd", "dropout_backward", d.rows_local() * d.C, 1.5, 1, 1,
                     {dres, embedding_mask_[mb]}, {dx}, {dx}, {dres, embedding_mask_[mb]}, d.dropout);
    }
    if (d.t > 1 && d.learned_pos) {
      const TensorId g = params_.grad(wpe_, mb);
      const OpId op = elementwise_op("position_add.bwd", "position_add_backward", d.rows_local() * d.C, 1, 0, 1, {dx},
                                     {g}, {}, {}, 0.0, {d.B, d.Tl, d.C, d.sp ? d.t : 1});
      params_.grad_written(wpe_, op, mb, last, tags_);
    }
    TensorId full = dx;
    if (d.sp) full = gather_sequence("embedding.grad.full", dx, TensorRole::activation_grad);
    plan::EmbeddingParams e;
    e.vocab = d.Vl, e.dim = d.C, e.batch = d.B, e.seq = d.T;
    e.learned_positions = d.learned_pos && d.t == 1;
    e.vocab_parallel = d.t > 1;
    e.seq_shards = d.sp ? d.t : 1;
    e.direction = Direction::backward;
    e.dtype = d.adt;
    std::vector<TensorId> out{params_.grad(wte_, mb)};
    if (e.learned_positions) out.push_back(params_.grad(wpe_, mb));
    std::vector<TensorId> frees{tokens_[mb], dx};
    if (full != dx) frees.push_back(full);
    const OpId op = emit("embedding.bwd", OpKind::embedding, compute_, e, {full, tokens_[mb]}, out, {}, frees);
    params_.grad_written(wte_, op, mb, last, tags_);
    if (e.learned_positions) params_.grad_written(wpe_, op, mb, last, tags_);
    tokens_.erase(mb);
  }

  void head_forward(std::int32_t mb, TensorId x) {
    const Dims& d = d_;
    HeadSaved& h = head_[mb];
    h.x = x;
    h.lnf = act("final_norm", {d.B, d.Tl, d.C});
    h.mean = d.rms ? -1 : stats("final_norm.mean", d.rows_local());
    h.rstd = stats("final_norm.rstd", d.rows_local());
    norm_forward("final_norm", x, final_g_, final_b_, h.lnf, h.mean, h.rstd);
    TensorId in = h.lnf;
    if (d.sp) in = gather_sequence("final_norm.full", h.lnf, TensorRole::activation);
    h.logits = act("logits", {d.B * d.T, d.Vl});
    gemm("lm_head", in, params_.weight(head_w_), h.logits, d.rows(), d.Vl, d.C, false, true, false, -1, {h.logits},
         d.sp ? std::vector<TensorId>{in} : std::vector<TensorId>{}, head_w_, true);
    h.targets = load("targets", "targets");
    h.losses = b_.tensor(tname("losses"), DType::fp32, {d.rows()}, TensorRole::activation);
    if (d.t == 1) {
      plan::SoftmaxXentParams x2;
      x2.rows = d.rows(), x2.vocab = d.Vl, x2.direction = Direction::forward, x2.dtype = d.adt;
      x2.grad_scale = d.grad_scale;
      emit("cross_entropy", OpKind::softmax_xent, compute_, x2, {h.logits, h.targets}, {h.losses}, {h.losses});
    } else {
      // Vocabulary-parallel cross-entropy (Megatron-LM): max, then sum-exp and target logit, reduced over tp.
      h.mx = b_.tensor(tname("xent.max"), DType::fp32, {d.rows()}, TensorRole::activation);
      elementwise_op("xent.max", "xent_parallel_max", d.rows() * d.Vl, 1, 0, 1, {h.logits}, {h.mx}, {h.mx});
      collective("xent.max.allreduce", CollectiveType::all_reduce, d.rows(), h.mx, h.mx, {}, {}, DType::fp32, false,
                 plan::ReduceOp::max);
      h.stats = b_.tensor(tname("xent.stats"), DType::fp32, {2, d.rows()}, TensorRole::activation);
      elementwise_op("xent.stats", "xent_parallel_stats", d.rows() * d.Vl, 1, 0, 3, {h.logits, h.mx, h.targets},
                     {h.stats}, {h.stats});
      collective("xent.stats.allreduce", CollectiveType::all_reduce, 2 * d.rows(), h.stats, h.stats, {}, {},
                 DType::fp32, false);
      elementwise_op("xent.loss", "xent_parallel_loss", d.rows(), 2, 1, 3, {h.stats, h.mx}, {h.losses}, {h.losses}, {},
                     0.0, {}, DType::fp32, false);
    }
  }

  // Returns dres (dL/dx of the stage's last layer output), allocated here.
  TensorId head_backward(std::int32_t mb, bool last) {
    const Dims& d = d_;
    HeadSaved& h = head_.at(mb);
    if (d.t == 1) {
      plan::SoftmaxXentParams x2;
      x2.rows = d.rows(), x2.vocab = d.Vl, x2.direction = Direction::backward, x2.dtype = d.adt;
      x2.grad_scale = d.grad_scale;
      emit("cross_entropy.bwd", OpKind::softmax_xent, compute_, x2, {h.logits, h.targets}, {h.logits}, {},
           {h.targets, h.losses});
    } else {
      elementwise_op("xent.bwd", "xent_parallel_backward", d.rows() * d.Vl, 1, 1, 4, {h.logits, h.targets, h.mx, h.stats},
                     {h.logits}, {}, {h.targets, h.mx, h.stats, h.losses}, d.grad_scale);
    }
    const TensorId dlnf_part = act("final_norm.grad.partial", {d.B * d.T, d.C}, TensorRole::activation_grad);
    gemm("lm_head.dgrad", h.logits, params_.weight(head_w_), dlnf_part, d.rows(), d.C, d.Vl, false, false, false, -1,
         {dlnf_part}, {}, head_w_, true);
    const TensorId dlnf = reduce_partial("final_norm.grad", dlnf_part, TensorRole::activation_grad);
    TensorId in = h.lnf;
    if (d.sp) in = gather_sequence("final_norm.regather", h.lnf, TensorRole::activation);
    std::vector<TensorId> frees{h.logits};
    if (d.sp) frees.push_back(in);
    weight_grad("lm_head.wgrad", head_w_, h.logits, in, d.Vl, d.C, d.rows(), mb, last, std::move(frees));
    const TensorId dres = act("resid.grad", {d.B, d.Tl, d.C}, TensorRole::activation_grad);
    std::vector<TensorId> nfrees{dlnf, h.x, h.lnf, h.rstd};
    if (h.mean >= 0) nfrees.push_back(h.mean);
    norm_backward("final_norm.bwd", dlnf, h.x, final_g_, final_b_, h.mean, h.rstd, dres, true, mb, last,
                  std::move(nfrees));
    head_.erase(mb);
    return dres;
  }

  // --- chunks -----------------------------------------------------------------------------------

  void set_tags(std::int32_t mb, std::int32_t chunk, Phase phase) {
    tags_ = plan::OpTags{};
    tags_.microbatch = mb;
    tags_.chunk = static_cast<std::int16_t>(chunk);
    tags_.stage = static_cast<std::int16_t>(stage_);
    tags_.phase = phase;
  }

  OpId p2p(bool send, StreamId stream, std::int32_t peer, std::int32_t tag, TensorId t) {
    plan::P2PParams p;
    p.group = GroupKind::pp;
    p.peer_offset = peer;
    p.bytes = b_.tensor_info(t).bytes;
    p.tag = tag;
    const Phase phase = tags_.phase;
    tags_.phase = Phase::communication;
    const OpId op = send ? emit(tag == 0 ? "send.act" : "send.grad", OpKind::send, stream, p, {t}, {}, {}, {t})
                         : emit(tag == 0 ? "recv.act" : "recv.grad", OpKind::recv, stream, p, {}, {t}, {t});
    tags_.phase = phase;
    return op;
  }

  std::int32_t layer_unit(std::int64_t l) const { return layers_.at(l).unit; }

  void forward_chunk(std::int32_t mb, std::int32_t j) {
    const Dims& d = d_;
    const std::int32_t c = j * d.p + stage_;
    const bool first = c == 0, last = c == d.p * d.v - 1;
    set_tags(mb, j, Phase::forward);
    const bool keep = d.recompute != Recompute::full;
    const std::int64_t l0 = c * d.layers_per_chunk, l1 = (c + 1) * d.layers_per_chunk;
    TensorId x;
    if (first) {
      params_.gather(embedding_unit(), tags_);
      x = embedding_forward(mb);
      if (!(d.tied && d.p == 1)) params_.release(embedding_unit());
    } else {
      x = act("input", {d.B, d.Tl, d.C});
      p2p(false, recv_act_, -1, 0, x);
    }
    params_.gather(layer_unit(l0), tags_);
    for (std::int64_t l = l0; l < l1; ++l) {
      tags_.layer = static_cast<std::int16_t>(l);
      if (l + 1 < l1) params_.gather(layer_unit(l + 1), tags_);
      LayerSaved& s = saved_[{mb, l}];
      x = layer_forward(l, x, s, keep, false);
      params_.release(layer_unit(l));
    }
    tags_.layer = -1;
    if (last) {
      params_.gather(head_unit(), tags_);
      head_forward(mb, x);
      params_.release(head_unit());
      if (d.tied && d.p == 1) params_.release(embedding_unit());
    } else {
      p2p(true, send_act_, 1, 0, x);
    }
  }

  void backward_chunk(std::int32_t mb, std::int32_t j, bool last_mb) {
    const Dims& d = d_;
    const std::int32_t c = j * d.p + stage_;
    const bool first = c == 0, last = c == d.p * d.v - 1;
    set_tags(mb, j, Phase::backward);
    const std::int64_t l0 = c * d.layers_per_chunk, l1 = (c + 1) * d.layers_per_chunk;
    TensorId dres;
    if (last) {
      params_.gather(head_unit(), tags_);
      if (d.tied && d.p == 1) params_.gather(embedding_unit(), tags_);
      dres = head_backward(mb, last_mb);
      params_.release(head_unit());
    } else {
      dres = act("resid.grad", {d.B, d.Tl, d.C}, TensorRole::activation_grad);
      p2p(false, recv_grad_, 1, 1, dres);
    }
    params_.gather(layer_unit(l1 - 1), tags_);
    for (std::int64_t l = l1 - 1; l >= l0; --l) {
      tags_.layer = static_cast<std::int16_t>(l);
      if (l - 1 >= l0) params_.gather(layer_unit(l - 1), tags_);
      auto it = saved_.find({mb, l});
      layer_backward(l, dres, it->second, mb, last_mb);
      saved_.erase(it);
      params_.release(layer_unit(l));
      tags_.phase = Phase::backward;
    }
    tags_.layer = -1;
    if (first) {
      if (!(d.tied && d.p == 1)) params_.gather(embedding_unit(), tags_);
      embedding_backward(mb, dres, last_mb);
      params_.release(embedding_unit());
    } else {
      p2p(true, send_grad_, -1, 1, dres);
    }
  }

  std::int32_t embedding_unit() const { return params_.zero_stage() == 3 ? kEmbeddingUnit : 0; }
  std::int32_t head_unit() const { return params_.zero_stage() == 3 ? kHeadUnit : 0; }

  static constexpr std::int32_t kEmbeddingUnit = 1 << 20;
  static constexpr std::int32_t kHeadUnit = (1 << 20) + 2;

  const Scenario& sc_;
  Dims d_;
  std::int32_t stage_;
  ProgramBuilder b_;
  ParameterSet params_;
  StreamId compute_ = 0, tp_ = -1, data_ = -1, recv_act_ = -1, recv_grad_ = -1, send_act_ = -1, send_grad_ = -1;
  std::map<std::int64_t, LayerParams> layers_;
  std::int32_t wte_ = -1, wpe_ = -1, head_w_ = -1, final_g_ = -1, final_b_ = -1;
  plan::OpTags tags_;
  std::map<std::pair<std::int32_t, std::int64_t>, LayerSaved> saved_;
  std::map<std::int32_t, HeadSaved> head_;
  std::map<std::int32_t, TensorId> tokens_, embedding_mask_;
};

}  // namespace

void build_transformer(const Scenario& sc, plan::Plan& plan) {
  const Dims d = dims_of(sc);
  const RankLayout layout(d.t, d.dp, d.p, sc.parallelism.placement);
  plan.world_size = layout.world();
  layout.add_groups(plan, d.tied && d.p > 1);
  for (std::int32_t s = 0; s < d.p; ++s) {
    StageBuilder stage(sc, plan, d, s);
    stage.build();
  }
  plan.program_of_rank.resize(static_cast<std::size_t>(plan.world_size));
  for (std::int32_t r = 0; r < plan.world_size; ++r)
    plan.program_of_rank[static_cast<std::size_t>(r)] = layout.coord_of(r).pp;
}

}  // namespace clustersim::models::build
