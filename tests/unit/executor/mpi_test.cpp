// MPI tests of the executor, run under `mpirun -n 2` (label mpi): every collective and
// point-to-point of the MPI communicator against reference sums, the same collectives as plan ops
// (group-indexed views, in-place all-gather, shard-consistent init), and data-parallel training:
// DP=2 matches DP=1 with the doubled batch within fp32 tolerance.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "clustersim/executor/calibrate.hpp"
#include "clustersim/executor/communicator.hpp"
#include "clustersim/executor/numeric.hpp"
#include "clustersim/executor/rng.hpp"
#include "clustersim/executor/worker.hpp"
#include "test_plans.hpp"

namespace clustersim::executor {
namespace {

std::unique_ptr<MpiSession> g_session;

class MpiEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { g_session = std::make_unique<MpiSession>(); }
  void TearDown() override { g_session.reset(); }
};
[[maybe_unused]] auto* const g_env = ::testing::AddGlobalTestEnvironment(new MpiEnvironment);

plan::Group world_group(int n) {
  plan::Group g;
  g.kind = GroupKind::dp;
  for (int r = 0; r < n; ++r) g.ranks.push_back(r);
  return g;
}

TEST(MpiCommunicator, CollectivesMatchReferenceSums) {
  auto f = make_mpi_communicators();
  ASSERT_EQ(f->world_size(), 2) << "run under mpirun -n 2";
  const int me = f->world_rank();
  const plan::Group g = world_group(2);
  auto c = f->create(GroupKind::dp, &g, me);
  ASSERT_EQ(c->size(), 2);
  ASSERT_EQ(c->index(), me);
  // value of element i on rank r
  auto val = [](int r, int i) { return static_cast<float>(10 * r + i); };

  std::vector<float> buf(6);
  for (int i = 0; i < 6; ++i) buf[static_cast<std::size_t>(i)] = val(me, i);
  c->all_reduce(buf.data(), 6, DType::fp32, ReduceKind::sum);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(buf[static_cast<std::size_t>(i)], val(0, i) + val(1, i));
  for (int i = 0; i < 6; ++i) buf[static_cast<std::size_t>(i)] = val(me, i) * (i % 2 ? 1.0f : -1.0f);
  c->all_reduce(buf.data(), 6, DType::fp32, ReduceKind::max);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(buf[static_cast<std::size_t>(i)], i % 2 ? val(1, i) : -val(0, i));

  std::vector<std::uint16_t> h(4);
  for (int i = 0; i < 4; ++i) h[static_cast<std::size_t>(i)] = float_to_bf16(0.5f * static_cast<float>(me + i));
  c->all_reduce(h.data(), 4, DType::bf16, ReduceKind::sum);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(bf16_to_float(h[static_cast<std::size_t>(i)]), 0.5f * static_cast<float>(2 * i + 1));
  for (int i = 0; i < 4; ++i) h[static_cast<std::size_t>(i)] = float_to_fp16(static_cast<float>(me) - 0.25f);
  c->all_reduce(h.data(), 4, DType::fp16, ReduceKind::sum);
  EXPECT_EQ(fp16_to_float(h[0]), 0.5f);
  std::vector<std::int32_t> ints = {me, 2 * me + 1};
  c->all_reduce(ints.data(), 2, DType::int32, ReduceKind::sum);
  EXPECT_EQ(ints, (std::vector<std::int32_t>{1, 4}));

  // reduce_scatter: my chunk of the sum
  std::vector<float> full(8), shard(4);
  for (int i = 0; i < 8; ++i) full[static_cast<std::size_t>(i)] = val(me, i);
  c->reduce_scatter(full.data(), shard.data(), 4, DType::fp32, ReduceKind::sum);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(shard[static_cast<std::size_t>(i)], val(0, 4 * me + i) + val(1, 4 * me + i));
  // in place: the output is this rank's chunk of the input
  c->reduce_scatter(full.data(), full.data() + 4 * me, 4, DType::fp32, ReduceKind::sum);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(full[static_cast<std::size_t>(4 * me + i)], shard[static_cast<std::size_t>(i)]);

  // all_gather, out of place and in place
  std::vector<float> mine = {val(me, 0), val(me, 1)}, all(4);
  c->all_gather(mine.data(), all.data(), 2, DType::fp32);
  EXPECT_EQ(all, (std::vector<float>{val(0, 0), val(0, 1), val(1, 0), val(1, 1)}));
  std::vector<float> inplace(4, -1.0f);
  inplace[static_cast<std::size_t>(2 * me)] = val(me, 0);
  inplace[static_cast<std::size_t>(2 * me + 1)] = val(me, 1);
  c->all_gather(inplace.data() + 2 * me, inplace.data(), 2, DType::fp32);
  EXPECT_EQ(inplace, all);

  // broadcast from 1, reduce to 0
  std::vector<float> b = {val(me, 3)};
  c->broadcast(b.data(), 1, DType::fp32, 1);
  EXPECT_EQ(b[0], val(1, 3));
  std::vector<float> red = {val(me, 2)};
  c->reduce(red.data(), 1, DType::fp32, ReduceKind::sum, 0);
  EXPECT_EQ(red[0], me == 0 ? val(0, 2) + val(1, 2) : val(1, 2));

  // all_to_all: out chunk j = member j's chunk me
  std::vector<float> in = {val(me, 0), val(me, 1)}, out(2);
  c->all_to_all(in.data(), out.data(), 1, DType::fp32);
  EXPECT_EQ(out, (std::vector<float>{val(0, me), val(1, me)}));

  // send/recv with tags: two messages in each direction, matched by tag, not arrival
  const int peer = 1 - me;
  std::vector<float> s1 = {val(me, 7)}, s2 = {val(me, 8)}, r1(1), r2(1);
  if (me == 0) {
    c->send(s1.data(), 4, peer, 1);
    c->send(s2.data(), 4, peer, 2);
    c->recv(r2.data(), 4, peer, 2);
    c->recv(r1.data(), 4, peer, 1);
  } else {
    c->recv(r1.data(), 4, peer, 1);
    c->recv(r2.data(), 4, peer, 2);
    c->send(s2.data(), 4, peer, 2);
    c->send(s1.data(), 4, peer, 1);
  }
  EXPECT_EQ(r1[0], val(peer, 7));
  EXPECT_EQ(r2[0], val(peer, 8));

  // control plane
  double d[2] = {static_cast<double>(me) + 0.5, static_cast<double>(me)};
  f->world().all_reduce_f64(d, 2, ReduceKind::sum);
  EXPECT_EQ(d[0], 2.0);
  const auto strings = f->world().gather_strings(std::string(static_cast<std::size_t>(me + 1), 'x'), 0);
  if (me == 0) {
    EXPECT_EQ(strings, (std::vector<std::string>{"x", "xx"}));
  } else {
    EXPECT_TRUE(strings.empty());
  }
  // a kind this rank has no group of: a one-member communicator (still collective: both call)
  auto none = f->create(GroupKind::ep, nullptr, 0);
  EXPECT_EQ(none->size(), 1);
}

TEST(MpiWorker, CollectiveOpsWithGroupIndexedViewsAndShardedInit) {
  test::PlanBuilder b(2);
  plan::Group g = world_group(2);
  g.id = 0;
  b.p.groups.push_back(g);
  b.prog().streams.push_back({1, "comm", StreamKind::comm});
  // x: this rank's half of an unsharded normal(8) tensor; gathered into y
  plan::TensorInit shard = test::PlanBuilder::normal(5, 1.0);
  shard.full_shape = {8};
  shard.shard_dim = 0;
  shard.shard_group = GroupKind::dp;
  const auto x = b.tensor("x", DType::fp32, {4}, TensorRole::weight, true, shard);
  const auto y = b.tensor("y", DType::fp32, {8}, TensorRole::comm_buffer, true);
  plan::CollectiveParams ag;
  ag.type = CollectiveType::all_gather;
  ag.group = GroupKind::dp;
  ag.bytes = 32;
  ag.dtype = DType::fp32;
  const auto gather = b.op("gather", OpKind::collective, ag, {x}, {y}, {}, {}, {}, 1);
  // z: same full init on both ranks; reduce-scatter into its own group-indexed view, then gather in place
  const auto z = b.tensor("z", DType::fp32, {8}, TensorRole::grad, true, test::PlanBuilder::normal(6, 1.0));
  const auto zshard = b.view("z.shard", z, 0, {4}, GroupKind::dp);
  plan::CollectiveParams rs = ag;
  rs.type = CollectiveType::reduce_scatter;
  const auto scatter = b.op("scatter", OpKind::collective, rs, {z}, {zshard}, {}, {}, {gather}, 1);
  b.op("regather", OpKind::collective, ag, {zshard}, {z}, {}, {}, {scatter}, 1);
  // send to and receive from the other rank (a ring of two), on different streams
  const auto out = b.tensor("out", DType::fp32, {4}, TensorRole::comm_buffer, true);
  const auto in = b.tensor("in", DType::fp32, {4}, TensorRole::comm_buffer, true);
  b.elementwise("fill", "residual_add", {x, x}, {out});
  plan::P2PParams p2p;
  p2p.group = GroupKind::dp;
  p2p.peer_offset = 1;
  p2p.bytes = 16;
  p2p.tag = 3;
  b.op("send", OpKind::send, p2p, {out}, {}, {}, {}, {}, 0);
  b.op("recv", OpKind::recv, p2p, {}, {in}, {}, {}, {}, 1);

  auto f = make_mpi_communicators();
  const int me = f->world_rank();
  RunOptions o;
  o.seed = 3;
  Worker w(b.p, *f, o);
  w.run_step();
  const std::uint64_t k5 = derive_key(3, 5), k6 = derive_key(3, 6);
  const auto yv = w.read_tensor(y), zv = w.read_tensor(z), inv = w.read_tensor(in), xv = w.read_tensor(x);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(xv[static_cast<std::size_t>(i)],
              static_cast<float>(normal01(k5, static_cast<std::uint64_t>(4 * me + i))));
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(yv[static_cast<std::size_t>(i)], static_cast<float>(normal01(k5, static_cast<std::uint64_t>(i))));
    EXPECT_EQ(zv[static_cast<std::size_t>(i)], 2.0f * static_cast<float>(normal01(k6, static_cast<std::uint64_t>(i))));
  }
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(inv[static_cast<std::size_t>(i)],
              2.0f * static_cast<float>(normal01(k5, static_cast<std::uint64_t>(4 * (1 - me) + i))));
  const auto rec = w.finish();
  EXPECT_EQ(rec.steps[0].comm.size(), 5u);
}

