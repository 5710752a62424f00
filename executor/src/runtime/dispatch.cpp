// The CPU kernel registry: one dispatcher per op kind and per elementwise name. A dispatcher reads
// the op's params, takes typed views of its tensors from the OpContext (which checks dtypes and
// sizes) and calls the kernels of cpu/*.hpp; communication and io go through the rank's services.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "clustersim/executor/cpu/activation.hpp"
#include "clustersim/executor/cpu/attention.hpp"
#include "clustersim/executor/cpu/cast.hpp"
#include "clustersim/executor/cpu/conv.hpp"
#include "clustersim/executor/cpu/dropout.hpp"
#include "clustersim/executor/cpu/embedding.hpp"
#include "clustersim/executor/cpu/gemm.hpp"
#include "clustersim/executor/cpu/misc.hpp"
#include "clustersim/executor/cpu/norm.hpp"
#include "clustersim/executor/cpu/optimizer.hpp"
#include "clustersim/executor/cpu/pool.hpp"
#include "clustersim/executor/cpu/softmax_xent.hpp"
#include "op_context.hpp"

namespace clustersim::executor::detail {

namespace {

using plan::ElementwiseParams;

std::int64_t main_count(OpContext& c, const plan::Tensor& t) {
  const auto& p = c.params<ElementwiseParams>();
  return p.elements > 0 ? p.elements : OpContext::elements(t);
}

std::int64_t last_dim(OpContext& c, const plan::Tensor& t, const char* what) {
  if (t.shape.empty() || t.shape.back() <= 0)
    c.fail(what, "shape of " + t.name, "a shape whose last dimension is the feature size");
  return t.shape.back();
}

// {N, H, W, C} from params.dims, else from the shape of `t`.
cpu::PoolShape pool_shape(OpContext& c, const plan::Tensor& t) {
  const auto& d = c.params<ElementwiseParams>().dims;
  if (d.size() >= 4) return {d[0], d[1], d[2], d[3]};
  if (t.shape.size() != 4) c.fail("params.dims", "[]", "{N, H, W, C} (or a 4-D NHWC tensor shape)");
  return {t.shape[0], t.shape[1], t.shape[2], t.shape[3]};
}

// --- gemm, attention, conv -------------------------------------------------------------------------

void run_gemm(OpContext& c) {
  const auto& p = c.params<plan::GemmParams>();
  c.expect(p.bias ? 3 : 2, 1, "inputs [A, B] or [A, B, bias(n)] and outputs [C]");
  const cpu::GemmShape s{.m = p.m,
                         .n = p.n,
                         .k = p.k,
                         .batch = p.batch,
                         .trans_a = p.trans_a,
                         .trans_b = p.trans_b,
                         .accumulate = p.accumulate};
  const float* a = c.in_f32(0, p.batch * p.m * p.k);
  const float* b = c.in_f32(1, p.batch * p.k * p.n);
  const float* bias = p.bias ? c.in_f32(2, p.n) : nullptr;
  cpu::gemm_forward(c.out_f32(0, p.batch * p.m * p.n), a, b, bias, s);
}

void run_attention(OpContext& c) {
  const auto& p = c.params<plan::AttentionParams>();
  if (p.seq_q != p.seq_kv) c.fail("params.seq_kv", std::to_string(p.seq_kv), "equal to seq_q (packed qkv)");
  const std::int32_t tp = c.rank.group_size(GroupKind::tp);
  cpu::AttentionShape s{.batch = p.batch,
                        .heads = p.heads,
                        .kv_heads = p.kv_heads,
                        .seq = p.seq_q,
                        .head_dim = p.head_dim,
                        .causal = p.causal,
                        .dropout = static_cast<float>(p.dropout),
                        .dropout_key = p.dropout > 0.0 ? c.rank.dropout_key(c.op) : 0,
                        .heads_total = p.heads * tp,
                        .head_offset = p.heads * c.rank.group_index(GroupKind::tp),
                        .seq_shards = std::max<std::int64_t>(1, p.seq_shards)};
  if (p.heads <= 0 || p.kv_heads <= 0 || p.heads % p.kv_heads != 0)
    c.fail("params.kv_heads", std::to_string(p.kv_heads), "a positive divisor of heads");
  if (s.seq % s.seq_shards != 0) c.fail("params.seq_shards", std::to_string(p.seq_shards), "a divisor of the sequence");
  const std::int64_t rows = p.batch * p.seq_q, n_qkv = rows * s.qkv_width(), n_out = rows * p.heads * p.head_dim;
  const std::int64_t n_lse = p.batch * p.heads * p.seq_q, n_p = n_lse * p.seq_kv;
  const bool dropout = p.dropout > 0.0;
  if (p.direction == Direction::forward) {
    if (p.flash) {
      c.expect(1, 2, "inputs [qkv] and outputs [out, lse]");
      const float* qkv = c.in_f32(0, n_qkv);
      cpu::attention_forward_flash(c.out_f32(0, n_out), c.out_stat(1, n_lse), qkv, s);
    } else {
      c.expect(
          1, dropout ? 4 : 2,
          dropout ? "inputs [qkv] and outputs [out, probs, mask, dropped]" : "inputs [qkv] and outputs [out, probs]");
      const float* qkv = c.in_f32(0, n_qkv);
      float* out = c.out_f32(0, n_out);
      float* probs = c.out_f32(1, n_p);
      cpu::attention_forward(out, probs, dropout ? c.out_u8(2, n_p) : nullptr, dropout ? c.out_f32(3, n_p) : nullptr,
                             qkv, s);
    }
    return;
  }
  if (p.flash) {
    c.expect(4, 1, "inputs [dout, qkv, out, lse] and outputs [dqkv]");
    const float* dout = c.in_f32(0, n_out);
    const float* qkv = c.in_f32(1, n_qkv);
    const float* out = c.in_f32(2, n_out);
    const float* lse = c.in_stat(3, n_lse);
    cpu::attention_backward_flash(c.out_f32(0, n_qkv), dout, qkv, out, lse, s);
  } else {
    c.expect(dropout ? 5 : 3, 1,
             dropout ? "inputs [dout, qkv, probs, mask, dropped] and outputs [dqkv]"
                     : "inputs [dout, qkv, probs] and outputs [dqkv]");
    const float* dout = c.in_f32(0, n_out);
    const float* qkv = c.in_f32(1, n_qkv);
    const float* probs = c.in_f32(2, n_p);
    const std::uint8_t* mask = dropout ? c.in_u8(3, n_p) : nullptr;
    const float* dropped = dropout ? c.in_f32(4, n_p) : nullptr;
    cpu::attention_backward(c.out_f32(0, n_qkv), dout, qkv, probs, mask, dropped, s);
  }
}

void run_conv2d(OpContext& c) {
  const auto& p = c.params<plan::Conv2dParams>();
  const cpu::ConvShape s{.batch = p.batch,
                         .in_channels = p.in_channels,
                         .out_channels = p.out_channels,
                         .height = p.height,
                         .width = p.width,
                         .kernel_h = p.kernel_h,
                         .kernel_w = p.kernel_w,
                         .stride = p.stride,
                         .padding = p.padding};
  const std::int64_t nx = p.batch * p.height * p.width * p.in_channels;
  const std::int64_t nw = p.out_channels * p.kernel_h * p.kernel_w * p.in_channels;
  const std::int64_t ny = p.batch * s.out_height() * s.out_width() * p.out_channels;
  std::vector<float> ws(static_cast<std::size_t>(cpu::conv2d_workspace_elements(s)) + 1);
  c.expect(2, 1, "inputs [x, w] / [dy, w] / [dy, x] and outputs [y] / [dx] / [dw]");
  switch (p.pass) {
    case plan::ConvPass::forward: {
      const float* x = c.in_f32(0, nx);
      const float* w = c.in_f32(1, nw);
      cpu::conv2d_forward(c.out_f32(0, ny), x, w, s, ws.data());
      break;
    }
    case plan::ConvPass::backward_data: {
      const float* dy = c.in_f32(0, ny);
      const float* w = c.in_f32(1, nw);
      cpu::conv2d_backward_data(c.out_f32(0, nx), dy, w, s, ws.data());
      break;
    }
    case plan::ConvPass::backward_filter: {
      const float* dy = c.in_f32(0, ny);
      const float* x = c.in_f32(1, nx);
      cpu::conv2d_backward_filter(c.out_f32(0, nw), dy, x, s, ws.data());
      break;
    }
  }
}

// --- norm, softmax, embedding, optimizer, cast -------------------------------------------------------

void run_norm(OpContext& c) {
  const auto& p = c.params<plan::NormParams>();
  const std::int64_t n = p.rows * p.cols;
  const std::int64_t stats = p.type == NormType::batchnorm ? p.cols : p.rows;
  const float eps = static_cast<float>(p.eps);
  if (p.direction == Direction::forward) {
    if (p.type == NormType::rmsnorm) {
      c.expect(2, 2, "inputs [x, gamma] and outputs [y, rstd]");
      const float* x = c.in_f32(0, n);
      const float* g = c.in_f32(1, p.cols);
      cpu::rmsnorm_forward(c.out_f32(0, n), c.out_stat(1, stats), x, g, p.rows, p.cols, eps);
      return;
    }
    c.expect(3, 3, "inputs [x, gamma, beta] and outputs [y, mean, rstd]");
    const float* x = c.in_f32(0, n);
    const float* g = c.in_f32(1, p.cols);
    const float* b = c.in_f32(2, p.cols);
    float* y = c.out_f32(0, n);
    float* mean = c.out_stat(1, stats);
    float* rstd = c.out_stat(2, stats);
    if (p.type == NormType::layernorm)
      cpu::layernorm_forward(y, mean, rstd, x, g, b, p.rows, p.cols, eps);
    else
      cpu::batchnorm_forward(y, mean, rstd, x, g, b, p.rows, p.cols, eps);
    return;
  }
  if (p.type == NormType::rmsnorm) {
    c.expect(4, 2, "inputs [dy, x, gamma, rstd] and outputs [dx, dgamma]");
    const float* dy = c.in_f32(0, n);
    const float* x = c.in_f32(1, n);
    const float* g = c.in_f32(2, p.cols);
    const float* rstd = c.in_stat(3, stats);
    float* dx = c.out_f32(0, n);
    cpu::rmsnorm_backward(dx, c.out_f32(1, p.cols), dy, x, g, rstd, p.rows, p.cols, p.accumulate_dx);
    return;
  }
  c.expect(5, 3, "inputs [dy, x, gamma, mean, rstd] and outputs [dx, dgamma, dbeta]");
  const float* dy = c.in_f32(0, n);
  const float* x = c.in_f32(1, n);
  const float* g = c.in_f32(2, p.cols);
  const float* mean = c.in_stat(3, stats);
  const float* rstd = c.in_stat(4, stats);
  float* dx = c.out_f32(0, n);
  float* dg = c.out_f32(1, p.cols);
  float* db = c.out_f32(2, p.cols);
  if (p.type == NormType::layernorm)
    cpu::layernorm_backward(dx, dg, db, dy, x, g, mean, rstd, p.rows, p.cols, p.accumulate_dx);
  else
    cpu::batchnorm_backward(dx, dg, db, dy, x, g, mean, rstd, p.rows, p.cols, p.accumulate_dx);
}

void check_targets(OpContext& c, const std::int32_t* t, std::int64_t rows, std::int64_t vocab, const char* slot) {
  for (std::int64_t r = 0; r < rows; ++r)
    if (t[r] >= vocab)
      c.fail(slot, "target " + std::to_string(t[r]),
             "class ids below " + std::to_string(vocab) + " (negative = ignored)");
}

void add_losses(OpContext& c, const float* losses, const std::int32_t* targets, std::int64_t rows) {
  double sum = 0.0;
  std::int64_t count = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    if (targets != nullptr && targets[r] < 0) continue;
    sum += losses[r];
    ++count;
  }
  c.rank.add_losses(sum, count);
}

void run_softmax_xent(OpContext& c) {
  const auto& p = c.params<plan::SoftmaxXentParams>();
  c.expect(2, 1,
           p.direction == Direction::forward ? "inputs [logits, targets] and outputs [losses]"
                                             : "inputs [logits, targets] and outputs [dlogits]");
  const float* logits = c.in_f32(0, p.rows * p.vocab);
  const std::int32_t* t = c.in_i32(1, p.rows);
  check_targets(c, t, p.rows, p.vocab, "inputs[1] (targets)");
  if (p.direction == Direction::forward) {
    float* losses = c.out_stat(0, p.rows);
    cpu::softmax_xent_forward(losses, logits, t, p.rows, p.vocab);
    add_losses(c, losses, t, p.rows);
  } else {
    const float scale = static_cast<float>(p.grad_scale * c.rank.loss_scale());
    cpu::softmax_xent_backward(c.out_f32(0, p.rows * p.vocab), logits, t, p.rows, p.vocab, scale);
  }
}

void run_embedding(OpContext& c) {
  const auto& p = c.params<plan::EmbeddingParams>();
  const std::int64_t rows = p.batch * p.seq, shards = std::max<std::int64_t>(1, p.seq_shards);
  if (p.seq % shards != 0) c.fail("params.seq_shards", std::to_string(p.seq_shards), "a divisor of seq");
  const std::int64_t offset = p.vocab_parallel ? p.vocab * c.rank.group_index(GroupKind::tp) : 0;
  const std::int64_t full_vocab = p.vocab_parallel ? p.vocab * c.rank.group_size(GroupKind::tp) : p.vocab;
  const cpu::EmbeddingShape s{
      .batch = p.batch, .seq = p.seq, .dim = p.dim, .vocab = p.vocab, .vocab_offset = offset, .seq_shards = shards};
  const bool positions = p.learned_positions && !p.vocab_parallel;
  if (p.direction == Direction::forward) {
    c.expect(2, 1, "inputs [tokens, wte] or [tokens, wte, wpe] and outputs [x]");
    const std::int32_t* tokens = c.in_i32(0, rows);
    for (std::int64_t r = 0; r < rows; ++r)
      if (tokens[r] < 0 || tokens[r] >= full_vocab)
        c.fail("inputs[0] (tokens)", "token " + std::to_string(tokens[r]),
               "ids in [0, " + std::to_string(full_vocab) + ")");
    const float* wte = c.in_f32(1, p.vocab * p.dim);
    const float* wpe = positions && c.inputs() > 2 ? c.in_f32(2, p.seq * p.dim) : nullptr;
    cpu::embedding_forward(c.out_f32(0, rows * p.dim), tokens, wte, wpe, s);
    return;
  }
  c.expect(2, 1, "inputs [dx, tokens] and outputs [dwte] or [dwte, dwpe]");
  const float* dx = c.in_f32(0, rows * p.dim);
  const std::int32_t* tokens = c.in_i32(1, rows);
  float* dwte = c.out_f32(0, p.vocab * p.dim);
  float* dwpe = positions && c.outputs() > 1 ? c.out_f32(1, p.seq * p.dim) : nullptr;
  cpu::embedding_backward(dwte, dwpe, dx, tokens, s);
}

void run_optimizer(OpContext& c) {
  const auto& p = c.params<plan::OptimizerParams>();
  const bool adam = p.kind == OptimizerKind::adamw;
  c.expect(p.found_inf ? 2 : 1, adam ? 4 : 2,
           adam ? "inputs [grad] (+ [found_inf]) and outputs [weight, master, m, v]"
                : "inputs [grad] (+ [found_inf]) and outputs [weight, master(, momentum)]");
  if (p.found_inf && *c.in_stat(1, 1) != 0.0f) {
    c.rank.note_found_inf();
    return;  // skipped step: no update, no step count
  }
  const std::int64_t n = p.params;
  const float* grad = c.in_f32(0, n);
  float* weight = c.out_f32(0, n);
  float* master = c.out_f32(1, n);
  const float grad_scale = static_cast<float>(p.grad_scale / c.rank.loss_scale());
  if (adam) {
    float* m = c.out_f32(2, n);
    float* v = c.out_f32(3, n);
    cpu::adamw_update(master, m, v, grad, n,
                      {.lr = static_cast<float>(p.lr),
                       .beta1 = static_cast<float>(p.beta1),
                       .beta2 = static_cast<float>(p.beta2),
                       .eps = static_cast<float>(p.eps),
                       .weight_decay = static_cast<float>(p.weight_decay),
                       .grad_scale = grad_scale,
                       .step = c.rank.next_optimizer_step(c.op.id)});
  } else {
    float* momentum = c.outputs() > 2 && p.momentum != 0.0 ? c.out_f32(2, n) : nullptr;
    cpu::sgd_update(master, momentum, grad, n,
                    {.lr = static_cast<float>(p.lr),
                     .momentum = momentum ? static_cast<float>(p.momentum) : 0.0f,
                     .weight_decay = static_cast<float>(p.weight_decay),
                     .grad_scale = grad_scale});
    c.rank.next_optimizer_step(c.op.id);
  }
  if (weight != master) std::copy(master, master + n, weight);
}

void run_cast(OpContext& c) {
  const auto& p = c.params<plan::CastParams>();
  c.expect(1, 1, "inputs [x] and outputs [y]");
  const plan::Tensor& x = c.input(0);
  const plan::Tensor& y = c.output(0);
  for (const auto* t : {&x, &y})
    if (!cpu::is_float_dtype(t->dtype))
      c.fail(t == &x ? "inputs[0]" : "outputs[0]", "\"" + std::string(to_string(t->dtype)) + "\"", "a float dtype");
  const std::int64_t n = p.elements > 0 ? p.elements : OpContext::elements(x);
  if (n > OpContext::elements(x) || n > OpContext::elements(y))
    c.fail("params.elements", std::to_string(n), "at most the elements of both tensors");
  cpu::cast_convert(c.out_raw(0), y.dtype, c.in_raw(0), x.dtype, n);
}

// --- communication, io, delay ------------------------------------------------------------------------

// A communication thread's scratch of at least `bytes`, kept for its next op: a fresh buffer per op
// would be zeroed and faulted in inside the op's span (a ZeRO-2 reduce-scatter of 1.8 MB spent
// about as long on its 0.9 MB temporary as on the transfer).
std::byte* comm_scratch(std::int64_t bytes) {
  static thread_local std::vector<std::byte> scratch;
  if (scratch.size() < static_cast<std::size_t>(bytes)) scratch.resize(static_cast<std::size_t>(bytes));
  return scratch.data();
}

void accumulate_into(void* dst, const void* src, std::int64_t n, DType d) {
  if (d == DType::int32) {
    auto* a = static_cast<std::int32_t*>(dst);
    const auto* b = static_cast<const std::int32_t*>(src);
    for (std::int64_t i = 0; i < n; ++i) a[i] += b[i];
  } else if (d == DType::int64) {
    auto* a = static_cast<std::int64_t*>(dst);
    const auto* b = static_cast<const std::int64_t*>(src);
    for (std::int64_t i = 0; i < n; ++i) a[i] += b[i];
  } else if (d == DType::fp32 || d == DType::tf32) {
    auto* a = static_cast<float*>(dst);
    const auto* b = static_cast<const float*>(src);
    for (std::int64_t i = 0; i < n; ++i) a[i] += b[i];
  } else {
    std::vector<float> a(static_cast<std::size_t>(n)), b(static_cast<std::size_t>(n));
    cpu::cast_to_float(a.data(), dst, d, n);
    cpu::cast_to_float(b.data(), src, d, n);
    for (std::int64_t i = 0; i < n; ++i) a[static_cast<std::size_t>(i)] += b[static_cast<std::size_t>(i)];
    cpu::cast_from_float(dst, d, a.data(), n);
  }
}

void run_collective(OpContext& c) {
  const auto& p = c.params<plan::CollectiveParams>();
  Communicator& comm = c.rank.comm(p.group);
  const plan::Tensor& first = c.inputs() > 0 ? c.input(0) : c.output(0);
  const DType d = first.dtype;
  const std::int64_t esize = dtype_bytes(d), total = p.bytes / esize, n = comm.size();
  const ReduceKind op = p.reduce == plan::ReduceOp::max ? ReduceKind::max : ReduceKind::sum;
  auto need = [&](const plan::Tensor& t, std::int64_t bytes, const char* slot) {
    if (t.bytes < bytes)
      c.fail(slot, std::to_string(t.bytes) + " bytes", "at least " + std::to_string(bytes) + " bytes");
    if (t.dtype != d) c.fail(slot, "\"" + std::string(to_string(t.dtype)) + "\"", "the dtype of the other buffer");
  };
  if (p.bytes % (esize * (p.type == CollectiveType::all_reduce || p.type == CollectiveType::broadcast ||
                                  p.type == CollectiveType::reduce
                              ? 1
                              : n)) !=
      0)
    c.fail("params.bytes", std::to_string(p.bytes), "a multiple of the element size times the group size");
  switch (p.type) {
    case CollectiveType::all_reduce:
      c.expect(1, 0, "inputs [buf] (in place)");
      need(c.input(0), p.bytes, "inputs[0]");
      comm.all_reduce(c.in_raw(0), total, d, op);
      break;
    case CollectiveType::broadcast:
      c.expect(1, 0, "inputs [buf] (in place)");
      need(c.input(0), p.bytes, "inputs[0]");
      comm.broadcast(c.in_raw(0), total, d, p.root);
      break;
    case CollectiveType::reduce:
      c.expect(1, 0, "inputs [buf] (in place)");
      need(c.input(0), p.bytes, "inputs[0]");
      comm.reduce(c.in_raw(0), total, d, op, p.root);
      break;
    case CollectiveType::reduce_scatter: {
      c.expect(1, 1, "inputs [full] and outputs [shard]");
      need(c.input(0), p.bytes, "inputs[0]");
      need(c.output(0), p.bytes / n, "outputs[0]");
      if (!p.accumulate) {
        comm.reduce_scatter(c.in_raw(0), c.out_raw(0), total / n, d, op);
      } else {
        std::byte* tmp = comm_scratch(p.bytes / n);
        comm.reduce_scatter(c.in_raw(0), tmp, total / n, d, op);
        accumulate_into(c.out_raw(0), tmp, total / n, d);
      }
      break;
    }
    case CollectiveType::all_gather:
      c.expect(1, 1, "inputs [shard] and outputs [full]");
      need(c.input(0), p.bytes / n, "inputs[0]");
      need(c.output(0), p.bytes, "outputs[0]");
      comm.all_gather(c.in_raw(0), c.out_raw(0), total / n, d);
      break;
    case CollectiveType::all_to_all:
      c.expect(1, 1, "inputs [in] and outputs [out]");
      need(c.input(0), p.bytes, "inputs[0]");
      need(c.output(0), p.bytes, "outputs[0]");
      comm.all_to_all(c.in_raw(0), c.out_raw(0), total / n, d);
      break;
  }
}

int peer_of(OpContext& c, const plan::P2PParams& p) {
  const int n = c.rank.group_size(p.group), i = c.rank.group_index(p.group);
  return ((i + p.peer_offset) % n + n) % n;
}

void run_send(OpContext& c) {
  const auto& p = c.params<plan::P2PParams>();
  c.expect(1, 0, "inputs [buf]");
  if (c.input(0).bytes < p.bytes)
    c.fail("inputs[0]", std::to_string(c.input(0).bytes) + " bytes", "at least params.bytes");
  c.rank.comm(p.group).send(c.in_raw(0), p.bytes, peer_of(c, p), p.tag);
}

void run_recv(OpContext& c) {
  const auto& p = c.params<plan::P2PParams>();
  c.expect(0, 1, "outputs [buf]");
  if (c.output(0).bytes < p.bytes)
    c.fail("outputs[0]", std::to_string(c.output(0).bytes) + " bytes", "at least params.bytes");
  c.rank.comm(p.group).recv(c.out_raw(0), p.bytes, peer_of(c, p), p.tag);
}

std::vector<std::string> split_content(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (ch != ' ') {
      cur += ch;
    }
  }
  if (!cur.empty() || !out.empty()) out.push_back(cur);
  return out;
}

