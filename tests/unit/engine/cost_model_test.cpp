// Tests of the compute cost models (cost_model.hpp): the roofline formula term by term, the
// calibrated model's interpolation (exact at measured points, monotone between them, fallbacks
// reported) and the registry's errors.
#include <gtest/gtest.h>

#include <cmath>

#include "clustersim/engine/cost_model.hpp"
#include "test_plans.hpp"

namespace clustersim::engine {
namespace {

using test::test_hardware;

plan::Op gemm_op(std::int64_t m, std::int64_t n, std::int64_t k, DType dtype, std::int64_t batch = 1) {
  plan::Op op;
  op.kind = OpKind::gemm;
  plan::GemmParams g;
  g.m = m, g.n = n, g.k = k, g.dtype = dtype, g.batch = batch;
  op.params = g;
  return op;
}

plan::Op elementwise_op(std::string name, std::int64_t bytes_read, std::int64_t bytes_written, double flops = 0) {
  plan::Op op;
  op.kind = OpKind::elementwise;
  plan::ElementwiseParams e;
  e.name = std::move(name), e.bytes_read = bytes_read, e.bytes_written = bytes_written, e.flops = flops;
  op.params = e;
  return op;
}

const plan::Plan kNoTensors;

TEST(Roofline, ComputeBoundGemmUsesTheGemmCurveAtItsFlops) {
  plan::Hardware hw = test_hardware(1, 1);
  hw.gpu.efficiency["gemm"] = {0.7, 5e9};
  const auto model = make_cost_model("roofline", hw);
  const double f = 2.0 * 8192 * 8192 * 8192;
  const double expected_s = f / (200e12 * (0.7 * f / (f + 5e9)));
  EXPECT_DOUBLE_EQ(roofline_kernel_s(kNoTensors, gemm_op(8192, 8192, 8192, DType::bf16), hw.gpu), expected_s);
  EXPECT_EQ(model->op_cost(kNoTensors, gemm_op(8192, 8192, 8192, DType::bf16)).time_ns,
            std::llround(expected_s * 1e9) + 2000);
  // Batched: batch x the FLOPs at the same rate.
  const double fb = 4 * 2.0 * 64 * 64 * 64;
  EXPECT_DOUBLE_EQ(roofline_kernel_s(kNoTensors, gemm_op(64, 64, 64, DType::bf16, 4), hw.gpu),
                   fb / (200e12 * (0.7 * fb / (fb + 5e9))));
}

TEST(Roofline, MemoryBoundOpUsesBandwidthAndTheMemoryCurve) {
  plan::Hardware hw = test_hardware(1, 1);
  hw.gpu.efficiency["memory"] = {0.85, 2e6};
  const double bytes = 3e8;
  // 3e8 bytes with 1e8 FLOPs: the byte term (0.35 ms) dominates the fp32 CUDA-core term (10 us).
  const auto op = elementwise_op("gelu", 2e8, 1e8, 1e8);
  EXPECT_DOUBLE_EQ(roofline_kernel_s(kNoTensors, op, hw.gpu), bytes / (1000e9 * (0.85 * bytes / (bytes + 2e6))));
}

TEST(Roofline, OptimizerIsMemoryBoundAndReadsModifiesWrites) {
  const plan::Hardware hw = test_hardware(1, 1);
  plan::Plan p;
  for (int i = 0; i < 5; ++i) {
    plan::Tensor t;
    t.id = i, t.bytes = 4'000'000, t.dtype = DType::fp32, t.shape = {1'000'000};
    p.tensors.push_back(t);
  }
  plan::Op op;
  op.kind = OpKind::optimizer;
  plan::OptimizerParams o;
  o.params = 1'000'000;
  op.params = o;
  op.inputs = {0};
  op.outputs = {1, 2, 3, 4};
  // op_bytes: grad read once + 4 updated tensors read and written = 36 MB; 12 FLOPs/param = 12 MFLOP.
  EXPECT_DOUBLE_EQ(roofline_kernel_s(p, op, hw.gpu), std::max(36e6 / 1000e9, 12e6 / 10e12));
}

TEST(Roofline, MissingRateIsAnInputError) {
  plan::Hardware hw = test_hardware(1, 1);
  hw.gpu.peak_tflops.erase(DType::fp8_e4m3);
  EXPECT_THROW(roofline_kernel_s(kNoTensors, gemm_op(64, 64, 64, DType::fp8_e5m2), hw.gpu), InputError);
}

TEST(Roofline, IoAndDelay) {
  const auto model = make_cost_model("roofline", test_hardware(1, 1));
  plan::Op io;
  io.kind = OpKind::io;
  plan::IoParams iop;
  iop.bytes = 32'000'000;
  io.params = iop;
  EXPECT_EQ(model->op_cost(kNoTensors, io).time_ns, std::llround((1e-6 + 32e6 / 32e9) * 1e9));  // 256 Gbit/s
  plan::Op d;
  d.kind = OpKind::delay;
  d.params = plan::DelayParams{12345, "x"};
  EXPECT_EQ(model->op_cost(kNoTensors, d).time_ns, 12345);
}

TEST(CostModelRegistry, UnknownNameListsTheModels) {
  EXPECT_EQ(cost_model_names(), (std::vector<std::string>{"roofline", "calibrated"}));
  try {
    make_cost_model("magic", test_hardware(1, 1));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "simulation.cost_model");
    EXPECT_EQ(e.allowed(), "one of \"roofline\", \"calibrated\"");
  }
  EXPECT_THROW(make_cost_model("calibrated", test_hardware(1, 1)), InputError);
}

// --- calibrated -------------------------------------------------------------------------------------

// A synthetic "measured" GEMM: overhead + FLOPs at a rate that grows with every dimension, so the
// times are not a function of FLOPs alone (as on a real CPU).
double synthetic_gemm_ns(double m, double n, double k) {
  auto eff = [](double d) { return std::pow(std::min(1.0, d / 512.0), 0.35); };
  return 3000.0 + 2.0 * m * n * k / (50.0 * eff(m) * eff(n) * eff(k));  // 50 FLOP/ns peak
}

std::shared_ptr<plan::CalibrationProfile> grid_profile() {
  auto p = std::make_shared<plan::CalibrationProfile>();
  p->kernel_overhead_ns = 3000.0;
  for (double m : {32.0, 128.0, 512.0, 2048.0})
    for (double n : {64.0, 256.0, 1024.0})
      for (double k : {64.0, 512.0, 4096.0})
        p->gemm.push_back({DType::fp32, static_cast<std::int64_t>(m), static_cast<std::int64_t>(n),
                           static_cast<std::int64_t>(k), synthetic_gemm_ns(m, n, k)});
  p->memory["elementwise:gelu"] = {{1 << 10, 2000.0}, {1 << 16, 4000.0}, {1 << 22, 90'000.0}};
  p->memory["memory"] = {{1 << 10, 2500.0}, {1 << 22, 100'000.0}};
  p->overlap_compute_slowdown = 1.2;
  return p;
}

TEST(Calibrated, ExactAtMeasuredGemmShapes) {
  const auto profile = grid_profile();
  const auto model = make_cost_model("calibrated", test_hardware(1, 1), profile);
  for (const auto& s : profile->gemm) {
    const OpCost c = model->op_cost(kNoTensors, gemm_op(s.m, s.n, s.k, DType::fp32));
    EXPECT_EQ(c.time_ns, std::llround(s.time_ns)) << s.m << "x" << s.n << "x" << s.k;
    EXPECT_TRUE(c.fallback.empty());
  }
  EXPECT_EQ(model->overlap_slowdown(), 1.2);
}

TEST(Calibrated, GemmMonotoneBetweenMeasuredShapes) {
  const auto model = make_cost_model("calibrated", test_hardware(1, 1), grid_profile());
  // Along each axis through measured shapes, and between them.
  for (std::int64_t n : {64, 256, 1024, 700})
    for (std::int64_t k : {64, 512, 4096, 1500}) {
      std::int64_t previous = 0;
      for (std::int64_t m = 32; m <= 2048; m += 8) {
        const std::int64_t t = model->op_cost(kNoTensors, gemm_op(m, n, k, DType::fp32)).time_ns;
        ASSERT_GE(t, previous) << "m=" << m << " n=" << n << " k=" << k;
        previous = t;
      }
    }
  // Close to the synthetic truth off the grid, although the grid is coarse (4x to 8x between
  // measured sizes) and the efficiency bends inside the cells: interpolation, not a fit of the truth.
  for (const auto& [m, n, k] :
       std::vector<std::array<double, 3>>{{300, 500, 1000}, {1000, 128, 200}, {64, 800, 3000}}) {
    const double t = static_cast<double>(
        model
            ->op_cost(kNoTensors, gemm_op(static_cast<std::int64_t>(m), static_cast<std::int64_t>(n),
                                          static_cast<std::int64_t>(k), DType::fp32))
            .time_ns);
    EXPECT_NEAR(t / synthetic_gemm_ns(m, n, k), 1.0, 0.15) << m << "x" << n << "x" << k;
  }
}

TEST(Calibrated, GemmOfAnotherDtypeFallsBackAndSaysSo) {
  const auto model = make_cost_model("calibrated", test_hardware(1, 1), grid_profile());
  const OpCost tf = model->op_cost(kNoTensors, gemm_op(128, 256, 512, DType::tf32));
  EXPECT_EQ(tf.time_ns, std::llround(synthetic_gemm_ns(128, 256, 512)));
  EXPECT_EQ(tf.fallback, "gemm tf32 from fp32 samples");
  EXPECT_EQ(model->op_cost(kNoTensors, gemm_op(128, 256, 512, DType::bf16)).fallback,
            "gemm bf16 from all gemm samples");
}

TEST(Calibrated, MemoryOpsInterpolateLogLogAndFollowTheKeyChain) {
  const auto model = make_cost_model("calibrated", test_hardware(1, 1), grid_profile());
  // Exact at the samples (bytes = read + written).
  EXPECT_EQ(model->op_cost(kNoTensors, elementwise_op("gelu", 1 << 9, 1 << 9)).time_ns, 2000);
  EXPECT_EQ(model->op_cost(kNoTensors, elementwise_op("gelu", 1 << 15, 1 << 15)).time_ns, 4000);
  // Between: straight line in log-log: at 2^13 bytes, 2000 * 2^(3/6).
  EXPECT_EQ(model->op_cost(kNoTensors, elementwise_op("gelu", 1 << 12, 1 << 12)).time_ns,
            std::llround(2000.0 * std::sqrt(2.0)));
  // Monotone between samples.
  std::int64_t previous = 0;
  for (std::int64_t b = 1 << 10; b <= (1 << 22); b += b / 16) {
    const auto t = model->op_cost(kNoTensors, elementwise_op("gelu", b / 2, b - b / 2)).time_ns;
    ASSERT_GE(t, previous) << b;
    previous = t;
  }
  // Beyond the last sample: constant bandwidth.
  EXPECT_EQ(model->op_cost(kNoTensors, elementwise_op("gelu", 1 << 22, 1 << 22)).time_ns, 180'000);
  // No "elementwise:relu" (nor "elementwise") table: the catch-all "memory" key, reported.
  const OpCost relu = model->op_cost(kNoTensors, elementwise_op("relu", 1 << 9, 1 << 9));
  EXPECT_EQ(relu.time_ns, 2500);
  EXPECT_EQ(relu.fallback, "elementwise:relu from \"memory\" samples");
}

// The CPU backend converts each element to fp32, so a bf16 gelu takes about as long per element as
// an fp32 one, i.e. twice as long per byte: bf16 ops read their own "@bf16" samples; an op of a
// dtype without such samples falls back to the fp32 key, and says so.
TEST(Calibrated, MemoryOpsOfAnotherStorageDtypeUseTheirOwnSamples) {
  auto profile = grid_profile();
  profile->memory["elementwise:gelu@bf16"] = {{1 << 10, 3000.0}, {1 << 22, 150'000.0}};
  const auto model = make_cost_model("calibrated", test_hardware(1, 1), profile);
  plan::Plan p;
  for (DType d : {DType::bf16, DType::fp16, DType::fp32}) {
    plan::Tensor t;
    t.id = static_cast<plan::TensorId>(p.tensors.size()), t.dtype = d, t.bytes = 512;
    p.tensors.push_back(t);
  }
  plan::Op bf16 = elementwise_op("gelu", 1 << 9, 1 << 9);
  bf16.inputs = {0};
  const OpCost c = model->op_cost(p, bf16);
  EXPECT_EQ(c.time_ns, 3000);
  EXPECT_TRUE(c.fallback.empty()) << c.fallback;
  plan::Op fp16 = elementwise_op("gelu", 1 << 9, 1 << 9);
  fp16.inputs = {1};
  const OpCost h = model->op_cost(p, fp16);
  EXPECT_EQ(h.time_ns, 2000);
  EXPECT_EQ(h.fallback, "elementwise:gelu@fp16 from \"elementwise:gelu\" samples");
  plan::Op fp32 = elementwise_op("gelu", 1 << 9, 1 << 9);
  fp32.inputs = {2};
  EXPECT_EQ(model->op_cost(p, fp32).time_ns, 2000);
}

TEST(Calibrated, OpsWithoutSamplesFallBackToRoofline) {
  auto profile = std::make_shared<plan::CalibrationProfile>();  // empty
  const plan::Hardware hw = test_hardware(1, 1);
  const auto model = make_cost_model("calibrated", hw, profile);
  const OpCost c = model->op_cost(kNoTensors, gemm_op(1024, 1024, 1024, DType::bf16));
  EXPECT_EQ(c.time_ns, std::llround(2.0 * 1024 * 1024 * 1024 / 200e12 * 1e9) + 2000);
  EXPECT_EQ(c.fallback, "roofline (no samples for gemm)");
  EXPECT_EQ(model->op_cost(kNoTensors, elementwise_op("gelu", 100, 100)).fallback,
            "roofline (no samples for elementwise:gelu)");
}

TEST(Calibrated, AttentionExactAtSamplesAndScaledByFlops) {
  auto profile = std::make_shared<plan::CalibrationProfile>();
  profile->attention = {{DType::bf16, 2, 8, 8, 512, 64, true, true, Direction::forward, 40'000.0},
                        {DType::bf16, 2, 8, 8, 2048, 64, true, true, Direction::forward, 400'000.0}};
  const auto model = make_cost_model("calibrated", test_hardware(1, 1), profile);
  plan::Op op;
  op.kind = OpKind::attention;
  plan::AttentionParams a;
  a.batch = 2, a.heads = 8, a.kv_heads = 8, a.seq_q = 512, a.seq_kv = 512, a.head_dim = 64;
  op.params = a;
  EXPECT_EQ(model->op_cost(kNoTensors, op).time_ns, 40'000);
  a.seq_q = a.seq_kv = 2048;
  op.params = a;
  EXPECT_EQ(model->op_cost(kNoTensors, op).time_ns, 400'000);
  a.direction = Direction::backward;  // no backward samples: forward ones, scaled by FLOPs, reported
  op.params = a;
  const OpCost back = model->op_cost(kNoTensors, op);
  EXPECT_FALSE(back.fallback.empty());
  EXPECT_GT(back.time_ns, 400'000);
}

}  // namespace
}  // namespace clustersim::engine
