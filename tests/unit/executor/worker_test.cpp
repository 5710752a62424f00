// Tests for worker.hpp (the plan interpreter) in a single process: a hand-built MLP and a bigram
// language model train, runs are bit-for-bit deterministic (threaded or sequential), stream order
// and deps hold, memory accounting equals the plan's live tensor bytes, views share storage,
// initialisation is shard-consistent (incl. copies from init-only tensors), dynamic loss scaling
// skips overflowing steps and backs off, narrow storage dtypes convert at the op boundary, and plan
// errors are reported clearly.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "clustersim/executor/cpu/attention.hpp"
#include "clustersim/executor/cpu/norm.hpp"
#include "clustersim/executor/numeric.hpp"
#include "clustersim/executor/rng.hpp"
#include "clustersim/executor/worker.hpp"
#include "clustersim/plan/error.hpp"
#include "test_plans.hpp"

namespace clustersim::executor {
namespace {

using test::MlpConfig;
using test::PlanBuilder;

std::vector<double> train(const plan::Plan& plan, int steps,
                          StreamThreading threading = StreamThreading::thread_per_stream) {
  auto comms = make_local_communicators();
  RunOptions o;
  o.steps = steps;
  o.warmup_steps = 1;
  o.threading = threading;
  return run_rank(plan, *comms, o).losses;
}

TEST(Worker, MlpLossHalves) {
  const auto mlp = test::make_mlp_plan(MlpConfig{});
  const auto losses = train(mlp.plan, 40);
  ASSERT_EQ(losses.size(), 40u);
  EXPECT_NEAR(losses.front(), std::log(4.0), 0.5);  // four classes, small initial logits
  EXPECT_LT(losses.back(), 0.5 * losses.front());
}

TEST(Worker, MlpTrainsWithSgdMomentum) {
  MlpConfig c;
  c.optimizer = OptimizerKind::sgd;
  c.lr = 0.1;
  const auto losses = train(test::make_mlp_plan(c).plan, 40);
  EXPECT_LT(losses.back(), 0.5 * losses.front());
}

TEST(Worker, BigramModelLearnsTheMarkovCorpus) {
  const auto plan = test::make_bigram_plan();
  const auto losses = train(plan, 60);
  EXPECT_NEAR(losses.front(), std::log(32.0), 1.0);
  // the corpus' entropy is about 1.03 nats: the model gets well below ln(32) = 3.47
  EXPECT_LT(losses.back(), 2.0);
}

TEST(Worker, SameSeedGivesBitIdenticalLossesAndWeights) {
  MlpConfig c;
  c.comm_stream = true;
  const auto mlp = test::make_mlp_plan(c);
  const auto a = train(mlp.plan, 5);
  const auto b = train(mlp.plan, 5);
  const auto s = train(mlp.plan, 5, StreamThreading::sequential);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, s);
  MlpConfig other = c;
  other.seed = 2;
  EXPECT_NE(a, train(test::make_mlp_plan(other).plan, 5));
}

TEST(Worker, StreamsHonourProgramOrderAndDeps) {
  PlanBuilder b;
  b.prog().streams.push_back({1, "side", StreamKind::comm});
  plan::TensorInit ones;
  ones.kind = plan::TensorInit::Kind::ones;
  const auto x = b.tensor("x", DType::fp32, {4}, TensorRole::activation, true, ones);
  const auto y = b.tensor("y", DType::fp32, {4}, TensorRole::activation, true);
  plan::DelayParams d;
  d.ns = 30'000'000;
  const auto slow = b.op("slow", OpKind::delay, d, {}, {});
  const auto dbl = b.elementwise("double", "scale", {x}, {x}, {}, {}, 2.0);
  const auto add = b.elementwise("add", "add_inplace", {x}, {y}, {}, {}, 0.0, {dbl}, 1);
  auto comms = make_local_communicators();
  RunOptions o;
  Worker w(b.p, *comms, o);
  w.run_step();
  // y = 0 + x after x was doubled: the dep was honoured
  EXPECT_EQ(w.read_tensor(y), (std::vector<float>{2, 2, 2, 2}));
  const auto rec = w.record();
  const auto& ops = rec.steps[0].ops;
  EXPECT_GE(ops[static_cast<std::size_t>(dbl)].start_ns, ops[static_cast<std::size_t>(slow)].end_ns);  // stream order
  EXPECT_GE(ops[static_cast<std::size_t>(add)].start_ns, ops[static_cast<std::size_t>(dbl)].end_ns);   // dependency
  w.run_step();
  EXPECT_EQ(w.read_tensor(y), (std::vector<float>{6, 6, 6, 6}));  // 2 + 4
}

// Expected peak from the plan: persistent bytes, plus allocs at op start, minus frees at op end.
TEST(Worker, MemoryAccountingFollowsThePlan) {
  const auto mlp = test::make_mlp_plan(MlpConfig{});
  const plan::Plan& p = mlp.plan;
  std::int64_t live = 0, peak = 0;
  for (auto t : p.programs[0].persistent) live += p.tensors[static_cast<std::size_t>(t)].bytes;
  const std::int64_t persistent = live;
  for (const auto& op : p.programs[0].ops) {
    for (auto t : op.allocs) live += p.tensors[static_cast<std::size_t>(t)].bytes;
    peak = std::max(peak, live);
    for (auto t : op.frees) live -= p.tensors[static_cast<std::size_t>(t)].bytes;
  }
  ASSERT_EQ(live, persistent);
  auto comms = make_local_communicators();
  RunOptions o;
  o.threading = StreamThreading::sequential;
  Worker w(p, *comms, o);
  EXPECT_EQ(w.allocator().live_bytes(), persistent);
  w.run_step();
  EXPECT_EQ(w.allocator().live_bytes(), persistent);
  const auto rec = w.record();
  EXPECT_EQ(rec.persistent_bytes, persistent);
  EXPECT_EQ(rec.steps[0].peak_bytes, peak);
  std::int64_t by_role = 0;
  for (const auto& [role, bytes] : rec.steps[0].at_peak) by_role += bytes;
  EXPECT_EQ(by_role, peak);
  EXPECT_EQ(w.allocator().overall().peak_bytes, peak);
  EXPECT_GT(rec.steps[0].at_peak.at(TensorRole::activation), 0);
}

TEST(Worker, ViewsShareStorageWithTheirBase) {
  PlanBuilder b;
  plan::TensorInit ones;
  ones.kind = plan::TensorInit::Kind::ones;
  const auto base = b.tensor("base", DType::fp32, {8}, TensorRole::activation, true, ones);
  const auto v = b.view("upper", base, 4, {4});
  const auto shard = b.view("shard", base, 2, {2}, GroupKind::tp);  // index 0 in its (absent) tp group
  b.elementwise("triple", "scale", {v}, {v}, {}, {}, 3.0);
  b.elementwise("halve", "scale", {shard}, {shard}, {}, {}, 0.5);
  auto comms = make_local_communicators();
  Worker w(b.p, *comms, {});
  w.run_step();
  EXPECT_EQ(w.read_tensor(base), (std::vector<float>{1, 1, 0.5f, 0.5f, 3, 3, 3, 3}));
  EXPECT_EQ(w.read_tensor(v), (std::vector<float>{3, 3, 3, 3}));
}

TEST(Worker, ShardedInitIsASliceOfTheUnshardedInit) {
  PlanBuilder b;
  const auto full = b.tensor("full", DType::fp32, {4, 6}, TensorRole::weight, true, PlanBuilder::normal(7, 1.0));
  plan::TensorInit shard_init = PlanBuilder::normal(7, 1.0);
  shard_init.full_shape = {4, 6};
  shard_init.shard_dim = 1;
  shard_init.shard_group = GroupKind::tp;
  const auto shard = b.tensor("shard", DType::bf16, {4, 3}, TensorRole::weight, true, shard_init);
  // a flat, init-only bucket whose view carries the init; a persistent master copies from it
  const auto bucket = b.tensor("bucket", DType::bf16, {10}, TensorRole::weight);
  const auto part = b.view("bucket.part", bucket, 2, {4});
  b.p.tensors[static_cast<std::size_t>(part)].init = PlanBuilder::normal(9, 0.5);
  plan::TensorInit copy;
  copy.kind = plan::TensorInit::Kind::copy;
  copy.source = part;
  const auto master = b.tensor("master", DType::fp32, {4}, TensorRole::master_weight, true, copy);
  auto comms = make_local_communicators();
  RunOptions o;
  o.seed = 11;
  Worker w(b.p, *comms, o);
  const auto f = w.read_tensor(full), s = w.read_tensor(shard), m = w.read_tensor(master);
  const std::uint64_t key7 = derive_key(11, 7), key9 = derive_key(11, 9);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 6; ++c) {
      EXPECT_EQ(f[static_cast<std::size_t>(r * 6 + c)],
                static_cast<float>(normal01(key7, static_cast<std::uint64_t>(r * 6 + c))));
      if (c < 3) {
        EXPECT_EQ(s[static_cast<std::size_t>(r * 3 + c)],
                  bf16_to_float(float_to_bf16(f[static_cast<std::size_t>(r * 6 + c)])));
      }
    }
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(m[static_cast<std::size_t>(i)],
              bf16_to_float(float_to_bf16(static_cast<float>(0.5 * normal01(key9, static_cast<std::uint64_t>(i))))));
}

