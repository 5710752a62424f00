// Tests of the collective algorithms' closed forms (collective.hpp) and their registry.
#include <gtest/gtest.h>

#include <cmath>

#include "clustersim/engine/collective.hpp"

namespace clustersim::engine {
namespace {

CollectiveRequest request(CollectiveType type, std::int32_t n, std::int64_t bytes, std::int32_t nodes) {
  CollectiveRequest r;
  r.type = type, r.ranks = n, r.bytes = bytes, r.nodes = nodes;
  r.latency_s = 5e-6;
  r.bandwidth_bytes_per_s = 25e9;
  return r;
}

constexpr double a = 5e-6, B = 25e9;

TEST(Collective, RingClosedForms) {
  const auto& ring = collective_algorithm("ring");
  const double s = 1e8;
  for (std::int32_t n : {2, 3, 8, 64}) {
    const double f = (n - 1.0) / n;
    // Patarasuk & Yuan 2009; Thakur et al. 2005.
    EXPECT_DOUBLE_EQ(ring.time(request(CollectiveType::all_reduce, n, 1e8, 1)).seconds,
                     2 * (n - 1) * a + 2 * f * s / B);
    EXPECT_DOUBLE_EQ(ring.time(request(CollectiveType::reduce_scatter, n, 1e8, 1)).seconds, (n - 1) * a + f * s / B);
    EXPECT_DOUBLE_EQ(ring.time(request(CollectiveType::all_gather, n, 1e8, 1)).seconds, (n - 1) * a + f * s / B);
    EXPECT_DOUBLE_EQ(ring.time(request(CollectiveType::broadcast, n, 1e8, 1)).seconds, (n - 1) * a + s / B);
    EXPECT_DOUBLE_EQ(ring.time(request(CollectiveType::reduce, n, 1e8, 1)).seconds, (n - 1) * a + s / B);
  }
  const auto a2a = ring.time(request(CollectiveType::all_to_all, 8, 1e8, 1));
  EXPECT_EQ(a2a.algorithm, "direct");
  EXPECT_DOUBLE_EQ(a2a.seconds, a + 7.0 / 8 * s / B);
}

TEST(Collective, TreeAndDirectClosedForms) {
  const auto& tree = collective_algorithm("tree");
  const auto& direct = collective_algorithm("direct");
  const double s = 1e6;
  // L = ceil(log2 n): 16 -> 4, 12 -> 4.
  for (std::int32_t n : {16, 12}) {
    EXPECT_DOUBLE_EQ(tree.time(request(CollectiveType::all_reduce, n, 1e6, n)).seconds, 2 * 4 * a + 2 * s / B);
    EXPECT_DOUBLE_EQ(tree.time(request(CollectiveType::broadcast, n, 1e6, n)).seconds, 4 * a + s / B);
  }
  const auto rs = tree.time(request(CollectiveType::reduce_scatter, 16, 1e6, 16));
  EXPECT_EQ(rs.algorithm, "ring");
  EXPECT_DOUBLE_EQ(rs.seconds, 15 * a + 15.0 / 16 * s / B);
  EXPECT_DOUBLE_EQ(direct.time(request(CollectiveType::all_to_all, 16, 1e6, 16)).seconds, a + 15.0 / 16 * s / B);
  EXPECT_DOUBLE_EQ(direct.time(request(CollectiveType::all_reduce, 16, 1e6, 16)).seconds,
                   2 * a + 2 * 15.0 / 16 * s / B);
  EXPECT_DOUBLE_EQ(direct.time(request(CollectiveType::broadcast, 16, 1e6, 16)).seconds, a + 15 * s / B);
}

TEST(Collective, AutoSwitchesAtTheRingTreeCrossover) {
  const auto& automatic = collective_algorithm("auto");
  // n = 16, L = 4: S* = n B a (n - 1 - L) = 16 * 25e9 * 5e-6 * 11 = 22 MB.
  const double threshold = 16 * B * a * 11;
  EXPECT_EQ(
      automatic.time(request(CollectiveType::all_reduce, 16, static_cast<std::int64_t>(threshold * 0.9), 16)).algorithm,
      "tree");
  EXPECT_EQ(
      automatic.time(request(CollectiveType::all_reduce, 16, static_cast<std::int64_t>(threshold * 1.1), 16)).algorithm,
      "ring");
  EXPECT_EQ(automatic.time(request(CollectiveType::all_reduce, 16, 1000, 1)).algorithm, "ring");  // one node
  EXPECT_EQ(automatic.time(request(CollectiveType::all_gather, 16, 1000, 16)).algorithm, "ring");
  EXPECT_EQ(automatic.time(request(CollectiveType::all_to_all, 16, 1000, 16)).algorithm, "direct");
}

TEST(Collective, HalvingDoublingClosedForms) {
  // Thakur, Rabenseifner & Gropp 2005: 2 log2(p) a + 2 ((p-1)/p) S/B for a power of two p ...
  const auto& hd = collective_algorithm("halving-doubling");
  const double s = 1e8;
  EXPECT_DOUBLE_EQ(hd.time(request(CollectiveType::all_reduce, 16, 1e8, 16)).seconds,
                   2 * 4 * a + 2 * 15.0 / 16 * s / B);
  EXPECT_DOUBLE_EQ(hd.time(request(CollectiveType::reduce_scatter, 16, 1e8, 16)).seconds, 4 * a + 15.0 / 16 * s / B);
  EXPECT_DOUBLE_EQ(hd.time(request(CollectiveType::all_gather, 16, 1e8, 16)).seconds, 4 * a + 15.0 / 16 * s / B);
  EXPECT_DOUBLE_EQ(hd.time(request(CollectiveType::broadcast, 16, 1e8, 16)).seconds,
                   2 * 4 * a + 2 * 15.0 / 16 * s / B);
  // ... and for n = 12 = 8 + 4 the four extra ranks fold in and out (S each way).
  EXPECT_DOUBLE_EQ(hd.time(request(CollectiveType::all_reduce, 12, 1e8, 12)).seconds,
                   2 * 3 * a + 2 * 7.0 / 8 * s / B + 2 * a + 2 * s / B);
  EXPECT_DOUBLE_EQ(hd.time(request(CollectiveType::reduce_scatter, 12, 1e8, 12)).seconds,
                   3 * a + 7.0 / 8 * s / B + 2 * a + (1 + 1.0 / 12) * s / B);
  EXPECT_DOUBLE_EQ(hd.time(request(CollectiveType::reduce, 12, 1e8, 12)).seconds,
                   2 * 3 * a + 2 * 7.0 / 8 * s / B + a + s / B);
  const auto a2a = hd.time(request(CollectiveType::all_to_all, 16, 1e8, 16));
  EXPECT_EQ(a2a.algorithm, "direct");
  EXPECT_DOUBLE_EQ(a2a.seconds, a + 15.0 / 16 * s / B);
}

CollectiveRequest two_level(CollectiveType type, std::int32_t nodes, std::int32_t per_node, std::int64_t bytes) {
  CollectiveRequest r = request(type, nodes * per_node, bytes, nodes);
  r.ranks_per_node = per_node;
  r.intra_latency_s = 2e-6, r.intra_bandwidth_bytes_per_s = 300e9;
  r.inter_latency_s = 5e-6, r.inter_bandwidth_bytes_per_s = 25e9;
  return r;  // latency_s / bandwidth_bytes_per_s: the slowest level, 5 us and 25 GB/s
}

TEST(Collective, HierarchicalClosedFormsAndFallbacks) {
  const auto& h = collective_algorithm("hierarchical");
  const double s = 1e8;
  // 4 nodes x 8: intra ring over 8 at 300 GB/s, inter ring over 4 nodes of S/8 at 25 GB/s.
  const double intra = 7 * 2e-6 + 7.0 / 8 * s / 300e9, inter = 3 * 5e-6 + 3.0 / 4 * s / 8 / 25e9;
  EXPECT_DOUBLE_EQ(h.time(two_level(CollectiveType::all_reduce, 4, 8, 1e8)).seconds, 2 * (intra + inter));
  EXPECT_DOUBLE_EQ(h.time(two_level(CollectiveType::reduce_scatter, 4, 8, 1e8)).seconds, intra + inter);
  EXPECT_DOUBLE_EQ(h.time(two_level(CollectiveType::all_gather, 4, 8, 1e8)).seconds, intra + inter);
  // Not two levels, uneven nodes, or another type: ring on the slowest level.
  for (const CollectiveRequest& r :
       {two_level(CollectiveType::all_reduce, 1, 8, 1e8), two_level(CollectiveType::all_reduce, 8, 1, 1e8),
        two_level(CollectiveType::broadcast, 4, 8, 1e8)}) {
    const auto t = h.time(r);
    EXPECT_EQ(t.algorithm, "ring");
    EXPECT_DOUBLE_EQ(t.seconds, collective_algorithm("ring").time(r).seconds);
  }
  CollectiveRequest uneven = two_level(CollectiveType::all_reduce, 4, 8, 1e8);
  uneven.ranks_per_node = 0;
  EXPECT_EQ(h.time(uneven).algorithm, "ring");
}

TEST(Collective, AutoPicksHierarchicalForGroupsSpanningNodesWithSeveralMembersEach) {
  const auto& automatic = collective_algorithm("auto");
  for (CollectiveType type : {CollectiveType::all_reduce, CollectiveType::reduce_scatter, CollectiveType::all_gather})
    EXPECT_EQ(automatic.time(two_level(type, 4, 8, 1e8)).algorithm, "hierarchical") << to_string(type);
  EXPECT_EQ(automatic.time(two_level(CollectiveType::broadcast, 4, 8, 1e8)).algorithm, "ring");
  // Tree beats ring and hierarchical for a small all-reduce across many nodes.
  EXPECT_EQ(automatic.time(two_level(CollectiveType::all_reduce, 64, 2, 1000)).algorithm, "tree");
  // halving-doubling is never picked automatically.
  for (const std::int64_t bytes : {std::int64_t{1000}, std::int64_t{100'000'000}})
    EXPECT_NE(automatic.time(request(CollectiveType::all_reduce, 16, bytes, 16)).algorithm, "halving-doubling");
}

TEST(Collective, TrivialCasesCostNothing) {
  for (const auto& name : collective_algorithm_names()) {
    EXPECT_EQ(collective_algorithm(name).time(request(CollectiveType::all_reduce, 1, 1e6, 1)).seconds, 0.0) << name;
    EXPECT_EQ(collective_algorithm(name).time(request(CollectiveType::all_reduce, 8, 0, 1)).seconds, 0.0) << name;
  }
}

TEST(Collective, NoBandwidthIsAnInputError) {
  auto r = request(CollectiveType::all_reduce, 4, 1000, 1);
  r.bandwidth_bytes_per_s = 0.0;
  EXPECT_THROW(collective_algorithm("ring").time(r), InputError);
}

TEST(Collective, UnknownNameListsTheRegisteredOnes) {
  try {
    collective_algorithm("butterfly");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "simulation.collective_algorithm");
    EXPECT_EQ(e.allowed(),
              "one of \"auto\", \"ring\", \"tree\", \"halving-doubling\", \"hierarchical\", \"direct\"");
  }
}

}  // namespace
}  // namespace clustersim::engine
