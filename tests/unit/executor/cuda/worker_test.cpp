// Device tests of cuda/worker.hpp and run_rank_cuda / calibrate_cuda: hand-built plans train on the
// GPU (loss falls, and follows the CPU backend's losses), stream order and deps hold across CUDA
// streams, memory accounting equals the plan's, dynamic loss scaling skips an injected overflow and
// halves the scale, an allocation beyond the device ends the run with CheckFailed naming the op, the
// rank and the bytes, plan errors are reported like the CPU backend's, the measured trace has the
// schema and the device facts, and a quick calibration profile is complete. Label gpu.
#include <gtest/gtest.h>

#include <cmath>

#include "../test_plans.hpp"
#include "clustersim/executor/cuda/backend.hpp"
#include "clustersim/executor/cuda/worker.hpp"
#include "clustersim/plan/error.hpp"
#include "clustersim/plan/json.hpp"
#include "clustersim/plan/profile.hpp"
#include "cuda_test_util.hpp"

namespace clustersim::executor::cuda {
namespace {

using executor::test::MlpConfig;
using executor::test::PlanBuilder;

std::vector<double> train_cuda(const plan::Plan& plan, int steps,
                               StreamThreading threading = StreamThreading::thread_per_stream) {
  auto comms = make_local_communicators();
  RunOptions o;
  o.steps = steps;
  o.threading = threading;
  return run_rank_cuda(plan, *comms, o).losses;
}

std::vector<double> train_cpu(const plan::Plan& plan, int steps) {
  auto comms = make_local_communicators();
  RunOptions o;
  o.steps = steps;
  return run_rank(plan, *comms, o).losses;
}

TEST(CudaWorker, MlpTrainsAndFollowsTheCpuBackend) {
  CLUSTERSIM_REQUIRE_CUDA();
  MlpConfig c;
  c.comm_stream = true;
  const auto mlp = executor::test::make_mlp_plan(c);
  const auto gpu = train_cuda(mlp.plan, 40);
  const auto cpu = train_cpu(mlp.plan, 40);
  ASSERT_EQ(gpu.size(), 40u);
  EXPECT_LT(gpu.back(), 0.5 * gpu.front());
  for (std::size_t i = 0; i < 5; ++i) EXPECT_NEAR(gpu[i], cpu[i], 1e-4 * std::max(1.0, cpu[i])) << "step " << i;
  const auto sequential = train_cuda(mlp.plan, 5, StreamThreading::sequential);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_NEAR(sequential[i], gpu[i], 1e-6) << "streams or not, the same math";
}

TEST(CudaWorker, BigramModelLearnsTheMarkovCorpus) {
  CLUSTERSIM_REQUIRE_CUDA();
  const auto losses = train_cuda(executor::test::make_bigram_plan(), 60);
  EXPECT_NEAR(losses.front(), std::log(32.0), 1.0);
  EXPECT_LT(losses.back(), 2.0);
}

TEST(CudaWorker, StreamsHonourProgramOrderAndDeps) {
  CLUSTERSIM_REQUIRE_CUDA();
  PlanBuilder b;
  b.prog().streams.push_back({1, "side", StreamKind::comm});
  plan::TensorInit ones;
  ones.kind = plan::TensorInit::Kind::ones;
  const auto x = b.tensor("x", DType::fp32, {4}, TensorRole::activation, true, ones);
  const auto y = b.tensor("y", DType::fp32, {4}, TensorRole::activation, true);
  plan::DelayParams d;
  d.ns = 20'000'000;
  const auto slow = b.op("slow", OpKind::delay, d, {}, {});
  const auto dbl = b.elementwise("double", "scale", {x}, {x}, {}, {}, 2.0);
  const auto add = b.elementwise("add", "add_inplace", {x}, {y}, {}, {}, 0.0, {dbl}, 1);
  auto comms = make_local_communicators();
  CudaWorker w(b.p, *comms, RunOptions{});
  w.run_step();
  EXPECT_EQ(w.read_tensor(y), (std::vector<float>{2, 2, 2, 2}));
  const auto rec = w.record();
  const auto& ops = rec.steps[0].ops;
  EXPECT_GE(ops[static_cast<std::size_t>(dbl)].start_ns, ops[static_cast<std::size_t>(slow)].end_ns - 1000);
  EXPECT_GE(ops[static_cast<std::size_t>(add)].start_ns, ops[static_cast<std::size_t>(dbl)].end_ns - 1000);
  EXPECT_GE(ops[static_cast<std::size_t>(slow)].end_ns - ops[static_cast<std::size_t>(slow)].start_ns, 19'000'000);
  w.run_step();
  EXPECT_EQ(w.read_tensor(y), (std::vector<float>{6, 6, 6, 6}));
}

TEST(CudaWorker, MemoryAccountingFollowsThePlan) {
  CLUSTERSIM_REQUIRE_CUDA();
  const auto mlp = executor::test::make_mlp_plan(MlpConfig{});
  const plan::Plan& p = mlp.plan;
  std::int64_t live = 0, peak = 0;
  for (auto t : p.programs[0].persistent) live += p.tensors[static_cast<std::size_t>(t)].bytes;
  const std::int64_t persistent = live;
  for (const auto& op : p.programs[0].ops) {
    for (auto t : op.allocs) live += p.tensors[static_cast<std::size_t>(t)].bytes;
    peak = std::max(peak, live);
    for (auto t : op.frees) live -= p.tensors[static_cast<std::size_t>(t)].bytes;
  }
  auto comms = make_local_communicators();
  RunOptions o;
  o.threading = StreamThreading::sequential;
  CudaWorker w(p, *comms, o);
  EXPECT_EQ(w.allocator().live_bytes(), persistent);
  w.run_step();
  EXPECT_EQ(w.allocator().live_bytes(), persistent);
  const auto rec = w.record();
  EXPECT_EQ(rec.persistent_bytes, persistent);
  EXPECT_EQ(rec.steps[0].peak_bytes, peak);
  std::int64_t by_role = 0;
  for (const auto& [role, bytes] : rec.steps[0].at_peak) by_role += bytes;
  EXPECT_EQ(by_role, peak);
  const RankRecord done = w.finish();
  EXPECT_GE(done.resident_peak_bytes, peak) << "the pool's high-water mark covers the tensors";
  EXPECT_GT(done.resident_bytes, 0);
}

TEST(CudaWorker, InjectedOverflowSkipsTheStepAndHalvesTheScale) {
  CLUSTERSIM_REQUIRE_CUDA();
  MlpConfig c;
  c.grad_dtype = DType::fp16;
  c.dynamic_loss_scale = true;
  c.loss_scale_init = 65536.0;
  c.loss_scale_window = 3;
  const auto mlp = executor::test::make_mlp_plan(c);
  auto comms = make_local_communicators();
  CudaWorker w(mlp.plan, *comms, RunOptions{});
  EXPECT_FALSE(w.run_step().skipped);
  EXPECT_EQ(w.loss_scale(), 65536.0);
  // inject: huge weights make the fp16 gradients overflow at this scale
  std::vector<float> big(static_cast<std::size_t>(mlp.plan.tensors[static_cast<std::size_t>(mlp.w2)].elements()), 3e4f);
  w.write_tensor(mlp.w2, big);
  const auto w1_before = w.read_tensor(mlp.w1);
  const StepReport r = w.run_step();
  EXPECT_TRUE(r.skipped);
  EXPECT_EQ(r.loss_scale, 65536.0);
  EXPECT_EQ(w.loss_scale(), 32768.0) << "halved";
  EXPECT_EQ(w.read_tensor(mlp.w1), w1_before) << "the update was skipped on the device";
  // the CPU backend makes the same decisions on the same state
  auto cpu_comms = make_local_communicators();
  Worker cpu(mlp.plan, *cpu_comms, RunOptions{});
  cpu.run_step();
  cpu.write_tensor(mlp.w2, big);
  EXPECT_TRUE(cpu.run_step().skipped);
  EXPECT_EQ(cpu.loss_scale(), w.loss_scale());
}

TEST(CudaWorker, OutOfMemoryNamesTheOpRankAndBytes) {
  CLUSTERSIM_REQUIRE_CUDA();
  PlanBuilder b;
  const auto x = b.tensor("x", DType::fp32, {4}, TensorRole::activation, true);
  const auto huge = b.tensor("huge", DType::fp32, {std::int64_t{1} << 46}, TensorRole::activation);  // 256 TiB
  b.elementwise("make_huge", "zero", {}, {huge}, {huge}, {huge});
  b.elementwise("after", "scale", {x}, {x}, {}, {}, 2.0);
  auto comms = make_local_communicators();
  CudaWorker w(b.p, *comms, RunOptions{});
  try {
    w.run_step();
    FAIL() << "no exception";
  } catch (const CheckFailed& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("rank 0"), std::string::npos) << m;
    EXPECT_NE(m.find("make_huge"), std::string::npos) << m;
    EXPECT_NE(m.find("281474976710656 bytes"), std::string::npos) << m;
    EXPECT_NE(m.find("huge (activation)"), std::string::npos) << m;
  }
}

TEST(CudaWorker, PlanErrorsAreReportedLikeTheCpuBackends) {
  CLUSTERSIM_REQUIRE_CUDA();
  PlanBuilder b;
  const auto x = b.tensor("x", DType::int32, {4}, TensorRole::activation, true);
  const auto y = b.tensor("y", DType::fp32, {4}, TensorRole::activation, true);
  b.elementwise("bad", "gelu", {x}, {y});
  auto comms = make_local_communicators();
  CudaWorker w(b.p, *comms, RunOptions{});
  try {
    w.run_step();
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("inputs[0] (x)"), std::string::npos) << e.what();
  }
}