// Natural (b, t) rows -> shard-major rows.
template <typename T>
void to_shard_major(T* dst, const std::vector<T>& src, std::int64_t batch, std::int64_t seq, std::int64_t shards) {
  const std::int64_t local = seq / shards;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < seq; ++t)
      dst[((t / local) * batch + b) * local + t % local] = src[static_cast<std::size_t>(b * seq + t)];
}

void run_io(OpContext& c) {
  const auto& p = c.params<plan::IoParams>();
  const std::vector<std::string> content = split_content(p.content);
  if (content.empty()) {  // a plain transfer
    for (std::size_t i = 0; i < std::min(c.inputs(), c.outputs()); ++i) {
      if (c.op.inputs[i] == c.op.outputs[i]) continue;
      const std::int64_t bytes = std::min(c.input(i).bytes, c.output(i).bytes);
      std::memmove(c.out_raw(i), c.in_raw(i), static_cast<std::size_t>(bytes));
    }
    return;
  }
  if (content.size() != 1 && content.size() != c.outputs())
    c.fail("params.content", "\"" + p.content + "\"", "one name, or one name per output");
  const std::int64_t shards = std::max<std::int64_t>(1, p.seq_shards);
  const std::int64_t dp = c.rank.group_size(GroupKind::dp), dpi = c.rank.group_index(GroupKind::dp);
  const std::int64_t mbs = c.rank.num_microbatches(), mb = std::max<std::int32_t>(0, c.op.tags.microbatch);
  for (std::size_t i = 0; i < c.outputs(); ++i) {
    const std::string& what = content.size() == 1 ? content[0] : content[i];
    const plan::Tensor& t = c.output(i);
    const std::string slot = "outputs[" + std::to_string(i) + "] (" + t.name + ")";
    if (t.shape.empty() || t.shape[0] <= 0) c.fail(slot, "shape []", "a shape whose first dimension is the batch");
    const std::int64_t batch = t.shape[0], per_sample = OpContext::elements(t) / batch;
    const std::int64_t first = ((static_cast<std::int64_t>(c.rank.step()) * dp + dpi) * mbs + mb) * batch;
    if (what == "tokens" || what == "targets") {
      const std::int64_t vocab = c.rank.vocab();
      if (vocab <= 0) c.fail(slot, "\"" + what + "\"", "a plan with an embedding or softmax_xent op (its vocabulary)");
      if (per_sample % shards != 0)
        c.fail("params.seq_shards", std::to_string(p.seq_shards), "a divisor of the sequence");
      std::int32_t* out = c.out_i32(i, batch * per_sample);
      std::vector<std::int32_t> natural(static_cast<std::size_t>(batch * per_sample));
      c.rank.data().tokens(first, batch, per_sample, vocab, what == "tokens" ? natural.data() : nullptr,
                           what == "targets" ? natural.data() : nullptr);
      to_shard_major(out, natural, batch, per_sample, shards);
    } else if (what == "labels") {
      std::int32_t* out = c.out_i32(i, batch * per_sample);
      std::vector<std::int32_t> labels(static_cast<std::size_t>(batch));
      c.rank.data().examples(first, batch, 0, c.rank.classes(), nullptr, labels.data());
      for (std::int64_t b = 0; b < batch; ++b)
        for (std::int64_t e = 0; e < per_sample; ++e) out[b * per_sample + e] = labels[static_cast<std::size_t>(b)];
    } else if (what == "features" || what == "images") {
      float* out = c.out_f32(i, batch * per_sample);
      c.rank.data().examples(first, batch, per_sample, c.rank.classes(), out, nullptr);
    } else {
      c.fail("params.content", "\"" + what + "\"",
             "\"tokens\", \"targets\", \"features\", \"labels\", \"images\" or \"\" (a plain transfer)");
    }
  }
}

