// Small Plans built by hand for the executor tests and the test driver: a 2-layer MLP classifier
// (gemm, relu, softmax_xent, bias_grad, AdamW or SGD, optional data-parallel gradient bucket
// all-reduced on a comm stream, optional fp16 gradients with loss scaling) and a bigram token model
// (io tokens/targets, embedding, gemm, softmax_xent).
#pragma once

#include <string>
#include <vector>

#include "clustersim/plan/plan.hpp"

namespace clustersim::executor::test {

// Appends tensors and ops with less ceremony.
struct PlanBuilder {
  plan::Plan p;

  explicit PlanBuilder(std::int32_t world_size = 1) {
    p.world_size = world_size;
    p.programs.push_back({});
    p.programs[0].name = "main";
    p.programs[0].streams.push_back({0, "compute", StreamKind::compute});
    p.program_of_rank.assign(static_cast<std::size_t>(world_size), 0);
  }
  plan::Program& prog() { return p.programs[0]; }

  plan::TensorId tensor(const std::string& name, DType dtype, std::vector<std::int64_t> shape, TensorRole role,
                        bool persistent = false, plan::TensorInit init = {}) {
    plan::Tensor t;
    t.id = static_cast<plan::TensorId>(p.tensors.size());
    t.name = name;
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.bytes = t.elements() * dtype_bytes(dtype);
    t.role = role;
    t.persistent = persistent;
    t.init = std::move(init);
    p.tensors.push_back(t);
    if (persistent) prog().persistent.push_back(t.id);
    return t.id;
  }
  plan::TensorId view(const std::string& name, plan::TensorId base, std::int64_t offset_elements,
                      std::vector<std::int64_t> shape, std::optional<GroupKind> shard_group = std::nullopt) {
    const plan::Tensor& b = p.tensors.at(static_cast<std::size_t>(base));
    plan::TensorId id = tensor(name, b.dtype, std::move(shape), b.role);
    auto& t = p.tensors.back();
    t.view_of = base;
    t.offset_bytes = offset_elements * dtype_bytes(b.dtype);
    t.shard_group = shard_group;
    return id;
  }
  static plan::TensorInit normal(std::int64_t key, double std) {
    plan::TensorInit i;
    i.kind = plan::TensorInit::Kind::normal;
    i.seed_key = key;
    i.std = std;
    return i;
  }
  plan::OpId op(const std::string& name, OpKind kind, plan::OpParams params, std::vector<plan::TensorId> in,
                std::vector<plan::TensorId> out, std::vector<plan::TensorId> allocs = {},
                std::vector<plan::TensorId> frees = {}, std::vector<plan::OpId> deps = {}, plan::StreamId stream = 0,
                Phase phase = Phase::other) {
    plan::Op o;
    o.id = static_cast<plan::OpId>(prog().ops.size());
    o.name = name;
    o.kind = kind;
    o.stream = stream;
    o.params = std::move(params);
    o.inputs = std::move(in);
    o.outputs = std::move(out);
    o.allocs = std::move(allocs);
    o.frees = std::move(frees);
    o.deps = std::move(deps);
    o.tags.phase = phase;
    prog().ops.push_back(o);
    return o.id;
  }
  plan::OpId elementwise(const std::string& name, const std::string& kernel, std::vector<plan::TensorId> in,
                         std::vector<plan::TensorId> out, std::vector<plan::TensorId> allocs = {},
                         std::vector<plan::TensorId> frees = {}, double scalar = 0.0, std::vector<plan::OpId> deps = {},
                         plan::StreamId stream = 0) {
    plan::ElementwiseParams e;
    e.name = kernel;
    e.scalar = scalar;
    return op(name, OpKind::elementwise, e, std::move(in), std::move(out), std::move(allocs), std::move(frees),
              std::move(deps), stream);
  }
};

struct MlpConfig {
  std::int64_t features = 16, hidden = 32, classes = 4;
  std::int64_t batch = 8;  // per rank
  std::int32_t dp = 1;
  OptimizerKind optimizer = OptimizerKind::adamw;
  double lr = 1e-2;
  bool comm_stream = false;        // all-reduce the gradient bucket on a second stream (always when dp > 1)
  DType grad_dtype = DType::fp32;  // fp16 gradients: pair with dynamic loss scaling
  bool dynamic_loss_scale = false;
  double loss_scale_init = 65536.0;
  std::int64_t loss_scale_window = 2000;
  std::int64_t seed = 1;
};

struct MlpPlan {
  plan::Plan plan;
  plan::TensorId w1, b1, w2, b2, grads, x, labels;
  plan::OpId allreduce = -1;
};

inline MlpPlan make_mlp_plan(const MlpConfig& c) {
  PlanBuilder b(c.dp);
  MlpPlan out;
  const bool two_streams = c.comm_stream || c.dp > 1;
  if (two_streams) b.prog().streams.push_back({1, "comm", StreamKind::comm});
  if (c.dp > 1) {
    plan::Group g;
    g.id = 0;
    g.kind = GroupKind::dp;
    for (int r = 0; r < c.dp; ++r) g.ranks.push_back(r);
    b.p.groups.push_back(g);
  }
  const std::int64_t F = c.features, H = c.hidden, C = c.classes, B = c.batch;
  const DType f32 = DType::fp32, gd = c.grad_dtype;
  out.w1 = b.tensor("w1", f32, {F, H}, TensorRole::weight, true, PlanBuilder::normal(1, 0.3));
  out.b1 = b.tensor("b1", f32, {H}, TensorRole::weight, true);
  out.w2 = b.tensor("w2", f32, {H, C}, TensorRole::weight, true, PlanBuilder::normal(2, 0.02));
  out.b2 = b.tensor("b2", f32, {C}, TensorRole::weight, true);
  const std::int64_t n_params = F * H + H + H * C + C;
  out.grads = b.tensor("grads", gd, {n_params}, TensorRole::grad, true);
  const auto dw1 = b.view("dw1", out.grads, 0, {F, H});
  const auto db1 = b.view("db1", out.grads, F * H, {H});
  const auto dw2 = b.view("dw2", out.grads, F * H + H, {H, C});
  const auto db2 = b.view("db2", out.grads, F * H + H + H * C, {C});
  const std::vector<std::pair<plan::TensorId, plan::TensorId>> params = {
      {out.w1, dw1}, {out.b1, db1}, {out.w2, dw2}, {out.b2, db2}};
  std::vector<std::pair<plan::TensorId, plan::TensorId>> states;
  for (const auto& [w, g] : params) {
    const auto& wt = b.p.tensors[static_cast<std::size_t>(w)];
    const std::string n = wt.name;
    const auto shape = wt.shape;
    states.emplace_back(
        b.tensor(n + ".m", f32, shape, TensorRole::optimizer_state, true),
        c.optimizer == OptimizerKind::adamw ? b.tensor(n + ".v", f32, shape, TensorRole::optimizer_state, true) : -1);
  }
  const auto flag = b.tensor("found_inf", f32, {1}, TensorRole::workspace, true);
  out.x = b.tensor("x", f32, {B, F}, TensorRole::input);
  out.labels = b.tensor("labels", DType::int32, {B}, TensorRole::input);
  const auto h = b.tensor("h", f32, {B, H}, TensorRole::activation);
  const auto a = b.tensor("a", f32, {B, H}, TensorRole::activation);
  const auto logits = b.tensor("logits", f32, {B, C}, TensorRole::activation);
  const auto losses = b.tensor("losses", f32, {B}, TensorRole::activation);
  const auto da = b.tensor("da", gd, {B, H}, TensorRole::activation_grad);

  auto gemm = [](std::int64_t m, std::int64_t n, std::int64_t k, bool ta, bool tb, bool bias) {
    plan::GemmParams g;
    g.m = m, g.n = n, g.k = k, g.trans_a = ta, g.trans_b = tb, g.bias = bias;
    return g;
  };
  plan::IoParams io;
  io.content = "features,labels";
  io.bytes = B * F * 4 + B * 4;
  b.op("load", OpKind::io, io, {}, {out.x, out.labels}, {out.x, out.labels}, {}, {}, 0, Phase::data);
  b.elementwise("zero_grads", "zero", {}, {out.grads});
  b.op("fc1", OpKind::gemm, gemm(B, H, F, false, false, true), {out.x, out.w1, out.b1}, {h}, {h}, {}, {}, 0,
       Phase::forward);
  b.elementwise("relu", "relu", {h}, {a}, {a});
  b.op("fc2", OpKind::gemm, gemm(B, C, H, false, false, true), {a, out.w2, out.b2}, {logits}, {logits}, {}, {}, 0,
       Phase::forward);
  plan::SoftmaxXentParams xf;
  xf.rows = B, xf.vocab = C;
  b.op("xent", OpKind::softmax_xent, xf, {logits, out.labels}, {losses}, {losses}, {losses}, {}, 0, Phase::forward);
  plan::SoftmaxXentParams xb = xf;
  xb.direction = Direction::backward;
  xb.grad_scale = 1.0 / static_cast<double>(B * c.dp);
  b.op("xent_backward", OpKind::softmax_xent, xb, {logits, out.labels}, {logits}, {}, {out.labels}, {}, 0,
       Phase::backward);
  b.op("fc2_dw", OpKind::gemm, gemm(H, C, B, true, false, false), {a, logits}, {dw2}, {}, {}, {}, 0, Phase::backward);
  b.elementwise("fc2_db", "bias_grad", {logits}, {db2});
  b.op("fc2_dx", OpKind::gemm, gemm(B, H, C, false, true, false), {logits, out.w2}, {da}, {da}, {logits}, {}, 0,
       Phase::backward);
  b.elementwise("relu_backward", "relu_backward", {a, da}, {da}, {}, {a});
  b.op("fc1_dw", OpKind::gemm, gemm(F, H, B, true, false, false), {out.x, da}, {dw1}, {}, {out.x}, {}, 0,
       Phase::backward);
  const auto last_backward = b.elementwise("fc1_db", "bias_grad", {da}, {db1}, {}, {h, da});
  std::vector<plan::OpId> opt_deps;
  if (c.dp > 1 || two_streams) {
    plan::CollectiveParams ar;
    ar.type = CollectiveType::all_reduce;
    ar.group = GroupKind::dp;
    ar.bytes = n_params * dtype_bytes(gd);
    ar.dtype = gd;
    out.allreduce = b.op("grads_allreduce", OpKind::collective, ar, {out.grads}, {out.grads}, {}, {}, {last_backward},
                         1, Phase::communication);
    opt_deps.push_back(out.allreduce);
  }
  const bool check = c.dynamic_loss_scale || gd != DType::fp32;
  if (check) {
    b.elementwise("check_finite", "check_finite", {out.grads}, {flag}, {}, {}, 0.0, opt_deps);
    opt_deps.clear();
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    plan::OptimizerParams op;
    op.kind = c.optimizer;
    op.params = b.p.tensors[static_cast<std::size_t>(params[i].first)].elements();
    op.lr = c.lr;
    op.weight_decay = 0.0;
    op.found_inf = check;
    std::vector<plan::TensorId> in = {params[i].second};
    if (check) in.push_back(flag);
    std::vector<plan::TensorId> outs = {params[i].first, params[i].first, states[i].first};
    if (states[i].second >= 0) outs.push_back(states[i].second);
    b.op("step." + b.p.tensors[static_cast<std::size_t>(params[i].first)].name, OpKind::optimizer, op, in, outs, {}, {},
         opt_deps, 0, Phase::optimizer);
  }
  b.p.meta.scenario = "test-mlp";
  b.p.meta.global_batch = B * c.dp;
  b.p.meta.micro_batch = B;
  b.p.meta.num_microbatches = 1;
  b.p.meta.dp = c.dp;
  b.p.meta.seed = c.seed;
  b.p.meta.parameters = n_params;
  b.p.meta.model_flops_per_step = 6.0 * static_cast<double>(n_params) * static_cast<double>(B * c.dp);
  b.p.meta.dynamic_loss_scale = c.dynamic_loss_scale;
  b.p.meta.loss_scale_init = c.loss_scale_init;
  b.p.meta.loss_scale_window = c.loss_scale_window;
  out.plan = std::move(b.p);
  return out;
}

// Bigram language model on the synthetic Markov corpus: logits[b,t] = wte[token] . wout.
inline plan::Plan make_bigram_plan(std::int64_t vocab = 32, std::int64_t dim = 16, std::int64_t batch = 4,
                                   std::int64_t seq = 16) {
  PlanBuilder b(1);
  const DType f32 = DType::fp32;
  const auto wte = b.tensor("wte", f32, {vocab, dim}, TensorRole::weight, true, PlanBuilder::normal(1, 0.5));
  const auto wout = b.tensor("wout", f32, {dim, vocab}, TensorRole::weight, true, PlanBuilder::normal(2, 0.5));
  const auto dwte = b.tensor("dwte", f32, {vocab, dim}, TensorRole::grad, true);
  const auto dwout = b.tensor("dwout", f32, {dim, vocab}, TensorRole::grad, true);
  std::vector<plan::TensorId> st;
  for (const char* n : {"wte.m", "wte.v"})
    st.push_back(b.tensor(n, f32, {vocab, dim}, TensorRole::optimizer_state, true));
  for (const char* n : {"wout.m", "wout.v"})
    st.push_back(b.tensor(n, f32, {dim, vocab}, TensorRole::optimizer_state, true));
  const auto tokens = b.tensor("tokens", DType::int32, {batch, seq}, TensorRole::input);
  const auto targets = b.tensor("targets", DType::int32, {batch, seq}, TensorRole::input);
  const auto x = b.tensor("x", f32, {batch, seq, dim}, TensorRole::activation);
  const auto logits = b.tensor("logits", f32, {batch * seq, vocab}, TensorRole::activation);
  const auto losses = b.tensor("losses", f32, {batch * seq}, TensorRole::activation);
  const auto dx = b.tensor("dx", f32, {batch, seq, dim}, TensorRole::activation_grad);
  plan::IoParams io;
  io.content = "tokens,targets";
  b.op("load", OpKind::io, io, {}, {tokens, targets}, {tokens, targets});
  b.elementwise("zero_grads", "zero", {}, {dwte, dwout});
  plan::EmbeddingParams e;
  e.vocab = vocab, e.dim = dim, e.batch = batch, e.seq = seq, e.learned_positions = false;
  b.op("embed", OpKind::embedding, e, {tokens, wte}, {x}, {x});
  plan::GemmParams g;
  g.m = batch * seq, g.n = vocab, g.k = dim;
  b.op("head", OpKind::gemm, g, {x, wout}, {logits}, {logits});
  plan::SoftmaxXentParams xf;
  xf.rows = batch * seq, xf.vocab = vocab;
  b.op("xent", OpKind::softmax_xent, xf, {logits, targets}, {losses}, {losses}, {losses});
  xf.direction = Direction::backward;
  xf.grad_scale = 1.0 / static_cast<double>(batch * seq);
  b.op("xent_backward", OpKind::softmax_xent, xf, {logits, targets}, {logits}, {}, {targets});
  plan::GemmParams gw;
  gw.m = dim, gw.n = vocab, gw.k = batch * seq, gw.trans_a = true;
  b.op("head_dw", OpKind::gemm, gw, {x, logits}, {dwout}, {}, {x});
  plan::GemmParams gx;
  gx.m = batch * seq, gx.n = dim, gx.k = vocab, gx.trans_b = true;
  b.op("head_dx", OpKind::gemm, gx, {logits, wout}, {dx}, {dx}, {logits});
  e.direction = Direction::backward;
  b.op("embed_backward", OpKind::embedding, e, {dx, tokens}, {dwte}, {}, {dx, tokens});
  plan::OptimizerParams o;
  o.lr = 0.05;
  o.weight_decay = 0.0;
  o.params = vocab * dim;
  b.op("step.wte", OpKind::optimizer, o, {dwte}, {wte, wte, st[0], st[1]});
  b.op("step.wout", OpKind::optimizer, o, {dwout}, {wout, wout, st[2], st[3]});
  b.p.meta.scenario = "test-bigram";
  b.p.meta.global_batch = batch;
  b.p.meta.micro_batch = batch;
  b.p.meta.num_microbatches = 1;
  b.p.meta.seq_len = seq;
  b.p.meta.tokens_per_step = batch * seq;
  return std::move(b.p);
}

}  // namespace clustersim::executor::test
