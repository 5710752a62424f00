// The CUDA kernel registry: one dispatcher per op kind and elementwise name, mirroring the CPU
// registry (runtime/dispatch.cpp) name for name and check for check. A dispatcher reads the op's
// params, takes typed device pointers from the CudaOpContext and enqueues the kernels of cuda/*.hpp
// on the op's stream; communication goes through the rank's device communicators, io through pinned
// host staging and an asynchronous copy. Checks that would need the data on the host (token and
// target ranges, argmax indices) are left to the kernels, which ignore out-of-range ids.
#include "dispatch.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "check.hpp"
#include "clustersim/executor/cpu/cast.hpp"
#include "clustersim/executor/cuda/attention.hpp"
#include "clustersim/executor/cuda/conv_pool.hpp"
#include "clustersim/executor/cuda/elementwise.hpp"
#include "clustersim/executor/cuda/embedding.hpp"
#include "clustersim/executor/cuda/norm.hpp"
#include "clustersim/executor/cuda/optimizer.hpp"
#include "clustersim/executor/cuda/reduce.hpp"
#include "clustersim/executor/cuda/softmax_xent.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::executor::cuda::detail {

// --- CudaOpContext -------------------------------------------------------------------------------

CudaOpContext::CudaOpContext(CudaRank& r, const plan::Op& o, DeviceStream s, DeviceScratch& sc, DeviceScratch& st)
    : rank(r), op(o), stream(s), scratch(sc), staging(st) {}

const plan::Tensor& CudaOpContext::input(std::size_t i) const {
  return rank.plan().tensors.at(static_cast<std::size_t>(op.inputs.at(i)));
}
const plan::Tensor& CudaOpContext::output(std::size_t i) const {
  return rank.plan().tensors.at(static_cast<std::size_t>(op.outputs.at(i)));
}
std::int64_t CudaOpContext::elements(const plan::Tensor& t) {
  return t.bytes / dtype_bytes(t.dtype);
}

std::string CudaOpContext::where() const {
  return "rank " + std::to_string(rank.rank()) + ", program " + std::to_string(rank.program()) + " op " +
         std::to_string(op.id) + " (" + op.name + ")";
}

void CudaOpContext::fail(const std::string& slot, const std::string& value, const std::string& allowed) const {
  throw InputError(where() + " " + slot, value, allowed);
}

std::string CudaOpContext::slot(const char* list, std::size_t i) const {
  const auto& ids = std::string(list) == "inputs" ? op.inputs : op.outputs;
  const auto& t = rank.plan().tensors.at(static_cast<std::size_t>(ids.at(i)));
  return std::string(list) + "[" + std::to_string(i) + "] (" + t.name + ")";
}

void CudaOpContext::expect(std::size_t n_in, std::size_t n_out, const char* lists) const {
  if (op.inputs.size() < n_in || op.outputs.size() < n_out)
    fail("tensor lists",
         std::to_string(op.inputs.size()) + " inputs and " + std::to_string(op.outputs.size()) + " outputs", lists);
}

void CudaOpContext::check_float(const plan::Tensor& t, std::int64_t n, const std::string& s, bool stat) const {
  if (stat && t.dtype != DType::fp32)
    fail(s, "\"" + std::string(to_string(t.dtype)) + "\"", "\"fp32\" (statistics are fp32)");
  if (!cpu::is_float_dtype(t.dtype))
    fail(s, "\"" + std::string(to_string(t.dtype)) + "\"",
         "a float dtype: \"fp32\", \"tf32\", \"bf16\", \"fp16\", \"fp8_e4m3\" or \"fp8_e5m2\"");
  if (n < 0 || n * dtype_bytes(t.dtype) > t.bytes)
    fail(s, std::to_string(t.bytes) + " bytes",
         "at least " + std::to_string(n) + " " + std::string(to_string(t.dtype)) + " elements for this op");
}

void CudaOpContext::check_typed(const plan::Tensor& t, std::int64_t n, DType dtype, const std::string& s) const {
  if (t.dtype != dtype)
    fail(s, "\"" + std::string(to_string(t.dtype)) + "\"", "\"" + std::string(to_string(dtype)) + "\"");
  if (n < 0 || n * dtype_bytes(dtype) > t.bytes)
    fail(s, std::to_string(t.bytes) + " bytes",
         "at least " + std::to_string(n) + " " + std::string(to_string(dtype)) + " elements for this op");
}

ConstDeviceTensor CudaOpContext::in_f(std::size_t i, std::int64_t n) const {
  check_float(input(i), n, slot("inputs", i), false);
  return {rank.storage(op.inputs.at(i)), input(i).dtype};
}
DeviceTensor CudaOpContext::out_f(std::size_t i, std::int64_t n) const {
  check_float(output(i), n, slot("outputs", i), false);
  return {rank.storage(op.outputs.at(i)), output(i).dtype};
}
const float* CudaOpContext::in_stat(std::size_t i, std::int64_t n) const {
  check_float(input(i), n, slot("inputs", i), true);
  return reinterpret_cast<const float*>(rank.storage(op.inputs.at(i)));
}
float* CudaOpContext::out_stat(std::size_t i, std::int64_t n) const {
  check_float(output(i), n, slot("outputs", i), true);
  return reinterpret_cast<float*>(rank.storage(op.outputs.at(i)));
}
const std::int32_t* CudaOpContext::in_i32(std::size_t i, std::int64_t n) const {
  check_typed(input(i), n, DType::int32, slot("inputs", i));
  return reinterpret_cast<const std::int32_t*>(rank.storage(op.inputs.at(i)));
}
std::int32_t* CudaOpContext::out_i32(std::size_t i, std::int64_t n) const {
  check_typed(output(i), n, DType::int32, slot("outputs", i));
  return reinterpret_cast<std::int32_t*>(rank.storage(op.outputs.at(i)));
}
const std::uint8_t* CudaOpContext::in_u8(std::size_t i, std::int64_t n) const {
  check_typed(input(i), n, DType::uint8, slot("inputs", i));
  return reinterpret_cast<const std::uint8_t*>(rank.storage(op.inputs.at(i)));
}
std::uint8_t* CudaOpContext::out_u8(std::size_t i, std::int64_t n) const {
  check_typed(output(i), n, DType::uint8, slot("outputs", i));
  return reinterpret_cast<std::uint8_t*>(rank.storage(op.outputs.at(i)));
}
std::byte* CudaOpContext::in_raw(std::size_t i) const {
  return rank.storage(op.inputs.at(i));
}
std::byte* CudaOpContext::out_raw(std::size_t i) const {
  return rank.storage(op.outputs.at(i));
}