void run_delay(OpContext& c) {
  const auto& p = c.params<plan::DelayParams>();
  if (p.ns > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(p.ns));
}

// --- elementwise -----------------------------------------------------------------------------------

void ew_residual_add(OpContext& c) {
  c.expect(2, 1, "inputs [a, b] and outputs [out]");
  const std::int64_t n = main_count(c, c.input(0));
  const float* a = c.in_f32(0, n);
  const float* b = c.in_f32(1, n);
  cpu::residual_add(c.out_f32(0, n), a, b, n);
}

void ew_add_inplace(OpContext& c) {
  c.expect(1, 1, "inputs [a] and outputs [out]");
  const std::int64_t n = main_count(c, c.input(0));
  const float* a = c.in_f32(0, n);
  cpu::add_inplace(c.out_f32(0, n), a, n);
}

template <void (*Fwd)(float*, const float*, std::int64_t)>
void ew_unary(OpContext& c) {
  c.expect(1, 1, "inputs [x] and outputs [y]");
  const std::int64_t n = main_count(c, c.input(0));
  const float* x = c.in_f32(0, n);
  Fwd(c.out_f32(0, n), x, n);
}

template <void (*Bwd)(float*, const float*, const float*, std::int64_t)>
void ew_unary_backward(OpContext& c) {
  c.expect(2, 1, "inputs [x or y, dy] and outputs [dx]");
  const std::int64_t n = main_count(c, c.input(0));
  const float* x = c.in_f32(0, n);
  const float* dy = c.in_f32(1, n);
  Bwd(c.out_f32(0, n), x, dy, n);
}