TEST(CudaWorker, RunRankBuildsTheMeasuredTrace) {
  CLUSTERSIM_REQUIRE_CUDA();
  const auto mlp = executor::test::make_mlp_plan(MlpConfig{});
  auto comms = make_local_communicators();
  RunOptions o;
  o.steps = 4;
  o.warmup_steps = 1;
  o.scenario = "test-mlp";
  const RunResult r = run_rank_cuda(mlp.plan, *comms, o);
  ASSERT_TRUE(r.trace.has_value());
  const plan::Trace& t = *r.trace;
  EXPECT_EQ(t.backend, "cuda");
  EXPECT_EQ(t.source, plan::TraceSource::measured);
  EXPECT_GT(t.summary.step_time_s, 0.0);
  EXPECT_EQ(t.summary.losses.size(), 4u);
  ASSERT_TRUE(t.extra.contains("cuda"));
  EXPECT_FALSE(t.extra["cuda"]["device"].get<std::string>().empty());
  EXPECT_GT(t.extra["cuda"]["gemm_calls"].get<std::int64_t>(), 0);
  EXPECT_FALSE(t.ops.empty());
  const nlohmann::json j = plan::to_json(t);
  EXPECT_EQ(j["schema"], "clustersim.trace/1");
}

TEST(CudaWorker, QuickCalibrationProfileIsComplete) {
  CLUSTERSIM_REQUIRE_CUDA();
  auto comms = make_local_communicators();
  CalibrationOptions o = CalibrationOptions::quick();
  o.gemm_dtypes = {DType::fp32, DType::bf16, DType::fp8_e4m3};
  const plan::CalibrationProfile p = calibrate_cuda(*comms, o);
  EXPECT_EQ(p.backend, "cuda");
  EXPECT_FALSE(p.device.empty());
  EXPECT_GE(p.gemm.size(), 16u);
  EXPECT_FALSE(p.attention.empty());
  EXPECT_TRUE(p.memory.count("memory"));
  EXPECT_GT(p.kernel_overhead_ns, 0.0);
  EXPECT_GE(p.overlap_compute_slowdown, 1.0);
  const plan::CalibrationProfile back = plan::profile_from_json(plan::to_json(p));  // strict reader accepts it
  EXPECT_EQ(back.gemm.size(), p.gemm.size());
}

}  // namespace
}  // namespace clustersim::executor::cuda