namespace {

using plan::ElementwiseParams;
using Ctx = CudaOpContext;

std::int64_t main_count(Ctx& c, const plan::Tensor& t) {
  const auto& p = c.params<ElementwiseParams>();
  return p.elements > 0 ? p.elements : Ctx::elements(t);
}

std::int64_t last_dim(Ctx& c, const plan::Tensor& t, const char* what) {
  if (t.shape.empty() || t.shape.back() <= 0)
    c.fail(what, "shape of " + t.name, "a shape whose last dimension is the feature size");
  return t.shape.back();
}

cpu::PoolShape pool_shape(Ctx& c, const plan::Tensor& t) {
  const auto& d = c.params<ElementwiseParams>().dims;
  if (d.size() >= 4) return {d[0], d[1], d[2], d[3]};
  if (t.shape.size() != 4) c.fail("params.dims", "[]", "{N, H, W, C} (or a 4-D NHWC tensor shape)");
  return {t.shape[0], t.shape[1], t.shape[2], t.shape[3]};
}

// A float tensor shifted by `elements` elements.
ConstDeviceTensor offset(ConstDeviceTensor t, std::int64_t elements) {
  return {static_cast<const std::byte*>(t.data) + elements * dtype_bytes(t.dtype), t.dtype};
}
DeviceTensor offset(DeviceTensor t, std::int64_t elements) {
  return {static_cast<std::byte*>(t.data) + elements * dtype_bytes(t.dtype), t.dtype};
}

// --- gemm, attention, conv -------------------------------------------------------------------------

void run_gemm(Ctx& c) {
  const auto& p = c.params<plan::GemmParams>();
  c.expect(p.bias ? 3 : 2, 1, "inputs [A, B] or [A, B, bias(n)] and outputs [C]");
  const cpu::GemmShape s{.m = p.m,
                         .n = p.n,
                         .k = p.k,
                         .batch = p.batch,
                         .trans_a = p.trans_a,
                         .trans_b = p.trans_b,
                         .accumulate = p.accumulate};
  GemmOperands o;
  o.a = c.in_f(0, p.batch * p.m * p.k);
  o.b = c.in_f(1, p.batch * p.k * p.n);
  if (p.bias) o.bias = c.in_f(2, p.n);
  o.c = c.out_f(0, p.batch * p.m * p.n);
  c.rank.gemm().run(s, p.dtype, o, c.scratch, c.stream);
}

void run_attention(Ctx& c) {
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
      attention_forward_flash(c.out_f(0, n_out), c.out_stat(1, n_lse), c.in_f(0, n_qkv), s, c.scratch, c.stream);
    } else {
      c.expect(
          1, dropout ? 4 : 2,
          dropout ? "inputs [qkv] and outputs [out, probs, mask, dropped]" : "inputs [qkv] and outputs [out, probs]");
      attention_forward(c.out_f(0, n_out), c.out_f(1, n_p), dropout ? c.out_u8(2, n_p) : nullptr,
                        dropout ? c.out_f(3, n_p) : DeviceTensor{}, c.in_f(0, n_qkv), s, c.scratch, c.stream);
    }
    return;
  }
  if (p.flash) {
    c.expect(4, 1, "inputs [dout, qkv, out, lse] and outputs [dqkv]");
    attention_backward_flash(c.out_f(0, n_qkv), c.in_f(0, n_out), c.in_f(1, n_qkv), c.in_f(2, n_out),
                             c.in_stat(3, n_lse), s, c.scratch, c.stream);
  } else {
    c.expect(dropout ? 5 : 3, 1,
             dropout ? "inputs [dout, qkv, probs, mask, dropped] and outputs [dqkv]"
                     : "inputs [dout, qkv, probs] and outputs [dqkv]");
    attention_backward(c.out_f(0, n_qkv), c.in_f(0, n_out), c.in_f(1, n_qkv), c.in_f(2, n_p),
                       dropout ? c.in_u8(3, n_p) : nullptr, dropout ? c.in_f(4, n_p) : ConstDeviceTensor{}, s,
                       c.scratch, c.stream);
  }
}

// im2col + GEMM over chunks of images whose column matrix stays under this many bytes.
constexpr std::int64_t kConvColumnBytes = std::int64_t{256} << 20;

