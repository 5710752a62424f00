// Tests of the Plan IR helpers (plan.hpp): the structural validator (one case per invariant),
// RankGroups, and the op accounting shared by both interpreters: op_flops (closed forms per kind),
// op_bytes and op_class.
#include <gtest/gtest.h>

#include <functional>

#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/trace.hpp"

namespace clustersim::plan {
namespace {

Tensor make_tensor(TensorId id, std::string name, DType dtype, std::vector<std::int64_t> shape, TensorRole role,
                   bool persistent = false) {
  Tensor t;
  t.id = id, t.name = std::move(name), t.dtype = dtype, t.shape = std::move(shape), t.role = role;
  t.persistent = persistent;
  t.bytes = t.elements() * dtype_bytes(dtype);
  return t;
}

// Two ranks in one dp group running one program: a GEMM into an allocated activation, a view of
// it read by an all-reduce, then a free.
Plan valid_plan() {
  Plan p;
  p.world_size = 2;
  p.groups = {{0, GroupKind::dp, {0, 1}}, {1, GroupKind::tp, {0}}, {2, GroupKind::tp, {1}}};
  p.tensors.push_back(make_tensor(0, "w", DType::bf16, {64, 64}, TensorRole::weight, true));
  p.tensors.push_back(make_tensor(1, "x", DType::bf16, {8, 64}, TensorRole::activation));
  p.tensors.push_back(make_tensor(2, "y", DType::bf16, {8, 64}, TensorRole::activation));
  Tensor v = make_tensor(3, "y_half", DType::bf16, {4, 64}, TensorRole::activation);
  v.view_of = 2, v.offset_bytes = 4 * 64 * 2;
  p.tensors.push_back(v);
  Program prog;
  prog.id = 0, prog.name = "replica";
  prog.streams = {{0, "compute", StreamKind::compute}, {1, "comm", StreamKind::comm}};
  prog.persistent = {0};
  Op load;
  load.id = 0, load.name = "load", load.kind = OpKind::io, load.params = IoParams{}, load.outputs = {1},
  load.allocs = {1};
  Op gemm;
  gemm.id = 1, gemm.name = "fc", gemm.kind = OpKind::gemm;
  GemmParams g;
  g.m = 8, g.n = 64, g.k = 64, g.dtype = DType::bf16;
  gemm.params = g, gemm.inputs = {1, 0}, gemm.outputs = {2}, gemm.allocs = {2}, gemm.frees = {1};
  Op ar;
  ar.id = 2, ar.name = "ar", ar.kind = OpKind::collective, ar.stream = 1, ar.deps = {1};
  CollectiveParams c;
  c.bytes = 4 * 64 * 2;
  ar.params = c, ar.inputs = {3}, ar.outputs = {3}, ar.frees = {2};
  prog.ops = {load, gemm, ar};
  p.programs = {prog};
  p.program_of_rank = {0, 0};
  return p;
}

void expect_invalid(const std::function<void(Plan&)>& mutate, const std::string& fragment) {
  Plan p = valid_plan();
  mutate(p);
  try {
    validate(p);
    ADD_FAILURE() << "expected InternalError mentioning \"" << fragment << "\"";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Validate, AcceptsAWellFormedPlan) {
  EXPECT_NO_THROW(validate(valid_plan()));
}

TEST(Validate, RejectsEachBrokenInvariant) {
  expect_invalid([](Plan& p) { p.program_of_rank.pop_back(); }, "program_of_rank has 1 entries");
  expect_invalid([](Plan& p) { p.groups[1].id = 7; }, "groups[1].id mismatch");
  expect_invalid([](Plan& p) { p.groups[2].ranks = {0}; }, "rank 0 is in two tp groups");
  expect_invalid([](Plan& p) { p.groups[0].ranks = {0, 5}; }, "names rank 5");
  expect_invalid([](Plan& p) { p.program_of_rank[1] = 3; }, "missing program");
  expect_invalid([](Plan& p) { p.tensors[1].id = 9; }, "tensors[1].id mismatch");
  expect_invalid([](Plan& p) { p.tensors[1].bytes += 1; }, "shape and dtype give");
  expect_invalid([](Plan& p) { p.tensors[3].view_of = 17; }, "view of a missing tensor");
  expect_invalid([](Plan& p) { p.tensors[3].view_of = 3; }, "view of a view");
  expect_invalid([](Plan& p) { p.tensors[3].offset_bytes = 1000; }, "runs past its base");
  expect_invalid([](Plan& p) { p.programs[0].persistent.push_back(3); }, "persistent tensor is a view");
  expect_invalid([](Plan& p) { p.programs[0].ops[1].id = 5; }, "id mismatch");
  expect_invalid([](Plan& p) { p.programs[0].ops[1].kind = OpKind::attention; }, "kind attention but params of gemm");
  expect_invalid([](Plan& p) { p.programs[0].ops[1].stream = 4; }, "missing stream");
  expect_invalid([](Plan& p) { p.programs[0].ops[1].deps = {2}; }, "dependency on a later or missing op");
  expect_invalid([](Plan& p) { p.programs[0].ops[1].allocs.push_back(3); }, "allocates a view");
  expect_invalid([](Plan& p) { p.programs[0].ops[1].allocs = {2, 2}; }, "allocates y twice");
  expect_invalid([](Plan& p) { p.programs[0].ops[0].allocs.clear(); }, "writes x which is not allocated");
  expect_invalid([](Plan& p) { p.programs[0].ops[2].frees = {3}; }, "frees a view");
  expect_invalid([](Plan& p) { p.programs[0].ops[2].inputs = {1}; }, "reads x which is not allocated");  // freed
}

TEST(Validate, TensorsMayBeAllocatedAgainAfterAFree) {
  Plan p = valid_plan();
  Op again = p.programs[0].ops[0];
  again.id = 3;
  again.deps = {};
  p.programs[0].ops.push_back(again);  // x is allocated again after op 1 freed it
  EXPECT_NO_THROW(validate(p));
}

TEST(RankGroups, GroupAndIndexOfEachRank) {
  Plan p;
  p.world_size = 4;
  p.groups = {{0, GroupKind::dp, {2, 0}}, {1, GroupKind::dp, {3, 1}}, {2, GroupKind::tp, {0, 1, 2, 3}}};
  p.program_of_rank = {0, 0, 0, 0};
  const RankGroups g(p);
  EXPECT_EQ(g.group_of(0, GroupKind::dp), 0);
  EXPECT_EQ(g.index_in_group(0, GroupKind::dp), 1);
  EXPECT_EQ(g.group_of(3, GroupKind::dp), 1);
  EXPECT_EQ(g.index_in_group(3, GroupKind::dp), 0);
  EXPECT_EQ(g.index_in_group(2, GroupKind::tp), 2);
  EXPECT_EQ(g.group_of(1, GroupKind::pp), kNone);
  EXPECT_EQ(g.index_in_group(1, GroupKind::pp), 0);
}

Op with(OpKind kind, OpParams params) {
  Op op;
  op.kind = kind;
  op.params = std::move(params);
  return op;
}

TEST(OpAccounting, FlopsClosedForms) {
  GemmParams g;
  g.m = 3, g.n = 5, g.k = 7, g.batch = 2;
  EXPECT_DOUBLE_EQ(op_flops(with(OpKind::gemm, g)), 2.0 * 3 * 5 * 7 * 2);

  AttentionParams a;
  a.batch = 2, a.heads = 4, a.seq_q = 128, a.seq_kv = 128, a.head_dim = 64;
  const double qk_pv = 4.0 * 2 * 4 * 128 * 128 * 64;  // Q K^T and P V, 2 T^2 d each per head
  a.flash = true, a.causal = true;
  EXPECT_DOUBLE_EQ(op_flops(with(OpKind::attention, a)), 0.5 * qk_pv);
  a.direction = Direction::backward;
  EXPECT_DOUBLE_EQ(op_flops(with(OpKind::attention, a)), 0.5 * 2.5 * qk_pv);
  a.flash = false;
  EXPECT_DOUBLE_EQ(op_flops(with(OpKind::attention, a)), 2.0 * qk_pv);

  Conv2dParams c;
  c.batch = 2, c.in_channels = 3, c.out_channels = 8, c.height = 32, c.width = 32, c.kernel_h = 3, c.kernel_w = 3;
  c.stride = 2, c.padding = 1;  // P = Q = (32 + 2 - 3) / 2 + 1 = 16
  EXPECT_DOUBLE_EQ(op_flops(with(OpKind::conv2d, c)), 2.0 * 2 * 16 * 16 * 8 * 3 * 9);

  NormParams n;
  n.rows = 10, n.cols = 20;
  EXPECT_DOUBLE_EQ(op_flops(with(OpKind::norm, n)), 5.0 * 200);
  n.direction = Direction::backward;
  EXPECT_DOUBLE_EQ(op_flops(with(OpKind::norm, n)), 8.0 * 200);

  SoftmaxXentParams s;
  s.rows = 4, s.vocab = 100;
  EXPECT_DOUBLE_EQ(op_flops(with(OpKind::softmax_xent, s)), 4.0 * 400);

  EmbeddingParams e;
  e.batch = 2, e.seq = 16, e.dim = 32;
  EXPECT_DOUBLE_EQ(op_flops(with(OpKind::embedding, e)), 2.0 * 16 * 32);

  OptimizerParams o;
  o.params = 1000;
  EXPECT_DOUBLE_EQ(op_flops(with(OpKind::optimizer, o)), 12.0 * 1000);
  o.kind = OptimizerKind::sgd;
  EXPECT_DOUBLE_EQ(op_flops(with(OpKind::optimizer, o)), 4.0 * 1000);

  ElementwiseParams ew;
  ew.flops = 123.0;
  EXPECT_DOUBLE_EQ(op_flops(with(OpKind::elementwise, ew)), 123.0);
  EXPECT_DOUBLE_EQ(op_flops(with(OpKind::collective, CollectiveParams{})), 0.0);
}

TEST(OpAccounting, BytesReadAndWritten) {
  const Plan p = valid_plan();
  // fc reads x (8x64 bf16) and w (64x64 bf16), writes y (8x64 bf16).
  EXPECT_EQ(op_bytes(p, p.programs[0].ops[1]), 1024 + 8192 + 1024);
  Op acc = p.programs[0].ops[1];
  std::get<GemmParams>(acc.params).accumulate = true;  // y read and written
  EXPECT_EQ(op_bytes(p, acc), 1024 + 8192 + 2 * 1024);
  ElementwiseParams ew;
  ew.bytes_read = 100, ew.bytes_written = 50;
  Op e = with(OpKind::elementwise, ew);
  e.inputs = {0};  // declared bytes win over tensor sizes
  EXPECT_EQ(op_bytes(p, e), 150);
  EXPECT_EQ(op_bytes(p, p.programs[0].ops[2]), 4 * 64 * 2);  // the collective's bytes
}

TEST(OpAccounting, Classes) {
  const Plan p = valid_plan();
  EXPECT_EQ(op_class(p.programs[0].ops[1]), "gemm");
  EXPECT_EQ(op_class(p.programs[0].ops[2]), "comm:dp:all_reduce");
  EXPECT_EQ(op_class(p.programs[0].ops[0]), "io");
  EXPECT_EQ(op_class(with(OpKind::norm, NormParams{})), "memory");
  EXPECT_EQ(op_class(with(OpKind::optimizer, OptimizerParams{})), "optimizer");
  EXPECT_EQ(op_class(with(OpKind::conv2d, Conv2dParams{})), "conv");
  EXPECT_EQ(op_class(with(OpKind::attention, AttentionParams{})), "attention");
  EXPECT_EQ(op_class(with(OpKind::recv, P2PParams{})), "p2p:pp");
  EXPECT_EQ(op_class(with(OpKind::delay, DelayParams{})), "delay");
}

TEST(OpAccounting, DescribeProgramMatchesTheHelpers) {
  const Plan p = valid_plan();
  const ProgramInfo info = describe_program(p, 0);
  EXPECT_EQ(info.name, "replica");
  EXPECT_EQ(info.streams, (std::vector<std::string>{"compute", "comm"}));
  ASSERT_EQ(info.ops.size(), 3u);
  EXPECT_EQ(info.ops[1].op_class, "gemm");
  EXPECT_DOUBLE_EQ(info.ops[1].flops, 2.0 * 8 * 64 * 64);
  EXPECT_EQ(info.ops[1].bytes, op_bytes(p, p.programs[0].ops[1]));
  EXPECT_EQ(info.ops[2].stream, 1);
}

}  // namespace
}  // namespace clustersim::plan