TEST(Worker, DynamicLossScalingSkipsOverflowAndBacksOff) {
  MlpConfig c;
  c.grad_dtype = DType::fp16;
  c.dynamic_loss_scale = true;
  c.loss_scale_init = 16777216.0;  // 2^24: fp16 gradients overflow
  c.loss_scale_window = 3;
  const auto mlp = test::make_mlp_plan(c);
  auto comms = make_local_communicators();
  Worker w(mlp.plan, *comms, {});
  const auto w1_before = w.read_tensor(mlp.w1);
  const StepReport first = w.run_step();
  EXPECT_TRUE(first.skipped);
  EXPECT_EQ(first.loss_scale, 16777216.0);
  EXPECT_EQ(w.loss_scale(), 8388608.0);         // halved
  EXPECT_EQ(w.read_tensor(mlp.w1), w1_before);  // the update was skipped
  // replay the rule: x0.5 on a skip, x2 after 3 consecutive clean steps
  double expected = 8388608.0;
  int run = 0, clean = 0;
  for (int s = 1; s < 30; ++s) {
    const StepReport r = w.run_step();
    EXPECT_EQ(r.loss_scale, expected) << "step " << s;
    if (r.skipped) {
      expected *= 0.5;
      run = 0;
    } else {
      ++clean;
      if (++run == 3) {
        expected *= 2.0;
        run = 0;
      }
    }
    EXPECT_EQ(w.loss_scale(), expected) << "after step " << s;
  }
  EXPECT_GT(clean, 10);
  EXPECT_LT(expected, 16777216.0);  // never back at the overflowing initial scale
  EXPECT_NE(w.read_tensor(mlp.w1), w1_before);
  const auto rec = w.record();
  EXPECT_TRUE(std::isfinite(rec.steps.back().mean_loss));
}