void run_conv2d(Ctx& c) {
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
  const std::int64_t PQ = s.out_height() * s.out_width(), RSC = s.kernel_h * s.kernel_w * s.in_channels;
  const std::int64_t K = s.out_channels, image = s.height * s.width * s.in_channels;
  const std::int64_t nx = p.batch * image, nw = K * RSC, ny = p.batch * PQ * K;
  const bool pointwise = s.kernel_h == 1 && s.kernel_w == 1 && s.stride == 1 && s.padding == 0;
  c.expect(2, 1, "inputs [x, w] / [dy, w] / [dy, x] and outputs [y] / [dx] / [dw]");
  const std::int64_t per_image = PQ * RSC * 4;
  const std::int64_t chunk = std::max<std::int64_t>(1, std::min<std::int64_t>(p.batch, kConvColumnBytes / std::max<std::int64_t>(per_image, 1)));
  GemmEngine& gemm = c.rank.gemm();
  switch (p.pass) {
    case plan::ConvPass::forward: {
      const ConstDeviceTensor x = c.in_f(0, nx), w = c.in_f(1, nw);
      const DeviceTensor y = c.out_f(0, ny);
      void* col = pointwise ? nullptr : c.staging.get(static_cast<std::size_t>(chunk * PQ * RSC * dtype_bytes(x.dtype)));
      for (std::int64_t n0 = 0; n0 < p.batch; n0 += chunk) {
        const std::int64_t cnt = std::min(chunk, p.batch - n0);
        ConstDeviceTensor a = offset(x, n0 * image);
        if (!pointwise) {
          im2col({col, x.dtype}, x, s, n0, cnt, c.stream);
          a = {col, x.dtype};
        }
        gemm.run({.m = cnt * PQ, .n = K, .k = RSC, .trans_b = true}, p.dtype, {a, w, {}, offset(y, n0 * PQ * K)},
                 c.scratch, c.stream);
      }
      return;
    }
    case plan::ConvPass::backward_data: {
      const ConstDeviceTensor dy = c.in_f(0, ny), w = c.in_f(1, nw);
      const DeviceTensor dx = c.out_f(0, nx);
      float* dcol = pointwise ? nullptr : static_cast<float*>(c.staging.get(static_cast<std::size_t>(chunk * PQ * RSC) * 4));
      for (std::int64_t n0 = 0; n0 < p.batch; n0 += chunk) {
        const std::int64_t cnt = std::min(chunk, p.batch - n0);
        if (pointwise) {
          gemm.run({.m = cnt * PQ, .n = RSC, .k = K}, p.dtype, {offset(dy, n0 * PQ * K), w, {}, offset(dx, n0 * image)},
                   c.scratch, c.stream);
          continue;
        }
        gemm.run({.m = cnt * PQ, .n = RSC, .k = K}, p.dtype, {offset(dy, n0 * PQ * K), w, {}, f32(dcol)}, c.scratch,
                 c.stream);
        col2im(dx, dcol, s, n0, cnt, c.stream);
      }
      return;
    }
    case plan::ConvPass::backward_filter: {
      const ConstDeviceTensor dy = c.in_f(0, ny), x = c.in_f(1, nx);
      const DeviceTensor dw = c.out_f(0, nw);
      void* col = pointwise ? nullptr : c.staging.get(static_cast<std::size_t>(chunk * PQ * RSC * dtype_bytes(x.dtype)));
      for (std::int64_t n0 = 0; n0 < p.batch; n0 += chunk) {
        const std::int64_t cnt = std::min(chunk, p.batch - n0);
        ConstDeviceTensor b = offset(x, n0 * image);
        if (!pointwise) {
          im2col({col, x.dtype}, x, s, n0, cnt, c.stream);
          b = {col, x.dtype};
        }
        gemm.run({.m = K, .n = RSC, .k = cnt * PQ, .trans_a = true, .accumulate = true}, p.dtype,
                 {offset(dy, n0 * PQ * K), b, {}, dw}, c.scratch, c.stream);
      }
      return;
    }
  }
}

// --- norm, softmax, embedding, optimizer, cast ------------------------------------------------------

void run_norm(Ctx& c) {
  const auto& p = c.params<plan::NormParams>();
  const std::int64_t n = p.rows * p.cols;
  const std::int64_t stats = p.type == NormType::batchnorm ? p.cols : p.rows;
  const float eps = static_cast<float>(p.eps);
  if (p.direction == Direction::forward) {
    if (p.type == NormType::rmsnorm) {
      c.expect(2, 2, "inputs [x, gamma] and outputs [y, rstd]");
      rmsnorm_forward(c.out_f(0, n), c.out_stat(1, stats), c.in_f(0, n), c.in_f(1, p.cols), p.rows, p.cols, eps,
                      c.stream);
      return;
    }
    c.expect(3, 3, "inputs [x, gamma, beta] and outputs [y, mean, rstd]");
    if (p.type == NormType::layernorm)
      layernorm_forward(c.out_f(0, n), c.out_stat(1, stats), c.out_stat(2, stats), c.in_f(0, n), c.in_f(1, p.cols),
                        c.in_f(2, p.cols), p.rows, p.cols, eps, c.stream);
    else
      batchnorm_forward(c.out_f(0, n), c.out_stat(1, stats), c.out_stat(2, stats), c.in_f(0, n), c.in_f(1, p.cols),
                        c.in_f(2, p.cols), p.rows, p.cols, eps, c.scratch, c.stream);
    return;
  }
  if (p.type == NormType::rmsnorm) {
    c.expect(4, 2, "inputs [dy, x, gamma, rstd] and outputs [dx, dgamma]");
    rmsnorm_backward(c.out_f(0, n), c.out_f(1, p.cols), c.in_f(0, n), c.in_f(1, n), c.in_f(2, p.cols),
                     c.in_stat(3, stats), p.rows, p.cols, p.accumulate_dx, c.scratch, c.stream);
    return;
  }
  c.expect(5, 3, "inputs [dy, x, gamma, mean, rstd] and outputs [dx, dgamma, dbeta]");
  if (p.type == NormType::layernorm)
    layernorm_backward(c.out_f(0, n), c.out_f(1, p.cols), c.out_f(2, p.cols), c.in_f(0, n), c.in_f(1, n),
                       c.in_f(2, p.cols), c.in_stat(3, stats), c.in_stat(4, stats), p.rows, p.cols, p.accumulate_dx,
                       c.scratch, c.stream);
  else
    batchnorm_backward(c.out_f(0, n), c.out_f(1, p.cols), c.out_f(2, p.cols), c.in_f(0, n), c.in_f(1, n),
                       c.in_f(2, p.cols), c.in_stat(3, stats), c.in_stat(4, stats), p.rows, p.cols, p.accumulate_dx,
                       c.scratch, c.stream);
}

