// Collective algorithms as point-to-point flows (private to the engine): the flow network tier
// times a collective by running these flows on the topology graph. A collective is a sequence of
// phases; a phase is a set of flows between group members that all run at once, each carrying the
// same share of the buffer, followed by `latency_hops` x alpha (alpha the largest latency among the
// phase's flows). A phase ends when its last flow has delivered its bytes (a barrier), then its
// latency passes, then the next phase starts.
//
// Choice of granularity: a ring's n-1 (or 2(n-1)) steps move the same neighbour pattern each step,
// so they are one phase whose flows carry all the steps' bytes, with (n-1) (or 2(n-1)) latency hops:
// the pipelined ring NCCL runs, and the same time as n-1 rounds of equal concurrent transfers when
// nothing else shares the links. Algorithms whose pattern changes from step to step (tree passes,
// halving-doubling steps, the stages of hierarchical, the two halves of a direct all-reduce) have one
// phase per distinct pattern. The uncontended time of every decomposition is the alpha-beta formula
// of collective.hpp (the network tiers agree when nothing is shared).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "clustersim/plan/types.hpp"

namespace clustersim::engine::detail {

struct FlowEdge {
  std::int32_t src = 0, dst = 0;  // member indices in the group
};

struct PhaseShape {
  double bytes_fraction = 0.0;    // bytes of each flow = bytes_fraction x S
  std::int32_t latency_hops = 0;  // latency = latency_hops x the largest latency among the flows
  std::vector<FlowEdge> flows;
};

// The phases of `algorithm` (a concrete name: "ring", "tree", "halving-doubling", "hierarchical",
// "direct"; the fallbacks of collective.hpp apply, e.g. all_to_all is direct everywhere) for `type`
// on a group whose member i sits on node node_of_member[i]. Empty for a group of one. Roots
// (broadcast, reduce) are member 0: on the symmetric topologies the tiers model, the time does not
// depend on which member is the root.
std::vector<PhaseShape> decompose_collective(std::string_view algorithm, CollectiveType type,
                                             const std::vector<std::int32_t>& node_of_member);

}  // namespace clustersim::engine::detail