void ew_swiglu(OpContext& c) {
  c.expect(1, 1, "inputs [x(.., 2F)] and outputs [y(.., F)]");
  const std::int64_t f = last_dim(c, c.output(0), "outputs[0]"), rows = OpContext::elements(c.output(0)) / f;
  const float* x = c.in_f32(0, rows * 2 * f);
  cpu::swiglu_forward(c.out_f32(0, rows * f), x, rows, f);
}

void ew_swiglu_backward(OpContext& c) {
  c.expect(2, 1, "inputs [x(.., 2F), dy(.., F)] and outputs [dx(.., 2F)]");
  const std::int64_t f = last_dim(c, c.input(1), "inputs[1]"), rows = OpContext::elements(c.input(1)) / f;
  const float* x = c.in_f32(0, rows * 2 * f);
  const float* dy = c.in_f32(1, rows * f);
  cpu::swiglu_backward(c.out_f32(0, rows * 2 * f), x, dy, rows, f);
}

void ew_dropout(OpContext& c) {
  c.expect(1, 2, "inputs [x] and outputs [y, mask]");
  const auto& p = c.params<ElementwiseParams>();
  if (!(p.scalar >= 0.0 && p.scalar < 1.0))
    c.fail("params.scalar", std::to_string(p.scalar), "a dropout probability in [0, 1)");
  const std::int64_t n = main_count(c, c.input(0));
  const float* x = c.in_f32(0, n);
  float* y = c.out_f32(0, n);
  cpu::dropout_forward(y, c.out_u8(1, n), x, n, static_cast<float>(p.scalar), c.rank.dropout_key(c.op));
}