void run_softmax_xent(Ctx& c) {
  const auto& p = c.params<plan::SoftmaxXentParams>();
  c.expect(2, 1,
           p.direction == Direction::forward ? "inputs [logits, targets] and outputs [losses]"
                                             : "inputs [logits, targets] and outputs [dlogits]");
  const ConstDeviceTensor logits = c.in_f(0, p.rows * p.vocab);
  const std::int32_t* t = c.in_i32(1, p.rows);
  if (p.direction == Direction::forward) {
    float* losses = c.out_stat(0, p.rows);
    softmax_xent_forward(losses, logits, t, p.rows, p.vocab, c.stream);
    accumulate_losses(c.rank.device_stats(), losses, t, p.rows, c.stream);
  } else {
    const float scale = static_cast<float>(p.grad_scale * c.rank.loss_scale());
    softmax_xent_backward(c.out_f(0, p.rows * p.vocab), logits, t, p.rows, p.vocab, scale, c.stream);
  }
}

void run_embedding(Ctx& c) {
  const auto& p = c.params<plan::EmbeddingParams>();
  const std::int64_t rows = p.batch * p.seq, shards = std::max<std::int64_t>(1, p.seq_shards);
  if (p.seq % shards != 0) c.fail("params.seq_shards", std::to_string(p.seq_shards), "a divisor of seq");
  const std::int64_t offset_rows = p.vocab_parallel ? p.vocab * c.rank.group_index(GroupKind::tp) : 0;
  const cpu::EmbeddingShape s{
      .batch = p.batch, .seq = p.seq, .dim = p.dim, .vocab = p.vocab, .vocab_offset = offset_rows, .seq_shards = shards};
  const bool positions = p.learned_positions && !p.vocab_parallel;
  if (p.direction == Direction::forward) {
    c.expect(2, 1, "inputs [tokens, wte] or [tokens, wte, wpe] and outputs [x]");
    const std::int32_t* tokens = c.in_i32(0, rows);
    const ConstDeviceTensor wte = c.in_f(1, p.vocab * p.dim);
    const ConstDeviceTensor wpe = positions && c.inputs() > 2 ? c.in_f(2, p.seq * p.dim) : ConstDeviceTensor{};
    embedding_forward(c.out_f(0, rows * p.dim), tokens, wte, wpe, s, c.stream);
    return;
  }
  c.expect(2, 1, "inputs [dx, tokens] and outputs [dwte] or [dwte, dwpe]");
  const ConstDeviceTensor dx = c.in_f(0, rows * p.dim);
  const std::int32_t* tokens = c.in_i32(1, rows);
  const DeviceTensor dwte = c.out_f(0, p.vocab * p.dim);
  const DeviceTensor dwpe = positions && c.outputs() > 1 ? c.out_f(1, p.seq * p.dim) : DeviceTensor{};
  embedding_backward(dwte, dwpe, dx, tokens, s, c.scratch, c.stream);
}

void run_optimizer(Ctx& c) {
  const auto& p = c.params<plan::OptimizerParams>();
  const bool adam = p.kind == OptimizerKind::adamw;
  c.expect(p.found_inf ? 2 : 1, adam ? 4 : 2,
           adam ? "inputs [grad] (+ [found_inf]) and outputs [weight, master, m, v]"
                : "inputs [grad] (+ [found_inf]) and outputs [weight, master(, momentum)]");
  const std::int64_t n = p.params;
  OptimizerStep step;
  if (p.found_inf) {
    step.found_inf = c.in_stat(1, 1);
    step.counter = c.rank.optimizer_counter(c.op.id);
    note_found_inf(&c.rank.device_stats()->found_inf, step.found_inf, c.stream);
  } else {
    step.host_step = c.rank.next_host_optimizer_step(c.op.id);
  }
  const ConstDeviceTensor grad = c.in_f(0, n);
  const DeviceTensor weight = c.out_f(0, n), master = c.out_f(1, n);
  const float grad_scale = static_cast<float>(p.grad_scale / c.rank.loss_scale());
  if (adam) {
    adamw_update(weight, master, c.out_f(2, n), c.out_f(3, n), grad, n,
                 {.lr = static_cast<float>(p.lr),
                  .beta1 = static_cast<float>(p.beta1),
                  .beta2 = static_cast<float>(p.beta2),
                  .eps = static_cast<float>(p.eps),
                  .weight_decay = static_cast<float>(p.weight_decay),
                  .grad_scale = grad_scale,
                  .step = step.host_step},
                 step, c.stream);
  } else {
    const bool momentum = c.outputs() > 2 && p.momentum != 0.0;
    sgd_update(weight, master, momentum ? c.out_f(2, n) : DeviceTensor{}, grad, n,
               {.lr = static_cast<float>(p.lr),
                .momentum = momentum ? static_cast<float>(p.momentum) : 0.0f,
                .weight_decay = static_cast<float>(p.weight_decay),
                .grad_scale = grad_scale},
               step, c.stream);
  }
  if (step.counter != nullptr) bump_step_counter(step.counter, step.found_inf, c.stream);
}

void run_cast(Ctx& c) {
  const auto& p = c.params<plan::CastParams>();
  c.expect(1, 1, "inputs [x] and outputs [y]");
  const plan::Tensor& x = c.input(0);
  const plan::Tensor& y = c.output(0);
  for (const auto* t : {&x, &y})
    if (!cpu::is_float_dtype(t->dtype))
      c.fail(t == &x ? "inputs[0]" : "outputs[0]", "\"" + std::string(to_string(t->dtype)) + "\"", "a float dtype");
  const std::int64_t n = p.elements > 0 ? p.elements : Ctx::elements(x);
  if (n > Ctx::elements(x) || n > Ctx::elements(y))
    c.fail("params.elements", std::to_string(n), "at most the elements of both tensors");
  convert({c.out_raw(0), y.dtype}, {c.in_raw(0), x.dtype}, n, c.stream);
}

// --- communication, io, delay ------------------------------------------------------------------------