TEST(Worker, NarrowStorageConvertsAtTheOpBoundary) {
  // attention + layernorm on bf16 tensors through the interpreter equal the fp32 kernels on the
  // bf16 values, rounded back to bf16
  const std::int64_t B = 1, T = 4, H = 2, D = 2, W = (H + 2 * H) * D;
  PlanBuilder b;
  const auto qkv = b.tensor("qkv", DType::bf16, {B, T, W}, TensorRole::activation, true, PlanBuilder::normal(3, 1.0));
  const auto out = b.tensor("out", DType::bf16, {B, T, H * D}, TensorRole::activation, true);
  const auto lse = b.tensor("lse", DType::fp32, {B, H, T}, TensorRole::activation, true);
  plan::AttentionParams ap;
  ap.batch = B, ap.heads = H, ap.kv_heads = H, ap.seq_q = T, ap.seq_kv = T, ap.head_dim = D;
  b.op("attn", OpKind::attention, ap, {qkv}, {out, lse});
  const auto gamma = b.tensor("gamma", DType::bf16, {H * D}, TensorRole::weight, true, PlanBuilder::normal(4, 1.0));
  const auto beta = b.tensor("beta", DType::bf16, {H * D}, TensorRole::weight, true, PlanBuilder::normal(5, 1.0));
  const auto y = b.tensor("y", DType::bf16, {B * T, H * D}, TensorRole::activation, true);
  const auto mean = b.tensor("mean", DType::fp32, {B * T}, TensorRole::activation, true);
  const auto rstd = b.tensor("rstd", DType::fp32, {B * T}, TensorRole::activation, true);
  plan::NormParams np;
  np.rows = B * T, np.cols = H * D;
  b.op("ln", OpKind::norm, np, {out, gamma, beta}, {y, mean, rstd});
  auto comms = make_local_communicators();
  Worker w(b.p, *comms, {});
  w.run_step();
  const auto q = w.read_tensor(qkv);
  std::vector<float> o(static_cast<std::size_t>(B * T * H * D)), l(static_cast<std::size_t>(B * H * T));
  cpu::attention_forward_flash(o.data(), l.data(), q.data(),
                               {.batch = B, .heads = H, .kv_heads = H, .seq = T, .head_dim = D, .causal = true});
  for (auto& v : o) v = bf16_to_float(float_to_bf16(v));
  EXPECT_EQ(w.read_tensor(out), o);
  EXPECT_EQ(w.read_tensor(lse), l);
  std::vector<float> yy(o.size()), mm(4), rr(4);
  const auto g = w.read_tensor(gamma), be = w.read_tensor(beta);
  cpu::layernorm_forward(yy.data(), mm.data(), rr.data(), o.data(), g.data(), be.data(), B * T, H * D, 1e-5f);
  for (auto& v : yy) v = bf16_to_float(float_to_bf16(v));
  EXPECT_EQ(w.read_tensor(y), yy);
}

