// Collective algorithms of the analytical network tier: alpha-beta cost of one collective on a group
// whose slowest crossed level has latency alpha and per-rank bandwidth B (the network model works
// those out from the topology). Registered by name: "ring", "tree", "direct", "auto"; an unknown
// name throws InputError listing the valid ones. n = group size, S = CollectiveParams::bytes (the
// full buffer: gathered size for all_gather, input size for reduce_scatter), L = ceil(log2 n).
//
//   ring   (Patarasuk & Yuan, JPDC 2009; Thakur, Rabenseifner & Gropp, IJHPCA 2005)
//            all_reduce                  2(n-1)a + 2((n-1)/n) S/B
//            reduce_scatter, all_gather   (n-1)a +  ((n-1)/n) S/B
//            broadcast, reduce            (n-1)a +            S/B   (pipelined chain, many chunks)
//            all_to_all                   as direct (NCCL implements it with point-to-point only)
//   tree   double binary tree (Sanders, Speck & Traeff, Parallel Computing 2009), costed as NCCL's
//          tuning model does (NVIDIA/nccl src/graph/tuning.cc: tree latency 2 log2(nodes) hops,
//          tree algorithm bandwidth = bus bandwidth / 2):
//            all_reduce                  2La + 2 S/B
//            broadcast, reduce            La +   S/B
//            reduce_scatter, all_gather, all_to_all: as ring (NCCL has no tree for them)
//   direct all messages in flight at once (NCCL grouped send/recv; bandwidth terms as pairwise
//          exchange in Thakur et al. 2005):
//            all_to_all, all_gather, reduce_scatter   a + ((n-1)/n) S/B
//            all_reduce                  2a + 2((n-1)/n) S/B    (reduce-scatter then all-gather)
//            broadcast, reduce            a +  (n-1) S/B        (the root's link carries every copy)
//   auto   like NCCL: all_to_all -> direct; all_reduce on a group spanning more than one node ->
//          tree when it is faster than ring, which under the formulas above is exactly when
//          S < n B a (n - 1 - L)   (e.g. 16 nodes, 25 GB/s, 5 us: below ~22 MB), else ring;
//          every other case -> ring.
// n = 1 or S = 0 costs 0 (nothing moves; the members still synchronise).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "clustersim/plan/types.hpp"

namespace clustersim::engine {

struct CollectiveRequest {
  CollectiveType type = CollectiveType::all_reduce;
  std::int32_t ranks = 1;              // n
  std::int64_t bytes = 0;              // S
  std::int32_t nodes = 1;              // nodes the group spans
  double latency_s = 0.0;              // alpha of the slowest crossed level
  double bandwidth_bytes_per_s = 0.0;  // B of the slowest crossed level, per rank
};

struct CollectiveTime {
  double seconds = 0.0;
  std::string_view algorithm;  // the algorithm that applied ("auto" names its pick)
};

class CollectiveAlgorithm {
 public:
  virtual ~CollectiveAlgorithm() = default;
  virtual std::string_view name() const = 0;
  // Throws InputError when bytes > 0 must cross a level with no bandwidth.
  virtual CollectiveTime time(const CollectiveRequest& request) const = 0;
};

// The registered algorithm; InputError("simulation.collective_algorithm", name, "one of ...").
const CollectiveAlgorithm& collective_algorithm(std::string_view name);
std::vector<std::string> collective_algorithm_names();

}  // namespace clustersim::engine