void run_collective(Ctx& c) {
  const auto& p = c.params<plan::CollectiveParams>();
  DeviceCommunicator& comm = c.rank.comm(p.group);
  const plan::Tensor& first = c.inputs() > 0 ? c.input(0) : c.output(0);
  const DType d = first.dtype;
  const std::int64_t esize = dtype_bytes(d), total = p.bytes / esize, n = comm.size();
  const ReduceKind op = p.reduce == plan::ReduceOp::max ? ReduceKind::max : ReduceKind::sum;
  auto need = [&](const plan::Tensor& t, std::int64_t bytes, const char* slot) {
    if (t.bytes < bytes)
      c.fail(slot, std::to_string(t.bytes) + " bytes", "at least " + std::to_string(bytes) + " bytes");
    if (t.dtype != d) c.fail(slot, "\"" + std::string(to_string(t.dtype)) + "\"", "the dtype of the other buffer");
  };
  const bool whole = p.type == CollectiveType::all_reduce || p.type == CollectiveType::broadcast ||
                     p.type == CollectiveType::reduce;
  if (p.bytes % (esize * (whole ? 1 : n)) != 0)
    c.fail("params.bytes", std::to_string(p.bytes), "a multiple of the element size times the group size");
  switch (p.type) {
    case CollectiveType::all_reduce:
      c.expect(1, 0, "inputs [buf] (in place)");
      need(c.input(0), p.bytes, "inputs[0]");
      comm.all_reduce(c.in_raw(0), total, d, op, c.stream);
      break;
    case CollectiveType::broadcast:
      c.expect(1, 0, "inputs [buf] (in place)");
      need(c.input(0), p.bytes, "inputs[0]");
      comm.broadcast(c.in_raw(0), total, d, p.root, c.stream);
      break;
    case CollectiveType::reduce:
      c.expect(1, 0, "inputs [buf] (in place)");
      need(c.input(0), p.bytes, "inputs[0]");
      comm.reduce(c.in_raw(0), total, d, op, p.root, c.stream);
      break;
    case CollectiveType::reduce_scatter: {
      c.expect(1, 1, "inputs [full] and outputs [shard]");
      need(c.input(0), p.bytes, "inputs[0]");
      need(c.output(0), p.bytes / n, "outputs[0]");
      if (!p.accumulate) {
        comm.reduce_scatter(c.in_raw(0), c.out_raw(0), total / n, d, op, c.stream);
      } else {
        void* tmp = c.staging.get(static_cast<std::size_t>(p.bytes / n));
        comm.reduce_scatter(c.in_raw(0), tmp, total / n, d, op, c.stream);
        if (d == DType::int32 || d == DType::int64)
          add_integers(c.out_raw(0), tmp, d, total / n, c.stream);
        else
          add_inplace({c.out_raw(0), d}, {tmp, d}, total / n, c.stream);
      }
      break;
    }
    case CollectiveType::all_gather:
      c.expect(1, 1, "inputs [shard] and outputs [full]");
      need(c.input(0), p.bytes / n, "inputs[0]");
      need(c.output(0), p.bytes, "outputs[0]");
      comm.all_gather(c.in_raw(0), c.out_raw(0), total / n, d, c.stream);
      break;
    case CollectiveType::all_to_all:
      c.expect(1, 1, "inputs [in] and outputs [out]");
      need(c.input(0), p.bytes, "inputs[0]");
      need(c.output(0), p.bytes, "outputs[0]");
      comm.all_to_all(c.in_raw(0), c.out_raw(0), total / n, d, c.stream);
      break;
  }
}

int peer_of(Ctx& c, const plan::P2PParams& p) {
  const int n = c.rank.group_size(p.group), i = c.rank.group_index(p.group);
  return ((i + p.peer_offset) % n + n) % n;
}

void run_send(Ctx& c) {
  const auto& p = c.params<plan::P2PParams>();
  c.expect(1, 0, "inputs [buf]");
  if (c.input(0).bytes < p.bytes)
    c.fail("inputs[0]", std::to_string(c.input(0).bytes) + " bytes", "at least params.bytes");
  c.rank.comm(p.group).send(c.in_raw(0), p.bytes, peer_of(c, p), p.tag, c.stream);
}

