// Which ranks the engine simulates (private to the engine). Expanded: all of them. Symmetric: one
// representative per class of the coarsest equitable partition of the ranks (colour refinement):
// ranks start in the same class when they share their program, straggler factor and the path costs
// of the groups and p2p peers their program uses; classes then split until every rank of a class
// sees the same multiset of classes in each of its groups and the same class at each of its p2p
// peers. Ranks of one class then follow identical timelines, so simulating the lowest rank of each
// is exact.
#pragma once

#include <cstdint>
#include <vector>

#include "clustersim/engine/network.hpp"
#include "clustersim/plan/plan.hpp"

namespace clustersim::engine::detail {

struct RankClasses {
  std::vector<plan::Rank> simulated;       // representatives, ascending (slot -> rank)
  std::vector<std::int32_t> slot_of_rank;  // every rank -> the slot of its representative
  std::vector<std::int64_t> class_size;    // per slot
};

// Every rank simulated.
RankClasses expanded_classes(std::int32_t world_size);

// `straggler` holds each rank's compute factor (size world_size).
RankClasses symmetric_classes(const plan::Plan& plan, const plan::RankGroups& groups, const NetworkModel& network,
                              const std::vector<double>& straggler);

// The member of `rank`'s group of `kind` at (its index + offset) mod size, or kNone without a group.
plan::Rank p2p_peer(const plan::Plan& plan, const plan::RankGroups& groups, plan::Rank rank, GroupKind kind,
                    std::int32_t offset);

}  // namespace clustersim::engine::detail
