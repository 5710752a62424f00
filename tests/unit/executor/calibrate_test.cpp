// Tests for calibrate.hpp on one process: a quick calibration fills every section the single-rank
// case covers, with sizes that are the plan's own op_bytes for the memory-bound keys the engine
// looks up, and the profile survives the strict "clustersim.profile/1" reader.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "clustersim/executor/calibrate.hpp"
#include "clustersim/plan/profile.hpp"
#include "test_plans.hpp"

namespace clustersim::executor {
namespace {

TEST(Calibrate, QuickProfileIsCompleteAndReadable) {
  auto comms = make_local_communicators();
  CalibrationOptions o = CalibrationOptions::quick();
  int progress_calls = 0;
  o.progress = [&](const std::string&, double f) {
    EXPECT_GE(f, 0.0);
    EXPECT_LE(f, 1.0);
    ++progress_calls;
  };
  const plan::CalibrationProfile p = calibrate_cpu(*comms, o);
  EXPECT_GT(progress_calls, 0);
  EXPECT_EQ(p.schema, "clustersim.profile/1");
  EXPECT_EQ(p.backend, "cpu");
  EXPECT_FALSE(p.device.empty());
  EXPECT_EQ(p.gemm.size(), 2u * 8u);  // 2 dtypes x 2^3 shapes
  for (const auto& g : p.gemm) EXPECT_GT(g.time_ns, 0.0);
  EXPECT_EQ(p.attention.size(), 2u * 2u * 2u);  // seqs x flash/non-flash x fwd/bwd
  EXPECT_TRUE(p.collectives.empty());           // one process: nothing to measure
  EXPECT_TRUE(p.p2p.empty());
  EXPECT_GE(p.overlap_compute_slowdown, 1.0);
  EXPECT_GT(p.kernel_overhead_ns, 0.0);
  // the keys the engine derives from real ops are present
  const auto mlp = test::make_mlp_plan(test::MlpConfig{});
  for (const auto& op : mlp.plan.programs[0].ops) {
    const std::string key = plan::calibration_key(op);
    if (!key.empty() && key != "elementwise:zero") {
      ASSERT_TRUE(p.memory.count(key)) << key;
    }
  }
  for (const char* key : {"memory", "cast", "norm:layernorm:backward", "softmax_xent:forward", "embedding:backward",
                          "optimizer:sgd", "elementwise:rope", "elementwise:maxpool_backward"}) {
    ASSERT_TRUE(p.memory.count(key)) << key;
    EXPECT_EQ(p.memory.at(key).size(), 2u) << key;
    for (const auto& s : p.memory.at(key)) {
      EXPECT_GT(s.bytes, 0);
      EXPECT_GT(s.time_ns, 0.0);
    }
  }
  const plan::CalibrationProfile back = plan::profile_from_json(plan::to_json(p));
  EXPECT_EQ(back.gemm.size(), p.gemm.size());
  EXPECT_EQ(back.memory.size(), p.memory.size());
  // host overheads: one allocation sample per memory size, growing with it
  ASSERT_EQ(p.host.alloc.size(), o.alloc_bytes.size());
  EXPECT_GE(p.host.dispatch_ns, 0.0);
  EXPECT_GE(p.host.wake_ns, 0.0);
}

// A targeted calibration measures every distinct kernel op of the plan (and nothing of the grids):
// one sample per op signature, which the calibrated model then finds for each op of the plan.
TEST(Calibrate, TargetedCalibrationMeasuresEveryDistinctOpOfThePlan) {
  auto comms = make_local_communicators();
  CalibrationOptions o = CalibrationOptions::quick();
  test::MlpConfig cfg;
  cfg.optimizer = OptimizerKind::adamw;
  o.targets = {test::make_mlp_plan(cfg).plan};
  o.grid = false;
  const plan::CalibrationProfile p = calibrate_cpu(*comms, o);
  EXPECT_TRUE(p.gemm.empty());
  EXPECT_TRUE(p.attention.empty());
  EXPECT_TRUE(p.memory.empty());
  std::set<std::string> expected;
  for (const auto& op : o.targets[0].programs[0].ops) {
    const std::string sig = plan::op_signature(o.targets[0], op);
    if (!sig.empty()) expected.insert(sig);
  }
  std::set<std::string> measured;
  for (const auto& s : p.ops) {
    measured.insert(s.signature);
    EXPECT_GT(s.time_ns, 0.0) << s.example;
    EXPECT_FALSE(s.example.empty());
  }
  EXPECT_GT(expected.size(), 3u);
  EXPECT_EQ(measured, expected);
}

// In a run, an op's activation inputs were just written by the op before it when it runs ahead
// (forward, recompute), and its activation gradients always were; a backward op's saved
// activations, the weights and integer inputs (tokens) were not. Built by hand so that every
// case is present.
TEST(Calibrate, FreshlyWrittenInputsAreTheActivationsTheOpBeforeJustWrote) {
  plan::Plan p;
  auto tensor = [&](DType dtype, TensorRole role) {
    plan::Tensor t;
    t.id = static_cast<plan::TensorId>(p.tensors.size());
    t.dtype = dtype;
    t.shape = {4};
    t.bytes = 4 * dtype_bytes(dtype);
    t.role = role;
    p.tensors.push_back(t);
    return t.id;
  };
  const plan::TensorId x = tensor(DType::fp32, TensorRole::activation);
  const plan::TensorId w = tensor(DType::fp32, TensorRole::weight);
  const plan::TensorId tokens = tensor(DType::int32, TensorRole::activation);
  const plan::TensorId dy = tensor(DType::bf16, TensorRole::activation_grad);
  const plan::TensorId master = tensor(DType::fp32, TensorRole::master_weight);
  auto op = [&](Phase phase, std::vector<plan::TensorId> inputs) {
    plan::Op o;
    o.tags.phase = phase;
    o.inputs = std::move(inputs);
    return o;
  };
  using Idx = std::vector<std::size_t>;
  EXPECT_EQ(freshly_written_inputs(p, op(Phase::forward, {x, w})), Idx({0}));
  EXPECT_EQ(freshly_written_inputs(p, op(Phase::recompute, {w, x})), Idx({1}));
  EXPECT_EQ(freshly_written_inputs(p, op(Phase::forward, {tokens, w})), Idx({}));
  EXPECT_EQ(freshly_written_inputs(p, op(Phase::backward, {x, dy, w})), Idx({1}));
  EXPECT_EQ(freshly_written_inputs(p, op(Phase::optimizer, {master, dy})), Idx({1}));
}

// A collective is timed after as long a compute as precedes it in a run: the ops back to the
// rank's previous communication op, wrapping around into the step before, by their calibrated
// times; a one-rank group's collective communicates nothing and does not end the gap.
TEST(Calibrate, ComputeBeforeACollectiveRunsBackToThePreviousCommunication) {
  test::PlanBuilder b(2);
  b.prog().streams.push_back({1, "comm", StreamKind::comm});
  plan::Group dp;
  dp.id = 0;
  dp.kind = GroupKind::dp;
  dp.ranks = {0, 1};
  b.p.groups.push_back(dp);
  for (plan::Rank r = 0; r < 2; ++r) {
    plan::Group tp;
    tp.id = 1 + r;
    tp.kind = GroupKind::tp;
    tp.ranks = {r};
    b.p.groups.push_back(tp);
  }
  auto buffer = [&](const std::string& name, std::int64_t n) {
    return b.tensor(name, DType::fp32, {n}, TensorRole::activation, true);
  };
  const plan::TensorId xa = buffer("xa", 4), xb = buffer("xb", 8), xd = buffer("xd", 16), g = buffer("g", 32);
  auto all_reduce = [&](const std::string& name, GroupKind group) {
    plan::CollectiveParams c;
    c.type = CollectiveType::all_reduce;
    c.group = group;
    c.bytes = 32 * 4;
    c.dtype = DType::fp32;
    return b.op(name, OpKind::collective, c, {g}, {g}, {}, {}, {}, 1, Phase::communication);
  };
  const plan::OpId a = b.elementwise("a", "scale", {xa}, {xa}, {}, {}, 0.5);
  const plan::OpId c1 = all_reduce("c1", GroupKind::dp);
  const plan::OpId bb = b.elementwise("b", "scale", {xb}, {xb}, {}, {}, 0.5);
  all_reduce("one_rank", GroupKind::tp);
  const plan::OpId c2 = all_reduce("c2", GroupKind::dp);
  const plan::OpId d = b.elementwise("d", "scale", {xd}, {xd}, {}, {}, 0.5);
  auto sig = [&](plan::OpId id) { return plan::op_signature(b.p, b.prog().ops.at(static_cast<std::size_t>(id))); };
  ASSERT_NE(sig(a), sig(bb));
  ASSERT_NE(sig(a), sig(d));
  const std::vector<plan::OpSample> times = {{sig(a), "a", 1e6}, {sig(bb), "b", 2e6}, {sig(d), "d", 4e6}};
  EXPECT_DOUBLE_EQ(compute_before_collective_ns(b.p, 0, static_cast<std::size_t>(c1), times), 4e6 + 1e6);  // d, a
  EXPECT_DOUBLE_EQ(compute_before_collective_ns(b.p, 0, static_cast<std::size_t>(c2), times), 2e6);        // b
  EXPECT_DOUBLE_EQ(compute_before_collective_ns(b.p, 0, static_cast<std::size_t>(c2), {}), 0.0);  // no samples
}

}  // namespace
}  // namespace clustersim::executor