void ew_dropout_backward(OpContext& c) {
  c.expect(2, 1, "inputs [dy, mask] and outputs [dx]");
  const auto& p = c.params<ElementwiseParams>();
  const std::int64_t n = main_count(c, c.input(0));
  const float* dy = c.in_f32(0, n);
  const std::uint8_t* mask = c.in_u8(1, n);
  cpu::dropout_backward(c.out_f32(0, n), dy, mask, n, static_cast<float>(p.scalar));
}

cpu::RopeShape rope_shape(OpContext& c) {
  const auto& p = c.params<ElementwiseParams>();
  if (p.dims.size() < 5)
    c.fail("params.dims", std::to_string(p.dims.size()) + " values", "{B, T, heads, kv_heads, head_dim, seq_shards}");
  cpu::RopeShape s{.batch = p.dims[0],
                   .seq = p.dims[1],
                   .heads = p.dims[2],
                   .kv_heads = p.dims[3],
                   .head_dim = p.dims[4],
                   .theta = p.scalar > 0.0 ? p.scalar : 10000.0,
                   .position_offset = 0,
                   .seq_shards = p.dims.size() > 5 ? std::max<std::int64_t>(1, p.dims[5]) : 1};
  if (s.head_dim % 2 != 0) c.fail("params.dims[4]", std::to_string(s.head_dim), "an even head_dim");
  if (s.seq % s.seq_shards != 0) c.fail("params.dims[5]", std::to_string(s.seq_shards), "a divisor of T");
  return s;
}

