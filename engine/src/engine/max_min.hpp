// Max-min fair bandwidth allocation (private to the engine): the rates that flows sharing links get
// in the flow network tier. Progressive filling (Bertsekas & Gallager, "Data Networks", 2nd ed.,
// 1992, section 6.5.2): every unfrozen flow's rate rises together; the first link to run out of
// capacity freezes the flows that cross it at its fair share (its remaining capacity / its unfrozen
// flows); repeat until every flow is frozen. The result gives no flow more bandwidth at the expense
// of a flow that has less. A flow's rate is the share of its tightest link; links nobody crosses
// cost nothing, so a solve is linear in the flows' route lengths times the number of distinct
// bottleneck levels.
#pragma once

#include <cstdint>
#include <vector>

namespace clustersim::engine::detail {

class MaxMinSolver {
 public:
  // `capacity` (bytes/s, > 0 for every link a flow crosses) indexed by link id; kept by reference.
  explicit MaxMinSolver(const std::vector<double>& capacity);

  // Rates (bytes/s) of `flows` flows; flow f crosses links route_links[route_offset[f] ..
  // route_offset[f + 1]). Every flow crosses at least one link. `rates` is resized to `flows`.
  void solve(std::int32_t flows, const std::int32_t* route_offset, const std::int32_t* route_links,
             std::vector<double>& rates);

 private:
  const std::vector<double>& capacity_;
  // Scratch, sized to the graph and reset after each solve.
  std::vector<std::int32_t> local_of_link_;                          // -1 when the link is not in the current solve
  std::vector<std::int32_t> links_;                                  // the solve's links (global ids)
  std::vector<double> remaining_;                                    // per local link
  std::vector<std::int32_t> unfrozen_;                               // per local link
  std::vector<std::int32_t> adjacency_offset_, adjacency_, cursor_;  // local link -> flows crossing it
  std::vector<char> frozen_;
};

}  // namespace clustersim::engine::detail