TEST(MpiWorker, AnAccumulatingReduceScatterAddsIntoItsShardEveryStep) {
  // ZeRO-2's reduce-scatter: shard += my chunk of the sum over ranks, each step (the second step
  // reuses the communication thread's scratch). fp32 and bf16: doubling is exact in both.
  for (const DType dtype : {DType::fp32, DType::bf16}) {
    test::PlanBuilder b(2);
    plan::Group g = world_group(2);
    g.id = 0;
    b.p.groups.push_back(g);
    b.prog().streams.push_back({1, "comm", StreamKind::comm});
    const auto full = b.tensor("full", dtype, {8}, TensorRole::grad, true, test::PlanBuilder::normal(7, 1.0));
    const auto shard = b.tensor("shard", dtype, {4}, TensorRole::grad, true);
    plan::CollectiveParams rs;
    rs.type = CollectiveType::reduce_scatter;
    rs.group = GroupKind::dp;
    rs.bytes = 8 * dtype_bytes(dtype);
    rs.dtype = dtype;
    rs.accumulate = true;
    b.op("scatter", OpKind::collective, rs, {full}, {shard}, {}, {}, {}, 1);
    auto f = make_mpi_communicators();
    const int me = f->world_rank();
    RunOptions o;
    o.seed = 3;
    Worker w(b.p, *f, o);
    const auto before = w.read_tensor(full);  // the same on both ranks (one unsharded init)
    w.run_step();
    w.run_step();
    const auto got = w.read_tensor(shard);
    for (int i = 0; i < 4; ++i) {
      const float x = before[static_cast<std::size_t>(4 * me + i)];
      EXPECT_EQ(got[static_cast<std::size_t>(i)], 4.0f * x) << to_string(dtype) << " element " << i;  // 0 + 2x + 2x
    }
    w.finish();
  }
}