void ew_rope(OpContext& c) {
  c.expect(1, 1, "inputs [qkv] and outputs [qkv_out]");
  const cpu::RopeShape s = rope_shape(c);
  const std::int64_t n = s.batch * s.seq * (s.heads + 2 * s.kv_heads) * s.head_dim;
  const float* x = c.in_f32(0, n);
  cpu::rope_forward(c.out_f32(0, n), x, s);
}

void ew_rope_backward(OpContext& c) {
  c.expect(1, 1, "inputs [dqkv] and outputs [dqkv_out]");
  const cpu::RopeShape s = rope_shape(c);
  const std::int64_t n = s.batch * s.seq * (s.heads + 2 * s.kv_heads) * s.head_dim;
  const float* dy = c.in_f32(0, n);
  cpu::rope_backward(c.out_f32(0, n), dy, s);
}

void ew_bias_grad(OpContext& c) {
  c.expect(1, 1, "inputs [dy(rows, n)] and outputs [dbias(n)]");
  const std::int64_t n = OpContext::elements(c.output(0)),
                     rows = OpContext::elements(c.input(0)) / std::max<std::int64_t>(1, n);
  const float* dy = c.in_f32(0, rows * n);
  cpu::bias_grad(c.out_f32(0, n), dy, rows, n);
}

void ew_bias_add(OpContext& c) {
  c.expect(2, 1, "inputs [x(rows, n), bias(n)] and outputs [x]");
  const std::int64_t n = OpContext::elements(c.input(1)),
                     rows = OpContext::elements(c.output(0)) / std::max<std::int64_t>(1, n);
  const float* bias = c.in_f32(1, n);
  cpu::bias_add(c.out_f32(0, rows * n), bias, rows, n);
}

std::int64_t position_offset(OpContext& c, std::int64_t t_local, std::int64_t shards) {
  const auto& p = c.params<ElementwiseParams>();
  return static_cast<std::int64_t>(std::llround(p.scalar)) +
         (shards > 1 ? c.rank.group_index(GroupKind::tp) * t_local : 0);
}

