// The network model: times collectives and point-to-point transfers on the cluster's topology. It is
// a Model (see model.hpp) like the compute model: the workload starts an action (a collective once
// every member arrived, a transfer once both sides are posted) and the model reports its completion.
// Two fidelity tiers sit behind this one interface (NetworkTier):
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
//    two members share a node, inter when members sit on different nodes). The hierarchical
//    algorithm sees both levels (collective.hpp).
//  * groups spanning more than one leaf switch (nodes / nodes_per_leaf, not for single_switch) see
//    their inter-node bandwidth divided by inter_node.oversubscription.
//  * degradations scale bandwidth: "node:<n>" that node's NICs, "intra:<n>" its NVSwitch ports,
//    "leaf:<l>" the uplinks of leaf l (groups spanning leaves through it).
//  * collectives use the named CollectiveAlgorithm (collective.hpp); send/recv cost alpha + S/B on
//    the path between the two ranks.
//  * with a calibration profile, measured collectives (by type, ranks, placement) and p2p times
//    replace the alpha-beta costs where the profile has them (see calibration in cost_model.hpp).
//
// Flow tier: contention is simulated rather than assumed.
//  * The topology is a graph of directed links (GPU up/down links into the NVSwitch or a shared PCIe
//    host bridge, NIC up/down links into leaf switches, leaf up/down links into a non-blocking spine
//    layer with capacity downlink / oversubscription); the exact rules are in the engine's
//    topology.hpp. Degradations scale the capacity of the matching links.
//  * A collective is decomposed by its algorithm (the one "auto" picks from the analytical view, or
//    the named one) into phases of concurrent point-to-point flows between members: a ring is one
//    pipelined phase of n neighbour flows carrying all of its steps' bytes with (n-1) or 2(n-1)
//    latency hops; tree passes, halving-doubling steps, hierarchical stages and the halves of a
//    direct all-reduce are a phase each (collective_flows.hpp). A phase ends when its last flow is
//    done, plus its latency hops x alpha; then the next phase starts. A transfer (send/recv) is one
//    phase of one flow with one latency.
//  * Concurrent flows share every link by max-min fairness (progressive filling: raise all rates
//    together, freeze the flows of a saturated link, repeat), recomputed whenever a flow starts or
//    ends. A flow's rate is therefore limited by its most contended link, and flows that do not
//    share links never slow each other.
//  * Isolation shortcut: a phase whose links carry nothing else when it starts is timed from a cache
//    (its duration per byte, solved once per phase shape: group, algorithm, type, phase index, and
//    the instances it stands for); if another phase later needs one of its links, its flows' progress
//    is worked out at that instant and they join the shared solve. The result is the same as solving
//    everything together; the cache only avoids the work.
//  * Symmetric rank mode: a collective started by a representative stands for every instance of its
//    group kind that the representatives' classes represent (the groups whose members fall into the
//    same classes); the flow tier instantiates the flows of all of them at once, so they contend on
//    shared NICs and spines as they would in the expanded run. Likewise a transfer stands for the
//    transfers of every rank of the sender's class to its peer at the same offset. The phase ends
//    when the slowest instance's flows end; on symmetric inputs every instance ends together, and
//    expanded and symmetric runs agree (up to a nanosecond of rounding per phase).
//  * Calibration profiles do not apply to the flow tier's communication (its times come from the
//    topology); the report says so.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
  // Flow tier: the leaf switches the members' NICs attach to (groups that cross the spine contend
  // differently from groups that do not); always 1 in the analytical tier.
  std::int32_t leaves = 1;
  bool operator==(const PathCost&) const = default;
};

struct NetworkConfig {
  NetworkTier tier = NetworkTier::analytical;
  std::string collective_algorithm = "auto";
  // When set, measured collective and p2p times override the alpha-beta costs where they apply.
  std::shared_ptr<const plan::CalibrationProfile> profile;
  // Flow tier: time a phase whose links are free from its shape's cached duration per byte (the
  // isolation shortcut). false sends every phase through the shared max-min solve instead: the same
  // times (to rounding), much slower; for checking the shortcut.
  bool flow_isolation_shortcut = true;
};

class NetworkModel : public Model {
 public:
  virtual std::string_view tier_name() const = 0;
  // Cost-relevant description of a group / of the path between two ranks for a group kind; equal
  // descriptions time identically (used to find symmetric ranks).
  virtual PathCost group_path(std::int32_t group_id) const = 0;
  virtual PathCost pair_path(plan::Rank a, plan::Rank b, GroupKind kind) const = 0;
  // Starts a collective of every member of `group_id` at `now_ns` on `bytes` of `dtype` elements;
  // completes with `token`.
  virtual void start_collective(TimeNs now_ns, CollectiveType type, std::int32_t group_id, std::int64_t bytes,
                                DType dtype, Token token) = 0;
  // Starts a transfer from `src` to `dst` over their group of `kind`; completes with `token`.
  virtual void start_p2p(TimeNs now_ns, plan::Rank src, plan::Rank dst, GroupKind kind, std::int64_t bytes,
                         Token token) = 0;
  // Duration a collective would take if started now (no side effects).
  virtual TimeNs collective_time_ns(CollectiveType type, std::int32_t group_id, std::int64_t bytes) const = 0;
  // Facts for trace.extra: algorithms picked per (group kind, type), measured-table fallbacks (and
  // for the flow tier, how its phases were solved).
  virtual nlohmann::json report() const = 0;
  // Which rank each rank's timeline follows (class_of_rank[r], any id shared by a class; the
  // identity when expanded). Called before the first action; by default every rank stands alone.
  // The flow tier uses it to load the network with every instance a representative stands for.
  virtual void set_rank_classes(const std::vector<std::int32_t>& class_of_rank) { (void)class_of_rank; }
};

// Builds the tier's model for `plan` on `hardware`. InputError for an unknown algorithm, a plan
// larger than the cluster, or a malformed degradation.
std::unique_ptr<NetworkModel> make_network_model(const plan::Plan& plan, const plan::Hardware& hardware,
                                                 const NetworkConfig& config);

std::string_view network_tier_name(NetworkTier tier);

}  // namespace clustersim::engine
