// The network model: times collectives and point-to-point transfers on the cluster's topology. It is
// a Model (see model.hpp) like the compute model: the workload starts an action (a collective once
// every member arrived, a transfer once both sides are posted) and the model reports its completion.
// Fidelity tiers sit behind this one interface (NetworkTier): `analytical` (this file's tier) and,
// later, `flow` (collectives decomposed into flows with max-min fair sharing on a leaf/spine graph).
//
// Analytical tier, two levels built from plan::Hardware:
//  * inside a node, every GPU reaches every other at hardware.intra_node's per-GPU rate (NVSwitch);
//  * across nodes, each node has inter_node.nics_per_node NICs of inter_node.link, rail-optimised:
//    local GPU i uses NIC i % nics. A NIC is shared by the group instances of one kind that cross
//    nodes through it: all instances of a group kind are assumed to communicate at once (the plan
//    issues the same collectives on every replica), so a group's inter-node bandwidth is
//    min over the NICs it touches of link.bytes_per_s() / (instances of its kind using that NIC).
//  * a group uses the slowest level it crosses: alpha = the largest latency (latency_us) and B the
//    smallest bandwidth (bytes_per_s(): line rate x efficiency) among the levels it uses (intra when
//    two members share a node, inter when members sit on different nodes).
//  * groups spanning more than one leaf switch (nodes / nodes_per_leaf, not for single_switch) see
//    their inter-node bandwidth divided by inter_node.oversubscription.
//  * degradations scale bandwidth: "node:<n>" that node's NICs, "intra:<n>" its NVSwitch ports,
//    "leaf:<l>" the uplinks of leaf l (groups spanning leaves through it).
//  * collectives use the named CollectiveAlgorithm (collective.hpp); send/recv cost alpha + S/B on
//    the path between the two ranks.
//  * with a calibration profile, measured collectives (by type, ranks, placement) and p2p times
//    replace the alpha-beta costs where the profile has them (see calibration in cost_model.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "clustersim/engine/model.hpp"
#include "clustersim/plan/hardware.hpp"
#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/profile.hpp"

namespace clustersim::engine {

enum class NetworkTier : std::uint8_t { analytical, flow };

// The slowest level a group (or a pair of ranks) crosses, as the analytical tier sees it.
struct PathCost {
  double latency_s = 0.0;
  double bandwidth_bytes_per_s = 0.0;  // per rank
  std::int32_t ranks = 1;
  std::int32_t nodes = 1;
  bool inter_node = false;
  bool operator==(const PathCost&) const = default;
};

struct NetworkConfig {
  NetworkTier tier = NetworkTier::analytical;
  std::string collective_algorithm = "auto";
  // When set, measured collective and p2p times override the alpha-beta costs where they apply.
  std::shared_ptr<const plan::CalibrationProfile> profile;
};

class NetworkModel : public Model {
 public:
  virtual std::string_view tier_name() const = 0;
  // Cost-relevant description of a group / of the path between two ranks for a group kind; equal
  // descriptions time identically (used to find symmetric ranks).
  virtual PathCost group_path(std::int32_t group_id) const = 0;
  virtual PathCost pair_path(plan::Rank a, plan::Rank b, GroupKind kind) const = 0;
  // Starts a collective of every member of `group_id` at `now_ns`; completes with `token`.
  virtual void start_collective(TimeNs now_ns, CollectiveType type, std::int32_t group_id, std::int64_t bytes,
                                Token token) = 0;
  // Starts a transfer from `src` to `dst` over their group of `kind`; completes with `token`.
  virtual void start_p2p(TimeNs now_ns, plan::Rank src, plan::Rank dst, GroupKind kind, std::int64_t bytes,
                         Token token) = 0;
  // Duration a collective would take if started now (no side effects).
  virtual TimeNs collective_time_ns(CollectiveType type, std::int32_t group_id, std::int64_t bytes) const = 0;
  // Facts for trace.extra: algorithms picked per (group kind, type), measured-table fallbacks.
  virtual nlohmann::json report() const = 0;
};

// Builds the tier's model for `plan` on `hardware`. InputError for the "flow" tier (not available
// yet), an unknown algorithm, a plan larger than the cluster, or a malformed degradation.
std::unique_ptr<NetworkModel> make_network_model(const plan::Plan& plan, const plan::Hardware& hardware,
                                                 const NetworkConfig& config);

std::string_view network_tier_name(NetworkTier tier);

}  // namespace clustersim::engine
