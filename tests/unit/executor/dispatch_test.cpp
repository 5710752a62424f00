// Tests for the interpreter's dispatch (executor/src/runtime/dispatch.cpp through worker.hpp): op
// kinds and elementwise names whose tensor lists, params.dims and scalars need plumbing are run as
// plan ops and compared with direct calls of the CPU kernels on the same values.
#include <gtest/gtest.h>

#include <cmath>

#include "clustersim/executor/cpu/activation.hpp"
#include "clustersim/executor/cpu/attention.hpp"
#include "clustersim/executor/cpu/conv.hpp"
#include "clustersim/executor/cpu/embedding.hpp"
#include "clustersim/executor/cpu/pool.hpp"
#include "clustersim/executor/cpu/softmax_xent.hpp"
#include "clustersim/executor/numeric.hpp"
#include "clustersim/executor/worker.hpp"
#include "kernel_test_util.hpp"
#include "test_plans.hpp"

namespace clustersim::executor {
namespace {

using test::PlanBuilder;
using test::random_floats;

// Runs a plan whose tensors are all persistent after filling `inputs`; returns the worker.
struct PlanRun {
  std::unique_ptr<CommunicatorFactory> comms = make_local_communicators();
  std::unique_ptr<Worker> worker;
  StepReport report;
  PlanRun(const plan::Plan& p, const std::vector<std::pair<plan::TensorId, std::vector<float>>>& inputs) {
    worker = std::make_unique<Worker>(p, *comms, RunOptions{});
    for (const auto& [id, values] : inputs) worker->write_tensor(id, values);
    report = worker->run_step();
  }
  std::vector<float> operator[](plan::TensorId id) const { return worker->read_tensor(id); }
};

plan::ElementwiseParams ew(const std::string& name, double scalar, std::vector<std::int64_t> dims) {
  plan::ElementwiseParams e;
  e.name = name;
  e.scalar = scalar;
  e.dims = std::move(dims);
  return e;
}

TEST(Dispatch, RopeUsesDimsAndThetaAndShardedRows) {
  PlanBuilder b;
  const auto x = b.tensor("x", DType::fp32, {2 * 4, 16}, TensorRole::activation, true);
  const auto y = b.tensor("y", DType::fp32, {2 * 4, 16}, TensorRole::activation, true);
  const auto dx = b.tensor("dx", DType::fp32, {2 * 4, 16}, TensorRole::activation, true);
  b.op("rope", OpKind::elementwise, ew("rope", 100.0, {2, 4, 2, 1, 4, 2}), {x}, {y});
  b.op("rope_bwd", OpKind::elementwise, ew("rope_backward", 100.0, {2, 4, 2, 1, 4, 2}), {y}, {dx});
  const auto xv = random_floats(128, 1);
  PlanRun r(b.p, {{x, xv}});
  const cpu::RopeShape s{
      .batch = 2, .seq = 4, .heads = 2, .kv_heads = 1, .head_dim = 4, .theta = 100.0, .seq_shards = 2};
  std::vector<float> expect(128);
  cpu::rope_forward(expect.data(), xv.data(), s);
  EXPECT_EQ(r[y], expect);
  EXPECT_LT(test::rel_error(r[dx], test::to_double(xv)), 1e-6);  // backward undoes the rotation
}

TEST(Dispatch, SwigluTakesFFromTheOutputShape) {
  PlanBuilder b;
  const auto x = b.tensor("x", DType::fp32, {3, 8}, TensorRole::activation, true);
  const auto y = b.tensor("y", DType::fp32, {3, 4}, TensorRole::activation, true);
  b.elementwise("swiglu", "swiglu", {x}, {y});
  const auto xv = random_floats(24, 2);
  PlanRun r(b.p, {{x, xv}});
  std::vector<float> expect(12);
  cpu::swiglu_forward(expect.data(), xv.data(), 3, 4);
  EXPECT_EQ(r[y], expect);
}

TEST(Dispatch, PositionAddUsesTheScalarOffset) {
  PlanBuilder b;
  const auto x = b.tensor("x", DType::fp32, {2, 3, 2}, TensorRole::activation, true);
  const auto wpe = b.tensor("wpe", DType::fp32, {5, 2}, TensorRole::weight, true);
  const auto dwpe = b.tensor("dwpe", DType::fp32, {5, 2}, TensorRole::grad, true);
  b.op("pos", OpKind::elementwise, ew("position_add", 1.0, {2, 3, 2, 1}), {x, wpe}, {x});
  b.op("pos_bwd", OpKind::elementwise, ew("position_add_backward", 2.0, {2, 3, 2, 1}), {x}, {dwpe});
  const std::vector<float> xv(12, 0.0f), wv = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4};
  PlanRun r(b.p, {{x, xv}, {wpe, wv}});
  EXPECT_EQ(r[x], (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  // dwpe rows 2..4 += x summed over the batch
  EXPECT_EQ(r[dwpe], (std::vector<float>{0, 0, 0, 0, 2, 2, 4, 4, 6, 6}));
}

TEST(Dispatch, VocabParallelCrossEntropyChainMatchesSoftmaxXent) {
  const std::int64_t R = 4, V = 5;
  PlanBuilder b;
  const auto logits = b.tensor("logits", DType::fp32, {R, V}, TensorRole::activation, true);
  const auto targets = b.tensor("targets", DType::int32, {R}, TensorRole::input, true);
  const auto max = b.tensor("max", DType::fp32, {R}, TensorRole::activation, true);
  const auto stats = b.tensor("stats", DType::fp32, {2, R}, TensorRole::activation, true);
  const auto losses = b.tensor("losses", DType::fp32, {R}, TensorRole::activation, true);
  b.elementwise("max", "xent_parallel_max", {logits}, {max});
  b.elementwise("stats", "xent_parallel_stats", {logits, max, targets}, {stats});
  b.elementwise("loss", "xent_parallel_loss", {stats, max}, {losses});
  b.elementwise("bwd", "xent_parallel_backward", {logits, targets, max, stats}, {logits}, {}, {}, 0.25);
  const auto lv = random_floats(static_cast<std::size_t>(R * V), 3, -2.0f, 2.0f);
  const std::vector<float> tv = {0, 4, 2, 3};
  PlanRun r(b.p, {{logits, lv}, {targets, tv}});
  const std::vector<std::int32_t> ti = {0, 4, 2, 3};
  std::vector<float> expect_loss(static_cast<std::size_t>(R)), expect_d(lv.size());
  cpu::softmax_xent_forward(expect_loss.data(), lv.data(), ti.data(), R, V);
  cpu::softmax_xent_backward(expect_d.data(), lv.data(), ti.data(), R, V, 0.25f);
  EXPECT_LT(test::rel_error(r[losses], test::to_double(expect_loss)), 1e-6);
  EXPECT_LT(test::rel_error(r[logits], test::to_double(expect_d)), 1e-6);
  double mean = 0.0;
  for (float l : expect_loss) mean += l / R;
  EXPECT_NEAR(r.report.loss, mean, 1e-6);  // the chain's losses count towards the step's mean loss
}

TEST(Dispatch, MaxpoolWithDimsAndInt32Argmax) {
  PlanBuilder b;
  const std::vector<std::int64_t> dims = {1, 5, 5, 2};
  const auto x = b.tensor("x", DType::fp32, {50}, TensorRole::activation, true);  // flat: dims give NHWC
  const auto y = b.tensor("y", DType::fp32, {1, 3, 3, 2}, TensorRole::activation, true);
  const auto arg = b.tensor("argmax", DType::int32, {1, 3, 3, 2}, TensorRole::activation, true);
  const auto dx = b.tensor("dx", DType::fp32, {50}, TensorRole::activation, true);
  const auto g = b.tensor("g", DType::fp32, {1, 2}, TensorRole::activation, true);
  const auto dg = b.tensor("dg", DType::fp32, {1, 5, 5, 2}, TensorRole::activation, true);
  b.op("pool", OpKind::elementwise, ew("maxpool", 0.0, dims), {x}, {y, arg});
  b.op("pool_bwd", OpKind::elementwise, ew("maxpool_backward", 0.0, dims), {y, arg}, {dx});
  b.op("gap", OpKind::elementwise, ew("global_avgpool", 0.0, {}), {dg}, {g});
  const auto xv = random_floats(50, 4), dgv = random_floats(50, 5);
  PlanRun r(b.p, {{x, xv}, {dg, dgv}});
  const cpu::PoolShape s{1, 5, 5, 2};
  std::vector<float> ey(18), edx(50), eg(2);
  std::vector<std::int32_t> ea(18);
  cpu::maxpool_forward(ey.data(), ea.data(), xv.data(), s);
  cpu::maxpool_backward(edx.data(), ey.data(), ea.data(), s);
  cpu::global_avgpool_forward(eg.data(), dgv.data(), s);
  EXPECT_EQ(r[y], ey);
  EXPECT_EQ(r[dx], edx);
  EXPECT_EQ(r[g], eg);
}

TEST(Dispatch, ConvolutionPasses) {
  const cpu::ConvShape s{.batch = 1,
                         .in_channels = 2,
                         .out_channels = 3,
                         .height = 4,
                         .width = 4,
                         .kernel_h = 3,
                         .kernel_w = 3,
                         .stride = 1,
                         .padding = 1};
  PlanBuilder b;
  const auto x = b.tensor("x", DType::fp32, {1, 4, 4, 2}, TensorRole::activation, true);
  const auto w = b.tensor("w", DType::fp32, {3, 3, 3, 2}, TensorRole::weight, true);
  const auto y = b.tensor("y", DType::fp32, {1, 4, 4, 3}, TensorRole::activation, true);
  const auto dx = b.tensor("dx", DType::fp32, {1, 4, 4, 2}, TensorRole::activation, true);
  const auto dw = b.tensor("dw", DType::fp32, {3, 3, 3, 2}, TensorRole::grad, true);
  plan::Conv2dParams c;
  c.batch = 1, c.in_channels = 2, c.out_channels = 3, c.height = 4, c.width = 4, c.kernel_h = 3, c.kernel_w = 3;
  c.padding = 1;
  b.op("fwd", OpKind::conv2d, c, {x, w}, {y});
  c.pass = plan::ConvPass::backward_data;
  b.op("bwd_data", OpKind::conv2d, c, {y, w}, {dx});
  c.pass = plan::ConvPass::backward_filter;
  b.op("bwd_filter", OpKind::conv2d, c, {y, x}, {dw});
  const auto xv = random_floats(32, 6), wv = random_floats(54, 7);
  PlanRun r(b.p, {{x, xv}, {w, wv}});
  std::vector<float> ws(static_cast<std::size_t>(cpu::conv2d_workspace_elements(s))), ey(48), edx(32), edw(54, 0.0f);
  cpu::conv2d_forward(ey.data(), xv.data(), wv.data(), s, ws.data());
  cpu::conv2d_backward_data(edx.data(), ey.data(), wv.data(), s, ws.data());
  cpu::conv2d_backward_filter(edw.data(), ey.data(), xv.data(), s, ws.data());
  EXPECT_EQ(r[y], ey);
  EXPECT_EQ(r[dx], edx);
  EXPECT_EQ(r[dw], edw);
}

TEST(Dispatch, CastNormSquaresAndClipping) {
  PlanBuilder b;
  const auto x = b.tensor("x", DType::fp32, {4}, TensorRole::activation, true);
  const auto f8 = b.tensor("f8", DType::fp8_e4m3, {4}, TensorRole::activation, true);
  const auto g1 = b.tensor("g1", DType::fp32, {2}, TensorRole::grad, true);
  const auto g2 = b.tensor("g2", DType::bf16, {2}, TensorRole::grad, true);
  const auto nsq = b.tensor("norm_sq", DType::fp32, {1}, TensorRole::workspace, true);
  plan::CastParams cp;
  cp.from = DType::fp32, cp.to = DType::fp8_e4m3, cp.elements = 4;
  b.op("cast", OpKind::cast, cp, {x}, {f8});
  const auto g3 = b.tensor("g3", DType::fp32, {1}, TensorRole::grad, true);  // replicated: weight 1/2
  b.elementwise("norm_zero", "zero", {}, {nsq});
  b.elementwise("norm", "grad_norm_sq", {g1, g2}, {nsq});
  b.elementwise("norm_replicated", "grad_norm_sq", {g3}, {nsq}, {}, {}, 0.5);
  b.elementwise("clip", "clip_by_norm", {nsq}, {g1, g2}, {}, {}, 2.5);
  PlanRun r(b.p, {{x, {0.3f, -1000.0f, 17.0f, 1e-4f}}, {g1, {3, 0}}, {g2, {0, 4}}, {g3, {0}}});
  const auto f8v = r[f8];
  for (int i = 0; i < 4; ++i) {
    const float in[] = {0.3f, -1000.0f, 17.0f, 1e-4f};
    EXPECT_EQ(f8v[static_cast<std::size_t>(i)], fp8_e4m3_to_float(float_to_fp8_e4m3(in[i])));
  }
  EXPECT_EQ(r[nsq], (std::vector<float>{25.0f}));
  EXPECT_EQ(r[g1], (std::vector<float>{1.5f, 0.0f}));  // scaled by 2.5 / 5
  EXPECT_EQ(r[g2], (std::vector<float>{0.0f, 2.0f}));
  // the next step: acc is zeroed, then 1.5^2 + 2^2 + 0.5 * 0
  r.worker->write_tensor(g3, {2.0f});
  r.worker->run_step();
  EXPECT_EQ(r[nsq], (std::vector<float>{1.5f * 1.5f + 2.0f * 2.0f + 0.5f * 4.0f}));
}

TEST(Dispatch, CopyConvertsBetweenDtypes) {
  PlanBuilder b;
  const auto x = b.tensor("x", DType::fp32, {3}, TensorRole::activation, true);
  const auto y = b.tensor("y", DType::bf16, {3}, TensorRole::activation, true);
  const auto z = b.tensor("z", DType::bf16, {3}, TensorRole::activation, true);
  b.elementwise("to_bf16", "copy", {x}, {y});
  b.elementwise("same", "copy", {y}, {z});
  PlanRun r(b.p, {{x, {1.0f, 1.00390625f, -3.5f}}});
  EXPECT_EQ(r[y], (std::vector<float>{1.0f, 1.0f, -3.5f}));  // 1 + 2^-8 ties to even in bf16
  EXPECT_EQ(r[z], r[y]);
}

TEST(Dispatch, NonFlashAttentionWithDropoutWritesConsistentMaskAndDroppedProbs) {
  const std::int64_t T = 8, H = 2, D = 2;
  PlanBuilder b;
  const auto qkv = b.tensor("qkv", DType::fp32, {1, T, 3 * H * D}, TensorRole::activation, true);
  const auto out = b.tensor("out", DType::fp32, {1, T, H * D}, TensorRole::activation, true);
  const auto probs = b.tensor("probs", DType::fp32, {1, H, T, T}, TensorRole::activation, true);
  const auto mask = b.tensor("mask", DType::uint8, {1, H, T, T}, TensorRole::activation, true);
  const auto dropped = b.tensor("dropped", DType::fp32, {1, H, T, T}, TensorRole::activation, true);
  plan::AttentionParams ap;
  ap.batch = 1, ap.heads = H, ap.kv_heads = H, ap.seq_q = T, ap.seq_kv = T, ap.head_dim = D, ap.flash = false;
  ap.dropout = 0.5, ap.causal = false;
  b.op("attn", OpKind::attention, ap, {qkv}, {out, probs, mask, dropped});
  const auto qv = random_floats(static_cast<std::size_t>(T * 3 * H * D), 8);
  PlanRun r(b.p, {{qkv, qv}});
  const auto p = r[probs], m = r[mask], dv = r[dropped];
  int kept = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    ASSERT_TRUE(m[i] == 0.0f || m[i] == 1.0f);
    EXPECT_FLOAT_EQ(dv[i], m[i] * p[i] * 2.0f);
    kept += static_cast<int>(m[i]);
  }
  EXPECT_GT(kept, 64 - 25);
  EXPECT_LT(kept, 64 + 25);
  // out = dropped . V
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t e = 0; e < D; ++e) {
        double acc = 0.0;
        for (std::int64_t j = 0; j < T; ++j)
          acc += dv[static_cast<std::size_t>((h * T + t) * T + j)] *
                 qv[static_cast<std::size_t>(j * 3 * H * D + (2 * H + h) * D + e)];
        EXPECT_NEAR(r[out][static_cast<std::size_t>(t * H * D + h * D + e)], acc, 1e-5);
      }
}

TEST(Dispatch, VocabParallelEmbeddingNeverAddsPositions) {
  PlanBuilder b;
  const auto tokens = b.tensor("tokens", DType::int32, {1, 2}, TensorRole::input, true);
  const auto wte = b.tensor("wte", DType::fp32, {3, 2}, TensorRole::weight, true);
  const auto wpe = b.tensor("wpe", DType::fp32, {2, 2}, TensorRole::weight, true);
  const auto x = b.tensor("x", DType::fp32, {1, 2, 2}, TensorRole::activation, true);
  plan::EmbeddingParams e;
  e.vocab = 3, e.dim = 2, e.batch = 1, e.seq = 2, e.vocab_parallel = true;
  b.op("embed", OpKind::embedding, e, {tokens, wte, wpe}, {x});
  PlanRun r(b.p, {{tokens, {2, 0}}, {wte, {1, 2, 3, 4, 5, 6}}, {wpe, {100, 100, 100, 100}}});
  EXPECT_EQ(r[x], (std::vector<float>{5, 6, 1, 2}));
}

}  // namespace
}  // namespace clustersim::executor