void ew_position_add(OpContext& c) {
  c.expect(2, 1, "inputs [x(B,T,C), wpe(maxT,C)] and outputs [x]");
  const auto& d = c.params<ElementwiseParams>().dims;
  if (d.size() < 3) c.fail("params.dims", std::to_string(d.size()) + " values", "{B, T_local, C, seq_shards}");
  const std::int64_t shards = d.size() > 3 ? std::max<std::int64_t>(1, d[3]) : 1;
  const std::int64_t off = position_offset(c, d[1], shards);
  const float* wpe = c.in_f32(1, (off + d[1]) * d[2]);
  cpu::position_add_forward(c.out_f32(0, d[0] * d[1] * d[2]), wpe, d[0], d[1], d[2], off);
}

void ew_position_add_backward(OpContext& c) {
  c.expect(1, 1, "inputs [dx(B,T,C)] and outputs [dwpe]");
  const auto& d = c.params<ElementwiseParams>().dims;
  if (d.size() < 3) c.fail("params.dims", std::to_string(d.size()) + " values", "{B, T_local, C, seq_shards}");
  const std::int64_t shards = d.size() > 3 ? std::max<std::int64_t>(1, d[3]) : 1;
  const std::int64_t off = position_offset(c, d[1], shards);
  const float* dx = c.in_f32(0, d[0] * d[1] * d[2]);
  cpu::position_add_backward(c.out_f32(0, (off + d[1]) * d[2]), dx, d[0], d[1], d[2], off);
}

void ew_xent_parallel_max(OpContext& c) {
  c.expect(1, 1, "inputs [logits(rows, V/t)] and outputs [max(rows)]");
  const std::int64_t rows = OpContext::elements(c.output(0)),
                     v = OpContext::elements(c.input(0)) / std::max<std::int64_t>(1, rows);
  const float* logits = c.in_f32(0, rows * v);
  cpu::xent_parallel_max(c.out_stat(0, rows), logits, rows, v);
}

void ew_xent_parallel_stats(OpContext& c) {
  c.expect(3, 1, "inputs [logits, max, targets] and outputs [stats(2, rows)]");
  const std::int64_t rows = OpContext::elements(c.input(1)),
                     v = OpContext::elements(c.input(0)) / std::max<std::int64_t>(1, rows);
  const float* logits = c.in_f32(0, rows * v);
  const float* max = c.in_stat(1, rows);
  const std::int32_t* t = c.in_i32(2, rows);
  check_targets(c, t, rows, v * c.rank.group_size(GroupKind::tp), "inputs[2] (targets)");
  cpu::xent_parallel_stats(c.out_stat(0, 2 * rows), logits, max, t, rows, v, v * c.rank.group_index(GroupKind::tp));
}

void ew_xent_parallel_loss(OpContext& c) {
  c.expect(2, 1, "inputs [stats, max] and outputs [losses]");
  const std::int64_t rows = OpContext::elements(c.input(1));
  const float* stats = c.in_stat(0, 2 * rows);
  const float* max = c.in_stat(1, rows);
  float* losses = c.out_stat(0, rows);
  cpu::xent_parallel_loss(losses, stats, max, nullptr, rows);
  add_losses(c, losses, nullptr, rows);
}

void ew_xent_parallel_backward(OpContext& c) {
  c.expect(4, 1, "inputs [logits, targets, max, stats] and outputs [dlogits]");
  const std::int64_t rows = OpContext::elements(c.input(2)),
                     v = OpContext::elements(c.input(0)) / std::max<std::int64_t>(1, rows);
  const float* logits = c.in_f32(0, rows * v);
  const std::int32_t* t = c.in_i32(1, rows);
  const float* max = c.in_stat(2, rows);
  const float* stats = c.in_stat(3, 2 * rows);
  const float scale = static_cast<float>(c.params<ElementwiseParams>().scalar * c.rank.loss_scale());
  cpu::xent_parallel_backward(c.out_f32(0, rows * v), logits, t, max, stats, rows, v,
                              v * c.rank.group_index(GroupKind::tp), scale);
}

void ew_scale(OpContext& c) {
  c.expect(0, 1, "outputs [x] (in place)");
  const std::int64_t n = main_count(c, c.output(0));
  cpu::scale_inplace(c.out_f32(0, n), n, static_cast<float>(c.params<ElementwiseParams>().scalar));
}

void ew_zero(OpContext& c) {
  for (std::size_t i = 0; i < c.outputs(); ++i)
    std::memset(c.out_raw(i), 0, static_cast<std::size_t>(c.output(i).bytes));
}

void ew_check_finite(OpContext& c) {
  c.expect(0, 1, "inputs [x...] and outputs [flag]");
  bool bad = false;
  for (std::size_t i = 0; i < c.inputs(); ++i) {
    const std::int64_t n = OpContext::elements(c.input(i));
    bad |= cpu::has_nonfinite(c.in_f32(i, n), n);
  }
  *c.out_stat(0, 1) = bad ? 1.0f : 0.0f;
}

// acc += w * sum of squares, w = scalar (0 means 1): replicated gradients are weighted so that the
// reduction over ranks counts them once.
void ew_grad_norm_sq(OpContext& c) {
  c.expect(0, 1, "inputs [x...] and outputs [acc]");
  double s = 0.0;
  for (std::size_t i = 0; i < c.inputs(); ++i) {
    const std::int64_t n = OpContext::elements(c.input(i));
    s += cpu::sum_of_squares(c.in_f32(i, n), n);
  }
  const double scalar = c.params<ElementwiseParams>().scalar;
  float* acc = c.out_stat(0, 1);
  *acc = static_cast<float>(static_cast<double>(*acc) + (scalar != 0.0 ? scalar : 1.0) * s);
}