TEST(MpiWorker, DataParallelTwoMatchesOneRankWithTheDoubledBatch) {
  test::MlpConfig one;
  one.batch = 16;
  one.dp = 1;
  test::MlpConfig two = one;
  two.batch = 8;
  two.dp = 2;
  RunOptions o;
  o.steps = 12;
  auto local = make_local_communicators();
  const auto reference = run_rank(test::make_mlp_plan(one).plan, *local, o).losses;
  auto f = make_mpi_communicators();
  o.machine_probe = true;
  const RunResult r = run_rank(test::make_mlp_plan(two).plan, *f, o);
  ASSERT_EQ(r.losses.size(), reference.size());
  for (std::size_t s = 0; s < reference.size(); ++s)
    EXPECT_NEAR(r.losses[s], reference[s], 2e-5 * std::abs(reference[s])) << s;
  EXPECT_LT(r.losses.back(), 0.5 * r.losses.front());
  if (f->world_rank() == 0) {
    ASSERT_TRUE(r.trace.has_value());
    EXPECT_EQ(r.trace->ranks, (std::vector<std::int32_t>{0, 1}));
    EXPECT_EQ(r.trace->memory.size(), 2u);
    EXPECT_EQ(r.trace->summary.losses, r.losses);
    ASSERT_EQ(r.trace->summary.comm.size(), 1u);
    EXPECT_EQ(r.trace->summary.comm[0].group, GroupKind::dp);
    // The probe before and after the steps, in the trace for `validate` to compare.
    for (const char* when : {"before", "after"}) {
      const plan::MachineProbe probe =
          plan::probe_from_json(r.trace->extra.at("machine_probe").at(when), std::string("machine_probe.") + when);
      EXPECT_GT(probe.all_reduce_ns, 0.0) << when;
      EXPECT_GT(probe.gemm_ns, 0.0) << when;
    }
  } else {
    EXPECT_FALSE(r.trace.has_value());
  }
}