void run_recv(Ctx& c) {
  const auto& p = c.params<plan::P2PParams>();
  c.expect(0, 1, "outputs [buf]");
  if (c.output(0).bytes < p.bytes)
    c.fail("outputs[0]", std::to_string(c.output(0).bytes) + " bytes", "at least params.bytes");
  c.rank.comm(p.group).recv(c.out_raw(0), p.bytes, peer_of(c, p), p.tag, c.stream);
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

void run_io(Ctx& c) {
  const auto& p = c.params<plan::IoParams>();
  const std::vector<std::string> content = split_content(p.content);
  if (content.empty()) {  // a plain transfer
    for (std::size_t i = 0; i < std::min(c.inputs(), c.outputs()); ++i) {
      if (c.op.inputs[i] == c.op.outputs[i]) continue;
      const std::int64_t bytes = std::min(c.input(i).bytes, c.output(i).bytes);
      CUDA_CHECK(cudaMemcpyAsync(c.out_raw(i), c.in_raw(i), static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice,
                                 c.stream));
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
    const std::int64_t batch = t.shape[0], per_sample = Ctx::elements(t) / batch, count = batch * per_sample;
    const std::int64_t first = ((static_cast<std::int64_t>(c.rank.step()) * dp + dpi) * mbs + mb) * batch;
    void* dst = nullptr;
    std::size_t bytes = 0;
    void* host = nullptr;
    if (what == "tokens" || what == "targets") {
      const std::int64_t vocab = c.rank.vocab();
      if (vocab <= 0) c.fail(slot, "\"" + what + "\"", "a plan with an embedding or softmax_xent op (its vocabulary)");
      if (per_sample % shards != 0)
        c.fail("params.seq_shards", std::to_string(p.seq_shards), "a divisor of the sequence");
      dst = c.out_i32(i, count);
      bytes = static_cast<std::size_t>(count) * sizeof(std::int32_t);
      host = c.rank.host_staging(c.op.id, i, bytes);
      std::vector<std::int32_t> natural(static_cast<std::size_t>(count));
      c.rank.data().tokens(first, batch, per_sample, vocab, what == "tokens" ? natural.data() : nullptr,
                           what == "targets" ? natural.data() : nullptr);
      auto* out = static_cast<std::int32_t*>(host);
      const std::int64_t local = per_sample / shards;
      for (std::int64_t b = 0; b < batch; ++b)
        for (std::int64_t tt = 0; tt < per_sample; ++tt)
          out[((tt / local) * batch + b) * local + tt % local] = natural[static_cast<std::size_t>(b * per_sample + tt)];
    } else if (what == "labels") {
      dst = c.out_i32(i, count);
      bytes = static_cast<std::size_t>(count) * sizeof(std::int32_t);
      host = c.rank.host_staging(c.op.id, i, bytes);
      std::vector<std::int32_t> labels(static_cast<std::size_t>(batch));
      c.rank.data().examples(first, batch, 0, c.rank.classes(), nullptr, labels.data());
      auto* out = static_cast<std::int32_t*>(host);
      for (std::int64_t b = 0; b < batch; ++b)
        for (std::int64_t e = 0; e < per_sample; ++e) out[b * per_sample + e] = labels[static_cast<std::size_t>(b)];
    } else if (what == "features" || what == "images") {
      const DeviceTensor out = c.out_f(i, count);
      dst = out.data;
      bytes = static_cast<std::size_t>(count * dtype_bytes(out.dtype));
      host = c.rank.host_staging(c.op.id, i, bytes);
      std::vector<float> values(static_cast<std::size_t>(count));
      c.rank.data().examples(first, batch, per_sample, c.rank.classes(), values.data(), nullptr);
      cpu::cast_from_float(host, out.dtype, values.data(), count);
    } else {
      c.fail("params.content", "\"" + what + "\"",
             "\"tokens\", \"targets\", \"features\", \"labels\", \"images\" or \"\" (a plain transfer)");
    }
    CUDA_CHECK(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, c.stream));
  }
}

void run_delay(Ctx& c) {
  device_delay(c.params<plan::DelayParams>().ns, c.stream);
}

// --- elementwise -----------------------------------------------------------------------------------

void ew_residual_add(Ctx& c) {
  c.expect(2, 1, "inputs [a, b] and outputs [out]");
  const std::int64_t n = main_count(c, c.input(0));
  residual_add(c.out_f(0, n), c.in_f(0, n), c.in_f(1, n), n, c.stream);
}

void ew_add_inplace(Ctx& c) {
  c.expect(1, 1, "inputs [a] and outputs [out]");
  const std::int64_t n = main_count(c, c.input(0));
  add_inplace(c.out_f(0, n), c.in_f(0, n), n, c.stream);
}

template <void (*Fwd)(DeviceTensor, ConstDeviceTensor, std::int64_t, DeviceStream)>
void ew_unary(Ctx& c) {
  c.expect(1, 1, "inputs [x] and outputs [y]");
  const std::int64_t n = main_count(c, c.input(0));
  Fwd(c.out_f(0, n), c.in_f(0, n), n, c.stream);
}

template <void (*Bwd)(DeviceTensor, ConstDeviceTensor, ConstDeviceTensor, std::int64_t, DeviceStream)>
void ew_unary_backward(Ctx& c) {
  c.expect(2, 1, "inputs [x or y, dy] and outputs [dx]");
  const std::int64_t n = main_count(c, c.input(0));
  Bwd(c.out_f(0, n), c.in_f(0, n), c.in_f(1, n), n, c.stream);
}

void ew_swiglu(Ctx& c) {
  c.expect(1, 1, "inputs [x(.., 2F)] and outputs [y(.., F)]");
  const std::int64_t f = last_dim(c, c.output(0), "outputs[0]"), rows = Ctx::elements(c.output(0)) / f;
  swiglu_forward(c.out_f(0, rows * f), c.in_f(0, rows * 2 * f), rows, f, c.stream);
}

void ew_swiglu_backward(Ctx& c) {
  c.expect(2, 1, "inputs [x(.., 2F), dy(.., F)] and outputs [dx(.., 2F)]");
  const std::int64_t f = last_dim(c, c.input(1), "inputs[1]"), rows = Ctx::elements(c.input(1)) / f;
  swiglu_backward(c.out_f(0, rows * 2 * f), c.in_f(0, rows * 2 * f), c.in_f(1, rows * f), rows, f, c.stream);
}

void ew_dropout(Ctx& c) {
  c.expect(1, 2, "inputs [x] and outputs [y, mask]");
  const auto& p = c.params<ElementwiseParams>();
  if (!(p.scalar >= 0.0 && p.scalar < 1.0))
    c.fail("params.scalar", std::to_string(p.scalar), "a dropout probability in [0, 1)");
  const std::int64_t n = main_count(c, c.input(0));
  dropout_forward(c.out_f(0, n), c.out_u8(1, n), c.in_f(0, n), n, static_cast<float>(p.scalar),
                  c.rank.dropout_key(c.op), c.stream);
}

void ew_dropout_backward(Ctx& c) {
  c.expect(2, 1, "inputs [dy, mask] and outputs [dx]");
  const auto& p = c.params<ElementwiseParams>();
  const std::int64_t n = main_count(c, c.input(0));
  dropout_backward(c.out_f(0, n), c.in_f(0, n), c.in_u8(1, n), n, static_cast<float>(p.scalar), c.stream);
}

cpu::RopeShape rope_shape(Ctx& c) {
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

void ew_rope(Ctx& c) {
  c.expect(1, 1, "inputs [qkv] and outputs [qkv_out]");
  const cpu::RopeShape s = rope_shape(c);
  const std::int64_t n = s.batch * s.seq * (s.heads + 2 * s.kv_heads) * s.head_dim;
  rope_forward(c.out_f(0, n), c.in_f(0, n), s, c.scratch, c.stream);
}

void ew_rope_backward(Ctx& c) {
  c.expect(1, 1, "inputs [dqkv] and outputs [dqkv_out]");
  const cpu::RopeShape s = rope_shape(c);
  const std::int64_t n = s.batch * s.seq * (s.heads + 2 * s.kv_heads) * s.head_dim;
  rope_backward(c.out_f(0, n), c.in_f(0, n), s, c.scratch, c.stream);
}

void ew_bias_grad(Ctx& c) {
  c.expect(1, 1, "inputs [dy(rows, n)] and outputs [dbias(n)]");
  const std::int64_t n = Ctx::elements(c.output(0)), rows = Ctx::elements(c.input(0)) / std::max<std::int64_t>(1, n);
  bias_grad(c.out_f(0, n), c.in_f(0, rows * n), rows, n, c.scratch, c.stream);
}

void ew_bias_add(Ctx& c) {
  c.expect(2, 1, "inputs [x(rows, n), bias(n)] and outputs [x]");
  const std::int64_t n = Ctx::elements(c.input(1)), rows = Ctx::elements(c.output(0)) / std::max<std::int64_t>(1, n);
  bias_add(c.out_f(0, rows * n), c.in_f(1, n), rows, n, c.stream);
}

std::int64_t position_offset(Ctx& c, std::int64_t t_local, std::int64_t shards) {
  const auto& p = c.params<ElementwiseParams>();
  return static_cast<std::int64_t>(std::llround(p.scalar)) +
         (shards > 1 ? c.rank.group_index(GroupKind::tp) * t_local : 0);
}

void ew_position_add(Ctx& c) {
  c.expect(2, 1, "inputs [x(B,T,C), wpe(maxT,C)] and outputs [x]");
  const auto& d = c.params<ElementwiseParams>().dims;
  if (d.size() < 3) c.fail("params.dims", std::to_string(d.size()) + " values", "{B, T_local, C, seq_shards}");
  const std::int64_t shards = d.size() > 3 ? std::max<std::int64_t>(1, d[3]) : 1;
  const std::int64_t off = position_offset(c, d[1], shards);
  const ConstDeviceTensor wpe = c.in_f(1, (off + d[1]) * d[2]);
  position_add_forward(c.out_f(0, d[0] * d[1] * d[2]), wpe, d[0], d[1], d[2], off, c.stream);
}

void ew_position_add_backward(Ctx& c) {
  c.expect(1, 1, "inputs [dx(B,T,C)] and outputs [dwpe]");
  const auto& d = c.params<ElementwiseParams>().dims;
  if (d.size() < 3) c.fail("params.dims", std::to_string(d.size()) + " values", "{B, T_local, C, seq_shards}");
  const std::int64_t shards = d.size() > 3 ? std::max<std::int64_t>(1, d[3]) : 1;
  const std::int64_t off = position_offset(c, d[1], shards);
  const ConstDeviceTensor dx = c.in_f(0, d[0] * d[1] * d[2]);
  position_add_backward(c.out_f(0, (off + d[1]) * d[2]), dx, d[0], d[1], d[2], off, c.stream);
}

void ew_xent_parallel_max(Ctx& c) {
  c.expect(1, 1, "inputs [logits(rows, V/t)] and outputs [max(rows)]");
  const std::int64_t rows = Ctx::elements(c.output(0)), v = Ctx::elements(c.input(0)) / std::max<std::int64_t>(1, rows);
  xent_parallel_max(c.out_stat(0, rows), c.in_f(0, rows * v), rows, v, c.stream);
}

void ew_xent_parallel_stats(Ctx& c) {
  c.expect(3, 1, "inputs [logits, max, targets] and outputs [stats(2, rows)]");
  const std::int64_t rows = Ctx::elements(c.input(1)), v = Ctx::elements(c.input(0)) / std::max<std::int64_t>(1, rows);
  xent_parallel_stats(c.out_stat(0, 2 * rows), c.in_f(0, rows * v), c.in_stat(1, rows), c.in_i32(2, rows), rows, v,
                      v * c.rank.group_index(GroupKind::tp), c.stream);
}

void ew_xent_parallel_loss(Ctx& c) {
  c.expect(2, 1, "inputs [stats, max] and outputs [losses]");
  const std::int64_t rows = Ctx::elements(c.input(1));
  float* losses = c.out_stat(0, rows);
  xent_parallel_loss(losses, c.in_stat(0, 2 * rows), c.in_stat(1, rows), nullptr, rows, c.stream);
  accumulate_losses(c.rank.device_stats(), losses, nullptr, rows, c.stream);
}

void ew_xent_parallel_backward(Ctx& c) {
  c.expect(4, 1, "inputs [logits, targets, max, stats] and outputs [dlogits]");
  const std::int64_t rows = Ctx::elements(c.input(2)), v = Ctx::elements(c.input(0)) / std::max<std::int64_t>(1, rows);
  const float scale = static_cast<float>(c.params<ElementwiseParams>().scalar * c.rank.loss_scale());
  xent_parallel_backward(c.out_f(0, rows * v), c.in_f(0, rows * v), c.in_i32(1, rows), c.in_stat(2, rows),
                         c.in_stat(3, 2 * rows), rows, v, v * c.rank.group_index(GroupKind::tp), scale, c.stream);
}

void ew_scale(Ctx& c) {
  c.expect(0, 1, "outputs [x] (in place)");
  const std::int64_t n = main_count(c, c.output(0));
  scale_inplace(c.out_f(0, n), n, static_cast<float>(c.params<ElementwiseParams>().scalar), c.stream);
}

void ew_zero(Ctx& c) {
  for (std::size_t i = 0; i < c.outputs(); ++i)
    CUDA_CHECK(cudaMemsetAsync(c.out_raw(i), 0, static_cast<std::size_t>(c.output(i).bytes), c.stream));
}

void ew_check_finite(Ctx& c) {
  c.expect(0, 1, "inputs [x...] and outputs [flag]");
  float* flag = c.out_stat(0, 1);
  CUDA_CHECK(cudaMemsetAsync(flag, 0, sizeof(float), c.stream));
  for (std::size_t i = 0; i < c.inputs(); ++i) {
    const std::int64_t n = Ctx::elements(c.input(i));
    mark_nonfinite(flag, c.in_f(i, n), n, c.stream);
  }
}

void ew_grad_norm_sq(Ctx& c) {
  c.expect(0, 1, "inputs [x...] and outputs [acc]");
  std::vector<ConstDeviceTensor> xs;
  std::vector<std::int64_t> counts;
  for (std::size_t i = 0; i < c.inputs(); ++i) {
    counts.push_back(Ctx::elements(c.input(i)));
    xs.push_back(c.in_f(i, counts.back()));
  }
  const double scalar = c.params<ElementwiseParams>().scalar;
  grad_norm_sq(c.out_stat(0, 1), xs.data(), counts.data(), xs.size(), scalar != 0.0 ? scalar : 1.0, c.scratch,
               c.stream);
}

void ew_copy(Ctx& c) {
  c.expect(1, 1, "inputs [x] and outputs [y]");
  const plan::Tensor& x = c.input(0);
  const plan::Tensor& y = c.output(0);
  const std::int64_t n = std::min(main_count(c, x), Ctx::elements(y));
  if (n > Ctx::elements(x))
    c.fail("inputs[0]", std::to_string(Ctx::elements(x)) + " elements", "at least params.elements");
  if (x.dtype == y.dtype) {
    CUDA_CHECK(cudaMemcpyAsync(c.out_raw(0), c.in_raw(0), static_cast<std::size_t>(n * dtype_bytes(x.dtype)),
                               cudaMemcpyDeviceToDevice, c.stream));
  } else {
    convert(c.out_f(0, n), c.in_f(0, n), n, c.stream);
  }
}

void ew_clip_by_norm(Ctx& c) {
  c.expect(1, 0, "inputs [norm_sq] and outputs [x...]");
  const double ls = c.rank.loss_scale();
  const float* norm_sq = c.in_stat(0, 1);
  for (std::size_t i = 0; i < c.outputs(); ++i) {
    const std::int64_t n = Ctx::elements(c.output(i));
    clip_by_norm(c.out_f(i, n), n, norm_sq, ls * ls, c.params<ElementwiseParams>().scalar, c.stream);
  }
}

void ew_maxpool(Ctx& c) {
  c.expect(1, 2, "inputs [x] and outputs [y, argmax]");
  const cpu::PoolShape s = pool_shape(c, c.input(0));
  const std::int64_t nx = s.batch * s.height * s.width * s.channels,
                     ny = s.batch * s.out_height() * s.out_width() * s.channels;
  maxpool_forward(c.out_f(0, ny), c.out_i32(1, ny), c.in_f(0, nx), s, c.stream);
}

void ew_maxpool_backward(Ctx& c) {
  c.expect(2, 1, "inputs [dy, argmax] and outputs [dx]");
  const cpu::PoolShape s = pool_shape(c, c.output(0));
  const std::int64_t nx = s.batch * s.height * s.width * s.channels,
                     ny = s.batch * s.out_height() * s.out_width() * s.channels;
  maxpool_backward(c.out_f(0, nx), c.in_f(0, ny), c.in_i32(1, ny), s, c.stream);
}

void ew_global_avgpool(Ctx& c) {
  c.expect(1, 1, "inputs [x(N,H,W,C)] and outputs [y(N,C)]");
  const cpu::PoolShape s = pool_shape(c, c.input(0));
  global_avgpool_forward(c.out_f(0, s.batch * s.channels), c.in_f(0, s.batch * s.height * s.width * s.channels), s,
                         c.stream);
}

void ew_global_avgpool_backward(Ctx& c) {
  c.expect(1, 1, "inputs [dy(N,C)] and outputs [dx(N,H,W,C)]");
  const cpu::PoolShape s = pool_shape(c, c.output(0));
  global_avgpool_backward(c.out_f(0, s.batch * s.height * s.width * s.channels), c.in_f(0, s.batch * s.channels), s,
                          c.stream);
}

CudaKernelRegistry build_registry() {
  CudaKernelRegistry r;
  auto set = [&](OpKind k, CudaKernelFn f) { r.by_kind[static_cast<std::size_t>(k)] = f; };
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
      {"gelu", ew_unary<gelu_forward>},
      {"gelu_backward", ew_unary_backward<gelu_backward>},
      {"relu", ew_unary<relu_forward>},
      {"relu_backward", ew_unary_backward<relu_backward>},
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

const CudaKernelRegistry& CudaKernelRegistry::get() {
  static const CudaKernelRegistry registry = build_registry();
  return registry;
}

CudaKernelFn CudaKernelRegistry::find(const plan::Op& op, const std::string& where) const {
  if (op.kind == OpKind::elementwise) {
    const auto& name = std::get<plan::ElementwiseParams>(op.params).name;
    auto it = elementwise.find(name);
    if (it == elementwise.end()) {
      std::string names;
      for (const auto& [n, fn] : elementwise) names += (names.empty() ? "" : ", ") + ("\"" + n + "\"");
      throw InputError(where + " params.name", "\"" + name + "\"",
                       "an elementwise kernel name of the CUDA backend: one of " + names);
    }
    return it->second;
  }
  const CudaKernelFn fn = by_kind.at(static_cast<std::size_t>(op.kind));
  require(fn != nullptr, "no CUDA kernel for op kind " + std::string(to_string(op.kind)));
  return fn;
}

std::vector<std::string> CudaKernelRegistry::elementwise_names() const {
  std::vector<std::string> out;
  for (const auto& [n, fn] : elementwise) out.push_back(n);
  return out;
}

}  // namespace clustersim::executor::cuda::detail