TEST(Worker, UnknownElementwiseNameListsTheKnownOnes) {
  PlanBuilder b;
  const auto x = b.tensor("x", DType::fp32, {4}, TensorRole::activation, true);
  b.elementwise("mystery", "softplus", {x}, {x});
  auto comms = make_local_communicators();
  try {
    Worker w(b.p, *comms, {});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("softplus"), std::string::npos) << what;
    EXPECT_NE(what.find("\"gelu\""), std::string::npos) << what;
    EXPECT_NE(what.find("\"rope_backward\""), std::string::npos) << what;
    EXPECT_NE(what.find("mystery"), std::string::npos) << what;
  }
}

TEST(Worker, WrongDtypeNamesTheOpAndSlot) {
  PlanBuilder b;
  const auto logits = b.tensor("logits", DType::fp32, {2, 3}, TensorRole::activation, true);
  const auto targets = b.tensor("targets", DType::fp32, {2}, TensorRole::input, true);  // should be int32
  const auto losses = b.tensor("losses", DType::fp32, {2}, TensorRole::activation, true);
  plan::SoftmaxXentParams p;
  p.rows = 2, p.vocab = 3;
  b.op("the_loss", OpKind::softmax_xent, p, {logits, targets}, {losses});
  auto comms = make_local_communicators();
  Worker w(b.p, *comms, {});
  try {
    w.run_step();
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("the_loss"), std::string::npos) << what;
    EXPECT_NE(what.find("inputs[1]"), std::string::npos) << what;
    EXPECT_NE(what.find("int32"), std::string::npos) << what;
  }
}

TEST(Worker, RunRankBuildsTheMeasuredTraceAndRunDirMatches) {
  const auto mlp = test::make_mlp_plan(MlpConfig{.comm_stream = true});
  const std::string dir = testing::TempDir() + "/worker_run_dir";
  std::filesystem::remove_all(dir);
  auto comms = make_local_communicators();
  RunOptions o;
  o.steps = 4;
  o.warmup_steps = 1;
  o.run_dir = dir;
  o.peak_flops_per_rank = 1e9;
  const RunResult r = run_rank(mlp.plan, *comms, o);
  ASSERT_TRUE(r.trace.has_value());
  const plan::Trace& t = *r.trace;
  EXPECT_EQ(t.source, plan::TraceSource::measured);
  EXPECT_EQ(t.backend, "cpu");
  EXPECT_EQ(t.ops.size(), 3 * mlp.plan.programs[0].ops.size());  // non-warm-up steps
  EXPECT_EQ(t.summary.losses, r.losses);
  EXPECT_EQ(t.summary.steps, 4);
  EXPECT_GT(t.summary.step_time_s, 0.0);
  EXPECT_GT(t.summary.mfu, 0.0);
  EXPECT_NEAR(t.summary.samples_per_s * t.summary.step_time_s, 8.0, 1e-9);
  ASSERT_EQ(t.memory.size(), 1u);
  EXPECT_GT(t.memory[0].measured_resident_bytes, 0);
  EXPECT_FALSE(t.extra.contains("machine_probe"));  // only with RunOptions::machine_probe
  ASSERT_EQ(t.comm.size(), 3u);  // one all-reduce per measured step
  ASSERT_EQ(t.summary.comm.size(), 1u);
  EXPECT_EQ(t.summary.comm[0].type, "all_reduce");
  EXPECT_EQ(t.summary.comm[0].count, 1);
  const RunDirResult fromdir = assemble_trace_from_run_dir(mlp.plan, dir, {});
  EXPECT_TRUE(fromdir.complete) << fromdir.message;
  EXPECT_EQ(fromdir.steps, 4);
  EXPECT_EQ(fromdir.trace.summary.losses, r.losses);
  EXPECT_EQ(fromdir.trace.ops.size(), t.ops.size());
  EXPECT_EQ(fromdir.trace.memory[0].peak_bytes, t.memory[0].peak_bytes);
}