TEST(MpiCalibrate, CollectivesAndP2pAreMeasuredOnEveryRank) {
  auto f = make_mpi_communicators();
  CalibrationOptions o = CalibrationOptions::quick();
  o.gemm = o.attention = o.memory = false;
  const plan::CalibrationProfile p = calibrate_cpu(*f, o);
  ASSERT_EQ(p.collectives.size(), 6u * 2u);  // 6 types x 2 sizes, group of 2
  for (const auto& c : p.collectives) {
    EXPECT_EQ(c.ranks, 2);
    EXPECT_GT(c.time_ns, 0.0);
    EXPECT_EQ(c.placement, plan::Placement::intra);  // both ranks on this host
  }
  ASSERT_EQ(p.p2p.size(), 2u);
  EXPECT_GT(p.p2p[0].time_ns, 0.0);
  EXPECT_GE(p.overlap_compute_slowdown, 1.0);
  // The machine probe: both parts measured, over the 1 MiB all-reduce.
  ASSERT_TRUE(p.probe.has_value());
  EXPECT_EQ(p.probe->bytes, 1 << 20);
  EXPECT_GT(p.probe->all_reduce_ns, 0.0);
  EXPECT_GT(p.probe->gemm_ns, 0.0);
  // every rank returns the same measurements
  double t = p.collectives[0].time_ns, t_max = t;
  f->world().all_reduce_f64(&t_max, 1, ReduceKind::max);
  EXPECT_EQ(t, t_max);
}

}  // namespace
}  // namespace clustersim::executor