// y = x (converted when the dtypes differ).
void ew_copy(OpContext& c) {
  c.expect(1, 1, "inputs [x] and outputs [y]");
  const plan::Tensor& x = c.input(0);
  const plan::Tensor& y = c.output(0);
  const std::int64_t n = std::min(main_count(c, x), OpContext::elements(y));
  if (n > OpContext::elements(x))
    c.fail("inputs[0]", std::to_string(OpContext::elements(x)) + " elements", "at least params.elements");
  if (x.dtype == y.dtype) {
    std::memmove(c.out_raw(0), c.in_raw(0), static_cast<std::size_t>(n * dtype_bytes(x.dtype)));
  } else {
    const float* in = c.in_f32(0, n);
    std::copy(in, in + n, c.out_f32(0, n));
  }
}

void ew_clip_by_norm(OpContext& c) {
  c.expect(1, 0, "inputs [norm_sq] and outputs [x...]");
  const double ls = c.rank.loss_scale();
  const float f =
      cpu::clip_factor(static_cast<double>(*c.in_stat(0, 1)) / (ls * ls), c.params<ElementwiseParams>().scalar);
  if (f == 1.0f) return;
  for (std::size_t i = 0; i < c.outputs(); ++i) {
    const std::int64_t n = OpContext::elements(c.output(i));
    cpu::scale_inplace(c.out_f32(i, n), n, f);
  }
}

void ew_maxpool(OpContext& c) {
  c.expect(1, 2, "inputs [x] and outputs [y, argmax]");
  const cpu::PoolShape s = pool_shape(c, c.input(0));
  const std::int64_t nx = s.batch * s.height * s.width * s.channels,
                     ny = s.batch * s.out_height() * s.out_width() * s.channels;
  const float* x = c.in_f32(0, nx);
  float* y = c.out_f32(0, ny);
  cpu::maxpool_forward(y, c.out_i32(1, ny), x, s);
}

void ew_maxpool_backward(OpContext& c) {
  c.expect(2, 1, "inputs [dy, argmax] and outputs [dx]");
  const cpu::PoolShape s = pool_shape(c, c.output(0));
  const std::int64_t nx = s.batch * s.height * s.width * s.channels,
                     ny = s.batch * s.out_height() * s.out_width() * s.channels;
  const float* dy = c.in_f32(0, ny);
  const std::int32_t* argmax = c.in_i32(1, ny);
  for (std::int64_t i = 0; i < ny; ++i)
    if (argmax[i] < 0 || argmax[i] >= nx) c.fail("inputs[1] (argmax)", std::to_string(argmax[i]), "indices into dx");
  cpu::maxpool_backward(c.out_f32(0, nx), dy, argmax, s);
}

void ew_global_avgpool(OpContext& c) {
  c.expect(1, 1, "inputs [x(N,H,W,C)] and outputs [y(N,C)]");
  const cpu::PoolShape s = pool_shape(c, c.input(0));
  const float* x = c.in_f32(0, s.batch * s.height * s.width * s.channels);
  cpu::global_avgpool_forward(c.out_f32(0, s.batch * s.channels), x, s);
}

void ew_global_avgpool_backward(OpContext& c) {
  c.expect(1, 1, "inputs [dy(N,C)] and outputs [dx(N,H,W,C)]");
  const cpu::PoolShape s = pool_shape(c, c.output(0));
  const float* dy = c.in_f32(0, s.batch * s.channels);
  cpu::global_avgpool_backward(c.out_f32(0, s.batch * s.height * s.width * s.channels), dy, s);
}

KernelRegistry build_cpu_registry() {
  KernelRegistry r;
  auto set = [&](OpKind k, KernelFn f) { r.by_kind[static_cast<std::size_t>(k)] = f; };
  set(OpKind::gemm, run_gemm);
  set(OpKind::attention, run_attention);
  set(OpKind::conv2d, run_conv2d);
  set(OpKind::norm, run_norm);
  set(OpKind::softmax_xent, run_softmax_xent);
  set(OpKind::embedding, run_embedding);
  set(OpKind::optimizer, run_optimizer);
  set(OpKind::cast, run_cast);
  set(OpKind::collective, run_collective);
  set(OpKind::send, run_send);
  set(OpKind::recv, run_recv);
  set(OpKind::io, run_io);
  set(OpKind::delay, run_delay);
  r.elementwise = {
      {"residual_add", ew_residual_add},
      {"add_inplace", ew_add_inplace},
      {"gelu", ew_unary<cpu::gelu_forward>},
      {"gelu_backward", ew_unary_backward<cpu::gelu_backward>},
      {"relu", ew_unary<cpu::relu_forward>},
      {"relu_backward", ew_unary_backward<cpu::relu_backward>},
      {"swiglu", ew_swiglu},
      {"swiglu_backward", ew_swiglu_backward},
      {"dropout", ew_dropout},
      {"dropout_backward", ew_dropout_backward},
      {"rope", ew_rope},
      {"rope_backward", ew_rope_backward},
      {"bias_grad", ew_bias_grad},
      {"bias_add", ew_bias_add},
      {"position_add", ew_position_add},
      {"position_add_backward", ew_position_add_backward},
      {"xent_parallel_max", ew_xent_parallel_max},
      {"xent_parallel_stats", ew_xent_parallel_stats},
      {"xent_parallel_loss", ew_xent_parallel_loss},
      {"xent_parallel_backward", ew_xent_parallel_backward},
      {"scale", ew_scale},
      {"copy", ew_copy},
      {"zero", ew_zero},
      {"check_finite", ew_check_finite},
      {"grad_norm_sq", ew_grad_norm_sq},
      {"clip_by_norm", ew_clip_by_norm},
      {"maxpool", ew_maxpool},
      {"maxpool_backward", ew_maxpool_backward},
      {"global_avgpool", ew_global_avgpool},
      {"global_avgpool_backward", ew_global_avgpool_backward},
  };
  return r;
}

}  // namespace

const KernelRegistry& KernelRegistry::cpu() {
  static const KernelRegistry registry = build_cpu_registry();
  return registry;
}

}  // namespace clustersim::executor::detail