TEST(Worker, ResidentMemoryCrossChecksTheAllocator) {
  PlanBuilder b;
  const std::int64_t n = 16 << 20;  // 64 MiB of fp32, zero-filled at allocation, so resident
  const auto big = b.tensor("big", DType::fp32, {n}, TensorRole::weight, true);
  b.elementwise("touch", "scale", {big}, {big}, {}, {}, 2.0);
  auto comms = make_local_communicators();
  RunOptions o;
  o.steps = 2;
  const RunResult r = run_rank(b.p, *comms, o);
  ASSERT_TRUE(r.trace.has_value());
  EXPECT_EQ(r.trace->memory[0].peak_bytes, n * 4);
  EXPECT_GE(r.trace->memory[0].measured_resident_bytes, n * 4);
  EXPECT_GE(read_resident_memory().peak_resident_bytes, n * 4);
}

TEST(Worker, TextFileDataFeedsByteTokens) {
  const std::string path = testing::TempDir() + "/corpus.txt";
  {
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 200; ++i) f << "the quick brown fox jumps over the lazy dog. ";
  }
  const auto data = make_text_file_data(path);
  std::vector<std::int32_t> tokens(8), targets(8);
  data->tokens(1, 2, 4, 256, tokens.data(), targets.data());
  // sample 1 starts at byte 4, sample 2 at byte 8: "quic" / "k br"
  EXPECT_EQ(tokens, (std::vector<std::int32_t>{'q', 'u', 'i', 'c', 'k', ' ', 'b', 'r'}));
  EXPECT_EQ(targets, (std::vector<std::int32_t>{'u', 'i', 'c', 'k', ' ', 'b', 'r', 'o'}));
  EXPECT_THROW(data->tokens(0, 1, 4, 100, tokens.data(), targets.data()), InputError);
  EXPECT_THROW(make_text_file_data(path + ".missing"), InputError);
  // a bigram model over bytes learns the text
  auto comms = make_local_communicators();
  RunOptions o;
  o.steps = 40;
  o.data = data;
  const auto losses = run_rank(test::make_bigram_plan(256, 16, 4, 32), *comms, o).losses;
  EXPECT_LT(losses.back(), 0.6 * losses.front());
  // a model whose vocabulary cannot hold bytes is refused up front
  EXPECT_THROW(Worker(test::make_bigram_plan(32), *comms, o), InputError);
}

TEST(Worker, CrossStreamHazardsAreRefusedBeforeRunning) {
  PlanBuilder b;
  b.prog().streams.push_back({1, "comm", StreamKind::comm});
  const auto x = b.tensor("x", DType::fp32, {4}, TensorRole::activation);
  const auto y = b.tensor("y", DType::fp32, {4}, TensorRole::activation, true);
  b.elementwise("producer", "zero", {}, {x}, {x}, {}, 0.0, {}, 1);  // stream 1 allocates and writes x
  b.elementwise("consumer", "add_inplace", {x}, {y}, {}, {x});      // stream 0 reads and frees x: no dep
  auto comms = make_local_communicators();
  try {
    Worker w(b.p, *comms, {});
    FAIL() << "expected InternalError";
  } catch (const InternalError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("op 1 (consumer, stream compute) reads x"), std::string::npos) << what;
    EXPECT_NE(what.find("op 0 (producer, stream comm) writes"), std::string::npos) << what;
  }
  RunOptions seq;
  seq.threading = StreamThreading::sequential;  // program order is a valid order
  Worker w(b.p, *comms, seq);
  EXPECT_NO_THROW(w.run_step());
  b.prog().ops[1].deps = {0};  // with the dependency the threaded run is accepted
  EXPECT_NO_THROW(Worker(b.p, *comms, {}).run_step());
}

TEST(Worker, TensorsAStepNeverFreesAreReleasedAtItsEnd) {
  PlanBuilder b;
  const auto kept = b.tensor("kept_for_backward", DType::fp32, {8}, TensorRole::activation);
  const auto y = b.tensor("y", DType::fp32, {8}, TensorRole::activation, true);
  b.elementwise("fill", "zero", {}, {kept}, {kept});
  b.elementwise("use", "add_inplace", {kept}, {y});
  auto comms = make_local_communicators();
  std::vector<std::string> logs;
  RunOptions o;
  o.log = [&](const std::string& m) { logs.push_back(m); };
  Worker w(b.p, *comms, o);
  for (int s = 0; s < 3; ++s) w.run_step();
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("kept_for_backward"), std::string::npos);
  EXPECT_EQ(w.allocator().live_bytes(), 32);  // only y
  EXPECT_EQ(w.record().steps[2].peak_bytes, 64);
}

TEST(Worker, PlanForMoreRanksIsRejected) {
  const auto mlp = test::make_mlp_plan(MlpConfig{.dp = 2});
  auto comms = make_local_communicators();
  EXPECT_THROW(Worker(mlp.plan, *comms, {}), InputError);
}

}  // namespace
}  // namespace clustersim::executor
