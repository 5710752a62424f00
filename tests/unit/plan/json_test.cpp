// Tests of the JSON (de)serialisation of the Plan and the Trace (json.hpp): a plan holding every op
// kind with non-default values in every field, and a trace with every record type, survive a
// round trip unchanged; readers reject bad documents with the JSON path.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "clustersim/plan/json.hpp"

namespace clustersim::plan {
namespace {

using nlohmann::json;

Op op_of(OpId id, std::string name, OpKind kind, OpParams params, StreamId stream = 0) {
  Op op;
  op.id = id, op.name = std::move(name), op.kind = kind, op.params = std::move(params), op.stream = stream;
  return op;
}

Plan kitchen_sink_plan() {
  Plan p;
  p.world_size = 2;
  auto& m = p.meta;
  m.scenario = "sink", m.model = "gpt-tiny", m.global_batch = 16, m.micro_batch = 2, m.num_microbatches = 4;
  m.seq_len = 128, m.tokens_per_step = 2048, m.parameters = 123456, m.model_flops_per_step = 1.5e12;
  m.hardware_flops_per_step = 2.0e12, m.dp = 2, m.tp = 1, m.pp = 1, m.precision = Precision::fp16, m.zero_stage = 1;
  m.seed = 42, m.dynamic_loss_scale = true, m.loss_scale_init = 1024.0, m.loss_scale_window = 100;
  m.loss_scale_growth = 4.0, m.loss_scale_backoff = 0.25;
  p.groups = {{0, GroupKind::dp, {0, 1}}, {1, GroupKind::emb, {1, 0}}};

  Tensor w;
  w.id = 0, w.name = "w", w.dtype = DType::fp16, w.shape = {4, 8}, w.bytes = 64, w.role = TensorRole::weight;
  w.persistent = true;
  w.init.kind = TensorInit::Kind::normal, w.init.std = 0.5, w.init.seed_key = 9, w.init.full_shape = {8, 8};
  w.init.shard_dim = 0, w.init.shard_group = GroupKind::dp;
  Tensor master = w;
  master.id = 1, master.name = "master", master.dtype = DType::fp32, master.bytes = 128;
  master.role = TensorRole::master_weight;
  master.init = {};
  master.init.kind = TensorInit::Kind::copy, master.init.source = 0;
  Tensor shard;
  shard.id = 2, shard.name = "shard", shard.dtype = DType::fp16, shard.shape = {2, 8}, shard.bytes = 32;
  shard.view_of = 0, shard.offset_bytes = 0, shard.shard_group = GroupKind::dp;
  p.tensors = {w, master, shard};

  Program prog;
  prog.id = 0, prog.name = "all kinds", prog.persistent = {0, 1};
  prog.streams = {{0, "compute", StreamKind::compute}, {1, "comm", StreamKind::comm}, {2, "copy", StreamKind::copy}};
  GemmParams g;
  g.m = 1, g.n = 2, g.k = 3, g.batch = 4, g.dtype = DType::tf32, g.trans_a = true, g.trans_b = true;
  g.accumulate = true, g.bias = true;
  AttentionParams a;
  a.batch = 1, a.heads = 4, a.kv_heads = 2, a.seq_q = 8, a.seq_kv = 16, a.head_dim = 32, a.causal = false;
  a.flash = false, a.dropout = 0.1, a.direction = Direction::backward, a.dtype = DType::fp16, a.seq_shards = 2;
  Conv2dParams c;
  c.batch = 2, c.in_channels = 3, c.out_channels = 4, c.height = 5, c.width = 6, c.kernel_h = 3, c.kernel_w = 1;
  c.stride = 2, c.padding = 1, c.pass = ConvPass::backward_filter, c.dtype = DType::bf16;
  ElementwiseParams e;
  e.name = "rope", e.elements = 10, e.bytes_read = 40, e.bytes_written = 20, e.flops = 30.5, e.scalar = -2.5;
  e.dtype = DType::bf16, e.dims = {1, 2, 3};
  NormParams n;
  n.type = NormType::rmsnorm, n.rows = 3, n.cols = 4, n.direction = Direction::backward, n.accumulate_dx = true;
  n.eps = 1e-6, n.dtype = DType::bf16;
  SoftmaxXentParams s;
  s.rows = 5, s.vocab = 7, s.direction = Direction::backward, s.grad_scale = 0.125, s.dtype = DType::fp16;
  EmbeddingParams em;
  em.vocab = 11, em.dim = 12, em.batch = 2, em.seq = 3, em.learned_positions = false, em.vocab_parallel = true;
  em.seq_shards = 2, em.direction = Direction::backward, em.dtype = DType::bf16;
  OptimizerParams o;
  o.kind = OptimizerKind::sgd, o.params = 99, o.lr = 0.5, o.beta1 = 0.8, o.beta2 = 0.9, o.eps = 1e-7;
  o.weight_decay = 0.01, o.momentum = 0.7, o.grad_scale = 0.5, o.found_inf = true;
  CastParams ca;
  ca.from = DType::fp32, ca.to = DType::fp8_e5m2, ca.elements = 77;
  CollectiveParams co;
  co.type = CollectiveType::reduce_scatter, co.group = GroupKind::emb, co.bytes = 64, co.dtype = DType::fp32;
  co.accumulate = true, co.root = 1, co.reduce = ReduceOp::max;
  P2PParams pp;
  pp.group = GroupKind::dp, pp.peer_offset = -1, pp.bytes = 32, pp.tag = 3;
  IoParams io;
  io.bytes = 256, io.medium = "storage", io.content = "tokens", io.seq_shards = 2;
  prog.ops = {op_of(0, "gemm", OpKind::gemm, g),
              op_of(1, "attention", OpKind::attention, a),
              op_of(2, "conv", OpKind::conv2d, c),
              op_of(3, "rope", OpKind::elementwise, e),
              op_of(4, "norm", OpKind::norm, n),
              op_of(5, "xent", OpKind::softmax_xent, s),
              op_of(6, "embedding", OpKind::embedding, em),
              op_of(7, "sgd", OpKind::optimizer, o),
              op_of(8, "cast", OpKind::cast, ca),
              op_of(9, "rs", OpKind::collective, co, 1),
              op_of(10, "send", OpKind::send, pp, 1),
              op_of(11, "recv", OpKind::recv, pp, 1),
              op_of(12, "load", OpKind::io, io, 2),
              op_of(13, "wait", OpKind::delay, DelayParams{1234, "think"})};
  prog.ops[1].inputs = {0}, prog.ops[1].outputs = {0}, prog.ops[1].deps = {0};
  prog.ops[3].allocs = {}, prog.ops[9].inputs = {2}, prog.ops[9].outputs = {2};
  auto& tags = prog.ops[5].tags;
  tags.layer = 3, tags.microbatch = 2, tags.phase = Phase::backward, tags.stage = 1, tags.chunk = 0, tags.round = 4;
  tags.client = 5;
  p.programs = {prog};
  p.program_of_rank = {0, 0};
  return p;
}

TEST(PlanJson, RoundTripKeepsEveryField) {
  const Plan p = kitchen_sink_plan();
  validate(p);
  const json j = to_json(p);
  const Plan back = plan_from_json(j);
  EXPECT_EQ(to_json(back), j);
  // Spot checks that the fields really travelled (the equality above would also hold if both
  // directions dropped a field).
  EXPECT_EQ(std::get<P2PParams>(back.programs[0].ops[10].params).tag, 3);
  EXPECT_EQ(std::get<IoParams>(back.programs[0].ops[12].params).content, "tokens");
  EXPECT_EQ(std::get<CollectiveParams>(back.programs[0].ops[9].params).reduce, ReduceOp::max);
  EXPECT_EQ(std::get<AttentionParams>(back.programs[0].ops[1].params).seq_shards, 2);
  EXPECT_EQ(std::get<ElementwiseParams>(back.programs[0].ops[3].params).dims, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(back.tensors[1].init.kind, TensorInit::Kind::copy);
  EXPECT_EQ(back.tensors[1].init.source, 0);
  EXPECT_EQ(back.tensors[2].shard_group, GroupKind::dp);
  EXPECT_EQ(back.programs[0].ops[5].tags.client, 5);
  EXPECT_EQ(back.groups[1].kind, GroupKind::emb);
  EXPECT_EQ(back.meta.precision, Precision::fp16);
  EXPECT_DOUBLE_EQ(back.meta.loss_scale_backoff, 0.25);
  EXPECT_NO_THROW(validate(back));
}

TEST(PlanJson, ReaderNamesThePathOfABadField) {
  json j = to_json(kitchen_sink_plan());
  j["programs"][0]["ops"][0]["params"]["m"] = -1;
  try {
    plan_from_json(j);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "programs[0].ops[0].params.m");
  }
  j = to_json(kitchen_sink_plan());
  j["programs"][0]["ops"][2]["params"]["strid"] = 2;
  EXPECT_THROW(plan_from_json(j), InputError);  // unknown key
}

Trace sample_trace() {
  Trace t;
  t.source = TraceSource::measured;
  t.scenario = "sink", t.hardware = "2 x cpu", t.backend = "cpu";
  t.ranks = {0, 1}, t.program_of_rank = {0, 0};
  t.programs = {describe_program(kitchen_sink_plan(), 0)};
  t.ops = {{0, 3, 0, 1, 10, 20}, {1, 9, 1, 0, 5, 45}};
  RankMemory m;
  m.rank = 1, m.peak_bytes = 1000, m.peak_time_ns = 7,
  m.at_peak = {{TensorRole::weight, 600}, {TensorRole::activation, 400}};
  m.role_peak = {{TensorRole::weight, 600}, {TensorRole::activation, 500}}, m.persistent_bytes = 600;
  m.capacity_bytes = 2000, m.fits = true, m.timeline = {{0, 600}, {7, 1000}}, m.measured_resident_bytes = 4096;
  t.memory = {m};
  t.comm = {{1, GroupKind::dp, 0, "all_reduce", 64, 0, 5, 45}, {0, GroupKind::pp, 2, "send", 32, 1, 3, 4}};
  auto& s = t.summary;
  s.step_time_s = 1.25, s.tokens_per_s = 10.5, s.samples_per_s = 2.5, s.model_flops_per_step = 1e12, s.mfu = 0.4;
  s.hfu = 0.5, s.compute_time_s = 1.0, s.comm_time_s = 0.3, s.exposed_comm_s = 0.1, s.bubble_fraction = 0.05;
  s.peak_memory_bytes = 1000, s.capacity_bytes = 2000, s.fits = false, s.critical_rank = 1;
  s.comm = {{GroupKind::dp, "all_reduce", 3, 192, 0.2, 0.05}};
  s.losses = {2.5, 2.25}, s.loss_scale = 512.0, s.skipped_steps = 1, s.steps = 2, s.events = 77, s.wall_time_s = 3.5;
  t.extra = {{"backend_version", "1.2"}};
  return t;
}

TEST(TraceJson, RoundTripKeepsEveryField) {
  const json j = to_json(sample_trace());
  const Trace back = trace_from_json(j);
  EXPECT_EQ(to_json(back), j);
  EXPECT_EQ(back.source, TraceSource::measured);
  EXPECT_EQ(back.memory[0].role_peak.at(TensorRole::activation), 500);
  EXPECT_EQ(back.memory[0].timeline[1].bytes, 1000);
  EXPECT_EQ(back.comm[1].type, "send");
  EXPECT_EQ(back.summary.comm[0].count, 3);
  EXPECT_EQ(back.summary.losses, (std::vector<double>{2.5, 2.25}));
  EXPECT_FALSE(back.summary.fits);
  EXPECT_EQ(back.extra["backend_version"], "1.2");
  EXPECT_EQ(back.programs[0].ops[9].op_class, "comm:emb:reduce_scatter");
}

TEST(TraceJson, FileRoundTripAndErrors) {
  const std::string path = (std::filesystem::temp_directory_path() / "clustersim_trace_test.json").string();
  write_json_file(path, to_json(sample_trace()), 2);
  EXPECT_EQ(to_json(read_trace_file(path)), to_json(sample_trace()));
  std::filesystem::remove(path);

  json j = to_json(sample_trace());
  j["schema"] = "clustersim.trace/0";
  try {
    trace_from_json(j);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "schema");
  }
  j = to_json(sample_trace());
  j["ops"][1]["end_ns"] = 1;  // before its start
  try {
    trace_from_json(j);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "ops[1].end_ns");
  }
  EXPECT_THROW(read_trace_file("/nonexistent/clustersim/trace.json"), InputError);
}

}  // namespace
}  // namespace clustersim::plan
