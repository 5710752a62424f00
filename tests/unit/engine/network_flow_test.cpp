// Tests of the flow network tier (network.hpp) through engine::simulate on hand-built plans: the
// ring all-reduce closed form when nothing is shared, agreement with the analytical tier for every
// algorithm on uncontended topologies, contention on an oversubscribed spine, degraded links,
// stragglers, the PCIe host bridge, and expanded vs symmetric rank modes. Expected numbers are
// closed forms written out from the round numbers of test_hardware (test_plans.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "clustersim/engine/collective.hpp"
#include "clustersim/engine/simulate.hpp"
#include "clustersim/plan/json.hpp"
#include "test_plans.hpp"

namespace clustersim {
namespace {

using engine::NetworkTier;
using engine::RankMode;
using engine::SimulationOptions;
using test::PlanBuilder;
using test::test_hardware;

const plan::OpSpan& span(const plan::Trace& t, plan::Rank rank, plan::OpId op) {
  for (const auto& s : t.ops)
    if (s.rank == rank && s.op == op) return s;
  throw std::runtime_error("no span for rank " + std::to_string(rank) + " op " + std::to_string(op));
}
double duration_s(const plan::Trace& t, plan::Rank rank, plan::OpId op) {
  const auto& s = span(t, rank, op);
  return static_cast<double>(s.end_ns - s.start_ns) * 1e-9;
}

// The transfer of `rank`'s collective on its group of `kind` (from all members ready to the end).
double transfer_s(const plan::Trace& t, plan::Rank rank, GroupKind kind) {
  for (const auto& c : t.comm)
    if (c.rank == rank && c.group == kind) return static_cast<double>(c.end_ns - c.start_ns) * 1e-9;
  throw std::runtime_error("no transfer for rank " + std::to_string(rank));
}

SimulationOptions options(NetworkTier tier, std::string algorithm = "ring", RankMode mode = RankMode::automatic) {
  SimulationOptions o;
  o.network = tier;
  o.collective_algorithm = std::move(algorithm);
  o.rank_mode = mode;
  o.record_wall_time = false;
  return o;
}

std::vector<plan::Rank> all_ranks(std::int32_t n) {
  std::vector<plan::Rank> r;
  for (std::int32_t i = 0; i < n; ++i) r.push_back(i);
  return r;
}

// Every rank in one dp group issues one collective of `bytes` at t = 0.
plan::Plan one_collective(std::int32_t world, CollectiveType type, std::int64_t bytes) {
  PlanBuilder b(world);
  b.group(GroupKind::dp, all_ranks(world));
  const auto p = b.program("p");
  b.collective(p, 0, type, GroupKind::dp, bytes);
  return b.build();
}

// --- the ring closed form -------------------------------------------------------------------------

struct Layout {
  std::int32_t nodes, gpus_per_node, nics;
  double alpha_s, bandwidth;
};

void expect_ring_closed_form(const Layout& l) {
  const std::int32_t n = l.nodes * l.gpus_per_node;
  const std::int64_t s = 256 << 20;
  const plan::Hardware hw = test_hardware(l.nodes, l.gpus_per_node, l.nics);
  // Patarasuk & Yuan 2009: all-reduce 2(n-1)a + 2((n-1)/n) S/B; reduce-scatter, all-gather
  // (n-1)a + ((n-1)/n) S/B.
  const double f = (n - 1.0) / n;
  const double ar = 2 * (n - 1) * l.alpha_s + 2 * f * s / l.bandwidth;
  const double rs = (n - 1) * l.alpha_s + f * s / l.bandwidth;
  const auto t_ar = engine::simulate(one_collective(n, CollectiveType::all_reduce, s), hw, options(NetworkTier::flow));
  const auto t_rs =
      engine::simulate(one_collective(n, CollectiveType::reduce_scatter, s), hw, options(NetworkTier::flow));
  const auto t_ag = engine::simulate(one_collective(n, CollectiveType::all_gather, s), hw, options(NetworkTier::flow));
  EXPECT_NEAR(duration_s(t_ar, 0, 0), ar, 0.01 * ar);
  EXPECT_NEAR(duration_s(t_rs, 0, 0), rs, 0.01 * rs);
  EXPECT_NEAR(duration_s(t_ag, 0, 0), rs, 0.01 * rs);
  EXPECT_EQ(t_ar.backend, "sim:roofline/flow/ring");
  EXPECT_EQ(t_ar.extra["network"]["tier"], "flow");
}

TEST(FlowNetwork, RingAllReduceClosedFormIntraNode) {
  expect_ring_closed_form({1, 8, 1, 2e-6, 300e9});
}

TEST(FlowNetwork, RingAllReduceClosedFormInterNode) {
  expect_ring_closed_form({8, 1, 1, 5e-6, 50e9});
}

// Four nodes of four GPUs with a rail NIC each: the ring crosses nodes over NICs (50 GB/s) and
// stays on NVSwitch inside nodes; the slowest level sets the pace, as in the closed form.
TEST(FlowNetwork, RingAllReduceClosedFormAcrossBothLevels) {
  expect_ring_closed_form({4, 4, 4, 5e-6, 50e9});
}

// --- agreement with the analytical tier ------------------------------------------------------------

void expect_tiers_agree(std::int32_t nodes, std::int32_t gpus, std::int32_t nics,
                        const std::vector<std::string>& algorithms, bool with_all_to_all = true) {
  const std::int32_t n = nodes * gpus;
  const plan::Hardware hw = test_hardware(nodes, gpus, nics);
  const std::int64_t s = 64 << 20;
  for (const std::string& algorithm : algorithms)
    for (std::size_t t = 0; t < enum_count<CollectiveType>(); ++t) {
      const auto type = static_cast<CollectiveType>(t);
      if (type == CollectiveType::all_to_all && !with_all_to_all) continue;
      const plan::Plan plan = one_collective(n, type, s);
      const auto a = engine::simulate(plan, hw, options(NetworkTier::analytical, algorithm));
      const auto f = engine::simulate(plan, hw, options(NetworkTier::flow, algorithm));
      const double ta = duration_s(a, 0, 0), tf = duration_s(f, 0, 0);
      ASSERT_GT(ta, 0.0);
      EXPECT_NEAR(tf, ta, 0.01 * ta) << algorithm << " " << to_string(type) << " on " << nodes << " x " << gpus;
      EXPECT_EQ(a.extra["network"]["picked"], f.extra["network"]["picked"]) << algorithm << " " << to_string(type);
      EXPECT_EQ(f.extra["network"]["phases"]["shared"], 0) << "uncontended";
    }
}

const std::vector<std::string> kAllAlgorithms{"ring", "tree", "halving-doubling", "hierarchical", "direct", "auto"};

TEST(FlowNetwork, AgreesWithAnalyticalInsideANode) {
  expect_tiers_agree(1, 8, 1, kAllAlgorithms);
}

TEST(FlowNetwork, AgreesWithAnalyticalAcrossNodes) {
  expect_tiers_agree(8, 1, 1, kAllAlgorithms);
}

// Six members: halving-doubling folds two extra ranks in and out; the trees are not complete.
TEST(FlowNetwork, AgreesWithAnalyticalOnANonPowerOfTwoGroup) {
  expect_tiers_agree(6, 1, 1, kAllAlgorithms);
}

// Both levels: hierarchical's stages and the ring (whose inter-node hops set its pace) agree. An
// all-to-all is left out: its intra-node messages really do move at NVSwitch speed in the flow tier,
// where the analytical tier charges every message the slowest level.
TEST(FlowNetwork, AgreesWithAnalyticalForHierarchicalAcrossTwoLevels) {
  expect_tiers_agree(4, 4, 4, {"ring", "hierarchical", "auto"}, /*with_all_to_all=*/false);
}

// --- contention ----------------------------------------------------------------------------------

// Four single-GPU nodes, two per leaf (fat tree), oversubscription 2: each leaf's spine uplink has
// the bandwidth of one NIC. DP groups {0, 2} and {1, 3} both cross the spine.
plan::Hardware spine_hardware() {
  plan::Hardware hw = test_hardware(4, 1, 1);
  hw.inter_node.topology = plan::FabricTopology::fat_tree;
  hw.inter_node.nodes_per_leaf = 2;
  hw.inter_node.oversubscription = 2.0;
  return hw;
}

// Both groups all-reduce when `both`; otherwise ranks 1 and 3 have nothing to do.
plan::Plan spine_plan(bool both, std::int64_t bytes) {
  PlanBuilder b(4);
  b.group(GroupKind::dp, {0, 2});
  b.group(GroupKind::dp, {1, 3});
  const auto p = b.program("reduce");
  b.collective(p, 0, CollectiveType::all_reduce, GroupKind::dp, bytes);
  const auto idle = b.program("idle");
  if (!both) b.assign(1, idle), b.assign(3, idle);
  return b.build();
}

TEST(FlowNetwork, AllReducesSharingAnOversubscribedSpineEachTakeTwiceAsLong) {
  const std::int64_t s = 256 << 20;
  for (RankMode mode : {RankMode::expanded, RankMode::symmetric}) {
    const auto alone =
        engine::simulate(spine_plan(false, s), spine_hardware(), options(NetworkTier::flow, "ring", mode));
    const auto both = engine::simulate(spine_plan(true, s), spine_hardware(), options(NetworkTier::flow, "ring", mode));
    const double t_alone = duration_s(alone, 0, 0);
    // Alone, the ring of two runs at NIC speed: 2a + S/B (the uplink is as fast as one NIC).
    EXPECT_NEAR(t_alone, 2 * 5e-6 + static_cast<double>(s) / 50e9, 1e-9) << rank_mode_name(mode);
    // Together, flows 0->2 and 1->3 share leaf 0's uplink (2->0 and 3->1 leaf 1's): half each.
    for (plan::Rank r : both.ranks) {
      const double ratio = duration_s(both, r, 0) / t_alone;
      EXPECT_NEAR(ratio, 2.0, 0.01) << "rank " << r << " " << rank_mode_name(mode);
    }
  }
  // Without oversubscription the uplinks carry two NICs' worth: no slowdown.
  plan::Hardware full = spine_hardware();
  full.inter_node.oversubscription = 1.0;
  const auto alone = engine::simulate(spine_plan(false, s), full, options(NetworkTier::flow));
  const auto both = engine::simulate(spine_plan(true, s), full, options(NetworkTier::flow));
  EXPECT_NEAR(duration_s(both, 0, 0), duration_s(alone, 0, 0), 1e-9);
}

// The analytical tier has no runtime contention: it divides every spine-crossing group's bandwidth by
// the oversubscription whether or not another group is there.
TEST(FlowNetwork, AnalyticalTierFoldsOversubscriptionIntoEveryCrossingGroup) {
  const std::int64_t s = 256 << 20;
  const auto alone = engine::simulate(spine_plan(false, s), spine_hardware(), options(NetworkTier::analytical));
  const auto both = engine::simulate(spine_plan(true, s), spine_hardware(), options(NetworkTier::analytical));
  EXPECT_DOUBLE_EQ(duration_s(alone, 0, 0), duration_s(both, 0, 0));
  EXPECT_NEAR(duration_s(alone, 0, 0), 2 * 5e-6 + s / 25e9, 1e-9);
}

TEST(FlowNetwork, InstancesSharingANicSplitItsBandwidth) {
  // 2 nodes x 4 GPUs, DP groups {i, i+4}; GPU i uses NIC i % nics: 4, 2 or 1 rings per NIC.
  for (const auto& [nics, sharing] : std::vector<std::pair<int, int>>{{1, 4}, {2, 2}, {4, 1}})
    for (RankMode mode : {RankMode::expanded, RankMode::symmetric}) {
      PlanBuilder b(8);
      b.groups_by(GroupKind::dp, 2, /*strided=*/true);
      const auto p = b.program("p");
      const std::int64_t s = 64 << 20;
      b.collective(p, 0, CollectiveType::all_reduce, GroupKind::dp, s);
      const auto t = engine::simulate(b.build(), test_hardware(2, 4, nics), options(NetworkTier::flow, "ring", mode));
      const double expected = 2 * 5e-6 + static_cast<double>(s) / (50e9 / sharing);
      for (plan::Rank r : t.ranks) EXPECT_NEAR(duration_s(t, r, 0), expected, 2e-9) << nics << " NICs, rank " << r;
    }
}

// --- degradations ----------------------------------------------------------------------------------

// 4 nodes x 2 GPUs, 2 NICs per node. Group A = {0, 2} (nodes 0, 1, NIC 0), group B = {5, 7} (nodes
// 2, 3, NIC 1), group C = {0, 1} inside node 0; each issues one all-reduce.
plan::Plan degradation_plan() {
  PlanBuilder b(8);
  b.group(GroupKind::dp, {0, 2});
  b.group(GroupKind::dp, {5, 7});
  b.group(GroupKind::tp, {0, 1});
  b.group(GroupKind::tp, {2, 3});
  b.group(GroupKind::tp, {4, 5});
  b.group(GroupKind::tp, {6, 7});
  const std::int64_t s = 64 << 20;
  const auto both = b.program("dp+tp");
  b.collective(both, 0, CollectiveType::all_reduce, GroupKind::tp, s);
  b.collective(both, 0, CollectiveType::all_reduce, GroupKind::dp, s);
  const auto tp_only = b.program("tp");
  b.collective(tp_only, 0, CollectiveType::all_reduce, GroupKind::tp, s);
  for (plan::Rank r : {1, 3, 4, 6}) b.assign(r, tp_only);
  return b.build();
}

TEST(FlowNetwork, ADegradedLinkSlowsExactlyTheCollectivesThatCrossIt) {
  const std::int64_t s = 64 << 20;
  const plan::Hardware base = test_hardware(4, 2, 2);
  const auto healthy =
      engine::simulate(degradation_plan(), base, options(NetworkTier::flow, "ring", RankMode::expanded));
  const double tp = 2 * 2e-6 + s / 300e9, dp = 2 * 5e-6 + s / 50e9;
  for (plan::Rank r : {0, 2, 5, 7}) EXPECT_NEAR(transfer_s(healthy, r, GroupKind::dp), dp, 1e-9) << r;
  for (plan::Rank r = 0; r < 8; ++r) EXPECT_NEAR(transfer_s(healthy, r, GroupKind::tp), tp, 1e-9) << r;

  // node:1 at half speed: its NICs carry group A (rank 2), not B.
  plan::Hardware hw = base;
  hw.degradations = {{"node:1", 0.5}};
  auto t = engine::simulate(degradation_plan(), hw, options(NetworkTier::flow));
  EXPECT_EQ(t.extra["rank_mode"], "expanded");
  for (plan::Rank r : {0, 2}) EXPECT_NEAR(transfer_s(t, r, GroupKind::dp), 2 * 5e-6 + s / 25e9, 1e-9) << r;
  for (plan::Rank r : {5, 7}) EXPECT_NEAR(transfer_s(t, r, GroupKind::dp), dp, 1e-9) << r;
  for (plan::Rank r = 0; r < 8; ++r) EXPECT_NEAR(transfer_s(t, r, GroupKind::tp), tp, 1e-9) << r;

  // intra:2 at a quarter: only the TP group inside node 2 ({4, 5}).
  hw.degradations = {{"intra:2", 0.25}};
  t = engine::simulate(degradation_plan(), hw, options(NetworkTier::flow));
  for (plan::Rank r = 0; r < 8; ++r)
    EXPECT_NEAR(transfer_s(t, r, GroupKind::tp), r == 4 || r == 5 ? 2 * 2e-6 + s / 75e9 : tp, 1e-9) << r;
  for (plan::Rank r : {0, 2, 5, 7}) EXPECT_NEAR(transfer_s(t, r, GroupKind::dp), dp, 1e-9) << r;
}

TEST(FlowNetwork, ADegradedLeafSlowsOnlyTheGroupsCrossingTheSpineThroughIt) {
  // Six single-GPU nodes, three per leaf (fat tree, no oversubscription: 150 GB/s uplinks); leaf 1's
  // uplinks degraded to a tenth (15 GB/s). {0, 3} crosses the spine, {1, 2} and {4, 5} stay inside
  // a leaf.
  plan::Hardware hw = test_hardware(6, 1, 1);
  hw.inter_node.topology = plan::FabricTopology::fat_tree;
  hw.inter_node.nodes_per_leaf = 3;
  hw.degradations = {{"leaf:1", 0.1}};
  PlanBuilder b(6);
  b.group(GroupKind::dp, {0, 3});
  b.group(GroupKind::dp, {1, 2});
  b.group(GroupKind::dp, {4, 5});
  const std::int64_t s = 64 << 20;
  b.collective(b.program("p"), 0, CollectiveType::all_reduce, GroupKind::dp, s);
  const auto t = engine::simulate(b.build(), hw, options(NetworkTier::flow));
  for (plan::Rank r = 0; r < 6; ++r)
    EXPECT_NEAR(duration_s(t, r, 0), 2 * 5e-6 + s / (r == 0 || r == 3 ? 15e9 : 50e9), 1e-9) << r;
}

// --- stragglers ------------------------------------------------------------------------------------

TEST(FlowNetwork, TheSlowestRankGatesTheAllReduce) {
  // Data parallelism on 2 nodes x 2 GPUs: a GEMM, then a ring all-reduce of the gradients.
  auto dp_plan = [] {
    PlanBuilder b(4);
    b.group(GroupKind::dp, {0, 1, 2, 3});
    const auto p = b.program("replica");
    b.gemm(p, 0, 4096, 4096, 4096, DType::bf16);
    b.collective(p, 0, CollectiveType::all_reduce, GroupKind::dp, 128 << 20);
    return b.build();
  };
  const plan::Hardware healthy = test_hardware(2, 2, 2);
  const auto base = engine::simulate(dp_plan(), healthy, options(NetworkTier::flow));
  const double gemm = duration_s(base, 0, 0), ar = duration_s(base, 0, 1);
  EXPECT_NEAR(base.summary.step_time_s, gemm + ar, 1e-9);
  plan::Hardware slow = healthy;
  slow.slowdowns = {{3, 1.5}};
  const auto t = engine::simulate(dp_plan(), slow, options(NetworkTier::flow));
  EXPECT_NEAR(t.summary.step_time_s, 1.5 * gemm + ar, 2e-9);
  for (plan::Rank r = 0; r < 4; ++r) {
    EXPECT_NEAR(static_cast<double>(span(t, r, 1).end_ns) * 1e-9, 1.5 * gemm + ar, 2e-9) << r;
    EXPECT_NEAR(static_cast<double>(span(t, r, 1).start_ns) * 1e-9, r == 3 ? 1.5 * gemm : gemm, 2e-9) << r;
  }
}

// --- PCIe host bridge ------------------------------------------------------------------------------

TEST(FlowNetwork, PcieNodesShareTheirHostBridge) {
  plan::Hardware hw = test_hardware(1, 4);
  hw.intra_node = {"pcie4-x16", 256.0, 2.5, 1.0};  // 32 GB/s per GPU and for the bridge
  const std::int64_t s = 64 << 20;
  const auto t = engine::simulate(one_collective(4, CollectiveType::all_reduce, s), hw, options(NetworkTier::flow));
  // The ring's four flows all cross the bridge: 8 GB/s each.
  const double expected = 2 * 3 * 2.5e-6 + 2 * 0.75 * s / 8e9;
  EXPECT_NEAR(duration_s(t, 0, 0), expected, 0.001 * expected);
  // The analytical tier sees the per-GPU rate only.
  const auto a =
      engine::simulate(one_collective(4, CollectiveType::all_reduce, s), hw, options(NetworkTier::analytical));
  EXPECT_NEAR(duration_s(a, 0, 0), 2 * 3 * 2.5e-6 + 2 * 0.75 * s / 32e9, 1e-9);
}

// --- p2p ---------------------------------------------------------------------------------------------

TEST(FlowNetwork, TransfersCostAlphaPlusBytesOverBandwidthAndShareLinks) {
  // Ranks 0 and 1 (node 0, one NIC) both send to node 1 at once: the NIC's up link is shared.
  PlanBuilder b(4);
  b.group(GroupKind::pp, {0, 2});
  b.group(GroupKind::pp, {1, 3});
  const auto sender = b.program("send");
  const auto receiver = b.program("recv");
  const std::int64_t s = 32 << 20;
  b.send(sender, 0, GroupKind::pp, 1, s);
  b.recv(receiver, 0, GroupKind::pp, -1, s);
  b.assign(2, receiver), b.assign(3, receiver);
  for (RankMode mode : {RankMode::expanded, RankMode::symmetric}) {
    const auto t = engine::simulate(b.build(), test_hardware(2, 2, 1), options(NetworkTier::flow, "ring", mode));
    for (plan::Rank r : t.ranks) EXPECT_NEAR(duration_s(t, r, 0), 5e-6 + s / 25e9, 1e-9) << rank_mode_name(mode);
  }
  const auto t = engine::simulate(b.build(), test_hardware(2, 2, 2), options(NetworkTier::flow));
  EXPECT_NEAR(duration_s(t, 0, 0), 5e-6 + s / 50e9, 1e-9);  // a NIC each
}

TEST(FlowNetwork, ATransferJoinedMidwayByAnotherSharesTheRestOfItsLink) {
  // Rank 0 sends S to rank 2 from t = 0; rank 1 sends S to rank 3 from t0 over the same NIC (one
  // per node). Until t0 the first runs at B; then both at B/2 until the first is done at
  // 2S/B - t0; the second then runs alone and is done at 2S/B. Each ends a latency after its bytes.
  PlanBuilder b(4);
  b.group(GroupKind::pp, {0, 2});
  b.group(GroupKind::pp, {1, 3});
  const std::int64_t s = 50'000'000, t0 = 400'000;
  const auto first = b.program("first");
  const auto x = b.send(first, 0, GroupKind::pp, 1, s);
  const auto second = b.program("second");
  b.delay(second, 0, t0);
  const auto y = b.send(second, 0, GroupKind::pp, 1, s);
  const auto receiver = b.program("receiver");
  b.recv(receiver, 0, GroupKind::pp, -1, s);
  b.assign(1, second), b.assign(2, receiver), b.assign(3, receiver);
  const auto t = engine::simulate(b.build(), test_hardware(2, 2, 1), options(NetworkTier::flow));
  const double solo = s / 50e9;  // 1 ms
  EXPECT_NEAR(static_cast<double>(span(t, 0, x).end_ns) * 1e-9, 2 * solo - t0 * 1e-9 + 5e-6, 2e-9);
  EXPECT_NEAR(static_cast<double>(span(t, 1, y).end_ns) * 1e-9, 2 * solo + 5e-6, 2e-9);
  EXPECT_EQ(t.extra["network"]["phases"]["shared"], 1);
}

TEST(FlowNetwork, APhaseTakingLinksAnIsolatedPhaseNoLongerUsesLeavesItsTimingAlone) {
  // A ring all-reduce over 2 nodes x 2 GPUs (a NIC each): its NVSwitch flows 0->1 and 2->3 finish
  // long before its NIC flows. At 1 ms rank 0 sends to rank 1 over NVSwitch, on links the ring no
  // longer uses: the ring's remaining flows are unaffected, and so is the transfer.
  PlanBuilder b(4);
  b.group(GroupKind::dp, {0, 1, 2, 3});
  b.group(GroupKind::pp, {0, 1});
  b.group(GroupKind::pp, {2, 3});
  const std::int64_t s = 64 << 20, small = 1'000'000;
  const auto p0 = b.program("sender", {StreamKind::comm, StreamKind::comm});
  const auto ar = b.collective(p0, 0, CollectiveType::all_reduce, GroupKind::dp, s);
  b.delay(p0, 1, 1'000'000);
  const auto send = b.send(p0, 1, GroupKind::pp, 1, small);
  const auto p1 = b.program("receiver", {StreamKind::comm, StreamKind::comm});
  b.collective(p1, 0, CollectiveType::all_reduce, GroupKind::dp, s);
  b.recv(p1, 1, GroupKind::pp, -1, small);
  const auto p2 = b.program("ring only");
  b.collective(p2, 0, CollectiveType::all_reduce, GroupKind::dp, s);
  b.assign(1, p1), b.assign(2, p2), b.assign(3, p2);
  const auto t = engine::simulate(b.build(), test_hardware(2, 2, 2), options(NetworkTier::flow));
  EXPECT_NEAR(duration_s(t, 0, ar), 2 * 3 * 5e-6 + 1.5 * s / 50e9, 2e-9);
  EXPECT_NEAR(duration_s(t, 0, send), 2e-6 + small / 300e9, 2e-9);
}

// Drives a network model directly with a seeded random mix of collectives and transfers on a
// contended fat tree, and returns each action's completion time (by token) and how many phases had
// to share links.
std::pair<std::vector<engine::TimeNs>, std::int64_t> random_traffic(bool isolation_shortcut,
                                                                    const std::string& algorithm) {
  plan::Hardware hw = test_hardware(4, 4, 2);
  hw.inter_node.topology = plan::FabricTopology::fat_tree;
  hw.inter_node.nodes_per_leaf = 2;
  hw.inter_node.oversubscription = 2.0;
  PlanBuilder b(16);
  b.groups_by(GroupKind::tp, 4);                    // inside each node
  b.groups_by(GroupKind::dp, 4, /*strided=*/true);  // one GPU per node, across both leaves
  b.groups_by(GroupKind::pp, 2, /*strided=*/true);  // pairs {i, i + 8}: across the spine
  b.group(GroupKind::world, all_ranks(16));
  const plan::Plan plan = b.build();
  engine::NetworkConfig config;
  config.tier = NetworkTier::flow;
  config.collective_algorithm = algorithm;
  config.flow_isolation_shortcut = isolation_shortcut;
  const auto net = engine::make_network_model(plan, hw, config);

  std::mt19937_64 rng(7);
  struct Start {
    engine::TimeNs at;
    int what;  // group id, or -1 for a transfer
    CollectiveType type;
    std::int64_t bytes;
    plan::Rank src;
  };
  std::vector<Start> starts;
  engine::TimeNs at = 0;
  for (int i = 0; i < 300; ++i) {
    at += static_cast<engine::TimeNs>(rng() % 200'000);
    const auto bytes = static_cast<std::int64_t>(1'000 + rng() % (8 << 20));
    if (rng() % 3 == 0) {
      starts.push_back({at, -1, CollectiveType::all_reduce, bytes, static_cast<plan::Rank>(rng() % 16)});
    } else {
      const auto group = static_cast<int>(rng() % plan.groups.size());
      starts.push_back({at, group, static_cast<CollectiveType>(rng() % 6), bytes, 0});
    }
  }
  std::vector<engine::TimeNs> done(starts.size(), -1);
  std::vector<engine::Token> completed;
  std::size_t next = 0;
  while (true) {
    const engine::TimeNs now = std::min(next < starts.size() ? starts[next].at : engine::kNever, net->next_event_ns());
    if (now == engine::kNever) break;
    net->advance_to(now, completed);
    for (engine::Token t : completed) done[static_cast<std::size_t>(t)] = now;
    completed.clear();
    for (; next < starts.size() && starts[next].at == now; ++next) {
      const Start& st = starts[next];
      if (st.what < 0)
        net->start_p2p(now, st.src, (st.src + 8) % 16, GroupKind::pp, st.bytes, static_cast<engine::Token>(next));
      else
        net->start_collective(now, st.type, st.what, st.bytes, DType::fp32, static_cast<engine::Token>(next));
    }
  }
  return {done, net->report()["phases"]["shared"].get<std::int64_t>()};
}

TEST(FlowNetwork, TheIsolationShortcutChangesNothingButTheWork) {
  for (const std::string algorithm : {"ring", "auto", "halving-doubling", "tree"}) {
    const auto [fast, shared] = random_traffic(true, algorithm);
    const auto [slow, all] = random_traffic(false, algorithm);
    EXPECT_GT(shared, 20) << "the traffic should contend";
    EXPECT_GT(all, shared);
    ASSERT_EQ(fast.size(), slow.size());
    for (std::size_t i = 0; i < fast.size(); ++i) {
      ASSERT_GE(fast[i], 0) << i;
      EXPECT_NEAR(static_cast<double>(fast[i]), static_cast<double>(slow[i]), 10.0) << algorithm << " action " << i;
    }
  }
}

// --- rank modes ----------------------------------------------------------------------------------------

// 16 ranks on 2 nodes x 8 with one NIC per node: TP groups of 8 inside a node, DP groups {i, i+8}
// across nodes (all eight rings on the one NIC), bucketed DP all-reduces overlapping the backward.
plan::Plan data_parallel_plan() {
  PlanBuilder b(16);
  b.groups_by(GroupKind::tp, 8);
  b.groups_by(GroupKind::dp, 2, /*strided=*/true);
  const auto p = b.program("replica", {StreamKind::compute, StreamKind::comm});
  plan::OpId last = -1;
  for (int l = 0; l < 4; ++l) {
    last = b.gemm(p, 0, 4096, 4096, 1024, DType::bf16,
                  last >= 0 ? std::vector<plan::OpId>{last} : std::vector<plan::OpId>{});
    last = b.collective(p, 0, CollectiveType::all_reduce, GroupKind::tp, 8 << 20);
  }
  std::vector<plan::OpId> buckets;
  for (int l = 0; l < 4; ++l) {
    last = b.gemm(p, 0, 4096, 1024, 4096, DType::bf16);
    buckets.push_back(b.collective(p, 1, CollectiveType::all_reduce, GroupKind::dp, 16 << 20, {last}));
  }
  b.delay(p, 0, 1000, buckets);
  return b.build();
}

void expect_modes_agree(const plan::Plan& plan, const plan::Hardware& hw, const std::string& algorithm) {
  const auto e = engine::simulate(plan, hw, options(NetworkTier::flow, algorithm, RankMode::expanded));
  const auto s = engine::simulate(plan, hw, options(NetworkTier::flow, algorithm, RankMode::symmetric));
  ASSERT_LT(s.ranks.size(), e.ranks.size());
  EXPECT_NEAR(e.summary.step_time_s, s.summary.step_time_s, 1e-8);
  for (plan::Rank r : s.ranks) {
    const auto prog = static_cast<std::size_t>(plan.program_of_rank[static_cast<std::size_t>(r)]);
    for (std::size_t op = 0; op < plan.programs[prog].ops.size(); ++op) {
      EXPECT_NEAR(span(e, r, static_cast<plan::OpId>(op)).end_ns, span(s, r, static_cast<plan::OpId>(op)).end_ns, 10)
          << "rank " << r << " op " << op;
    }
  }
}

TEST(FlowNetwork, ExpandedAndSymmetricAgreeUnderContention) {
  const plan::Plan plan = data_parallel_plan();
  const plan::Hardware hw = test_hardware(2, 8, 1);
  expect_modes_agree(plan, hw, "ring");
  expect_modes_agree(plan, hw, "auto");
  // The eight DP rings really share the NIC: each bucket's transfer takes at least eight times a
  // lone ring's bandwidth term, 2 (1/2) S / B.
  const auto t = engine::simulate(plan, hw, options(NetworkTier::flow, "ring", RankMode::symmetric));
  const double lone_bandwidth_term = (16 << 20) / 50e9;
  EXPECT_GE(t.extra["comm_transfer_s"]["dp:all_reduce"].get<double>(), 0.999 * 4 * 8 * lone_bandwidth_term);
}

TEST(FlowNetwork, ExpandedAndSymmetricAgreeOnASpineSharedByManyGroups) {
  // 8 single-GPU nodes, 2 per leaf, oversubscription 4, DP groups {i, i+4}: every ring crosses the
  // spine and each leaf uplink is shared by two rings.
  plan::Hardware hw = test_hardware(8, 1, 1);
  hw.inter_node.topology = plan::FabricTopology::fat_tree;
  hw.inter_node.nodes_per_leaf = 2;
  hw.inter_node.oversubscription = 4.0;
  PlanBuilder b(8);
  b.groups_by(GroupKind::dp, 2, /*strided=*/true);
  const auto p = b.program("p", {StreamKind::compute, StreamKind::comm});
  plan::OpId last = -1;
  for (int i = 0; i < 3; ++i) {
    last = b.gemm(p, 0, 2048, 2048, 2048, DType::bf16);
    b.collective(p, 1, CollectiveType::all_reduce, GroupKind::dp, 32 << 20, {last});
  }
  expect_modes_agree(b.build(), hw, "ring");
}

TEST(FlowNetwork, ReportSaysHowPhasesWereSolved) {
  const auto t = engine::simulate(spine_plan(true, 1 << 20), spine_hardware(),
                                  options(NetworkTier::flow, "ring", RankMode::expanded));
  const auto& net = t.extra["network"];
  EXPECT_EQ(net["tier"], "flow");
  EXPECT_EQ(net["phases"]["isolated"].get<int>() + net["phases"]["shared"].get<int>(), 2);
  EXPECT_EQ(net["phases"]["shared"], 1);  // the second group's ring found the uplinks busy
  EXPECT_EQ(net["picked"]["dp:all_reduce"]["ring"], 2);
  EXPECT_GT(net["max_min_solves"].get<int>(), 0);
}

TEST(FlowNetwork, DeterministicTraceJson) {
  const plan::Plan plan = data_parallel_plan();
  const auto a = plan::to_json(engine::simulate(plan, test_hardware(2, 8, 1),
                                                options(NetworkTier::flow, "auto", RankMode::expanded)))
                     .dump();
  const auto b = plan::to_json(engine::simulate(plan, test_hardware(2, 8, 1),
                                                options(NetworkTier::flow, "auto", RankMode::expanded)))
                     .dump();
  EXPECT_EQ(a, b);
}

TEST(FlowNetwork, ALinkWithoutBandwidthIsAnInputError) {
  plan::Hardware hw = test_hardware(2, 1, 1);
  hw.inter_node.link.bandwidth_gbps = 0.0;
  EXPECT_THROW(engine::simulate(one_collective(2, CollectiveType::all_reduce, 1 << 20), hw, options(NetworkTier::flow)),
               InputError);
}

}  // namespace
}  // namespace clustersim
