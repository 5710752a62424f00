// Tests of the flow tier's building blocks (private engine headers): the max-min fair solver on
// textbook allocations, and the collective decompositions (how many bytes each member sends and
// receives, which is what their alpha-beta formulas rest on).
#include <gtest/gtest.h>

#include <map>
#include <numeric>

#include "clustersim/engine/collective.hpp"
#include "collective_flows.hpp"
#include "max_min.hpp"

namespace clustersim::engine::detail {
namespace {

std::vector<double> solve(const std::vector<double>& capacity, const std::vector<std::vector<std::int32_t>>& routes) {
  std::vector<std::int32_t> offset{0}, links;
  for (const auto& r : routes) {
    links.insert(links.end(), r.begin(), r.end());
    offset.push_back(static_cast<std::int32_t>(links.size()));
  }
  MaxMinSolver solver(capacity);
  std::vector<double> rates;
  solver.solve(static_cast<std::int32_t>(routes.size()), offset.data(), links.data(), rates);
  return rates;
}

TEST(MaxMin, BertsekasGallagerExample) {
  // Bertsekas & Gallager, "Data Networks", section 6.5.2: link 1 (capacity 1) carries flows A and B,
  // link 2 (capacity 1) carries B, C and D. Link 2 saturates first at 1/3 for B, C, D; A then takes
  // what link 1 has left, 2/3.
  const auto r = solve({1.0, 1.0}, {{0}, {0, 1}, {1}, {1}});
  EXPECT_DOUBLE_EQ(r[0], 2.0 / 3);
  EXPECT_DOUBLE_EQ(r[1], 1.0 / 3);
  EXPECT_DOUBLE_EQ(r[2], 1.0 / 3);
  EXPECT_DOUBLE_EQ(r[3], 1.0 / 3);
}

TEST(MaxMin, TheTightestLinkOfARouteSetsItsRate) {
  // A chain of links 10, 4, 10: one flow over all three gets 4; a second flow on the first link only
  // takes the remaining 6.
  const auto r = solve({10.0, 4.0, 10.0}, {{0, 1, 2}, {0}});
  EXPECT_DOUBLE_EQ(r[0], 4.0);
  EXPECT_DOUBLE_EQ(r[1], 6.0);
}

TEST(MaxMin, EqualFlowsSplitALinkEvenlyAndTheSolverCanBeReused) {
  std::vector<double> capacity{9.0, 100.0};
  MaxMinSolver solver(capacity);
  std::vector<double> rates;
  const std::vector<std::int32_t> offset{0, 1, 2, 3}, links{0, 0, 0};
  solver.solve(3, offset.data(), links.data(), rates);
  for (double x : rates) EXPECT_DOUBLE_EQ(x, 3.0);
  const std::vector<std::int32_t> offset2{0, 1}, links2{1};
  solver.solve(1, offset2.data(), links2.data(), rates);
  ASSERT_EQ(rates.size(), 1u);
  EXPECT_DOUBLE_EQ(rates[0], 100.0);
}

// Bytes each member sends and receives over a decomposition, in units of S, per phase.
struct Load {
  std::vector<double> max_out, max_in;  // per phase: the largest per-member total
};
Load load(const std::vector<PhaseShape>& phases, std::int32_t n) {
  Load l;
  for (const auto& p : phases) {
    std::vector<double> out(static_cast<std::size_t>(n), 0.0), in(static_cast<std::size_t>(n), 0.0);
    for (const auto& f : p.flows) {
      out[static_cast<std::size_t>(f.src)] += p.bytes_fraction;
      in[static_cast<std::size_t>(f.dst)] += p.bytes_fraction;
    }
    l.max_out.push_back(*std::max_element(out.begin(), out.end()));
    l.max_in.push_back(*std::max_element(in.begin(), in.end()));
  }
  return l;
}
std::vector<std::int32_t> one_node(std::int32_t n) {
  return std::vector<std::int32_t>(static_cast<std::size_t>(n), 0);
}

TEST(CollectiveFlows, RingIsOnePipelinedPhaseOfNeighbourFlows) {
  const auto phases = decompose_collective("ring", CollectiveType::all_reduce, one_node(8));
  ASSERT_EQ(phases.size(), 1u);
  EXPECT_EQ(phases[0].flows.size(), 8u);
  EXPECT_EQ(phases[0].latency_hops, 14);
  EXPECT_DOUBLE_EQ(phases[0].bytes_fraction, 2.0 * 7 / 8);
  for (const auto& f : phases[0].flows) EXPECT_EQ(f.dst, (f.src + 1) % 8);
}

TEST(CollectiveFlows, DoubleBinaryTreeSpansEveryMemberAndLoadsNoLinkWithMoreThanTwoFlows) {
  for (std::int32_t n = 2; n <= 1100; ++n) {
    const auto parent = double_binary_tree(n);
    for (const auto& tree : parent) {
      // Every member reaches the root, and exactly one member is the root.
      std::int32_t roots = 0;
      for (std::int32_t i = 0; i < n; ++i) {
        std::int32_t at = i, steps = 0;
        while (tree[static_cast<std::size_t>(at)] >= 0 && steps <= n) at = tree[static_cast<std::size_t>(at)], ++steps;
        ASSERT_LE(steps, n) << "cycle, n = " << n;
        roots += tree[static_cast<std::size_t>(i)] < 0;
      }
      ASSERT_EQ(roots, 1) << n;
    }
    ASSERT_EQ(tree_link_load(n), n == 2 ? 1 : 2) << n;
  }
}

TEST(CollectiveFlows, HalvingDoublingMovesTheTextbookBytes) {
  // Power of two: each member sends (p-1)/p S in the halving sweep and again in the doubling sweep.
  const auto p8 = load(decompose_collective("halving-doubling", CollectiveType::all_reduce, one_node(8)), 8);
  ASSERT_EQ(p8.max_out.size(), 6u);
  EXPECT_DOUBLE_EQ(std::accumulate(p8.max_out.begin(), p8.max_out.end(), 0.0), 2.0 * 7 / 8);
  // Six members: fold two in (S each), halve and double over four, fold them out.
  const auto p6 = load(decompose_collective("halving-doubling", CollectiveType::all_reduce, one_node(6)), 6);
  ASSERT_EQ(p6.max_out.size(), 6u);
  EXPECT_DOUBLE_EQ(p6.max_out.front(), 1.0);
  EXPECT_DOUBLE_EQ(p6.max_out.back(), 1.0);
  EXPECT_DOUBLE_EQ(std::accumulate(p6.max_out.begin() + 1, p6.max_out.end() - 1, 0.0), 2.0 * 3 / 4);
  // Broadcast: a binomial scatter from member 0, then the doubling all-gather.
  const auto b8 = decompose_collective("halving-doubling", CollectiveType::broadcast, one_node(8));
  ASSERT_EQ(b8.size(), 6u);
  EXPECT_EQ(b8[0].flows.size(), 1u);
  EXPECT_EQ(b8[1].flows.size(), 2u);
  EXPECT_EQ(b8[2].flows.size(), 4u);
}

TEST(CollectiveFlows, HierarchicalReducesInsideNodesAndRingsTheShardsAcrossThem) {
  // 3 nodes x 4 members.
  std::vector<std::int32_t> nodes;
  for (std::int32_t i = 0; i < 12; ++i) nodes.push_back(i / 4);
  const auto phases = decompose_collective("hierarchical", CollectiveType::all_reduce, nodes);
  ASSERT_EQ(phases.size(), 3u);
  for (std::size_t p : {0u, 2u}) {
    EXPECT_EQ(phases[p].latency_hops, 3);
    EXPECT_DOUBLE_EQ(phases[p].bytes_fraction, 3.0 / 4);
    for (const auto& f : phases[p].flows)
      EXPECT_EQ(nodes[static_cast<std::size_t>(f.src)], nodes[static_cast<std::size_t>(f.dst)]);
  }
  EXPECT_EQ(phases[1].latency_hops, 4);
  EXPECT_DOUBLE_EQ(phases[1].bytes_fraction, 2.0 * 2 / 3 / 4);
  EXPECT_EQ(phases[1].flows.size(), 12u);  // four shard rings of three nodes
  for (const auto& f : phases[1].flows) {
    EXPECT_NE(nodes[static_cast<std::size_t>(f.src)], nodes[static_cast<std::size_t>(f.dst)]);
    EXPECT_EQ(f.src % 4, f.dst % 4);  // same node-local index: the same rail
  }
  // Uneven members per node: ring.
  const auto uneven = decompose_collective("hierarchical", CollectiveType::all_reduce, {0, 0, 0, 1, 1});
  ASSERT_EQ(uneven.size(), 1u);
  EXPECT_EQ(uneven[0].latency_hops, 8);
}

TEST(CollectiveFlows, DirectSendsEveryMessageAtOnce) {
  const auto a2a = decompose_collective("direct", CollectiveType::all_to_all, one_node(5));
  ASSERT_EQ(a2a.size(), 1u);
  EXPECT_EQ(a2a[0].flows.size(), 20u);
  const auto l = load(a2a, 5);
  EXPECT_DOUBLE_EQ(l.max_out[0], 4.0 / 5);
  // Every algorithm turns all_to_all into direct.
  for (const char* name : {"ring", "tree", "halving-doubling", "hierarchical"})
    EXPECT_EQ(decompose_collective(name, CollectiveType::all_to_all, one_node(5))[0].flows.size(), 20u) << name;
  EXPECT_TRUE(decompose_collective("ring", CollectiveType::all_reduce, one_node(1)).empty());
}

}  // namespace
}  // namespace clustersim::engine::detail
