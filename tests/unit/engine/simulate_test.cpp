// Tests of engine::simulate on hand-built plans: op timing against the roofline formula, streams and
// deps, collective rendezvous, closed-form collective times, p2p matching, memory accounting, rank
// modes, the pipeline bubble and error reporting. Expected numbers are closed-form formulas written
// out here from the hardware's round numbers (test_plans.hpp), not taken from the engine.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/plan/json.hpp"
#include "test_plans.hpp"

namespace clustersim {
namespace {

using engine::SimulationOptions;
using plan::OpSpan;
using test::PlanBuilder;
using test::test_hardware;

const OpSpan& span(const plan::Trace& t, plan::Rank rank, plan::OpId op) {
  for (const auto& s : t.ops)
    if (s.rank == rank && s.op == op) return s;
  throw std::runtime_error("no span for rank " + std::to_string(rank) + " op " + std::to_string(op));
}
std::int64_t duration(const plan::Trace& t, plan::Rank rank, plan::OpId op) {
  const auto& s = span(t, rank, op);
  return s.end_ns - s.start_ns;
}
std::int64_t ns(double seconds) {
  return std::llround(seconds * 1e9);
}
std::int64_t step_ns(const plan::Trace& t) {
  return std::llround(t.summary.step_time_s * 1e9);
}

SimulationOptions with_algorithm(std::string name) {
  SimulationOptions o;
  o.collective_algorithm = std::move(name);
  return o;
}

// --- compute ---------------------------------------------------------------------------------------

TEST(Simulate, TwoOpChainMatchesRooflineFormula) {
  plan::Hardware hw = test_hardware(1, 1);
  hw.gpu.efficiency["gemm"] = {0.8, 1e9};
  hw.gpu.efficiency["memory"] = {0.9, 1e6};
  PlanBuilder b(1);
  const auto p = b.program("p");
  const std::int64_t n = 4096, mat = n * n * 2;  // bf16 4096 x 4096
  const auto a = b.tensor("a", mat, TensorRole::activation, true);
  const auto w = b.tensor("w", mat, TensorRole::weight, true);
  const auto c = b.tensor("c", mat, TensorRole::activation, true);
  b.persistent(p, a), b.persistent(p, w), b.persistent(p, c);
  const auto g = b.gemm(p, 0, n, n, n, DType::bf16);
  b.at(p, g).inputs = {a, w};
  b.at(p, g).outputs = {c};
  const auto e = b.elementwise(p, 0, 64 << 20, 64 << 20, 0.0, {g});
  const auto trace = engine::simulate(b.build(), hw);

  // Roofline (Williams et al. 2009): max(F / (P eff_gemm(F)), bytes / (BW eff_mem(bytes))) + launch.
  const double flops = 2.0 * n * n * n, gemm_bytes = 3.0 * mat;
  const double eff_gemm = 0.8 * flops / (flops + 1e9), eff_mem_g = 0.9 * gemm_bytes / (gemm_bytes + 1e6);
  const double gemm_s = std::max(flops / (200e12 * eff_gemm), gemm_bytes / (1000e9 * eff_mem_g));
  const double ew_bytes = 2.0 * (64 << 20), eff_mem_e = 0.9 * ew_bytes / (ew_bytes + 1e6);
  const double ew_s = ew_bytes / (1000e9 * eff_mem_e);
  EXPECT_NEAR(duration(trace, 0, g), ns(gemm_s) + 2000, 1);
  EXPECT_NEAR(duration(trace, 0, e), ns(ew_s) + 2000, 1);
  EXPECT_EQ(span(trace, 0, e).start_ns, span(trace, 0, g).end_ns);
  EXPECT_NEAR(step_ns(trace), ns(gemm_s) + ns(ew_s) + 4000, 2);
  EXPECT_NEAR(trace.summary.compute_time_s, trace.summary.step_time_s, 1e-12);
  EXPECT_EQ(trace.backend, "sim:roofline/analytical/auto");
}

TEST(Simulate, Tf32GemmRunsAtTf32RateAndFp32AtFp32Rate) {
  const plan::Hardware hw = test_hardware(1, 1);
  PlanBuilder b(1);
  const auto p = b.program("p");
  const auto g32 = b.gemm(p, 0, 1024, 1024, 1024, DType::fp32);
  const auto gtf = b.gemm(p, 0, 1024, 1024, 1024, DType::tf32);
  const auto trace = engine::simulate(b.build(), hw);
  const double flops = 2.0 * 1024 * 1024 * 1024;
  EXPECT_EQ(duration(trace, 0, g32), ns(flops / 10e12) + 2000);
  EXPECT_EQ(duration(trace, 0, gtf), ns(flops / 80e12) + 2000);
}

TEST(Simulate, TwoStreamsOverlap) {
  PlanBuilder b(1);
  const auto p = b.program("p", {StreamKind::compute, StreamKind::compute});
  const auto x = b.gemm(p, 0, 2048, 2048, 2048, DType::bf16);
  const auto y = b.gemm(p, 1, 1024, 1024, 1024, DType::bf16);
  const auto trace = engine::simulate(b.build(), test_hardware(1, 1));
  EXPECT_EQ(span(trace, 0, x).start_ns, 0);
  EXPECT_EQ(span(trace, 0, y).start_ns, 0);
  const std::int64_t tx = ns(2.0 * 2048 * 2048 * 2048 / 200e12) + 2000;
  EXPECT_EQ(step_ns(trace), tx);
  EXPECT_EQ(std::llround(trace.summary.compute_time_s * 1e9), tx);  // the union, not the sum
}

TEST(Simulate, DepsAcrossStreamsAndStreamOrder) {
  PlanBuilder b(1);
  const auto p = b.program("p", {StreamKind::compute, StreamKind::compute});
  const auto a = b.delay(p, 0, 100);
  const auto bb = b.delay(p, 0, 200);
  const auto c = b.delay(p, 1, 50, {a});
  const auto d = b.delay(p, 1, 10);
  const auto trace = engine::simulate(b.build(), test_hardware(1, 1));
  EXPECT_EQ(span(trace, 0, bb).start_ns, 100);
  EXPECT_EQ(span(trace, 0, c).start_ns, 100);
  EXPECT_EQ(span(trace, 0, c).end_ns, 150);
  EXPECT_EQ(span(trace, 0, d).start_ns, 150);  // after c on its stream
  EXPECT_EQ(step_ns(trace), 300);
}

TEST(Simulate, OverlapSlowdownStretchesOnlyTheOverlappedPart) {
  // A kernel of nominal work W runs while an all-reduce of C ns is in flight from t = 0 on another
  // stream; at rate 1/f during [0, C], it ends at C + (W - C / f).
  PlanBuilder b(2);
  b.group(GroupKind::dp, {0, 1});
  const auto p = b.program("p", {StreamKind::compute, StreamKind::comm});
  const auto g = b.gemm(p, 0, 4096, 4096, 4096, DType::bf16);
  const std::int64_t bytes = 8 << 20;
  const auto ar = b.collective(p, 1, CollectiveType::all_reduce, GroupKind::dp, bytes);
  b.assign(1, p);
  SimulationOptions o = with_algorithm("ring");
  o.compute_comm_overlap_slowdown = 1.5;
  const auto trace = engine::simulate(b.build(), test_hardware(1, 2), o);
  const std::int64_t w = ns(2.0 * 4096.0 * 4096 * 4096 / 200e12) + 2000;
  const std::int64_t c = ns(2 * 1 * 2e-6 + 2.0 * 0.5 * bytes / 300e9);  // ring, n = 2
  ASSERT_LT(c, w);
  EXPECT_EQ(duration(trace, 0, ar), c);
  EXPECT_EQ(span(trace, 0, g).end_ns, c + std::llround(static_cast<double>(w) - static_cast<double>(c) / 1.5));
}

plan::Plan memory_plan();

// --- collectives -----------------------------------------------------------------------------------

TEST(Simulate, CollectiveWaitsForTheStraggler) {
  plan::Hardware hw = test_hardware(1, 4);
  hw.slowdowns.push_back({2, 2.0});
  PlanBuilder b(4);
  b.group(GroupKind::dp, {0, 1, 2, 3});
  const auto p = b.program("p", {StreamKind::compute, StreamKind::comm});
  const auto g = b.gemm(p, 0, 2048, 2048, 2048, DType::bf16);
  const std::int64_t bytes = 1 << 20;
  const auto ar = b.collective(p, 1, CollectiveType::all_reduce, GroupKind::dp, bytes, {g});
  for (int r = 1; r < 4; ++r) b.assign(r, p);
  const auto trace = engine::simulate(b.build(), hw, with_algorithm("ring"));
  EXPECT_EQ(trace.extra["rank_mode"], "expanded");  // automatic: a straggler breaks symmetry
  const std::int64_t gemm = ns(2.0 * 2048 * 2048 * 2048 / 200e12) + 2000;
  const std::int64_t ring = ns(2 * 3 * 2e-6 + 2.0 * 3.0 / 4.0 * bytes / 300e9);
  EXPECT_EQ(span(trace, 2, g).end_ns, 2 * gemm);
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(span(trace, r, ar).end_ns, 2 * gemm + ring) << "rank " << r;
    EXPECT_EQ(span(trace, r, ar).start_ns, r == 2 ? 2 * gemm : gemm) << "rank " << r;
  }
  EXPECT_EQ(trace.summary.critical_rank, 0);  // all end together: the lowest rank
  // The comm span is the transfer itself; the op span also holds the wait for the straggler.
  for (const auto& c : trace.comm) {
    EXPECT_EQ(c.start_ns, 2 * gemm);
    EXPECT_EQ(c.end_ns, 2 * gemm + ring);
    EXPECT_EQ(c.type, "all_reduce");
    EXPECT_EQ(c.bytes, bytes);
  }
  EXPECT_EQ(trace.comm.size(), 4u);
  EXPECT_NEAR(trace.extra["comm_transfer_s"]["dp:all_reduce"].get<double>(), ring * 1e-9, 1e-15);
  ASSERT_EQ(trace.summary.comm.size(), 1u);
  EXPECT_NEAR(trace.summary.comm[0].time_s, (gemm + ring) * 1e-9, 1e-15);  // rank 0 waited `gemm`
}

struct RingCase {
  std::int32_t nodes, gpus_per_node, nics;
  double alpha_s, bandwidth;
};

void expect_ring_closed_forms(const RingCase& rc) {
  const std::int32_t n = rc.nodes * rc.gpus_per_node;
  PlanBuilder b(n);
  std::vector<plan::Rank> all;
  for (int r = 0; r < n; ++r) all.push_back(r);
  b.group(GroupKind::dp, all);
  const auto p = b.program("p");
  const std::int64_t s = 64 << 20;
  const auto ar = b.collective(p, 0, CollectiveType::all_reduce, GroupKind::dp, s);
  const auto rs = b.collective(p, 0, CollectiveType::reduce_scatter, GroupKind::dp, s);
  const auto ag = b.collective(p, 0, CollectiveType::all_gather, GroupKind::dp, s);
  const auto trace =
      engine::simulate(b.build(), test_hardware(rc.nodes, rc.gpus_per_node, rc.nics), with_algorithm("ring"));
  // Patarasuk & Yuan 2009: all-reduce 2(n-1)a + 2((n-1)/n) S/B; RS, AG (n-1)a + ((n-1)/n) S/B.
  const double f = (n - 1.0) / n;
  EXPECT_EQ(duration(trace, 0, ar), ns(2 * (n - 1) * rc.alpha_s + 2 * f * s / rc.bandwidth));
  EXPECT_EQ(duration(trace, 0, rs), ns((n - 1) * rc.alpha_s + f * s / rc.bandwidth));
  EXPECT_EQ(duration(trace, 0, ag), ns((n - 1) * rc.alpha_s + f * s / rc.bandwidth));
}

TEST(Simulate, RingClosedFormsIntraNode) {
  expect_ring_closed_forms({1, 8, 1, 2e-6, 300e9});
}
TEST(Simulate, RingClosedFormsInterNode) {
  expect_ring_closed_forms({4, 1, 1, 5e-6, 50e9});
}
// Both levels crossed: the slowest of each (alpha 5 us, B 50 GB/s).
TEST(Simulate, RingClosedFormsAcrossBothLevels) {
  expect_ring_closed_forms({2, 4, 1, 5e-6, 50e9});
}

TEST(Simulate, NicIsSharedByConcurrentGroupInstances) {
  // 2 nodes x 4 GPUs, DP groups {i, i+4} cross nodes; GPU i uses NIC i % nics.
  for (const auto& [nics, sharing] : std::vector<std::pair<int, int>>{{1, 4}, {2, 2}, {4, 1}}) {
    PlanBuilder b(8);
    b.groups_by(GroupKind::dp, 2, /*strided=*/true);
    const auto p = b.program("p");
    const std::int64_t s = 16 << 20;
    const auto ar = b.collective(p, 0, CollectiveType::all_reduce, GroupKind::dp, s);
    for (int r = 1; r < 8; ++r) b.assign(r, p);
    const auto trace = engine::simulate(b.build(), test_hardware(2, 4, nics), with_algorithm("ring"));
    const double bw = 50e9 / sharing;
    EXPECT_EQ(duration(trace, 0, ar), ns(2 * 1 * 5e-6 + 2 * 0.5 * s / bw)) << nics << " NICs";
  }
}

TEST(Simulate, AutoPicksTreeForSmallMessagesAcrossManyNodesRingOtherwise) {
  // 16 nodes: tree (2 L a + 2 S / B, L = 4) beats ring below S* = n B a (n - 1 - L) = 44 MB.
  const std::int32_t n = 16;
  PlanBuilder b(n);
  std::vector<plan::Rank> all;
  for (int r = 0; r < n; ++r) all.push_back(r);
  b.group(GroupKind::dp, all);
  const auto p = b.program("p");
  const std::int64_t small = 1 << 20, large = 256 << 20;
  const auto a = b.collective(p, 0, CollectiveType::all_reduce, GroupKind::dp, small);
  const auto c = b.collective(p, 0, CollectiveType::all_reduce, GroupKind::dp, large);
  const auto d = b.collective(p, 0, CollectiveType::all_gather, GroupKind::dp, small);
  for (int r = 1; r < n; ++r) b.assign(r, p);
  const auto trace = engine::simulate(b.build(), test_hardware(n, 1));
  const double alpha = 5e-6, bw = 50e9;
  EXPECT_EQ(duration(trace, 0, a), ns(2 * 4 * alpha + 2.0 * small / bw));
  EXPECT_EQ(duration(trace, 0, c), ns(2 * 15 * alpha + 2.0 * 15 / 16 * large / bw));
  EXPECT_EQ(duration(trace, 0, d), ns(15 * alpha + 15.0 / 16 * small / bw));  // no tree all-gather
  const auto& picked = trace.extra["network"]["picked"];
  EXPECT_EQ(picked["dp:all_reduce"]["tree"], 1);
  EXPECT_EQ(picked["dp:all_reduce"]["ring"], 1);
  EXPECT_EQ(picked["dp:all_gather"]["ring"], 1);

  // On one node auto stays on ring even for small messages.
  PlanBuilder one(8);
  one.group(GroupKind::dp, {0, 1, 2, 3, 4, 5, 6, 7});
  const auto q = one.program("q");
  const auto x = one.collective(q, 0, CollectiveType::all_reduce, GroupKind::dp, small);
  const auto t1 = engine::simulate(one.build(), test_hardware(1, 8));
  EXPECT_EQ(duration(t1, 0, x), ns(2 * 7 * 2e-6 + 2.0 * 7 / 8 * small / 300e9));
  EXPECT_EQ(t1.extra["network"]["picked"]["dp:all_reduce"]["ring"], 1);

  // Explicit tree: the double-binary-tree cost even where ring would win.
  const auto t2 = engine::simulate(b.build(), test_hardware(n, 1), with_algorithm("tree"));
  EXPECT_EQ(duration(t2, 0, c), ns(2 * 4 * alpha + 2.0 * large / bw));
}

TEST(Simulate, SendRecvRendezvousMatchesKthSendWithKthRecv) {
  PlanBuilder b(2);
  b.group(GroupKind::pp, {0, 1});
  const auto p0 = b.program("stage0");
  const auto p1 = b.program("stage1");
  b.delay(p0, 0, 100);
  const auto s1 = b.send(p0, 0, GroupKind::pp, 1, 1'000'000);
  const auto s2 = b.send(p0, 0, GroupKind::pp, 1, 2'000'000);
  b.delay(p1, 0, 5000);
  const auto r1 = b.recv(p1, 0, GroupKind::pp, -1, 1'000'000);
  const auto r2 = b.recv(p1, 0, GroupKind::pp, -1, 2'000'000);
  b.assign(1, p1);
  const auto trace = engine::simulate(b.build(), test_hardware(1, 2));
  // Rendezvous: the first transfer starts when the recv is posted (5000 ns), a + S/B on NVSwitch.
  const std::int64_t t1 = ns(2e-6 + 1e6 / 300e9), t2 = ns(2e-6 + 2e6 / 300e9);
  EXPECT_EQ(span(trace, 0, s1).start_ns, 100);
  EXPECT_EQ(span(trace, 0, s1).end_ns, 5000 + t1);
  EXPECT_EQ(span(trace, 1, r1).end_ns, 5000 + t1);
  EXPECT_EQ(span(trace, 0, s2).end_ns, 5000 + t1 + t2);
  EXPECT_EQ(span(trace, 1, r2).end_ns, 5000 + t1 + t2);
  ASSERT_EQ(trace.summary.comm.size(), 1u);  // critical rank 0: its sends
  EXPECT_EQ(trace.summary.comm[0].type, "send");
  EXPECT_EQ(trace.summary.comm[0].count, 2);
  EXPECT_EQ(trace.summary.comm[0].bytes, 3'000'000);

  // Receiving in the other order pairs messages of different sizes: a malformed plan.
  std::swap(b.plan().programs[1].ops[1].params, b.plan().programs[1].ops[2].params);
  EXPECT_THROW(engine::simulate(b.build(), test_hardware(1, 2)), InternalError);
}

TEST(Simulate, P2PTagsSeparateMessageStreams) {
  // Rank 0 issues the tag-1 message first; rank 1 receives tag 0 first. Matching per (source,
  // destination, tag) pairs them by tag, not by overall order.
  PlanBuilder b(2);
  b.group(GroupKind::pp, {0, 1});
  const auto p0 = b.program("a", {StreamKind::comm, StreamKind::comm});
  const auto p1 = b.program("b", {StreamKind::comm, StreamKind::comm});
  const auto s_grad = b.send(p0, 0, GroupKind::pp, 1, 2'000'000, {}, /*tag=*/1);
  const auto s_act = b.send(p0, 1, GroupKind::pp, 1, 1'000'000, {}, /*tag=*/0);
  const auto r_act = b.recv(p1, 0, GroupKind::pp, 1, 1'000'000, {}, /*tag=*/0);
  const auto r_grad = b.recv(p1, 1, GroupKind::pp, 1, 2'000'000, {}, /*tag=*/1);
  b.assign(1, p1);
  const auto t = engine::simulate(b.build(), test_hardware(1, 2));
  EXPECT_EQ(span(t, 0, s_act).end_ns, ns(2e-6 + 1e6 / 300e9));
  EXPECT_EQ(span(t, 1, r_act).end_ns, ns(2e-6 + 1e6 / 300e9));
  EXPECT_EQ(span(t, 0, s_grad).end_ns, ns(2e-6 + 2e6 / 300e9));
  EXPECT_EQ(span(t, 1, r_grad).end_ns, ns(2e-6 + 2e6 / 300e9));
}

TEST(Simulate, BusyDelayHoldsBackATransferThatEndsDuringAKernel) {
  // Rank 1 receives on its comm stream while its compute stream runs a long GEMM; rank 0 only
  // sends. With comm_busy_delay_ns = D the recv completes D after the transfer (a + S/B on
  // NVSwitch, as above), and so does the send, whose rendezvous waits for the receiver (an idle
  // sender adds nothing); a transfer after the GEMM has ended is not delayed.
  PlanBuilder b(2);
  b.group(GroupKind::pp, {0, 1});
  const auto p0 = b.program("a", {StreamKind::comm});
  const auto p1 = b.program("b", {StreamKind::compute, StreamKind::comm});
  const auto s1 = b.send(p0, 0, GroupKind::pp, 1, 1'000'000);
  const auto s2 = b.send(p0, 0, GroupKind::pp, 1, 1'000'000);
  const auto g = b.gemm(p1, 0, 8192, 8192, 8192, DType::fp32);
  const auto r1 = b.recv(p1, 1, GroupKind::pp, -1, 1'000'000);
  const auto r2 = b.recv(p1, 1, GroupKind::pp, -1, 1'000'000, {g});
  b.assign(1, p1);
  const std::int64_t t = ns(2e-6 + 1e6 / 300e9);
  const double d = 3'000'000.0;
  SimulationOptions o;
  o.comm_busy_delay_ns = d;
  const auto trace = engine::simulate(b.build(), test_hardware(1, 2), o);
  const std::int64_t gemm_end = span(trace, 1, g).end_ns;
  ASSERT_GT(gemm_end, t + static_cast<std::int64_t>(d));  // the GEMM outlasts the delayed recv
  EXPECT_EQ(span(trace, 0, s1).end_ns, t + static_cast<std::int64_t>(d));
  EXPECT_EQ(span(trace, 1, r1).end_ns, t + static_cast<std::int64_t>(d));
  EXPECT_EQ(span(trace, 0, s2).end_ns, gemm_end + t);
  EXPECT_EQ(span(trace, 1, r2).end_ns, gemm_end + t);
  EXPECT_EQ(trace.extra["comm_busy_delay_ns"], d);

  // A delay longer than the GEMM: the recv completes when its rank stops computing (the polling
  // thread gets the core when the computing thread blocks).
  o.comm_busy_delay_ns = 1e12;
  const auto held = engine::simulate(b.build(), test_hardware(1, 2), o);
  EXPECT_EQ(span(held, 1, r1).end_ns, span(held, 1, g).end_ns);
  EXPECT_EQ(span(held, 1, r1).end_ns, gemm_end);
  EXPECT_EQ(span(held, 0, s1).end_ns, gemm_end);

  o.comm_busy_delay_ns = 0.0;
  EXPECT_EQ(span(engine::simulate(b.build(), test_hardware(1, 2), o), 1, r1).end_ns, t);
  o.comm_busy_delay_ns = -1.0;
  EXPECT_THROW(engine::simulate(b.build(), test_hardware(1, 2), o), InputError);
}

TEST(Simulate, AWaitingOpIsSeenDoneAtItsNextPoll) {
  // Rank 1 posts its recv at once; rank 0 sends after a 1 ms delay. The transfer (a + S/B on
  // NVSwitch, as above) ends t after the send's post. The CPU executor's waiting thread tests at
  // its post and after each sleep: 10 us while its rank runs no kernel, else 10 us doubling to
  // 200 us; each sleep lasts 5 us (the overshoot) longer. Where between two polls the transfer
  // ends is set by the other rank's timeline, so the engine charges the expected wait, half the
  // interval. Rank 1 runs no kernel: its recv is seen 7.5 us (half of 15 us) after the transfer's
  // end. The sender, which posted last and whose delay (not a kernel) has ended, then sees the
  // rendezvous done on its own 15 us grid, 7.5 us later again.
  PlanBuilder b(2);
  b.group(GroupKind::pp, {0, 1});
  const auto p0 = b.program("a", {StreamKind::compute, StreamKind::comm});
  const auto p1 = b.program("b", {StreamKind::comm});
  const auto d = b.delay(p0, 0, 1'000'000);
  const auto s = b.send(p0, 1, GroupKind::pp, 1, 1'000'000, {d});
  const auto r = b.recv(p1, 0, GroupKind::pp, -1, 1'000'000);
  b.assign(1, p1);
  const std::int64_t t = ns(2e-6 + 1e6 / 300e9);
  SimulationOptions o;
  o.comm_poll = engine::PollSchedule{10'000.0, 200'000.0, 5'000.0};
  const auto trace = engine::simulate(b.build(), test_hardware(1, 2), o);
  const std::int64_t post = span(trace, 0, s).start_ns;
  ASSERT_GE(post, 1'000'000);
  ASSERT_EQ(span(trace, 1, r).start_ns, 0);
  EXPECT_EQ(span(trace, 1, r).end_ns, post + t + 7'500);
  EXPECT_EQ(span(trace, 0, s).end_ns, post + t + 15'000);
  EXPECT_EQ(trace.extra["comm_poll_ns"]["cap"], 200'000.0);
  EXPECT_EQ(trace.extra["comm_poll_ns"]["overshoot"], 5'000.0);

  // Without a schedule, both end with the transfer.
  o.comm_poll.reset();
  const auto plain = engine::simulate(b.build(), test_hardware(1, 2), o);
  EXPECT_EQ(span(plain, 1, r).end_ns, span(plain, 0, s).start_ns + t);
  EXPECT_EQ(span(plain, 0, s).end_ns, span(plain, 0, s).start_ns + t);

  o.comm_poll = engine::PollSchedule{10'000.0, 0.0};
  EXPECT_THROW(engine::simulate(b.build(), test_hardware(1, 2), o), InputError);
  o.comm_poll = engine::PollSchedule{0.0, 5.0};
  EXPECT_THROW(engine::simulate(b.build(), test_hardware(1, 2), o), InputError);
  o.comm_poll = engine::PollSchedule{300.0, 200.0};
  EXPECT_THROW(engine::simulate(b.build(), test_hardware(1, 2), o), InputError);
  o.comm_poll = engine::PollSchedule{10'000.0, 200'000.0, -1.0};
  EXPECT_THROW(engine::simulate(b.build(), test_hardware(1, 2), o), InputError);
}

// Rank 1 posts a recv at once and runs a gemm_size^3 bf16 GEMM; rank 0 sends 1 MB to it after a
// 1 ms delay. Ops: rank 0's send is op 1, rank 1's GEMM op 0 and recv op 1.
plan::Trace simulate_recv_beside_a_gemm(std::int64_t gemm_size, const SimulationOptions& o) {
  PlanBuilder b(2);
  b.group(GroupKind::pp, {0, 1});
  const auto p0 = b.program("a", {StreamKind::compute, StreamKind::comm});
  const auto p1 = b.program("b", {StreamKind::compute, StreamKind::comm});
  const auto d = b.delay(p0, 0, 1'000'000);
  b.send(p0, 1, GroupKind::pp, 1, 1'000'000, {d});
  b.gemm(p1, 0, gemm_size, gemm_size, gemm_size, DType::bf16);
  b.recv(p1, 1, GroupKind::pp, -1, 1'000'000);
  b.assign(1, p1);
  return engine::simulate(b.build(), test_hardware(1, 2), o);
}

TEST(Simulate, AWaitingThreadBacksOffWhileItsRankComputes) {
  // As above, but rank 1 also runs a GEMM from the start, so its waiting thread backs off: polls at
  // 0, 15, 40, 85, 170, 335 us (sleeps of 10, 20, 40, 80, 160 us, each 5 us longer), then every
  // 205 us (200 + 5), until its first poll after the GEMM ends; from then on every 15 us. The recv
  // is seen half the interval between the polls around the transfer's end after that end (the
  // expected wait, as above).
  const std::int64_t t = ns(2e-6 + 1e6 / 300e9);
  const auto run = [](std::int64_t gemm_size, double busy_delay_ns = 0.0) {
    SimulationOptions o;
    o.comm_poll = engine::PollSchedule{10'000.0, 200'000.0, 5'000.0};
    o.comm_busy_delay_ns = busy_delay_ns;
    return simulate_recv_beside_a_gemm(gemm_size, o);
  };
  const std::vector<std::int64_t> backed_off = {0,       15'000,  40'000,  85'000,    170'000,   335'000,
                                                540'000, 745'000, 950'000, 1'155'000, 1'360'000, 1'565'000};
  const auto first_at_or_after = [&](std::int64_t at) {
    return *std::lower_bound(backed_off.begin(), backed_off.end(), at);
  };
  const auto half_interval_around = [&](std::int64_t at) {
    const auto next = std::lower_bound(backed_off.begin(), backed_off.end(), at);
    return (*next - *std::prev(next)) / 2;
  };
  // The GEMM outlasts the transfer: the recv is seen half a back-off interval after it.
  {
    const auto trace = run(8192);
    const std::int64_t end = span(trace, 0, 1).start_ns + t;
    ASSERT_EQ(span(trace, 1, 1).start_ns, 0);
    ASSERT_GT(span(trace, 1, 0).end_ns, 1'565'000);
    ASSERT_LT(end, 1'565'000);
    ASSERT_GT(end, 540'000);  // in the capped part: half of 205 us
    EXPECT_EQ(span(trace, 1, 1).end_ns, end + 102'500);
    EXPECT_EQ(half_interval_around(end), 102'500);
    // The receiver then moves the data on a core its GEMM shares: the busy-core delay longer.
    const auto busy = run(8192, 30'000.0);
    EXPECT_EQ(span(busy, 1, 1).end_ns, end + 102'500 + 30'000);
  }
  // The GEMM ends before: the thread polls every 15 us from its first poll after the GEMM's end;
  // when that poll came before the transfer's end, the recv is seen 7.5 us after it, and no
  // busy-core delay applies.
  {
    const auto trace = run(4096, 30'000.0);
    const std::int64_t gemm_end = span(trace, 1, 0).end_ns, end = span(trace, 0, 1).start_ns + t;
    ASSERT_GT(gemm_end, 170'000);
    ASSERT_LT(first_at_or_after(gemm_end), end);
    EXPECT_EQ(span(trace, 1, 1).end_ns, end + 7'500);
    // The GEMM ends between the grid poll at 950 us and the transfer's end, and the next poll on
    // the back-off grid comes after the transfer's end: half that back-off interval.
    const auto late = run(4608);
    const std::int64_t late_gemm_end = span(late, 1, 0).end_ns, late_end = span(late, 0, 1).start_ns + t;
    ASSERT_LT(late_gemm_end, late_end);
    ASSERT_GT(late_gemm_end, 950'000);
    ASSERT_GT(first_at_or_after(late_gemm_end), late_end);
    EXPECT_EQ(span(late, 1, 1).end_ns, late_end + 102'500);
  }
}

TEST(Simulate, AWaitingThreadBacksOffAcrossConsecutiveKernels) {
  // As above, but rank 1 runs two GEMMs back to back. Between them no poll finds the rank idle
  // (the executor resets a waiting thread's back-off only when a poll sees no kernel running), so
  // the thread's polls stay on one back-off grid from its post (0, 15, 40, 85, 170, 335 us, then
  // every 205 us): the recv, whose transfer ends during the second GEMM, is seen half a capped
  // interval (102.5 us) after that end, not on a grid restarted at the second GEMM.
  const std::int64_t t = ns(2e-6 + 1e6 / 300e9);
  PlanBuilder b(2);
  b.group(GroupKind::pp, {0, 1});
  const auto p0 = b.program("a", {StreamKind::compute, StreamKind::comm});
  const auto p1 = b.program("b", {StreamKind::compute, StreamKind::comm});
  const auto d = b.delay(p0, 0, 1'000'000);
  const auto s = b.send(p0, 1, GroupKind::pp, 1, 1'000'000, {d});
  const auto g1 = b.gemm(p1, 0, 4096, 4096, 4096, DType::bf16);
  const auto g2 = b.gemm(p1, 0, 4096, 4096, 4096, DType::bf16);
  const auto r = b.recv(p1, 1, GroupKind::pp, -1, 1'000'000);
  b.assign(1, p1);
  SimulationOptions o;
  o.comm_poll = engine::PollSchedule{10'000.0, 200'000.0, 5'000.0};
  const auto trace = engine::simulate(b.build(), test_hardware(1, 2), o);
  const std::int64_t end = span(trace, 0, s).start_ns + t;
  const std::int64_t second = span(trace, 1, g2).start_ns;
  ASSERT_EQ(span(trace, 1, r).start_ns, 0);
  ASSERT_EQ(second, span(trace, 1, g1).end_ns);  // back to back
  ASSERT_GT(end, second);
  ASSERT_LT(end, span(trace, 1, g2).end_ns);
  ASSERT_LT(end - second, 335'000);  // a grid restarted at the second GEMM would poll faster
  ASSERT_GT(end, 540'000);           // on the first GEMM's grid, in the capped part
  EXPECT_EQ(span(trace, 1, r).end_ns, end + 102'500);
}

TEST(Simulate, ATransferIntoARankThatIdledTakesItsIdleDelayLonger) {
  // Rank 1 posts its recv at once and runs a GEMM; rank 0 sends after a 1 ms delay (a + S/B = t
  // on NVSwitch, as above). Extra time after idling: 20 us after 100 us, 50 us after 1 ms, linear
  // in between and from 0 at 0, held beyond. No poll schedule, so the recv ends when the transfer
  // and that extra are over, and the sender with it.
  const std::int64_t t = ns(2e-6 + 1e6 / 300e9);
  const auto run = [](std::int64_t gemm_size, std::optional<std::vector<plan::IdleDelaySample>> delay) {
    SimulationOptions o;
    o.comm_idle_delay = std::move(delay);
    return simulate_recv_beside_a_gemm(gemm_size, o);
  };
  const std::vector<plan::IdleDelaySample> delay = {{100'000.0, 20'000.0}, {1'000'000.0, 50'000.0}};
  {  // idle for (post - gemm end), between the samples
    const auto trace = run(4096, delay);
    const std::int64_t post = span(trace, 0, 1).start_ns, gemm_end = span(trace, 1, 0).end_ns;
    const double idle = static_cast<double>(post - gemm_end);
    ASSERT_GT(idle, 100'000.0);
    ASSERT_LT(idle, 1'000'000.0);
    const auto extra = static_cast<std::int64_t>(std::llround(20'000.0 + 30'000.0 * (idle - 100'000.0) / 900'000.0));
    EXPECT_EQ(span(trace, 1, 1).end_ns, post + t + extra);
    EXPECT_EQ(span(trace, 0, 1).end_ns, post + t + extra);
    EXPECT_EQ(trace.extra["comm_idle_delay_ns"][1]["delay"], 50'000.0);
    // Without samples, none.
    const auto plain = run(4096, std::nullopt);
    EXPECT_EQ(span(plain, 1, 1).end_ns, span(plain, 0, 1).start_ns + t);
  }
  {  // still computing when the send is posted: no extra
    const auto trace = run(8192, delay);
    ASSERT_GT(span(trace, 1, 0).end_ns, span(trace, 0, 1).start_ns + t);
    EXPECT_EQ(span(trace, 1, 1).end_ns, span(trace, 0, 1).start_ns + t);
  }
  EXPECT_THROW(run(4096, std::vector<plan::IdleDelaySample>{{1'000'000.0, 1.0}, {100'000.0, 2.0}}), InputError);
  EXPECT_THROW(run(4096, std::vector<plan::IdleDelaySample>{{100'000.0, -1.0}}), InputError);
}

TEST(Simulate, DegradedNicsSlowTheGroupsThatUseThem) {
  PlanBuilder b(4);
  b.group(GroupKind::dp, {0, 1, 2, 3});
  const auto p = b.program("p");
  const std::int64_t s = 8 << 20;
  const auto ar = b.collective(p, 0, CollectiveType::all_reduce, GroupKind::dp, s);
  for (int r = 1; r < 4; ++r) b.assign(r, p);
  plan::Hardware hw = test_hardware(4, 1);
  hw.degradations.push_back({"node:2", 0.25});
  const auto t = engine::simulate(b.build(), hw, with_algorithm("ring"));
  EXPECT_EQ(t.extra["rank_mode"], "expanded");
  EXPECT_EQ(duration(t, 0, ar), ns(2 * 3 * 5e-6 + 2.0 * 3 / 4 * s / (0.25 * 50e9)));
  hw.degradations = {{"switch:1", 0.5}};
  EXPECT_THROW(engine::simulate(b.build(), hw), InputError);
  hw.degradations = {{"node:9", 0.5}};
  EXPECT_THROW(engine::simulate(b.build(), hw), InputError);
  hw.degradations = {{"node:1", 0.0}};
  EXPECT_THROW(engine::simulate(b.build(), hw), InputError);
}

TEST(Simulate, BadSlowdownsAreInputErrors) {
  plan::Hardware hw = test_hardware(1, 1);
  hw.slowdowns = {{3, 1.5}};
  EXPECT_THROW(engine::simulate(memory_plan(), hw), InputError);
  hw.slowdowns = {{0, -1.0}};
  EXPECT_THROW(engine::simulate(memory_plan(), hw), InputError);
}

TEST(Simulate, UnmatchedCollectiveIsReportedAsStuck) {
  PlanBuilder b(2);
  b.group(GroupKind::dp, {0, 1});
  const auto p0 = b.program("a");
  const auto p1 = b.program("b");
  b.collective(p0, 0, CollectiveType::all_reduce, GroupKind::dp, 1024);
  b.collective(p0, 0, CollectiveType::all_reduce, GroupKind::dp, 1024);
  b.collective(p1, 0, CollectiveType::all_reduce, GroupKind::dp, 1024);
  b.assign(1, p1);
  try {
    engine::simulate(b.build(), test_hardware(1, 2));
    FAIL() << "expected InternalError";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("waits in all_reduce #1"), std::string::npos) << e.what();
  }
}

// --- memory ----------------------------------------------------------------------------------------

plan::Plan memory_plan() {
  PlanBuilder b(1);
  const auto p = b.program("p");
  const auto w = b.tensor("w", 1000, TensorRole::weight, true);
  const auto a = b.tensor("a", 300);
  const auto a2 = b.tensor("a2", 600);
  const auto g = b.tensor("g", 200, TensorRole::grad);
  const auto ws = b.tensor("ws", 500, TensorRole::workspace);
  const auto v = b.view("a_view", a, 0, 100);
  b.persistent(p, w);
  const auto o0 = b.delay(p, 0, 10);
  b.at(p, o0).allocs = {a, ws};
  b.at(p, o0).frees = {ws};
  const auto o1 = b.delay(p, 0, 10);
  b.at(p, o1).allocs = {g, a2};
  b.at(p, o1).inputs = {v};
  b.at(p, o1).frees = {a, a2};
  const auto o2 = b.delay(p, 0, 10);
  b.at(p, o2).allocs = {a, ws};  // allocated again after its free
  b.at(p, o2).frees = {a, ws, g};
  return b.build();
}

TEST(Simulate, MemoryPeakBreakdownRolePeaksAndTimeline) {
  const auto trace = engine::simulate(memory_plan(), test_hardware(1, 1));
  ASSERT_EQ(trace.memory.size(), 1u);
  const auto& m = trace.memory[0];
  // t=0: w 1000, +a +ws = 1800; t=10: -ws = 1300, +g +a2 = 2100 (peak); t=20: -a -a2 = 1200,
  // +a +ws = 2000; t=30: -a -ws -g = 1000. The view is never allocated.
  EXPECT_EQ(m.peak_bytes, 2100);
  EXPECT_EQ(m.peak_time_ns, 10);
  EXPECT_EQ(m.persistent_bytes, 1000);
  const std::map<TensorRole, std::int64_t> at_peak{
      {TensorRole::weight, 1000}, {TensorRole::activation, 900}, {TensorRole::grad, 200}};
  EXPECT_EQ(m.at_peak, at_peak);
  const std::map<TensorRole, std::int64_t> role_peak{
      {TensorRole::weight, 1000}, {TensorRole::activation, 900}, {TensorRole::grad, 200}, {TensorRole::workspace, 500}};
  EXPECT_EQ(m.role_peak, role_peak);
  const std::vector<std::pair<std::int64_t, std::int64_t>> expected{{0, 1000},  {0, 1800},  {10, 1300}, {10, 2100},
                                                                    {20, 1200}, {20, 2000}, {30, 1000}};
  ASSERT_EQ(m.timeline.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(m.timeline[i].t_ns, expected[i].first) << i;
    EXPECT_EQ(m.timeline[i].bytes, expected[i].second) << i;
  }
  EXPECT_TRUE(m.fits);
  EXPECT_EQ(m.capacity_bytes, static_cast<std::int64_t>(std::floor(80.0 * (1 << 30) * 0.95)));
  EXPECT_EQ(trace.summary.peak_memory_bytes, 2100);
}

TEST(Simulate, OverCapacityStillCompletesWithFitsFalse) {
  plan::Hardware hw = test_hardware(1, 1);
  hw.gpu.memory_gib = 2000.0 / (1 << 30);  // 2000 bytes, 1900 usable
  const auto trace = engine::simulate(memory_plan(), hw);
  EXPECT_EQ(trace.summary.capacity_bytes, 1900);
  EXPECT_EQ(trace.summary.peak_memory_bytes, 2100);
  EXPECT_FALSE(trace.summary.fits);
  EXPECT_FALSE(trace.memory[0].fits);
  EXPECT_EQ(step_ns(trace), 30);
}

TEST(Simulate, TimelineIsDownSampledKeepingThePeak) {
  PlanBuilder b(1);
  const auto p = b.program("p");
  for (int i = 0; i < 500; ++i) {
    const auto t = b.tensor("t" + std::to_string(i), i == 321 ? 10'000 : 10 + i % 7);
    const auto o = b.delay(p, 0, 5);
    b.at(p, o).allocs = {t};
    b.at(p, o).frees = {t};
  }
  SimulationOptions o;
  o.max_timeline_samples = 32;
  const auto trace = engine::simulate(b.build(), test_hardware(1, 1), o);
  const auto& m = trace.memory[0];
  EXPECT_LE(m.timeline.size(), 32u);
  EXPECT_EQ(m.peak_bytes, 10'000);
  bool has_peak = false;
  for (const auto& s : m.timeline) has_peak |= s.bytes == 10'000 && s.t_ns == m.peak_time_ns;
  EXPECT_TRUE(has_peak);
}

// --- rank modes, determinism ------------------------------------------------------------------------

// 16 ranks on 2 nodes x 8: TP groups of 8 inside a node, DP groups {i, i+8} across nodes. Forward
// and backward GEMMs, a TP all-reduce on the compute stream, bucketed DP all-reduces on a comm
// stream overlapping the backward pass, then the optimizer.
plan::Plan data_parallel_plan() {
  PlanBuilder b(16);
  b.groups_by(GroupKind::tp, 8);
  b.groups_by(GroupKind::dp, 2, /*strided=*/true);
  const auto p = b.program("replica", {StreamKind::compute, StreamKind::comm});
  const auto w = b.tensor("w", 64 << 20, TensorRole::weight, true);
  const auto grads = b.tensor("grads", 64 << 20, TensorRole::grad, true);
  b.persistent(p, w), b.persistent(p, grads);
  std::vector<plan::OpId> acts_ops;
  std::vector<plan::TensorId> acts;
  plan::OpId last = -1;
  for (int l = 0; l < 4; ++l) {
    const auto act = b.tensor("act" + std::to_string(l), 8 << 20);
    last = b.gemm(p, 0, 4096, 4096, 1024, DType::bf16,
                  last >= 0 ? std::vector<plan::OpId>{last} : std::vector<plan::OpId>{});
    b.at(p, last).allocs = {act};
    acts.push_back(act);
    last = b.collective(p, 0, CollectiveType::all_reduce, GroupKind::tp, 8 << 20);
  }
  std::vector<plan::OpId> buckets;
  for (int l = 3; l >= 0; --l) {
    last = b.gemm(p, 0, 4096, 1024, 4096, DType::bf16);
    b.at(p, last).frees = {acts[static_cast<std::size_t>(l)]};
    buckets.push_back(b.collective(p, 1, CollectiveType::all_reduce, GroupKind::dp, 16 << 20, {last}));
  }
  plan::ElementwiseParams adam;
  adam.name = "adamw", adam.bytes_read = 64 << 20, adam.bytes_written = 32 << 20;
  b.op(p, "optimizer", 0, adam, OpKind::elementwise, buckets);
  for (int r = 1; r < 16; ++r) b.assign(r, p);
  return b.build();
}

TEST(Simulate, ExpandedAndSymmetricAgreeExactly) {
  const plan::Plan plan = data_parallel_plan();
  const plan::Hardware hw = test_hardware(2, 8);
  SimulationOptions e, s;
  e.rank_mode = engine::RankMode::expanded;
  s.rank_mode = engine::RankMode::symmetric;
  const auto te = engine::simulate(plan, hw, e);
  const auto ts = engine::simulate(plan, hw, s);
  EXPECT_EQ(te.ranks.size(), 16u);
  ASSERT_EQ(ts.ranks, std::vector<std::int32_t>{0});
  EXPECT_EQ(ts.extra["represented_ranks"], nlohmann::json::array({16}));
  EXPECT_EQ(ts.extra["rank_mode"], "symmetric");
  EXPECT_EQ(te.summary.step_time_s, ts.summary.step_time_s);
  EXPECT_EQ(te.summary.bubble_fraction, ts.summary.bubble_fraction);
  EXPECT_EQ(te.summary.exposed_comm_s, ts.summary.exposed_comm_s);
  EXPECT_EQ(te.summary.compute_time_s, ts.summary.compute_time_s);
  EXPECT_EQ(te.summary.peak_memory_bytes, ts.summary.peak_memory_bytes);
  EXPECT_EQ(te.summary.critical_rank, ts.summary.critical_rank);
  EXPECT_EQ(plan::to_json(te.summary)["comm"], plan::to_json(ts.summary)["comm"]);
  // Every rank of the expanded run follows the representative's timeline.
  for (std::int32_t r = 0; r < 16; ++r)
    for (std::size_t op = 0; op < plan.programs[0].ops.size(); ++op) {
      const auto& x = span(te, r, static_cast<plan::OpId>(op));
      const auto& y = span(ts, 0, static_cast<plan::OpId>(op));
      ASSERT_EQ(x.start_ns, y.start_ns) << "rank " << r << " op " << op;
      ASSERT_EQ(x.end_ns, y.end_ns) << "rank " << r << " op " << op;
    }
  EXPECT_EQ(plan::to_json(te)["memory"][0], plan::to_json(ts)["memory"][0]);
  EXPECT_LT(ts.summary.events, te.summary.events);
}

TEST(Simulate, SymmetricWithAStragglerSplitsClassesAndStaysExact) {
  const plan::Plan plan = data_parallel_plan();
  plan::Hardware hw = test_hardware(2, 8);
  hw.slowdowns.push_back({5, 1.3});
  SimulationOptions s;
  s.rank_mode = engine::RankMode::symmetric;
  const auto te = engine::simulate(plan, hw);  // automatic: expanded because of the straggler
  const auto ts = engine::simulate(plan, hw, s);
  EXPECT_EQ(te.extra["rank_mode"], "expanded");
  EXPECT_GT(ts.ranks.size(), 1u);
  EXPECT_LT(ts.ranks.size(), 16u);
  EXPECT_EQ(te.summary.step_time_s, ts.summary.step_time_s);
  EXPECT_EQ(te.summary.critical_rank, ts.summary.critical_rank);
  EXPECT_EQ(te.summary.bubble_fraction, ts.summary.bubble_fraction);
  for (plan::Rank r : ts.ranks)
    for (std::size_t op = 0; op < plan.programs[0].ops.size(); ++op) {
      ASSERT_EQ(span(te, r, static_cast<plan::OpId>(op)).start_ns, span(ts, r, static_cast<plan::OpId>(op)).start_ns);
      ASSERT_EQ(span(te, r, static_cast<plan::OpId>(op)).end_ns, span(ts, r, static_cast<plan::OpId>(op)).end_ns);
    }
}

TEST(Simulate, DeterministicTraceJson) {
  SimulationOptions o;
  o.record_wall_time = false;
  o.rank_mode = engine::RankMode::expanded;
  const auto a = plan::to_json(engine::simulate(data_parallel_plan(), test_hardware(2, 8), o)).dump();
  const auto b = plan::to_json(engine::simulate(data_parallel_plan(), test_hardware(2, 8), o)).dump();
  EXPECT_EQ(a, b);
  EXPECT_EQ(plan::to_json(engine::simulate(data_parallel_plan(), test_hardware(2, 8), o))["summary"]["wall_time_s"],
            0.0);
}

// --- pipeline bubble --------------------------------------------------------------------------------

enum class Schedule { gpipe, one_f_one_b };

// p uniform stages, m micro-batches; forward = one GEMM, backward = one GEMM of twice the FLOPs;
// activations and gradients move by zero-byte (free) p2p on dedicated streams.
plan::Plan pipeline_plan(std::int32_t p, std::int32_t m, Schedule schedule) {
  PlanBuilder b(p);
  b.group(GroupKind::pp, [&] {
    std::vector<plan::Rank> r;
    for (int i = 0; i < p; ++i) r.push_back(i);
    return r;
  }());
  for (std::int32_t s = 0; s < p; ++s) {
    const auto prog = b.program("stage" + std::to_string(s), {StreamKind::compute, StreamKind::comm, StreamKind::comm,
                                                              StreamKind::comm, StreamKind::comm});
    b.assign(s, prog);
    std::vector<std::pair<bool, int>> order;  // (forward?, micro-batch)
    if (schedule == Schedule::gpipe) {
      for (int j = 0; j < m; ++j) order.emplace_back(true, j);
      for (int j = 0; j < m; ++j) order.emplace_back(false, j);
    } else {
      const int warmup = std::min(p - s - 1, m);
      for (int j = 0; j < warmup; ++j) order.emplace_back(true, j);
      for (int i = 0; i < m - warmup; ++i) order.emplace_back(true, warmup + i), order.emplace_back(false, i);
      for (int j = m - warmup; j < m; ++j) order.emplace_back(false, j);
    }
    for (const auto& [forward, j] : order) {
      std::vector<plan::OpId> deps;
      if (forward && s > 0) deps.push_back(b.recv(prog, 1, GroupKind::pp, -1, 0));
      if (!forward && s < p - 1) deps.push_back(b.recv(prog, 2, GroupKind::pp, 1, 0));
      const auto op = forward ? b.gemm(prog, 0, 1024, 1024, 1024, DType::bf16, deps)
                              : b.gemm(prog, 0, 1024, 1024, 2048, DType::bf16, deps);
      b.at(prog, op).tags.microbatch = j;
      if (forward && s < p - 1) b.send(prog, 3, GroupKind::pp, 1, 0, {op});
      if (!forward && s > 0) b.send(prog, 4, GroupKind::pp, -1, 0, {op});
    }
  }
  return b.build();
}

TEST(Simulate, PipelineBubbleMatchesClosedForm) {
  // Narayanan et al., SC'21: bubble = (p - 1) / (m + p - 1) for GPipe and 1F1B.
  const std::int32_t p = 4, m = 8;
  const double expected = (p - 1.0) / (m + p - 1.0);
  for (Schedule schedule : {Schedule::gpipe, Schedule::one_f_one_b}) {
    const auto trace = engine::simulate(pipeline_plan(p, m, schedule), test_hardware(1, 4));
    EXPECT_NEAR(trace.summary.bubble_fraction, expected, 0.01 * expected)
        << (schedule == Schedule::gpipe ? "gpipe" : "1f1b");
    const double f = ns(2.0 * 1024 * 1024 * 1024 / 200e12) + 2000, bwd = ns(4.0 * 1024 * 1024 * 1024 / 200e12) + 2000;
    EXPECT_NEAR(trace.summary.step_time_s * 1e9, (m + p - 1) * (f + bwd), 0.01 * (m + p - 1) * (f + bwd));
  }
}

TEST(Simulate, ThroughputAndMfuFromMeta) {
  PlanBuilder b(2);
  b.group(GroupKind::dp, {0, 1});
  const auto p = b.program("p");
  b.delay(p, 0, 1'000'000);  // 1 ms step
  b.assign(1, p);
  b.plan().meta.tokens_per_step = 4096;
  b.plan().meta.global_batch = 8;
  b.plan().meta.model_flops_per_step = 100e9;
  b.plan().meta.hardware_flops_per_step = 150e9;
  b.plan().meta.precision = Precision::bf16;
  const auto t = engine::simulate(b.build(), test_hardware(1, 2));
  EXPECT_DOUBLE_EQ(t.summary.step_time_s, 1e-3);
  EXPECT_DOUBLE_EQ(t.summary.tokens_per_s, 4096 / 1e-3);
  EXPECT_DOUBLE_EQ(t.summary.samples_per_s, 8 / 1e-3);
  EXPECT_DOUBLE_EQ(t.summary.mfu, 100e9 / (1e-3 * 2 * 200e12));
  EXPECT_DOUBLE_EQ(t.summary.hfu, 150e9 / (1e-3 * 2 * 200e12));
  EXPECT_DOUBLE_EQ(t.summary.bubble_fraction, 1.0);  // a delay is not compute: the GPU idles
}

TEST(Simulate, ExposedCommunicationIsTheUncoveredPart) {
  // Compute 0..G on stream 0; a DP all-reduce posted at 0 on stream 1 runs C > G: exposed C - G.
  PlanBuilder b(2);
  b.group(GroupKind::dp, {0, 1});
  const auto p = b.program("p", {StreamKind::compute, StreamKind::comm});
  const auto g = b.gemm(p, 0, 1024, 1024, 1024, DType::bf16);
  const auto ar = b.collective(p, 1, CollectiveType::all_reduce, GroupKind::dp, 256 << 20);
  b.assign(1, p);
  const auto t = engine::simulate(b.build(), test_hardware(1, 2), with_algorithm("ring"));
  const std::int64_t gemm = duration(t, 0, g), c = duration(t, 0, ar);
  ASSERT_GT(c, gemm);
  ASSERT_EQ(t.summary.comm.size(), 1u);
  EXPECT_EQ(t.summary.comm[0].count, 1);
  EXPECT_NEAR(t.summary.comm[0].time_s, c * 1e-9, 1e-15);
  EXPECT_NEAR(t.summary.comm[0].exposed_s, (c - gemm) * 1e-9, 1e-15);
  EXPECT_NEAR(t.summary.exposed_comm_s, (c - gemm) * 1e-9, 1e-15);
  EXPECT_NEAR(t.summary.bubble_fraction, 0.0, 1e-12);  // idle time explained by the collective
}

// --- errors ------------------------------------------------------------------------------------------

TEST(Simulate, UnknownNamesListTheValidOnes) {
  const plan::Plan plan = memory_plan();
  const plan::Hardware hw = test_hardware(1, 1);
  SimulationOptions o;
  o.cost_model = "magic";
  try {
    engine::simulate(plan, hw, o);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "simulation.cost_model");
    EXPECT_NE(e.allowed().find("\"roofline\""), std::string::npos);
    EXPECT_NE(e.allowed().find("\"calibrated\""), std::string::npos);
  }
  o = {};
  o.collective_algorithm = "butterfly";
  try {
    engine::simulate(plan, hw, o);
    FAIL();
  } catch (const InputError& e) {
    for (const char* name : {"auto", "ring", "tree", "halving-doubling", "hierarchical", "direct"})
      EXPECT_NE(e.allowed().find(std::string("\"") + name + "\""), std::string::npos) << name;
  }
  o = {};
  o.cost_model = "calibrated";  // without a profile
  EXPECT_THROW(engine::simulate(plan, hw, o), InputError);
}

TEST(Simulate, EmptyProgramsGiveAnEmptyStep) {
  PlanBuilder b(2);
  b.program("idle");
  b.assign(1, 0);
  const auto t = engine::simulate(b.build(), test_hardware(1, 2));
  EXPECT_EQ(t.summary.step_time_s, 0.0);
  EXPECT_EQ(t.summary.bubble_fraction, 0.0);
  EXPECT_TRUE(t.ops.empty());
  ASSERT_EQ(t.memory.size(), 1u);  // symmetric: one representative
  EXPECT_EQ(t.memory[0].peak_bytes, 0);
}

TEST(Simulate, PlanLargerThanClusterIsAnInputError) {
  PlanBuilder b(4);
  b.program("p");
  EXPECT_THROW(engine::simulate(b.build(), test_hardware(1, 2)), InputError);
}

TEST(Simulate, ProgressIsReportedAndCanCancel) {
  PlanBuilder b(1);
  const auto p = b.program("p");
  for (int i = 0; i < 40'000; ++i) b.delay(p, 0, 10);
  const plan::Plan plan = b.build();
  std::vector<double> seen;
  SimulationOptions o;
  o.progress = [&](double f) {
    seen.push_back(f);
    return true;
  };
  engine::simulate(plan, test_hardware(1, 1), o);
  ASSERT_GE(seen.size(), 2u);
  EXPECT_LT(seen.size(), 100u);
  EXPECT_DOUBLE_EQ(seen.back(), 1.0);
  o.progress = [](double) { return false; };
  EXPECT_THROW(engine::simulate(plan, test_hardware(1, 1), o), Error);
}

// --- calibrated ---------------------------------------------------------------------------------------

// A targeted profile's exact op times take precedence over its tables, and its host overheads delay
// each op's start: dispatch (and the allocation of the op's tensors) after its stream predecessor,
// and a wake-up when another stream released it. Expected times are written out by hand.
TEST(Simulate, ExactOpsAndHostOverheadsOfATargetedProfile) {
  PlanBuilder b(1);
  const auto p = b.program("p", {StreamKind::compute, StreamKind::compute});
  const auto act = b.tensor("act", 1 << 20);
  const auto g1 = b.gemm(p, 0, 256, 256, 256, DType::fp32);
  const auto e = b.elementwise(p, 0, 1 << 20, 1 << 20);
  b.at(p, e).allocs = {act};
  b.at(p, e).frees = {act};
  const auto side = b.delay(p, 1, 10'000, {e}, "side");
  const plan::Plan plan = b.build();
  auto profile = std::make_shared<plan::CalibrationProfile>();
  profile->gemm = {{DType::fp32, 256, 256, 256, 999'999.0}};  // the table: ignored for the exact op
  profile->memory["elementwise:gelu"] = {{2 << 20, 50'000.0}};  // its declared 1 MiB read + 1 MiB written
  profile->ops = {{plan::op_signature(plan, plan.programs[0].ops[static_cast<std::size_t>(g1)]), "gemm", 123'000.0}};
  profile->host.dispatch_ns = 1'000.0;
  profile->host.wake_ns = 5'000.0;
  profile->host.alloc = {{1 << 10, 2'000.0}, {1 << 20, 20'000.0}};
  SimulationOptions o;
  o.cost_model = "calibrated";
  o.profile = profile;
  const auto t = engine::simulate(plan, test_hardware(1, 1), o);
  using Span = std::pair<std::int64_t, std::int64_t>;
  auto span = [&](plan::OpId id) {
    for (const auto& s : t.ops)
      if (s.op == id) return Span{s.start_ns, s.end_ns};
    return Span{-1, -1};
  };
  EXPECT_EQ(span(g1), (Span{1'000, 124'000}));  // dispatch, then the exact time
  // dispatch + allocating 1 MiB, then the gelu's own (table) time
  EXPECT_EQ(span(e), (Span{124'000 + 21'000, 145'000 + 50'000}));
  // released by the other stream: dispatch + wake-up; a delay op costs its ns
  EXPECT_EQ(span(side), (Span{195'000 + 6'000, 201'000 + 10'000}));
  EXPECT_NEAR(t.summary.step_time_s, 211e-6, 1e-12);
  bool noted = false;  // the table-timed gelu is reported as not measured exactly
  for (const auto& f : t.extra["cost_model"]["fallbacks"]) noted |= f["what"].get<std::string>().find("no exact sample") != std::string::npos;
  EXPECT_TRUE(noted) << t.extra["cost_model"].dump();
}

// Collectives are looked up in the series of their dtype (a CPU's bf16 reduction widens every
// element: it does not take half the fp32 time); without one, the fp32 series at the same bytes.
TEST(Simulate, CalibratedCollectivesFollowTheirDtype) {
  auto profile = std::make_shared<plan::CalibrationProfile>();
  profile->collectives = {{CollectiveType::all_reduce, 2, 1'000'000, 100'000.0, plan::Placement::intra, DType::fp32, {}}};
  plan::CollectiveSample bf16{CollectiveType::all_reduce, 2, 1'000'000, 180'000.0, plan::Placement::intra, DType::fp32, {}};
  bf16.dtype = DType::bf16;
  auto run = [&](DType dtype) {
    PlanBuilder b(2);
    b.group(GroupKind::dp, {0, 1});
    const auto p = b.program("p");
    const auto ar = b.collective(p, 0, CollectiveType::all_reduce, GroupKind::dp, 1'000'000);
    std::get<plan::CollectiveParams>(b.at(p, ar).params).dtype = dtype;
    b.assign(1, p);
    SimulationOptions o;
    o.cost_model = "calibrated";
    o.profile = profile;
    const auto t = engine::simulate(b.build(), test_hardware(1, 2), o);
    return std::make_pair(duration(t, 0, ar), t.extra["network"]["measured_fallbacks"]);
  };
  EXPECT_EQ(run(DType::fp32).first, 100'000);
  const auto [fp16_ns, fp16_notes] = run(DType::fp16);
  EXPECT_EQ(fp16_ns, 100'000);  // no fp16 series: the fp32 one, and a note
  EXPECT_NE(fp16_notes.dump().find("fp16 from fp32 samples"), std::string::npos) << fp16_notes.dump();
  profile->collectives.push_back(bf16);
  EXPECT_EQ(run(DType::bf16).first, 180'000);
}

// A profile's per-rank compute factors (its calibration found one core slower) make that rank a
// straggler the others wait for, when the plan has as many ranks as the calibration; otherwise they
// are left out and the trace says why.
TEST(Simulate, ProfileRankFactorsSlowTheirRankAndTheOthersWait) {
  auto profile = std::make_shared<plan::CalibrationProfile>();
  profile->gemm = {{DType::fp32, 256, 256, 256, 100'000.0}};
  profile->collectives = {{CollectiveType::all_reduce, 2, 1'000'000, 50'000.0, plan::Placement::intra, DType::fp32, {}}};
  profile->rank_compute_factor = {1.2, 0.8};
  auto build = [](std::int32_t world) {
    PlanBuilder b(world);
    b.groups_by(GroupKind::dp, world);
    const auto p = b.program("p");
    b.gemm(p, 0, 256, 256, 256, DType::fp32);
    b.collective(p, 0, CollectiveType::all_reduce, GroupKind::dp, 1'000'000);
    return b.build();
  };
  SimulationOptions o;
  o.cost_model = "calibrated";
  o.profile = profile;
  const auto two = engine::simulate(build(2), test_hardware(1, 2), o);
  EXPECT_EQ(two.extra["rank_mode"], "expanded");
  EXPECT_EQ(duration(two, 0, 0), 120'000);
  EXPECT_EQ(duration(two, 1, 0), 80'000);
  EXPECT_EQ(duration(two, 1, 1), 40'000 + 50'000);  // rank 1 waits 40 us for rank 0, then the all-reduce
  EXPECT_NEAR(two.summary.step_time_s, 170e-6, 1e-12);
  const auto four = engine::simulate(build(4), test_hardware(1, 4), o);
  EXPECT_EQ(duration(four, 0, 0), 100'000);
  EXPECT_NE(four.extra["rank_compute_factor"].get<std::string>().find("not applied"), std::string::npos);
}

// With per-round samples of the ranks' speeds, one step is simulated per sample and the prediction
// is the median step (as a measured run reports its median step), with the spread beside it.
TEST(Simulate, RankSpeedSamplesGiveTheMedianStepAndItsSpread) {
  auto profile = std::make_shared<plan::CalibrationProfile>();
  profile->gemm = {{DType::fp32, 256, 256, 256, 100'000.0}};
  profile->collectives = {{CollectiveType::all_reduce, 2, 1'000'000, 50'000.0, plan::Placement::intra, DType::fp32, {}}};
  profile->rank_compute_factor = {1.1, 1.0};  // the mean: not used when samples are present
  profile->rank_compute_factor_samples = {{1.0, 1.0}, {1.3, 1.0}, {1.0, 1.1}};
  PlanBuilder b(2);
  b.group(GroupKind::dp, {0, 1});
  const auto p = b.program("p");
  b.gemm(p, 0, 256, 256, 256, DType::fp32);
  b.collective(p, 0, CollectiveType::all_reduce, GroupKind::dp, 1'000'000);
  b.assign(1, p);
  SimulationOptions o;
  o.cost_model = "calibrated";
  o.profile = profile;
  const auto t = engine::simulate(b.build(), test_hardware(1, 2), o);
  // steps: 100 + 50, 130 + 50, 110 + 50 us: the median is the third sample's
  EXPECT_NEAR(t.summary.step_time_s, 160e-6, 1e-12);
  EXPECT_EQ(duration(t, 1, 0), 110'000);
  EXPECT_EQ(t.extra["rank_noise"]["samples"], 3);
  EXPECT_NEAR(t.extra["rank_noise"]["step_time_s"]["p10"].get<double>(), 150e-6, 1e-12);
  EXPECT_NEAR(t.extra["rank_noise"]["step_time_s"]["p90"].get<double>(), 180e-6, 1e-12);
  EXPECT_TRUE(std::all_of(t.comm.begin(), t.comm.end(), [](const plan::CommSpan& c) { return c.step == 0; }));

  // Keeping every sample's communication: the median sample's as step 0, the others' as steps 1
  // and 2 in sample order. Each all-reduce ends 50 us after the later arrival: at 160, 150 and 180 us.
  // The first sample's ranks run alike: it is simulated on one representative, rank 0.
  o.keep_noise_comm = true;
  const auto all = engine::simulate(b.build(), test_hardware(1, 2), o);
  std::map<std::int32_t, std::vector<std::int64_t>> ends;
  for (const auto& c : all.comm) ends[c.step].push_back(c.end_ns);
  ASSERT_EQ(ends.size(), 3u);
  EXPECT_EQ(ends[0], (std::vector<std::int64_t>{160'000, 160'000}));
  EXPECT_EQ(ends[1], (std::vector<std::int64_t>{150'000}));
  EXPECT_EQ(ends[2], (std::vector<std::int64_t>{180'000, 180'000}));
  EXPECT_EQ(all.ops.size(), t.ops.size());
  EXPECT_NEAR(all.summary.step_time_s, 160e-6, 1e-12);
}

// A member that arrived first and idled makes the collective slower by the profile's
// collectives[].idle_delay, interpolated at the longest idling (from 0 extra at 0).
TEST(Simulate, ACollectiveWhoseMemberIdledTakesItsIdleDelayLonger) {
  auto profile = std::make_shared<plan::CalibrationProfile>();
  profile->gemm = {{DType::fp32, 256, 256, 256, 100'000.0}};
  plan::CollectiveSample ar{CollectiveType::all_reduce, 2, 1'000'000, 50'000.0, plan::Placement::intra, DType::fp32, {}};
  profile->rank_compute_factor = {1.2, 0.8};  // rank 1's GEMM ends 40 us before rank 0's
  PlanBuilder b(2);
  b.group(GroupKind::dp, {0, 1});
  const auto p = b.program("p");
  b.gemm(p, 0, 256, 256, 256, DType::fp32);
  const auto c = b.collective(p, 0, CollectiveType::all_reduce, GroupKind::dp, 1'000'000);
  std::get<plan::CollectiveParams>(b.at(p, c).params).dtype = DType::fp32;
  b.assign(1, p);
  SimulationOptions o;
  o.cost_model = "calibrated";
  o.profile = profile;
  const auto run = [&](std::vector<plan::IdleDelaySample> delay) {
    ar.idle_delay = std::move(delay);
    profile->collectives = {ar};
    return engine::simulate(b.build(), test_hardware(1, 2), o);
  };
  const auto plain = run({});
  EXPECT_EQ(duration(plain, 1, 1), 40'000 + 50'000);
  // Rank 1 idled 40 us: 20 us extra after 100 us, so 8 us; rank 0 arrived from its GEMM (0 idle).
  const auto idled = run({{100'000.0, 20'000.0}, {1'000'000.0, 60'000.0}});
  EXPECT_EQ(duration(idled, 0, 1), 50'000 + 8'000);
  EXPECT_EQ(duration(idled, 1, 1), 40'000 + 50'000 + 8'000);
  // Beyond the last sample the delay holds: a 10 us sample gives 20 us.
  const auto held = run({{10'000.0, 20'000.0}});
  EXPECT_EQ(duration(held, 0, 1), 50'000 + 20'000);
  // Another dtype's samples do not apply to this fp32 all-reduce.
  plan::CollectiveSample bf16 = ar;
  bf16.dtype = DType::bf16;
  bf16.idle_delay = {{10'000.0, 20'000.0}};
  ar.idle_delay.clear();
  profile->collectives = {ar, bf16};
  EXPECT_EQ(duration(engine::simulate(b.build(), test_hardware(1, 2), o), 0, 1), 50'000);
}

TEST(Simulate, CalibratedProfileTimesOpsAndCollectives) {
  auto profile = std::make_shared<plan::CalibrationProfile>();
  profile->device = "test cpu";
  profile->gemm = {{DType::fp32, 256, 256, 256, 200'000.0}, {DType::fp32, 512, 512, 512, 1'200'000.0}};
  profile->memory["elementwise:gelu"] = {{1 << 20, 50'000.0}, {4 << 20, 150'000.0}};
  profile->collectives = {{CollectiveType::all_reduce, 2, 1'000'000, 100'000.0, plan::Placement::intra, DType::fp32, {}},
                          {CollectiveType::all_reduce, 2, 4'000'000, 300'000.0, plan::Placement::intra, DType::fp32, {}}};
  profile->overlap_compute_slowdown = 1.0;
  PlanBuilder b(2);
  b.group(GroupKind::dp, {0, 1});
  const auto p = b.program("p");
  const auto g1 = b.gemm(p, 0, 256, 256, 256, DType::fp32);
  const auto g2 = b.gemm(p, 0, 512, 512, 512, DType::fp32);
  const auto e = b.elementwise(p, 0, 1 << 20, 1 << 20);  // 2 MiB between the samples
  const auto ar = b.collective(p, 0, CollectiveType::all_reduce, GroupKind::dp, 2'000'000);
  b.assign(1, p);
  SimulationOptions o;
  o.cost_model = "calibrated";
  o.profile = profile;
  const auto t = engine::simulate(b.build(), test_hardware(1, 2), o);
  EXPECT_EQ(duration(t, 0, g1), 200'000);
  EXPECT_EQ(duration(t, 0, g2), 1'200'000);
  // log-log between (1 MiB, 50 us) and (4 MiB, 150 us) at 2 MiB: 50 us * 3^(1/2).
  EXPECT_EQ(duration(t, 0, e), std::llround(50'000.0 * std::sqrt(3.0)));
  // Linear in bytes between the measured all-reduces.
  EXPECT_EQ(duration(t, 0, ar), std::llround(100'000.0 + (2e6 - 1e6) * (200'000.0 / 3e6)));
  EXPECT_EQ(t.backend, "sim:calibrated/analytical/auto");
  EXPECT_EQ(t.extra["cost_model"]["profile"]["device"], "test cpu");
  EXPECT_EQ(t.extra["network"]["picked"]["dp:all_reduce"]["measured"], 1);
}

}  // namespace
}  // namespace clustersim
