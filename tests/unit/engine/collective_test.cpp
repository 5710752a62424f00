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
    EXPECT_EQ(e.allowed(), "one of \"auto\", \"ring\", \"tree\", \"direct\"");
  }
}

}  // namespace
}  // namespace clustersim::engine
