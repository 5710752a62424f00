// Tests for cuda/comm_math.hpp: algbw and busbw as nccl-tests defines them, per collective type and
// group size, and their derivation from a calibration profile.
#include <gtest/gtest.h>

#include "clustersim/executor/cuda/comm_math.hpp"

namespace clustersim::executor::cuda {
namespace {

TEST(CommMath, BusBandwidthFactorsFollowNcclTests) {
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveType::all_reduce, 2), 1.0);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveType::all_reduce, 8), 2.0 * 7.0 / 8.0);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveType::all_gather, 8), 7.0 / 8.0);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveType::reduce_scatter, 4), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveType::all_to_all, 16), 15.0 / 16.0);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveType::broadcast, 8), 1.0);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveType::reduce, 8), 1.0);
  for (auto t : {CollectiveType::all_reduce, CollectiveType::all_gather, CollectiveType::all_to_all})
    EXPECT_DOUBLE_EQ(bus_bandwidth_factor(t, 1), 1.0);
}

TEST(CommMath, AlgorithmAndBusBandwidth) {
  // 1 GiB all-reduced in 10 ms on 8 ranks: algbw 107.37 GB/s, busbw 187.9 GB/s
  const std::int64_t bytes = std::int64_t{1} << 30;
  EXPECT_NEAR(algbw_gbytes_s(bytes, 10e6), 107.374, 1e-3);
  EXPECT_NEAR(busbw_gbytes_s(CollectiveType::all_reduce, 8, bytes, 10e6), 107.374 * 1.75, 1e-3);
  EXPECT_NEAR(busbw_gbytes_s(CollectiveType::all_gather, 8, bytes, 10e6), 107.374 * 0.875, 1e-3);
  EXPECT_EQ(algbw_gbytes_s(bytes, 0.0), 0.0);
}

TEST(CommMath, RowsFromAProfile) {
  plan::CalibrationProfile p;
  p.collectives.push_back({CollectiveType::all_reduce, 4, 4000, 100.0, plan::Placement::intra, DType::fp32, {}});
  p.collectives.push_back({CollectiveType::broadcast, 2, 1000, 10.0, plan::Placement::inter, DType::fp32, {}});
  const auto rows = collective_bandwidths(p);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[0].algbw_gbytes_s, 40.0);
  EXPECT_DOUBLE_EQ(rows[0].busbw_gbytes_s, 60.0);
  EXPECT_DOUBLE_EQ(rows[1].busbw_gbytes_s, 100.0);
  EXPECT_EQ(rows[1].placement, plan::Placement::inter);
}

}  // namespace
}  // namespace clustersim::executor::cuda
