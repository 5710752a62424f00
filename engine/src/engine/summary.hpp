// Step metrics of one simulated rank from its op spans (private to the engine): busy time of its
// compute kernels, exposed communication, and the per-(group kind, type) communication table that
// the trace summary reports. Definitions in simulate.hpp.
#pragma once

#include <cstdint>
#include <vector>

#include "clustersim/plan/trace.hpp"
#include "workload.hpp"

namespace clustersim::engine::detail {

struct RankActivity {
  std::int64_t end_ns = 0;                 // latest op end
  std::int64_t busy_ns = 0;                // union of kernel spans
  std::int64_t exposed_comm_ns = 0;        // union of communication spans outside the busy union
  std::int64_t exposed_collective_ns = 0;  // same, collectives only
};

// `comm`, when not null, receives the rank's communication table sorted by (group kind, type).
RankActivity rank_activity(const OpTable& table, const std::int64_t* start_ns, const std::int64_t* end_ns,
                           std::vector<plan::CommSummary>* comm);

}  // namespace clustersim::engine::detail
