// nccl-tests bandwidth arithmetic (cuda/comm_math.hpp).
#include "clustersim/executor/cuda/comm_math.hpp"

namespace clustersim::executor::cuda {

double bus_bandwidth_factor(CollectiveType type, int ranks) {
  if (ranks <= 1) return 1.0;
  const double n = static_cast<double>(ranks);
  switch (type) {
    case CollectiveType::all_reduce:
      return 2.0 * (n - 1.0) / n;
    case CollectiveType::all_gather:
    case CollectiveType::reduce_scatter:
    case CollectiveType::all_to_all:
      return (n - 1.0) / n;
    case CollectiveType::broadcast:
    case CollectiveType::reduce:
      return 1.0;
  }
  return 1.0;
}

double algbw_gbytes_s(std::int64_t bytes, double time_ns) {
  if (time_ns <= 0.0) return 0.0;
  return static_cast<double>(bytes) / time_ns;  // bytes per ns == GB/s
}

double busbw_gbytes_s(CollectiveType type, int ranks, std::int64_t bytes, double time_ns) {
  return algbw_gbytes_s(bytes, time_ns) * bus_bandwidth_factor(type, ranks);
}

std::vector<CollectiveBandwidth> collective_bandwidths(const plan::CalibrationProfile& profile) {
  std::vector<CollectiveBandwidth> out;
  out.reserve(profile.collectives.size());
  for (const auto& s : profile.collectives)
    out.push_back({s.type, s.ranks, s.bytes, s.time_ns, algbw_gbytes_s(s.bytes, s.time_ns),
                   busbw_gbytes_s(s.type, s.ranks, s.bytes, s.time_ns), s.placement});
  return out;
}

}  // namespace clustersim::executor::cuda
