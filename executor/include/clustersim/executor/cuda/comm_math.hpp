// Bandwidth figures of collectives as nccl-tests defines them (NVIDIA nccl-tests, doc/PERFORMANCE.md),
// for the CUDA calibration and its reports. For a collective of S bytes taking t seconds on n ranks:
//   algbw = S / t                        (S: the full buffer: the gathered size for all_gather, the
//                                         input size for reduce_scatter; CollectiveParams::bytes)
//   busbw = algbw * factor, factor = 2(n-1)/n  all_reduce
//                                    (n-1)/n   all_gather, reduce_scatter, all_to_all
//                                    1         broadcast, reduce (and point-to-point)
// busbw is comparable with the hardware's link bandwidth whatever the collective. GB/s are 10^9 B/s.
#pragma once

#include <cstdint>
#include <vector>

#include "clustersim/plan/profile.hpp"
#include "clustersim/plan/types.hpp"

namespace clustersim::executor::cuda {

// The busbw / algbw factor of `type` on `ranks` members (1 for one member or fewer).
double bus_bandwidth_factor(CollectiveType type, int ranks);
// S / t in GB/s; 0 when time_ns <= 0.
double algbw_gbytes_s(std::int64_t bytes, double time_ns);
double busbw_gbytes_s(CollectiveType type, int ranks, std::int64_t bytes, double time_ns);

struct CollectiveBandwidth {
  CollectiveType type = CollectiveType::all_reduce;
  std::int32_t ranks = 0;
  std::int64_t bytes = 0;
  double time_ns = 0.0;
  double algbw_gbytes_s = 0.0;
  double busbw_gbytes_s = 0.0;
  plan::Placement placement = plan::Placement::intra;
};

// One row per collective sample of the profile, in its order.
std::vector<CollectiveBandwidth> collective_bandwidths(const plan::CalibrationProfile& profile);

}  // namespace clustersim::executor::cuda
